"""The chat page server (scripts/web.py) against a fake Rasa: ids, limits, errors, headers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient as Client
from aiohttp.test_utils import TestServer as Server

import scripts.web as web_server
from i18n import translations
from scripts.web import _bot_messages, create_app, embed_snippet, page_languages
from tests.e2e.conftest import free_port
from tests.helpers import ROOT

# The README's numbers, as the README gives them.
BODY_LIMIT = 8 * 1024  # "413 for a body over 8 kB"
MESSAGE_LIMIT = 1000  # "messages are cut to 1,000 characters"
IDLE_SECONDS = 30 * 60  # "an id ... that has been idle 30 minutes"


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
        big = await client.post("/api/message", json={"id": sid, "message": "a" * BODY_LIMIT})
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
        for text in ("  ", "a" * (MESSAGE_LIMIT + 1)):
            answer = await client.post("/api/message", json={"id": sid, "message": text})
            assert answer.status == 200
            assert (await answer.json())[0]["text"] == "Who is this about?"
        assert [r["message"] for r in fake.received] == ["  ", "a" * MESSAGE_LIMIT]
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


async def test_a_body_of_8_kb_is_taken_and_one_byte_more_is_refused(
    rasa: tuple[FakeRasa, str],
) -> None:
    fake, webhook = rasa
    client = await _client(webhook)
    try:
        sid = (await (await client.post("/api/session")).json())["id"]

        def body(size: int) -> bytes:
            empty = json.dumps({"id": sid, "message": ""}).encode()
            data = json.dumps({"id": sid, "message": "a" * (size - len(empty))}).encode()
            assert len(data) == size
            return data

        headers = {"Content-Type": "application/json"}
        taken = await client.post("/api/message", data=body(BODY_LIMIT), headers=headers)
        assert taken.status == 200
        assert (await taken.json())[0]["text"] == "Who is this about?"
        assert [r["message"] for r in fake.received] == ["a" * MESSAGE_LIMIT]
        refused = await client.post("/api/message", data=body(BODY_LIMIT + 1), headers=headers)
        assert refused.status == 413

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: sent chunked
            yield body(BODY_LIMIT + 1)

        chunked = await client.post("/api/message", data=chunks(), headers=headers)
        assert chunked.status == 413
        assert len(fake.received) == 1
    finally:
        await client.close()


def _csp(headers: Any) -> dict[str, list[str]]:
    directives = [d.split() for d in headers["Content-Security-Policy"].split(";") if d.strip()]
    return {d[0]: d[1:] for d in directives}


async def test_every_answer_is_no_store_and_never_framed(rasa: tuple[FakeRasa, str]) -> None:
    """README: "every answer is sent with Cache-Control: no-store"; a Content-Security-Policy
    (default-src 'self', no inline script) and frame-ancestors 'none'. Every kind of answer:
    the page and its files, the API's answers and its errors."""
    _, webhook = rasa
    client = await _client(webhook)
    dead = await _client("http://127.0.0.1:9/webhooks/rest/webhook")
    try:
        sid = (await (await client.post("/api/session")).json())["id"]
        dead_sid = (await (await dead.post("/api/session")).json())["id"]
        answers = {
            "page": await client.get("/"),
            "script": await client.get("/chat.js"),
            "embed": await client.get("/embed.js"),
            "session": await client.post("/api/session"),
            "message": await client.post("/api/message", json={"id": sid, "message": "hi"}),
            "languages": await client.get("/api/languages"),
            "health": await client.get("/healthz"),
            "unknown id": await client.post("/api/message", json={"id": "x", "message": "hi"}),
            "too big": await client.post("/api/message",
                                         json={"id": sid, "message": "a" * BODY_LIMIT}),
            "not json": await client.post("/api/message", data=b"hello"),
            "other site": await client.post("/api/session",
                                            headers={"Origin": "https://evil.example"}),
            "not found": await client.get("/nothing"),
            "wrong method": await client.get("/api/message"),
            "rasa down": await dead.post("/api/message", json={"id": dead_sid, "message": "hi"}),
        }
        statuses = {name: answer.status for name, answer in answers.items()}
        assert statuses == {
            "page": 200, "script": 200, "embed": 200, "session": 200, "message": 200,
            "languages": 200, "health": 200, "unknown id": 403, "too big": 413, "not json": 400,
            "other site": 403, "not found": 404, "wrong method": 405, "rasa down": 502,
        }
        for name, answer in answers.items():
            assert answer.headers.get("Cache-Control") == "no-store", name
            csp = _csp(answer.headers)
            assert csp["frame-ancestors"] == ["'none'"], name
            assert csp["default-src"] == ["'self'"], name
            assert csp["script-src"] == ["'self'"], name  # no inline script
            assert answer.headers.get("X-Frame-Options") == "DENY", name
    finally:
        await client.close()
        await dead.close()


class Clock:
    """A monotonic clock the test moves, in place of scripts/web.py's."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


async def test_an_id_idle_for_30_minutes_is_refused(
    rasa: tuple[FakeRasa, str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake, webhook = rasa
    clock = Clock()
    monkeypatch.setattr(web_server, "time", SimpleNamespace(monotonic=clock.monotonic))
    client = await _client(webhook)

    async def say(sid: str) -> int:
        return (await client.post("/api/message", json={"id": sid, "message": "hi"})).status

    try:
        sid = (await (await client.post("/api/session")).json())["id"]
        clock.now += IDLE_SECONDS - 1
        assert await say(sid) == 200  # idle just under 30 minutes: still open
        clock.now += IDLE_SECONDS - 1
        assert await say(sid) == 200  # the idle time counts from the last message
        clock.now += IDLE_SECONDS + 1
        assert await say(sid) == 403  # idle just over 30 minutes: refused
        clock.now -= IDLE_SECONDS  # ...and for good, even if the clock went back
        assert await say(sid) == 403
        assert len(fake.received) == 2
        fresh = (await (await client.post("/api/session")).json())["id"]
        assert fresh != sid and await say(fresh) == 200  # a new conversation starts
        # An id never used is refused after 30 minutes too.
        unused = (await (await client.post("/api/session")).json())["id"]
        clock.now += IDLE_SECONDS + 1
        assert await say(unused) == 403
    finally:
        await client.close()


def test_the_page_server_writes_no_access_log(tmp_path: Path) -> None:
    """README: "The page server writes no access log". It runs as `make run` runs it, with
    Python's logging on at DEBUG as a deployment might set it up; requests of every kind
    (refused by a limit too) leave no request line, path, client address or message text in
    its output."""
    port = free_port()
    env = dict(os.environ, WEB_PORT=str(port), WEB_INTERFACE="127.0.0.1",
               RASA_WEBHOOK="http://127.0.0.1:9/webhooks/rest/webhook",
               LIMIT_SESSIONS_BURST="1", LIMIT_SESSIONS_PER_MINUTE="0.01")
    env.pop("PYTHONASYNCIODEBUG", None)  # asyncio's own debug log names connections
    code = ("import logging, runpy; logging.basicConfig(level=logging.DEBUG); "
            f"runpy.run_path({str(ROOT / 'scripts' / 'web.py')!r}, run_name='__main__')")
    output = tmp_path / "web.log"
    with output.open("w") as log:
        server = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=ROOT,
                                  stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"

    def call(path: str, body: bytes | None = None) -> int:
        request = urllib.request.Request(base + path, data=body,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            return error.code

    def started() -> bool:
        try:
            return call("/healthz") == 200
        except urllib.error.URLError:
            return False

    try:
        for _ in range(600):  # until it answers; fails at once if it exits
            if started():
                break
            try:
                server.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                continue
            raise AssertionError(f"the page server exited: {output.read_text()}")
        with urllib.request.urlopen(f"{base}/api/session", data=b"", timeout=10) as response:
            sid = json.load(response)["id"]
        assert call("/") == 200
        assert call("/chat.js") == 200
        assert call("/api/message",
                    json.dumps({"id": sid, "message": "my secret words"}).encode()) == 502
        assert call("/api/message", json.dumps({"id": "nobody", "message": "x"}).encode()) == 403
        assert call("/no-such-page-q7") == 404
        assert call("/api/session", b"") == 429  # over a limit: not logged either
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    logged = output.read_text()
    for trace in ["GET ", "POST ", "HTTP/1.1", "/api/", "/healthz", "/chat.js", "no-such-page",
                  "127.0.0.1", "Python-urllib", "my secret words", sid]:
        assert trace not in logged, (trace, logged)


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
