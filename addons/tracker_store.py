"""The production tracker store: Rasa's SQLTrackerStore that forgets what users typed.

endpoints.production.yml configures it (`type: addons.tracker_store.RedactingSQLTrackerStore`).
It stores conversations exactly as SQLTrackerStore does (table `events`), and once a
conversation has had no event for `retention_minutes` (default 30, as session_expiration_time
in domain.yml) it redacts that conversation's rows in place:

- user messages: the text, the text in the parse data, entity values and message metadata;
- slot values, unless the domain itself defines the value (a categorical value, the value of a
  from_intent mapping, a slot name for requested_slot) or it is a number or a boolean;
- entity values added by actions, and any other metadata.

Intent names, action names, slot names, timestamps and the bot's own messages stay, so
conversations can still be counted by route. Rows are updated, never deleted: Rasa's save()
counts the stored rows of a session to know which events are new.

On PostgreSQL a turn costs two prepared statements: retrieve() reads without a transaction
around it, and save() inserts the new events and lists the conversation in one statement that
checks the stored rows are still those retrieve() read (else it counts them first, as
SQLTrackerStore does). Rasa calls its tracker store synchronously, so each round trip stops
the server.

Every Rasa server runs the redaction at most once a minute (more often only when the
retention itself is shorter), on a timer and from save(), for the conversations listed in the
table `pending_redaction`, which save() fills. scripts/redact.py does the same by hand or from
cron, and with --scan also finds conversations stored without this class.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore, create_engine_kwargs
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.exc import IntegrityError

from addons.counts import ALLOWED_SLOTS

logger = logging.getLogger(__name__)

DEFAULT_RETENTION_MINUTES = 30.0
MAX_INTERVAL_SECONDS = 60.0
# Conversations redacted per run; the rest wait for the next run, so a backlog never holds a
# database transaction (or the server's thread pool) for long.
BATCH_SIZE = 500

# PostgreSQL: the two statements of a turn, prepared once per database connection (planning
# them each time took half of PostgreSQL's CPU). $1 is the sender, $2 'session_started'; the
# latest session's rows are chosen as in SQLTrackerStore._event_query.
LATEST_SESSION = """
    sender_id = $1 AND (
        (SELECT max(timestamp) FROM events WHERE sender_id = $1 AND type_name = $2) IS NULL
        OR timestamp >= (SELECT max(timestamp) FROM events WHERE sender_id = $1 AND type_name = $2))
"""
PREPARE_READ = f"""
PREPARE triage_read_latest (text, text) AS
SELECT data FROM events WHERE {LATEST_SESSION} ORDER BY id
"""
# save() in one statement: it counts the stored rows of the latest session as SQLTrackerStore
# does, and inserts the new events only if that count is the one save() assumed ($3: the rows
# read by the last retrieve()); it lists the conversation for redaction either way. All parts
# see the same snapshot and commit together. Returns the count and how many were inserted.
PREPARE_SAVE = f"""
PREPARE triage_save (text, text, int, text[], float8[], text[], text[], text[], float8) AS
WITH stored AS (
    SELECT count(*) AS rows FROM events WHERE {LATEST_SESSION}
), inserted AS (
    INSERT INTO events (sender_id, type_name, timestamp, intent_name, action_name, data)
    SELECT $1, e.type_name, e.timestamp, e.intent_name, e.action_name, e.data
    FROM unnest($4, $5, $6, $7, $8)
         WITH ORDINALITY AS e(type_name, timestamp, intent_name, action_name, data, position)
    WHERE (SELECT rows FROM stored) = $3
    ORDER BY e.position
    RETURNING id
), listed AS (
    INSERT INTO pending_redaction (sender_id, last_event_at) VALUES ($1, $9)
    ON CONFLICT (sender_id) DO UPDATE SET last_event_at = EXCLUDED.last_event_at
)
SELECT (SELECT rows FROM stored), (SELECT count(*) FROM inserted)
"""
READ = "EXECUTE triage_read_latest (%s, %s)"
SAVE = "EXECUTE triage_save (%s, %s, %s, %s, %s, %s, %s, %s, %s)"

# Conversations whose stored row count is remembered between retrieve() and save(); more are
# forgotten (their next save() counts, as SQLTrackerStore does).
MAX_REMEMBERED = 10_000

# Kept from a user message's parse data: what was understood, not what was said.
PARSE_DATA_KEYS = ("intent", "intent_ranking", "response_selector", "message_id")
# Kept from an entity: its name and who found it, not its value.
ENTITY_KEYS = ("entity", "extractor", "role", "group", "confidence_entity", "processors")
# Kept from any event's metadata: set by Rasa or the domain, never by the user.
METADATA_KEYS = ("model_id", "assistant_id", "utter_action")


def _prepare_statements(connection: Any, _: Any) -> None:
    """Prepares the statements of a turn on a new PostgreSQL connection."""
    with connection.cursor() as cursor:
        cursor.execute(PREPARE_READ)
        cursor.execute(PREPARE_SAVE)
    if not connection.autocommit:  # prepared statements outlive it; no transaction left open
        connection.commit()


def _float(value: Any, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number of minutes, not {value!r}") from None
    if number < 0:
        raise ValueError(f"{name} must not be negative")
    return number


def designed_slot_values(domain: Domain | None) -> dict[str, set[str]]:
    """For each slot, the string values the domain itself defines (lower case)."""
    if domain is None:
        return {}
    names = {slot.name for slot in domain.slots}
    designed: dict[str, set[str]] = {}
    for slot in domain.slots:
        values = {str(v).lower() for v in getattr(slot, "values", None) or []}
        for mapping in slot.mappings or []:
            if isinstance(mapping, dict) and "value" in mapping:
                values.add(str(mapping["value"]).lower())
        if slot.initial_value is not None:
            values.add(str(slot.initial_value).lower())
        designed[slot.name] = values
    # Forms ask for slots by name.
    designed.setdefault("requested_slot", set()).update(name.lower() for name in names)
    # The language slot's codes (content/translations/) are kept, so conversations can be
    # counted by language (addons/counts.py); anything else in it is still redacted.
    if "language" in designed:
        designed["language"].update(ALLOWED_SLOTS["language"])
    return designed


def _metadata(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        return {}
    return {key: value[key] for key in METADATA_KEYS if key in value}


def _entities(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        return []
    kept = []
    for entity in value:
        if isinstance(entity, dict):
            redacted = {key: entity[key] for key in ENTITY_KEYS if key in entity}
            redacted["value"] = None
            kept.append(redacted)
    return kept


def _slot_value(name: Any, value: Any, designed: dict[str, set[str]]) -> Any:
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str) and value.lower() in designed.get(str(name), set()):
        return value
    return None


def redact_event(event: dict[str, Any], designed: dict[str, set[str]]) -> dict[str, Any]:
    """The serialised event (as in the `data` column) without anything the user typed."""
    out = dict(event)
    if "metadata" in out:
        out["metadata"] = _metadata(out["metadata"])
    kind = out.get("event")
    if kind == "user":
        out["text"] = None
        parse_data = out.get("parse_data")
        if isinstance(parse_data, dict):
            kept = {key: parse_data[key] for key in PARSE_DATA_KEYS if key in parse_data}
            kept["text"] = None
            kept["entities"] = _entities(parse_data.get("entities"))
            out["parse_data"] = kept
    elif kind == "entities":
        out["entities"] = _entities(out.get("entities"))
    elif kind == "slot":
        out["value"] = _slot_value(out.get("name"), out.get("value"), designed)
    elif kind == "agent":
        out["text"] = None
        out["data"] = None
    return out


class RedactingSQLTrackerStore(SQLTrackerStore):
    """SQLTrackerStore whose stored user text lasts `retention_minutes` after the last event."""

    class PendingRedaction(SQLTrackerStore.Base):
        """Conversations whose rows may still hold user text, with their last event's time."""

        __tablename__ = "pending_redaction"

        sender_id = sa.Column(sa.String(255), primary_key=True)
        last_event_at = sa.Column(sa.Float, nullable=False, index=True)

    def __init__(
        self,
        domain: Domain | None = None,
        retention_minutes: Any = DEFAULT_RETENTION_MINUTES,
        **kwargs: Any,
    ) -> None:
        # Endpoint files give every value as a string ("${TRACKER_RETENTION_MINUTES}").
        self.retention_seconds = _float(retention_minutes, "retention_minutes") * 60
        super().__init__(domain=domain, **kwargs)
        self._build_statements()
        self._postgres = self.engine.dialect.name == "postgresql"
        if self._postgres:
            # Connections for single statements, which need no transaction around them: no
            # BEGIN and COMMIT round trips. A pool of their own, so that the isolation level
            # is set once per connection, not at every checkout.
            self._autocommit = sa.create_engine(
                self.engine.url,
                isolation_level="AUTOCOMMIT",
                hide_parameters=True,
                **create_engine_kwargs(self.engine.url),
            )
            sa.event.listen(self._autocommit, "connect", _prepare_statements)
        # sender_id -> rows of its latest session read by the last retrieve().
        self._stored_rows: dict[str, int] = {}
        # Database errors are logged (FailSafeTrackerStore); without this their text would
        # include the statement's parameters, which hold the user's message.
        self.engine.hide_parameters = True
        self.interval_seconds = min(MAX_INTERVAL_SECONDS, max(self.retention_seconds, 1.0))
        self._next_run = time.monotonic() + self.interval_seconds
        self._running = False
        self._timer: asyncio.TimerHandle | None = None
        self._start_timer()

    # --- Rasa's interface ---------------------------------------------------------------

    # save() and retrieve() do what SQLTrackerStore's do, with the same queries written as
    # SQL expressions rather than ORM objects, and with the listing for redaction in the same
    # transaction as the events: the tracker store was 42% of the production server's CPU
    # (docs/benchmark.md), most of it SQLAlchemy's ORM.

    def _build_statements(self) -> None:
        """The statements of save() and retrieve(), built once with the sender as a parameter
        (building them was a quarter of the store's CPU). The latest session's rows are chosen
        as in SQLTrackerStore._event_query."""
        events = self.SQLEvent.__table__
        sender = sa.bindparam("sender_id")
        session_start = (
            sa.select(sa.func.max(events.c.timestamp))
            .where(events.c.sender_id == sender, events.c.type_name == SessionStarted.type_name)
            .scalar_subquery()
        )
        latest_session = sa.and_(
            events.c.sender_id == sender,
            sa.or_(events.c.timestamp >= session_start, session_start.is_(None)),
        )
        self._count_latest = sa.select(sa.func.count()).select_from(events).where(latest_session)
        self._read_latest = sa.select(events.c.data).where(latest_session).order_by(events.c.id)
        self._read_all = (
            sa.select(events.c.data).where(events.c.sender_id == sender).order_by(events.c.id)
        )
        self._insert = events.insert()
        pending = self.PendingRedaction.__table__
        self._touch_pending = (
            pending.update()
            .where(pending.c.sender_id == sa.bindparam("p_sender"))
            .values(last_event_at=sa.bindparam("p_at"))
        )

    @staticmethod
    def _rows(tracker: DialogueStateTracker, stored: int) -> list[dict[str, Any]]:
        """The rows of the events after the first `stored`, as SQLTrackerStore writes them."""
        rows = []
        for event in itertools.islice(tracker.events, stored, None):
            data = event.as_dict()
            rows.append({
                "sender_id": tracker.sender_id,
                "type_name": event.type_name,
                "timestamp": data.get("timestamp"),
                "intent_name": data.get("parse_data", {}).get("intent", {}).get("name"),
                "action_name": data.get("name"),
                "data": json.dumps(data),
            })
        return rows

    async def save(self, tracker: DialogueStateTracker) -> None:
        await self.stream_events(tracker)
        # The latest event's time: redact_idle() redacts the rows up to it.
        last = max((event.timestamp for event in tracker.events), default=time.time())
        sender_id = tracker.sender_id
        assumed = self._stored_rows.pop(sender_id, None)
        saved = None
        if self._postgres and assumed is not None:
            saved = self._save_once(tracker, assumed, last)
        stored, rows = saved if saved is not None else self._save_counted(tracker, last)
        # A new conversation is saved twice in its first turn (Rasa creates it, then adds the
        # turn): the second save can assume these rows, unless a session started.
        if not any(row["type_name"] == SessionStarted.type_name for row in rows):
            self._remember(sender_id, stored + len(rows))
        self._start_timer()
        self._maybe_run()

    def _remember(self, sender_id: str, rows: int) -> None:
        if len(self._stored_rows) >= MAX_REMEMBERED:
            self._stored_rows.clear()
        self._stored_rows[sender_id] = rows

    def _save_once(
        self, tracker: DialogueStateTracker, assumed: int, last: float
    ) -> tuple[int, list[dict[str, Any]]] | None:
        """PostgreSQL, when retrieve() read this conversation: inserts the events after the
        rows it read, in one statement that checks the rows are still those. Returns the
        stored count and the rows inserted, or None (nothing inserted) when the stored count
        differs; save() then counts first, as Rasa does."""
        rows = self._rows(tracker, assumed)
        with self._autocommit.connect() as connection:
            stored, _ = connection.exec_driver_sql(SAVE, (
                tracker.sender_id,
                SessionStarted.type_name,
                assumed,
                [row["type_name"] for row in rows],
                [row["timestamp"] for row in rows],
                [row["intent_name"] for row in rows],
                [row["action_name"] for row in rows],
                [row["data"] for row in rows],
                last,
            )).one()
        return (assumed, rows) if stored == assumed else None

    def _save_counted(
        self, tracker: DialogueStateTracker, last: float
    ) -> tuple[int, list[dict[str, Any]]]:
        """SQLTrackerStore's save: count the latest session's rows, insert the events after
        them, and (in the same transaction) list the conversation for redaction. Returns the
        count and the rows inserted."""
        with self.session_scope() as session:
            stored = session.execute(
                self._count_latest, {"sender_id": tracker.sender_id}
            ).scalar_one()
            rows = self._rows(tracker, stored)
            if rows:
                session.execute(self._insert, rows)
            # In the same transaction: stored text is always listed for redaction.
            self._list_pending(session, tracker.sender_id, last)
            session.commit()
        return int(stored), rows

    async def _retrieve(
        self, sender_id: str, fetch_events_from_all_sessions: bool
    ) -> DialogueStateTracker | None:
        if self._postgres and not fetch_events_from_all_sessions:
            with self._autocommit.connect() as connection:
                rows = connection.exec_driver_sql(
                    READ, (sender_id, SessionStarted.type_name)
                ).all()
        else:
            statement = self._read_all if fetch_events_from_all_sessions else self._read_latest
            with self.session_scope() as session:
                rows = session.execute(statement, {"sender_id": sender_id}).all()
        if not fetch_events_from_all_sessions:
            self._remember(sender_id, len(rows))
        if not self.domain or not rows:
            return None
        return DialogueStateTracker.from_dict(
            sender_id, [json.loads(data) for (data,) in rows], self.domain.slots
        )

    # --- Redaction ----------------------------------------------------------------------

    def _mark_pending(self, sender_id: str, at: float, only_if_absent: bool = False) -> None:
        with self.session_scope() as session:
            self._list_pending(session, sender_id, at, only_if_absent)
            session.commit()

    def _list_pending(
        self, session: Any, sender_id: str, at: float, only_if_absent: bool = False
    ) -> None:
        updated = 0
        if not only_if_absent:
            updated = session.execute(
                self._touch_pending, {"p_sender": sender_id, "p_at": at}
            ).rowcount
        if updated == 0:
            try:
                with session.begin_nested():
                    session.execute(
                        self.PendingRedaction.__table__.insert().values(
                            sender_id=sender_id, last_event_at=at
                        )
                    )
            except IntegrityError:  # already listed (by another server just now)
                pass

    def _start_timer(self) -> None:
        """Runs the redaction every interval while the server's event loop runs, so quiet
        hours do not keep text longer (scripts/redact.py has no loop and needs none)."""
        if self._timer is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._timer = loop.call_later(self.interval_seconds, self._tick)

    def _tick(self) -> None:
        self._timer = None
        self._maybe_run()
        self._start_timer()

    def _maybe_run(self) -> None:
        """Starts a redaction run in a worker thread, at most once per interval."""
        now = time.monotonic()
        if self._running or now < self._next_run:
            return
        self._next_run = now + self.interval_seconds
        self._running = True
        future = asyncio.get_running_loop().run_in_executor(None, self.redact_idle)
        future.add_done_callback(self._run_done)

    def _run_done(self, future: asyncio.Future[int]) -> None:
        self._running = False
        if future.cancelled():  # the server is stopping
            return
        error = future.exception()
        if error is not None:
            # The type only: a database error's text can quote stored data.
            logger.error("Redacting idle conversations failed: %s", type(error).__name__)

    def redact_idle(self, now: float | None = None, batch_size: int = BATCH_SIZE) -> int:
        """Redacts the listed conversations idle for longer than the retention; returns how
        many. Safe to run from several servers at once."""
        cutoff = (time.time() if now is None else now) - self.retention_seconds
        pending = self.PendingRedaction
        designed = designed_slot_values(self.domain)
        done = 0
        with self.session_scope() as session:
            idle = (
                session.query(pending.sender_id, pending.last_event_at)
                .filter(pending.last_event_at < cutoff)
                .order_by(pending.last_event_at)
                .limit(batch_size)
                .all()
            )
            for sender_id, last_event_at in idle:
                self._redact_rows(session, sender_id, last_event_at, designed)
                # Kept if the conversation went on meanwhile (a later last_event_at).
                session.query(pending).filter(
                    pending.sender_id == sender_id, pending.last_event_at <= last_event_at
                ).delete(synchronize_session=False)
                session.commit()
                done += 1
        if done:
            logger.info("Redacted the stored user text of %d idle conversation(s).", done)
        return done

    def _redact_rows(
        self, session: Any, sender_id: str, until: float, designed: dict[str, set[str]]
    ) -> None:
        rows = session.query(self.SQLEvent).filter(
            self.SQLEvent.sender_id == sender_id, self.SQLEvent.timestamp <= until
        )
        for row in rows:
            try:
                event = json.loads(row.data)
            except (TypeError, ValueError):
                continue
            if not isinstance(event, dict):
                continue
            redacted = redact_event(event, designed)
            if redacted != event:
                row.data = json.dumps(redacted)

    def list_idle_conversations(self, now: float | None = None) -> int:
        """Lists for redaction every stored conversation idle for longer than the retention
        (rows written before this class was used, or a lost listing); returns how many.
        Reads the whole events table: for scripts/redact.py --scan, not for every minute."""
        cutoff = (time.time() if now is None else now) - self.retention_seconds
        event = self.SQLEvent
        with self.session_scope() as session:
            idle: Iterable[tuple[str, float]] = (
                session.query(event.sender_id, sa.func.max(event.timestamp))
                .group_by(event.sender_id)
                .having(sa.func.max(event.timestamp) < cutoff)
                .all()
            )
            idle = list(idle)
        for sender_id, last in idle:
            # A listing already there may be newer (a save under way): it is left as it is.
            self._mark_pending(sender_id, last, only_if_absent=True)
        return len(idle)
