"""Starts the real action server and Rasa once for the end-to-end tests, on free ports."""

from __future__ import annotations

import json
import secrets
import socket
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from scripts import serve
from scripts.serve import DEFAULT_MODEL, BotServers
from scripts.supervise import Program

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


# --- What `make run` makes of its environment (scripts/serve.py main) ---------------------------

# Every variable main() reads; a test sets the ones it gives and unsets the others.
SETTINGS_VARIABLES = (
    "RASA_PORT", "ACTIONS_PORT", "WEB_PORT", "RASA_INTERFACE", "WEB_INTERFACE", "MODEL",
    "EXIT_URL", "RASA_ENABLE_API", "RASA_API_TOKEN", "RASA_CORS", "ENDPOINTS", "RASA_SERVERS",
)


class _WouldStart(Exception):
    def __init__(self, programs: list[Program]) -> None:
        super().__init__("supervisord would start now")
        self.programs = programs


@dataclass
class Settings:
    """What scripts/serve.py's main() built from the environment, up to starting supervisord."""

    servers: BotServers
    programs: list[Program]

    def args(self, name_start: str) -> list[str]:
        """The command line of the (first) program whose name starts with name_start."""
        return [list(p.args) for p in self.programs if p.name.startswith(name_start)][0]


def settings_from_env(
    monkeypatch: pytest.MonkeyPatch, env: Mapping[str, str], workdir: Path
) -> Settings:
    """Runs `make run`'s own scripts/serve.py main() with `env` as its settings (the other
    settings variables unset) until it would start supervisord, and returns what it built.
    A setting it refuses raises its SystemExit. Nothing is started; files go to workdir."""
    for name in SETTINGS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    built: list[BotServers] = []

    class Recorded(BotServers):
        def __init__(self, **options: Any) -> None:
            super().__init__(**options, workdir=workdir)
            built.append(self)

    def would_start(programs: list[Program], _run_dir: Path) -> None:
        raise _WouldStart(programs)

    monkeypatch.setattr(serve, "BotServers", Recorded)
    monkeypatch.setattr(serve, "Supervisor", would_start)
    try:
        serve.main()
    except _WouldStart as started:
        return Settings(built[0], started.programs)
    raise AssertionError("scripts/serve.py main() went past starting supervisord")


# --- Rasa with its HTTP API on, as RASA_ENABLE_API=1 RASA_API_TOKEN=... RASA_CORS=... give ----

ALLOWED_ORIGIN = "https://chat.example.org"


@dataclass
class ApiRasa:
    bot: BotServers
    token: str  # the RASA_API_TOKEN it was started with

    def get(self, path: str, token: str | None = None) -> Any:
        url = f"{self.bot.rasa_url}{path}?token={self.token if token is None else token}"
        with urllib.request.urlopen(url, timeout=30) as response:
            return json.load(response)

    def post(self, path: str, body: Any) -> Any:
        request = urllib.request.Request(
            f"{self.bot.rasa_url}{path}?token={self.token}", data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)

    def tracker(self, sender: str) -> dict[str, Any]:
        tracker: dict[str, Any] = self.get(f"/conversations/{sender}/tracker")
        return tracker

    def user_texts(self, sender: str) -> list[str]:
        """What Rasa stored (and its NLU was given) of each message of the conversation."""
        return [e["text"] for e in self.tracker(sender)["events"] if e["event"] == "user"]


@pytest.fixture(scope="session")
def servers_with_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiRasa]:
    """Rasa (without its action server) started with the API token and CORS origins that
    scripts/serve.py reads from RASA_ENABLE_API=1, RASA_API_TOKEN and RASA_CORS."""
    token = secrets.token_urlsafe(24)
    with pytest.MonkeyPatch.context() as monkeypatch:
        settings = settings_from_env(
            monkeypatch,
            {"RASA_ENABLE_API": "1", "RASA_API_TOKEN": token, "RASA_CORS": ALLOWED_ORIGIN},
            tmp_path_factory.mktemp("serve"),
        )
    with rasa_alone("e2e-servers-api.log", api_token=settings.servers.api_token,
                    cors_origins=settings.servers.cors_origins) as bot:
        yield ApiRasa(bot, token)
