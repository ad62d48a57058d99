"""The website chat: serves web/ and proxies chat messages to Rasa's REST channel.

The page and the API share one origin, so the browser needs no CORS. The server issues every
conversation id (secrets.token_urlsafe(32)); messages with any other id are refused (403), so a
client can neither choose an id nor read another person's conversation. Request bodies are
limited to MAX_BODY bytes (413). Conversations are kept only in memory, here and in Rasa.

Environment: WEB_PORT (8080), WEB_INTERFACE (127.0.0.1), RASA_WEBHOOK
(http://localhost:5005/webhooks/rest/webhook), EXIT_URL (https://www.bbc.co.uk/weather).
RASA_WEBHOOK may list several Rasa servers, separated by commas (production, with shared
stores): each message goes to the next one, and to the one after when a server refuses the
connection (it is down, so the message never reached it).

Languages: GET /api/languages lists English and every language with a current translated card
(i18n.translations.offered()), with the page's own words in each, for the page's language picker
and header; it is worked out once at start and needs no Rasa. The bot's messages keep the
language fields the page needs (lang, dir, language; a button's lang, dir and English title).
"""

from __future__ import annotations

import html
import itertools
import os
import re
import secrets
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as `python scripts/web.py`
    sys.path.insert(0, str(ROOT))

from i18n import translations  # noqa: E402 (needs ROOT on sys.path; does not import Rasa)

WEB_DIR = ROOT / "web"
DEFAULT_EXIT_URL = "https://www.bbc.co.uk/weather"
MAX_BODY = 8 * 1024
MAX_MESSAGE_CHARS = 1000
SESSION_IDLE_SECONDS = 30 * 60  # as Rasa's session_expiration_time in domain.yml
MAX_SESSIONS = 100_000
RASA_TIMEOUT_SECONDS = 30.0  # more than Rasa's own (RESPONSE_TIMEOUT in scripts/serve.py)

STATIC = {
    "/chat.css": ("chat.css", "text/css"),
    "/chat.js": ("chat.js", "text/javascript"),
    "/embed.js": ("embed.js", "text/javascript"),
}

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    # Nothing of the chat is kept in the browser's HTTP cache (and no back-forward cache).
    "Cache-Control": "no-store",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}

# A message's or button's language: a BCP 47 code such as "ti", "ar" or "zh-Hant".
LANG_CODE = re.compile(r"[a-z]{2,3}(?:-[A-Za-z0-9]{1,8})*")
DIRECTIONS = ("rtl", "ltr")
MAX_ENGLISH_TITLE = 200
PAGE_KEYS = ("danger_line", "helpline_line", "exit_label", "language_label")

SESSIONS: web.AppKey[dict[str, float]] = web.AppKey("sessions", dict)
CONFIG: web.AppKey[dict[str, str]] = web.AppKey("config", dict)
CLIENT: web.AppKey[aiohttp.ClientSession] = web.AppKey("client", aiohttp.ClientSession)
WEBHOOKS: web.AppKey[list[str]] = web.AppKey("webhooks", list)
TURNS: web.AppKey[Iterator[int]] = web.AppKey("turns", Iterator)
LANGUAGES: web.AppKey[list[dict[str, str | None]]] = web.AppKey("languages", list)


def embed_snippet(base_url: str) -> str:
    """The one line a partner website pastes to link to the chat."""
    return f'<script src="{base_url.rstrip("/")}/embed.js" async></script>'


@web.middleware
async def security_headers(request: web.Request, handler: Any) -> web.StreamResponse:
    """Security headers on every answer; errors as JSON {"error": reason}."""
    response: web.StreamResponse
    try:
        response = await handler(request)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        response = web.json_response({"error": error.reason}, status=error.status)
    response.headers.update(SECURITY_HEADERS)
    if request.path == "/embed.js":  # partner sites load this one file from another origin
        response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


def _same_origin(request: web.Request) -> bool:
    """Browsers send Origin with every POST from a page; refuse other sites' pages."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # not a browser (curl, tests): nothing to protect against
    parts = urlsplit(origin)
    return parts.netloc == request.host and parts.scheme in {"http", "https"}


def _expire(sessions: dict[str, float], now: float) -> None:
    for sid in [s for s, seen in sessions.items() if now - seen > SESSION_IDLE_SECONDS]:
        del sessions[sid]


async def index(request: web.Request) -> web.Response:
    text = (WEB_DIR / "index.html").read_text(encoding="utf-8")
    exit_url = request.app[CONFIG]["exit_url"]
    text = text.replace(
        f'href="{DEFAULT_EXIT_URL}"', f'href="{html.escape(exit_url, quote=True)}"'
    )
    return web.Response(text=text, content_type="text/html", charset="utf-8")


async def static_file(request: web.Request) -> web.Response:
    name, content_type = STATIC[request.path]
    body = (WEB_DIR / name).read_bytes()
    return web.Response(body=body, content_type=content_type, charset="utf-8")


async def languages(request: web.Request) -> web.Response:
    return web.json_response(request.app[LANGUAGES])


async def health(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def new_session(request: web.Request) -> web.Response:
    if not _same_origin(request):
        raise web.HTTPForbidden(reason="cross-origin request")
    await request.read()  # any body is ignored (and limited to MAX_BODY): ids are never chosen
    sessions = request.app[SESSIONS]
    now = time.monotonic()
    _expire(sessions, now)
    if len(sessions) >= MAX_SESSIONS:
        raise web.HTTPServiceUnavailable(reason="too many conversations")
    sid = secrets.token_urlsafe(32)
    sessions[sid] = now
    return web.json_response({"id": sid})


def _lang_code(value: Any) -> str | None:
    return value if isinstance(value, str) and LANG_CODE.fullmatch(value) else None


def _direction(value: Any) -> str | None:
    return value if value in DIRECTIONS else None


def _button(button: Any) -> dict[str, str] | None:
    if not (
        isinstance(button, dict)
        and isinstance(button.get("title"), str)
        and isinstance(button.get("payload"), str)
    ):
        return None
    out = {"title": button["title"], "payload": button["payload"]}
    if lang := _lang_code(button.get("lang")):
        out["lang"] = lang
    if direction := _direction(button.get("dir")):
        out["dir"] = direction
    english = button.get("english")
    if isinstance(english, str) and english.strip() and len(english) <= MAX_ENGLISH_TITLE:
        out["english"] = english
    return out


def _bot_messages(replies: Any) -> list[dict[str, Any]]:
    """Only text, buttons (title, payload; lang, dir, english) and the language fields (lang,
    dir, language) go back to the page, and only when they are well formed."""
    out: list[dict[str, Any]] = []
    if not isinstance(replies, list):
        return out
    for reply in replies:
        if not isinstance(reply, dict):
            continue
        message: dict[str, Any] = {}
        if isinstance(reply.get("text"), str):
            message["text"] = reply["text"]
        buttons = [b for b in map(_button, reply.get("buttons") or []) if b is not None]
        if buttons:
            message["buttons"] = buttons
        if not message:
            continue
        if lang := _lang_code(reply.get("lang")):
            message["lang"] = lang
        if direction := _direction(reply.get("dir")):
            message["dir"] = direction
        if language := _lang_code(reply.get("language")):
            message["language"] = language
        out.append(message)
    return out


def page_languages(
    offered: list[translations.Language] | None = None,
) -> list[dict[str, str | None]]:
    """English, then each offered language (default: i18n.translations.offered()), with the
    page's own words in it (None where a string is missing or out of date)."""
    english: dict[str, str | None] = {
        "code": translations.ENGLISH, "name": "English", "english_name": "English", "dir": "ltr",
    }
    english.update({key: translations.PAGE[key] for key in PAGE_KEYS})
    if offered is None:
        try:
            offered = translations.offered()
        except Exception as error:  # a broken translation file must not stop the chat
            # English only; `python scripts/translations.py check` names the problem.
            print(f"web.py: no languages but English: {error}", file=sys.stderr)
            offered = []
    out = [english]
    for lang in offered:
        if lang.code == translations.ENGLISH or not LANG_CODE.fullmatch(lang.code):
            continue
        entry: dict[str, str | None] = {
            "code": lang.code, "name": lang.name, "english_name": lang.english_name,
            "dir": "rtl" if lang.rtl else "ltr",
        }
        entry.update({key: lang.page_text(key) for key in PAGE_KEYS})
        out.append(entry)
    return out


async def message(request: web.Request) -> web.Response:
    if not _same_origin(request):
        raise web.HTTPForbidden(reason="cross-origin request")
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY, actual_size=request.content_length)
    try:
        body = await request.json()
    except ValueError as error:
        raise web.HTTPBadRequest(reason="body is not JSON") from error
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(reason="body is not a JSON object")
    sid, text = body.get("id"), body.get("message")
    sessions = request.app[SESSIONS]
    now = time.monotonic()
    if not isinstance(sid, str) or sid not in sessions:
        raise web.HTTPForbidden(reason="unknown conversation")
    if now - sessions[sid] > SESSION_IDLE_SECONDS:
        del sessions[sid]
        raise web.HTTPForbidden(reason="unknown conversation")
    if not isinstance(text, str):
        raise web.HTTPBadRequest(reason="message must be a string")
    # An empty or over-long message is a person's message too: Rasa's channel answers an empty
    # one with the helpline and 999, and cuts a long one (the page already stops both).
    text = text[:MAX_MESSAGE_CHARS]
    sessions[sid] = now
    webhooks = request.app[WEBHOOKS]
    turns: Iterator[int] = request.app[TURNS]
    first = next(turns)
    for attempt in range(len(webhooks)):
        try:
            async with request.app[CLIENT].post(
                webhooks[(first + attempt) % len(webhooks)], json={"sender": sid, "message": text}
            ) as response:
                if response.status == 503:
                    # A Rasa server still loading its model (after a restart) refuses a message
                    # before taking it (addons/channel.py): the next server may take it.
                    continue
                if response.status != 200:
                    raise web.HTTPBadGateway(reason="the bot did not answer")
                replies = await response.json(content_type=None)
            return web.json_response(_bot_messages(replies))
        except aiohttp.ClientConnectorError:
            continue  # not connected, so not delivered: the next server may take it
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError):
            # The connection closed or reset with no answer at all: the server died (a
            # listening socket that dies resets the connections waiting on it; a server that
            # dies in the middle of a turn has not stored it). The next server takes it.
            continue
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            # Sent but unanswered: it may have been handled, so it is not sent twice.
            raise web.HTTPBadGateway(reason="the bot cannot be reached") from error
    raise web.HTTPBadGateway(reason="the bot cannot be reached")


async def _client_context(app: web.Application) -> Any:
    timeout = aiohttp.ClientTimeout(total=RASA_TIMEOUT_SECONDS)
    # A new connection for each message: a kept-alive one to a Rasa server that has died fails
    # only once the message is written (so it cannot go to the next server: it may have been
    # taken), while a new one to a dead server is refused before anything is sent, and the next
    # server takes the message. Connecting on loopback or a private network costs far less
    # than a turn.
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as client:
        app[CLIENT] = client
        yield


def create_app(
    rasa_webhook: str,
    exit_url: str = DEFAULT_EXIT_URL,
    offered: list[translations.Language] | None = None,
) -> web.Application:
    """offered: the languages besides English (default: i18n.translations.offered())."""
    scheme = urlsplit(exit_url).scheme
    if scheme not in {"https", "http"}:
        raise ValueError(f"EXIT_URL must be a web address, not {exit_url!r}")
    # aiohttp refuses a body of client_max_size bytes or more: MAX_BODY itself is allowed.
    app = web.Application(client_max_size=MAX_BODY + 1, middlewares=[security_headers])
    app[SESSIONS] = {}
    app[CONFIG] = {"rasa_webhook": rasa_webhook, "exit_url": exit_url}
    app[WEBHOOKS] = [url.strip() for url in rasa_webhook.split(",") if url.strip()]
    app[TURNS] = itertools.count()
    app[LANGUAGES] = page_languages(offered)
    app.cleanup_ctx.append(_client_context)
    app.router.add_get("/", index)
    for path in STATIC:
        app.router.add_get(path, static_file)
    app.router.add_get("/healthz", health)
    app.router.add_get("/api/languages", languages)
    app.router.add_post("/api/session", new_session)
    app.router.add_post("/api/message", message)
    return app


def main() -> None:
    port = int(os.environ.get("WEB_PORT", "8080"))
    interface = os.environ.get("WEB_INTERFACE", "127.0.0.1")
    webhook = os.environ.get("RASA_WEBHOOK", "http://localhost:5005/webhooks/rest/webhook")
    exit_url = os.environ.get("EXIT_URL", DEFAULT_EXIT_URL)
    web.run_app(
        create_app(webhook, exit_url), host=interface, port=port, print=None, access_log=None
    )


if __name__ == "__main__":
    main()
