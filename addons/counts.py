"""Counts of what the bot did, never of what anyone said (issue 15; docs/operations.md).

One roll-up turns stored events into daily counts, whichever store they come from:
- production: Rasa's `events` table in PostgreSQL (addons/tracker_store.py), which keeps intent,
  action and slot names after redaction;
- `make run`: the table `count_events` of an SQLite file (addons/counting.py writes it), which
  holds only the fields read here, and a per-process keyed hash instead of the sender id.

Each event is read as an `EventRow`: its type, intent name, action name and, for a slot event,
the slot's name and value, kept only for the slots and values of ALLOWED_SLOTS (a value the
domain or the translations define, never free text). A conversation is one Rasa session
(from its `session_started`), counted on the UTC day it started; `n` is the number of such
conversations in which the thing happened at least once, except `answer_seconds`, which counts
answers. The roll-up writes only `daily_counts(day, metric, key, n)`.

This module uses nothing of Rasa's (scripts/report.py reads the counts with it), though
importing the addons package puts Rasa's speedups in place (addons/__init__.py).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

# --- What is counted ---------------------------------------------------------------------------

ROUTES = ("self", "someone_else", "professional", "child", "young_person", "not_sure")
# The first response of each quick answer (data/rules/answers.yml) -> its topic.
QUICK_ANSWERS = {
    "utter_nrm_what": "nrm",
    "utter_signs_list": "signs",
    "utter_answer_who_can_refer": "who_can_refer",
    "utter_answer_consent": "consent",
    "utter_answer_duty_to_notify": "duty_to_notify",
    "utter_answer_how_to_refer": "how_to_refer",
    "utter_answer_what_happens_next": "what_happens_next",
    "utter_answer_recovery_period": "recovery_period",
    "utter_answer_victim_support": "victim_support",
    "utter_answer_report_anonymously": "report_anonymously",
    "utter_answer_labour_exploitation": "labour_exploitation",
    "utter_talk_to_person": "talk_to_person",
    "utter_iamabot": "real_person",
}
RESOURCE_CATEGORIES = ("victim_care_pathways", "legal_support", "support_for_survivors",
                       "survivor_services_map")
NATIONS = ("england", "wales", "scotland", "northern_ireland")
# content/translations/ (i18n.translations.ORDER; tests/test_counts.py keeps them equal), and
# "unsure" for a message whose language the bot could not tell.
LANGUAGES = ("ti", "so", "ar", "sq", "vi", "am", "fa", "ps", "ckb", "ro", "zh", "pl", "uk", "ru",
             "ur", "pa", "bg", "lt", "pt", "es", "tr")
NOT_UNDERSTOOD = ("nlu_fallback", "asked_instead", "core_fallback", "out_of_scope")
CUSTOM_ACTIONS = ("action_show_resources", "action_reset_triage")  # domain.yml `actions`
# Seconds from the message to the end of the bot's answer.
LATENCY_BUCKETS = ((1.0, "under_1"), (3.0, "1_to_3"), (10.0, "3_to_10"),
                   (float("inf"), "10_or_more"))

# metric -> its keys, in the order the report shows them. Every metric also gets the key ALL:
# the conversations with any of its keys (answers, for answer_seconds).
METRICS: dict[str, tuple[str, ...]] = {
    "conversations": (),
    "danger_card": ("shown",),
    "route": ROUTES,
    "quick_answer": tuple(QUICK_ANSWERS.values()),
    "resources": RESOURCE_CATEGORIES,
    "nation": NATIONS,
    "not_understood": NOT_UNDERSTOOD,
    "language": (*LANGUAGES, "unsure"),
    "action_failure": CUSTOM_ACTIONS,
    "answer_seconds": tuple(label for _, label in LATENCY_BUCKETS),
}
ALL = "all"

# The slots read, and the only values kept of each (anything else is read as no value).
ALLOWED_SLOTS: dict[str, frozenset[str]] = {
    "who": frozenset(("self", "someone_else", "professional", "child", "young_person")),
    "danger": frozenset(("yes", "no", "unsure")),
    "nation": frozenset(NATIONS),
    "resource_category": frozenset(RESOURCE_CATEGORIES),
    "language": frozenset((*LANGUAGES, "en")),
}

SESSION_STARTED = "session_started"
USER = "user"
ACTION = "action"
SLOT = "slot"
ACTION_LISTEN = "action_listen"


@dataclass(frozen=True)
class EventRow:
    """What the roll-up reads of one stored event."""

    conversation: str  # the sender id or a keyed hash of it; never written anywhere by this
    timestamp: float
    type_name: str
    intent_name: str | None = None
    action_name: str | None = None
    slot_name: str | None = None
    slot_value: str | None = None


def allowed_slot(name: Any, value: Any) -> tuple[str | None, str | None]:
    """(name, value) of a slot event the counts may read, else (None, None); a value outside
    the slot's allowed values is read as None (the slot was unset or holds free text)."""
    if not isinstance(name, str) or name not in ALLOWED_SLOTS:
        return None, None
    if isinstance(value, str) and value in ALLOWED_SLOTS[name]:
        return name, value
    return name, None


def latency_bucket(seconds: float) -> str:
    for limit, label in LATENCY_BUCKETS:
        if seconds < limit:
            return label
    return LATENCY_BUCKETS[-1][1]


def event_facts(row: EventRow, slots: dict[str, str | None]) -> list[tuple[str, str]]:
    """The (metric, key) pairs one event shows, given the slots set before it (updated here).
    Shared by the daily roll-up and the live metrics (addons/counting.py)."""
    facts: list[tuple[str, str]] = []
    if row.type_name == SESSION_STARTED:
        slots.clear()
        facts.append(("conversations", ALL))
    elif row.type_name == SLOT and row.slot_name:
        previous = slots.get(row.slot_name)
        slots[row.slot_name] = row.slot_value
        if row.slot_value is None or row.slot_value == previous:  # forms set slots again
            return facts
        if row.slot_name == "who":
            facts.append(("route", row.slot_value))
        elif row.slot_name == "danger" and row.slot_value == "unsure":
            facts.append(("route", "not_sure"))
        elif row.slot_name == "nation":
            facts.append(("nation", row.slot_value))
        elif row.slot_name == "language" and row.slot_value != "en":
            facts.append(("language", row.slot_value))
    elif row.type_name == USER:
        if row.intent_name == "nlu_fallback":
            facts.append(("not_understood", "nlu_fallback"))
        elif row.intent_name == "language_unsure":
            facts.append(("language", "unsure"))
    elif row.type_name == ACTION and row.action_name:
        name = row.action_name
        if name == "utter_emergency_call":
            facts.append(("danger_card", "shown"))
        elif name in QUICK_ANSWERS:
            facts.append(("quick_answer", QUICK_ANSWERS[name]))
        elif name == "utter_ask_instead":
            facts.append(("not_understood", "asked_instead"))
        elif name == "action_default_fallback":
            facts.append(("not_understood", "core_fallback"))
        elif name == "utter_out_of_scope":
            facts.append(("not_understood", "out_of_scope"))
    return facts


@dataclass
class _Session:
    day: dt.date
    facts: set[tuple[str, str]]
    latencies: Counter[str]


def _sessions(rows: Iterable[EventRow]) -> Iterator[_Session]:
    """The sessions in rows ordered by conversation, then as stored. Events of a conversation
    before its first session_started in rows belong to a session started earlier: skipped."""
    current: _Session | None = None
    conversation: str | None = None
    slots: dict[str, str | None] = {}
    user_at: float | None = None  # the message the bot is answering
    # A custom action whose own events have not come yet, and the list it was asked for.
    pending: tuple[str, str | None] | None = None

    def close_action(failed: bool) -> None:
        nonlocal pending
        if current is not None and pending is not None:
            action, category = pending
            if failed:
                current.facts.add(("action_failure", action))
            elif category:
                current.facts.add(("resources", category))
        pending = None

    for row in rows:
        if row.conversation != conversation or row.type_name == SESSION_STARTED:
            close_action(True)
            if current is not None:
                yield current
            current, user_at = None, None
            if row.conversation != conversation:
                conversation, slots = row.conversation, {}
        if row.type_name == SESSION_STARTED:
            day = dt.datetime.fromtimestamp(row.timestamp, dt.timezone.utc).date()
            current = _Session(day, set(), Counter())
        if current is None:
            continue
        # A custom action's own events (its messages, its slots) follow it at once; another
        # action or message, or the end of the conversation, instead means it failed.
        if pending is not None:
            close_action(row.type_name in (ACTION, USER))
        if row.type_name == USER:
            user_at = row.timestamp
        elif row.type_name == ACTION and row.action_name == ACTION_LISTEN and user_at is not None:
            current.latencies[latency_bucket(row.timestamp - user_at)] += 1
            user_at = None
        elif row.type_name == ACTION and row.action_name in CUSTOM_ACTIONS:
            category = (slots.get("resource_category")
                        if row.action_name == "action_show_resources" else None)
            pending = (row.action_name, category)
        current.facts.update(event_facts(row, slots))
    close_action(True)
    if current is not None:
        yield current


def rollup(rows: Iterable[EventRow]) -> Counter[tuple[dt.date, str, str]]:
    """(day, metric, key) -> n for the sessions in rows (ordered by conversation, then as
    stored). A resource list whose action failed is counted as a failure, not as shown."""
    counts: Counter[tuple[dt.date, str, str]] = Counter()
    for session in _sessions(rows):
        for metric, key in session.facts:
            counts[(session.day, metric, key)] += 1
        for metric in {metric for metric, key in session.facts if key != ALL}:
            counts[(session.day, metric, ALL)] += 1
        for bucket, n in session.latencies.items():
            counts[(session.day, "answer_seconds", bucket)] += n
            counts[(session.day, "answer_seconds", ALL)] += n
    return counts


# --- The stores --------------------------------------------------------------------------------

metadata = sa.MetaData()
# make run's event log (addons/counting.py writes it): only what event_facts reads.
count_events = sa.Table(
    "count_events", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("conversation", sa.String(32), nullable=False),
    sa.Column("timestamp", sa.Float, nullable=False, index=True),
    sa.Column("type_name", sa.String(32), nullable=False),
    sa.Column("intent_name", sa.String(64)),
    sa.Column("action_name", sa.String(64)),
    sa.Column("slot_name", sa.String(32)),
    sa.Column("slot_value", sa.String(32)),
)
daily_counts = sa.Table(
    "daily_counts", metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("metric", sa.String(32), primary_key=True),
    sa.Column("key", sa.String(32), primary_key=True),
    sa.Column("n", sa.Integer, nullable=False),
)
# Rasa's SQLTrackerStore table (read only; `data` only for slot events).
TRACKER_EVENTS = sa.text("""
    SELECT sender_id, timestamp, type_name, intent_name, action_name,
           CASE WHEN type_name = 'slot' THEN data END AS data
    FROM events WHERE timestamp >= :since ORDER BY sender_id, id
""")
# Rasa's table has an index on sender_id only; the roll-up reads a few days by timestamp.
TRACKER_EVENTS_INDEX = "CREATE INDEX IF NOT EXISTS events_timestamp_counts ON events (timestamp)"
# PostgreSQL: one roll-up at a time across all servers (an advisory lock).
ADVISORY_LOCK_KEY = 0x7472696167650f  # "triage" + issue 15
# Days before the last one rolled up that are rolled up again (a conversation started late in
# the day goes on after midnight).
OVERLAP_DAYS = 1


def _tracker_rows(result: Iterable[Any]) -> Iterator[EventRow]:
    for sender_id, timestamp, type_name, intent_name, action_name, data in result:
        slot_name = slot_value = None
        if type_name == SLOT and data:
            try:
                event = json.loads(data)
            except (TypeError, ValueError):
                event = {}
            if isinstance(event, dict):
                slot_name, slot_value = allowed_slot(event.get("name"), event.get("value"))
        yield EventRow(str(sender_id), float(timestamp or 0), str(type_name), intent_name,
                       action_name, slot_name, slot_value)


def _log_rows(result: Iterable[Any]) -> Iterator[EventRow]:
    for conversation, timestamp, type_name, intent, action, slot_name, slot_value in result:
        slot_name, slot_value = (allowed_slot(slot_name, slot_value) if slot_name
                                 else (None, None))
        yield EventRow(conversation, timestamp, type_name, intent, action, slot_name, slot_value)


def source_table(connection: sa.engine.Connection) -> str:
    """`events` (a tracker store's database) or `count_events` (make run's file)."""
    names = sa.inspect(connection).get_table_names()
    return "events" if "events" in names else "count_events"


def read_rows(connection: sa.engine.Connection, since: float) -> Iterator[EventRow]:
    """The events stored from `since` (a Unix time), ordered for rollup()."""
    if source_table(connection) == "events":
        # A server-side cursor on PostgreSQL: days of events are never all in memory at once.
        query = TRACKER_EVENTS.execution_options(stream_results=True)
        yield from _tracker_rows(connection.execute(query, {"since": since}))
        return
    c = count_events.c
    query = (sa.select(c.conversation, c.timestamp, c.type_name, c.intent_name,
                       c.action_name, c.slot_name, c.slot_value)
             .where(c.timestamp >= since).order_by(c.conversation, c.id))
    yield from _log_rows(connection.execute(query))


def _day_start(day: dt.date) -> float:
    return dt.datetime.combine(day, dt.time(), dt.timezone.utc).timestamp()


def roll_up(engine: sa.engine.Engine, since: dt.date | None = None) -> dt.date | None:
    """Rolls the stored events up into daily_counts, replacing the days from `since` (by
    default the last day rolled up, less OVERLAP_DAYS; every day the first time). Returns the
    first day rolled up, or None when another server was doing it (PostgreSQL)."""
    metadata.create_all(engine, tables=[daily_counts])
    if engine.dialect.name != "postgresql":
        with engine.begin() as connection:
            if source_table(connection) == "events":
                connection.exec_driver_sql(TRACKER_EVENTS_INDEX)
            return _roll_up(connection, since)
    # PostgreSQL: one server at a time (a lock held by a connection of its own), and the index
    # built CONCURRENTLY, outside any transaction, so that it never holds up the servers' saves.
    with engine.connect() as guard:
        guard = guard.execution_options(isolation_level="AUTOCOMMIT")
        lock = {"key": ADVISORY_LOCK_KEY}
        if not guard.execute(sa.text("SELECT pg_try_advisory_lock(:key)"), lock).scalar():
            return None
        try:
            if source_table(guard) == "events":
                guard.exec_driver_sql(TRACKER_EVENTS_INDEX.replace(
                    "CREATE INDEX", "CREATE INDEX CONCURRENTLY"))
            with engine.begin() as connection:
                return _roll_up(connection, since)
        finally:
            guard.execute(sa.text("SELECT pg_advisory_unlock(:key)"), lock)


def _roll_up(connection: sa.engine.Connection, since: dt.date | None) -> dt.date:
    if since is None:
        since = _next_since(connection)
    log = source_table(connection) == "count_events"
    if log:
        # make run's log keeps only the days still rolled up again (see below): the days
        # before its first event are final, and never recomputed from nothing.
        first = connection.execute(sa.select(sa.func.min(count_events.c.timestamp))).scalar()
        if first is None:
            return since
        since = max(since, dt.datetime.fromtimestamp(first, dt.timezone.utc).date())
    counts = rollup(read_rows(connection, _day_start(since)))
    connection.execute(daily_counts.delete().where(daily_counts.c.day >= since))
    rows = [{"day": day, "metric": metric, "key": key, "n": n}
            for (day, metric, key), n in sorted(counts.items()) if day >= since]
    if rows:
        connection.execute(daily_counts.insert(), rows)
    if log:
        # Rolled up for good: the events of the days the next roll-up leaves alone are not
        # kept (Rasa's own events table, in production, is the tracker store's to keep).
        connection.execute(count_events.delete().where(
            count_events.c.timestamp < _day_start(_next_since(connection))))
    return since


def _next_since(connection: sa.engine.Connection) -> dt.date:
    """The first day a roll-up recomputes: the last day rolled up, less OVERLAP_DAYS."""
    last = connection.execute(sa.select(sa.func.max(daily_counts.c.day))).scalar()
    if isinstance(last, str):  # SQLite returns the aggregate as text
        last = dt.date.fromisoformat(last)
    return last - dt.timedelta(days=OVERLAP_DAYS) if last else dt.date(1970, 1, 1)


def read_daily_counts(engine: sa.engine.Engine) -> list[tuple[dt.date, str, str, int]]:
    """Every row of daily_counts (none if the table does not exist yet)."""
    with engine.connect() as connection:
        if "daily_counts" not in sa.inspect(connection).get_table_names():
            return []
        c = daily_counts.c
        rows = connection.execute(
            sa.select(c.day, c.metric, c.key, c.n).order_by(c.day, c.metric, c.key)).all()
    return [(day if isinstance(day, dt.date) else dt.date.fromisoformat(day), metric, key,
             int(n)) for day, metric, key, n in rows]


def sqlite_engine(path: str) -> sa.engine.Engine:
    """make run's counts file: WAL, so the report reads while the server writes."""
    engine = sa.create_engine(f"sqlite:///{path}", hide_parameters=True)

    sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(connection: Any, _: Any) -> None:
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA busy_timeout=10000")
