"""The chat page in other languages, in real headless Chromium against the real servers: a
conversation typed in Arabic and one in Tigrinya (lang and dir on every message and button, the
numbers as tel: links, the English after each translation), the header's picker and its lines in
the chosen language, and screenshots. axe-core and keyboard-only checks: test_accessibility.py."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from scripts.serve import BotServers
from tests.web.chatpage import ChatPage
from tests.web.conftest import SCREENSHOTS

pytestmark = pytest.mark.web

ARABIC = "ساعدني من فضلك، صاحب العمل أخذ جواز سفري ولا يدفع لي"
TIGRINYA = "በጃኹም ሓግዙኒ፡ ኣስራሒየይ ፓስፖርተይ ወሲዱ ደሞዝ ውን ኣይከፍለንን እዩ"
# (language code, what the user types, the direction of its script), for parametrize
CONVERSATIONS = [
    pytest.param("ar", ARABIC, "rtl", id="ar"),
    pytest.param("ti", TIGRINYA, "ltr", id="ti"),
]
HEADER_LINES = {  # the header's element for each of the page's words (/api/languages)
    "danger_line": "#danger-translated",
    "helpline_line": "#helpline-translated",
    "exit_label": "#exit-translated",
    "language_label": "#language-label-translated",
}
ISOLATES = str.maketrans("", "", "\u2066\u2069")


def page_languages(site: BotServers) -> list[dict[str, Any]]:
    """What the page server offers (GET /api/languages): English first."""
    with urllib.request.urlopen(f"{site.web_url}api/languages", timeout=10) as response:
        languages: list[dict[str, Any]] = json.load(response)
    return languages


def start_conversation(page: Page, site: BotServers, code: str, text: str) -> ChatPage:
    """Type `text` and click the first button of the answer, which must be in language `code`."""
    chat = ChatPage(page, site.web_url).open()
    chat.type(text)
    first = chat.last_buttons.first
    expect(first).to_have_attribute("lang", code)
    chat.click_button(first)
    return chat


@pytest.mark.parametrize(("code", "text", "direction"), CONVERSATIONS)
def test_a_conversation_typed_in_another_language(
    site: BotServers, page: Page, code: str, text: str, direction: str
) -> None:
    chat = ChatPage(page, site.web_url).open()
    answer = chat.type_message(text)

    # The user's own words: shown as typed, in the direction of their script.
    mine = page.locator("#log .msg-user").last
    expect(mine).to_have_attribute("dir", "auto")
    assert chat.user_texts()[-1] == text

    # The answer in the user's language, with lang (and dir="rtl" for Arabic) on each message.
    langs = [m["lang"] for m in answer]
    assert code in langs, answer
    translated = [m for m in answer if m["lang"] == code]
    for message in translated:
        assert message["dir"] in (("rtl",) if direction == "rtl" else (None, "ltr")), message
    # 999 and the helpline are tel: links, left to right, showing the number only.
    links = [link for m in translated for link in m["tel"]]
    assert {"href": "tel:999", "text": "999", "dir": "ltr"} in links, links
    assert {"href": "tel:08000121700", "text": "08000 121 700", "dir": "ltr"} in links, links
    # The same in English after it.
    assert "en" in langs[langs.index(code) + 1:], langs
    for message in answer:
        if message["lang"] == "en":
            assert message["dir"] in (None, "ltr"), message

    # The answer's buttons are translated: lang/dir, and the English title as a second line.
    buttons = chat.last_buttons
    assert buttons.count() >= 1
    for i in range(buttons.count()):
        button = buttons.nth(i)
        expect(button).to_have_attribute("lang", code)
        if direction == "rtl":
            expect(button).to_have_attribute("dir", "rtl")
        english = button.locator(".english-line")
        expect(english).to_have_attribute("lang", "en")
        expect(english).to_have_attribute("dir", "ltr")
        assert english.inner_text().strip()

    # The next question is still in the user's language.
    title = buttons.first.evaluate("b => b.firstChild.textContent")
    after = chat.click_button(buttons.first)
    assert code in [m["lang"] for m in after], after
    mine = page.locator("#log .msg-user").last
    expect(mine).to_have_attribute("lang", code)
    assert chat.user_texts()[-1].startswith(title)

    # Every link in the conversation is still only https: or tel:.
    hrefs: list[str] = page.eval_on_selector_all(
        "#log a", "links => links.map(a => a.getAttribute('href'))"
    )
    assert all(h.startswith(("https://", "tel:")) for h in hrefs), hrefs


def test_the_picker_lists_each_language_in_its_own_script(site: BotServers, page: Page) -> None:
    languages = page_languages(site)
    assert languages[0]["code"] == "en"
    ChatPage(page, site.web_url).open()
    select = page.get_by_label("Language")
    expect(select).to_be_visible()
    options: list[dict[str, Any]] = select.evaluate(
        """s => [...s.options].map(o => ({code: o.value, name: o.textContent,
                                          lang: o.getAttribute('lang'),
                                          dir: o.getAttribute('dir')}))"""
    )
    assert options == [
        {"code": lang["code"], "name": lang["name"], "lang": lang["code"],
         "dir": "rtl" if lang["dir"] == "rtl" else None}
        for lang in languages
    ]
    assert select.input_value() == "en"


def test_the_header_follows_the_chosen_language(site: BotServers, page: Page) -> None:
    languages = page_languages(site)
    with_lines = [lang for lang in languages[1:] if lang["danger_line"]]
    if not with_lines:
        pytest.fail(f"no language with a translated danger line: {languages}")
    lang = with_lines[0]
    code = lang["code"]
    chat = ChatPage(page, site.web_url).open()
    header = page.get_by_role("banner")
    for selector in HEADER_LINES.values():
        expect(header.locator(selector)).to_be_hidden()

    answer = chat.choose_language(code)
    assert code in [m["lang"] for m in answer], answer
    mine = page.locator("#log .msg-user").last
    expect(mine).to_have_attribute("lang", code)
    assert chat.user_texts()[-1] == lang["name"]
    # Each of the page's words in that language, under the English, which stays.
    for key, selector in HEADER_LINES.items():
        line = header.locator(selector)
        if lang[key] is None:
            expect(line).to_be_hidden()
            continue
        expect(line).to_be_visible()
        expect(line).to_have_attribute("lang", code)
        expect(line).to_have_attribute("dir", lang["dir"])
        shown = (line.text_content() or "").translate(ISOLATES)
        assert shown == lang[key].translate(ISOLATES)
    expect(header).to_contain_text("In danger now? Call 999")
    expect(header).to_contain_text("08000 121 700")
    exit_button = page.get_by_role("button", name="Emergency Exit this page")
    expect(exit_button).to_contain_text("Exit this page")
    expect(header.locator('#danger-translated a[href="tel:999"]')).to_have_attribute("dir", "ltr")

    # Back to English: the header is English only again.
    answer = chat.choose_language("en")
    assert code not in [m["lang"] for m in answer], answer
    for selector in HEADER_LINES.values():
        expect(header.locator(selector)).to_be_hidden()
    expect(header).to_contain_text("In danger now? Call 999")


@pytest.mark.parametrize(("code", "text", "direction"), CONVERSATIONS)
def test_screenshots_in_other_languages(
    site: BotServers, page: Page, code: str, text: str, direction: str
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    start_conversation(page, site, code, text)
    page.evaluate("window.scrollTo(0, 0)")  # the sticky exit bar at the top of the picture
    page.screenshot(path=str(SCREENSHOTS / f"chat-{code}-desktop-1280.png"), full_page=True)
    page.set_viewport_size({"width": 375, "height": 800})
    page.screenshot(path=str(SCREENSHOTS / f"chat-{code}-mobile-375.png"), full_page=True)
    # Readable at 320 px (WCAG reflow), right to left too: nothing wider than the screen.
    page.set_viewport_size({"width": 320, "height": 640})
    width: int = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 320
