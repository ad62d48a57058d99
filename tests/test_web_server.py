"""The chat page server (scripts/web.py) against a fake Rasa: ids, limits, errors, headers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient as Client
from aiohttp.test_utils import TestServer as Server

from i18n import translations
from scripts.web import MAX_BODY, _bot_messages, create_app, embed_snippet, page_languages


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


async def _client(
    webhook: str,
    exit_url: str = "https://www.bbc.co.uk/weather",
    offered: list[translations.Language] | None = None,
) -> Client:
    client = Client(Server(create_app(webhook, exit_url, offered)))
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


# --- Languages -------------------------------------------------------------------------------

PAGE_KEYS = ["danger_line", "helpline_line", "exit_label", "language_label"]


def test_language_fields_are_kept() -> None:
    replies = [
        {"recipient_id": "x", "text": "\u0627\u062a\u0635\u0644 \u20669\u2069", "lang": "ar",
         "dir": "rtl", "language": "ar"},
        {"recipient_id": "x", "text": "Who is this about?", "lang": "en", "language": "ar",
         "buttons": [
             {"title": "\u064a\u062d\u062f\u062b \u0644\u064a", "payload": "/report_self",
              "lang": "ar", "dir": "rtl", "english": "It's happening to me"},
             {"title": "\u1275\u130d\u122d\u129b", "payload": '/choose_language{"language": "ti"}',
              "lang": "ti"},
         ]},
        {"recipient_id": "x", "text": "zh", "lang": "zh-Hant", "dir": "ltr"},
        {"recipient_id": "x", "text": "Legal support: https://example.org"},  # a resource list
    ]
    assert _bot_messages(replies) == [
        {"text": "\u0627\u062a\u0635\u0644 \u20669\u2069", "lang": "ar", "dir": "rtl",
         "language": "ar"},
        {"text": "Who is this about?", "lang": "en", "language": "ar", "buttons": [
            {"title": "\u064a\u062d\u062f\u062b \u0644\u064a", "payload": "/report_self",
             "lang": "ar", "dir": "rtl", "english": "It's happening to me"},
            {"title": "\u1275\u130d\u122d\u129b", "payload": '/choose_language{"language": "ti"}',
             "lang": "ti"},
        ]},
        {"text": "zh", "lang": "zh-Hant", "dir": "ltr"},
        {"text": "Legal support: https://example.org"},
    ]


@pytest.mark.parametrize("code", [
    "AR", "arabic", "a", "ar-", "ar_SA", "ar-toolongsubtag", "ar\n", " ar", "<b>", "", 12, None,
    ["ar"], {"code": "ar"},
])
def test_bad_language_codes_are_dropped(code: Any) -> None:
    replies = [{"text": "hi", "lang": code, "language": code,
                "buttons": [{"title": "Yes", "payload": "/affirm", "lang": code}]}]
    assert _bot_messages(replies) == [
        {"text": "hi", "buttons": [{"title": "Yes", "payload": "/affirm"}]}
    ]


def test_other_language_fields_are_dropped() -> None:
    replies = [
        {"text": "a", "dir": "auto", "custom": {"x": 1}, "image": "https://example.org/x.png",
         "buttons": [
             {"title": "Yes", "payload": "/affirm", "dir": "RTL", "english": "y" * 201},
             {"title": "No", "payload": "/deny", "dir": ["rtl"], "english": 5, "style": "x"},
             {"title": "Maybe", "payload": "/maybe", "english": "  "},
             {"title": "Yes", "payload": "/affirm", "english": "y" * 200},
         ]},
        {"lang": "ar", "dir": "rtl", "language": "ar"},  # nothing to show
        {"text": "b", "dir": "", "lang": "en", "language": "EN"},
    ]
    assert _bot_messages(replies) == [
        {"text": "a", "buttons": [
            {"title": "Yes", "payload": "/affirm"},
            {"title": "No", "payload": "/deny"},
            {"title": "Maybe", "payload": "/maybe"},
            {"title": "Yes", "payload": "/affirm", "english": "y" * 200},
        ]},
        {"text": "b", "lang": "en"},
    ]


class TranslatedRasa(FakeRasa):
    async def webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.received.append(body)
        return web.json_response([
            {"recipient_id": body["sender"], "text": "\u0645\u0646\u061f", "lang": "ar",
             "dir": "rtl", "language": "ar", "metadata": {"secret": 1}},
            {"recipient_id": body["sender"], "text": "Who is this about?", "lang": "en",
             "language": "ar", "buttons": [
                 {"title": "\u0644\u064a", "payload": "/report_self", "lang": "ar",
                  "dir": "rtl", "english": "It's happening to me", "extra": "x"}]},
        ])


async def test_the_page_gets_the_language_fields() -> None:
    fake = TranslatedRasa()
    rasa_app = web.Application()
    rasa_app.router.add_post("/webhooks/rest/webhook", fake.webhook)
    rasa_server = Server(rasa_app)
    await rasa_server.start_server()
    client = await _client(str(rasa_server.make_url("/webhooks/rest/webhook")))
    try:
        sid = (await (await client.post("/api/session")).json())["id"]
        answer = await client.post("/api/message", json={"id": sid, "message": "\u0633\u0627"})
        assert await answer.json() == [
            {"text": "\u0645\u0646\u061f", "lang": "ar", "dir": "rtl", "language": "ar"},
            {"text": "Who is this about?", "lang": "en", "language": "ar", "buttons": [
                {"title": "\u0644\u064a", "payload": "/report_self", "lang": "ar",
                 "dir": "rtl", "english": "It's happening to me"}]},
        ]
    finally:
        await client.close()
        await rasa_server.close()


def _language(code: str, direction: str, page: dict[str, dict[str, str]]) -> translations.Language:
    return translations.parse({
        "code": code, "name": f"name-{code}", "english_name": f"English-{code}",
        "direction": direction, "translation": {"by": "test", "date": "2024-01-01"},
        "review": {"status": "draft"}, "page": page,
    }, f"{code}.yml")


async def test_api_languages_with_rasa_down() -> None:
    """English first with the page's English, then every language offered, as the real
    translation files have it (any number, none included)."""
    client = await _client("http://127.0.0.1:9/webhooks/rest/webhook")
    try:
        answer = await client.get("/api/languages")
        assert answer.status == 200
        assert answer.headers["Cache-Control"] == "no-store"
        assert "default-src 'self'" in answer.headers["Content-Security-Policy"]
        languages = await answer.json()
    finally:
        await client.close()
    assert languages[0] == {
        "code": "en", "name": "English", "english_name": "English", "dir": "ltr",
        **{key: translations.PAGE[key] for key in PAGE_KEYS},
    }
    offered = translations.offered()
    assert [lang["code"] for lang in languages] == ["en"] + [lang.code for lang in offered]
    for entry, lang in zip(languages[1:], offered, strict=True):
        assert entry == {
            "code": lang.code, "name": lang.name, "english_name": lang.english_name,
            "dir": lang.direction, **{key: lang.page_text(key) for key in PAGE_KEYS},
        }


async def test_api_languages_page_words_missing_or_out_of_date_are_null() -> None:
    danger = translations.PAGE["danger_line"]
    current = {"source": translations.fingerprint(danger), "text": "\u0641\u064a 999"}
    stale = {"source": translations.fingerprint("older English"), "text": "\u0642\u062f\u064a"}
    offered = [
        _language("ar", "rtl", {"danger_line": current, "exit_label": stale}),
        _language("ti", "ltr", {}),
        _language("Bad Code", "ltr", {}),  # never sent to the page
    ]
    client = await _client("http://127.0.0.1:9/webhooks/rest/webhook", offered=offered)
    try:
        languages = await (await client.get("/api/languages")).json()
    finally:
        await client.close()
    assert [lang["code"] for lang in languages] == ["en", "ar", "ti"]
    assert languages[1] == {
        "code": "ar", "name": "name-ar", "english_name": "English-ar", "dir": "rtl",
        "danger_line": "\u0641\u064a 999", "helpline_line": None, "exit_label": None,
        "language_label": None,
    }
    assert languages[2]["dir"] == "ltr"
    assert all(languages[2][key] is None for key in PAGE_KEYS)


def test_broken_translations_leave_english(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> list[translations.Language]:
        raise translations.TranslationError("xx.yml: `code` must be a non-empty string")

    monkeypatch.setattr(translations, "offered", broken)
    assert [lang["code"] for lang in page_languages()] == ["en"]
