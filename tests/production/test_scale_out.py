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

Nothing is ordered by sleeping: the restarts start once enough turns are done, and B starts
again once every conversation has had its turns without it (events set by the conversations);
Redis stops only once a turn is in flight on A, held at a known point (waiting for its
conversation's lock, which the test holds), and starts again only once that turn, and a new one
sent to B, have been answered without it. The only sleeps are the users' own pauses (seeded),
and a pause before a retry.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from rasa.core.lock_store import RedisLockStore

from scripts.serve import ROOT, BotServers
from scripts.services import Postgres, Redis, free_port

pytestmark = pytest.mark.production

CONVERSATIONS = 200
TURN_DEADLINE_SECONDS = 180.0
# Every random choice of the test (the word, the ids, the users' pauses) comes from this seed,
# so each run sends the same messages with the same pauses.
SEED = 20_240_613
_RANDOM = random.Random(SEED)
# The word every conversation types once: it must never appear in the servers' output.
WORD = f"quillfen{_RANDOM.getrandbits(24):06x}"
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
# The two conversations that start while Redis is down (see _redis_outage): their first
# message, as script 0's.
OUTAGE_TEXT = SCRIPTS[0][0]
# The channel's answer to a turn that failed before the bot said anything.
NO_REPLY = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))[
    "responses"]["utter_no_reply"][0]
NO_REPLY_TEXT = NO_REPLY["text"]


def _answer(replies: Any) -> list[tuple[str, str]]:
    """What the user sees of one answer: each message's text and buttons."""
    assert isinstance(replies, list)
    return [(r.get("text", ""), json.dumps(r.get("buttons"))) for r in replies]


@dataclass
class Run:
    """Shared state of one load run, and what happened."""

    urls: list[str]
    under_way: asyncio.Event = field(default_factory=asyncio.Event)  # CONVERSATIONS turns done
    b_down: asyncio.Event = field(default_factory=asyncio.Event)
    all_before_b_back: asyncio.Event = field(default_factory=asyncio.Event)
    b_back: asyncio.Event = field(default_factory=asyncio.Event)
    turns_done: int = 0
    before_b_back: int = 0  # conversations waiting for B to come back (or finished)
    phase: str = "before"
    # The turns of _redis_outage: (what, sender, server, outcome, what the user got).
    outage: list[tuple[str, str, int, str, list[tuple[str, str]]]] = field(default_factory=list)
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
        return "no reply", replies
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
        # The user's pause before sending again (as the chat page's), not a synchronisation:
        # no server waits for it, and the turn is sent again until it is answered.
        await asyncio.sleep(0.2)


async def _conversation(
    client: aiohttp.ClientSession, run: Run, number: int, sender: str, script: list[str]
) -> list[list[tuple[str, str]]]:
    # The users' pauses: load shaping, not synchronisation (the restarts wait for events);
    # seeded per conversation, so each has the same pauses on every run.
    pauses = random.Random(f"{SEED}:{number}")
    await asyncio.sleep(pauses.uniform(0, 2))  # people do not all arrive in the same instant
    answers = []
    for index, text in enumerate(script):
        if index == WHILE_B_IS_DOWN:
            await run.b_down.wait()
        if index == AFTER_B_IS_BACK:
            run.before_b_back += 1
            if run.before_b_back == CONVERSATIONS:
                run.all_before_b_back.set()
            await run.b_back.wait()
        answers.append(await _turn(client, run, (number + index) % 2, sender, text))
        run.turns_done += 1
        if run.turns_done == CONVERSATIONS:
            run.under_way.set()
        await asyncio.sleep(pauses.uniform(0.05, 0.4))  # reading, typing
    return answers


async def _until(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    """Waits for a state that only another process changes (a server's ticket in Redis): it
    cannot be awaited, so it is read every 20 ms; `timeout` only bounds a failure."""
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(condition):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what}")
        await asyncio.sleep(0.02)


async def _redis_outage(
    client: aiohttp.ClientSession, run: Run, redis_server: Redis, senders: list[str]
) -> None:
    """Stops Redis while a turn is in flight, held at a known point, and starts it again once
    the users of that turn and of a turn sent during the outage have their answers.

    The held turn: the test takes the lock of a new conversation (a ticket, as a server
    answering another of its messages would), then sends a message of it to A. A takes the
    next ticket and waits for the lock, reading it every second; once its ticket is in Redis,
    the test stops Redis, and A's next read fails. Then a new conversation's message goes to
    B, with Redis down. After Redis is back, each is sent again to the other server (the
    retry rule) and answered."""
    held, fresh = senders
    env = redis_server.env
    locks = RedisLockStore(host=env["REDIS_HOST"], port=int(env["REDIS_PORT"]),
                           db=int(env["REDIS_DB"]), password=env["REDIS_PASSWORD"])
    # Ours outlives the outage (Redis keeps nothing across its restart).
    await asyncio.to_thread(locks.issue_ticket, held, TURN_DEADLINE_SECONDS)
    in_flight = asyncio.create_task(_send(client, run.urls[0], held, OUTAGE_TEXT))

    def a_waits() -> bool:
        lock = locks.get_lock(held)
        return lock is not None and [t.number for t in lock.tickets] == [0, 1]

    await _until(a_waits, "server A waiting for the lock of the held turn (its ticket)")
    _mark(run, "stopping Redis")
    await asyncio.to_thread(redis_server.stop)
    _mark(run, "Redis stopped")
    during = asyncio.create_task(_send(client, run.urls[1], fresh, OUTAGE_TEXT))
    for what, sender, server, sending in [("held", held, 0, in_flight),
                                          ("during", fresh, 1, during)]:
        outcome, replies = await sending
        run.outage.append((what, sender, server, outcome, _answer(replies or [])))
        run.retries[outcome] += 1  # sent again below, once Redis is back
    await asyncio.to_thread(redis_server.start)
    _mark(run, "Redis started")
    for _, sender, server, _, _ in list(run.outage):
        outcome, replies = await _send(client, run.urls[1 - server], sender, OUTAGE_TEXT)
        run.outage.append(("after", sender, 1 - server, outcome, _answer(replies or [])))


async def _chaos(
    client: aiohttp.ClientSession, run: Run, bot: BotServers, port_b: int,
    redis_server: Redis, outage_senders: list[str],
) -> None:
    """Restarts Redis while turns are under way, then server B."""
    await run.under_way.wait()
    run.phase = "redis restart"
    await _redis_outage(client, run, redis_server, outage_senders)
    run.phase = "b down"
    await asyncio.to_thread(bot.stop_rasa, port_b)
    _mark(run, "B stopped")
    run.b_down.set()
    await run.all_before_b_back.wait()
    await asyncio.to_thread(bot.start_rasa, port_b)
    await asyncio.to_thread(bot.wait_ready)
    _mark(run, "B ready")
    run.phase = "after"
    run.b_back.set()


def _mark(run: Run, what: str) -> None:
    now = time.monotonic() - run.started
    run.tries.append(("-", what, -1, "-", now, now))


async def _load(
    bot: BotServers, port_b: int, redis_server: Redis, senders: list[str],
    outage_senders: list[str],
) -> tuple[list[list[list[tuple[str, str]]]], Run, list[list[list[tuple[str, str]]]]]:
    run = Run(urls=bot.webhook_urls)
    # Longer than Sanic's response timeout (25 s, scripts/serve.py): a client never gives up on a
    # turn that its server is still working on.
    timeout = aiohttp.ClientTimeout(total=90)
    connector = aiohttp.TCPConnector(limit=0, force_close=True)  # a new connection each turn
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as client:
        # The expected answers: each script alone, on a quiet server A.
        reference = []
        for number, script in enumerate(SCRIPTS):
            sender = f"reference-{number}-{_RANDOM.getrandbits(64):016x}"
            reference.append([await _turn(client, run, 0, sender, t) for t in script])
        run.served.clear()
        chaos = asyncio.create_task(
            _chaos(client, run, bot, port_b, redis_server, outage_senders))
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
    senders = [f"load-{n}-{_RANDOM.getrandbits(64):016x}" for n in range(CONVERSATIONS)]
    outage_senders = [f"outage-{what}-{_RANDOM.getrandbits(64):016x}"
                      for what in ("held", "during")]
    started = time.monotonic()
    results, run, reference = asyncio.run(
        _load(bot, port_b, redis_server, senders, outage_senders))
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
    # The restarts hit live traffic: turns were refused by B, and failed without Redis: the
    # turn in flight on A when Redis stopped and the one sent to B while it was down got the
    # static answer (999 and the helpline); sent again once it was back, the bot's answer.
    assert run.retries["refused"] >= CONVERSATIONS
    held, fresh = outage_senders
    assert "999" in NO_REPLY_TEXT and "08000 121 700" in NO_REPLY_TEXT
    assert run.outage == [
        ("held", held, 0, "no reply", _answer([NO_REPLY])),
        ("during", fresh, 1, "no reply", _answer([NO_REPLY])),
        ("after", held, 1, "ok", reference[0][0]),
        ("after", fresh, 0, "ok", reference[0][0]),
    ]
    assert run.retries["no reply"] >= 2
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
    # The turns that failed without Redis stored nothing: only the one sent again is stored.
    for sender in outage_senders:
        texts = [json.loads(data)["text"] for (data,) in postgres.query(
            "scale_out", "SELECT data FROM events WHERE type_name = 'user' AND sender_id = %s "
            "ORDER BY id", sender)]
        assert texts == [OUTAGE_TEXT], sender

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
