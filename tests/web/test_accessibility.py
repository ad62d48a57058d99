"""axe-core scans of the chat page, before and during a conversation: zero violations."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Request, expect

from scripts.serve import BotServers
from tests.web.chatpage import ChatPage
from tests.web.test_languages import CONVERSATIONS, page_languages, start_conversation

pytestmark = pytest.mark.web

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]


def axe_violations(page: Page, axe_source: str) -> list[dict[str, Any]]:
    page.evaluate(axe_source)  # run through DevTools, so the page's CSP needs no exception
    result: list[dict[str, Any]] = page.evaluate(
        """async tags => {
            const r = await axe.run(document, {runOnly: {type: 'tag', values: tags}});
            return r.violations.map(v => ({id: v.id, help: v.help,
                                          nodes: v.nodes.map(n => n.target.join(' '))}));
        }""",
        WCAG_TAGS,
    )
    return result


@pytest.mark.parametrize("width", [1280, 320])
def test_no_axe_violations_before_and_during_a_conversation(
    site: BotServers, browser: Browser, axe_source: str, width: int
) -> None:
    context = browser.new_context(viewport={"width": width, "height": 800})
    try:
        page = context.new_page()
        chat = ChatPage(page, site.web_url).open()
        assert axe_violations(page, axe_source) == []
        chat.click("I'm worried about someone")
        chat.click("No")
        chat.click("Support and resources")
        chat.click("Legal support")
        page.get_by_text("Staying safe online").click()
        assert axe_violations(page, axe_source) == []
    finally:
        context.close()


@pytest.mark.parametrize(("code", "text", "direction"), CONVERSATIONS)
def test_no_axe_violations_in_other_languages(
    site: BotServers, page: Page, axe_source: str, code: str, text: str, direction: str
) -> None:
    """A conversation typed in Arabic (right to left) or Tigrinya, after the first translated
    button: lang on every message and button, the header in that language."""
    start_conversation(page, site, code, text)
    assert page.locator(f'#log .msg-bot[lang="{code}"]').count() >= 1
    assert axe_violations(page, axe_source) == []


def tab_to(page: Page, expression: str, wanted: str, presses: int) -> None:
    """Press Tab until `expression` (about the focused element) is `wanted`; it must then show a
    solid focus outline."""
    for _ in range(presses):
        page.keyboard.press("Tab")
        if page.evaluate(expression) == wanted:
            break
    else:
        pytest.fail(f"{wanted!r} cannot be reached with Tab")
    outline: str = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"


def test_keyboard_only_language_choice(site: BotServers, page: Page) -> None:
    """Tab to the picker, arrow to a language and press Enter; the bot answers in it. Then back
    to English the same way. Arrowing through the list sends nothing until Enter."""
    languages = page_languages(site)
    if len(languages) < 2:
        pytest.fail(f"no language offered besides English: {languages}")
    chosen = languages[1]
    chat = ChatPage(page, site.web_url).open()
    sent: list[str] = []  # every message the page sends from now on

    def on_request(request: Request) -> None:
        if request.url.endswith("/api/message"):
            sent.append(json.loads(request.post_data or "{}").get("message"))

    page.on("request", on_request)
    tab_to(page, "document.activeElement.id", "language-select", presses=10)
    select = page.locator("#language-select")

    page.keyboard.press("ArrowDown")
    assert select.input_value() == chosen["code"]
    # Sending shows the user's message at once, in the same event as the change.
    assert chat.user_texts() == []  # not sent yet
    before = chat.bot_count()
    page.keyboard.press("Enter")
    chat.wait_for_bot(before)
    # One message, sent on Enter (the arrow sent none): that request came before its answer.
    code = chosen["code"]
    assert sent == [f'/choose_language{{"language": "{code}"}}'], sent
    answer = chat.bot_messages_since(before)
    assert chosen["code"] in [m["lang"] for m in answer], answer
    assert chat.user_texts() == [chosen["name"]]
    expect(page.locator("#log .msg-user").last).to_have_attribute("lang", chosen["code"])
    assert page.evaluate("document.activeElement.id") == "language-select"

    page.keyboard.press("ArrowUp")
    assert select.input_value() == "en"
    before = chat.bot_count()
    page.keyboard.press("Enter")
    chat.wait_for_bot(before)
    answer = chat.bot_messages_since(before)
    assert answer
    assert all(m["lang"] in (None, "en") for m in answer), answer
    expect(page.locator("#danger-translated")).to_be_hidden()
    assert chat.user_texts() == [chosen["name"], "English"]
    assert sent[1:] == ['/choose_language{"language": "en"}'], sent


def test_keyboard_only_conversation_with_visible_focus(site: BotServers, page: Page) -> None:
    chat = ChatPage(page, site.web_url).open()
    page.keyboard.press("Tab")
    focused: str = page.evaluate("document.activeElement.id")
    assert focused == "exit-this-page"  # quick exit comes first
    # Tab to the first answer button, and press Enter.
    tab_to(page, "document.activeElement.textContent", "It's happening to me", presses=30)
    before = chat.bot_count()
    page.keyboard.press("Enter")
    chat.wait_for_bot(before)
    assert "Is anyone in danger right now?" in chat.bot_texts_since(before)


@pytest.mark.parametrize("width", [1280, 320])
def test_buttons_are_at_least_44px(site: BotServers, browser: Browser, width: int) -> None:
    """Every button, the exit button, the text box, the language list and "Staying safe online"
    (links inside sentences are exempt, as WCAG allows)."""
    context = browser.new_context(viewport={"width": width, "height": 800})
    try:
        page = context.new_page()
        chat = ChatPage(page, site.web_url).open()
        chat.click("I'm worried about someone")
        targets: list[dict[str, Any]] = page.evaluate(
            """() => [...document.querySelectorAll(
                    'button, [role=button], input, select, summary')]
                .map(e => { const r = e.getBoundingClientRect();
                            return {what: e.outerHTML.slice(0, 80), width: r.width,
                                    height: r.height}; })"""
        )
        assert page.locator("#log .buttons button").count() >= 7  # the bot's, in the list
        assert len(targets) >= 12, targets
        small = [t for t in targets if t["width"] < 44 or t["height"] < 44]
        assert small == []
    finally:
        context.close()


def _sideways(page: Page) -> list[str]:
    """What reaches past the right (or left) edge of the window, or scrolls sideways."""
    found: list[str] = page.evaluate(
        """() => {
            const width = document.documentElement.clientWidth, found = [];
            if (document.documentElement.scrollWidth > width) {
                found.push('the page scrolls sideways: ' + document.documentElement.scrollWidth);
            }
            const log = document.getElementById('log');
            if (log.scrollWidth > log.clientWidth) {
                found.push('the conversation scrolls sideways');
            }
            for (const e of document.querySelectorAll('body *')) {
                if (e.closest('.visually-hidden')) { continue; }
                const r = e.getBoundingClientRect();
                if (r.width === 0 && r.height === 0) { continue; }  // not shown
                if (r.left < 0 || r.right > width + 0.5) {
                    found.push(e.outerHTML.slice(0, 60) + ': ' + r.left + ' to ' + r.right);
                }
            }
            return found;
        }"""
    )
    return found


def test_the_page_works_at_200_percent_zoom(site: BotServers, browser: Browser) -> None:
    """200 % zoom of a 1280 x 900 window: 640 x 450 CSS pixels, two screen pixels each. Nothing
    scrolls sideways, before or after an answer; 999, the helpline and the exit button are in
    view at the top; the text box, Send and the answer buttons can be clicked."""
    context = browser.new_context(viewport={"width": 640, "height": 450}, device_scale_factor=2)
    try:
        page = context.new_page()
        chat = ChatPage(page, site.web_url).open()
        assert page.evaluate("devicePixelRatio") == 2
        assert _sideways(page) == []
        header = page.get_by_role("banner")
        exit_button = page.get_by_role("button", name="Emergency Exit this page")
        expect(header.locator(".emergency-line").first).to_be_in_viewport(ratio=1)
        expect(header.locator('a[href="tel:999"]')).to_be_in_viewport(ratio=1)
        expect(header.locator('a[href="tel:08000121700"]')).to_be_in_viewport(ratio=1)
        expect(exit_button).to_be_in_viewport(ratio=1)

        # Click into the box (Playwright clicks only what is in view and not covered), type, send.
        typed = "i'm worried about my neighbour's cleaner"
        before = chat.bot_count()
        page.get_by_label("Type your message").click()
        page.keyboard.type(typed)
        page.get_by_role("button", name="Send").click()
        chat.wait_for_bot(before)
        assert chat.user_texts() == [typed]
        assert chat.bot_texts_since(before)
        assert _sideways(page) == []
        assert chat.click_button(chat.last_buttons.first)  # an answer's button, then its answer
        assert _sideways(page) == []
    finally:
        context.close()


def test_reduced_motion_and_live_log(site: BotServers, page: Page) -> None:
    page.emulate_media(reduced_motion="reduce")
    ChatPage(page, site.web_url).open()
    log = page.locator("#log")
    assert log.get_attribute("role") == "log"
    assert log.get_attribute("aria-live") == "polite"
    behaviour: str = page.evaluate(
        "getComputedStyle(document.getElementById('log')).scrollBehavior"
    )
    assert behaviour == "auto"
