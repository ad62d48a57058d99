"""The counts of issue 15 without servers: conversations saved through make run's counting store
(SQLite) and through the production tracker store (on SQLite here, redacted), rolled up; the
report's small-number suppression at its edges; what the files and metrics never hold."""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import generate_latest
from rasa.core.tracker_store import TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
)

from addons import counts, metrics
from addons.counting import CountingInMemoryTrackerStore
from addons.tracker_store import RedactingSQLTrackerStore
from i18n.translations import ORDER
from scripts import report

ROOT = Path(__file__).resolve().parents[1]
DOMAIN = Domain.load(str(ROOT / "domain.yml"))

# Words typed in the conversations below: none may reach a count, a metric or a report.
TYPED = ("pasport", "Brixworth", "Zebedee", "lorryyard", "kilnfield", "quietbrook")


def user(text: str, intent: str, **entities: str) -> UserUttered:
    return UserUttered(text, {"name": intent, "confidence": 0.99},
                       [{"entity": k, "value": v, "start": 0, "end": 1}
                        for k, v in entities.items()])


def said(*actions: str) -> list[Event]:
    events: list[Event] = []
    for action in actions:
        events.append(ActionExecuted(action))
        if action.startswith("utter_"):
            events.append(BotUttered(f"bot says {action}", metadata={"utter_action": action}))
    return events


def start() -> list[Event]:
    return [ActionExecuted("action_session_start"), SessionStarted(),
            ActionExecuted("action_listen")]


def triage(who_intent: str, who: str, danger: str, words: str) -> list[list[Event]]:
    """The turns of a triage: who (typed), then the danger answer."""
    answer = {"yes": "affirm", "no": "deny", "unsure": "unsure"}[danger]
    card = (["utter_emergency_call", "utter_emergency_deaf", "utter_emergency_once_safe"]
            if danger == "yes" else
            ["utter_emergency_call", "utter_what_next"] if danger == "unsure" else
            ["utter_what_next"])
    return [
        [*start(), user(words, who_intent), SlotSet("who", who),
         *said("utter_welcome", "triage_form"), SlotSet("requested_slot", "danger"),
         ActionExecuted("action_listen")],
        [user("no" if danger == "no" else danger, answer), SlotSet("danger", danger),
         ActionExecuted("triage_form"), SlotSet("requested_slot", None),
         *said(*card), ActionExecuted("action_listen")],
    ]


# Route -> how many conversations take it; more than 7 for some, so the report shows them.
ROUTES = {("report_self", "self", "no"): 9, ("report_other", "someone_else", "no"): 12,
          ("practitioner", "professional", "unsure"): 3, ("report_child", "child", "yes"): 8}


def extras(i: int) -> list[list[Event]]:
    """More turns some conversations have: a place, a quick answer, a list, another language."""
    turns: list[list[Event]] = []
    if i % 2 == 0:
        turns.append([user(f"I'm in {TYPED[1]}", "inform_nation", uk_place="scotland"),
                      SlotSet("nation", "scotland"), *said("utter_nation_noted"),
                      ActionExecuted("action_listen")])
    if i % 3 == 0:
        turns.append([user(f"what is the nrm {TYPED[2]}", "ask_nrm"),
                      *said("utter_nrm_what", "utter_next_nrm"), ActionExecuted("action_listen")])
        turns.append([user("/resource_legal", "resource_legal"),
                      SlotSet("resource_category", "legal_support"),
                      ActionExecuted("action_show_resources"), BotUttered("links"),
                      SlotSet("resource_shown", 5.0), ActionExecuted("action_listen")])
    if i == 1:
        turns.append([user(f"ሰላም {TYPED[3]}", "other_language", language="ti"),
                      SlotSet("language", "ti"), *said("utter_language_card"),
                      ActionExecuted("action_listen")])
        # A language slot holding typed words is never counted (nor kept after redaction).
        turns.append([user(TYPED[4], "choose_language"), SlotSet("language", TYPED[4]),
                      ActionExecuted("action_listen")])
    if i == 2:  # the action server is down: the action has no events of its own
        turns.append([user("/resource_legal", "resource_legal"),
                      SlotSet("resource_category", "legal_support"),
                      ActionExecuted("action_show_resources"), ActionExecuted("action_listen")])
    if i == 3:
        turns.append([user(TYPED[5], "nlu_fallback"), *said("utter_ask_instead"),
                      ActionExecuted("action_listen")])
    return turns


def conversations() -> list[tuple[str, list[list[Event]]]]:
    out = []
    n = 0
    for (intent, who, danger), many in ROUTES.items():
        for _ in range(many):
            words = f"my boss keeps my {TYPED[0]} at the {TYPED[3]}"
            out.append((f"sender-{n}", triage(intent, who, danger, words) + extras(n)))
            n += 1
    return out


async def converse(store: TrackerStore, sender: str, turns: list[list[Event]]) -> None:
    """Each turn as Rasa's processor does it: retrieve (or create), add the events, save."""
    if await store.retrieve(sender) is None:
        await store.create_tracker(sender)
    for events in turns:
        tracker = await store.retrieve(sender)
        assert tracker is not None
        for event in events:
            tracker.update(event)
        await store.save(tracker)


def expected_counts() -> Counter[tuple[str, str]]:
    """What the conversations above did, counted by hand."""
    expected: Counter[tuple[str, str]] = Counter()
    total = sum(ROUTES.values())
    expected["conversations", "all"] = total
    for (_, who, danger), many in ROUTES.items():
        expected["route", who] += many
        if danger == "unsure":
            expected["route", "not_sure"] += many
        if danger in ("yes", "unsure"):
            expected["danger_card", "shown"] += many
    expected["route", "all"] = total
    expected["danger_card", "all"] = expected["danger_card", "shown"]
    places = len(range(0, total, 2))
    expected["nation", "scotland"] = expected["nation", "all"] = places
    nrm = len(range(0, total, 3))
    expected["quick_answer", "nrm"] = expected["quick_answer", "all"] = nrm
    expected["resources", "legal_support"] = expected["resources", "all"] = nrm
    expected["language", "ti"] = expected["language", "all"] = 1
    expected["action_failure", "action_show_resources"] = expected["action_failure", "all"] = 1
    expected["not_understood", "nlu_fallback"] = expected["not_understood", "asked_instead"] = 1
    expected["not_understood", "all"] = 1
    return expected


def by_metric(engine: Any) -> Counter[tuple[str, str]]:
    counted: Counter[tuple[str, str]] = Counter()
    for _, metric, key, n in counts.read_daily_counts(engine):
        if metric != "answer_seconds":
            counted[metric, key] += n
    return counted


@pytest.fixture
async def run_counts(tmp_path: Path) -> Path:
    """make run's counts file after the conversations, rolled up."""
    db = tmp_path / "counts.sqlite"
    store = CountingInMemoryTrackerStore(DOMAIN, counts_db=str(db))
    for sender, turns in conversations():
        await converse(store, sender, turns)
    store.flush()  # the server writes every 2 s
    counts.roll_up(counts.sqlite_engine(str(db)))
    return db


async def test_counts_equal_what_the_conversations_did(run_counts: Path) -> None:
    counted = by_metric(counts.sqlite_engine(str(run_counts)))
    assert counted == expected_counts()
    # Route by route, as the issue asks.
    for (_, who, _), many in ROUTES.items():
        assert counted["route", who] == many


async def test_every_answer_is_timed(run_counts: Path) -> None:
    daily = counts.read_daily_counts(counts.sqlite_engine(str(run_counts)))
    answers = sum(len(turns) for _, turns in conversations())
    assert sum(n for _, m, k, n in daily if m == "answer_seconds" and k == "all") == answers
    assert sum(n for _, m, k, n in daily if m == "answer_seconds" and k != "all") == answers


async def test_production_store_gives_the_same_counts_after_redaction(
    tmp_path: Path, run_counts: Path
) -> None:
    db = tmp_path / "rasa.db"
    store = RedactingSQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(db))
    for sender, turns in conversations():
        await converse(store, sender, turns)
    while store.redact_idle(now=time.time() + 3600):
        pass
    stored = db.read_bytes()
    assert not [word for word in TYPED if word.encode() in stored]  # redaction did its part
    counts.roll_up(store.engine)
    assert by_metric(store.engine) == by_metric(counts.sqlite_engine(str(run_counts)))


async def test_nothing_typed_reaches_the_counts_file_the_report_or_the_metrics(
    tmp_path: Path, run_counts: Path
) -> None:
    out = tmp_path / "report"
    assert report.main(["--counts-db", str(run_counts), "--out", str(out)]) == 0
    written = [run_counts.read_bytes(), generate_latest()]
    written += [path.read_bytes() for path in out.iterdir()]
    for data in written:
        assert not [word for word in TYPED if word.encode() in data]
    # ...and no sender id either.
    assert not [d for d in written if b"sender-" in d]


async def test_metrics_count_what_the_bot_did(tmp_path: Path) -> None:
    def value(metric: str, key: str) -> float:
        return float(metrics.COUNTED.labels(metric, key)._value.get())

    before = {k: value(*k) for k in [("conversations", "all"), ("route", "child"),
                                     ("action_failure", "action_show_resources"),
                                     ("resources", "legal_support")]}
    answers = metrics.ANSWER_SECONDS._sum.get()  # noqa: SLF001
    store = CountingInMemoryTrackerStore(DOMAIN, counts_db=str(tmp_path / "c.sqlite"))
    # A form sets the slot again, in a later turn: still one route.
    again = [user("yes", "affirm"), SlotSet("who", "child"), ActionExecuted("action_listen")]
    turns = triage("report_child", "child", "yes", "x") + [again] + extras(2)
    await converse(store, "metrics-1", turns)
    assert value("conversations", "all") == before["conversations", "all"] + 1
    assert value("route", "child") == before["route", "child"] + 1
    assert value("action_failure", "action_show_resources") == before[
        "action_failure", "action_show_resources"] + 1
    assert value("resources", "legal_support") == before["resources", "legal_support"]
    assert metrics.ANSWER_SECONDS._sum.get() > answers  # noqa: SLF001


@pytest.mark.parametrize(("n", "shown"), [(0, None), (7, None), (8, 10), (12, 10), (13, 15),
                                          (100, 100)])
def test_small_numbers_are_withheld_and_the_rest_rounded_to_5(n: int, shown: int | None) -> None:
    assert report.suppress(n) == shown


def test_a_total_that_would_reveal_a_withheld_count_is_withheld() -> None:
    day = dt.date(2026, 11, 3)
    daily = [(day, "route", "self", 12), (day, "route", "someone_else", 8),
             (day, "route", "all", 20), (day, "nation", "wales", 9),
             (day, "nation", "all", 9), (day, "conversations", "all", 7)]
    shown = {(m, k): n for _, m, k, n in report.published(daily, "month")}
    assert shown["route", "self"] == 10 and shown["route", "someone_else"] == 10
    assert shown["route", "professional"] is None  # 0 is withheld like any count below 8
    assert shown["route", "all"] is None  # 20 - 10 - 10 would tell
    assert shown["conversations", "all"] is None  # 7
    complete = [(day, "danger_card", "shown", 8), (day, "danger_card", "all", 8)]
    assert {(m, k): n for _, m, k, n in report.published(complete, "week")
            if m == "danger_card"} == {("danger_card", "shown"): 10}


async def test_the_report_says_what_it_withholds(tmp_path: Path, run_counts: Path) -> None:
    out = tmp_path / "report"
    report.main(["--counts-db", str(run_counts), "--out", str(out), "--period", "week"])
    rows = (out / "counts.csv").read_text().splitlines()
    assert rows[0] == "period,metric,key,n"
    period = report.period_of(dt.datetime.now(dt.timezone.utc).date(), "week")
    assert f"{period},route,someone_else,10" in rows  # 12
    assert f"{period},route,self,10" in rows  # 9
    assert f"{period},route,professional,withheld" in rows  # 3
    assert f"{period},route,all,withheld" in rows
    page = (out / "index.html").read_text()
    assert "Counts of 7 or fewer are" in page and "rounded to the" in page


def test_the_counted_names_are_the_domains() -> None:
    """A renamed action, intent, slot value or language would silently stop a count."""
    domain = yaml.safe_load((ROOT / "domain.yml").read_text())
    responses = set(domain["responses"])
    assert set(counts.QUICK_ANSWERS) <= responses
    assert {"utter_emergency_call", "utter_ask_instead", "utter_out_of_scope"} <= responses
    assert set(counts.CUSTOM_ACTIONS) == set(domain["actions"])
    for slot in ("who", "danger", "nation"):
        assert counts.ALLOWED_SLOTS[slot] == set(map(str, domain["slots"][slot]["values"]))
    categories = {m["value"] for m in domain["slots"]["resource_category"]["mappings"]}
    assert counts.ALLOWED_SLOTS["resource_category"] == categories
    assert set(counts.LANGUAGES) == set(ORDER)
    assert {"nlu_fallback", "language_unsure"} <= set(domain["intents"]) | {"nlu_fallback"}


async def test_make_run_counts_into_the_file_its_endpoints_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """endpoints.yml as Rasa reads it: the counting store, writing COUNTS_DB."""
    from rasa.core.tracker_store import create_tracker_store
    from rasa.utils.endpoints import read_endpoint_config

    db = tmp_path / "run" / "counts.sqlite"
    monkeypatch.setenv("COUNTS_DB", str(db))
    config = read_endpoint_config(str(ROOT / "endpoints.yml"), "tracker_store")
    store = create_tracker_store(config, DOMAIN)
    assert isinstance(store, CountingInMemoryTrackerStore)
    await converse(store, "endpoints-1", triage("report_other", "someone_else", "no", "hi"))
    assert isinstance(store, CountingInMemoryTrackerStore)
    store.flush()
    counts.roll_up(counts.sqlite_engine(str(db)))
    assert by_metric(counts.sqlite_engine(str(db)))["route", "someone_else"] == 1


def test_servers_sharing_one_environment_serve_metrics_on_their_port_plus_the_offset(
    tmp_path: Path,
) -> None:
    """deploy/supervisord-rasa.conf's METRICS_PORT_OFFSET, in a process started as Rasa is."""
    import os
    import socket
    import subprocess
    import sys

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        free = int(sock.getsockname()[1])
    script = (
        "import sys, urllib.request\n"
        "sys.argv = ['rasa', 'run', '--port', '5005']\n"
        "from addons import metrics\n"
        "port = metrics.start_server_from_env()\n"
        "url = f'http://127.0.0.1:{port}/metrics'\n"
        "print(port, 'triage_counted_total' in urllib.request.urlopen(url).read().decode())\n"
    )
    env = {**os.environ, "METRICS_PORT_OFFSET": str(free - 5005), "METRICS_PORT": "1"}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == [str(free), "True"], done.stderr[-2000:]


async def test_servers_taking_turns_each_count_the_turns_they_answered(tmp_path: Path) -> None:
    """Two production stores on one database, as two Rasa servers alternating: every answer is
    timed once, by the server that gave it."""
    from addons.counting import CountingSQLTrackerStore

    db = str(tmp_path / "rasa.db")
    servers = [CountingSQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=db) for _ in "ab"]
    turns = triage("report_self", "self", "no", "x") + extras(0)
    before = _answers()
    await servers[0].create_tracker("taking-turns")
    for i, events in enumerate(turns):
        server = servers[i % 2]
        tracker = await server.retrieve("taking-turns")
        assert tracker is not None
        for event in events:
            tracker.update(event)
        await server.save(tracker)
    assert _answers() - before == len(turns)


def _answers() -> float:
    """How many answers the histogram has timed."""
    return sum(float(sample.value) for family in metrics.ANSWER_SECONDS.collect()
               for sample in family.samples if sample.name.endswith("_count"))


async def test_the_roll_up_runs_by_itself(tmp_path: Path) -> None:
    """No make report: the server writes its counts and rolls them up on its own timer."""
    import asyncio

    db = tmp_path / "counts.sqlite"
    store = CountingInMemoryTrackerStore(DOMAIN, counts_db=str(db), rollup_minutes=0.01)
    await converse(store, "timer-1", triage("report_child", "child", "yes", "x"))
    engine = counts.sqlite_engine(str(db))
    for _ in range(50):
        if by_metric(engine)["route", "child"] == 1:
            break
        await asyncio.sleep(0.1)
    assert by_metric(engine)["route", "child"] == 1


async def test_make_runs_counts_survive_a_restart(tmp_path: Path) -> None:
    """A new server process on the same file (a new key for its conversations) adds to the
    counts of the one before."""
    db = tmp_path / "counts.sqlite"
    for _ in range(2):
        store = CountingInMemoryTrackerStore(DOMAIN, counts_db=str(db))
        await converse(store, "same-sender", triage("report_self", "self", "no", "x"))
        store.flush()
    engine = counts.sqlite_engine(str(db))
    counts.roll_up(engine)
    assert by_metric(engine)["conversations", "all"] == 2
    assert by_metric(engine)["route", "self"] == 2


async def test_make_run_keeps_its_events_only_until_their_days_are_final(tmp_path: Path) -> None:
    """The event log keeps the days still rolled up again; older days stay counted."""
    import sqlite3

    db = tmp_path / "counts.sqlite"
    store = CountingInMemoryTrackerStore(DOMAIN, counts_db=str(db))
    day = 24 * 3600
    long_ago = time.time() - 10 * day
    for offset, sender in ((0.0, "old"), (10 * day - 60, "today")):
        turns = triage("report_other", "someone_else", "no", "x")
        for events in turns:
            for event in events:
                event.timestamp = long_ago + offset
        await converse(store, sender, turns)
    store.flush()
    engine = counts.sqlite_engine(str(db))
    counts.roll_up(engine)
    # Today's conversation and the one ten days ago are counted...
    assert by_metric(engine)["route", "someone_else"] == 2
    with sqlite3.connect(db) as connection:
        kept = connection.execute("SELECT min(timestamp) FROM count_events").fetchone()[0]
    # ...and only the events of the days rolled up again are still there.
    assert kept >= time.time() - 2 * day
    counts.roll_up(engine)
    assert by_metric(engine)["route", "someone_else"] == 2


async def test_scripts_redact_takes_the_production_store_with_counting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """scripts/redact.py (cron) on a tracker store of the type endpoints.production.yml
    names, counting included."""
    from scripts import redact

    production = (ROOT / "endpoints.production.yml").read_text()
    kind = yaml.safe_load(production.replace("${", "{"))["tracker_store"]["type"]
    db = tmp_path / "rasa.db"
    store = RedactingSQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(db))
    await converse(store, "cron-1", triage("report_self", "self", "no", TYPED[0]))
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(f"tracker_store:\n  type: {kind}\n  dialect: sqlite\n  db: {db}\n",
                         encoding="utf-8")
    assert redact.main(["--endpoints", str(endpoints), "--retention-minutes", "0"]) == 0
    assert "of 1 conversation(s)" in capsys.readouterr().out
    assert TYPED[0].encode() not in db.read_bytes()


async def test_a_roll_up_by_hand_writes_no_report(tmp_path: Path) -> None:
    db = tmp_path / "counts.sqlite"
    store = CountingInMemoryTrackerStore(DOMAIN, counts_db=str(db))
    await converse(store, "by-hand", triage("report_other", "someone_else", "no", "x"))
    store.flush()
    out = tmp_path / "report"
    assert report.main(["--counts-db", str(db), "--out", str(out), "--rollup-only"]) == 0
    assert not out.exists()
    assert by_metric(counts.sqlite_engine(str(db)))["route", "someone_else"] == 1
