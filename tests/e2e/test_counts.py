"""Issue 15 against the real servers of `make run` (the e2e session's): scripted conversations
whose typed words are known, then make report's files, the counts file and the metrics
endpoint. None holds a typed word or a sender id; the counts before suppression equal what the
conversations did, route by route; the metrics count them too, on loopback only."""

from __future__ import annotations

import socket
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from addons import counts
from scripts import report
from scripts.serve import BotServers
from tests.e2e.conftest import Chat

pytestmark = pytest.mark.e2e

# Typed by the users below; none of them is a word the bot says.
TYPED = ("Quillbrook", "zarnfeld", "Oxmoorside", "plinkett", "Wendlebury")
# (who button, danger button) -> conversations; 8 so the report shows one route's count.
ROUTES = {("/report_self", "/deny"): 8, ("/report_other", "/unsure"): 3,
          ("/practitioner", "/deny"): 2, ("/report_child", "/affirm"): 1}
ROUTE_KEY = {"/report_self": "self", "/report_other": "someone_else",
             "/practitioner": "professional", "/report_child": "child"}


def counted(db: Path) -> Counter[tuple[str, str]]:
    """Today's counts in the server's file, before suppression (rolled up now)."""
    engine = counts.sqlite_engine(str(db))
    counts.roll_up(engine)
    today = time.strftime("%Y-%m-%d", time.gmtime())
    return Counter({(metric, key): n for day, metric, key, n in counts.read_daily_counts(engine)
                    if day.isoformat() == today})


def scrape(servers: BotServers) -> str:
    port = servers.metrics_ports[servers.rasa_port]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        return str(response.read().decode())


def metric_value(text: str, metric: str, key: str) -> float:
    line = f'triage_counted_total{{key="{key}",metric="{metric}"}} '
    return float(next(row for row in text.splitlines() if row.startswith(line))[len(line):])


def test_counts_report_and_metrics_hold_what_the_bot_did_and_nothing_typed(
    servers: BotServers, tmp_path: Path
) -> None:
    db = servers.counts_db
    time.sleep(2.5)  # earlier tests' turns reach the file (written every 2 s)
    before = counted(db)
    metrics_before = scrape(servers)
    senders = []
    n = 0
    for (who, danger), many in ROUTES.items():
        for _ in range(many):
            chat = Chat(servers.webhook_url)
            senders.append(chat.sender)
            chat.say(f"hello from {TYPED[n % len(TYPED)]} {TYPED[(n + 1) % len(TYPED)]}")
            chat.say(who)
            chat.say(danger)
            chat.say(f"thanks {TYPED[(n + 2) % len(TYPED)]}")
            n += 1

    expected_routes = Counter[str]()
    for (who, danger), many in ROUTES.items():
        expected_routes[ROUTE_KEY[who]] += many
        if danger == "/unsure":
            expected_routes["not_sure"] += many
    deadline = time.monotonic() + 30
    while True:  # the server writes its counts every 2 s: until the last turn is in
        delta = counted(db) - before
        routes = {key: delta["route", key] for key in counts.ROUTES}
        if (routes == {key: expected_routes[key] for key in counts.ROUTES}
                or time.monotonic() > deadline):
            break
        time.sleep(0.5)
    assert delta["conversations", "all"] == n
    for key in counts.ROUTES:
        assert delta["route", key] == expected_routes[key], key
    shown = sum(many for (_, danger), many in ROUTES.items() if danger != "/deny")
    assert delta["danger_card", "shown"] == shown

    metrics_after = scrape(servers)
    for key in ("self", "someone_else", "professional", "child", "not_sure"):
        assert (metric_value(metrics_after, "route", key)
                - metric_value(metrics_before, "route", key)) == expected_routes[key]
    assert "triage_answer_seconds_count" in metrics_after

    out = tmp_path / "report"
    assert report.main(["--counts-db", str(db), "--out", str(out)]) == 0
    written = {path.name: path.read_bytes() for path in out.iterdir()}
    assert set(written) == {"index.html", "counts.csv"}
    written["counts.sqlite"] = db.read_bytes()
    written["metrics"] = metrics_after.encode()
    for name, data in written.items():
        assert not [word for word in TYPED if word.lower().encode() in data.lower()], name
        assert not [sender for sender in senders if sender.encode() in data], name


def test_the_metrics_listen_on_loopback_only(servers: BotServers) -> None:
    port = servers.metrics_ports[servers.rasa_port]
    assert "triage_counted_total" in scrape(servers)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))  # no packet is sent: this finds the outward address
        outward = probe.getsockname()[0]
    if outward.startswith("127."):
        pytest.fail("this machine has no address besides loopback to try")
    with pytest.raises(OSError):
        socket.create_connection((outward, port), timeout=2).close()


def test_a_resource_list_that_fails_counts_as_an_action_failure(
    servers_without_actions: BotServers, servers: BotServers
) -> None:
    """With the action server down the list is not shown (the user gets the fallback with
    999): counted as a failure, not as a list shown; with it up, as a list shown."""
    for bot in (servers_without_actions, servers):
        time.sleep(2.5)
        before = counted(bot.counts_db)
        chat = Chat(bot.webhook_url)
        chat.say("/ask_resources")
        chat.say("/resource_legal")
        failed = 1 if bot is servers_without_actions else 0
        expected = (failed, 1 - failed)
        deadline = time.monotonic() + 30
        while True:  # the server writes its counts every 2 s
            delta = counted(bot.counts_db) - before
            seen = (delta["action_failure", "action_show_resources"],
                    delta["resources", "legal_support"])
            if seen == expected or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert seen == expected, bot.webhook_url
