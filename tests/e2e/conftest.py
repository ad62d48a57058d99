"""Starts the real action server and Rasa once for the end-to-end tests, on free ports."""

from __future__ import annotations

import json
import socket
import urllib.request
import uuid
from collections.abc import Iterator
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


@pytest.fixture(scope="session")
def servers() -> Iterator[BotServers]:
    if not DEFAULT_MODEL.exists():
        pytest.fail(f"no trained model at {DEFAULT_MODEL}: run `make train`")
    LOG.parent.mkdir(parents=True, exist_ok=True)
    with LOG.open("w") as log, BotServers(
        rasa_port=free_port(), actions_port=free_port(), log=log
    ) as bot:
        yield bot


@pytest.fixture
def chat(servers: BotServers) -> Chat:
    return Chat(servers.webhook_url)
