"""`make run-production`'s command (scripts/serve.py with ENDPOINTS=endpoints.production.yml)
on real PostgreSQL and Redis, with a retention of 6 seconds: a conversation through the chat
page is stored, then, once idle, loses everything the user typed while its intents and actions
stay; the servers' output never shows what the user typed. Then one of the two Rasa servers is
killed: the page sends every message to the other meanwhile, and supervisord starts it again."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scripts.serve import ROOT, answers
from scripts.services import Postgres, Redis, free_port, two_free_ports
from scripts.supervise import pid, wait_until

pytestmark = pytest.mark.production

RETENTION_MINUTES = 0.1
WORD = "brackenholt" + secrets.token_hex(3)  # typed by the user only
MESSAGES = ["hello", f"my neighbour {WORD} is kept in a shed at the farm", "no",
            "what is the nrm"]


def _post(url: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(url, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


@pytest.fixture(scope="module")
def production(
    postgres: Postgres, redis_server: Redis, log_dir: Path
) -> Iterator[tuple[dict[str, str], Path]]:
    """What `make run-production` runs, until it says the bot is running."""
    rasa_port = two_free_ports()
    env = {
        **os.environ,
        **postgres.create_database("run_production"),
        **redis_server.env,
        "ENDPOINTS": "endpoints.production.yml",
        "RASA_SERVERS": "2",
        "RASA_PORT": str(rasa_port),
        "ACTIONS_PORT": str(free_port()),
        "WEB_PORT": str(free_port()),
        "TRACKER_RETENTION_MINUTES": str(RETENTION_MINUTES),
        "METRICS_PORT": str(two_free_ports()),  # each Rasa server's, the second after it
    }
    log_path = log_dir / "run-production.log"
    with log_path.open("w") as log:
        process = subprocess.Popen([sys.executable, "scripts/serve.py"], cwd=ROOT, env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 300
        while "The triage bot is running." not in log_path.read_text(errors="replace"):
            assert process.poll() is None, f"serve.py stopped: see {log_path}"
            assert time.monotonic() < deadline, f"not running after 300 s: see {log_path}"
            time.sleep(0.5)
        yield env, log_path
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert process.returncode == 0, f"serve.py did not stop cleanly: see {log_path}"


def test_typed_words_are_gone_after_the_retention_and_never_logged(
    production: tuple[dict[str, str], Path], postgres: Postgres
) -> None:
    env, log_path = production
    rasa_port = int(env["RASA_PORT"])
    for port in (rasa_port, rasa_port + 1):  # both Rasa servers run
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/webhooks/rest/", timeout=10) as r:
            assert r.status == 200

    # A conversation through the chat page, which passes its turns to both servers.
    page = f"http://localhost:{env['WEB_PORT']}"
    sid = _post(f"{page}/api/session", {})["id"]
    for message in MESSAGES:
        answer = _post(f"{page}/api/message", {"id": sid, "message": message})
        assert answer and all(reply.get("text") for reply in answer), message

    def stored() -> list[tuple[Any, ...]]:
        return postgres.query(
            "run_production",
            "SELECT type_name, intent_name, action_name, data FROM events WHERE sender_id = %s "
            "ORDER BY id", sid)

    # Stored while the conversation is going on (one row per message, with its text)...
    rows = stored()
    users = [json.loads(row[3]) for row in rows if row[0] == "user"]
    assert [user["text"] for user in users] == MESSAGES
    # ...and, once it has been idle for the retention, without any of it.
    deadline = time.monotonic() + RETENTION_MINUTES * 60 + 60
    while any(WORD in row[3] for row in rows):
        assert time.monotonic() < deadline, "the user's words are still stored"
        time.sleep(1)
        rows = stored()
    users = [json.loads(row[3]) for row in rows if row[0] == "user"]
    assert len(users) == len(MESSAGES)
    assert all(user["text"] is None and user["parse_data"]["text"] is None for user in users)
    # What was understood and done is still there, for counting.
    intents = [row[1] for row in rows if row[0] == "user"]
    assert all(intents) and intents[0] == "greet"
    assert "action_listen" in [row[2] for row in rows if row[0] == "action"]
    assert len([row for row in rows if row[0] == "bot"]) >= len(MESSAGES)

    # At the default log level the servers report the redaction, never the message: in
    # serve.py's output and in every log of the run's supervisor (one a server).
    run_dir = ROOT / "build" / "run" / env["RASA_PORT"]
    output = log_path.read_text(errors="replace") + "".join(
        path.read_text(errors="replace") for path in sorted(run_dir.glob("*.log")))
    assert "Redacted the stored user text of" in output
    assert WORD not in output


def test_each_server_counts_and_make_report_reads_production(
    production: tuple[dict[str, str], Path], tmp_path: Path
) -> None:
    """Issue 15: both Rasa servers serve their metrics, and make report's files come from the
    production database (DB_* as the servers have them), with nothing typed in them."""
    from scripts import report

    env, _ = production
    page = f"http://localhost:{env['WEB_PORT']}"
    sid = _post(f"{page}/api/session", {})["id"]
    for message in MESSAGES:  # the page passes the turns to each server in turn
        _post(f"{page}/api/message", {"id": sid, "message": message})
    for port in (int(env["METRICS_PORT"]), int(env["METRICS_PORT"]) + 1):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
            metrics = r.read().decode()
        assert "triage_answer_seconds_count" in metrics
        answered = [line for line in metrics.splitlines()
                    if line.startswith("triage_answer_seconds_count")]
        assert float(answered[0].split()[-1]) >= 1, port  # each answered a turn
        assert WORD not in metrics
    db = {name: env[name] for name in ("DB_HOST", "DB_PORT", "DB_NAME", "DB_USER",
                                       "DB_PASSWORD")}
    out = tmp_path / "report"
    with pytest.MonkeyPatch.context() as monkeypatch:
        for name, value in db.items():
            monkeypatch.setenv(name, value)
        assert report.main(["--out", str(out)]) == 0
    rows = (out / "counts.csv").read_text().splitlines()
    period = time.strftime("%Y-%m", time.gmtime())
    assert f"{period},conversations,all,withheld" in rows  # a handful: withheld
    for path in out.iterdir():
        assert WORD.encode() not in path.read_bytes()
        assert sid.encode() not in path.read_bytes()


def test_a_rasa_server_killed_the_page_uses_the_other_and_it_comes_back(
    production: tuple[dict[str, str], Path],
) -> None:
    env, _ = production
    rasa_port = int(env["RASA_PORT"])
    run_dir = ROOT / "build" / "run" / env["RASA_PORT"]
    name = f"rasa-{rasa_port + 1}"
    old = pid(run_dir, name)
    os.kill(old, signal.SIGKILL)
    page = f"http://localhost:{env['WEB_PORT']}"
    # Each turn goes to the next server in turn: half of them would have met the dead one.
    for number in range(6):
        sid = _post(f"{page}/api/session", {})["id"]
        started = time.monotonic()
        try:
            answer = _post(f"{page}/api/message", {"id": sid, "message": "he has a knife"})
        except urllib.error.HTTPError as error:
            pytest.fail(f"turn {number}, after {time.monotonic() - started:.1f} s: {error} "
                        f"{error.reason}")
        assert "Call 999 now" in " ".join(r.get("text", "") for r in answer), number
    assert wait_until(
        lambda: answers(f"http://127.0.0.1:{rasa_port + 1}/webhooks/rest/"), 240
    ), "the killed Rasa server did not come back"
    assert pid(run_dir, name) != old



def test_the_action_and_page_servers_killed_come_back_and_rasa_goes_on(
    production: tuple[dict[str, str], Path],
) -> None:
    env, _ = production
    run_dir = ROOT / "build" / "run" / env["RASA_PORT"]
    page = f"http://localhost:{env['WEB_PORT']}"

    rasa = [pid(run_dir, f"rasa-{int(env['RASA_PORT']) + n}") for n in (0, 1)]
    os.kill(pid(run_dir, "actions"), signal.SIGKILL)
    sid = _post(f"{page}/api/session", {})["id"]
    answer = _post(f"{page}/api/message", {"id": sid, "message": "he has a knife"})
    assert "Call 999 now" in " ".join(r.get("text", "") for r in answer)
    assert wait_until(lambda: answers(f"http://localhost:{env['ACTIONS_PORT']}/health"), 30)

    old_web = pid(run_dir, "web")
    os.kill(old_web, signal.SIGKILL)
    assert wait_until(lambda: answers(f"{page}/healthz"), 10, 0.2)
    assert pid(run_dir, "web") != old_web
    assert [pid(run_dir, f"rasa-{int(env['RASA_PORT']) + n}") for n in (0, 1)] == rasa
