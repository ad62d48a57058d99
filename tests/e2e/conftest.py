"""Starts the real action server and Rasa once for the end-to-end tests, on free ports."""

from __future__ import annotations

import json
import socket
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from scripts.serve import DEFAULT_MODEL, BotServers

LOG = Path(__file__).resolve().parents[2] / "build" / "e2e-servers.log"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Chat:
    """One conversation over the REST webhook, with a fresh sender id."""

    def __init__(self, webhook: str) -> None:
        self.webhook = webhook
        self.sender = str(uuid.uuid4())
        self.transcript: list[str] = []

    def say(self, message: str) -> list[dict[str, Any]]:
        body = json.dumps({"sender": self.sender, "message": message}).encode()
        request = urllib.request.Request(
            self.webhook, data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            replies: list[dict[str, Any]] = json.load(response)
        self.transcript.append(f"user: {message}")
        self.transcript += [f"bot:  {r.get('text', '')}" for r in replies]
        return replies

    def texts(self, message: str) -> list[str]:
        return [reply.get("text", "") for reply in self.say(message)]


def require_model() -> None:
    if not DEFAULT_MODEL.exists():
        pytest.fail(f"no trained model at {DEFAULT_MODEL}: run `make train`")
    LOG.parent.mkdir(parents=True, exist_ok=True)


@contextmanager
def rasa_alone(log_name: str, **options: Any) -> Iterator[BotServers]:
    """A Rasa server without its action server: the action endpoint is a free port where nothing
    listens. `options` go to BotServers (api_token, cors_origins...)."""
    require_model()
    with LOG.with_name(log_name).open("w") as log:
        bot = BotServers(rasa_port=free_port(), actions_port=free_port(), log=log, **options)
        try:
            bot.start_rasa()
            bot.wait_ready()
            yield bot
        finally:
            bot.stop()


@pytest.fixture(scope="session")
def servers() -> Iterator[BotServers]:
    require_model()
    with LOG.open("w") as log, BotServers(
        rasa_port=free_port(), actions_port=free_port(), log=log
    ) as bot:
        yield bot


@pytest.fixture(scope="session")
def servers_without_actions() -> Iterator[BotServers]:
    """Rasa alone: its action endpoint is a free port where nothing listens."""
    with rasa_alone("e2e-servers-no-actions.log") as bot:
        yield bot


@pytest.fixture
def chat(servers: BotServers) -> Chat:
    return Chat(servers.webhook_url)
