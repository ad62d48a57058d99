"""The production tracker store's retention (addons/tracker_store.py) and scripts/redact.py,
on SQLite, without servers: what the user typed is gone once a conversation has been idle
longer than the retention, what was understood stays, and Rasa can still load it."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from addons.tracker_store import RedactingSQLTrackerStore, redact_event
from scripts import redact

ROOT = Path(__file__).resolve().parents[1]

DOMAIN = Domain.from_yaml("""
version: "3.1"
intents: [report_other, inform_nation]
entities: [uk_place]
slots:
  who:
    type: categorical
    values: [self, someone_else]
    mappings:
      - type: from_intent
        intent: report_other
        value: someone_else
  nation:
    type: categorical
    values: [england, scotland]
    mappings:
      - type: from_entity
        entity: uk_place
  note:
    type: text
    mappings:
      - type: from_text
  resource_shown:
    type: float
    initial_value: 0
    mappings:
      - type: custom
responses:
  utter_ask_danger:
    - text: Is anyone in danger right now?
""")

SECRET = "marrowbank"  # a word only the user typed


def _conversation(sender: str, at: float) -> DialogueStateTracker:
    tracker = DialogueStateTracker(sender, DOMAIN.slots)
    user = UserUttered(
        f"my neighbour {SECRET} in glasgow is kept in the shed",
        intent={"name": "report_other", "confidence": 0.98},
        entities=[{"entity": "uk_place", "value": "scotland", "start": 25, "end": 32,
                   "extractor": "SpacyEntityExtractor", "text": "glasgow"}],
        parse_data={"text": f"my neighbour {SECRET} in glasgow is kept in the shed",
                    "intent": {"name": "report_other", "confidence": 0.98},
                    "entities": [{"entity": "uk_place", "value": "glasgow", "start": 25,
                                  "end": 32}],
                    "intent_ranking": [{"name": "report_other", "confidence": 0.98}]},
        input_channel="rest",
        metadata={"model_id": "m1", "client_note": f"from {SECRET}"},
        timestamp=at,
    )
    for event in [
        ActionExecuted("action_session_start", timestamp=at),
        SessionStarted(timestamp=at),
        ActionExecuted("action_listen", timestamp=at),
        user,
        SlotSet("who", "someone_else", timestamp=at),
        SlotSet("nation", "scotland", timestamp=at),
        SlotSet("note", f"the shed at {SECRET} farm", timestamp=at),
        SlotSet("resource_shown", 5.0, timestamp=at),
        SlotSet("requested_slot", "note", timestamp=at),
        ActionExecuted("utter_ask_danger", timestamp=at),
        BotUttered("Is anyone in danger right now?", metadata={"utter_action": "utter_ask_danger"},
                   timestamp=at),
        ActionExecuted("action_listen", timestamp=at),
    ]:
        tracker.update(event)
    return tracker


def _rows(db: Path, sender: str) -> list[tuple[str, str | None, str | None, str]]:
    with sqlite3.connect(db) as connection:
        return list(connection.execute(
            "SELECT type_name, intent_name, action_name, data FROM events WHERE sender_id = ? "
            "ORDER BY id", (sender,)))


def _store(db: Path, retention_minutes: Any = "30") -> RedactingSQLTrackerStore:
    return RedactingSQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(db),
                                    retention_minutes=retention_minutes)


async def test_user_text_is_kept_until_the_conversation_is_idle(tmp_path: Path) -> None:
    db = tmp_path / "rasa.db"
    store = _store(db)
    now = time.time()
    await store.save(_conversation("talking", now))
    assert store.redact_idle(now=now + 29 * 60) == 0
    assert SECRET in "".join(row[3] for row in _rows(db, "talking"))


async def test_idle_conversation_keeps_routes_but_not_what_was_typed(tmp_path: Path) -> None:
    db = tmp_path / "rasa.db"
    store = _store(db)
    start = time.time()
    await store.save(_conversation("quiet", start))
    assert store.redact_idle(now=start + 31 * 60) == 1

    rows = _rows(db, "quiet")
    stored = "".join(row[3] for row in rows)
    for typed in (SECRET, "neighbour", "glasgow", "shed"):
        assert typed not in stored
    # Intents, actions and slot names stay, for counting routes.
    assert ("user", "report_other") in [(r[0], r[1]) for r in rows]
    actions = [r[2] for r in rows if r[0] == "action"]
    assert actions == ["action_session_start", "action_listen", "utter_ask_danger",
                       "action_listen"]
    slots = {json.loads(r[3])["name"]: json.loads(r[3])["value"] for r in rows if r[0] == "slot"}
    # Values the domain defines stay; free text goes.
    assert slots == {"who": "someone_else", "nation": "scotland", "note": None,
                     "resource_shown": 5.0, "requested_slot": "note"}
    user = next(json.loads(r[3]) for r in rows if r[0] == "user")
    assert user["text"] is None and user["parse_data"]["text"] is None
    assert user["parse_data"]["entities"] == [
        {"entity": "uk_place", "value": None}]
    assert user["metadata"] == {"model_id": "m1"}
    # The bot's own words stay.
    assert "Is anyone in danger right now?" in stored

    # Rasa can still load the conversation, and nothing is left to do.
    tracker = await store.retrieve("quiet")
    assert tracker is not None and tracker.latest_message is not None
    assert tracker.latest_message.intent["name"] == "report_other"
    assert store.redact_idle(now=start + 60 * 60) == 0


async def test_a_conversation_that_goes_on_stays_listed(tmp_path: Path) -> None:
    db = tmp_path / "rasa.db"
    store = _store(db)
    start = time.time()
    tracker = _conversation("back", start)
    await store.save(tracker)
    tracker.update(UserUttered("it's me again", intent={"name": "report_other"},
                               timestamp=time.time()))
    await store.save(tracker)
    # Its listing moved to the new message, so it is not idle yet.
    assert store.redact_idle(now=start + 10) == 0
    assert store.redact_idle(now=time.time() + 31 * 60) == 1
    assert "again" not in "".join(row[3] for row in _rows(db, "back"))


def test_the_retention_must_be_a_number() -> None:
    with pytest.raises(ValueError, match="retention_minutes"):
        RedactingSQLTrackerStore(dialect="sqlite", db=":memory:",
                                 retention_minutes="${TRACKER_RETENTION_MINUTES}")


def test_unknown_event_fields_are_dropped_from_user_messages() -> None:
    event = {"event": "user", "text": "hi", "parse_data": {"text": "hi", "text_tokens": [[0, 2]],
             "intent": {"name": "greet"}}, "metadata": {"anything": "hi"}}
    assert redact_event(event, {}) == {
        "event": "user", "text": None, "metadata": {},
        "parse_data": {"intent": {"name": "greet"}, "text": None, "entities": []},
    }


async def test_redact_script_uses_the_endpoints_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "rasa.db"
    await _store(db).save(_conversation("old", time.time() - 3600))
    await _store(db).save(_conversation("new", time.time()))
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(
        "tracker_store:\n"
        "  type: addons.tracker_store.RedactingSQLTrackerStore\n"
        "  dialect: sqlite\n"
        f"  db: {db}\n"
        "  retention_minutes: ${TRACKER_RETENTION_MINUTES}\n",
        encoding="utf-8",
    )
    monkeypatch.delenv("TRACKER_RETENTION_MINUTES", raising=False)  # the default: 30
    assert redact.main(["--endpoints", str(endpoints)]) == 0
    assert "of 1 conversation(s)" in capsys.readouterr().out
    assert SECRET not in "".join(row[3] for row in _rows(db, "old"))
    assert SECRET in "".join(row[3] for row in _rows(db, "new"))

    # Rows stored by Rasa's own SQLTrackerStore are never listed: --scan finds them.
    with sqlite3.connect(db) as connection:
        connection.execute("DELETE FROM pending_redaction")
    assert redact.main(["--endpoints", str(endpoints), "--retention-minutes", "0",
                        "--scan"]) == 0
    # Both are idle now; the one already redacted is listed again, harmlessly.
    assert "of 2 conversation(s) (2 idle found by --scan)" in capsys.readouterr().out
    assert SECRET not in "".join(row[3] for row in _rows(db, "new"))


def test_no_response_quotes_what_the_user_typed() -> None:
    """Bot messages are kept after the retention; they must never contain user text, so no
    response of domain.yml fills in a slot value."""
    domain = Domain.load(str(ROOT / "domain.yml"))
    for name, variations in domain.responses.items():
        for variation in variations:
            assert "{" not in str(variation.get("text", "")), name


StoreOpener = Callable[[type[SQLTrackerStore], str], SQLTrackerStore]


async def same_as_rasas_store(
    open_store: StoreOpener, rows: Callable[[str], list[tuple[Any, ...]]]
) -> None:
    """The store writes and reads with its own SQL (for speed): the rows and the trackers must
    be what Rasa's SQLTrackerStore writes and reads, across turns and a new session.
    open_store(class, database) opens a store on the database "ours" or "rasa"; rows(database)
    gives (type_name, intent_name, action_name, data) of sender "both" in id order."""
    ours = open_store(RedactingSQLTrackerStore, "ours")
    theirs = open_store(SQLTrackerStore, "rasa")
    start = time.time()
    first = _conversation("both", start)
    for store in (ours, theirs):
        await store.save(first)
    async def turn(*events: Event, saves: int = 1) -> None:
        """Each store loads the conversation, adds the events and saves it."""
        for store in (ours, theirs):
            tracker = await store.retrieve("both")
            assert tracker is not None
            for event in events:
                tracker.update(event)
            for _ in range(saves):
                await store.save(tracker)

    # The next turn.
    await turn(UserUttered("and a second message", {"name": "inform_nation"},
                           timestamp=start + 1),
               ActionExecuted("action_listen", timestamp=start + 1))
    # A new session (after the session expired), as Rasa starts it.
    await turn(ActionExecuted("action_session_start", timestamp=start + 3600),
               SessionStarted(timestamp=start + 3600),
               ActionExecuted("action_listen", timestamp=start + 3600))
    # A turn in the new session, then a save with nothing new.
    await turn(UserUttered("a third one", {"name": "inform_nation"}, timestamp=start + 3601),
               saves=2)

    def columns(database: str) -> list[tuple[Any, ...]]:
        return [(t, i, a, json.loads(d)) for t, i, a, d in rows(database)]

    assert columns("ours") == columns("rasa")
    assert len(columns("ours")) == len(first.events) + 2 + 3 + 1
    expected = await theirs.retrieve("both")
    assert expected is not None
    assert len(expected.events) == 4  # only the new session
    for reader in (RedactingSQLTrackerStore, SQLTrackerStore):  # each reads the other's rows
        for database in ("ours", "rasa"):
            reader_on_db = open_store(reader, database)
            latest = await reader_on_db.retrieve("both")
            full = await reader_on_db.retrieve_full_tracker("both")
            assert latest is not None and full is not None
            assert [e.as_dict() for e in latest.events] == [e.as_dict() for e in expected.events]
            assert len(full.events) == len(first.events) + 2 + 3 + 1
    assert await ours.retrieve("nobody") is None


async def test_conversations_are_stored_and_read_as_rasas_sql_store_does(tmp_path: Path) -> None:
    def open_store(cls: type[SQLTrackerStore], database: str) -> SQLTrackerStore:
        return cls(domain=DOMAIN, dialect="sqlite", db=str(tmp_path / f"{database}.db"))

    await same_as_rasas_store(open_store, lambda database: _rows(tmp_path / f"{database}.db",
                                                                   "both"))
