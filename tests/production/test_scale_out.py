"""Two Rasa servers sharing PostgreSQL and Redis (endpoints.production.yml), with one action
server: 200 conversations at once, each turn to the other server than the turn before, while
Redis and then one Rasa server are restarted.

What users and operators would notice is checked: every conversation gets the same answers, in
the same order, as the same conversation alone on a quiet server; the events table holds each
user message exactly once, in order; the servers' output at the default log level holds no
word that a user typed.

When a turn may be sent again (the retry rule): only when the first try cannot have been
handled. That is (1) the connection was refused (the server is down, so it never got the
message) or (2) the answer is the channel's static "no reply" (addons/channel.py): the turn
failed before the bot said anything, and Rasa saves a turn only after it has run, so nothing
was stored (this is what a turn gets while Redis, the lock store, is down). The retry goes to
the other server. A request that was sent and then lost its connection is ambiguous: B is
stopped with SIGTERM, under which Sanic finishes the turns it has started and drops the
connections of those it has not, so these are retried too, and the events table check shows
that none was handled twice. A client never gives up before its server does (see _load).
"""

from __future__ import annotations

import asyncio
import json
import random
import secrets
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from scripts.serve import ROOT, BotServers
from scripts.services import Postgres, Redis, free_port

pytestmark = pytest.mark.production

CONVERSATIONS = 200
TURN_DEADLINE_SECONDS = 180.0
# The word every conversation types once: it must never appear in the servers' output.
WORD = "quillfen" + secrets.token_hex(3)
# Eight turns each; the typed ones go through the NLU, the others are button payloads.
SCRIPTS = [
    ["hi", f"i think the lads at the car wash on {WORD} road are being kept there", "/deny",
     "/ask_resources", "/resource_care_pathways", "/more_resources", "/ask_signs", "/restart"],
    [f"my boss {WORD} has my passport and i can't leave", "/deny", "/ask_nrm",
     "/nrm_how_to_refer", "/ask_resources", "/resource_legal", "/talk_to_person", "/goodbye"],
    ["hello", "/report_self", "/affirm", "/safe_now", f"i live in glasgow and my name is {WORD}",
     "/ask_resources", "/resource_survivor_support", "/more_resources"],
]
# Turns 0-3 run while Redis and then server B restart; turns 4-5 only once B is down, and B
# starts again only when every conversation has had them (so one of the two goes to B, is
# refused and goes to A); turns 6-7 only once B is back.
WHILE_B_IS_DOWN = 4
AFTER_B_IS_BACK = 6
# The channel's answer to a turn that failed before the bot said anything.
NO_REPLY_TEXT = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))[
    "responses"]["utter_no_reply"][0]["text"]


def _answer(replies: Any) -> list[tuple[str, str]]:
    """What the user sees of one answer: each message's text and buttons."""
    assert isinstance(replies, list)
    return [(r.get("text", ""), json.dumps(r.get("buttons"))) for r in replies]


@dataclass
class Run:
    """Shared state of one load run, and what happened."""

    urls: list[str]
    b_down: asyncio.Event = field(default_factory=asyncio.Event)
    b_back: asyncio.Event = field(default_factory=asyncio.Event)
    turns_done: int = 0
    before_b_back: int = 0  # conversations waiting for B to come back (or finished)
    phase: str = "before"
    retries: Counter[str] = field(default_factory=Counter)
    served: Counter[tuple[str, int]] = field(default_factory=Counter)  # (phase, server)
    started: float = field(default_factory=time.monotonic)
    # Every try, for the failure report: sender, text, server, outcome, start and end (s).
    tries: list[tuple[str, str, int, str, float, float]] = field(default_factory=list)


async def _send(
    client: aiohttp.ClientSession, url: str, sender: str, text: str
) -> tuple[str, Any]:
    """One try: ("ok", replies), or the kind of failure."""
    try:
        async with client.post(url, json={"sender": sender, "message": text}) as response:
            if response.status != 200:
                return f"status {response.status}", None
            replies = await response.json()
    except aiohttp.ClientConnectorError:
        return "refused", None
    except (aiohttp.ClientError, asyncio.TimeoutError):
        return "ambiguous", None
    if replies and replies[0].get("text") == NO_REPLY_TEXT:
        return "no reply", None
    return "ok", replies


async def _turn(
    client: aiohttp.ClientSession, run: Run, server: int, sender: str, text: str
) -> list[tuple[str, str]]:
    deadline = time.monotonic() + TURN_DEADLINE_SECONDS
    while True:
        began = time.monotonic() - run.started
        outcome, replies = await _send(client, run.urls[server], sender, text)
        run.tries.append(
            (sender, text, server, outcome, began, time.monotonic() - run.started))
        if outcome == "ok":
            run.served[(run.phase, server)] += 1
            return _answer(replies)
        run.retries[outcome] += 1
        if time.monotonic() > deadline:
            raise AssertionError(f"no answer to a turn within {TURN_DEADLINE_SECONDS:.0f} s")
        server = 1 - server  # the retry rule: see the module docstring
        await asyncio.sleep(0.2)


async def _conversation(
    client: aiohttp.ClientSession, run: Run, number: int, sender: str, script: list[str]
) -> list[list[tuple[str, str]]]:
    await asyncio.sleep(random.uniform(0, 2))  # people do not all arrive in the same instant
    answers = []
    for index, text in enumerate(script):
        if index == WHILE_B_IS_DOWN:
            await run.b_down.wait()
        if index == AFTER_B_IS_BACK:
            run.before_b_back += 1
            await run.b_back.wait()
        answers.append(await _turn(client, run, (number + index) % 2, sender, text))
        run.turns_done += 1
        await asyncio.sleep(random.uniform(0.05, 0.4))  # reading, typing
    return answers


async def _chaos(run: Run, bot: BotServers, port_b: int, redis_server: Redis) -> None:
    """Restarts Redis while turns are under way, then server B."""
    while run.turns_done < CONVERSATIONS:
        await asyncio.sleep(0.05)
    run.phase = "redis restart"
    _mark(run, "stopping Redis")
    await asyncio.to_thread(redis_server.stop)
    await asyncio.sleep(1.0)
    await asyncio.to_thread(redis_server.start)
    _mark(run, "Redis started")
    run.phase = "b down"
    await asyncio.to_thread(bot.stop_rasa, port_b)
    _mark(run, "B stopped")
    run.b_down.set()
    while run.before_b_back < CONVERSATIONS:
        await asyncio.sleep(0.05)
    await asyncio.to_thread(bot.start_rasa, port_b)
    await asyncio.to_thread(bot.wait_ready)
    _mark(run, "B ready")
    run.phase = "after"
    run.b_back.set()


def _mark(run: Run, what: str) -> None:
    now = time.monotonic() - run.started
    run.tries.append(("-", what, -1, "-", now, now))


async def _load(
    bot: BotServers, port_b: int, redis_server: Redis, senders: list[str]
) -> tuple[list[list[list[tuple[str, str]]]], Run, list[list[list[tuple[str, str]]]]]:
    run = Run(urls=bot.webhook_urls)
    # Longer than Sanic's response timeout (60 s): a client never gives up on a turn that its
    # server is still working on.
    timeout = aiohttp.ClientTimeout(total=90)
    connector = aiohttp.TCPConnector(limit=0, force_close=True)  # a new connection each turn
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as client:
        # The expected answers: each script alone, on a quiet server A.
        reference = []
        for number, script in enumerate(SCRIPTS):
            sender = f"reference-{number}-{secrets.token_hex(8)}"
            reference.append([await _turn(client, run, 0, sender, t) for t in script])
        run.served.clear()
        chaos = asyncio.create_task(_chaos(run, bot, port_b, redis_server))
        results = await asyncio.gather(*(
            _conversation(client, run, n, sender, SCRIPTS[n % len(SCRIPTS)])
            for n, sender in enumerate(senders)
        ))
        await chaos
    return list(results), run, reference


@pytest.fixture(scope="module")
def stack(
    postgres: Postgres, redis_server: Redis, log_dir: Path
) -> Iterator[tuple[BotServers, int, str]]:
    """Two Rasa servers and one action server, started as `make run-production` would,
    with everything they print (at the default log level) in build/production/scale-out.log."""
    env = {**postgres.create_database("scale_out"), **redis_server.env}
    port_a, port_b = free_port(), free_port()
    log_path = log_dir / "scale-out.log"
    with log_path.open("w") as log, BotServers(
        rasa_port=port_a, rasa_ports=[port_b], actions_port=free_port(), log=log,
        endpoints=ROOT / "endpoints.production.yml", env=env, workdir=log_dir,
    ) as bot:
        yield bot, port_b, str(log_path)


def test_200_conversations_across_two_servers_survive_restarts(
    stack: tuple[BotServers, int, str], postgres: Postgres, redis_server: Redis, log_dir: Path
) -> None:
    bot, port_b, log_path = stack
    senders = [f"load-{n}-{secrets.token_hex(8)}" for n in range(CONVERSATIONS)]
    started = time.monotonic()
    results, run, reference = asyncio.run(_load(bot, port_b, redis_server, senders))
    elapsed = time.monotonic() - started

    # Every conversation got every answer, in order, as on a quiet server.
    for script_number, answers in enumerate(reference):
        assert all(answer for answer in answers), f"script {script_number}: an empty answer"
    for n, answers in enumerate(results):
        assert answers == reference[n % len(SCRIPTS)], f"conversation {n} ({senders[n]})"

    # Both servers answered before the restarts; A alone while B was down; both again after.
    assert run.served[("before", 0)] > 0 and run.served[("before", 1)] > 0
    assert run.served[("b down", 0)] >= 2 * CONVERSATIONS  # turns 4-5 of every conversation
    assert run.served[("after", 0)] > 0 and run.served[("after", 1)] > 0
    # The restarts hit live traffic: turns were refused by B, and failed without Redis.
    assert run.retries["refused"] >= CONVERSATIONS
    assert run.retries["no reply"] > 0
    assert redis_server.starts == 2
    assert int(redis_server.client().info("stats")["total_commands_processed"]) > CONVERSATIONS

    print(f"\n{CONVERSATIONS} conversations in {elapsed:.0f} s; retries: {dict(run.retries)}; "
          f"served (phase, server): {dict(run.served)}")

    # The tracker store holds each user message exactly once, in order.
    rows = postgres.query(
        "scale_out",
        "SELECT sender_id, data FROM events WHERE type_name = 'user' AND sender_id LIKE 'load-%%' "
        "ORDER BY id",
    )
    stored: dict[str, list[str]] = defaultdict(list)
    for sender, data in rows:
        stored[sender].append(json.loads(data)["text"])
    wrong = [s for n, s in enumerate(senders) if stored[s] != SCRIPTS[n % len(SCRIPTS)]]
    if wrong:
        _report(postgres, run, wrong[:5], log_dir)
    assert len(stored) == CONVERSATIONS
    assert not wrong, f"{len(wrong)} stored wrongly: see {log_dir}/scale-out-failure.txt"

    # The servers' output (default log level) shows they ran, and holds nothing users typed.
    output = Path(log_path).read_text(encoding="utf-8", errors="replace")
    assert "Rasa server is up and running" in output
    assert "Action endpoint is up and running" in output
    assert WORD not in output
    assert "car wash" not in output and "passport" not in output


def _report(postgres: Postgres, run: Run, senders: list[str], log_dir: Path) -> None:
    """Every try and every stored event of some wrongly stored conversations."""
    lines = []
    for sender in senders:
        lines.append(f"== {sender}")
        lines += [f"  try {r[4]:7.2f}-{r[5]:7.2f} server {r[2]} {r[3]:<10} {r[1]}"
                  for r in run.tries if r[0] in (sender, "-")]
        for row in postgres.query(
            "scale_out", "SELECT id, timestamp, type_name, intent_name, action_name FROM events "
            "WHERE sender_id = %s ORDER BY id", sender,
        ):
            lines.append(f"  event {row}")
    (log_dir / "scale-out-failure.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
