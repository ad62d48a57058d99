"""Over a limit of the page server (429, issue 17), the page shows its "not working" text with 999
and the helpline as links, never a blank: for a new conversation refused and for a message
refused in a conversation under way (whose earlier messages stay). The real page server, with
small limits, in front of the stand-in Rasa of tests/web/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from scripts.serve import BotServers
from tests.e2e.conftest import free_port
from tests.web.chatpage import ChatPage
from tests.web.conftest import LOG, FakeRasa

pytestmark = pytest.mark.web

HELPLINE = "08000 121 700"


@pytest.fixture(scope="module")
def limited_site(fake_rasa: FakeRasa) -> Iterator[BotServers]:
    """One new conversation per address (the next after 100 minutes) and 2 messages per
    conversation (the next after 100 seconds)."""
    limits = {"LIMIT_SESSIONS_BURST": "1", "LIMIT_SESSIONS_PER_MINUTE": "0.01",
              "LIMIT_MESSAGES_BURST": "2", "LIMIT_MESSAGES_PER_MINUTE": "0.6"}
    with (LOG.parent / "web-limited.log").open("w") as log:
        servers = BotServers(rasa_port=fake_rasa.port, web_port=free_port(), log=log,
                             env=limits)
        servers.start_web()
        try:
            servers.wait_ready(timeout=30)
            yield servers
        finally:
            servers.stop()


def _shows_the_numbers(page: Page) -> None:
    error = page.locator("#log .msg-error").last
    expect(error).to_be_visible(timeout=30_000)
    expect(error).to_contain_text("999")
    expect(error).to_contain_text(HELPLINE)
    expect(error.locator('a[href="tel:999"]')).to_be_visible()
    expect(error.locator('a[href="tel:08000121700"]')).to_be_visible()
    expect(page.get_by_role("banner")).to_contain_text("In danger now? Call 999")


def test_over_a_limit_the_page_shows_999_and_the_helpline(
    limited_site: BotServers, page: Page,
) -> None:
    chat = ChatPage(page, limited_site.web_url).open()  # the greeting: message 1
    assert chat.page.locator("#log .msg-error").count() == 0
    assert chat.type("hello") == ["Fake bot: hello."]  # message 2
    statuses: list[int] = []
    page.on("response", lambda response: statuses.append(response.status))
    answer = chat.type("are you there")  # message 3: over the conversation's limit
    assert 429 in statuses
    assert len(answer) == 1 and "999" in answer[0] and HELPLINE in answer[0]
    _shows_the_numbers(page)
    expect(page.locator("#log .msg-bot").first).to_contain_text("Fake bot: hello.")
    # A reload starts a new conversation: over the address's limit of new ones.
    statuses.clear()
    page.reload()
    _shows_the_numbers(page)
    assert 429 in statuses
    expect(page.locator("#log .msg-bot")).to_have_count(0)
