"""The public REST channel: Rasa's REST webhook with the checks a public endpoint needs.

POST /webhooks/rest/webhook {"sender": "<id>", "message": "<text>"} -> [bot messages], as the
standard channel, but:
- malformed requests get a clear 4xx, never a 5xx (only 503 while the model is loading):
  a body over MAX_BODY_BYTES (413), no JSON object, a missing or malformed sender, a message
  that is not a string (400);
- the text is cleaned and cut to MAX_MESSAGE_CHARS before NLU (addons/text.py);
- an empty message, or a turn in which the bot would say nothing (the action server is down,
  or anything else failed), gets a static answer from the domain that still gives 999 and the
  helpline, so nobody is left with silence;
- client metadata and input_channel are ignored, and message text is never logged;
- at most `concurrent_messages` messages (credentials.yml, default 1) are inside Rasa at a time
  per process; the others wait their turn in arrival order. Rasa's processing of a message
  awaits the tracker and lock stores and the action server; with every waiting message inside,
  each await sent a message to the back of a queue of all of them, and a resource list took
  seconds under load. A message that has waited MAX_WAIT_SECONDS goes in anyway, so a hung
  action server holding the turn never holds up anyone else's answer (and 999) for longer.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from asyncio import CancelledError
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from rasa.shared.core.domain import Domain
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from addons.text import MAX_MESSAGE_CHARS, clean_message
from addons.two_things import Parse, turns

logger = logging.getLogger(__name__)

# A JSON body holding a message of MAX_MESSAGE_CHARS is far smaller; 100 kB messages are still
# taken (and cut) so a long paste gets an answer rather than an error.
MAX_BODY_BYTES = 256 * 1024
# Ids from the web page are secrets.token_urlsafe(32); tests and tools use similar ones.
SENDER_ID = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
EMPTY_MESSAGE_RESPONSE = "utter_default"
NO_REPLY_RESPONSE = "utter_no_reply"
# Measured at 32 users (docs/benchmark.md): 1 gave the most messages per second and the lowest
# p95. Rasa's SQL tracker store and Redis lock store block the event loop while they wait, so
# more messages inside only interleave their CPU work; a second worker process fills the waits.
DEFAULT_CONCURRENT_MESSAGES = 1
# Far above the wait under normal load (p95 0.4 s at 32 users), far below the response timeout.
MAX_WAIT_SECONDS = 2.0


class TriageOutputChannel(CollectingOutputChannel):
    """Rasa's collecting channel, plus the translations of addons/nlg.py: a translated answer
    becomes its translation(s), each with `lang` (and `dir`), then the English (`lang: en`) with
    the buttons; an English answer to someone who chose another language is followed by the
    interpreter note in their language. English conversations are sent as Rasa sends them."""

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        translations = message.pop("translations", None) or []
        note = message.pop("note", None)
        language = message.pop("language", None)
        if not translations and not note and language in (None, "en"):
            before = len(self.messages)
            await super().send_response(recipient_id, message)
            if language == "en":  # back to English: the page shows its header in English again
                for sent in self.messages[before:]:
                    sent["language"] = "en"
            return
        for translation in translations:
            await self._persist_message(_in_language(recipient_id, translation))
        english: dict[str, Any] = {"recipient_id": recipient_id, "text": message.get("text"),
                                   "lang": "en", "language": language or "en"}
        if message.get("buttons"):
            english["buttons"] = message["buttons"]
        await self._persist_message(english)
        if note:
            await self._persist_message({**_in_language(recipient_id, note), NOTE_FLAG: True})


NOTE_FLAG = "_interpreter_note"


def _in_language(recipient_id: str, part: dict[str, Any]) -> dict[str, Any]:
    out = {"recipient_id": recipient_id, "text": part["text"], "lang": part["lang"]}
    if part.get("dir"):
        out["dir"] = part["dir"]
    return out


def one_note_per_turn(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The interpreter note once, after the turn's last English answer."""
    notes = [i for i, m in enumerate(messages) if m.get(NOTE_FLAG)]
    keep = notes[-1] if notes else -1
    return [{k: v for k, v in m.items() if k != NOTE_FLAG}
            for i, m in enumerate(messages) if not m.get(NOTE_FLAG) or i == keep]


def _error(status: int, reason: str) -> HTTPResponse:
    return response.json({"error": reason}, status=status)


async def static_reply(domain: Domain, name: str, sender: str) -> list[dict[str, Any]]:
    """The domain response `name` (its first variation without a condition), as the REST
    channel sends bot messages."""
    variations = [v for v in domain.responses.get(name, []) if not v.get("condition")]
    collector = CollectingOutputChannel()
    if variations:
        message = {key: value for key, value in variations[0].items() if key != "condition"}
        await collector.send_response(sender, dict(message))
    messages: list[dict[str, Any]] = collector.messages
    return messages


@asynccontextmanager
async def _turn(gate: asyncio.Semaphore) -> AsyncIterator[None]:
    """Waits for a place at the gate, for at most MAX_WAIT_SECONDS."""
    try:
        await asyncio.wait_for(gate.acquire(), MAX_WAIT_SECONDS)
    except asyncio.TimeoutError:
        logger.warning("A message waited %.0f s for its turn and went ahead.", MAX_WAIT_SECONDS)
        yield
        return
    try:
        yield
    finally:
        gate.release()


def _remembering(parse: Parse, readings: dict[str, dict[str, Any]]) -> Parse:
    """`parse`, keeping each reading in `readings` and reading no text twice."""
    async def read(text: str) -> dict[str, Any]:
        if text not in readings:
            readings[text] = await parse(text)
        return readings[text]
    return read


class TriageRestInput(InputChannel):
    """Replaces Rasa's `rest` channel (same URL)."""

    def __init__(self, concurrent_messages: int = DEFAULT_CONCURRENT_MESSAGES) -> None:
        if concurrent_messages < 1:
            raise ValueError("concurrent_messages must be at least 1")
        self.concurrent_messages = concurrent_messages
        self._gate: asyncio.Semaphore | None = None

    @classmethod
    def name(cls) -> str:
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> TriageRestInput:
        value = (credentials or {}).get("concurrent_messages", DEFAULT_CONCURRENT_MESSAGES)
        return cls(int(value))

    async def answer(
        self,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        domain: Domain,
        text: str,
        sender: str,
        parse: Parse | None = None,
    ) -> list[dict[str, Any]]:
        """The bot's messages for one cleaned, non-empty message; never an empty list.
        `parse` reads a text as the model does (to find a question beside a story)."""
        if self._gate is None:  # made in the server's event loop (each worker has its own)
            self._gate = asyncio.Semaphore(self.concurrent_messages)
        collector = TriageOutputChannel()
        readings: dict[str, dict[str, Any]] = {}
        try:
            async with _turn(self._gate):
                # A question beside a story is a turn of its own, after the story's
                # (addons/two_things.py). A turn already read to find that out is not read
                # again: the reading depends on the text alone (it was a quarter of a
                # millisecond per message of make bench's mix).
                parts = (text,) if parse is None else await turns(
                    text, _remembering(parse, readings))
                for turn in parts:
                    await on_new_message(UserMessage(
                        turn, collector, sender, input_channel=self.name(),
                        parse_data=readings.get(turn)))
        except CancelledError:
            logger.error("A message timed out before the bot answered.")
        except Exception as error:  # noqa: BLE001 - any failure still gets an answer
            # The type only: an exception's text can quote the user's message.
            logger.error("A message failed: %s", type(error).__name__)
        if not collector.messages:
            return await static_reply(domain, NO_REPLY_RESPONSE, sender)
        return one_note_per_turn(collector.messages)

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        webhook = Blueprint("triage_rest_webhook", __name__)

        async def health(_request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        async def receive(request: Request) -> HTTPResponse:
            body = request.body or b""
            if len(body) > MAX_BODY_BYTES:
                return _error(413, f"request body over {MAX_BODY_BYTES} bytes")
            try:
                payload = json.loads(body)
            except (ValueError, UnicodeDecodeError):
                return _error(400, "the body must be a JSON object")
            if not isinstance(payload, dict):
                return _error(400, "the body must be a JSON object")
            sender = payload.get("sender")
            if not isinstance(sender, str) or not SENDER_ID.fullmatch(sender):
                return _error(400, "sender must be an id of 1 to 128 letters, digits or _.:-")
            message = payload.get("message")
            if not isinstance(message, str):
                return _error(400, "message must be a string")

            agent = getattr(request.app.ctx, "agent", None)
            if agent is None or not agent.is_ready():  # the model is still loading
                return _error(503, "the bot is starting; try again in a few seconds")
            domain: Domain = agent.domain
            text = clean_message(message, MAX_MESSAGE_CHARS)
            if not text:
                return response.json(await static_reply(domain, EMPTY_MESSAGE_RESPONSE, sender))

            return response.json(
                await self.answer(on_new_message, domain, text, sender, agent.parse_message))

        webhook.add_route(health, "/", methods=["GET"])
        webhook.add_route(receive, "/webhook", methods=["POST"])
        return webhook
