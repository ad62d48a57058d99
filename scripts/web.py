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

Limits per client, so that no one client can take the chat from anyone else (issue 17): new
conversations per address (a token bucket), conversations open per address, messages per
address and per conversation (token buckets). Over a limit the answer is 429 with Retry-After,
and the page shows its "not working" text with 999 and the helpline. The settings and their
defaults are in Limits (environment variables LIMIT_*, MAX_SESSIONS and TRUSTED_PROXIES; README).
The client's address is the socket's peer; X-Forwarded-For counts only when that peer is one of
TRUSTED_PROXIES (the project's nginx configuration, deploy/nginx/chat.conf). An address is kept
only in memory, as a keyed hash (HMAC with a random key made at start), never logged, and it is
forgotten when its buckets are full again and its conversations have expired.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import ipaddress
import itertools
import math
import os
import re
import secrets
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from cachetools import TTLCache

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as `python scripts/web.py`
    sys.path.insert(0, str(ROOT))

from i18n import translations  # noqa: E402 (needs ROOT on sys.path; does not import Rasa)

WEB_DIR = ROOT / "web"
DEFAULT_EXIT_URL = "https://www.bbc.co.uk/weather"
MAX_BODY = 8 * 1024
MAX_MESSAGE_CHARS = 1000
SESSION_IDLE_SECONDS = 30 * 60  # as Rasa's session_expiration_time in domain.yml
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


# --- Per-client limits ----------------------------------------------------------------------

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class Limits:
    """The per-client limits, each an environment variable of the same name in upper case with
    LIMIT_ before it (MAX_SESSIONS and TRUSTED_PROXIES as they are). The defaults let a shared
    household or office address start 60 conversations at once and one every 2 seconds after
    that, and write far faster than people type, while one address alone can neither fill the
    table nor send the Rasa servers more than a small part of what they answer (about 170
    messages a second on 2 cores)."""

    sessions_per_minute: float = 30.0  # new conversations per address, once its burst is used
    sessions_burst: int = 60  # new conversations per address at once
    open_sessions: int = 300  # conversations open (not idle 30 minutes) per address
    address_messages_per_minute: float = 300.0  # messages per address (5 a second)
    address_messages_burst: int = 30
    messages_per_minute: float = 60.0  # messages per conversation (1 a second)
    messages_burst: int = 20
    max_sessions: int = 100_000  # all open conversations; when full, the longest idle ends
    trusted_proxies: tuple[Network, ...] = ()  # whose X-Forwarded-For is believed
    retry_open: float = 60.0  # the Retry-After of "too many open conversations"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Limits:
        """The limits from LIMIT_SESSIONS_PER_MINUTE, LIMIT_SESSIONS_BURST, LIMIT_OPEN_SESSIONS,
        LIMIT_ADDRESS_MESSAGES_PER_MINUTE, LIMIT_ADDRESS_MESSAGES_BURST,
        LIMIT_MESSAGES_PER_MINUTE, LIMIT_MESSAGES_BURST, MAX_SESSIONS and TRUSTED_PROXIES
        (addresses or networks, separated by commas or spaces); ValueError names a bad one."""
        values: dict[str, Any] = {}
        for field in fields(cls):
            if field.name in {"trusted_proxies", "retry_open"}:
                continue
            name = "MAX_SESSIONS" if field.name == "max_sessions" else f"LIMIT_{field.name.upper()}"
            raw = env.get(name, "").strip()
            if not raw:
                continue
            kind = float if field.type in {float, "float"} else int
            try:
                value = kind(raw)
            except ValueError:
                value = 0
            if not 0 < value < math.inf:
                raise ValueError(f"{name} must be a positive {kind.__name__}, not {raw!r}")
            values[field.name] = value
        proxies = []
        for item in env.get("TRUSTED_PROXIES", "").replace(",", " ").split():
            try:
                proxies.append(ipaddress.ip_network(item, strict=False))
            except ValueError as error:
                raise ValueError(
                    f"TRUSTED_PROXIES: {item!r} is not an address or network") from error
        return cls(**values, trusted_proxies=tuple(proxies))

    def refill_seconds(self) -> float:
        """How long an emptied bucket of an address takes to be full again."""
        return max(self.sessions_burst / self.sessions_per_minute * 60,
                   self.address_messages_burst / self.address_messages_per_minute * 60)


def _now() -> float:
    return time.monotonic()


class Bucket:
    """A token bucket: `burst` tokens at most, refilled at `rate` a second."""

    __slots__ = ("tokens", "updated")

    def __init__(self, burst: float, now: float) -> None:
        self.tokens = float(burst)
        self.updated = now

    def take(self, now: float, rate: float, burst: float) -> float:
        """Takes a token: 0 if there was one, else the seconds until there is one."""
        # max(): a clock set back adds nothing (time.monotonic never goes back; tests' clocks do)
        self.tokens = min(float(burst), self.tokens + max(0.0, now - self.updated) * rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / rate


def _too_many(reason: str, wait: float) -> None:
    """429 with Retry-After (whole seconds, at least 1) when wait is more than 0."""
    if wait > 0:
        raise web.HTTPTooManyRequests(
            reason=reason, headers={"Retry-After": str(max(1, math.ceil(wait)))})


class Client:
    """What is known of one client address: its two buckets and its open conversations."""

    __slots__ = ("messages", "open", "sessions")

    def __init__(self, limits: Limits, now: float) -> None:
        self.sessions = Bucket(limits.sessions_burst, now)
        self.messages = Bucket(limits.address_messages_burst, now)
        self.open = 0


class Session:
    """One conversation: the address that started it (its count of open ones) and its bucket."""

    __slots__ = ("client", "messages")

    def __init__(self, client: Client, limits: Limits, now: float) -> None:
        self.client = client
        self.messages = Bucket(limits.messages_burst, now)


class _Leaving(TTLCache[Any, Any]):
    """A TTLCache (expiry by time to live, eviction of the least recently used when full) that
    calls `gone` with each value it drops by itself, expired or evicted."""

    def __init__(self, maxsize: int, ttl: float, gone: Callable[[Any], None]) -> None:
        # The module's clock looked up at each call, so tests can move it.
        super().__init__(maxsize, ttl, timer=_now)
        self._gone = gone

    def expire(self, time: float | None = None) -> list[tuple[Any, Any]]:
        expired: list[tuple[Any, Any]] = super().expire(time)
        for _key, value in expired:
            self._gone(value)
        return expired

    def popitem(self) -> tuple[Any, Any]:
        key, value = super().popitem()
        self._gone(value)
        return key, value


class Sessions:
    """Open conversations by id, idle ones expiring after SESSION_IDLE_SECONDS, at most
    limits.max_sessions of them (then the longest idle one ends), in a cachetools.TTLCache:
    expiring touches only the entries that expire, so a request costs the same whatever the
    size of the table. Measured on 2 cores, one client: with the former scan of the whole table
    on each new conversation, 40,000 open ones slowed new ones from 779 to 167 a second (issue
    17); here, through aiohttp's test client in one process, 3,170 a second with none open
    and 2,660 with 100,000 open (the table full, so each new one also ends the longest idle
    one). 100,000 open conversations take about 47 MB."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._table = _Leaving(limits.max_sessions, SESSION_IDLE_SECONDS, self._ended)

    @staticmethod
    def _ended(session: Session) -> None:
        session.client.open -= 1

    def expire(self, now: float) -> None:
        self._table.expire(now)

    def get(self, sid: str) -> Session | None:
        session: Session | None = self._table.get(sid)
        return session

    def add(self, sid: str, client: Client, now: float) -> None:
        self._table[sid] = Session(client, self.limits, now)
        client.open += 1

    def touch(self, sid: str, session: Session) -> None:
        """The conversation is used now: its idle time starts again."""
        self._table[sid] = session


class Clients:
    """Client addresses, each known only by a keyed hash (HMAC-SHA-256 with a key made at
    start and kept in memory only), with its buckets and count of open conversations."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._key = secrets.token_bytes(32)
        # An address is kept while a conversation of it may be open or a bucket of it is not
        # yet full again, so forgetting it never gives it more than it would have had; room
        # for every address with an open conversation and as many again without one.
        self._table: TTLCache[bytes, Client] = TTLCache(
            2 * limits.max_sessions, SESSION_IDLE_SECONDS + limits.refill_seconds(), timer=_now)

    def __len__(self) -> int:
        return len(self._table)

    def key(self, address: str) -> bytes:
        return hmac.new(self._key, address.encode(), hashlib.sha256).digest()

    def get(self, key: bytes) -> Client:
        """The client with this key (a new one if unknown), seen now."""
        client = self._table.get(key)
        if client is None:
            client = Client(self.limits, _now())
        self._table[key] = client  # kept for its time to live from now
        return client


def _address(text: str) -> Address | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def client_address(request: web.Request, trusted: tuple[Network, ...]) -> str:
    """The client's address: the socket's peer; or, when the peer is a trusted proxy, the
    last address in X-Forwarded-For that is not one (each proxy appends the address it was
    connected from, so what a client wrote itself stands to the left of it and is never used).
    An IPv6 address stands for its /64, which is what one household or machine usually has."""
    peer = request.transport.get_extra_info("peername") if request.transport else None
    text = str(peer[0]) if isinstance(peer, tuple) and peer else ""
    address = _address(text)
    if address is None:
        return text  # not an IP socket (a Unix socket): one shared address
    if trusted and any(address in net for net in trusted):
        hops = ",".join(request.headers.getall("X-Forwarded-For", [])).split(",")
        for hop in reversed(hops):
            forwarded = _address(hop)
            if forwarded is None:
                break  # no address, or not one: the last known address stands
            address = forwarded
            if not any(address in net for net in trusted):
                break
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def client_key(request: web.Request, clients: Clients) -> bytes:
    return clients.key(client_address(request, clients.limits.trusted_proxies))

SESSIONS: web.AppKey[Sessions] = web.AppKey("sessions", Sessions)
CLIENTS: web.AppKey[Clients] = web.AppKey("clients", Clients)
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
        if "Retry-After" in error.headers:  # a 429's: when to try again
            response.headers["Retry-After"] = error.headers["Retry-After"]
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
    sessions, clients = request.app[SESSIONS], request.app[CLIENTS]
    now = _now()
    sessions.expire(now)
    client = clients.get(client_key(request, clients))
    limits = clients.limits
    if client.open >= limits.open_sessions:
        # One of its conversations has to end first (idle for SESSION_IDLE_SECONDS at most).
        _too_many("too many open conversations from this address", limits.retry_open)
    _too_many("too many new conversations from this address", client.sessions.take(
        now, limits.sessions_per_minute / 60, limits.sessions_burst))
    sid = secrets.token_urlsafe(32)
    sessions.add(sid, client, now)  # when the table is full, the longest idle one ends
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
    sessions, clients = request.app[SESSIONS], request.app[CLIENTS]
    limits = clients.limits
    now = _now()
    sessions.expire(now)
    # Every request counts against its address, before any work is done for it.
    client = clients.get(client_key(request, clients))
    _too_many("too many messages from this address", client.messages.take(
        now, limits.address_messages_per_minute / 60, limits.address_messages_burst))
    try:
        body = await request.json()
    except ValueError as error:
        raise web.HTTPBadRequest(reason="body is not JSON") from error
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(reason="body is not a JSON object")
    sid, text = body.get("id"), body.get("message")
    session = sessions.get(sid) if isinstance(sid, str) else None
    if session is None or not isinstance(sid, str):
        raise web.HTTPForbidden(reason="unknown conversation")
    if not isinstance(text, str):
        raise web.HTTPBadRequest(reason="message must be a string")
    _too_many("too many messages in this conversation", session.messages.take(
        now, limits.messages_per_minute / 60, limits.messages_burst))
    # An empty or over-long message is a person's message too: Rasa's channel answers an empty
    # one with the helpline and 999, and cuts a long one (the page already stops both).
    text = text[:MAX_MESSAGE_CHARS]
    sessions.touch(sid, session)
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
    limits: Limits | None = None,
) -> web.Application:
    """offered: the languages besides English (default: i18n.translations.offered());
    limits: the per-client limits (default: Limits(), the defaults; main() reads them from the
    environment)."""
    scheme = urlsplit(exit_url).scheme
    if scheme not in {"https", "http"}:
        raise ValueError(f"EXIT_URL must be a web address, not {exit_url!r}")
    # aiohttp refuses a body of client_max_size bytes or more: MAX_BODY itself is allowed.
    app = web.Application(client_max_size=MAX_BODY + 1, middlewares=[security_headers])
    limits = Limits() if limits is None else limits
    app[SESSIONS] = Sessions(limits)
    app[CLIENTS] = Clients(limits)
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
    try:
        limits = Limits.from_env(os.environ)
    except ValueError as error:
        raise SystemExit(f"web.py: {error}") from error
    web.run_app(
        create_app(webhook, exit_url, limits=limits),
        host=interface, port=port, print=None, access_log=None,
    )


if __name__ == "__main__":
    main()
