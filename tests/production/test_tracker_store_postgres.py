"""The production tracker store on real PostgreSQL, where a turn is two prepared statements
(addons/tracker_store.py, PREPARE_READ and PREPARE_SAVE): the same rows and trackers as Rasa's
SQLTrackerStore, also when its assumption about the stored rows is out of date."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import ActionExecuted, UserUttered

from addons.counting import CountingSQLTrackerStore
from addons.tracker_store import RedactingSQLTrackerStore
from scripts.services import Postgres
from tests.test_tracker_store import DOMAIN, _conversation, same_as_rasas_store

pytestmark = pytest.mark.production


@pytest.fixture(scope="module")
def databases(postgres: Postgres) -> dict[str, dict[str, str]]:
    return {name: postgres.create_database(f"store_{name}") for name in ("ours", "rasa")}


def open_store(
    databases: dict[str, dict[str, str]], cls: type[SQLTrackerStore], database: str
) -> SQLTrackerStore:
    env = databases[database]
    return cls(domain=DOMAIN, dialect="postgresql", host=env["DB_HOST"], port=env["DB_PORT"],
               db=env["DB_NAME"], username=env["DB_USER"], password=env["DB_PASSWORD"])


def rows_of(postgres: Postgres, databases: dict[str, dict[str, str]], database: str,
            sender: str) -> list[tuple[Any, ...]]:
    return postgres.query(
        databases[database]["DB_NAME"],
        "SELECT type_name, intent_name, action_name, data FROM events WHERE sender_id = %s "
        "ORDER BY id", sender)


@pytest.fixture
def statements() -> Iterator[list[str]]:
    """The SQL statements every engine sends, while the test runs."""
    sent: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        sent.append(" ".join(statement.split())[:60])

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", record)
    yield sent
    sa.event.remove(sa.engine.Engine, "before_cursor_execute", record)


async def test_stored_and_read_as_rasas_sql_store_does(
    postgres: Postgres, databases: dict[str, dict[str, str]]
) -> None:
    await same_as_rasas_store(
        lambda cls, database: open_store(databases, cls, database),
        lambda database: rows_of(postgres, databases, database, "both"),
    )


# Also with the counting of issue 15 (addons/counting.py), as endpoints.production.yml has it.
@pytest.mark.parametrize("cls", [RedactingSQLTrackerStore, CountingSQLTrackerStore])
async def test_a_turn_is_one_read_and_one_write(
    databases: dict[str, dict[str, str]], statements: list[str], cls: type[SQLTrackerStore]
) -> None:
    store = open_store(databases, cls, "ours")
    sender = f"turns-{cls.__name__}"
    # A new conversation's first turn, as Rasa's processor does it: nothing to read, save the
    # new conversation, then save it with the turn.
    statements.clear()
    assert await store.retrieve(sender) is None
    created = await store.create_tracker(sender)
    for event in _conversation(sender, time.time()).events:
        created.update(event)
    await store.save(created)
    assert [" ".join(s.split()[:2]) for s in statements] == [
        "EXECUTE triage_read_latest", "EXECUTE triage_save", "EXECUTE triage_save"], statements
    for turn in range(3):
        statements.clear()
        tracker = await store.retrieve(sender)
        assert tracker is not None
        tracker.update(UserUttered(f"turn {turn}", {"name": "inform_nation"}))
        tracker.update(ActionExecuted("action_listen"))
        await store.save(tracker)
        assert len(statements) == 2, statements
        assert statements[0].startswith("EXECUTE triage_read_latest")
        assert statements[1].startswith("EXECUTE triage_save")
    stored = await store.retrieve(sender)
    assert stored is not None
    assert [e.text for e in stored.events if isinstance(e, UserUttered)][-3:] == [
        "turn 0", "turn 1", "turn 2"]


async def test_out_of_date_rows_are_counted_again(
    postgres: Postgres, databases: dict[str, dict[str, str]]
) -> None:
    """Another writer adds events between this store's read and its save (the lock store
    normally prevents it): the one-statement save must notice, and the store must then do what
    Rasa's store does in the same case (count the rows, insert the events after them)."""
    start = time.time()
    for name, cls in (("ours", RedactingSQLTrackerStore), ("rasa", SQLTrackerStore)):
        store, other = open_store(databases, cls, name), open_store(databases, cls, name)
        await store.save(_conversation("stale", start))
        mine = await store.retrieve("stale")
        theirs = await other.retrieve("stale")
        assert mine is not None and theirs is not None
        theirs.update(UserUttered("written by the other server", {"name": "inform_nation"},
                                  timestamp=start + 1))
        await other.save(theirs)
        for text in ("mine one", "mine two"):
            mine.update(UserUttered(text, {"name": "inform_nation"}, timestamp=start + 2))
        await store.save(mine)
    ours, rasas = (rows_of(postgres, databases, name, "stale") for name in ("ours", "rasa"))
    assert ours == rasas
    assert ['"mine two"' in data for _, _, _, data in ours][-2:] == [False, True]
