"""Drives the chat page like a person: click buttons, type, read the conversation."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Locator, Page

REPLY_TIMEOUT_MS = 30_000


class ChatPage:
    def __init__(self, page: Page, url: str) -> None:
        self.page = page
        self.url = url

    def open(self) -> ChatPage:
        self.page.goto(self.url)
        self.wait_for_bot(0)
        # The language picker, once filled from /api/languages.
        self.page.locator("#language-picker").wait_for(state="visible")
        return self

    @property
    def log(self) -> Locator:
        return self.page.locator("#log")

    def bot_count(self) -> int:
        return self.page.locator("#log .msg-bot, #log .msg-error").count()

    def wait_for_bot(self, before: int) -> None:
        """Until the page has shown the whole answer to the last message."""
        self.page.wait_for_function(
            """before => {
                const log = document.getElementById('log');
                const n = log.querySelectorAll('.msg-bot, .msg-error').length;
                return n > before && log.getAttribute('aria-busy') === 'false';
            }""",
            arg=before,
            timeout=REPLY_TIMEOUT_MS,
        )

    def bot_texts_since(self, before: int) -> list[str]:
        """What the bot said, as seen (without text only for screen readers)."""
        texts: list[str] = self.page.evaluate(
            """before => [...document.querySelectorAll('#log .msg-bot, #log .msg-error')]
                .slice(before).map(item => {
                    const copy = item.cloneNode(true);
                    copy.querySelectorAll('.visually-hidden').forEach(e => e.remove());
                    return copy.textContent;
                })""",
            before,
        )
        return texts

    def click(self, title: str) -> list[str]:
        """Click the last button with this title; returns the bot's answer."""
        before = self.bot_count()
        buttons = self.page.locator("#log .buttons").get_by_role("button", name=title, exact=True)
        buttons.last.click()
        self.wait_for_bot(before)
        return self.bot_texts_since(before)

    def type(self, text: str) -> list[str]:
        before = self.bot_count()
        self.page.get_by_label("Type your message").fill(text)
        self.page.get_by_label("Type your message").press("Enter")
        self.wait_for_bot(before)
        return self.bot_texts_since(before)

    def user_texts(self) -> list[str]:
        texts: list[str] = self.page.evaluate(
            """() => [...document.querySelectorAll('#log .msg-user')].map(item => {
                    const copy = item.cloneNode(true);
                    copy.querySelectorAll('.visually-hidden').forEach(e => e.remove());
                    return copy.textContent;
                })"""
        )
        return texts

    def bot_messages_since(self, before: int) -> list[dict[str, Any]]:
        """The bot's messages since `before`: lang, dir, text as seen, and their tel: links."""
        messages: list[dict[str, Any]] = self.page.evaluate(
            """before => [...document.querySelectorAll('#log .msg-bot, #log .msg-error')]
                .slice(before).map(item => {
                    const copy = item.cloneNode(true);
                    copy.querySelectorAll('.visually-hidden').forEach(e => e.remove());
                    return {
                        lang: item.getAttribute('lang'), dir: item.getAttribute('dir'),
                        text: copy.textContent,
                        tel: [...item.querySelectorAll('a[href^="tel:"]')].map(a => ({
                            href: a.getAttribute('href'), text: a.textContent,
                            dir: a.getAttribute('dir')})),
                    };
                })""",
            before,
        )
        return messages

    @property
    def last_buttons(self) -> Locator:
        """The buttons of the bot's last message that has any."""
        return self.page.locator("#log .buttons").last.get_by_role("button")

    def click_button(self, button: Locator) -> list[dict[str, Any]]:
        before = self.bot_count()
        button.click()
        self.wait_for_bot(before)
        return self.bot_messages_since(before)

    def type_message(self, text: str) -> list[dict[str, Any]]:
        """Like type(), but returns bot_messages_since()."""
        before = self.bot_count()
        self.type(text)
        return self.bot_messages_since(before)

    def choose_language(self, code: str) -> list[dict[str, Any]]:
        """Choose a language in the header's picker (as with the mouse); the bot's answer."""
        before = self.bot_count()
        self.page.locator("#language-select").select_option(code)
        self.wait_for_bot(before)
        return self.bot_messages_since(before)
