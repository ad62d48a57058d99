"""The page server's per-client limits (scripts/web.py, issue 17) against a fake Rasa, on a clock
the test moves: the token buckets at their edges, open conversations per address, the table of
conversations when full, X-Forwarded-For from an untrusted peer (ignored) and a trusted one
(used), and expiry. The flood tests with the real bot are in tests/e2e/test_flood.py."""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient as Client
from aiohttp.test_utils import TestServer as Server

import scripts.web as web_server
from scripts.web import CLIENTS, Limits, create_app
from tests.e2e.conftest import free_port
from tests.helpers import ROOT

IDLE_SECONDS = 30 * 60  # README: an id idle 30 minutes is refused
LOOPBACK = (ipaddress.ip_network("127.0.0.1/32"),)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(web_server, "time", SimpleNamespace(monotonic=clock.monotonic))
    return clock


class FakeRasa:
    def __init__(self) -> None:
        self.received: list[str] = []

    async def webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.received.append(body["message"])
        return web.json_response([{"text": "Is anyone in danger right now?"}])


@pytest.fixture
async def rasa() -> AsyncIterator[tuple[FakeRasa, str]]:
    fake = FakeRasa()
    app = web.Application()
    app.router.add_post("/webhooks/rest/webhook", fake.webhook)
    server = Server(app)
    await server.start_server()
    try:
        yield fake, str(server.make_url("/webhooks/rest/webhook"))
    finally:
        await server.close()


class Page:
    """The page server with the given limits; its test client connects from 127.0.0.1."""

    def __init__(self, webhook: str, **limits: Any) -> None:
        self.app = create_app(webhook, offered=[], limits=Limits(**limits))
        self.client = Client(Server(self.app))

    async def session(self, forwarded: str | None = None) -> tuple[int, str | None]:
        """(status, id or None)."""
        headers = {} if forwarded is None else {"X-Forwarded-For": forwarded}
        answer = await self.client.post("/api/session", headers=headers)
        body = await answer.json()
        return answer.status, body.get("id")

    async def say(self, sid: str | None, text: str = "hi",
                  forwarded: str | None = None) -> int:
        headers = {} if forwarded is None else {"X-Forwarded-For": forwarded}
        answer = await self.client.post("/api/message", json={"id": sid, "message": text},
                                        headers=headers)
        await answer.read()
        return answer.status

    async def refused(self, path: str, **kwargs: Any) -> tuple[int, str | None, Any]:
        """(status, Retry-After, JSON body) of one request."""
        answer = await self.client.post(path, **kwargs)
        return answer.status, answer.headers.get("Retry-After"), await answer.json()


@pytest.fixture
async def page(rasa: tuple[FakeRasa, str]) -> AsyncIterator[Any]:
    pages: list[Page] = []

    async def make(**limits: Any) -> Page:
        made = Page(rasa[1], **limits)
        await made.client.start_server()
        pages.append(made)
        return made

    yield make
    for made in pages:
        await made.client.close()


async def test_new_conversations_per_address_bucket_at_its_edges(page: Any, clock: Clock) -> None:
    """A burst of 3, then one every 10 seconds; 429 with Retry-After in between, and the
    page server's usual headers on it."""
    server = await page(sessions_burst=3, sessions_per_minute=6)
    assert [(await server.session())[0] for _ in range(3)] == [200, 200, 200]
    status, retry, body = await server.refused("/api/session")
    assert (status, retry) == (429, "10")
    assert body == {"error": "too many new conversations from this address"}
    clock.now += 9.5
    status, retry, _ = await server.refused("/api/session")
    assert (status, retry) == (429, "1")  # half a second left, said as a whole second
    clock.now += 0.5
    assert (await server.session())[0] == 200  # exactly 10 s after the burst: one more
    assert (await server.session())[0] == 429
    clock.now += 60
    # A minute refills 6, not more than the burst of 3: never more than the burst at once.
    assert [(await server.session())[0] for _ in range(4)] == [200, 200, 200, 429]
    answer = await server.client.post("/api/session")
    assert answer.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]


async def test_open_conversations_per_address(page: Any, clock: Clock) -> None:
    server = await page(open_sessions=2)
    _, first = await server.session()
    _, second = await server.session()
    status, retry, body = await server.refused("/api/session")
    assert (status, retry) == (429, "60")
    assert body == {"error": "too many open conversations from this address"}
    clock.now += IDLE_SECONDS - 1
    assert await server.say(first) == 200  # still open, and used again now
    clock.now += 2  # `second` has been idle just over 30 minutes: it ended
    assert await server.say(second) == 403
    status, third = await server.session()
    assert status == 200
    assert (await server.session())[0] == 429  # `first` and `third` are open
    assert await server.say(first) == 200 and await server.say(third) == 200


async def test_messages_per_conversation_bucket(
    page: Any, clock: Clock, rasa: tuple[FakeRasa, str],
) -> None:
    fake, _ = rasa
    server = await page(messages_burst=2, messages_per_minute=60)
    _, sid = await server.session()
    _, other = await server.session()
    assert [await server.say(sid, f"m{i}") for i in range(3)] == [200, 200, 429]
    status, retry, body = await server.refused(
        "/api/message", json={"id": sid, "message": "m3"})
    assert (status, retry) == (429, "1")
    assert body == {"error": "too many messages in this conversation"}
    assert await server.say(other, "o1") == 200  # another conversation has its own
    clock.now += 1
    assert await server.say(sid, "m4") == 200
    assert await server.say(sid, "m5") == 429
    assert fake.received == ["m0", "m1", "o1", "m4"]  # refused messages never reach Rasa


async def test_messages_per_address_bucket_counts_every_request(
    page: Any, clock: Clock, rasa: tuple[FakeRasa, str],
) -> None:
    """Unknown ids and broken bodies count too: a flood of them gets 429 as well."""
    fake, _ = rasa
    server = await page(address_messages_burst=4, address_messages_per_minute=60)
    _, sid = await server.session()
    _, other = await server.session()
    assert await server.say("not an id") == 403
    assert (await server.refused("/api/message", data=b"junk"))[0] == 400
    assert await server.say(sid) == 200
    assert await server.say(other) == 200
    status, retry, body = await server.refused(
        "/api/message", json={"id": sid, "message": "hi"})
    assert (status, retry, body) == (429, "1", {"error": "too many messages from this address"})
    assert await server.say("not an id") == 429
    clock.now += 1
    assert await server.say(other) == 200
    assert len(fake.received) == 3


async def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(page: Any, clock: Clock) -> None:
    """Without TRUSTED_PROXIES, a client cannot get a fresh bucket by naming another address."""
    server = await page(sessions_burst=2)
    assert (await server.session("203.0.113.1"))[0] == 200
    assert (await server.session("203.0.113.2"))[0] == 200
    assert (await server.session("203.0.113.3"))[0] == 429
    assert (await server.session())[0] == 429


async def test_x_forwarded_for_from_a_trusted_proxy_is_used(page: Any, clock: Clock) -> None:
    """Behind a trusted proxy (the test client is 127.0.0.1), each client has its own buckets:
    the last address the proxy added, never what a client wrote to the left of it."""
    server = await page(sessions_burst=2, trusted_proxies=LOOPBACK)
    assert [(await server.session("203.0.113.1"))[0] for _ in range(2)] == [200, 200]
    assert (await server.session("203.0.113.1"))[0] == 429
    assert (await server.session("198.51.100.9, 203.0.113.1"))[0] == 429  # left: the client's
    assert (await server.session("203.0.113.1, 127.0.0.1"))[0] == 429  # two proxies
    assert (await server.session("203.0.113.2"))[0] == 200  # another client
    assert (await server.session())[0] == 200  # no header: the proxy's own address
    assert (await server.session("not an address"))[0] == 200  # likewise
    assert (await server.session())[0] == 429  # ...which counted both
    # IPv6: one /64 is one client (one household or machine); the next /64 another.
    assert (await server.session("2001:db8::1"))[0] == 200
    assert (await server.session("2001:db8::ffff:2"))[0] == 200
    assert (await server.session("2001:db8::3"))[0] == 429
    assert (await server.session("2001:db8:0:1::1"))[0] == 200
    assert (await server.session("::ffff:203.0.113.2"))[0] == 200  # 203.0.113.2's second
    assert (await server.session("203.0.113.2"))[0] == 429


async def test_a_full_table_ends_the_longest_idle_conversation(page: Any, clock: Clock) -> None:
    """When MAX_SESSIONS are open, a new person still gets in: the conversation idle longest
    ends, and its address may open another."""
    server = await page(max_sessions=3, trusted_proxies=LOOPBACK, open_sessions=1)
    ids = []
    for client in ("203.0.113.1", "203.0.113.2", "203.0.113.3"):
        status, sid = await server.session(client)
        assert status == 200
        ids.append(sid)
        clock.now += 1
    assert await server.say(ids[0]) == 200  # the first is now the most recently used
    status, newest = await server.session("203.0.113.4")
    assert status == 200
    assert [await server.say(sid) for sid in ids] == [200, 403, 200]
    assert await server.say(newest) == 200
    assert (await server.session("203.0.113.2"))[0] == 200  # its one open conversation ended
    assert (await server.session("203.0.113.3"))[0] == 429  # still has its one open
    assert await server.say(ids[0]) == 403  # idle longest of the three: ended for .2's


async def test_addresses_are_kept_as_keyed_hashes_and_expire_with_their_buckets(
    page: Any, clock: Clock,
) -> None:
    server = await page(trusted_proxies=LOOPBACK, sessions_burst=2, sessions_per_minute=1)
    other = await page(trusted_proxies=LOOPBACK)
    clients = server.app[CLIENTS]
    _, sid = await server.session("203.0.113.7")
    await server.session("203.0.113.7")
    assert (await server.session("203.0.113.7"))[0] == 429
    await other.session("203.0.113.7")
    keys = list(clients._table)
    assert len(keys) == 1
    assert b"203.0.113.7" not in keys[0] and keys[0] != other.app[CLIENTS].key("203.0.113.7")
    # Kept while a conversation may be open and the bucket refills (2 minutes at 1 a minute).
    clock.now += IDLE_SECONDS + 119
    assert len(clients) == 1
    clock.now += 2
    assert len(clients) == 0
    assert await server.say(sid) == 403
    # Forgotten, it starts again with a full bucket, as a new address does: never more.
    assert [(await server.session("203.0.113.7"))[0] for _ in range(3)] == [200, 200, 429]


def test_limits_from_the_environment() -> None:
    assert Limits.from_env({}) == Limits()
    assert Limits() == Limits(
        sessions_per_minute=30, sessions_burst=60, open_sessions=300,
        address_messages_per_minute=300, address_messages_burst=30,
        messages_per_minute=60, messages_burst=20, max_sessions=100_000, trusted_proxies=(),
    )
    limits = Limits.from_env({
        "LIMIT_SESSIONS_PER_MINUTE": "12.5", "LIMIT_SESSIONS_BURST": "5",
        "LIMIT_OPEN_SESSIONS": "7", "LIMIT_ADDRESS_MESSAGES_PER_MINUTE": "90",
        "LIMIT_ADDRESS_MESSAGES_BURST": "9", "LIMIT_MESSAGES_PER_MINUTE": "30",
        "LIMIT_MESSAGES_BURST": "3", "MAX_SESSIONS": "1000",
        "TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8 ::1",
    })
    assert limits == Limits(
        sessions_per_minute=12.5, sessions_burst=5, open_sessions=7,
        address_messages_per_minute=90, address_messages_burst=9, messages_per_minute=30,
        messages_burst=3, max_sessions=1000,
        trusted_proxies=(ipaddress.ip_network("127.0.0.1/32"),
                         ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1/128")),
    )


@pytest.mark.parametrize(("name", "value"), [
    ("LIMIT_SESSIONS_BURST", "0"), ("LIMIT_SESSIONS_BURST", "2.5"),
    ("LIMIT_SESSIONS_PER_MINUTE", "-1"), ("LIMIT_MESSAGES_PER_MINUTE", "inf"),
    ("MAX_SESSIONS", "lots"), ("TRUSTED_PROXIES", "proxy.example.org"),
    ("TRUSTED_PROXIES", "10.0.0.0/33"),
])
def test_a_bad_limit_is_named(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=name):
        Limits.from_env({name: value})


def test_the_page_server_refuses_to_start_with_a_bad_limit() -> None:
    """README: a bad value stops the page server with a message naming it."""
    env = dict(os.environ, WEB_PORT=str(free_port()), LIMIT_OPEN_SESSIONS="many")
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "web.py")], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "LIMIT_OPEN_SESSIONS must be a positive int, not 'many'" in done.stderr


def test_make_run_names_a_bad_limit_before_starting_anything(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`make run` stops at once with the message, not with a page server that supervisord
    restarts until it gives up."""
    from scripts import serve
    from scripts.supervise import Supervisor

    monkeypatch.delenv("ENDPOINTS", raising=False)
    monkeypatch.delenv("RASA_SERVERS", raising=False)
    monkeypatch.setenv("LIMIT_OPEN_SESSIONS", "many")
    started: list[object] = []
    monkeypatch.setattr(Supervisor, "start", lambda self: started.append(self))
    with pytest.raises(SystemExit, match="LIMIT_OPEN_SESSIONS must be a positive int"):
        serve.main()
    assert started == []
