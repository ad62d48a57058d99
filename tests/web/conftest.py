"""Starts the real action server, Rasa and the chat page server once, on free ports, plus a local
"neutral" page for quick exit, and drives the page in real headless Chromium (Playwright).

`fake_bot_site` is the real chat page server in front of a scripted stand-in for Rasa
(`FakeRasa`), for what the real bot never says (links it must not make, HTML).

Chromium: CHROMIUM (default /usr/bin/chromium, Debian's package; `make test-web` installs it).
axe-core: AXE_JS (default build/axe-core/package/axe.min.js; `make test-web` fetches it).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from scripts.serve import DEFAULT_MODEL, BotServers
from tests.e2e.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
LOG = ROOT / "build" / "web-servers.log"
SCREENSHOTS = ROOT / "results" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
AXE_JS = Path(os.environ.get("AXE_JS", str(ROOT / "build" / "axe-core" / "package" / "axe.min.js")))
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
NEUTRAL_TEXT = "Neutral page for the quick exit tests"



def _answer(handler: BaseHTTPRequestHandler, body: bytes, content_type: str) -> None:
    """A 200 answer of the test's stand-in servers."""
    handler.send_response(200)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)

class NeutralSite:
    """Where quick exit goes in the tests. It answers only while `gate` is set, so a test can
    look at the chat page while the exit is under way."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.gate.set()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
                site.gate.wait(timeout=60)
                body = f"<!doctype html><title>Weather</title><p>{NEUTRAL_TEXT}</p>".encode()
                _answer(self, body, "text/html; charset=utf-8")

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/weather"


@pytest.fixture(scope="session")
def neutral_site() -> Iterator[NeutralSite]:
    site = NeutralSite()
    thread = threading.Thread(target=site.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        site.gate.set()
        site.server.shutdown()
        site.server.server_close()


@pytest.fixture
def neutral(neutral_site: NeutralSite) -> Iterator[NeutralSite]:
    """The neutral site, answering at once at the start and the end of the test."""
    neutral_site.gate.set()
    try:
        yield neutral_site
    finally:
        neutral_site.gate.set()  # never leaves a request waiting


@pytest.fixture(scope="session")
def neutral_url(neutral_site: NeutralSite) -> str:
    return neutral_site.url


@pytest.fixture(scope="session")
def site(neutral_url: str) -> Iterator[BotServers]:
    """The three servers; the page's quick exit goes to the local neutral page."""
    if not DEFAULT_MODEL.exists():
        pytest.fail(f"no trained model at {DEFAULT_MODEL}: run `make train`")
    LOG.parent.mkdir(parents=True, exist_ok=True)
    with LOG.open("w") as log, BotServers(
        rasa_port=free_port(), actions_port=free_port(), web_port=free_port(),
        exit_url=neutral_url, log=log,
    ) as servers:
        yield servers


@pytest.fixture(scope="session")
def dead_bot_site() -> Iterator[BotServers]:
    """Only the page server, pointed at a Rasa port where nothing listens."""
    with (LOG.parent / "web-dead-bot.log").open("w") as log:
        servers = BotServers(rasa_port=free_port(), web_port=free_port(), log=log)
        servers.start_web()
        try:
            servers.wait_ready(timeout=30)
            yield servers
        finally:
            servers.stop()


class FakeRasa:
    """A stand-in for Rasa's REST webhook: answers each message with `replies[message]` (a
    greeting with one button for anything else) and records every request it receives."""

    GREETING = [{"text": "Fake bot: hello.", "buttons": [{"title": "Fine", "payload": "/fine"}]}]

    def __init__(self) -> None:
        self.replies: dict[str, list[dict[str, Any]]] = {}
        self.received: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the name http.server calls)
                length = int(self.headers.get("Content-Length") or 0)
                request = json.loads(self.rfile.read(length))
                fake.received.append(request)
                replies = fake.replies.get(request.get("message"), FakeRasa.GREETING)
                _answer(self, json.dumps(replies).encode(), "application/json")

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])


@pytest.fixture(scope="session")
def fake_rasa() -> Iterator[FakeRasa]:
    fake = FakeRasa()
    thread = threading.Thread(target=fake.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.server.shutdown()
        fake.server.server_close()


@pytest.fixture(scope="session")
def fake_bot_site(fake_rasa: FakeRasa) -> Iterator[BotServers]:
    """The real chat page server, with its default EXIT_URL, in front of FakeRasa."""
    with (LOG.parent / "web-fake-bot.log").open("w") as log:
        servers = BotServers(rasa_port=fake_rasa.port, web_port=free_port(), log=log)
        exit_url = os.environ.pop("EXIT_URL", None)  # the page server's own default
        try:
            servers.start_web()
        finally:
            if exit_url is not None:
                os.environ["EXIT_URL"] = exit_url
        try:
            servers.wait_ready(timeout=30)
            yield servers
        finally:
            servers.stop()


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: run `make test-web` (installs Debian's chromium)")
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser profile (context) per test, with the page's real CSP."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    new_page = context.new_page()
    try:
        yield new_page
    finally:
        context.close()


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE_JS.exists():
        pytest.fail(f"no axe-core at {AXE_JS}: run `make test-web` (fetches the pinned axe-core)")
    return AXE_JS.read_text(encoding="utf-8")
