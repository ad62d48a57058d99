"""`make run`'s command (scripts/serve.py) under supervisord: SIGKILL each kind of server in turn.
The others keep answering (a danger message gets 999 throughout), and the one killed is back by
itself; a crash loop backs off; a stop leaves no process behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scripts.serve import ROOT, answers
from scripts.supervise import (
    LOG_NAME,
    Program,
    Supervisor,
    exits,
    info,
    pid,
    states,
    wait_until,
)
from tests.e2e.conftest import free_port, require_model

pytestmark = pytest.mark.e2e

DANGER = "he has a knife and is outside my door"


class Run:
    """The running `make run`: its ports, its supervisor's folder, its output."""

    def __init__(self, process: subprocess.Popen[bytes], env: dict[str, str], log: Path) -> None:
        self.process = process
        self.rasa_port = int(env["RASA_PORT"])
        self.actions_port = int(env["ACTIONS_PORT"])
        self.web_port = int(env["WEB_PORT"])
        self.metrics_port = int(env["METRICS_PORT"])
        self.run_dir = ROOT / "build" / "run" / env["RASA_PORT"]
        self.log = log

    def pid(self, name: str) -> int:
        return pid(self.run_dir, name)

    def pids(self) -> list[int]:
        return [int(p["pid"]) for p in info(self.run_dir) if p["pid"]]

    def say(self, message: str, sender: str = "supervision") -> list[dict[str, Any]]:
        body = json.dumps({"sender": sender, "message": message}).encode()
        request = urllib.request.Request(
            f"http://localhost:{self.rasa_port}/webhooks/rest/webhook", data=body,
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            replies: list[dict[str, Any]] = json.load(response)
        return replies


def page(run: Run) -> str:
    with urllib.request.urlopen(f"http://localhost:{run.web_port}/", timeout=5) as response:
        return str(response.read().decode("utf-8"))


@pytest.fixture(scope="module")
def run() -> Iterator[Run]:
    require_model()
    env = {**os.environ, "RASA_PORT": str(free_port()), "ACTIONS_PORT": str(free_port()),
           "WEB_PORT": str(free_port()), "METRICS_PORT": str(free_port())}
    log = ROOT / "build" / "e2e-make-run.log"
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, "scripts/serve.py"], cwd=ROOT, env=env,
                                   stdout=out, stderr=subprocess.STDOUT)
    started = Run(process, env, log)
    try:
        assert wait_until(lambda: "The triage bot is running." in log.read_text(), 240), (
            f"make run did not start: see {log}")
        yield started
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # Ctrl-C
            process.wait(timeout=120)


def test_make_run_counts_into_its_run_folder_and_make_report_reads_it(
    run: Run, tmp_path: Path
) -> None:
    """Issue 15: make run's counts file (build/run/<RASA_PORT>/counts.sqlite, where make
    report looks) and its metrics port, printed at start."""
    from addons import counts
    from scripts import report

    db = run.run_dir / "counts.sqlite"
    assert str(db) in run.log.read_text()
    assert f"http://127.0.0.1:{run.metrics_port}/metrics" in run.log.read_text()
    for sender in ("counts-1", "counts-2"):
        run.say("/report_other", sender)
        run.say("/deny", sender)

    def counted() -> int:
        engine = counts.sqlite_engine(str(db))
        counts.roll_up(engine)
        return sum(n for _, metric, key, n in counts.read_daily_counts(engine)
                   if (metric, key) == ("route", "someone_else"))

    assert wait_until(lambda: counted() == 2, 30)  # written every 2 s
    out = tmp_path / "report"
    assert report.main(["--counts-db", str(db), "--out", str(out)]) == 0
    period = time.strftime("%Y-%m", time.gmtime())
    assert f"{period},route,someone_else,withheld" in (out / "counts.csv").read_text()
    with urllib.request.urlopen(f"http://127.0.0.1:{run.metrics_port}/metrics") as response:
        lines = response.read().decode().splitlines()
    # Two conversations, though the triage form sets the slot again in each.
    assert 'triage_counted_total{key="someone_else",metric="route"} 2.0' in lines


def test_the_action_server_killed_rasa_still_gives_999_and_the_lists_come_back(run: Run) -> None:
    old = run.pid("actions")
    os.kill(old, signal.SIGKILL)
    texts = " ".join(r.get("text", "") for r in run.say(DANGER, "actions-down"))
    assert "Call 999 now" in texts
    back = wait_until(lambda: answers(f"http://localhost:{run.actions_port}/health"), 30)
    assert back and run.pid("actions") != old
    run.say("/ask_resources", "actions-back")
    texts = " ".join(r.get("text", "") for r in run.say("/resource_legal", "actions-back"))
    assert "atleu.org.uk" in texts


def test_rasa_killed_the_page_still_shows_999_and_rasa_comes_back(run: Run) -> None:
    old = run.pid(f"rasa-{run.rasa_port}")
    web = run.pid("web")
    os.kill(old, signal.SIGKILL)
    assert not answers(f"http://localhost:{run.rasa_port}/webhooks/rest/")
    html = page(run)
    assert "999" in html and "08000 121 700" in html
    back = wait_until(lambda: answers(f"http://localhost:{run.rasa_port}/webhooks/rest/"), 180)
    assert back and run.pid(f"rasa-{run.rasa_port}") != old
    assert "Call 999 now" in " ".join(r.get("text", "") for r in run.say(DANGER, "rasa-back"))
    assert run.pid("web") == web


def test_the_page_server_killed_is_back_within_10_s_and_rasa_is_untouched(run: Run) -> None:
    rasa = run.pid(f"rasa-{run.rasa_port}")
    old = run.pid("web")
    os.kill(old, signal.SIGKILL)
    assert wait_until(lambda: answers(f"http://localhost:{run.web_port}/healthz"), 10, 0.2)
    assert run.pid("web") != old
    assert run.pid(f"rasa-{run.rasa_port}") == rasa
    assert "Call 999 now" in " ".join(r.get("text", "") for r in run.say(DANGER, "web-back"))


def test_the_log_says_which_server_exited_and_how_never_what_was_said(run: Run) -> None:
    ended = exits(run.run_dir)
    for name in ("actions", f"rasa-{run.rasa_port}", "web"):
        assert ended.get(name) == ["terminated by SIGKILL"], ended
    logs = " ".join(path.read_text(errors="replace") for path in run.run_dir.glob("*.log"))
    assert "knife" not in logs


def test_make_status_shows_each_server_its_pid_and_restarts(run: Run) -> None:
    shown = subprocess.run(
        [sys.executable, "scripts/supervise.py", "status", str(run.run_dir)], cwd=ROOT,
        capture_output=True, text=True, check=True).stdout
    for name in ("actions", f"rasa-{run.rasa_port}", "web"):
        line = next(line for line in shown.splitlines() if line.startswith(name))
        # STARTING: up, not yet for the program's startsecs (30 s for Rasa).
        assert ("RUNNING" in line or "STARTING" in line) and str(run.pid(name)) in line
        assert "terminated by SIGKILL" in line


def test_ctrl_c_leaves_no_process_behind(run: Run) -> None:
    pids = run.pids()
    run.process.send_signal(signal.SIGINT)
    assert run.process.wait(timeout=120) == 0
    for gone in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(gone, 0)


def test_a_server_that_keeps_crashing_is_retried_with_growing_waits(tmp_path: Path) -> None:
    crash = Program("crashing", [sys.executable, "-c", "import sys; sys.exit(3)"], startsecs=2)
    supervisor = Supervisor([crash], tmp_path)
    supervisor.start()
    try:
        assert wait_until(lambda: len(exits(tmp_path).get("crashing", [])) >= 5, 45)
    finally:
        supervisor.stop()
    log = (tmp_path / LOG_NAME).read_text()
    spawned = [line[:23] for line in log.splitlines() if "spawned: 'crashing'" in line]
    times = [time.mktime(time.strptime(t[:19], "%Y-%m-%d %H:%M:%S")) + int(t[20:]) / 1000
             for t in spawned]
    waits = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
    # 1 s, 2 s, 3 s, 4 s... (give or take supervisord's 1 s tick): not a tight loop.
    assert len(waits) >= 4 and waits[3] > waits[0] + 1, waits
    assert exits(tmp_path)["crashing"][0] == "exit status 3"


def test_a_server_supervisord_gave_up_on_is_started_again_after_a_pause(
        tmp_path: Path) -> None:
    # Fails its first three starts (its database is down, say), then stays up. supervisord
    # gives up after two (startretries=1: FATAL); scripts/revive.py starts it again.
    starts = tmp_path / "starts"
    code = (f"import pathlib, sys, time; p = pathlib.Path({str(starts)!r}); "
            "n = len(p.read_text()) if p.exists() else 0; p.write_text('x' * (n + 1)); "
            "sys.exit(3) if n < 3 else time.sleep(600)")
    flaky = Program("flaky", [sys.executable, "-c", code], startsecs=1, startretries=1)
    supervisor = Supervisor([flaky], tmp_path, revive_after=5)
    supervisor.start()
    try:
        assert wait_until(lambda: states(tmp_path).get("flaky") == "FATAL", 30)
        gave_up = time.monotonic()
        assert wait_until(lambda: states(tmp_path).get("flaky") == "RUNNING", 60)
        # Not at once: after the pause (5 s here, give or take supervisord's 5 s tick).
        assert time.monotonic() - gave_up >= 4
    finally:
        supervisor.stop()
    assert len(starts.read_text()) >= 4
    assert "started flaky:flaky again after 5 s in FATAL" in (tmp_path / "revive.log").read_text()


def test_a_supervisor_left_over_from_a_killed_run_is_stopped_first(tmp_path: Path) -> None:
    sleeper = Program("sleeper", [sys.executable, "-c", "import time; time.sleep(600)"])
    first = Supervisor([sleeper], tmp_path)
    first.start()
    assert wait_until(lambda: states(tmp_path).get("sleeper") == "RUNNING", 30)
    old = pid(tmp_path, "sleeper")
    second = Supervisor([sleeper], tmp_path)  # serve.py killed, then started again
    try:
        second.start()
        assert first.process is not None and first.process.wait(timeout=60) == 0
        with pytest.raises(ProcessLookupError):
            os.kill(old, 0)
        assert wait_until(lambda: states(tmp_path).get("sleeper") == "RUNNING", 30)
    finally:
        second.stop()
