"""scripts/revive.py's timing: a FATAL program is started again once it has been FATAL for the
pause, once a pause, and not at all once it runs."""

from __future__ import annotations

from scripts.revive import Reviver

RASA = {"groupname": "rasa", "processname": "rasa-5005"}


def test_a_fatal_program_waits_for_the_pause_then_is_started_once_a_pause() -> None:
    reviver = Reviver(after=300)
    assert reviver.on_event("PROCESS_STATE_FATAL", RASA, now=1000) == []
    assert reviver.on_event("TICK_5", {}, now=1299) == []
    assert reviver.on_event("TICK_5", {}, now=1300) == ["rasa:rasa-5005"]
    # Still failing: the next try comes a whole pause later, not at every tick.
    assert reviver.on_event("TICK_5", {}, now=1305) == []
    assert reviver.on_event("TICK_5", {}, now=1600) == ["rasa:rasa-5005"]


def test_a_program_that_runs_again_is_forgotten() -> None:
    reviver = Reviver(after=300)
    reviver.on_event("PROCESS_STATE_FATAL", RASA, now=0)
    reviver.on_event("PROCESS_STATE_RUNNING", RASA, now=10)
    assert reviver.on_event("TICK_5", {}, now=1000) == []
