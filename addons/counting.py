"""The tracker stores that count (issue 15; docs/operations.md): Rasa's stores plus, after each
save, the live metrics of this Rasa server, and a timer that rolls the stored events up into
daily_counts (addons/counts.py) at most once per ROLLUP_MINUTES.

- `CountingInMemoryTrackerStore` (endpoints.yml, `make run`): conversations stay in memory as
  before; each save also appends the new events' allow-listed fields (addons/counts.py
  EventRow) to the SQLite file COUNTS_DB (build/run/5005/counts.sqlite by default), so the
  counts survive restarts. The conversation is a keyed hash whose key never leaves this process.
- `CountingSQLTrackerStore` (endpoints.production.yml): addons/tracker_store.py's store; the
  counts come from its own `events` table, so it adds only the metrics and the roll-up timer
  (one server at a time: addons/counts.py takes a PostgreSQL advisory lock).

Counting never fails a turn: an error is logged by its type only and the turn goes on.
"""

from __future__ import annotations

import asyncio
import atexit
import hashlib
import hmac
import itertools
import logging
import os
import secrets
import sqlite3
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, Event, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from addons import counts, metrics
from addons.tracker_store import RedactingSQLTrackerStore

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_COUNTS_DB = ROOT / "build" / "run" / "5005" / "counts.sqlite"
DEFAULT_ROLLUP_MINUTES = 15.0
# Rows are written in batches: a transaction per turn cost 0.17 ms of CPU per turn, batches
# 0.07 ms for all of counting (about 1 % of a message's CPU, docs/benchmark.md's 5.5 ms).
FLUSH_SECONDS = 2.0
FLUSH_ROWS = 1000
# Conversations whose stored event count is remembered between retrieve() and save().
MAX_REMEMBERED = 10_000


def event_row(conversation: str, event: Event) -> counts.EventRow:
    """The allow-listed fields of one event (never its text, entities or metadata)."""
    intent = action = slot_name = slot_value = None
    if isinstance(event, UserUttered):
        intent = event.intent_name
    elif isinstance(event, ActionExecuted):
        action = event.action_name
    elif isinstance(event, SlotSet):
        slot_name, slot_value = counts.allowed_slot(event.key, event.value)
    return counts.EventRow(conversation, float(event.timestamp), event.type_name, intent,
                           action, slot_name, slot_value)


class EventLog:
    """make run's `count_events` table in an SQLite file, written every FLUSH_SECONDS (and
    when the process exits)."""

    INSERT = ("INSERT INTO count_events (conversation, timestamp, type_name, intent_name, "
              "action_name, slot_name, slot_value) VALUES (?, ?, ?, ?, ?, ?, ?)")

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.engine = counts.sqlite_engine(str(path))
        counts.metadata.create_all(self.engine)
        self._connection = sqlite3.connect(str(path), isolation_level=None,
                                           check_same_thread=False)
        self._connection.execute("PRAGMA journal_mode=WAL")
        # A power cut may lose the last turns' counts, never the file: fsync at checkpoints only.
        self._connection.execute("PRAGMA synchronous=NORMAL")
        self._connection.execute("PRAGMA busy_timeout=10000")
        # A key of this process: the same sender gets the same conversation while it runs, and
        # nobody can turn a conversation back into a sender id.
        self._key = secrets.token_bytes(32)
        self._buffer: list[tuple[Any, ...]] = []
        self._timer: asyncio.TimerHandle | None = None
        atexit.register(self.flush)

    def conversation(self, sender_id: str) -> str:
        return hmac.new(self._key, sender_id.encode(), hashlib.sha256).hexdigest()[:32]

    def write(self, rows: list[counts.EventRow]) -> None:
        self._buffer += [(r.conversation, r.timestamp, r.type_name, r.intent_name,
                          r.action_name, r.slot_name, r.slot_value) for r in rows]
        if len(self._buffer) >= FLUSH_ROWS:
            self.flush()
        elif self._timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no server around it (a script): at once
                self.flush()
                return
            self._timer = loop.call_later(FLUSH_SECONDS, self.flush_or_log)

    def flush_or_log(self) -> None:
        try:
            self.flush()
        except Exception as error:  # noqa: BLE001 - counting never stops the server
            logger.error("Writing the counts failed: %s", type(error).__name__)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        rows, self._buffer = self._buffer, []
        if rows:
            # One transaction (the connection is in autocommit mode, which would make one a row).
            self._connection.execute("BEGIN")
            try:
                self._connection.executemany(self.INSERT, rows)
            except BaseException:
                self._connection.execute("ROLLBACK")
                raise
            self._connection.execute("COMMIT")


class CountingMixin:
    """save() and retrieve() of a Rasa tracker store, plus counting (see the module's doc)."""

    domain: Domain | None

    def _start_counting(self, engine: sa.engine.Engine | None, log: EventLog | None,
                        rollup_minutes: Any) -> None:
        self._log = log
        self._rollup_engine = engine
        self._rollup_seconds = float(rollup_minutes) * 60
        # sender_id -> events of the tracker retrieve() returned (the rest are this turn's),
        # and its counted slots. (Names of their own: the stores have a _remember() of theirs.)
        self._counted_events: dict[str, tuple[int, dict[str, str | None]]] = {}
        self._rollup_timer: asyncio.TimerHandle | None = None
        self._rolling_up = False
        metrics.start_server_from_env()

    def _remember_counted(self, sender_id: str, tracker: DialogueStateTracker | None) -> None:
        if len(self._counted_events) >= MAX_REMEMBERED:
            self._counted_events.clear()
        if tracker is None:
            self._counted_events[sender_id] = (0, {})
            return
        slots = {name: counts.allowed_slot(name, tracker.get_slot(name))[1]
                 for name in counts.ALLOWED_SLOTS}
        self._counted_events[sender_id] = (len(tracker.events), slots)

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        tracker: DialogueStateTracker | None = await super().retrieve(sender_id)  # type: ignore[misc]
        self._remember_counted(sender_id, tracker)
        return tracker

    async def save(self, tracker: DialogueStateTracker) -> None:
        await super().save(tracker)  # type: ignore[misc]
        try:
            self._count(tracker)
        except Exception as error:  # noqa: BLE001 - counting never fails a turn
            logger.error("Counting a turn failed: %s", type(error).__name__)
        self._schedule_rollup()

    def _count(self, tracker: DialogueStateTracker) -> None:
        sender_id = tracker.sender_id
        start, slots = self._counted_events.pop(sender_id, (0, {}))
        events = list(itertools.islice(tracker.events, start, None))
        self._remember_counted(sender_id, tracker)
        if not events:
            return
        conversation = self._log.conversation(sender_id) if self._log is not None else ""
        rows = [event_row(conversation, event) for event in events]
        metrics.observe(rows, slots, tracker.get_slot("resource_category"), time.time())
        if self._log is not None:
            self._log.write(rows)

    # --- The roll-up, by itself -------------------------------------------------------------

    def _schedule_rollup(self) -> None:
        if self._rollup_timer is not None or self._rollup_engine is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._rollup_timer = loop.call_later(self._rollup_seconds, self._rollup_tick)

    def flush(self) -> None:
        """Writes the counted events still in memory (make run's file)."""
        if self._log is not None:
            self._log.flush()

    def _rollup_tick(self) -> None:
        self._rollup_timer = None
        if self._log is not None:
            self._log.flush_or_log()
        if not self._rolling_up and self._rollup_engine is not None:
            self._rolling_up = True
            future = asyncio.get_running_loop().run_in_executor(
                None, counts.roll_up, self._rollup_engine)
            future.add_done_callback(self._rollup_done)
        self._schedule_rollup()

    def _rollup_done(self, future: asyncio.Future[Any]) -> None:
        self._rolling_up = False
        if not future.cancelled() and future.exception() is not None:
            logger.error("Rolling up the counts failed: %s", type(future.exception()).__name__)


def _counts_db(value: Any) -> Path:
    return Path(str(value or os.environ.get("COUNTS_DB") or DEFAULT_COUNTS_DB))


class CountingInMemoryTrackerStore(CountingMixin, InMemoryTrackerStore):
    """Rasa's in-memory store, counting into an SQLite file (make run)."""

    def __init__(self, domain: Domain, event_broker: Any = None, counts_db: Any = None,
                 rollup_minutes: Any = DEFAULT_ROLLUP_MINUTES, **kwargs: Any) -> None:
        super().__init__(domain, event_broker, **kwargs)
        log = EventLog(_counts_db(counts_db))
        self._start_counting(log.engine, log, rollup_minutes)


class CountingSQLTrackerStore(CountingMixin, RedactingSQLTrackerStore):
    """addons/tracker_store.py's store, with the live metrics and the roll-up timer."""

    def __init__(self, domain: Domain | None = None,
                 rollup_minutes: Any = DEFAULT_ROLLUP_MINUTES, **kwargs: Any) -> None:
        super().__init__(domain=domain, **kwargs)
        self._start_counting(self.engine, None, rollup_minutes)
