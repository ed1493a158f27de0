"""The page gate: public reads never take every thread; the platform's and the
console's requests pass while they wait."""

from __future__ import annotations

import threading

from flask import Flask

from ledger.app.web import gate


def gated_app(slots: int) -> tuple[Flask, threading.Event, threading.Event]:
    app = Flask(__name__)
    gate.init_app(app, slots)
    entered, release = threading.Event(), threading.Event()

    @app.get("/notices/slow")
    def slow() -> str:
        entered.set()
        release.wait(30)
        return "slow"

    @app.get("/notices/fast")
    def fast() -> str:
        return "fast"

    @app.post("/api/v1/platform/events")
    def event() -> str:
        return "recorded"

    @app.get("/console/hr")
    def console() -> str:
        return "console"

    return app, entered, release


def test_a_read_beyond_the_limit_waits_while_events_and_the_console_pass() -> None:
    app, entered, release = gated_app(1)
    answers: dict[str, str] = {}

    def get(path: str) -> None:
        answers[path] = app.test_client().get(path).get_data(as_text=True)

    holder = threading.Thread(target=get, args=("/notices/slow",))
    holder.start()
    assert entered.wait(30)
    waiting = threading.Thread(target=get, args=("/notices/fast",))
    waiting.start()
    # While the one slot is held: the platform's event and the console are answered ...
    assert app.test_client().post("/api/v1/platform/events").get_data(as_text=True) \
        == "recorded"
    assert app.test_client().get("/console/hr").get_data(as_text=True) == "console"
    # ... and the second read is still waiting for the slot.
    waiting.join(0.2)
    assert waiting.is_alive()
    assert "/notices/fast" not in answers
    release.set()
    holder.join(30)
    waiting.join(30)
    assert answers == {"/notices/slow": "slow", "/notices/fast": "fast"}


def test_a_failed_read_gives_its_slot_back() -> None:
    app, _, _ = gated_app(1)

    @app.get("/notices/broken")
    def broken() -> str:
        raise RuntimeError("boom")

    app.config["PROPAGATE_EXCEPTIONS"] = False
    assert app.test_client().get("/notices/broken").status_code == 500
    answers: list[str] = []
    after = threading.Thread(target=lambda: answers.append(
        app.test_client().get("/notices/fast").get_data(as_text=True)), daemon=True)
    after.start()
    after.join(30)
    assert answers == ["fast"]  # the slot came back: the next read was not left waiting


def test_zero_turns_the_gate_off() -> None:
    app, _, _ = gated_app(0)
    assert "absentia.page_gate" not in app.extensions
    assert app.test_client().get("/notices/fast").get_data(as_text=True) == "fast"
