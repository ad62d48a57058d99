"""The REST channel's answer step (addons/channel.py) with a stand-in for Rasa: how many messages
it lets in at once, in which order, and what a failed turn still answers. The HTTP side (4xx,
413, 503) runs against the real server in tests/e2e/test_bad_input.py and test_hardening.py."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from rasa.core.channels.channel import UserMessage
from rasa.shared.core.domain import Domain

from addons import channel as channel_module
from addons.channel import DEFAULT_CONCURRENT_MESSAGES, TriageRestInput
from tests.helpers import ROOT

DOMAIN = Domain.load(str(ROOT / "domain.yml"))


class SlowBot:
    """Answers each message after a pause, as Rasa does while it waits for its stores."""

    def __init__(self, fail_on: str = "", hang_on: str = "") -> None:
        self.inside = 0
        self.hang_on = hang_on
        self.most_inside = 0
        self.started: list[str] = []
        self.fail_on = fail_on
        self.release = asyncio.Event()  # what a hung turn waits for

    async def on_new_message(self, message: UserMessage) -> None:
        self.inside += 1
        self.most_inside = max(self.most_inside, self.inside)
        self.started.append(message.text or "")
        try:
            await asyncio.sleep(0.01)
            if message.text == self.hang_on:  # an action server that does not answer
                await self.release.wait()
            if message.text == self.fail_on:
                raise RuntimeError("the action server is down")
            assert message.output_channel is not None
            await message.output_channel.send_text_message(
                message.sender_id or "", f"answer to {message.text}"
            )
        finally:
            self.inside -= 1


def answer_all(channel: TriageRestInput, bot: SlowBot, count: int) -> list[list[dict[str, Any]]]:
    async def main() -> list[list[dict[str, Any]]]:
        return await asyncio.gather(
            *(
                channel.answer(bot.on_new_message, DOMAIN, f"message {n}", f"sender-{n}")
                for n in range(count)
            )
        )

    return asyncio.run(main())


@pytest.mark.parametrize("limit", [1, 2, 5])
def test_at_most_the_configured_number_of_messages_are_inside_rasa(limit: int) -> None:
    bot = SlowBot()
    answers = answer_all(TriageRestInput(concurrent_messages=limit), bot, 20)

    assert bot.most_inside == limit
    # Every message still gets its own answer, and they go in in the order they came.
    assert [a[0]["text"] for a in answers] == [f"answer to message {n}" for n in range(20)]
    assert bot.started == [f"message {n}" for n in range(20)]


def test_the_limit_comes_from_credentials_yml() -> None:
    assert TriageRestInput.from_credentials({"concurrent_messages": 3}).concurrent_messages == 3
    default = TriageRestInput.from_credentials(None).concurrent_messages
    assert default == DEFAULT_CONCURRENT_MESSAGES
    with pytest.raises(ValueError, match="at least 1"):
        TriageRestInput.from_credentials({"concurrent_messages": 0})


# README: "a request whose custom action fails ... gets 'Sorry, I can't show that just now'
# with the helpline and 999, instead of silence".
NO_REPLY = (
    "Sorry, I can't show that just now. To talk to a person, call the Modern Slavery & "
    "Exploitation Helpline on 08000 121 700. It is free and open 24 hours. In an emergency "
    "call 999."
)


def test_a_failed_turn_answers_with_the_helpline_and_999_and_frees_its_place() -> None:
    bot = SlowBot(fail_on="message 0")
    answers = answer_all(TriageRestInput(concurrent_messages=1), bot, 3)

    assert [m["text"] for m in answers[0]] == [NO_REPLY]
    assert [b["title"] for b in answers[0][0]["buttons"]] == ["Talk to a person", "Start again"]
    assert answers[0][0]["recipient_id"] == "sender-0"
    assert [a[0]["text"] for a in answers[1:]] == ["answer to message 1", "answer to message 2"]


def test_a_turn_that_says_nothing_gets_the_helpline_and_999() -> None:
    async def silent(_message: UserMessage) -> None:
        return None

    answer = asyncio.run(TriageRestInput().answer(silent, DOMAIN, "hello", "quiet"))
    assert [m["text"] for m in answer] == [NO_REPLY]


def test_a_hung_turn_holds_up_the_others_only_for_the_longest_wait(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(channel_module, "MAX_WAIT_SECONDS", 0.2)
    bot = SlowBot(hang_on="message 0")
    channel = TriageRestInput(concurrent_messages=1)

    async def main() -> tuple[list[list[dict[str, Any]]], bool, int]:
        hung = asyncio.create_task(channel.answer(bot.on_new_message, DOMAIN, "message 0", "a"))
        while bot.inside == 0:  # the hung turn holds the only place
            await asyncio.sleep(0)
        others = asyncio.gather(
            *(channel.answer(bot.on_new_message, DOMAIN, f"message {n}", f"s{n}")
              for n in (1, 2))
        )
        # The hung turn is released only after the others are answered: if they waited for
        # it, they would never be. (The 60 s only stops such a failure from hanging the run.)
        done, _ = await asyncio.wait({others}, timeout=60)
        assert others in done, "the others waited for the hung turn"
        still_hung = not hung.done() and bot.inside >= 1
        most_inside = bot.most_inside
        bot.release.set()
        await hung
        return others.result(), still_hung, most_inside

    with caplog.at_level(logging.WARNING, logger=channel_module.__name__):
        others, still_hung, most_inside = asyncio.run(main())
    assert [a[0]["text"] for a in others] == ["answer to message 1", "answer to message 2"]
    assert still_hung  # they were answered while the hung turn still held its place
    assert most_inside >= 2  # they went in beside it
    assert "for its turn and went ahead" in caplog.text
