"""The setups measured: their servers, the training of both bots, and one measurement
(start, one user, 32 users, memory)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from scripts.bench.load import CLIENT, LoadResult, LoadSpec, run_client
from scripts.bench.machine import CpuWindow, MemorySampler, cpu_seconds
from scripts.bench.profile import summarise_profile
from scripts.bench.settings import (
    BASELINE_DIR,
    BENCH_DIR,
    BIN,
    LOG_DIR,
    PROFILE_RATE_HZ,
    RASA_CLI,
    ROOT,
    START_TIMEOUT_S,
    USERS,
    say,
)
from scripts.services import Postgres, Redis, free_port

COUNTING_SQL_STORE = "addons.counting.CountingSQLTrackerStore"
PLAIN_SQL_STORE = "addons.tracker_store.RedactingSQLTrackerStore"  # the same, counting nothing


def server_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": env.get("TF_CPP_MIN_LOG_LEVEL", "3"),
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
        "PYTHONWARNINGS": env.get("PYTHONWARNINGS", "ignore::DeprecationWarning"),
        "SANIC_REQUEST_MAX_SIZE": str(1024 * 1024),  # as scripts/serve.py
        "SANIC_WORKERS": "1",
    })
    env.update(extra)
    return env


def spawn(args: list[str], env: dict[str, str], log_name: str, cwd: Path = ROOT
          ) -> subprocess.Popen[bytes]:
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    with open(LOG_DIR / log_name, "wb") as log:
        # A session of its own, so that stopping it also stops Sanic's worker processes.
        return subprocess.Popen(args, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _post(url: str, message: str, timeout: float = 10.0) -> list[Any] | None:
    body = json.dumps({"sender": f"bench-start-{secrets.token_hex(4)}", "message": message})
    request = urllib.request.Request(url, data=body.encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            data = json.loads(response.read())
            return data if isinstance(data, list) else None
    except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError):
        return None


def wait_first_answer(process: subprocess.Popen[bytes], url: str, started: float,
                      log_name: str) -> float:
    """Seconds from `started` to the first non-empty answer to "hello"."""
    while time.monotonic() - started < START_TIMEOUT_S:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited while starting: see {LOG_DIR / log_name}")
        if _post(url, "hello"):
            return time.monotonic() - started
        time.sleep(0.1)
    raise TimeoutError(f"no answer after {START_TIMEOUT_S:.0f} s: see {LOG_DIR / log_name}")


def wait_http(url: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer in {timeout:.0f} s")


@dataclass
class Setup:
    """One way of running a bot for the measurements."""

    name: str
    title: str
    bot: str  # "baseline" or "triage"
    model: Path
    redis: bool = False
    production: bool = False  # endpoints.production.yml: PostgreSQL tracker, Redis lock
    servers: int = 1  # Rasa servers on their own ports, sharing the stores
    # The counts (addons/counting.py) as make run and production keep them; off, the same
    # stores without counting, to measure what counting costs.
    counting: bool = True

    @property
    def counts(self) -> bool:
        """Counts as make run or production do (Rasa's own Redis stores count nothing)."""
        return self.counting and (self.production or not self.redis)


@dataclass
class Measurement:
    setup: str
    title: str
    bot: str
    stores: str
    first_answer_s: float
    peak_rss_mb: float
    peak_processes: int
    sequential: LoadResult
    concurrent: LoadResult
    cpu_sequential: dict[str, Any]
    cpu_concurrent: dict[str, Any]
    server_cpu_ms_per_message: float
    log: str
    # With two servers: the larger of the Rasa processes.
    peak_process_rss_mb: float = 0.0
    servers: int = 1


@dataclass
class Durations:
    sequential_warmup_s: float = 3.0
    sequential_s: float = 25.0
    concurrent_warmup_s: float = 10.0
    concurrent_s: float = 40.0
    profile_s: float = 30.0


class Bench:
    def __init__(self, durations: Durations, redis: Redis | None,
                 postgres: Postgres | None = None,
                 credentials: Path = ROOT / "credentials.yml") -> None:
        self.durations = durations
        self.credentials = credentials
        self.databases = 0
        self.redis = redis
        self.postgres = postgres
        self.actions: subprocess.Popen[bytes] | None = None
        self.actions_port = free_port()

    def start_actions(self) -> None:
        if self.actions is None:
            self.actions = spawn(
                [*RASA_CLI, "run", "actions", "--actions", "actions",
                 "--port", str(self.actions_port)],
                server_env(SANIC_HOST="127.0.0.1"), "actions.log")
            wait_http(f"http://127.0.0.1:{self.actions_port}/health")

    def stop_actions(self) -> None:
        if self.actions is not None:
            stop(self.actions)
            self.actions = None

    def endpoints(self, setup: Setup) -> Path:
        """The setup's endpoints file: make run's endpoints.yml (its counting tracker store
        and NLG) with this run's action server and counts file; endpoints.production.yml for
        production; Rasa's Redis stores for the Redis setups. Counting off: the same stores
        without it."""
        path = BENCH_DIR / f"endpoints.{setup.name}.yml"
        if setup.production:
            text = (ROOT / "endpoints.production.yml").read_text(encoding="utf-8")
            if not setup.counting:
                text = text.replace("type: " + COUNTING_SQL_STORE, "type: " + PLAIN_SQL_STORE)
            path.write_text(text, encoding="utf-8")
            return path
        if setup.redis:
            if self.redis is None:
                raise RuntimeError("no Redis")
            lines = [f'action_endpoint:\n  url: "http://localhost:{self.actions_port}/webhook"']
            for key, db in (("tracker_store", 0), ("lock_store", 1)):
                lines.append(f"{key}:\n  type: redis\n  url: 127.0.0.1\n"
                             f"  port: {self.redis.port}\n  db: {db}\n"
                             f"  password: {self.redis.password}\n  key_prefix: bench")
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
            return path
        endpoints = yaml.safe_load((ROOT / "endpoints.yml").read_text(encoding="utf-8"))
        endpoints["action_endpoint"] = {"url": f"http://localhost:{self.actions_port}/webhook"}
        if setup.counting:
            counts_db = BENCH_DIR / f"counts.{setup.name}.sqlite"
            counts_db.unlink(missing_ok=True)
            endpoints["tracker_store"]["counts_db"] = str(counts_db)
        else:
            del endpoints["tracker_store"]  # Rasa's in-memory store
        path.write_text(yaml.safe_dump(endpoints, sort_keys=False), encoding="utf-8")
        return path

    def start_rasa(
        self, setup: Setup, port: int, shared_env: dict[str, str] | None = None,
        first: bool = True
    ) -> tuple[subprocess.Popen[bytes], float, str]:
        """Starts Rasa for the setup; returns the process, when it started and its log name.
        `shared_env`: the production settings all servers of the setup share (one database);
        `first`: the setup's first server, which starts from empty stores."""
        log_name = (f"rasa.{setup.name}.{port}.log" if setup.servers > 1
                    else f"rasa.{setup.name}.log")
        env = server_env()
        if setup.bot == "baseline":
            args = [str(BIN / "rasa"), "run", "--model", str(setup.model), "--port", str(port),
                    "--interface", "127.0.0.1"]
            cwd = BASELINE_DIR
        else:
            self.start_actions()
            endpoints = self.endpoints(setup)
            if setup.production:
                env.update(shared_env or self.production_env(setup))
            if setup.counts:
                env["METRICS_PORT"] = str(free_port())  # as make run: the live metrics too
            args = [*RASA_CLI, "run", "--model", str(setup.model), "--port", str(port),
                    "--interface", "127.0.0.1", "--endpoints", str(endpoints),
                    "--credentials", str(self.credentials)]
            cwd = ROOT
        if setup.redis and self.redis is not None and first:
            self.redis.client().flushall()
        started = time.monotonic()
        return spawn(args, env, log_name, cwd), started, log_name

    def production_env(self, setup: Setup) -> dict[str, str]:
        """The ${VARIABLES} of endpoints.production.yml: a new database for each setup."""
        if self.postgres is None or self.redis is None:
            raise RuntimeError("no PostgreSQL or Redis")
        self.databases += 1
        database = re.sub(r"\W", "_", setup.name)
        env = self.postgres.create_database(f"{database}_{self.databases}")
        env.update(self.redis.env)
        env.update({
            "ACTION_ENDPOINT_URL": f"http://localhost:{self.actions_port}/webhook",
            "TRACKER_RETENTION_MINUTES": "30",
        })
        return env

    def roots(self, *servers: subprocess.Popen[bytes]) -> dict[str, int]:
        roots = {"rasa" if n == 0 else f"rasa{n + 1}": server.pid
                 for n, server in enumerate(servers)}
        if self.actions is not None:
            roots["actions"] = self.actions.pid
        if self.redis is not None and self.redis.pid is not None:
            roots["redis"] = self.redis.pid
        if self.postgres is not None and self.postgres.pid is not None:
            roots["postgres"] = self.postgres.pid
        return roots

    def measure(self, setup: Setup) -> Measurement:
        ports = [free_port() for _ in range(setup.servers)]
        urls = [f"http://127.0.0.1:{port}/webhooks/rest/webhook" for port in ports]
        say(f"\n[{setup.name}] {setup.title}: starting Rasa ({setup.model.name})...")
        servers: list[tuple[subprocess.Popen[bytes], float, str]] = []
        shared_env = (self.production_env(setup)
                      if setup.production and setup.servers > 1 else None)
        try:
            for number, port in enumerate(ports):
                servers.append(self.start_rasa(setup, port, shared_env, first=number == 0))
            processes = [server for server, _, _ in servers]
            sampler = MemorySampler(*(server.pid for server in processes))
            sampler.start()
            try:
                first = max(wait_first_answer(server, url, started, log_name)
                            for (server, started, log_name), url in zip(servers, urls, strict=True))
                say(f"[{setup.name}] first answer {first:.1f} s after start; "
                    f"one user for {self.durations.sequential_s:.0f} s...")
                d = self.durations
                window = CpuWindow(self.roots(*processes))
                sequential = run_client(LoadSpec(urls, setup.bot, 1, d.sequential_warmup_s,
                                                 d.sequential_s, seed=7))
                cpu_sequential = window.finish(sequential.client_cpu_s)
                say(f"[{setup.name}] one user: median {sequential.p50_ms:.0f} ms, "
                    f"p95 {sequential.p95_ms:.0f} ms; {USERS} users for {d.concurrent_s:.0f} s...")
                window = CpuWindow(self.roots(*processes))
                # Each user talks to one server, users spread evenly (as the chat page server
                # spreads turns).
                concurrent = run_client(LoadSpec(urls, setup.bot, USERS, d.concurrent_warmup_s,
                                                 d.concurrent_s, seed=11))
                cpu_concurrent = window.finish(concurrent.client_cpu_s)
                say(f"[{setup.name}] {USERS} users: {concurrent.throughput:.1f} msg/s, "
                    f"p95 {concurrent.p95_ms:.0f} ms"
                    + (f", failures {concurrent.failures}" if concurrent.failures else ""))
            finally:
                peak = sampler.stop()
        finally:
            for server, _, _ in servers:
                stop(server)
        rasa_cpu = sum(v for k, v in cpu_concurrent["cpu_s"].items() if k.startswith("rasa"))
        per_message = rasa_cpu * 1000 / max(concurrent.total_messages, 1)
        return Measurement(
            setup=setup.name, title=setup.title, bot=setup.bot,
            stores=("PostgreSQL tracker + Redis lock (endpoints.production.yml)"
                    if setup.production else
                    "Redis tracker + lock store" if setup.redis else "in memory")
            + (", counting" if setup.counts else
               ", counting off" if setup.production or not setup.redis else ""),
            first_answer_s=round(first, 2), peak_rss_mb=round(peak, 1),
            peak_processes=sampler.peak_processes, sequential=sequential,
            concurrent=concurrent, cpu_sequential=cpu_sequential, cpu_concurrent=cpu_concurrent,
            server_cpu_ms_per_message=round(per_message, 2),
            log=str(LOG_DIR / servers[0][2]),
            peak_process_rss_mb=round(sampler.peak_single_kb / 1024, 1),
            servers=setup.servers,
        )

    def profile(self, setup: Setup) -> dict[str, Any]:
        """py-spy samples the Rasa server (one process) while 32 users talk to it."""
        py_spy = BIN / "py-spy"
        if not py_spy.exists():
            return {"skipped": "py-spy is not installed (make install)"}
        port = free_port()
        url = f"http://127.0.0.1:{port}/webhooks/rest/webhook"
        say(f"\n[profile] {setup.title} under {USERS} users, sampled by py-spy...")
        rasa, started, log_name = self.start_rasa(setup, port)
        raw = BENCH_DIR / f"profile.{setup.name}.raw.txt"
        d = self.durations
        try:
            wait_first_answer(rasa, url, started, log_name)
            warmup = 8.0
            spec = LoadSpec([url], setup.bot, USERS, warmup, d.profile_s + 2, seed=13)
            client = subprocess.Popen(
                [*CLIENT, json.dumps(asdict(spec))],
                cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            time.sleep(warmup + 1)
            cpu0 = cpu_seconds(rasa.pid)
            spy = subprocess.run(
                [str(py_spy), "record", "--pid", str(rasa.pid), "--rate", str(PROFILE_RATE_HZ),
                 "--duration", str(int(d.profile_s)), "--format", "raw", "--output", str(raw)],
                capture_output=True, text=True, check=False)
            server_cpu = cpu_seconds(rasa.pid) - cpu0
            out, err = client.communicate(timeout=d.profile_s + 120)
        finally:
            stop(rasa)
        if spy.returncode != 0 or not raw.exists():
            return {"skipped": f"py-spy failed: {(spy.stderr or spy.stdout)[-500:]}"}
        if client.returncode != 0:
            raise RuntimeError(f"load client failed:\n{err[-3000:]}")
        load = LoadResult(**json.loads(out.strip().splitlines()[-1]))
        messages = load.throughput * d.profile_s  # answered while py-spy sampled
        cpu_ms = server_cpu * 1000 / max(messages, 1)
        report = summarise_profile(raw.read_text(encoding="utf-8"), cpu_ms)
        report.update({
            "setup": setup.name,
            "raw_profile": str(raw),
            "seconds": d.profile_s,
            "rate_hz": PROFILE_RATE_HZ,
            "messages": round(messages),
            "throughput_while_sampled": round(load.throughput, 1),
            "server_cpu_ms_per_message": round(cpu_ms, 2),
        })
        return report



def timed_run(args: list[str], cwd: Path, env: dict[str, str], log_name: str) -> float:
    say(f"  $ {' '.join(args)}  (log: {LOG_DIR / log_name})")
    started = time.monotonic()
    process = spawn(args, env, log_name, cwd)
    if process.wait() != 0:
        raise RuntimeError(f"failed ({process.returncode}): see {LOG_DIR / log_name}")
    return time.monotonic() - started


def train_baseline() -> tuple[Path, float]:
    if not (BASELINE_DIR / "config.yml").exists():
        say("Creating the baseline bot with `rasa init --no-prompt` (it trains once)...")
        BENCH_DIR.mkdir(parents=True, exist_ok=True)
        if BASELINE_DIR.exists():
            shutil.rmtree(BASELINE_DIR)
        BASELINE_DIR.mkdir()  # `rasa init --no-prompt` wants it to exist
        timed_run([str(BIN / "rasa"), "init", "--no-prompt", "--init-dir", str(BASELINE_DIR)],
                  BENCH_DIR, server_env(), "baseline-init.log")
    say("Training the baseline bot (forced, into build/bench/baseline/models)...")
    seconds = timed_run(
        [str(BIN / "rasa"), "train", "--force", "--fixed-model-name", "baseline",
         "--out", "models"],
        BASELINE_DIR, server_env(), "baseline-train.log")
    return BASELINE_DIR / "models" / "baseline.tar.gz", seconds


def train_triage(config: Path, out: Path, name: str) -> tuple[Path, float]:
    say(f"Training this bot with {config.relative_to(ROOT)} (forced, into "
        f"{out.relative_to(ROOT)}; never models/)...")
    env = server_env(RASA_CACHE_DIRECTORY=str(BENCH_DIR / "cache" / name))
    seconds = timed_run(
        [str(BIN / "rasa"), "train", "--force", "--config", str(config.relative_to(ROOT)),
         "--fixed-model-name", name, "--out", str(out.relative_to(ROOT))],
        ROOT, env, f"{name}-train.log")
    return out / f"{name}.tar.gz", seconds
