"""axe-core scans of the chat page, before and during a conversation: zero violations."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

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
    tab_to(page, "document.activeElement.id", "language-select", presses=10)
    select = page.locator("#language-select")

    page.keyboard.press("ArrowDown")
    assert select.input_value() == chosen["code"]
    page.wait_for_timeout(300)
    assert chat.user_texts() == []  # not sent yet
    before = chat.bot_count()
    page.keyboard.press("Enter")
    chat.wait_for_bot(before)
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


def test_targets_are_at_least_24px(site: BotServers, page: Page) -> None:
    ChatPage(page, site.web_url).open()
    small: list[str] = page.evaluate(
        """() => [...document.querySelectorAll('button, input, select, summary, .exit-button')]
            .filter(e => { const r = e.getBoundingClientRect();
                           return r.width < 24 || r.height < 24; })
            .map(e => e.outerHTML.slice(0, 80))"""
    )
    assert small == []


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
