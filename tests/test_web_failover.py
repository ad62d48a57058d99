"""The chat page server with several Rasa servers (production): turns go to each in turn, a
server that is down is skipped, and no message is ever sent twice."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient as Client
from aiohttp.test_utils import TestServer as Server

from scripts.web import create_app


class FakeRasa:
    def __init__(self, name: str, status: int = 200) -> None:
        self.name = name
        self.status = status
        self.received: list[str] = []

    async def webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.received.append(body["message"])
        return web.json_response([{"text": f"{self.name} got it"}], status=self.status)


async def _serve(fake: FakeRasa) -> tuple[Server, str]:
    app = web.Application()
    app.router.add_post("/webhooks/rest/webhook", fake.webhook)
    server = Server(app)
    await server.start_server()
    return server, str(server.make_url("/webhooks/rest/webhook"))


def _closed_port_url() -> str:
    """A loopback port nothing listens on: connecting is refused, as with a stopped server."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/webhooks/rest/webhook"


@pytest.fixture
async def two_rasas() -> AsyncIterator[tuple[FakeRasa, FakeRasa, str, str]]:
    a, b = FakeRasa("a"), FakeRasa("b")
    server_a, url_a = await _serve(a)
    server_b, url_b = await _serve(b)
    try:
        yield a, b, url_a, url_b
    finally:
        await server_a.close()
        await server_b.close()


async def _chat(webhooks: str, messages: list[str]) -> list[Any]:
    client = Client(Server(create_app(webhooks)))
    await client.start_server()
    try:
        sid = (await (await client.post("/api/session")).json())["id"]
        answers = []
        for message in messages:
            response = await client.post("/api/message", json={"id": sid, "message": message})
            answers.append((response.status, await response.json()))
        return answers
    finally:
        await client.close()


async def test_turns_go_to_each_server_in_turn(
    two_rasas: tuple[FakeRasa, FakeRasa, str, str],
) -> None:
    a, b, url_a, url_b = two_rasas
    answers = await _chat(f"{url_a}, {url_b}", ["one", "two", "three", "four"])
    assert [status for status, _ in answers] == [200] * 4
    assert a.received == ["one", "three"]
    assert b.received == ["two", "four"]


async def test_a_server_that_is_down_is_skipped(
    two_rasas: tuple[FakeRasa, FakeRasa, str, str],
) -> None:
    a, _, url_a, _ = two_rasas
    answers = await _chat(f"{_closed_port_url()},{url_a}", ["one", "two", "three"])
    assert answers == [(200, [{"text": "a got it"}])] * 3
    assert a.received == ["one", "two", "three"]  # each exactly once


async def test_an_error_after_delivery_is_not_sent_again(
    two_rasas: tuple[FakeRasa, FakeRasa, str, str],
) -> None:
    a, b, url_a, url_b = two_rasas
    a.status = 500  # the message reached it: sending it to b as well could answer it twice
    answers = await _chat(f"{url_a},{url_b}", ["one"])
    assert answers[0][0] == 502
    assert a.received == ["one"] and b.received == []


async def test_a_server_still_starting_is_skipped(
    two_rasas: tuple[FakeRasa, FakeRasa, str, str],
) -> None:
    """503 is the channel's "the bot is starting", given before the message is taken."""
    a, b, url_a, url_b = two_rasas
    a.status = 503
    answers = await _chat(f"{url_a},{url_b}", ["one", "two"])
    assert answers == [(200, [{"text": "b got it"}])] * 2
    assert b.received == ["one", "two"]


async def test_a_server_that_dies_with_no_answer_is_skipped(
    two_rasas: tuple[FakeRasa, FakeRasa, str, str],
) -> None:
    """A connection closed with no answer (a server killed as the message arrives)."""
    _, b, _, url_b = two_rasas

    async def hang_up(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    dying = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = dying.sockets[0].getsockname()[1]
    try:
        answers = await _chat(f"http://127.0.0.1:{port}/webhooks/rest/webhook,{url_b}", ["one"])
    finally:
        dying.close()
    assert answers == [(200, [{"text": "b got it"}])]
    assert b.received == ["one"]


async def test_all_servers_down_is_a_bad_gateway() -> None:
    answers = await _chat(f"{_closed_port_url()},{_closed_port_url()}", ["one"])
    assert answers[0][0] == 502
