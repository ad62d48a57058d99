"""`make bench`: how fast this bot answers, compared with a default `rasa init` bot.

A benchmark, not a test: it prints figures and writes them to results/bench.json and
results/bench.md; nothing fails when a target is missed. In one run, on this machine:

1. Training time: a default bot made with `rasa init --no-prompt` in build/bench/baseline
   (the baseline), and a copy of this bot trained into build/bench/models (never models/).
   Both trainings are forced (no cache reuse).
2. For each server setup (the baseline; this bot in one process with in-memory stores, as
   `make run`; this bot on endpoints.production.yml, PostgreSQL tracker store and Redis lock
   store, or on Rasa's Redis tracker and lock stores without it, with one Rasa server and
   with two, each user talking to one of them): the time from process start to the first
   answer, then one user at a time
   (median and p95 latency), then 32 concurrent users (throughput, p95), and the peak memory
   (RSS, children included) of the Rasa process.
3. A profile of this bot's Rasa server under the 32-user load (py-spy), split by where the time
   goes: NLU components, policies, tracker store, Rasa's processor, Sanic.

The load comes from `bench.py client`, a separate process (asyncio + aiohttp): each virtual
user plays whole conversations from a realistic mix, with a new sender id per conversation
and no pause between messages (closed loop). The client's own CPU use is reported, and so is
the CPU used by other processes on the machine during each load phase (when it is more than a
few percent, the machine was shared and the figures are pessimistic).

Run `python scripts/bench.py --help` for the options (a shorter --quick run, another config).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import platform
import random
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# This bot's servers start as serve.py starts them: `rasa` without jax (scripts/rasa_cli.py).
RASA_CLI = [str(BIN / "python"), str(ROOT / "scripts" / "rasa_cli.py")]
BENCH_DIR = ROOT / "build" / "bench"
BASELINE_DIR = BENCH_DIR / "baseline"
LOG_DIR = BENCH_DIR / "logs"
RESULTS_DIR = ROOT / "results"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
NCPU = os.cpu_count() or 1

# The targets for this bot (informational: the benchmark never fails on them).
TARGET_THROUGHPUT_RATIO = 5.0  # x the baseline's messages/s at 32 users
TARGET_P95_32_MS = 500.0
TARGET_FIRST_ANSWER_S = 20.0
TARGET_RSS_MB = 800.0
USERS = 32
# The other processes' share of the machine's CPU above which the run counts as shared.
SHARED_CPU_SHARE = 0.05
START_TIMEOUT_S = 300.0
# py-spy pauses the server for each sample (consistent stacks); 100 Hz costs little.
PROFILE_RATE_HZ = 100
# Part of the answer the hardened channel gives when a turn failed (utter_no_reply).
NO_REPLY_MARK = "I can't show that just now"
ANSWERED = ("ok", "empty")


# --- Message mixes -------------------------------------------------------------------------


@dataclass(frozen=True)
class Conversation:
    name: str
    weight: float
    turns: tuple[tuple[str, str], ...]  # (kind, message)


LONG_STORY = (
    "I don't really know where to start with this. I came here last year because a man in my "
    "home town said there was work in a factory and a room to live in. When we arrived they "
    "took our passports to 'keep them safe' and said we owed them for the travel and the visa. "
    "We work six or seven days a week, mostly twelve hour shifts, and most of the money goes "
    "back to them for rent and the debt, which never gets smaller. Eight of us sleep in one "
    "house and a driver takes us to work and back. I have a phone but they check it sometimes. "
    "I am scared that if I say anything they will hurt my family back home. Is this normal here?"
)
PASTE = (LONG_STORY + " ") * 3  # a long paste: the channel cuts it to 1000 characters

TRIAGE_MIX: tuple[Conversation, ...] = (
    Conversation("buttons: me, no danger, resources", 3, (
        ("greeting", "hi"), ("who", "/report_self"), ("danger_answer", "/deny"),
        ("resources", "/ask_resources"), ("resources", "/resource_care_pathways"),
        ("resources", "/more_resources"))),
    Conversation("typed: someone else, no danger, a question", 3, (
        ("greeting", "hello"), ("who", "i'm worried about someone"), ("danger_answer", "no"),
        ("quick_question", "what happens after a referral"))),
    Conversation("free text first, not sure, signs", 3, (
        ("free_text_medium", "i think the lads at the car wash are being kept there, they "
                             "never seem to go home and someone drives them everywhere"),
        ("danger_answer", "not sure"), ("quick_question", "what are the signs"))),
    Conversation("danger message, then safe", 2, (
        ("danger_text", "he's locked me in the room and taken my phone, please help"),
        ("danger_answer", "/safe_now"))),
    Conversation("danger in the middle of the triage", 1, (
        ("greeting", "hi"), ("who", "/report_other"),
        ("danger_text", "he's back and he's got a knife"))),
    Conversation("practitioner questions", 2, (
        ("free_text_medium", "i'm a nurse and i think one of my patients is being trafficked"),
        ("danger_answer", "/deny"), ("quick_question", "DtN?"),
        ("quick_question", "do i need their consent to refer them"),
        ("quick_question", "how long is the recovery period"))),
    Conversation("a child, not sure", 1, (
        ("greeting", "good morning"), ("who", "/report_child"), ("danger_answer", "/unsure"),
        ("quick_question", "/ask_signs"))),
    Conversation("a long story", 2, (
        ("free_text_long", LONG_STORY), ("danger_answer", "/deny"), ("other", "thanks"),
        ("other", "bye"))),
    Conversation("quick questions only", 2, (
        ("quick_question", "what does nrm mean"),
        ("quick_question", "can i report it without giving my name"),
        ("quick_question", "RG decision timescale"),
        ("quick_question", "is it exploitation if my employer wont pay me"))),
    Conversation("young person", 1, (
        ("free_text_short", "I'm 15 and they make me work"), ("danger_answer", "no"),
        ("other", "/talk_to_person"))),
    Conversation("nation and navigation", 1, (
        ("greeting", "hi"), ("free_text_short", "I'm in Glasgow"),
        ("quick_question", "how long is the recovery period"), ("other", "start again"),
        ("other", "menu"))),
    Conversation("a long paste", 0.5, (("free_text_paste", PASTE), ("danger_answer", "no"))),
    Conversation("out of scope", 1, (
        ("free_text_short", "can you order me a pizza"), ("other", "hmm"), ("other", "bye"))),
)

# The `rasa init` bot's own kind of conversation: greet, mood, affirm/deny, goodbye, bot?
BASELINE_MIX: tuple[Conversation, ...] = (
    Conversation("happy", 3, (
        ("greeting", "hello there"), ("mood", "I am feeling very good"), ("other", "bye"))),
    Conversation("sad, helped", 2, (
        ("greeting", "hi"), ("mood", "I am sad"), ("affirm_deny", "yes"),
        ("other", "goodbye"))),
    Conversation("sad, not helped", 2, (
        ("greeting", "hey"), ("mood", "super unhappy"), ("affirm_deny", "no"),
        ("other", "see you later"))),
    Conversation("bot challenge", 1, (
        ("other", "are you a bot?"), ("greeting", "good morning"), ("mood", "great"))),
    Conversation("a longer message", 1, (
        ("free_text_medium", "hey there, it has been a really long week at work and to be "
                             "honest I am feeling quite down about everything"),
        ("affirm_deny", "no"), ("other", "bye"))),
)

MIXES = {"triage": TRIAGE_MIX, "baseline": BASELINE_MIX}


# --- Statistics ----------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (q in 0..100); NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0 or a != a or b != b:  # a != a: NaN
        return None
    return a / b


# --- The load client (a separate process) --------------------------------------------------


@dataclass
class LoadSpec:
    urls: list[str]
    mix: str
    users: int
    warmup_s: float
    duration_s: float
    seed: int = 1
    timeout_s: float = 60.0


@dataclass
class LoadResult:
    users: int
    duration_s: float
    messages: int  # answered (200, not the failure answer) within the measured window
    failures: dict[str, int]  # outcome -> count, within the window
    empty_answers: int  # answered with no bot message (the rasa init bot does it), counted
    throughput: float  # messages / s in the window
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    by_kind_p50_ms: dict[str, float]
    by_kind_count: dict[str, int]
    total_messages: int  # answered during warm-up and window
    bot_messages_per_answer: float  # each one is an action the policies predicted
    wall_s: float
    client_cpu_s: float


async def _run_load(spec: LoadSpec) -> LoadResult:
    import aiohttp  # only the client needs it

    mix = MIXES[spec.mix]
    weights = [c.weight for c in mix]
    # (finished at, latency, kind, outcome, bot messages in the answer)
    samples: list[tuple[float, float, str, str, int]] = []
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=spec.timeout_s)
    cpu0 = _own_cpu()
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        start = time.perf_counter()
        window_start = start + spec.warmup_s
        end = window_start + spec.duration_s

        async def user(index: int) -> None:
            rng = random.Random(spec.seed * 1000 + index)
            url = spec.urls[index % len(spec.urls)]
            while time.perf_counter() < end:
                conversation = rng.choices(mix, weights)[0]
                sender = f"bench-{index}-{secrets.token_hex(6)}"
                for kind, text in conversation.turns:
                    if time.perf_counter() >= end:
                        return
                    sent = time.perf_counter()
                    outcome = "ok"
                    answers = 0
                    try:
                        async with session.post(
                            url, json={"sender": sender, "message": text}
                        ) as response:
                            body = await response.read()
                            if response.status != 200:
                                outcome = f"http_{response.status}"
                            elif not (answers := len(json.loads(body))):
                                outcome = "empty"  # the bot chose to say nothing: answered
                            elif NO_REPLY_MARK.encode() in body:
                                outcome = "failure_answer"
                    except asyncio.TimeoutError:
                        outcome = "timeout"
                    except aiohttp.ClientError as error:
                        outcome = type(error).__name__
                    done = time.perf_counter()
                    samples.append((done, done - sent, kind, outcome, answers))

        await asyncio.gather(*(user(i) for i in range(spec.users)))
        wall = time.perf_counter() - start
    window = [s for s in samples if window_start <= s[0] < end]
    ok = [s for s in window if s[3] in ANSWERED]
    latencies = [s[1] * 1000 for s in ok]
    kinds: dict[str, list[float]] = {}
    for _, latency, kind, _, _ in ok:
        kinds.setdefault(kind, []).append(latency * 1000)
    return LoadResult(
        users=spec.users,
        duration_s=spec.duration_s,
        messages=len(ok),
        failures=dict(Counter(s[3] for s in window if s[3] not in ANSWERED)),
        empty_answers=sum(1 for s in window if s[3] == "empty"),
        throughput=len(ok) / spec.duration_s,
        p50_ms=percentile(latencies, 50),
        p95_ms=percentile(latencies, 95),
        p99_ms=percentile(latencies, 99),
        max_ms=max(latencies, default=float("nan")),
        by_kind_p50_ms={k: percentile(v, 50) for k, v in sorted(kinds.items())},
        by_kind_count={k: len(v) for k, v in sorted(kinds.items())},
        total_messages=sum(1 for s in samples if s[3] in ANSWERED),
        bot_messages_per_answer=sum(s[4] for s in ok) / max(len(ok), 1),
        wall_s=wall,
        client_cpu_s=_own_cpu() - cpu0,
    )


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def client_main(spec_json: str) -> None:
    spec = LoadSpec(**json.loads(spec_json))
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    result = asyncio.run(_run_load(spec))
    print(json.dumps(asdict(result)), flush=True)


def run_client(spec: LoadSpec) -> LoadResult:
    """Runs the load client as its own process and returns what it measured."""
    completed = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "client", json.dumps(asdict(spec))],
        cwd=ROOT, capture_output=True, text=True, check=False,
        timeout=spec.warmup_s + spec.duration_s + spec.timeout_s + 60,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"load client failed:\n{completed.stderr[-3000:]}")
    data = json.loads(completed.stdout.strip().splitlines()[-1])
    return LoadResult(**data)


# --- Processes: CPU and memory from /proc --------------------------------------------------


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rfind(")") + 2:].split()


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(entry))
    return children


def process_tree(pid: int) -> list[int]:
    """pid and all its descendants that are alive now."""
    children = _children_map()
    tree, stack = [], [pid]
    while stack:
        current = stack.pop()
        if Path(f"/proc/{current}").exists():
            tree.append(current)
            stack.extend(children.get(current, []))
    return tree


def cpu_seconds(pid: int) -> float:
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_kb(pid: int) -> int:
    try:
        statm = Path(f"/proc/{pid}/statm").read_text().split()
    except OSError:
        return 0
    return int(statm[1]) * PAGE_KB


def machine_busy_seconds() -> float:
    """CPU time the whole machine has been busy since boot (all cores)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / CLK_TCK


def _cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "?"
    words = raw.replace(b"\0", b" ").decode(errors="replace").split()
    # Drop interpreter paths: "python .venv/bin/rasa train ..." -> "rasa train ..."
    while len(words) > 1 and (words[0].endswith(("python", "python3", "python3.10"))):
        words = words[1:]
    return " ".join(Path(words[0]).name.split() + words[1:4]) if words else "?"


def all_cpu() -> dict[int, float]:
    result: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            result[int(entry)] = cpu_seconds(int(entry))
    return result


class CpuWindow:
    """CPU used during a phase: by the given process trees, and by everything else."""

    def __init__(self, roots: dict[str, int]) -> None:
        self.roots = roots
        self.start_wall = time.monotonic()
        self.start_busy = machine_busy_seconds()
        self.start_all = all_cpu()

    def finish(self, client_cpu_s: float) -> dict[str, Any]:
        wall = time.monotonic() - self.start_wall
        busy = machine_busy_seconds() - self.start_busy
        end_all = all_cpu()
        ours: dict[str, float] = {}
        counted: set[int] = set()
        for name, root in self.roots.items():
            tree = process_tree(root)
            counted.update(tree)
            ours[name] = sum(end_all.get(p, 0.0) - self.start_all.get(p, 0.0) for p in tree)
        counted.add(os.getpid())
        others: dict[str, float] = {}
        for pid, cpu in end_all.items():
            if pid not in counted:
                used = cpu - self.start_all.get(pid, 0.0)
                if used > 0.05 * wall:
                    others[_cmdline(pid)] = others.get(_cmdline(pid), 0.0) + used
        top = sorted(others.items(), key=lambda item: -item[1])[:4]
        ours_total = sum(ours.values()) + client_cpu_s
        other_total = max(0.0, busy - ours_total)
        return {
            "wall_s": round(wall, 2),
            "cpu_s": {k: round(v, 2) for k, v in ours.items()},
            "client_cpu_s": round(client_cpu_s, 2),
            "machine_busy_share": round(busy / (wall * NCPU), 3),
            "other_cpu_share": round(other_total / (wall * NCPU), 3),
            "other_processes": {k: round(v, 1) for k, v in top},
        }


class MemorySampler(threading.Thread):
    """Peak RSS of a process and its children (summed), and of the largest of them, sampled
    every 0.2 s."""

    def __init__(self, *pids: int) -> None:
        super().__init__(daemon=True)
        self.pids = pids
        self.peak_kb = 0
        self.peak_processes = 0
        self.peak_single_kb = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            tree = [p for pid in self.pids for p in process_tree(pid)]
            sizes = [rss_kb(p) for p in tree]
            total = sum(sizes)
            self.peak_single_kb = max([self.peak_single_kb, *sizes])
            if total > self.peak_kb:
                self.peak_kb = total
                self.peak_processes = len(tree)
            self._stop_event.wait(0.2)

    def stop(self) -> float:
        self._stop_event.set()
        self.join()
        return self.peak_kb / 1024


# --- Servers -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


class Redis:
    """A throwaway redis-server on a free loopback port, no persistence."""

    def __init__(self) -> None:
        self.port = free_port()
        self.password = secrets.token_urlsafe(16)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        executable = shutil.which("redis-server")
        if executable is None:
            raise RuntimeError("redis-server is not installed (`make bench` installs it)")
        directory = BENCH_DIR / "redis"
        directory.mkdir(parents=True, exist_ok=True)
        self.process = spawn(
            [executable, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(directory), "--requirepass", self.password],
            dict(os.environ), "redis.log")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                if self.command("PING").startswith(b"+PONG"):
                    return
            time.sleep(0.1)
        raise TimeoutError("redis-server did not start")

    def command(self, *words: str) -> bytes:
        """One command after AUTH, in Redis's wire protocol; returns the raw reply."""
        request = b""
        for command in (("AUTH", self.password), words):
            request += f"*{len(command)}\r\n".encode()
            for word in command:
                request += f"${len(word.encode())}\r\n{word}\r\n".encode()
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
            sock.sendall(request)
            reply = b""
            while reply.count(b"\r\n") < 2:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                reply += chunk
        return reply.split(b"\r\n", 1)[1]  # after AUTH's +OK

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)


def postgres_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"))
    return found[-1].parent if found else None


def _as_postgres(args: list[str]) -> list[str]:
    """Debian's PostgreSQL refuses to run as root: run its commands as `postgres` then."""
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


class Postgres:
    """A throwaway PostgreSQL cluster on a free loopback port (fsync off), for the production
    configuration's tracker store; removed at the end."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin = bin_dir
        self.port = free_port()
        self.password = secrets.token_urlsafe(16)
        self.dir = Path(tempfile.mkdtemp(prefix="bench-pg-"))
        self.data = self.dir / "data"

    def start(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        subprocess.run(_as_postgres([
            str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
            "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync"]),
            check=True, capture_output=True)
        options = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c max_connections=200")
        subprocess.run(_as_postgres([
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "pg.log"),
            "-o", options, "-w", "start"]), check=True, capture_output=True)
        self.psql(f"CREATE ROLE bench LOGIN PASSWORD '{self.password}'")

    def psql(self, sql: str) -> None:
        subprocess.run(_as_postgres([
            str(self.bin / "psql"), "-h", str(self.dir), "-p", str(self.port), "-U", "postgres",
            "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-c", sql]),
            check=True, capture_output=True)

    def new_database(self, name: str) -> dict[str, str]:
        self.psql(f"CREATE DATABASE {name} OWNER bench")
        return {"DB_HOST": "127.0.0.1", "DB_PORT": str(self.port), "DB_NAME": name,
                "DB_USER": "bench", "DB_PASSWORD": self.password}

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run(_as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.data),
                                         "-m", "fast", "-w", "stop"]),
                           check=False, capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


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
        lines = [f'action_endpoint:\n  url: "http://localhost:{self.actions_port}/webhook"']
        if setup.redis:
            if self.redis is None:
                raise RuntimeError("no Redis")
            for key, db in (("tracker_store", 0), ("lock_store", 1)):
                lines.append(f"{key}:\n  type: redis\n  url: 127.0.0.1\n"
                             f"  port: {self.redis.port}\n  db: {db}\n"
                             f"  password: {self.redis.password}\n  key_prefix: bench")
        path = BENCH_DIR / f"endpoints.{setup.name}.yml"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
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
                endpoints = ROOT / "endpoints.production.yml"
                env.update(shared_env or self.production_env(setup))
            args = [*RASA_CLI, "run", "--model", str(setup.model), "--port", str(port),
                    "--interface", "127.0.0.1", "--endpoints", str(endpoints),
                    "--credentials", str(self.credentials)]
            cwd = ROOT
        if setup.redis and self.redis is not None and first:
            self.redis.command("FLUSHALL")
        started = time.monotonic()
        return spawn(args, env, log_name, cwd), started, log_name

    def production_env(self, setup: Setup) -> dict[str, str]:
        """The ${VARIABLES} of endpoints.production.yml: a new database for each setup."""
        if self.postgres is None or self.redis is None:
            raise RuntimeError("no PostgreSQL or Redis")
        self.databases += 1
        database = re.sub(r"\W", "_", setup.name)
        env = self.postgres.new_database(f"{database}_{self.databases}")
        env.update({
            "ACTION_ENDPOINT_URL": f"http://localhost:{self.actions_port}/webhook",
            "TRACKER_RETENTION_MINUTES": "30",
            "REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(self.redis.port), "REDIS_DB": "1",
            "REDIS_PASSWORD": self.redis.password,
        })
        return env

    def roots(self, *servers: subprocess.Popen[bytes]) -> dict[str, int]:
        roots = {"rasa" if n == 0 else f"rasa{n + 1}": server.pid
                 for n, server in enumerate(servers)}
        if self.actions is not None:
            roots["actions"] = self.actions.pid
        if self.redis is not None and self.redis.process is not None:
            roots["redis"] = self.redis.process.pid
        if self.postgres is not None:
            with contextlib.suppress(OSError, ValueError, IndexError):
                pid = (self.postgres.data / "postmaster.pid").read_text().split()[0]
                roots["postgres"] = int(pid)
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
                    "Redis tracker + lock store" if setup.redis else "in memory"),
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
                [sys.executable, str(Path(__file__).resolve()), "client",
                 json.dumps(asdict(spec))],
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


# --- Profile: where the time goes ----------------------------------------------------------

# (category, pattern on "function (file:line)" frames). A sample belongs to the deepest frame
# that matches a pattern, so library code (numpy, TensorFlow, json) counts for the component
# that called it.
PROFILE_CATEGORIES: tuple[tuple[str, str], ...] = (
    # Sanic compiles some of its functions from strings: their frames name no file.
    ("Sanic: HTTP, routing, event loop",
     r"[(/](sanic|sanic_routing|sanic_cors)/|asyncio/|uvloop|\((send|http1_response_header|"
     r"connection_task|handle_request|_run_response_middleware|_run_request_middleware):\d+\)"),
    ("REST channel (addons/channel.py, text.py)", r"addons/channel\.py|addons/text\.py"),
    ("Rasa processor and agent (events, tracker updates)",
     r"rasa/core/processor\.py|rasa/core/agent\.py|rasa/core/channels/"),
    ("Actions: responses, form, custom-action call",
     # jsonschema: Rasa checks every action server response against a schema.
     r"rasa/core/actions/|rasa/core/nlg/|rasa/utils/endpoints\.py|[(/]jsonschema/"),
    ("Tracker store (load and save the conversation)", r"rasa/core/tracker_store\.py"),
    ("Lock store", r"rasa/core/lock_store\.py|rasa/core/lock\.py"),
    ("Graph engine (running components)", r"rasa/engine/"),
    ("NLU: message parsing (regex for /payloads)", r"regex_message_handler\.py"),
    ("NLU: SpacyNLP (spaCy pipeline)", r"rasa/nlu/utils/spacy_utils\.py"),
    ("NLU: SpacyTokenizer", r"rasa/nlu/tokenizers/"),
    ("NLU: LexicalSyntacticFeaturizer", r"lexical_syntactic_featurizer\.py"),
    ("NLU: CountVectorsFeaturizer (words and char n-grams)", r"count_vectors_featurizer\.py"),
    ("NLU: DIETClassifier (TensorFlow)", r"diet_classifier\.py"),
    ("NLU: LanguageGate (addons/nlu.py)", r"apply_language_check|addons/language\.py"),
    ("NLU: DangerGate (addons/nlu.py)", r"apply_danger_check|addons/danger\.py"),
    ("NLU: SpacyEntityExtractor", r"spacy_entity_extractor\.py"),
    ("NLU: EntitySynonymMapper", r"entity_synonyms\.py"),
    ("NLU: FallbackClassifier", r"fallback_classifier\.py"),
    ("NLU: ResponseSelector", r"response_selector\.py"),
    ("Policies: RulePolicy", r"rule_policy\.py"),
    ("Policies: MemoizationPolicy", r"memoization\.py"),
    ("Policies: TEDPolicy / UnexpecTED", r"ted_policy\.py|unexpected_intent_policy\.py"),
    ("Policies: prediction selection", r"rasa/core/policies/ensemble\.py"),
    ("Logging", r"[(/]logging/"),
)
# py-spy cuts some stacks (deep generators): their frames still tell something.
PROFILE_FALLBACKS: tuple[tuple[str, str], ...] = (
    ("Trackers: replaying events (caller cut from the stack)", r"rasa/shared/core/trackers\.py"),
    ("TensorFlow / Keras (caller cut from the stack)", r"[(/](tensorflow|keras)/"),
)
_COMPILED = [[(name, re.compile(pattern)) for name, pattern in table]
             for table in (PROFILE_CATEGORIES, PROFILE_FALLBACKS)]


def categorise(frames: list[str]) -> str:
    for table in _COMPILED:
        for frame in reversed(frames):  # the deepest frame first
            for name, pattern in table:
                if pattern.search(frame):
                    return name
    return "Other"


def summarise_profile(raw: str, cpu_ms_per_message: float) -> dict[str, Any]:
    """Shares of py-spy's samples (raw, collapsed stacks) per category and per function.

    py-spy samples the Python threads that are not idle; a thread waiting for a core counts
    as busy, so on a shared machine the sample count overstates CPU time. The shares are
    therefore turned into milliseconds with the process's measured CPU time per message."""
    per_category: Counter[str] = Counter()
    per_function: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        per_category[categorise(frames)] += count
        leaf = re.sub(r"\(/.*?/site-packages/", "(", frames[-1])
        per_function[leaf.replace(f"({ROOT}/", "(")] += count

    def row(samples: int) -> dict[str, float]:
        share = samples / max(total, 1)
        return {"share": round(share, 3), "cpu_ms_per_message": round(
            share * cpu_ms_per_message, 2)}

    return {
        "samples": total,
        "categories": {name: row(n) for name, n in per_category.most_common()},
        "top_functions": {name: row(n) for name, n in per_function.most_common(15)},
    }


# --- Training ------------------------------------------------------------------------------


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


# --- Report --------------------------------------------------------------------------------


def say(text: str) -> None:
    print(text, flush=True)


def fmt(value: float | None, digits: int = 1, unit: str = "") -> str:
    if value is None or value != value:
        return "n/a"
    return f"{value:.{digits}f}{unit}"


def machine_info() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with contextlib.suppress(OSError, IndexError, ValueError):
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "cpus": NCPU,
        "cpu_model": model,
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def git_state() -> dict[str, Any]:
    def git(*args: str) -> str:
        result = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                                check=False)
        return result.stdout.strip()

    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "uncommitted_training_inputs": git("status", "--porcelain", "--", "config.yml",
                                           "domain.yml", "data", "addons").splitlines(),
    }


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def targets(triage: Measurement, baseline: Measurement | None) -> list[dict[str, Any]]:
    base = baseline.concurrent.throughput if baseline else None
    # (target, value, unit, met?)
    checks: list[tuple[str, float | None, str, bool | None]] = []
    value = ratio(triage.concurrent.throughput, base)
    checks.append((f"throughput at {USERS} users >= {TARGET_THROUGHPUT_RATIO:.0f}x the baseline",
                   value, "x", None if value is None else value >= TARGET_THROUGHPUT_RATIO))
    p95 = triage.concurrent.p95_ms
    checks.append((f"p95 at {USERS} users < {TARGET_P95_32_MS:.0f} ms", p95, "ms",
                   None if p95 != p95 else p95 < TARGET_P95_32_MS))
    checks.append((f"first answer within {TARGET_FIRST_ANSWER_S:.0f} s of start",
                   triage.first_answer_s, "s", triage.first_answer_s <= TARGET_FIRST_ANSWER_S))
    if triage.servers > 1:  # each server is a Rasa process
        rss, what = triage.peak_process_rss_mb, "each Rasa process (largest of them)"
    else:
        rss, what = triage.peak_rss_mb, "Rasa process (with children)"
    checks.append((f"{what} < {TARGET_RSS_MB:.0f} MB", rss, "MB", rss < TARGET_RSS_MB))
    return [{"setup": triage.setup, "target": name,
             "value": None if value is None else round(value, 2), "unit": unit, "met": met}
            for name, value, unit, met in checks]


def render(results: dict[str, Any]) -> str:
    """results/bench.md and the printed summary."""
    lines: list[str] = []
    m: dict[str, dict[str, Any]] = {x["setup"]: x for x in results["measurements"]}
    base = m.get("baseline")
    lines.append(f"# Benchmark: {results['label']}\n")
    info = results["machine"]
    lines.append(
        f"Run {results['started']} on {info['cpus']} cores ({info['cpu_model']}), "
        f"{info['memory_gb']} GB, commit {results['git']['commit']}"
        + (" with uncommitted changes to the training inputs"
           if results["git"]["uncommitted_training_inputs"] else "") + ".")
    lines.append(f"Load average at start: {info['load_average_at_start']}. "
                 + results["sharing"]["summary"] + "\n")
    lines.append("## Training (forced, wall clock)\n")
    lines.append("| bot | seconds |\n| --- | ---: |")
    for name, seconds in results["training_s"].items():
        lines.append(f"| {name} | {fmt(seconds)} |")
    if base and "triage" in results["training_s"] and "baseline" in results["training_s"]:
        lines.append(f"\nThis bot / baseline: "
                     f"{fmt(ratio(results['training_s']['triage'], results['training_s']['baseline']), 2)}x")  # noqa: E501
    lines.append("\n## Serving (REST webhook)\n")
    header = ("| setup | servers | stores | first answer (s) | 1 user median (ms) "
              "| 1 user p95 (ms) | 32 users msg/s | 32 users p50 (ms) | 32 users p95 (ms) "
              "| failures | peak RSS (MB) | server CPU ms/msg | bot msgs/answer | others' CPU |")
    lines.append(header)
    lines.append("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
                 "| ---: | ---: | ---: |")
    for x in results["measurements"]:
        s, c = x["sequential"], x["concurrent"]
        failures = f'{sum(c["failures"].values()) + sum(s["failures"].values())}'
        empty = c.get("empty_answers", 0) + s.get("empty_answers", 0)
        failures += f" ({empty} empty answers)" if empty else ""
        lines.append(
            f"| {x['setup']} | {x['servers']} | {x['stores']} "
            f"| {fmt(x['first_answer_s'])} "
            f"| {fmt(s['p50_ms'], 0)} | {fmt(s['p95_ms'], 0)} | {fmt(c['throughput'])} "
            f"| {fmt(c['p50_ms'], 0)} | {fmt(c['p95_ms'], 0)} | {failures} "
            f"| {fmt(x['peak_rss_mb'], 0)} | {fmt(x['server_cpu_ms_per_message'])} "
            f"| {fmt(c['bot_messages_per_answer'], 2)} "
            f"| {x['cpu_concurrent']['other_cpu_share']:.0%} |")
    lines.append(
        "\nServer CPU ms/msg: CPU time of the Rasa servers per answered "
        "message at 32 users; unlike msg/s it hardly depends on what else the machine runs. "
        "Failures: errors, time-outs and the channel's failure answer (utter_no_reply). "
        "Bot msgs/answer: the bot messages in an answer, each an action the policies predicted.")
    if base:
        lines.append("\n## Ratios to the baseline\n")
        lines.append("| setup | msg/s at 32 users | msg per CPU-second | 1 user median "
                     "| p95 at 32 users | first answer | peak RSS |")
        lines.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for x in results["measurements"]:
            if x["bot"] == "baseline":
                continue
            lines.append(
                f"| {x['setup']} "
                f"| {fmt(ratio(x['concurrent']['throughput'], base['concurrent']['throughput']), 2)}x "  # noqa: E501
                f"| {fmt(ratio(base['server_cpu_ms_per_message'], x['server_cpu_ms_per_message']), 2)}x "  # noqa: E501
                f"| {fmt(ratio(x['sequential']['p50_ms'], base['sequential']['p50_ms']), 2)}x "
                f"| {fmt(ratio(x['concurrent']['p95_ms'], base['concurrent']['p95_ms']), 2)}x "
                f"| {fmt(ratio(x['first_answer_s'], base['first_answer_s']), 2)}x "
                f"| {fmt(ratio(x['peak_rss_mb'], base['peak_rss_mb']), 2)}x |")
    if results.get("scaling"):
        sc = results["scaling"]
        lines.append("\n## Two Rasa servers (scale-out configuration)\n")
        lines.append(sc["summary"])
    for setup_name, error in results.get("errors", {}).items():
        lines.append(f"\n**{setup_name} failed**: {error}")
    lines.append("\n## Targets for this bot (informational)\n")
    lines.append("| setup | target | value | met |\n| --- | --- | ---: | --- |")
    for t in results["targets"]:
        met = {True: "yes", False: "**no**", None: "n/a"}[t["met"]]
        lines.append(f"| {t['setup']} | {t['target']} | {fmt(t['value'], 2)} {t['unit']} "
                     f"| {met} |")
    kinds = [x for x in results["measurements"] if x["bot"] == "triage"]
    if kinds:
        first = kinds[0]
        lines.append(f"\n## Median latency by message kind ({first['setup']}, one user)\n")
        lines.append("| kind | messages | median (ms) |\n| --- | ---: | ---: |")
        seq = first["sequential"]
        for kind, p50 in seq["by_kind_p50_ms"].items():
            lines.append(f"| {kind} | {seq['by_kind_count'][kind]} | {fmt(p50, 0)} |")
    profile = results.get("profile")
    if profile and "categories" in profile:
        lines.append(f"\n## Profile ({profile['setup']}, {USERS} users, py-spy at "
                     f"{profile['rate_hz']} Hz for {profile['seconds']:.0f} s)\n")
        lines.append(
            f"{profile['messages']} messages answered while sampled "
            f"({profile['throughput_while_sampled']} msg/s), {profile['samples']} samples; the "
            f"Rasa process used {profile['server_cpu_ms_per_message']} ms of CPU per message. "
            f"A sample counts for the deepest frame that names a component, so library code "
            f"(numpy, TensorFlow, json) counts for the component that called it; ms per "
            f"message = share x the process's CPU per message.\n")
        lines.append("| where | share | CPU ms per message |\n| --- | ---: | ---: |")
        for name, row in profile["categories"].items():
            lines.append(f"| {name} | {row['share']:.1%} "
                         f"| {fmt(row['cpu_ms_per_message'], 2)} |")
        lines.append("\nHottest functions (self time):\n")
        lines.append("| function | share | CPU ms per message |\n| --- | ---: | ---: |")
        for name, row in profile["top_functions"].items():
            lines.append(f"| `{name}` | {row['share']:.1%} "
                         f"| {fmt(row['cpu_ms_per_message'], 2)} |")
    elif profile:
        lines.append(f"\n## Profile\n\nSkipped: {profile.get('skipped')}")
    lines.append("")
    return "\n".join(lines)


def sharing_summary(measurements: list[Measurement]) -> dict[str, Any]:
    worst = 0.0
    others: dict[str, float] = {}
    for x in measurements:
        for window in (x.cpu_sequential, x.cpu_concurrent):
            worst = max(worst, float(window["other_cpu_share"]))
            for command, seconds in window["other_processes"].items():
                others[command] = others.get(command, 0.0) + seconds
    ranked = sorted(others.items(), key=lambda item: -item[1])
    shared = worst > SHARED_CPU_SHARE
    if shared:
        names = ", ".join(f"`{n}`" for n, _ in ranked[:3])
        summary = (f"**The machine was shared with other work during the run**: other "
                   f"processes used up to {worst:.0%} of its CPU in a load phase ({names}), so "
                   f"these figures are lower than on an idle machine.")
    else:
        summary = f"The machine was otherwise idle (other processes <= {worst:.0%} of its CPU)."
    return {"shared": shared, "worst_other_cpu_share": worst, "summary": summary,
            "other_processes_cpu_s": {k: round(v, 1) for k, v in ranked[:6]}}


# --- Main ----------------------------------------------------------------------------------


def production_endpoints_note(stores: str) -> str:
    if stores == "production":
        return ("Measured on endpoints.production.yml as it was at the time of the run, with a "
                "throwaway PostgreSQL cluster and redis-server started by the benchmark.")
    if (ROOT / "endpoints.production.yml").exists():
        return ("endpoints.production.yml exists but was not used (no PostgreSQL, or "
                "--stores redis): measured with Rasa's Redis tracker store and Redis lock store "
                "(build/bench/endpoints.*.yml) on a redis-server started for the run.")
    return ("endpoints.production.yml was not there when this ran: measured with Rasa's Redis "
            "tracker store and Redis lock store (build/bench/endpoints.*.yml) on a "
            "redis-server started for the run, on a free loopback port.")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--quick", action="store_true",
                        help="short phases (a smoke run; figures are rough)")
    parser.add_argument("--config", type=Path, default=ROOT / "config.yml",
                        help="train this bot with another config (a variant to compare); "
                             "results then go to results/bench-LABEL.*")
    parser.add_argument("--credentials", type=Path, default=ROOT / "credentials.yml",
                        help="serve this bot with another credentials file (another channel)")
    parser.add_argument("--label", default=None, help="name of the run (default: from --config)")
    parser.add_argument("--skip-training", action="store_true",
                        help="reuse the models already in build/bench (no training times)")
    parser.add_argument("--model", type=Path, default=None,
                        help="serve this model of this bot instead of training one")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--stores", choices=("auto", "production", "redis", "none"),
                        default="auto",
                        help="the scale-out setups (one and two servers): endpoints.production.yml "
                             "on a throwaway PostgreSQL and Redis ('production'), Rasa's Redis "
                             "tracker and lock stores ('redis'), or none; 'auto' (default): "
                             "production when endpoints.production.yml and PostgreSQL are there")
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--only", default="",
                        help="measure only these setups (comma-separated names, e.g. triage)")
    parser.add_argument("--profile-setup", default="",
                        help="profile this setup (default: this bot, one process, in memory)")
    args = parser.parse_args(argv)

    config = args.config.resolve()
    default_config = config == (ROOT / "config.yml").resolve()
    default_credentials = args.credentials.resolve() == (ROOT / "credentials.yml").resolve()
    label = args.label or ("bench" if default_config and default_credentials else
                           f"bench-{config.stem}" if not default_config else
                           f"bench-{args.credentials.stem}")
    name = "triage" if default_config else f"triage-{config.stem}"
    durations = Durations(3, 10, 5, 15, 12) if args.quick else Durations()
    started_at = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    say(f"make bench: {label}; results in results/{label}.json and .md")
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    info = machine_info()

    training: dict[str, float] = {}
    models: dict[str, Path] = {}
    if not args.no_baseline:
        baseline_model = BASELINE_DIR / "models" / "baseline.tar.gz"
        if args.skip_training and baseline_model.exists():
            models["baseline"] = baseline_model
        else:
            models["baseline"], training["baseline"] = train_baseline()
            say(f"  baseline trained in {training['baseline']:.1f} s")
    if args.model is not None:
        models["triage"] = args.model.resolve()
    else:
        out = BENCH_DIR / ("models" if default_config else "variants")
        model = out / f"{name}.tar.gz"
        if args.skip_training and model.exists():
            models["triage"] = model
        else:
            models["triage"], training["triage"] = train_triage(config, out, name)
            say(f"  this bot trained in {training['triage']:.1f} s")

    setups: list[Setup] = []
    if "baseline" in models:
        setups.append(Setup("baseline", "default `rasa init` bot, one process", "baseline",
                            models["baseline"]))
    setups.append(Setup(name, "this bot, one process, in-memory stores (make run)", "triage",
                        models["triage"]))
    stores = args.stores
    if stores == "auto":
        stores = ("production" if (ROOT / "endpoints.production.yml").exists()
                  and postgres_bin() is not None else "redis")
    scale_names: tuple[str, str] | None = None
    if stores != "none":
        production = stores == "production"
        tag, what = ("prod", "endpoints.production.yml (PostgreSQL tracker, Redis lock)") \
            if production else ("redis", "Redis tracker + lock stores")
        scale_names = (f"{name}-{tag}", f"{name}-{tag}-2s")
        setups.append(Setup(scale_names[0], f"this bot, one Rasa server, {what}", "triage",
                            models["triage"], redis=True, production=production))
        # Two servers on their own ports (RASA_SERVERS=2), not SANIC_WORKERS=2: workers share
        # one port, and the kernel can hand every long-lived connection to the same worker
        # (a quick run gave 46 messages/s against 109 the next time).
        setups.append(Setup(scale_names[1], f"this bot, two Rasa servers, {what}", "triage",
                            models["triage"], redis=True, production=production, servers=2))

    profiled = next((x for x in setups if x.name == (args.profile_setup or name)), None)
    if args.only:
        setups = [x for x in setups if x.name in args.only.split(",")]
    redis = Redis() if stores != "none" else None
    bin_dir = postgres_bin()
    postgres = Postgres(bin_dir) if stores == "production" and bin_dir is not None else None
    bench = Bench(durations, redis, postgres, args.credentials.resolve())
    measurements: list[Measurement] = []
    errors: dict[str, str] = {}
    profile: dict[str, Any] | None = None
    try:
        if redis is not None:
            redis.start()
        if postgres is not None:
            postgres.start()
        for setup in setups:
            try:
                measurements.append(bench.measure(setup))
            except (RuntimeError, TimeoutError) as error:  # the others still run
                errors[setup.name] = str(error)
                say(f"[{setup.name}] FAILED: {error}")
        if not args.no_profile and profiled is not None:
            profile = bench.profile(profiled)
    finally:
        bench.stop_actions()
        if redis is not None:
            redis.stop()
        if postgres is not None:
            postgres.stop()

    by_name = {x.setup: x for x in measurements}
    baseline = by_name.get("baseline")
    results: dict[str, Any] = {
        "label": label,
        "started": started_at,
        "finished": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "machine": info,
        "git": git_state(),
        "config": str(config.relative_to(ROOT)) if config.is_relative_to(ROOT) else str(config),
        "credentials": str(args.credentials),
        "environment": {k: v for k, v in os.environ.items()
                        if k.startswith(("SANIC_", "MALLOC_", "TF_", "OMP_", "RASA_"))},
        "models": {k: {"path": str(v), "sha256_16": sha256(v), "mb": round(
            v.stat().st_size / 1e6, 1)} for k, v in models.items()},
        "durations": asdict(durations),
        "users": USERS,
        "training_s": {k: round(v, 1) for k, v in training.items()},
        "measurements": [asdict(x) for x in measurements],
        "sharing": sharing_summary(measurements),
        "targets": [t for x in measurements if x.bot == "triage" for t in targets(x, baseline)],
        "profile": profile,
        "errors": errors,
    }
    one, two = (by_name.get(scale_names[0]), by_name.get(scale_names[1])) if scale_names \
        else (None, None)
    if one and two:
        scale = ratio(two.concurrent.throughput, one.concurrent.throughput)
        vs_base = ratio(two.concurrent.throughput,
                        baseline.concurrent.throughput if baseline else None)
        results["scaling"] = {
            "two_servers_over_one": scale,
            "two_servers_over_baseline": vs_base,
            "summary": (
                f"Two Rasa servers on {two.stores}: {two.concurrent.throughput:.1f} msg/s at "
                f"{USERS} users (p95 {two.concurrent.p95_ms:.0f} ms), {fmt(scale, 2)}x one "
                f"server on the same stores ({one.concurrent.throughput:.1f} msg/s)"
                + (f" and {fmt(vs_base, 2)}x the baseline" if vs_base else "")
                + f"; peak RSS {two.peak_rss_mb:.0f} MB over {two.peak_processes} processes, "
                + f"the largest {two.peak_process_rss_mb:.0f} MB. "
                + production_endpoints_note(stores)),
        }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / f"{label}.json").write_text(json.dumps(results, indent=2) + "\n",
                                               encoding="utf-8")
    report = render(results)
    (RESULTS_DIR / f"{label}.md").write_text(report, encoding="utf-8")
    say("\n" + report)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "client":
        client_main(sys.argv[2])
    else:
        main()
