"""The chat page server (scripts/web.py) against a fake Rasa: ids, limits, errors, headers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient as Client
from aiohttp.test_utils import TestServer as Server

from scripts.web import MAX_BODY, create_app, embed_snippet


class FakeRasa:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []

    async def webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.received.append(body)
        return web.json_response([
            {"recipient_id": body["sender"], "text": "Who is this about?",
             "buttons": [{"title": "It's happening to me", "payload": "/report_self"}]},
            {"recipient_id": body["sender"], "image": "https://example.org/x.png"},
        ])


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


async def _client(webhook: str, exit_url: str = "https://www.bbc.co.uk/weather") -> Client:
    client = Client(Server(create_app(webhook, exit_url)))
    await client.start_server()
    return client


async def test_the_server_issues_ids_and_rasa_sees_only_those(
    rasa: tuple[FakeRasa, str],
) -> None:
    fake, webhook = rasa
    client = await _client(webhook)
    try:
        session = await (await client.post("/api/session", json={"id": "mine"})).json()
        assert session["id"] != "mine" and len(session["id"]) >= 40
        refused = await client.post("/api/message", json={"id": "mine", "message": "hi"})
        assert refused.status == 403
        answer = await client.post("/api/message", json={"id": session["id"], "message": "hi"})
        assert answer.status == 200
        assert await answer.json() == [{
            "text": "Who is this about?",
            "buttons": [{"title": "It's happening to me", "payload": "/report_self"}],
        }]
        assert fake.received == [{"sender": session["id"], "message": "hi"}]
    finally:
        await client.close()


async def test_limits_and_bad_requests(rasa: tuple[FakeRasa, str]) -> None:
    fake, webhook = rasa
    client = await _client(webhook)
    try:
        sid = (await (await client.post("/api/session")).json())["id"]
        big = await client.post("/api/message", json={"id": sid, "message": "a" * (MAX_BODY + 1)})
        assert big.status == 413
        not_json = await client.post("/api/message", data=b"hello")
        assert not_json.status == 400
        not_text = await client.post("/api/message", json={"id": sid, "message": ["hi"]})
        assert not_text.status == 400
        other_site = await client.post("/api/session", headers={"Origin": "https://evil.example"})
        assert other_site.status == 403
        assert fake.received == []
        # Empty and over-long messages get the bot's answer (the channel answers an empty one
        # with the helpline and cuts a long one), the long one cut to 1,000 characters here.
        for text in ("  ", "a" * 1001):
            answer = await client.post("/api/message", json={"id": sid, "message": text})
            assert answer.status == 200
            assert (await answer.json())[0]["text"] == "Who is this about?"
        assert [r["message"] for r in fake.received] == ["  ", "a" * 1000]
    finally:
        await client.close()


async def test_rasa_down_is_a_502() -> None:
    client = await _client("http://127.0.0.1:9/webhooks/rest/webhook")
    try:
        sid = (await (await client.post("/api/session")).json())["id"]
        answer = await client.post("/api/message", json={"id": sid, "message": "hi"})
        assert answer.status == 502
        assert "error" in await answer.json()
    finally:
        await client.close()


async def test_page_headers_and_exit_url(rasa: tuple[FakeRasa, str]) -> None:
    _, webhook = rasa
    client = await _client(webhook, exit_url="https://example.org/?a=1&b=<2>")
    try:
        page = await client.get("/")
        text = await page.text()
        assert 'href="https://example.org/?a=1&amp;b=&lt;2&gt;"' in text
        assert "In danger now? Call" in text and "08000 121 700" in text
        assert "default-src 'self'" in page.headers["Content-Security-Policy"]
        assert page.headers["Cache-Control"] == "no-store"
        assert "Access-Control-Allow-Origin" not in page.headers
        embed = await client.get("/embed.js")
        assert embed.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
        missing = await client.get("/nothing")
        assert missing.status == 404
        assert missing.headers["X-Content-Type-Options"] == "nosniff"
    finally:
        await client.close()


def test_exit_url_must_be_a_web_address() -> None:
    with pytest.raises(ValueError):
        create_app("http://localhost:5005/webhooks/rest/webhook", "javascript:alert(1)")


def test_embed_snippet() -> None:
    assert embed_snippet("https://chat.example.org/") == (
        '<script src="https://chat.example.org/embed.js" async></script>'
    )
