"""The scripted conversations of tests/conversations/*.yml, one test each, against the real Rasa
server over the REST webhook (`make test-conversations`; the format is in docs/testing.md).

A conversation runs with both servers, or with `action_server: down` against a Rasa whose action
server is not running, so every custom action fails. Each set of servers starts once, and the
second only if some conversation needs it. Every conversation has a fresh sender id.
"""

from __future__ import annotations

import pytest

from scripts.serve import BotServers
from tests.conversations_runner import (
    Conversation,
    ConversationFailed,
    ConversationFileError,
    load_conversations,
    run_conversation,
)
from tests.e2e.conftest import Chat

pytestmark = [pytest.mark.e2e, pytest.mark.conversations]


def _load() -> tuple[list[Conversation], str | None]:
    try:
        return load_conversations(), None
    except ConversationFileError as error:
        return [], str(error)


CONVERSATIONS, LOAD_ERROR = _load()


def test_the_conversation_files_are_valid() -> None:
    if LOAD_ERROR is not None:
        pytest.fail(LOAD_ERROR, pytrace=False)


@pytest.mark.parametrize(
    "conversation", CONVERSATIONS, ids=[conversation.test_id for conversation in CONVERSATIONS]
)
def test_conversation(conversation: Conversation, request: pytest.FixtureRequest) -> None:
    fixture = "servers_without_actions" if conversation.action_server == "down" else "servers"
    bot: BotServers = request.getfixturevalue(fixture)
    chat = Chat(bot.webhook_url)
    try:
        run_conversation(conversation, chat.say, sender=chat.sender)
    except ConversationFailed as failed:
        transcript = str(failed)
    else:
        return
    pytest.fail(transcript, pytrace=False)  # outside `except`, so it is shown once
