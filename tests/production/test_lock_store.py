"""The production lock store (addons/lock_store.py) on a real Redis: Rasa's ticket locks in
Rasa's format, one Redis call to take a lock and one to give it back, one message of a
conversation at a time across servers, and servers with Rasa's own RedisLockStore alongside."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
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
    stores: dict[str, Any], second: str
) -> None:
    """Two servers (ours and another: ours or Rasa's own store) answer messages of the same
    conversation at once: each waits for the other's lock, in ticket order."""
    sender = conversation()
    inside: list[str] = []
    order: list[str] = []

    async def answer(server: str, delay: float) -> None:
        await asyncio.sleep(delay)
        async with stores[server].lock(sender, wait_time_in_seconds=0.01):
            assert not inside, f"{server} got the lock while {inside} held it"
            inside.append(server)
            order.append(server)
            await asyncio.sleep(0.05)
            inside.remove(server)

    await asyncio.gather(
        answer("ours", 0), answer(second, 0.01), answer("ours", 0.02), answer(second, 0.03)
    )
    assert order == ["ours", second, "ours", second]
    assert stores["rasa"].get_lock(sender) is None  # the last one gave it back


async def test_expired_tickets_do_not_block(stores: dict[str, Any]) -> None:
    """A server that died holding a lock: its ticket expires, and the next message goes on."""
    sender = conversation()
    stores["rasa"].issue_ticket(sender, lock_lifetime=0.05)
    stores["rasa"].issue_ticket(sender, lock_lifetime=0.05)
    time.sleep(0.1)
    started = time.monotonic()
    async with stores["ours"].lock(sender, wait_time_in_seconds=5) as lock:
        assert len(lock.tickets) == 1 and not lock.is_locked(lock.tickets[0].number)
    assert time.monotonic() - started < 1  # it did not wait
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
