"""The HR/auditor console: sign-in (password, then TOTP), sign-out, the landing page.

Accounts and sessions live in ``ledger.accounts.store``; this module is the web
adapter: it reads the clock, the cookies and the forms.

* Sign-in: login and password; then a TOTP code when the account has one.  Reviewers
  and admins without one must enrol at their first sign-in: the page shows the
  ``otpauth://`` URI, the secret as text and a QR code (inline SVG), and one valid code
  finishes enrolment and signs in.  Every failure shows the same message, whether the
  login exists, the password was wrong or the account is locked.
* Sessions: a random token in ``__Host-absentia-session`` (HTTPS) or
  ``absentia-session`` (plain HTTP, development), HttpOnly, SameSite=Strict, Secure on
  HTTPS, Path=/.  A new token at every step of a sign-in (no fixation).
* CSRF: every form has a hidden token checked on every POST: the session's own token,
  or before there is a session (the sign-in form) a double-submit cookie.
* Headers: a strict CSP (no inline script or style), HSTS on HTTPS, no caching, no
  framing.
* Chinese by default; ``?lang=en`` (or the language link) for English.  Every input
  has a label; the pages work with the keyboard alone.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any, ParamSpec

import segno
from flask import Blueprint, Response, current_app, g, render_template, request
from flask.blueprints import BlueprintSetupState
from markupsafe import Markup
from werkzeug.exceptions import TooManyRequests

from ledger.absence.service import AbsenceService, Caller
from ledger.accounts.store import Accounts, Session
from ledger.app.web.forms import (
    CSRF_FIELD,
    Lang,
    clear_cookie,
    cookie_name,
    form_token,
    same,
    set_cookie,
    well_formed,
    words,
)
from ledger.app.web.guards import checked_first
from ledger.app.web.ratelimit import client_key
from ledger.app.web.services import now
from ledger.errors import Conflict

bp = Blueprint("console", __name__, url_prefix="/console")

SESSION_COOKIE = "absentia-session"
FORM_COOKIE = "absentia-console-form"
MAX_FIELD = 1100  # a password may be up to 1024 characters

CSP = "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"

#: Interface text: key -> (Chinese, English).
TEXT: dict[str, tuple[str, str]] = words("console.text")
ROLES: dict[str, tuple[str, str]] = words("console.roles")


def lang() -> Lang:
    return Lang.of_request(TEXT)


@bp.record_once
def _setup(state: BlueprintSetupState) -> None:
    """Open the account tables on the absence domain's log (keyed by its master key)."""
    app = state.app
    if "absentia.accounts" in app.extensions:
        return
    absence: AbsenceService = app.extensions["absentia.absence"]
    key = absence.master_key
    accounts = Accounts(absence.store, absence.log, key)
    app.extensions["absentia.accounts"] = accounts


def accounts() -> Accounts:
    a: Accounts = current_app.extensions["absentia.accounts"]
    return a



# -- cookies and CSRF ----------------------------------------------------------------------


def _field(name: str) -> str:
    value = request.form.get(name, "")
    return value if len(value) <= MAX_FIELD else ""


def current_session() -> Session | None:
    token = request.cookies.get(cookie_name(SESSION_COOKIE), "")
    if not token:
        return None
    return accounts().session(token, now())


# -- responses -----------------------------------------------------------------------------


def _page(template: str, status: int = 200, *, csrf: str, lg: Lang | None = None,
          **context: Any) -> Response:
    lg = lg or lang()
    html = render_template(template, lg=lg, csrf=csrf, csrf_field=CSRF_FIELD, **context)
    resp = Response(html, status=status, mimetype="text/html")
    resp.headers["Content-Language"] = lg.html
    return resp


def _sign_in_page(status: int = 200, *, error: str = "", login: str = "", notice: str = ""
                  ) -> Response:
    token = form_token(FORM_COOKIE)
    resp = _page("console_sign_in.html", status, csrf=token, error=error, login=login,
                 notice=notice)
    set_cookie(resp, FORM_COOKIE, token)
    return resp


def _redirect(path: str, lg: Lang | None = None) -> Response:
    lg = lg or lang()
    resp = Response(status=303)
    resp.headers["Location"] = path + lg.query
    return resp


def _with_session(resp: Response, token: str) -> Response:
    set_cookie(resp, SESSION_COOKIE, token)
    return resp


def _csrf_refused() -> Response:
    resp = _sign_in_page(400, error=lang().t("csrf"))
    return resp


def headers(resp: Response, *, opener_isolated: bool = True) -> Response:
    """The console's security headers on ``resp``: CSP and no framing (unless the page set
    its own CSP, as the HR notice preview does with its framing rule), no caching, no
    sniffing, no referrer, HSTS on HTTPS; ``Cross-Origin-Opener-Policy: same-origin``
    when ``opener_isolated``."""
    if "Content-Security-Policy" not in resp.headers:
        resp.headers["Content-Security-Policy"] = CSP
        resp.headers["X-Frame-Options"] = "DENY"
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "no-referrer"
    if opener_isolated:
        resp.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    if request.is_secure:
        resp.headers["Strict-Transport-Security"] = "max-age=31536000"
    return resp


bp.after_request(headers)


# -- for the console's pages (other blueprints under /console) -----------------------------


P = ParamSpec("P")


def signed_in(*allowed: str) -> Callable[[Callable[P, Response]], Callable[P, Response]]:
    """A console page for the ``allowed`` roles (admin reaches every page).

    Without a full session: a redirect to sign-in.  Another role: 403 with a page
    saying which roles may.  A POST must carry the session's CSRF token (else 400).
    The session is in ``flask.g.console_session``.
    """

    return checked_first(partial(_admit, allowed))


def _admit(allowed: tuple[str, ...]) -> Response | None:
    """None for a full session of an ``allowed`` role (or admin) whose POST carries its
    CSRF token, the session then in ``g.console_session``; else the answer instead."""
    s = current_session()
    if s is None or s.stage != "full":
        resp = _redirect("/console/sign-in" if s is None else _next_step(s))
        if s is None:
            clear_cookie(resp, SESSION_COOKIE)
        return resp
    if s.role not in allowed and s.role != "admin":
        lg = lang()
        return page("console_forbidden.html", 403, allowed=allowed, error=lg.t("forbidden"))
    if request.method == "POST" and not same(s.csrf, _field(CSRF_FIELD)):
        return page("console_forbidden.html", 400, allowed=allowed, error=lang().t("csrf"))
    g.console_session = s
    return None


def session() -> Session:
    """The signed-in session of this request (inside a ``signed_in`` page)."""
    s: Session = g.console_session
    return s


def actor() -> Caller:
    """The ledger actor of the signed-in user: ``<role>:<user id>``."""
    s = session()
    return Caller(f"{s.role}:{s.user}", s.role)


def page(template: str, status: int = 200, **context: Any) -> Response:
    """A console page for the signed-in user: language, CSRF token, session in context."""
    s: Session | None = g.get("console_session")
    return _page(template, status, csrf=s.csrf if s is not None else "", session=s,
                 roles=ROLES, **context)


# -- views ---------------------------------------------------------------------------------


def _next_step(s: Session) -> str:
    return {"full": "/console/", "totp": "/console/sign-in/totp",
            "enrol": "/console/sign-in/enrol"}[s.stage]


@bp.get("/sign-in")
def sign_in_form() -> Response:
    s = current_session()
    if s is not None and s.stage == "full":
        return _redirect("/console/")
    return _sign_in_page()


@bp.post("/sign-in")
def sign_in() -> Response:
    lg = lang()
    cookie = request.cookies.get(cookie_name(FORM_COOKIE), "")
    if not well_formed(cookie) or not same(cookie, _field(CSRF_FIELD)):
        return _csrf_refused()
    login = _field("login")
    limiter = current_app.extensions.get("absentia.sign_in_limiter")
    if limiter is not None:  # per client address, whatever the login
        try:
            limiter.check(client_key(request.remote_addr or "?"))
        except TooManyRequests as exc:
            resp = _sign_in_page(429, error=lg.t("too_many"), login=login[:128])
            resp.headers["Retry-After"] = str(exc.retry_after or 300)
            return resp
    accounts().purge_expired(now())  # sessions past their lifetime that nobody ended
    result = accounts().authenticate(login, _field("password"), now())
    if not result.ok or result.user is None or result.next is None:
        return _sign_in_page(200, error=lg.t("failed"), login=login[:128])
    old = current_session()
    if old is not None:  # a new sign-in in this browser replaces whatever it had
        accounts().end_session(old, now())
    stage = "full" if result.next == "done" else result.next
    session, token = accounts().start_session(result.user, stage, now())
    resp = _with_session(_redirect(_next_step(session), lg), token)
    clear_cookie(resp, FORM_COOKIE)
    return resp


def _pending(stage: str) -> Session | Response:
    """The half-finished sign-in at ``stage``, or where to go instead."""
    s = current_session()
    if s is None:
        resp = _sign_in_page(200, error=lang().t("expired"))
        clear_cookie(resp, SESSION_COOKIE)
        return resp
    if s.stage != stage:
        return _redirect(_next_step(s))
    return s


def _after_bad_code(s: Session, template: str, **context: Any) -> Response:
    """A wrong code: ask again, unless the failure locked the account (then start over
    with the same message as any other refusal)."""
    lg = lang()
    again = current_session()
    if again is None or again.session != s.session:
        resp = _sign_in_page(200, error=lg.t("failed"))
        clear_cookie(resp, SESSION_COOKIE)
        return resp
    return _page(template, 200, csrf=s.csrf, error=lg.t("bad_code"), **context)


def _enrolment(s: Session) -> dict[str, Any]:
    secret = s.pending_secret or ""
    uri = Accounts.provisioning_uri(secret, s.login)
    svg = segno.make(uri, error="m").svg_inline(scale=4, title=lang().t("qr_label"))
    grouped = " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))
    return {"uri": uri, "secret": grouped, "qr": Markup(svg)}  # noqa: S704 (segno's SVG)


def _no_context(s: Session) -> dict[str, Any]:
    return {}


#: Checks a one-time code; a valid one is consumed and gives the full session.
CodeCheck = Callable[[Accounts, Session, str, datetime], tuple[Session, str] | None]

#: The sign-in steps that take a one-time code, at ``/sign-in/<stage>``:
#: stage -> (its page, that page's context, the check of the code sent).
_CODE_STEPS: dict[str, tuple[str, Callable[[Session], dict[str, Any]], CodeCheck]] = {
    "totp": ("console_totp.html", _no_context, Accounts.finish_totp),
    "enrol": ("console_enrol.html", _enrolment, Accounts.confirm_enrolment),
}


def _code_form(stage: str) -> Response:
    """The page of the one-time-code ``stage`` (``totp`` or ``enrol``)."""
    s = _pending(stage)
    if isinstance(s, Response):
        return s
    template, context, _ = _CODE_STEPS[stage]
    return _page(template, csrf=s.csrf, error="", **context(s))


def _code_submit(stage: str) -> Response:
    """The code sent at ``stage``: the CSRF check, then the code's; signed in, asked
    again, or started over."""
    s = _pending(stage)
    if isinstance(s, Response):
        return s
    lg = lang()
    template, context, check = _CODE_STEPS[stage]
    if not same(s.csrf, _field(CSRF_FIELD)):
        return _page(template, 400, csrf=s.csrf, error=lg.t("csrf"), **context(s))
    done = check(accounts(), s, _field("code"), now())
    if done is None:
        return _after_bad_code(s, template, **context(s))
    if stage == "enrol":  # enrolled: the recovery codes, shown this once
        full = done[0]
        codes = accounts().issue_recovery_codes(full.user, now())
        return _with_session(_page("console_recovery.html", csrf=full.csrf, session=full,
                                   codes=codes, left=len(codes), enrolled=True), done[1])
    return _with_session(_redirect("/console/", lg), done[1])


for _stage in _CODE_STEPS:  # endpoints totp_form, totp_submit, enrol_form, enrol_submit
    bp.add_url_rule(f"/sign-in/{_stage}", f"{_stage}_form", partial(_code_form, _stage))
    bp.add_url_rule(f"/sign-in/{_stage}", f"{_stage}_submit", partial(_code_submit, _stage),
                    methods=["POST"])


@bp.get("/recovery-codes")
@signed_in("hr", "reviewer", "auditor", "admin")
def recovery_codes() -> Response:
    """How many recovery codes remain, and the form that replaces them."""
    s = session()
    return page("console_recovery.html", codes=[], enrolled=False,
                left=accounts().recovery_codes_left(s.user))


@bp.post("/recovery-codes")
@signed_in("hr", "reviewer", "auditor", "admin")
def regenerate_recovery_codes() -> Response:
    """A new set of recovery codes (the old ones stop working), shown once."""
    s = session()  # signed_in checked the CSRF token
    try:
        codes = accounts().issue_recovery_codes(s.user, now())
    except Conflict:  # no authenticator: nothing to stand in for
        return page("console_recovery.html", 409, codes=[], enrolled=False, left=0,
                    error=lang().t("recovery_no_totp"))
    return page("console_recovery.html", codes=codes, enrolled=False, left=len(codes))


@bp.post("/sign-out")
def sign_out() -> Response:
    s = current_session()
    lg = lang()
    if s is None:
        resp = _redirect("/console/sign-in", lg)
        clear_cookie(resp, SESSION_COOKIE)
        return resp
    if not same(s.csrf, _field(CSRF_FIELD)):
        return _csrf_refused()
    accounts().end_session(s, now())
    resp = _sign_in_page(200, notice=lg.t("signed_out"))
    clear_cookie(resp, SESSION_COOKIE)
    return resp


@bp.get("/")
def home() -> Response:
    s = current_session()
    if s is None:
        resp = _redirect("/console/sign-in")
        clear_cookie(resp, SESSION_COOKIE)
        return resp
    if s.stage != "full":
        return _redirect(_next_step(s))
    return _page("console_home.html", csrf=s.csrf, session=s, roles=ROLES)
