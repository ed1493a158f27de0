"""Flask adapter: ``create_app`` wires the store, the read API and problem+json errors."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from flask import Flask, Response, render_template, request
from werkzeug.middleware.proxy_fix import ProxyFix

from ledger.absence.service import AbsenceService
from ledger.app.registry import entry_types
from ledger.app.web import (
    api,
    backfill_notices,
    console,
    console_activity,  # noqa: F401 (adds its pages to console_hr.bp)
    console_audit,
    console_hr,
    console_hr_attachments,  # noqa: F401 (adds the attachment view to console_hr.bp)
    console_hr_backfill,  # noqa: F401 (adds the 递补 page to console_hr.bp)
    console_hr_lists,  # noqa: F401 (importing it adds the lists to console_hr.bp)
    console_hr_setup,  # noqa: F401 (adds its routes to console_hr.bp)
    console_noticeset,  # noqa: F401 (adds the notice settings form to console_hr.bp)
    console_objections,
    console_slots,  # noqa: F401 (adds the backup-slot form to console_hr.bp)
    gate,
    limits,
    logs,
    objections,
    openapi,
    ops,
    problems,
    public_lang,
    readonly,
    selfservice,
    validators,
)
from ledger.app.web import notices as public
from ledger.app.web.ratelimit import SIGN_IN_PER_ADDRESS, SharedRateLimiter, registration_limiters
from ledger.app.wiring import cached_webhook_secrets, open_absence
from ledger.config import PublicitySettings, Settings
from ledger.storage import LedgerStore
from ledger.storage.open import open_read_only_store, open_store
from ledger.witness.client import load_witness_settings
from publicity.calendar import WorkingCalendar

TEMPLATES = Path(__file__).resolve().parents[3] / "templates"
#: Paths any site may read from a browser (CORS): the log and what is published.
_PUBLIC_READ = ("/logs", "/notices", "/reports/", "/static/")


def _mount_domain(app: Flask, settings: Settings | None, absence: AbsenceService) -> None:
    """The absence API, the public pages and the console, over ``absence``."""
    app.extensions["absentia.absence"] = absence
    secrets_path = absence.cfg.webhook_secrets_path
    app.extensions["absentia.webhook_secrets"] = lambda: cached_webhook_secrets(secrets_path)
    publicity = settings.publicity if settings is not None else PublicitySettings()
    app.extensions["absentia.publicity"] = publicity
    app.extensions["absentia.witnesses"] = (load_witness_settings(settings)
                                            if settings is not None else None)
    app.extensions["absentia.calendar"] = WorkingCalendar.from_config(publicity.calendar)
    app.extensions["absentia.notice_cache"] = public._NoticeCache()
    # Counted in the database, so N workers on M hosts still allow each client n attempts.
    store: LedgerStore = app.extensions["absentia.store"]
    app.extensions.setdefault("absentia.rate_limiter", SharedRateLimiter(store, 10, 60.0))
    app.extensions.setdefault("absentia.sign_in_limiter", SharedRateLimiter(
        store, SIGN_IN_PER_ADDRESS, 300.0, bucket="sign-in"))
    app.extensions.setdefault("absentia.registration_limiters", registration_limiters(store))
    for blueprint in (api.bp, public.bp, selfservice.bp, console.bp, console_hr.bp,
                      console_audit.bp, openapi.bp, backfill_notices.bp, objections.bp,
                      console_objections.bp):
        app.register_blueprint(blueprint)


def create_app(settings: Settings | None = None, store: LedgerStore | None = None, *,
               absence: AbsenceService | None = None, read_only: bool | None = None
               ) -> Flask:
    """The WSGI application.  Pass a ``store`` (tests) or ``settings`` (serving).

    The absence API is mounted when ``absence`` is given or ``settings`` allow opening it.
    ``read_only`` (default: ``[server] role = "public"``, or a read-only ``store``): the
    public pages and read API only, on a read-only database (``ledger.app.web.readonly``).
    """
    app = Flask(__name__, template_folder=str(TEMPLATES))
    if read_only is None:
        read_only = ((settings is not None and settings.role == "public")
                     or (store is not None and store.read_only))
    if store is None:
        if settings is None:
            raise ValueError("create_app needs settings or a store")
        store = (open_read_only_store(settings, entry_types()) if read_only
                 else open_store(settings, entry_types()))
    app.extensions["absentia.store"] = store
    app.extensions["absentia.read_only"] = read_only
    if settings is not None:
        app.extensions["absentia.settings"] = settings
    if settings is not None and settings.trusted_proxies > 0:
        # Behind N reverse proxies: the client's address (rate limits) and scheme
        # (Secure cookies) come from their X-Forwarded-* headers, and only theirs.
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)  # type: ignore[method-assign]
    # Bodies have size limits per view and a deadline (slow clients cannot hold threads).
    limits.init_app(app)
    app.wsgi_app = limits.BodyDeadline(  # type: ignore[method-assign]
        app.wsgi_app, settings.body_timeout_s if settings is not None else limits.BODY_TIMEOUT_S)
    if read_only:
        readonly.refuse_writes(app)
    if absence is None and settings is not None:
        absence = (readonly.public_absence(settings, store) if read_only
                   else open_absence(settings, store, datetime.now(UTC)))
    if absence is not None:
        _mount_domain(app, settings, absence)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    # The language switch of every page: this page, its query kept, in zh or en.
    app.jinja_env.globals["lang_switch"] = public_lang.switch_urls
    problems.init_app(app)
    ops.init_app(app)
    if settings is not None:
        gate.init_app(app, settings.page_threads)
    validators.public_validators(app)
    app.register_blueprint(logs.bp)
    app.register_blueprint(ops.bp)  # /readyz, /metrics

    @app.get("/")
    def home() -> str:
        return render_template("index.html", lg=public_lang.lang(),
                               switch=public_lang.switch_urls(), logs=store.list_logs(),
                               heads={lg.name: store.latest_checkpoint(lg.name)
                                      for lg in store.list_logs()},
                               witnesses=app.extensions.get("absentia.witnesses"))

    @app.get("/healthz")
    def healthz() -> Response:
        return Response("ok\n", mimetype="text/plain")

    @app.after_request
    def security_headers(resp: Response) -> Response:
        resp.headers.setdefault(
            "Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'")
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "no-referrer")
        if request.is_secure:  # only over HTTPS (RFC 6797 §7.2: ignored over HTTP)
            resp.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if request.path.startswith(_PUBLIC_READ):  # public, read-only, no cookies
            resp.headers.setdefault("Access-Control-Allow-Origin", "*")
        return resp

    return app
