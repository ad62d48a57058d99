"""The load client, a separate process (asyncio + aiohttp): virtual users play whole
conversations, and it reports what it measured."""

from __future__ import annotations

import asyncio
import json
import random
import resource
import secrets
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from scripts.bench.mixes import MIXES
from scripts.bench.settings import ANSWERED, NO_REPLY_MARK, ROOT


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


# The load client's command (python -m scripts.bench client SPEC), run from the checkout.
CLIENT = [sys.executable, "-m", "scripts.bench", "client"]


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
        [*CLIENT, json.dumps(asdict(spec))],
        cwd=ROOT, capture_output=True, text=True, check=False,
        timeout=spec.warmup_s + spec.duration_s + spec.timeout_s + 60,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"load client failed:\n{completed.stderr[-3000:]}")
    data = json.loads(completed.stdout.strip().splitlines()[-1])
    return LoadResult(**data)
