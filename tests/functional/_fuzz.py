"""What the two schemathesis fuzzers share (``test_openapi``, ``test_hostile_input``).

``drawn_cases`` runs a test body on cases of one operation, the same ones every run;
``use_known_ids`` puts real ids into half of the path parameters (else the handlers stop
at "not found"); ``signed_webhook`` signs a case's exact body bytes as the platform
would, so that a platform event is parsed rather than refused for its signature.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation import GenerationMode

from ledger.absence.webhooks import sign
from tests.functional._absence import Env

CaseBody = Callable[[Any, st.DataObject], None]


def drawn_cases(operation: Any, mode: GenerationMode, examples: int
                ) -> Callable[[CaseBody], Callable[[], None]]:
    """A decorator: the decorated ``run(case, data)`` is run on ``examples`` cases of
    ``operation`` drawn in ``mode``, derandomized (the same cases every run), with no
    deadline, no example database and no health check."""

    def wrap(run: CaseBody) -> Callable[[], None]:
        drawn: Callable[[], None] = settings(
            max_examples=examples, derandomize=True, deadline=None, database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck))(
                given(case=operation.as_strategy(generation_mode=mode), data=st.data())(run))
        return drawn

    return wrap


def use_known_ids(case: Any, data: st.DataObject, known: dict[str, list[str]]) -> None:
    """Half of the time (a drawn boolean each), a path parameter that has real ids in
    ``known`` becomes one of them, so that the handlers' deeper paths are reached; never
    in a case schemathesis made invalid in its path on purpose (a real id would make it
    valid, and its acceptance would look like a schema violation)."""
    if case.meta is not None and case.meta.is_negative_at(ParameterLocation.PATH):
        return
    for name in case.path_parameters or {}:
        if name in known and data.draw(st.booleans(), label=f"real {name}"):
            case.path_parameters[name] = data.draw(st.sampled_from(known[name]))


def body_bytes(case: Any) -> bytes:
    """The bytes of ``case``'s body as sent (JSON unless it is bytes; none: empty)."""
    body = case.body
    if body is None or type(body).__name__ == "NotSet":
        return b""
    if isinstance(body, bytes):
        return body
    return json.dumps(body).encode()


def signed_webhook(env: Env, case: Any, msg_id: str) -> tuple[dict[str, str], bytes]:
    """Standard Webhooks headers (id ``msg_id``, the clock's time) signing the exact
    bytes of ``case``'s body with the platform's secret, and those bytes."""
    raw = body_bytes(case)
    ts = int(env.now[0].timestamp())
    return ({"webhook-id": msg_id, "webhook-timestamp": str(ts),
             "webhook-signature": sign(env.secret, msg_id, ts, raw)}, raw)
