"""The trained bot, in this process, with every graph run made twice: by addons/speedups.py's
SequentialGraphRunner and by Rasa's DaskGraphRunner. Every scripted conversation that needs the
action server must still pass, and the two runners must agree on every parse and prediction.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from rasa.core.agent import Agent
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.utils.endpoints import EndpointConfig

from addons import speedups
from addons.channel import EMPTY_MESSAGE_RESPONSE, TriageRestInput, static_reply
from addons.text import MAX_MESSAGE_CHARS, clean_message
from scripts.serve import DEFAULT_MODEL, BotServers
from tests.conversations_runner import load_conversations, run_conversation

pytestmark = pytest.mark.e2e
NLG = "addons.nlg.TranslatingNLG"


def comparable(value: Any) -> Any:
    """Parse results are lists of NLU Messages; predictions compare as they are."""
    if isinstance(value, list):
        return [
            item.as_dict(only_output_properties=True) if hasattr(item, "as_dict") else item
            for item in value
        ]
    return value


class BothRunners:
    """Runs each graph call with both runners, records any difference, returns the sequential
    runner's result (what the server uses)."""

    def __init__(self, runner: speedups.SequentialGraphRunner) -> None:
        self.runner = runner
        self.runs = 0
        self.differences: list[str] = []

    def run(self, inputs: dict[str, Any] | None = None, targets: list[str] | None = None) -> Any:
        ours = speedups.SequentialGraphRunner.run(self.runner, inputs, targets)
        theirs = DaskGraphRunner.run(self.runner, inputs, targets)
        self.runs += 1
        for target, value in ours.items():
            if comparable(value) != comparable(theirs[target]):
                self.differences.append(
                    f"{target}: {comparable(value)!r} != {comparable(theirs[target])!r}"
                )
        return ours


@pytest.fixture(scope="module")
def agent(servers: BotServers) -> Iterator[Agent]:
    loaded = Agent.load(
        str(DEFAULT_MODEL),
        action_endpoint=EndpointConfig(f"{servers.actions_url}/webhook"),
        generator=EndpointConfig(type=NLG),  # as endpoints.yml: the answers in each language
    )
    yield loaded


def test_both_graph_runners_agree_on_every_conversation(agent: Agent) -> None:
    processor = agent.processor
    assert processor is not None
    # The model was loaded after the addons were imported, so the server's runner is ours.
    assert isinstance(processor.graph_runner, speedups.SequentialGraphRunner)
    both = BothRunners(processor.graph_runner)
    processor.graph_runner = both
    loop = asyncio.new_event_loop()

    def say_as(sender: str) -> Any:
        def say(text: str) -> list[dict[str, Any]]:
            # As the channel's webhook does (addons/channel.py), without HTTP: its answer(),
            # so a question beside a story is its own turn here too.
            cleaned = clean_message(text, MAX_MESSAGE_CHARS)
            if not cleaned:
                return loop.run_until_complete(
                    static_reply(agent.domain, EMPTY_MESSAGE_RESPONSE, sender)
                )
            return loop.run_until_complete(TriageRestInput().answer(
                agent.handle_message, agent.domain, cleaned, sender, agent.parse_message))

        return say

    conversations = [c for c in load_conversations() if c.action_server == "up"]
    try:
        for number, conversation in enumerate(conversations):
            sender = f"speedups-{number}"
            run_conversation(conversation, say_as(sender), sender=sender)
    finally:
        loop.close()
    assert not both.differences, "\n".join(both.differences[:5])
    assert both.runs > 5 * len(conversations)
