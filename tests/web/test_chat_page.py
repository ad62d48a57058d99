"""The website chat in real headless Chromium, against the real page, Rasa and action servers."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from scripts.serve import BotServers
from scripts.web import embed_snippet
from tests.web.chatpage import ChatPage
from tests.web.conftest import NEUTRAL_TEXT, SCREENSHOTS

pytestmark = pytest.mark.web

HELPLINE = "08000 121 700"


def joined(texts: list[str]) -> str:
    return "\n".join(texts)


def test_whole_conversation_by_clicking_danger_shows_999(site: BotServers, page: Page) -> None:
    chat = ChatPage(page, site.web_url).open()
    assert "Who is this about?" in chat.log.inner_text()
    assert chat.click("I'm worried about someone") == ["Is anyone in danger right now?"]
    answer = joined(chat.click("Yes, someone is in danger now"))
    assert "Call 999 now" in answer
    assert chat.user_texts() == ["I'm worried about someone", "Yes, someone is in danger now"]
    expect(page.locator('#log a[href="tel:999"]').first).to_be_visible()
    expect(page.locator('#log a[href="tel:18000"]').first).to_be_visible()
    expect(page.locator('#log a[href="tel:08000121700"]').first).to_be_visible()


def test_non_urgent_route_and_resources_by_clicking(site: BotServers, page: Page) -> None:
    chat = ChatPage(page, site.web_url).open()
    chat.click("It's happening to me")
    answer = joined(chat.click("No"))
    assert "It is not your fault" in answer
    assert "Call 999 now" not in answer
    assert HELPLINE in answer
    assert chat.user_texts() == ["It's happening to me", "No"]
    helpline = page.locator('#log a[href="tel:08000121700"]').first
    expect(helpline).to_have_text(HELPLINE)
    expect(page.locator('#log a[href="tel:08008083733"]').first).to_be_visible()
    chat.click("Support and resources")
    resources = joined(chat.click("Legal support"))
    assert "Legal support" in resources
    links = page.locator('#log .msg-bot a[href^="https://"]')
    assert links.count() >= 1
    for i in range(links.count()):
        link = links.nth(i)
        expect(link).to_have_attribute("target", "_blank")
        expect(link).to_have_attribute("rel", "noopener noreferrer")


def test_whole_conversation_by_typing(site: BotServers, page: Page) -> None:
    chat = ChatPage(page, site.web_url).open()
    assert chat.type("i'm worried about my neighbour's cleaner") == [
        "Is anyone in danger right now?"
    ]
    answer = joined(chat.type("no"))
    assert "Call 999 now" not in answer
    assert HELPLINE in answer
    assert "101" in answer
    expect(page.locator('#log a[href="tel:101"]').first).to_be_visible()
    expect(page.locator('#log a[href="tel:18001101"]').first).to_be_visible()
    resources = joined(chat.type("legal support"))
    assert "https://" in resources
    assert page.locator('#log .msg-bot a[href^="https://"]').count() >= 1
    assert chat.user_texts()[-1] == "legal support"


def test_only_https_and_tel_links_in_the_conversation(site: BotServers, page: Page) -> None:
    chat = ChatPage(page, site.web_url).open()
    chat.click("I'm asking for my work")
    chat.click("No")
    hrefs: list[str] = page.eval_on_selector_all(
        "#log a", "links => links.map(a => a.getAttribute('href'))"
    )
    assert hrefs
    assert all(h.startswith(("https://", "tel:")) for h in hrefs), hrefs
    assert all(re.fullmatch(r"tel:\d+", h) for h in hrefs if h.startswith("tel:")), hrefs


def test_html_in_a_message_is_shown_as_text_and_runs_nothing(
    site: BotServers, page: Page, dialogs: list[str]
) -> None:
    chat = ChatPage(page, site.web_url).open()
    attack = "<img src=x onerror=alert(1)>"
    chat.type(attack)
    assert chat.user_texts()[-1] == attack
    assert page.locator("#log img").count() == 0
    page.wait_for_timeout(500)
    assert dialogs == []


def _storage(page: Page) -> dict[str, Any]:
    result: dict[str, Any] = page.evaluate(
        """async () => ({
            localStorage: localStorage.length,
            sessionStorage: sessionStorage.length,
            indexedDB: (await indexedDB.databases()).length,
            cookie: document.cookie,
            caches: (await caches.keys()).length,
            serviceWorkers: (await navigator.serviceWorker.getRegistrations()).length,
        })"""
    )
    return result


def test_nothing_is_left_on_the_device(site: BotServers, page: Page) -> None:
    chat = ChatPage(page, site.web_url).open()
    chat.click("It's happening to me")
    chat.click("No")
    chat.type("legal support")
    assert _storage(page) == {
        "localStorage": 0, "sessionStorage": 0, "indexedDB": 0, "cookie": "",
        "caches": 0, "serviceWorkers": 0,
    }
    assert page.context.cookies() == []
    # Reloading ends the conversation.
    page.reload()
    chat.wait_for_bot(0)
    assert chat.user_texts() == []
    assert "legal support" not in chat.log.inner_text()


def _assert_left_for_good(page: Page, chat_url: str, neutral_url: str) -> None:
    page.wait_for_url(neutral_url)
    expect(page.get_by_text(NEUTRAL_TEXT)).to_be_visible()
    page.go_back()
    page.wait_for_timeout(500)
    assert not page.url.startswith(chat_url.rstrip("/")), page.url
    assert "Conversation" not in (page.content())


def test_exit_button_leaves_and_back_does_not_return(
    site: BotServers, page: Page, neutral_url: str
) -> None:
    chat = ChatPage(page, site.web_url).open()
    chat.click("It's happening to me")
    exit_button = page.get_by_role("button", name="Emergency Exit this page")
    expect(exit_button).to_be_visible()
    exit_button.click()
    _assert_left_for_good(page, site.web_url, neutral_url)


def test_shift_three_times_leaves_and_back_does_not_return(
    site: BotServers, page: Page, neutral_url: str
) -> None:
    ChatPage(page, site.web_url).open()
    page.get_by_label("Type your message").focus()
    for _ in range(3):
        page.keyboard.press("Shift")
    _assert_left_for_good(page, site.web_url, neutral_url)


def test_shift_as_part_of_typing_does_not_leave(site: BotServers, page: Page) -> None:
    chat = ChatPage(page, site.web_url).open()
    box = page.get_by_label("Type your message")
    box.focus()
    for letter in "ABC":
        page.keyboard.press(f"Shift+{letter}")
    page.wait_for_timeout(300)
    assert page.url == chat.url
    expect(box).to_have_value("ABC")


def test_static_page_shows_emergency_numbers(site: BotServers, page: Page) -> None:
    page.goto(site.web_url)
    header = page.get_by_role("banner")
    expect(header).to_contain_text("In danger now? Call 999")
    expect(header.locator('a[href="tel:999"]')).to_be_visible()
    expect(header.locator('a[href="tel:08000121700"]')).to_have_text(HELPLINE)
    page.get_by_text("Staying safe online").click()
    expect(page.get_by_text("Your browser history is")).to_be_visible()


def test_when_the_bot_is_down_the_page_shows_the_numbers(
    dead_bot_site: BotServers, page: Page
) -> None:
    page.goto(dead_bot_site.web_url)
    error = page.locator("#log .msg-error")
    expect(error).to_be_visible(timeout=30_000)
    expect(error).to_contain_text("999")
    expect(error).to_contain_text(HELPLINE)
    expect(error.locator('a[href="tel:999"]')).to_be_visible()
    expect(error.locator('a[href="tel:08000121700"]')).to_be_visible()
    expect(page.get_by_role("banner")).to_contain_text("In danger now? Call 999")
    # The language picker does not need Rasa either.
    with urllib.request.urlopen(f"{dead_bot_site.web_url}api/languages", timeout=10) as response:
        languages = json.load(response)
    expect(page.locator("#language-select option")).to_have_count(len(languages))
    expect(page.locator("#language-select option").first).to_have_text("English")


def test_screenshots(site: BotServers, page: Page) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    chat = ChatPage(page, site.web_url).open()
    chat.click("It's happening to me")
    chat.click("No")
    page.screenshot(path=str(SCREENSHOTS / "chat-desktop-1280.png"), full_page=True)
    page.set_viewport_size({"width": 375, "height": 800})
    page.screenshot(path=str(SCREENSHOTS / "chat-mobile-375.png"), full_page=True)
    # Readable at 320 px (WCAG reflow): nothing wider than the screen.
    page.set_viewport_size({"width": 320, "height": 640})
    width: int = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 320


# --- The page server's API, without a browser ----------------------------------------------

def _post(url: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status), json.load(response)
    except urllib.error.HTTPError as error:
        return int(error.code), json.load(error)


def test_api_unknown_id_is_refused(site: BotServers) -> None:
    status, body = _post(
        f"{site.web_url}api/message", json.dumps({"id": "guess", "message": "hi"}).encode()
    )
    assert status == 403
    assert "error" in body


def test_api_client_supplied_id_is_never_used(site: BotServers) -> None:
    mine = "my-own-chosen-id-0123456789012345678901234567890123"
    status, body = _post(f"{site.web_url}api/session", json.dumps({"id": mine}).encode())
    assert status == 200
    assert body["id"] != mine
    assert len(body["id"]) >= 40
    mine_message = json.dumps({"id": mine, "message": "hi"}).encode()
    status, _ = _post(f"{site.web_url}api/message", mine_message)
    assert status == 403
    # The issued id works, and two sessions never share an id.
    status, replies = _post(
        f"{site.web_url}api/message", json.dumps({"id": body["id"], "message": "hi"}).encode()
    )
    assert status == 200
    assert any(r.get("text") == "Who is this about?" for r in replies)
    _, other = _post(f"{site.web_url}api/session", b"{}")
    assert other["id"] != body["id"]


def test_api_oversized_body_is_refused(site: BotServers) -> None:
    _, session = _post(f"{site.web_url}api/session", b"{}")
    big = json.dumps({"id": session["id"], "message": "a" * 20_000}).encode()
    status, _ = _post(f"{site.web_url}api/message", big)
    assert status == 413


def test_api_other_sites_pages_are_refused(site: BotServers) -> None:
    status, _ = _post(f"{site.web_url}api/session", b"{}", {"Origin": "https://evil.example"})
    assert status == 403


def test_security_headers(site: BotServers) -> None:
    with urllib.request.urlopen(site.web_url, timeout=10) as response:
        headers = response.headers
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in headers["Content-Security-Policy"]
    assert headers["Cache-Control"] == "no-store"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers.get("Access-Control-Allow-Origin") is None


def test_embed_snippet_adds_a_link_to_the_chat(site: BotServers, page: Page) -> None:
    page.set_content(f"<!doctype html><title>Partner</title><main>Partner page</main>"
                     f"{embed_snippet(site.web_url)}")
    link = page.locator("a[data-modern-slavery-chat]")
    expect(link).to_have_attribute("href", site.web_url)
    expect(link).to_have_attribute("target", "_blank")
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    expect(link).to_be_visible()
