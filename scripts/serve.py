"""Start the action server, Rasa and the website chat, wait until they answer, print the URLs,
and stop them all on Ctrl-C or SIGTERM. `make run` uses it, and so do the end-to-end and web tests.

Environment: RASA_PORT (5005), ACTIONS_PORT (5055), RASA_INTERFACE (127.0.0.1), MODEL,
WEB_PORT (8080; the chat page, served on RASA_INTERFACE too), EXIT_URL (where quick exit goes),
RASA_ENABLE_API (off; "1" turns on Rasa's HTTP API, and then RASA_API_TOKEN is required),
RASA_CORS (no CORS; a space-separated allow-list of origins that may call Rasa from a browser).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import FrameType
from typing import IO

if __package__ in (None, ""):  # run as a script: make `scripts` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.web import embed_snippet  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DEFAULT_MODEL = ROOT / "models" / "triage.tar.gz"
READY_TIMEOUT = 180.0


def _server_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("RASA_TELEMETRY_ENABLED", "false")  # no telemetry or crash reports leave
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    # Sanic reads SANIC_* settings: bodies over 1 MiB are refused (413) before they are read in
    # full; the REST channel refuses anything over its own, smaller limit too.
    env.setdefault("SANIC_REQUEST_MAX_SIZE", str(1024 * 1024))
    return env


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


class BotServers:
    """The action server and the Rasa server, as child processes."""

    def __init__(
        self,
        rasa_port: int = 5005,
        actions_port: int = 5055,
        interface: str = "127.0.0.1",
        model: Path = DEFAULT_MODEL,
        log: IO[str] | None = None,
        workdir: Path = ROOT / "build",
        web_port: int | None = None,
        exit_url: str | None = None,
        api_token: str | None = None,
        cors_origins: list[str] | None = None,
    ) -> None:
        """api_token: turns on Rasa's HTTP API (off otherwise), which then needs this token.
        cors_origins: the browser origins allowed to call Rasa (none otherwise)."""
        self.rasa_port = rasa_port
        self.actions_port = actions_port
        self.interface = interface
        self.model = model
        self.log = log
        self.workdir = workdir
        self.web_port = web_port
        self.exit_url = exit_url
        self.api_token = api_token
        self.cors_origins = list(cors_origins or [])
        self.processes: list[subprocess.Popen[bytes]] = []
        self.ready_urls: set[str] = set()

    @property
    def rasa_url(self) -> str:
        return f"http://localhost:{self.rasa_port}"

    @property
    def webhook_url(self) -> str:
        return f"{self.rasa_url}/webhooks/rest/webhook"

    @property
    def web_url(self) -> str:
        """The chat page (only when started with a web_port)."""
        return f"http://localhost:{self.web_port}/"

    @property
    def actions_url(self) -> str:
        return f"http://localhost:{self.actions_port}"

    def _endpoints_file(self) -> Path:
        """endpoints.yml with the action server's port, so any port can be used."""
        text = (ROOT / "endpoints.yml").read_text(encoding="utf-8")
        text = text.replace("localhost:5055", f"localhost:{self.actions_port}")
        self.workdir.mkdir(parents=True, exist_ok=True)
        path = self.workdir / f"endpoints.{self.rasa_port}.yml"
        path.write_text(text, encoding="utf-8")
        return path

    def _spawn(self, args: list[str], env: dict[str, str]) -> None:
        out = self.log if self.log is not None else None
        self.processes.append(
            subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        )

    def start_actions(self) -> None:
        env = _server_env()
        env["SANIC_HOST"] = "127.0.0.1"  # the action server is never exposed
        self._spawn(
            [str(BIN / "rasa"), "run", "actions", "--actions", "actions",
             "--port", str(self.actions_port)],
            env,
        )
        self.ready_urls.add(f"{self.actions_url}/health")

    def start_rasa(self) -> None:
        if not self.model.exists():
            raise SystemExit(f"No trained model at {self.model}: run `make train` first.")
        self._spawn(
            [str(BIN / "rasa"), "run", "--model", str(self.model),
             "--port", str(self.rasa_port), "--interface", self.interface,
             "--endpoints", str(self._endpoints_file()),
             "--credentials", str(ROOT / "credentials.yml"), *self._rasa_hardening_args()],
            _server_env(),
        )
        self.ready_urls.add(f"{self.rasa_url}/webhooks/rest/")

    def _rasa_hardening_args(self) -> list[str]:
        """Rasa's HTTP API (models, trackers) stays off unless a token is given; CORS headers
        only for the listed origins. The REST channel itself is public: see addons/channel.py."""
        args: list[str] = []
        if self.api_token is not None:
            if len(self.api_token) < 16:
                raise SystemExit("RASA_API_TOKEN must be at least 16 characters.")
            args += ["--enable-api", "--auth-token", self.api_token]
        if self.cors_origins:
            args += ["--cors", *self.cors_origins]
        return args

    def start_web(self) -> None:
        """The chat page server, which proxies messages to this Rasa's webhook."""
        if self.web_port is None:
            raise ValueError("no web_port")
        env = _server_env()
        env["WEB_PORT"] = str(self.web_port)
        env["WEB_INTERFACE"] = self.interface
        env["RASA_WEBHOOK"] = self.webhook_url
        if self.exit_url is not None:
            env["EXIT_URL"] = self.exit_url
        self._spawn([str(BIN / "python"), str(ROOT / "scripts" / "web.py")], env)
        self.ready_urls.add(f"{self.web_url}healthz")

    def start(self) -> None:
        self.start_actions()
        self.start_rasa()
        if self.web_port is not None:
            self.start_web()
        self.wait_ready()

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        pending = set(self.ready_urls)
        while pending:
            if any(p.poll() is not None for p in self.processes):
                self.stop()
                raise RuntimeError("a server exited while starting; see its log above")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"servers not ready after {timeout:.0f} s: {sorted(pending)}")
            pending = {url for url in pending if not _answers(url)}
            time.sleep(0.5)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()
        self.ready_urls.clear()

    def __enter__(self) -> BotServers:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def api_token_from_env() -> str | None:
    """The API token when RASA_ENABLE_API asks for the API; the API never runs without one."""
    if os.environ.get("RASA_ENABLE_API", "") not in ("1", "true", "yes"):
        return None
    token = os.environ.get("RASA_API_TOKEN", "")
    if not token:
        raise SystemExit("RASA_ENABLE_API is set but RASA_API_TOKEN is empty: the API would be "
                         "open to anyone. Set a long random RASA_API_TOKEN.")
    return token


def main() -> None:
    servers = BotServers(
        rasa_port=int(os.environ.get("RASA_PORT", "5005")),
        actions_port=int(os.environ.get("ACTIONS_PORT", "5055")),
        interface=os.environ.get("RASA_INTERFACE", "127.0.0.1"),
        model=Path(os.environ.get("MODEL", str(DEFAULT_MODEL))),
        web_port=int(os.environ.get("WEB_PORT", "8080")),
        exit_url=os.environ.get("EXIT_URL"),
        api_token=api_token_from_env(),
        cors_origins=os.environ.get("RASA_CORS", "").split(),
    )

    def shut_down(signum: int, _frame: FrameType | None) -> None:
        print(f"\nStopping (signal {signum})...", flush=True)
        servers.stop()
        sys.exit(0)

    signal.signal(signal.SIGINT, shut_down)
    signal.signal(signal.SIGTERM, shut_down)
    print("Starting the action server, Rasa and the chat page (the model takes a few seconds "
          "to load)...",
          flush=True)
    servers.start()
    print(
        "\nThe triage bot is running.\n"
        f"  Chat page:     {servers.web_url}\n"
        f"  Embed snippet: {embed_snippet(servers.web_url)}\n"
        f"  REST webhook:  {servers.webhook_url}\n"
        f"  Action server: {servers.actions_url} (loopback only)\n"
        "Try:\n"
        f"  curl -s -X POST {servers.webhook_url} -H 'Content-Type: application/json' \\\n"
        "       -d '{\"sender\": \"try-1\", \"message\": \"hello\"}'\n"
        "Press Ctrl-C to stop.",
        flush=True,
    )
    while all(p.poll() is None for p in servers.processes):
        time.sleep(1)
    print("A server stopped unexpectedly; stopping the others.", file=sys.stderr)
    servers.stop()
    sys.exit(1)


if __name__ == "__main__":
    main()
