"""The web adapters' view guard: a check that runs before a view and may answer instead.

The JSON API's bearer-token roles (``api.roles``), the console's sign-in, role and CSRF
checks (``console.signed_in``) and self-service's rate limits and CSRF check
(``selfservice.guarded``) are each such a check.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec

from flask import Response

P = ParamSpec("P")


def checked_first(check: Callable[[], Response | None]
                  ) -> Callable[[Callable[P, Response]], Callable[P, Response]]:
    """A view decorator: ``check()`` runs before the view; a response it returns (a
    refusal, a redirect) answers instead, None lets the view run.  What ``check`` raises
    propagates (to the app's error handlers)."""

    def wrap(fn: Callable[P, Response]) -> Callable[P, Response]:
        @wraps(fn)
        def inner(*args: P.args, **kwargs: P.kwargs) -> Response:
            refused = check()
            return refused if refused is not None else fn(*args, **kwargs)

        return inner

    return wrap
