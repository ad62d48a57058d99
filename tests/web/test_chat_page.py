"""The website chat in real headless Chromium, against the real page, Rasa and action servers.
What the real bot never says (links the page must not make, HTML) comes from a scripted stand-in
for Rasa behind the real page server (conftest.FakeRasa)."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from scripts.serve import BotServers
from scripts.web import embed_snippet
from tests.web.chatpage import ChatPage
from tests.web.conftest import NEUTRAL_TEXT, SCREENSHOTS, FakeRasa, NeutralSite

pytestmark = pytest.mark.web

HELPLINE = "08000 121 700"
DEFAULT_EXIT_URL = "https://www.bbc.co.uk/weather"  # the README's
EXIT_WINDOW_MS = 5000  # Shift 3 times "within 5 seconds" (README)
CLOCK_START = datetime(2025, 1, 6, 9, 0)  # any time: the page's clock, when a test sets it


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


def test_html_typed_by_the_user_is_shown_as_text(site: BotServers, page: Page) -> None:
    chat = ChatPage(page, site.web_url).open()
    attack = "<img src=x onerror=alert(1)><b>bold</b>"
    chat.type(attack)
    assert chat.user_texts()[-1] == attack
    # The page adds the message before sending it, so an element made from it would be there now.
    mine = page.locator("#log .msg-user").last
    assert mine.evaluate("m => [...m.querySelectorAll('*')].map(e => e.tagName)") == ["SPAN"]
    assert page.locator("#log img, #log b").count() == 0


def test_a_bot_message_makes_only_https_and_tel_links_and_never_html(
    fake_rasa: FakeRasa, fake_bot_site: BotServers, page: Page
) -> None:
    """What Rasa sends goes through the real page server to the page: only https: web addresses
    and phone numbers become links; http:, javascript:, data:, markdown and HTML stay text."""
    said = [
        "Web: http://example.org/help and https://www.gov.uk/ok.",
        "Script: javascript:alert(document.domain) or JavaScript:alert(1)",
        '<a href="javascript:alert(1)">Tap here</a><img src="x" onerror="alert(1)">'
        "<b>bold</b><script>alert(1)</script>",
        "[Tap here](http://example.org/phish) data:text/html;base64,PHNjcmlwdD4= "
        "//example.org/x ftp://example.org/f https://javascript:alert(1)",
        "Call 999 or 08000 121 700.",
    ]
    title = "<b>Bold</b> <a href='http://example.org'>x</a>"
    fake_rasa.replies["show me the links"] = [
        {"text": said[0]}, {"text": said[1]}, {"text": said[2]}, {"text": said[3]},
        {"text": said[4], "image": "javascript:alert(1)",
         "attachment": {"type": "link", "url": "http://example.org/a"},
         "custom": {"html": "<a href='http://example.org/c'>c</a>"}},
        {"buttons": [{"title": title, "payload": "/fine"}]},
    ]
    chat = ChatPage(page, fake_bot_site.web_url).open()
    before = chat.bot_count()
    assert chat.type("show me the links") == said

    messages = page.locator("#log .msg-bot, #log .msg-error")
    hrefs = messages.evaluate_all(
        """(ms, before) => ms.slice(before).flatMap(
            m => [...m.querySelectorAll('a')].map(a => a.getAttribute('href')))""",
        before,
    )
    assert hrefs == ["https://www.gov.uk/ok", "tel:999", "tel:08000121700"]
    tags = messages.evaluate_all(
        """(ms, before) => [...new Set(ms.slice(before).flatMap(
            m => [...m.querySelectorAll('*')].map(e => e.tagName)))]""",
        before,
    )
    assert sorted(tags) == ["A", "SPAN"]  # links and the hidden "Assistant:"; no other element
    assert page.locator("#log img, #log b, #log script, #log iframe").count() == 0
    assert chat.bot_count() == before + len(said)  # nothing shown for image, attachment, custom

    button = chat.last_buttons
    expect(button).to_have_count(1)
    expect(button).to_have_text(title)
    assert button.evaluate("b => b.children.length") == 0
    chat.click_button(button)
    assert fake_rasa.received[-1]["message"] == "/fine"


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


def _screen_is_blank(page: Page) -> bool:
    """Whether the tab shows nothing but white. Taken through DevTools, which, unlike Playwright's
    own screenshot and evaluate, does not wait for a navigation under way to finish."""
    cdp = page.context.new_cdp_session(page)
    try:
        png: str = cdp.send("Page.captureScreenshot", {"format": "png"})["data"]  # base64
    finally:
        cdp.detach()
    checker = page.context.new_page()
    try:
        coloured: int = checker.evaluate(
            """async png => {
                const image = new Image();
                image.src = 'data:image/png;base64,' + png;
                await image.decode();
                const canvas = document.createElement('canvas');
                canvas.width = image.width;
                canvas.height = image.height;
                const context = canvas.getContext('2d');
                context.drawImage(image, 0, 0);
                const px = context.getImageData(0, 0, image.width, image.height).data;
                let coloured = 0;
                for (let i = 0; i < px.length; i += 4) {
                    if (px[i] < 255 || px[i + 1] < 255 || px[i + 2] < 255) { coloured += 1; }
                }
                return coloured;
            }""",
            png,
        )
    finally:
        checker.close()
    return coloured == 0


def _exit_and_check_blank_meanwhile(
    page: Page, neutral: NeutralSite, leave: Callable[[], None]
) -> None:
    """Quick exit (`leave()`), with the neutral site holding its answer: once the browser has
    asked for the exit page, the chat must already be blank. Then the neutral site answers."""
    assert not _screen_is_blank(page)  # the check sees the chat before
    neutral.gate.clear()
    try:
        with page.expect_request(neutral.url, timeout=10_000):
            leave()
        assert _screen_is_blank(page), "the chat still shows while the exit page loads"
    finally:
        neutral.gate.set()


def _assert_left_for_good(page: Page, chat_url: str, neutral_url: str) -> None:
    page.wait_for_url(neutral_url)
    expect(page.get_by_text(NEUTRAL_TEXT)).to_be_visible()
    # location.replace: the chat is in no entry of the tab's history, so Back cannot bring it
    # (or its conversation) back.
    cdp = page.context.new_cdp_session(page)
    try:
        history = cdp.send("Page.getNavigationHistory")
    finally:
        cdp.detach()
    urls = [entry["url"] for entry in history["entries"]]
    assert not [url for url in urls if url.startswith(chat_url)], urls
    page.go_back()  # waits for the page it goes back to, if any
    assert not page.url.startswith(chat_url), page.url


def _dots(page: Page) -> list[bool]:
    """The three exit dots, as seen: filled or not."""
    dots: list[bool] = page.locator(".exit-dots span").evaluate_all(
        "ds => ds.map(d => getComputedStyle(d).backgroundColor !== 'rgba(0, 0, 0, 0)')"
    )
    return dots


def test_exit_button_blanks_the_page_at_once_and_leaves_for_good(
    site: BotServers, page: Page, neutral: NeutralSite
) -> None:
    chat = ChatPage(page, site.web_url).open()
    chat.click("It's happening to me")
    exit_button = page.get_by_role("button", name="Emergency Exit this page")
    expect(exit_button).to_be_visible()
    _exit_and_check_blank_meanwhile(page, neutral, lambda: exit_button.click(no_wait_after=True))
    _assert_left_for_good(page, site.web_url, neutral.url)
    # Coming back to the chat's address starts a new conversation: the old one is gone.
    chat.open()
    assert chat.user_texts() == []
    assert "Is anyone in danger right now?" not in chat.log.inner_text()


def test_shift_three_times_each_within_five_seconds_leaves_for_good(
    site: BotServers, page: Page, neutral: NeutralSite
) -> None:
    """The 5 seconds start again at each press (as GOV.UK's component does): three presses 4 s
    apart leave. The page's clock is Playwright's, moved on by the test."""
    page.clock.install(time=CLOCK_START)
    chat = ChatPage(page, site.web_url).open()
    chat.click("It's happening to me")
    page.clock.pause_at(CLOCK_START + timedelta(hours=1))
    page.get_by_label("Type your message").focus()

    def three_presses() -> None:
        page.keyboard.press("Shift")
        page.clock.run_for(4000)
        page.keyboard.press("Shift")
        page.clock.run_for(4000)
        assert _dots(page) == [True, True, False]
        page.keyboard.press("Shift")

    _exit_and_check_blank_meanwhile(page, neutral, three_presses)
    _assert_left_for_good(page, site.web_url, neutral.url)


def test_shift_countdown_dots_and_its_five_second_window(site: BotServers, page: Page) -> None:
    """Each press fills a dot and tells screen readers how many are left; 5 s without a press
    empties the dots, says so, and counting starts again."""
    page.clock.install(time=CLOCK_START)
    ChatPage(page, site.web_url).open()
    page.clock.pause_at(CLOCK_START + timedelta(hours=1))
    status = page.get_by_role("status")
    expect(status).to_have_attribute("aria-live", "polite")
    expect(page.locator(".exit-dots")).to_be_visible()
    assert _dots(page) == [False, False, False]
    expect(status).to_have_text("")

    page.keyboard.press("Shift")
    assert _dots(page) == [True, False, False]
    expect(status).to_have_text("Shift, press 2 more times to exit.")
    page.clock.run_for(EXIT_WINDOW_MS - 1)
    assert _dots(page) == [True, False, False]  # still within the 5 seconds
    page.keyboard.press("Shift")
    assert _dots(page) == [True, True, False]
    expect(status).to_have_text("Shift, press 1 more time to exit.")

    page.clock.run_for(EXIT_WINDOW_MS)
    assert _dots(page) == [False, False, False]
    expect(status).to_have_text("Exit this page expired.")
    page.keyboard.press("Shift")  # the first of three again
    assert _dots(page) == [True, False, False]
    expect(status).to_have_text("Shift, press 2 more times to exit.")
    assert page.url == site.web_url


def test_shift_as_part_of_typing_does_not_count(site: BotServers, page: Page) -> None:
    chat = ChatPage(page, site.web_url).open()
    box = page.get_by_label("Type your message")
    box.focus()
    for letter in "ABC":
        page.keyboard.press(f"Shift+{letter}")
    expect(box).to_have_value("ABC")
    # The page counts a Shift as it is released, in that key event, so this is already known.
    assert _dots(page) == [False, False, False]
    expect(page.get_by_role("status")).to_have_text("")
    page.keyboard.press("Shift")  # a Shift alone after them is the first of three
    assert _dots(page) == [True, False, False]
    expect(page.get_by_role("status")).to_have_text("Shift, press 2 more times to exit.")
    assert page.url == chat.url


def test_quick_exit_goes_to_bbc_weather_by_default(fake_bot_site: BotServers, page: Page) -> None:
    """Without EXIT_URL, quick exit opens BBC Weather (answered here by the browser itself)."""
    assert fake_bot_site.exit_url is None
    page.route(DEFAULT_EXIT_URL, lambda route: route.fulfill(
        status=200, content_type="text/html", body=f"<title>Weather</title><p>{NEUTRAL_TEXT}"
    ))
    ChatPage(page, fake_bot_site.web_url).open()
    exit_button = page.get_by_role("button", name="Emergency Exit this page")
    expect(exit_button).to_have_attribute("href", DEFAULT_EXIT_URL)
    exit_button.click()
    _assert_left_for_good(page, fake_bot_site.web_url, DEFAULT_EXIT_URL)


def test_the_message_box_has_autocomplete_off(site: BotServers, page: Page) -> None:
    ChatPage(page, site.web_url).open()
    box = page.get_by_label("Type your message")
    expect(box).to_have_attribute("autocomplete", "off")
    expect(page.locator("#send-form")).to_have_attribute("autocomplete", "off")


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
