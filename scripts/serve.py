"""Start the action server, Rasa and the website chat, wait until they answer, print the URLs,
and stop them all on Ctrl-C or SIGTERM. `make run` uses it, and so do the end-to-end and web tests.

Environment: RASA_PORT (5005), ACTIONS_PORT (5055), RASA_INTERFACE (127.0.0.1), MODEL,
WEB_PORT (8080; the chat page, served on RASA_INTERFACE too), EXIT_URL (where quick exit goes),
RASA_ENABLE_API (off; "1" turns on Rasa's HTTP API, and then RASA_API_TOKEN is required),
RASA_CORS (no CORS; a space-separated allow-list of origins that may call Rasa from a browser).

Production (docs/production.md): ENDPOINTS=endpoints.production.yml (`make run-production`)
uses PostgreSQL and Redis named by the DB_* and REDIS_* variables; RASA_SERVERS (1) Rasa servers
listen on RASA_PORT and the ports after it, and the chat page passes messages to each in turn.
WEB_INTERFACE (RASA_INTERFACE) is where the chat page listens: the only port to expose.

Counts (docs/operations.md): each Rasa server serves its metrics on 127.0.0.1:METRICS_PORT (9005
for the first, 9006 for the next...); `make run` counts into COUNTS_DB
(build/run/<RASA_PORT>/counts.sqlite), which `make report` reads.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import IO

if __package__ in (None, ""):  # run as a script: make `scripts` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.supervise import Program, Supervisor, states  # noqa: E402
from scripts.web import Limits, embed_snippet  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DEFAULT_MODEL = ROOT / "models" / "triage.tar.gz"
# `rasa` without jax (scripts/rasa_cli.py): about 80 MB less per server process.
RASA_CLI = [str(BIN / "python"), str(ROOT / "scripts" / "rasa_cli.py")]
DEFAULT_ENDPOINTS = ROOT / "endpoints.yml"
# Filled in when unset, for endpoint files that use them (endpoints.production.yml); Rasa
# refuses to start when a ${VAR} of its endpoint file is unset.
PRODUCTION_DEFAULTS = {
    "DB_PORT": "5432",
    "DB_NAME": "triage",
    "REDIS_PORT": "6379",
    "REDIS_DB": "1",
    "REDIS_PASSWORD": "",
    "TRACKER_RETENTION_MINUTES": "30",
}
DEFAULT_METRICS_PORT = 9005
READY_TIMEOUT = 180.0
RESPONSE_TIMEOUT = 25  # seconds; less than scripts/web.py's RASA_TIMEOUT_SECONDS


def _server_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("RASA_TELEMETRY_ENABLED", "false")  # no telemetry or crash reports leave
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    # Sanic reads SANIC_* settings: bodies over 1 MiB are refused (413) before they are read in
    # full; the REST channel refuses anything over its own, smaller limit too.
    env.setdefault("SANIC_REQUEST_MAX_SIZE", str(1024 * 1024))
    # A message is never handled twice: Rasa gives up on a turn (and stores none of it) after
    # SANIC_RESPONSE_TIMEOUT, before the chat page gives up (30 s) and the user sends it again;
    # a turn cut off with its server holds the conversation's lock for TICKET_LOCK_LIFETIME
    # only, so the next turn still runs within that time (Rasa's defaults: 60 s and 60 s).
    env.setdefault("SANIC_RESPONSE_TIMEOUT", str(RESPONSE_TIMEOUT))
    env.setdefault("TICKET_LOCK_LIFETIME", "20")
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answers(url: str) -> bool:
    """Whether the URL answers 200 within 2 s (a health check)."""
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
        endpoints: Path = DEFAULT_ENDPOINTS,
        rasa_ports: Sequence[int] = (),
        env: Mapping[str, str] | None = None,
        web_interface: str | None = None,
        metrics_port: int | None = None,
        counts_db: Path | None = None,
    ) -> None:
        """api_token: turns on Rasa's HTTP API (off otherwise), which then needs this token.
        cors_origins: the browser origins allowed to call Rasa (none otherwise).
        endpoints: Rasa's endpoints file; rasa_ports: more Rasa servers besides rasa_port
        (they need shared stores: endpoints.production.yml); env: extra environment for the
        servers (DB_*, REDIS_*); web_interface: where the chat page listens (interface).
        metrics_port: the first Rasa server's metrics port, the next ones after it (free
        ports when None); counts_db: make run's counts file (build/run/<rasa_port>/)."""
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
        self.endpoints = endpoints
        self.rasa_ports = [rasa_port, *[p for p in rasa_ports if p != rasa_port]]
        self.env = dict(env or {})
        self.web_interface = web_interface or interface
        self.metrics_ports = {
            port: metrics_port + i if metrics_port is not None else _free_port()
            for i, port in enumerate(self.rasa_ports)}
        self.counts_db = counts_db or workdir / "run" / str(rasa_port) / "counts.sqlite"
        self.rasa_processes: dict[int, subprocess.Popen[bytes]] = {}
        self.processes: list[subprocess.Popen[bytes]] = []
        self.ready_urls: set[str] = set()

    @property
    def rasa_url(self) -> str:
        return f"http://localhost:{self.rasa_port}"

    @property
    def webhook_url(self) -> str:
        return f"{self.rasa_url}/webhooks/rest/webhook"

    @property
    def webhook_urls(self) -> list[str]:
        """The REST webhook of every Rasa server."""
        return [f"http://localhost:{port}/webhooks/rest/webhook" for port in self.rasa_ports]

    @property
    def web_url(self) -> str:
        """The chat page (only when started with a web_port)."""
        return f"http://localhost:{self.web_port}/"

    @property
    def actions_url(self) -> str:
        return f"http://localhost:{self.actions_port}"

    def _endpoints_file(self, rasa_port: int) -> Path:
        """The endpoints file with the action server's port, so any port can be used."""
        text = self.endpoints.read_text(encoding="utf-8")
        text = text.replace("localhost:5055", f"localhost:{self.actions_port}")
        self.workdir.mkdir(parents=True, exist_ok=True)
        path = self.workdir / f"endpoints.{rasa_port}.yml"
        path.write_text(text, encoding="utf-8")
        return path

    def _env(self) -> dict[str, str]:
        env = _server_env()
        env.update(self.env)
        for name, value in PRODUCTION_DEFAULTS.items():
            env.setdefault(name, value)
        # endpoints.production.yml's action server: this one, unless another is named.
        env.setdefault("ACTION_ENDPOINT_URL", f"http://localhost:{self.actions_port}/webhook")
        return env

    def _spawn(self, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        out = self.log if self.log is not None else None
        process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        self.processes.append(process)
        return process

    def actions_program(self) -> Program:
        env = self._env()
        env["SANIC_HOST"] = "127.0.0.1"  # the action server is never exposed
        return Program(
            "actions",
            [*RASA_CLI, "run", "actions", "--actions", "actions",
             "--port", str(self.actions_port)],
            env, startsecs=10,
        )

    def start_actions(self) -> None:
        program = self.actions_program()
        self._spawn(list(program.args), dict(program.env))
        self.ready_urls.add(f"{self.actions_url}/health")

    def rasa_program(self, port: int) -> Program:
        if not self.model.exists():
            raise SystemExit(f"No trained model at {self.model}: run `make train` first.")
        env = self._env()
        env["METRICS_PORT"] = str(self.metrics_ports[port])
        env["COUNTS_DB"] = str(self.counts_db)
        return Program(
            f"rasa-{port}",
            [*RASA_CLI, "run", "--model", str(self.model),
             "--port", str(port), "--interface", self.interface,
             "--endpoints", str(self._endpoints_file(port)),
             "--credentials", str(ROOT / "credentials.yml"),
             "--response-timeout", str(RESPONSE_TIMEOUT),  # with the API; SANIC_... without
             *self._rasa_hardening_args()],
            env, startsecs=30,
        )

    def start_rasa(self, port: int | None = None) -> None:
        """Starts the Rasa server on `port` (rasa_port by default)."""
        port = self.rasa_port if port is None else port
        program = self.rasa_program(port)
        self.rasa_processes[port] = self._spawn(list(program.args), dict(program.env))
        self.ready_urls.add(f"http://localhost:{port}/webhooks/rest/")

    def stop_rasa(self, port: int) -> None:
        """Stops one Rasa server as SIGTERM does (Sanic finishes the requests under way)."""
        process = self.rasa_processes.pop(port)
        self.ready_urls.discard(f"http://localhost:{port}/webhooks/rest/")
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        self.processes.remove(process)

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

    def web_program(self) -> Program:
        """The chat page server, which proxies messages to the Rasa servers' webhooks."""
        if self.web_port is None:
            raise ValueError("no web_port")
        env = self._env()
        env["WEB_PORT"] = str(self.web_port)
        env["WEB_INTERFACE"] = self.web_interface
        env["RASA_WEBHOOK"] = ",".join(self.webhook_urls)
        if self.exit_url is not None:
            env["EXIT_URL"] = self.exit_url
        return Program("web", [str(BIN / "python"), str(ROOT / "scripts" / "web.py")], env,
                       startsecs=3)

    def start_web(self) -> None:
        program = self.web_program()
        self._spawn(list(program.args), dict(program.env))
        self.ready_urls.add(f"{self.web_url}healthz")

    def programs(self) -> list[Program]:
        """Every server, for supervisord (`make run`): the action server, the Rasa servers and
        the chat page server."""
        programs = [self.actions_program(), *(self.rasa_program(p) for p in self.rasa_ports)]
        return programs + ([self.web_program()] if self.web_port is not None else [])

    def health_urls(self) -> list[str]:
        """What answers once every server is ready."""
        urls = [f"{self.actions_url}/health"]
        urls += [f"http://localhost:{port}/webhooks/rest/" for port in self.rasa_ports]
        return urls + ([f"{self.web_url}healthz"] if self.web_port is not None else [])

    def start(self) -> None:
        self.start_actions()
        for port in self.rasa_ports:
            self.start_rasa(port)
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
            pending = {url for url in pending if not answers(url)}
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
        self.rasa_processes.clear()
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


def endpoints_environment(endpoints: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """The variables the endpoints file uses (${VAR}), with PRODUCTION_DEFAULTS for unset
    optional ones; stops with the names of the required ones that are unset."""
    lines = endpoints.read_text(encoding="utf-8").splitlines()
    text = "\n".join(line.split("#", 1)[0] for line in lines)  # not the comments
    names = sorted(set(re.findall(r"\$\{(\w+)\}", text)))
    known = {**PRODUCTION_DEFAULTS, **environ}
    # ACTION_ENDPOINT_URL: BotServers names its own action server when it is unset.
    missing = [n for n in names if n not in known and n != "ACTION_ENDPOINT_URL"]
    if missing:
        raise SystemExit(f"{endpoints.name} needs these environment variables: "
                         f"{', '.join(missing)} (see docs/production.md).")
    return {n: known[n] for n in names if n in known}


def check_reachable(env: Mapping[str, str]) -> None:
    """Stops at once with a clear message when PostgreSQL or Redis does not answer (Rasa
    itself would wait for the database for ever)."""
    for what, host_var, port_var in (("PostgreSQL", "DB_HOST", "DB_PORT"),
                                     ("Redis", "REDIS_HOST", "REDIS_PORT")):
        host, port = env.get(host_var), env.get(port_var)
        if not host or not port or "://" in host:
            continue
        try:
            socket.create_connection((host, int(port)), timeout=5).close()
        except OSError as error:
            raise SystemExit(f"{what} at {host}:{port} ({host_var}, {port_var}) cannot be "
                             f"reached: {error}") from None


def main() -> None:
    endpoints = Path(os.environ.get("ENDPOINTS", str(DEFAULT_ENDPOINTS)))
    if not endpoints.is_absolute():
        endpoints = ROOT / endpoints
    env = endpoints_environment(endpoints, os.environ)
    check_reachable(env)
    try:  # a bad LIMIT_* is named now, not by a page server failing under supervisord
        Limits.from_env(os.environ)
    except ValueError as error:
        raise SystemExit(f"{error}") from error
    rasa_port = int(os.environ.get("RASA_PORT", "5005"))
    rasa_servers = int(os.environ.get("RASA_SERVERS", "1"))
    if rasa_servers > 1 and endpoints == DEFAULT_ENDPOINTS:
        raise SystemExit("RASA_SERVERS above 1 needs shared stores: "
                         "ENDPOINTS=endpoints.production.yml (make run-production).")
    servers = BotServers(
        rasa_port=rasa_port,
        actions_port=int(os.environ.get("ACTIONS_PORT", "5055")),
        interface=os.environ.get("RASA_INTERFACE", "127.0.0.1"),
        model=Path(os.environ.get("MODEL", str(DEFAULT_MODEL))),
        web_port=int(os.environ.get("WEB_PORT", "8080")),
        exit_url=os.environ.get("EXIT_URL"),
        api_token=api_token_from_env(),
        cors_origins=os.environ.get("RASA_CORS", "").split(),
        endpoints=endpoints,
        rasa_ports=range(rasa_port, rasa_port + rasa_servers),
        env=env,
        web_interface=os.environ.get("WEB_INTERFACE"),
        metrics_port=int(os.environ.get("METRICS_PORT") or DEFAULT_METRICS_PORT),
    )

    run_dir = ROOT / "build" / "run" / str(rasa_port)
    supervisor = Supervisor(servers.programs(), run_dir)

    def shut_down(signum: int, _frame: FrameType | None) -> None:
        print(f"\nStopping (signal {signum})...", flush=True)
        supervisor.stop()
        sys.exit(0)

    signal.signal(signal.SIGINT, shut_down)
    signal.signal(signal.SIGTERM, shut_down)
    print("Starting the action server, Rasa and the chat page under supervisord (the model "
          "takes a few seconds to load)...",
          flush=True)
    supervisor.start()
    pending = set(servers.health_urls())
    deadline = time.monotonic() + READY_TIMEOUT
    while pending:
        if not supervisor.running():
            raise SystemExit(f"supervisord stopped while starting: see {run_dir}/")
        failed = [name for name, state in states(run_dir).items() if state == "FATAL"]
        if failed or time.monotonic() > deadline:
            supervisor.stop()
            what = ", ".join(failed) if failed else "servers not ready"
            raise SystemExit(f"{what} after {READY_TIMEOUT:.0f} s: see the logs in {run_dir}/")
        pending = {url for url in pending if not answers(url)}
        time.sleep(0.5)
    print(
        "\nThe triage bot is running.\n"
        f"  Chat page:     {servers.web_url}\n"
        f"  Embed snippet: {embed_snippet(servers.web_url)}\n"
        + "".join(f"  REST webhook:  {url}\n" for url in servers.webhook_urls)
        + f"  Action server: {servers.actions_url} (loopback only)\n"
        + "".join(f"  Metrics:       http://127.0.0.1:{servers.metrics_ports[port]}/metrics "
                  f"(Rasa {port}, loopback only)\n" for port in servers.rasa_ports)
        + (f"  Counts:        {servers.counts_db} (make report)\n"
           if endpoints == DEFAULT_ENDPOINTS else
           "  Counts:        daily_counts in the database (make report with the DB_* settings)\n")
        + f"  Endpoints:     {endpoints}\n"
        f"  Logs:          {run_dir}/ (one a server; supervisord.log: exits and restarts)\n"
        f"  Status:        make status RASA_PORT={rasa_port}\n"
        "A server that stops is started again by supervisord; the others go on answering.\n"
        "Try:\n"
        f"  curl -s -X POST {servers.webhook_url} -H 'Content-Type: application/json' \\\n"
        "       -d '{\"sender\": \"try-1\", \"message\": \"hello\"}'\n"
        "Press Ctrl-C to stop.",
        flush=True,
    )
    while supervisor.running():
        time.sleep(1)
    print("supervisord stopped unexpectedly.", file=sys.stderr)
    sys.exit(1)


if __name__ == "__main__":
    main()
