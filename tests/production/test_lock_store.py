"""The production lock store (addons/lock_store.py) on a real Redis: Rasa's ticket locks in
Rasa's format, one Redis call to take a lock and one to give it back, one message of a
conversation at a time across servers, and servers with Rasa's own RedisLockStore alongside."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from functools import partial
from types import SimpleNamespace
from typing import Any

import pytest
import rasa.core.lock
from rasa.core.lock_store import RedisLockStore
from rasa.utils.endpoints import EndpointConfig

from addons.lock_store import AtomicRedisLockStore
from scripts.services import Redis

pytestmark = pytest.mark.production


@pytest.fixture
def stores(redis_server: Redis) -> Iterator[dict[str, Any]]:
    env = redis_server.env
    settings = {"host": env["REDIS_HOST"], "port": env["REDIS_PORT"], "db": 3,
                "password": env["REDIS_PASSWORD"]}
    made = {
        # As Rasa creates it from endpoints.production.yml.
        "ours": AtomicRedisLockStore(endpoint_config=EndpointConfig(
            url=settings["host"], port=settings["port"], db=settings["db"],
            password=settings["password"])),
        "ours_too": AtomicRedisLockStore(**settings),
        "rasa": RedisLockStore(**settings),
    }
    yield made
    made["rasa"].red.flushdb()


def conversation() -> str:
    return str(uuid.uuid4())


async def test_a_lock_is_one_call_to_take_and_one_to_give_back(
    stores: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    ours = stores["ours"]
    sender = conversation()
    async with ours.lock(sender):  # loads the scripts into Redis
        pass
    sent: list[str] = []
    send = ours.red.execute_command

    def counted(*args: Any, **options: Any) -> Any:
        sent.append(str(args[0]))
        return send(*args, **options)

    monkeypatch.setattr(ours.red, "execute_command", counted)
    async with ours.lock(sender) as lock:
        # Rasa's format, readable by Rasa's store.
        seen = stores["rasa"].get_lock(sender)
        assert seen is not None and seen.conversation_id == sender
        assert [t.number for t in seen.tickets] == [t.number for t in lock.tickets] == [0]
        assert not seen.is_locked(0)
    assert sent == ["EVALSHA", "EVALSHA"]
    assert ours.red.exists(ours.key_prefix + sender) == 0  # given back


@pytest.mark.parametrize("second", ["ours_too", "rasa"])
async def test_one_message_of_a_conversation_at_a_time_across_servers(
    stores: dict[str, Any], second: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two servers (ours and another: ours or Rasa's own store) answer messages of the same
    conversation at once: each waits for the other's lock, in ticket order.

    No sleeps order them: each message asks for the lock only once the one before has its
    ticket, and each holds the lock until every message still waiting has found it taken
    (read it in Rasa's waiting loop) while it held it."""
    sender = conversation()
    servers = ["ours", second, "ours", second]
    answering: ContextVar[int] = ContextVar("answering")  # which message a call is for
    tickets: dict[int, int] = {}  # message -> its ticket: once waiting for the lock, or in it
    waiting: set[int] = set()  # messages inside Rasa's waiting loop (_acquire_lock)
    looks: Counter[int] = Counter()  # message -> reads of the lock in that loop
    finished: set[int] = set()
    progress = asyncio.Event()  # set at each change of the above
    inside: list[str] = []
    order: list[str] = []

    def note() -> None:
        progress.set()

    async def until(condition: Callable[[], bool]) -> None:
        while not condition():
            progress.clear()
            await progress.wait()

    for store in {id(stores[name]): stores[name] for name in servers}.values():
        # Both stores wait in Rasa's loop, LockStore._acquire_lock (given the ticket), which
        # reads the lock with get_lock; the wrappers only record, then call the store's own.
        def watched_get_lock(conversation_id: str, get_lock: Any = store.get_lock) -> Any:
            lock = get_lock(conversation_id)
            number = answering.get(None)
            if number in waiting:
                looks[number] += 1
                note()
            return lock

        async def watched_acquire_lock(
            conversation_id: str, ticket: int, wait_time_in_seconds: float,
            acquire: Any = store._acquire_lock,
        ) -> Any:
            number = answering.get()
            tickets[number] = ticket
            waiting.add(number)
            note()
            try:
                return await acquire(conversation_id, ticket, wait_time_in_seconds)
            finally:
                waiting.discard(number)

        monkeypatch.setattr(store, "get_lock", watched_get_lock)
        monkeypatch.setattr(store, "_acquire_lock", watched_acquire_lock)

    def all_others_looked(me: int, before: Counter[int]) -> bool:
        return all(other in finished or (other in tickets and looks[other] > before[other])
                   for other in range(len(servers)) if other != me)

    async def answer(number: int, server: str) -> None:
        answering.set(number)
        try:
            async with stores[server].lock(sender, wait_time_in_seconds=0.01) as lock:
                tickets.setdefault(number, lock.now_serving)  # ours takes a free lock at once
                note()
                assert not inside, f"{server} got the lock while {inside} held it"
                inside.append(server)
                order.append(server)
                before = looks.copy()
                await until(lambda: all_others_looked(number, before))
                inside.remove(server)
        finally:
            finished.add(number)
            note()

    def has_ticket(number: int) -> bool:
        return number in tickets or number in finished

    async def run() -> None:
        answers = []
        for number, server in enumerate(servers):
            answers.append(asyncio.create_task(answer(number, server)))
            await until(partial(has_ticket, number))
        await asyncio.gather(*answers)

    # A guard only, far above the time the messages take (the lock is polled every 10 ms):
    # a store that never hands the lock on fails here instead of hanging.
    await asyncio.wait_for(run(), timeout=30)
    assert tickets == {0: 0, 1: 1, 2: 2, 3: 3}  # asked for in this order
    assert order == ["ours", second, "ours", second]
    assert stores["rasa"].get_lock(sender) is None  # the last one gave it back


async def test_expired_tickets_do_not_block(
    stores: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that died holding a lock: its ticket expires, and the next message goes on."""
    sender = conversation()
    # The dead server's two tickets, issued by Rasa's code 10 s ago (Rasa's clock turned back
    # while it issues them) for 0.05 s each: expired now, with no sleep to wait for it.
    with monkeypatch.context() as past:
        past.setattr(rasa.core.lock, "time", SimpleNamespace(time=lambda: time.time() - 10))
        stores["rasa"].issue_ticket(sender, lock_lifetime=0.05)
        stores["rasa"].issue_ticket(sender, lock_lifetime=0.05)
    left = stores["rasa"].get_lock(sender)
    assert left is not None and [t.number for t in left.tickets] == [0, 1]
    assert all(t.has_expired() for t in left.tickets)
    ours = stores["ours"]
    waits: list[int] = []
    acquire = ours._acquire_lock

    async def watched_acquire_lock(conversation_id: str, ticket: int, wait: float) -> Any:
        waits.append(ticket)
        return await acquire(conversation_id, ticket, wait)

    monkeypatch.setattr(ours, "_acquire_lock", watched_acquire_lock)
    started = time.monotonic()
    async with ours.lock(sender, wait_time_in_seconds=5) as lock:
        assert len(lock.tickets) == 1 and not lock.is_locked(lock.tickets[0].number)
    assert waits == []  # it did not wait for the lock (Rasa's waiting loop)...
    assert time.monotonic() - started < 1  # ...nor sleep (a wait sleeps 5 s)
    assert stores["rasa"].get_lock(sender) is None


async def test_a_waiting_ticket_is_kept_when_a_lock_is_given_back(
    stores: dict[str, Any]
) -> None:
    sender = conversation()
    ours = stores["ours"]
    async with ours.lock(sender):
        waiting = stores["rasa"].issue_ticket(sender)
    stored = json.loads(ours.red.get(ours.key_prefix + sender))
    assert stored["conversation_id"] == sender
    assert [json.loads(t)["number"] for t in stored["tickets"]] == [waiting]
    lock = stores["rasa"].get_lock(sender)
    assert lock is not None and not lock.is_locked(waiting)
