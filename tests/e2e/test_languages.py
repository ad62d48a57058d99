"""In the user's own language, against the real servers over REST (issue 12): the first message in
each of the twelve languages, and the emergency card in every language with the action server
down. Run with the scripted conversations (`make test-conversations`), whose servers they share.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from i18n.translations import languages
from scripts.serve import BotServers
from tests.e2e.conftest import Chat

pytestmark = [pytest.mark.e2e, pytest.mark.conversations]

ROOT = Path(__file__).resolve().parents[2]
FIRST = yaml.safe_load((ROOT / "tests" / "language" / "first_messages.yml").read_text("utf-8"))
HELPLINE = "08000 121 700"


def in_language(replies: list[dict[str, Any]], code: str) -> list[dict[str, Any]]:
    return [reply for reply in replies if reply.get("lang") == code]


@pytest.mark.parametrize("code", sorted(FIRST))
def test_the_first_reply_has_999_the_helpline_and_the_users_own_language(
    servers: BotServers, code: str
) -> None:
    chat = Chat(servers.webhook_url)
    replies = chat.say(FIRST[code])
    own = in_language(replies, code)
    assert own, chat.transcript
    assert "999" in own[0]["text"] and HELPLINE in own[0]["text"]
    if code in ("ti", "am") and {r.get("lang") for r in replies} >= {"ti", "am"}:
        # Ethiopic that could not be told apart: both cards, then the picker.
        button = next(b for r in replies for b in r.get("buttons", []) if b.get("lang") == code)
    else:
        buttons = [b for r in replies for b in r.get("buttons", [])]
        assert buttons and all(b.get("lang") == code for b in buttons), chat.transcript
        button = buttons[0]
    # Clicking a button keeps the conversation in that language.
    next_replies = chat.say(button["payload"])
    assert in_language(next_replies, code), chat.transcript


def test_the_emergency_card_comes_in_every_language_with_the_action_server_down(
    servers_without_actions: BotServers,
) -> None:
    for code, language in languages().items():
        chat = Chat(servers_without_actions.webhook_url)
        chat.say("/choose_language" + json.dumps({"language": code}))
        replies = chat.say("/affirm" + json.dumps({"language": code}))
        # No triage had started: "yes" alone is no answer to a question, so ask for danger.
        replies = chat.say("he is at the door with a knife")
        own = in_language(replies, code)
        assert own, (code, chat.transcript)
        expected = language.responses["utter_emergency_call"].text
        assert any(expected.replace("\u2066", "").replace("\u2069", "") ==
                   r["text"].replace("\u2066", "").replace("\u2069", "") for r in own), code
        assert any("Call 999 now" in r["text"] for r in replies if r.get("lang") == "en")
        if language.rtl:
            assert all(r.get("dir") == "rtl" for r in own)
