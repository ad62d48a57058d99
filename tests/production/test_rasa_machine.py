"""deploy/supervisord-rasa.conf, the supervisor configuration of a Rasa machine
(docs/production.md), started as it is with the variables the docs say to export: two Rasa servers
on real PostgreSQL and Redis answer; one killed comes back by itself; stopping supervisord stops
both."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.serve import BIN, ROOT, answers
from scripts.services import Postgres, Redis, two_free_ports
from scripts.supervise import exits, info, pid, states, wait_until

pytestmark = pytest.mark.production

CONFIG = ROOT / "deploy" / "supervisord-rasa.conf"
RUN_DIR = ROOT / "build" / "supervisor-rasa"


@pytest.fixture(scope="module")
def machine(postgres: Postgres, redis_server: Redis) -> Iterator[list[int]]:
    port = two_free_ports()
    env = {
        **os.environ,
        **postgres.create_database("rasa_machine"),
        **redis_server.env,
        "TRACKER_RETENTION_MINUTES": "30",
        "ACTION_ENDPOINT_URL": "http://127.0.0.1:9/webhook",  # no action server: not needed
        "RASA_INTERFACE": "127.0.0.1",
        "RASA_PORT": str(port),
        "RASA_SERVERS": "2",
    }
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    for old in ("supervisord.log", "supervisor.sock"):  # this run's exits only
        (RUN_DIR / old).unlink(missing_ok=True)
    process = subprocess.Popen([str(BIN / "supervisord"), "-c", str(CONFIG)], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    ports = [port, port + 1]
    try:
        ready = wait_until(
            lambda: all(answers(f"http://127.0.0.1:{p}/webhooks/rest/") for p in ports), 240)
        assert ready, f"the Rasa servers did not start: see {RUN_DIR}/"
        yield ports
    finally:
        pids = [int(p["pid"]) for p in info(RUN_DIR) if p["pid"]]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=120) == 0
        for gone in pids:
            with pytest.raises(ProcessLookupError):
                os.kill(gone, 0)


def _danger(port: int) -> str:
    body = json.dumps({"sender": f"machine-{port}", "message": "he has a knife"}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/webhooks/rest/webhook", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return " ".join(reply.get("text", "") for reply in json.load(response))


def test_both_servers_of_the_machine_answer(machine: list[int]) -> None:
    for port in machine:
        assert "Call 999 now" in _danger(port)
    # The listener that starts again a server supervisord gave up on.
    assert states(RUN_DIR).get("revive") == "RUNNING"


def test_a_server_killed_comes_back_by_itself(machine: list[int]) -> None:
    name = f"rasa-{machine[1]}"
    old = pid(RUN_DIR, name)
    os.kill(old, signal.SIGKILL)
    assert "Call 999 now" in _danger(machine[0])  # the other answers meanwhile
    assert wait_until(lambda: answers(f"http://127.0.0.1:{machine[1]}/webhooks/rest/"), 240)
    assert "Call 999 now" in _danger(machine[1])
    assert exits(RUN_DIR)[name] == ["terminated by SIGKILL"]


def test_the_config_is_the_one_the_docs_show() -> None:
    docs = (ROOT / "docs" / "production.md").read_text(encoding="utf-8")
    assert "deploy/supervisord-rasa.conf" in docs
    assert "for port in" not in docs  # the unsupervised loop it replaces
    assert Path(CONFIG).read_text(encoding="utf-8").count("[program:") == 1
