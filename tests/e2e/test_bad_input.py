"""Whatever a client sends, the Rasa server answers calmly (2xx, or a clear 4xx), stays up, and
then answers a real message normally. Runs against the real servers over the REST webhook."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest

from addons.channel import MAX_BODY_BYTES
from scripts.serve import BotServers
from tests.e2e.conftest import Chat

pytestmark = pytest.mark.e2e

HELPLINE = "08000 121 700"


def post(url: str, body: bytes) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def send(url: str, message: Any, sender: Any = "") -> tuple[int, Any]:
    payload = {"sender": sender or f"bad-input-{uuid.uuid4().hex}", "message": message}
    return post(url, json.dumps(payload).encode())


def text_of(replies: list[dict[str, Any]]) -> str:
    return "\n".join(reply.get("text", "") for reply in replies)


def still_answers(url: str) -> None:
    status, replies = send(url, "hi")
    assert status == 200
    assert "Who is this about?" in text_of(replies)


@pytest.mark.parametrize(
    "message",
    ["", "   \n\t  ", "\x00\x01\x02\x1b", "🙏😢🙏", "?!...", "<script>alert('x')</script>",
     "<img src=x onerror=alert(1)>", "\u202egnirts desrever\u202c", "\ud800\udfff",
     "/not_an_intent", "a" * 1001, "qwpoeiruty zmxncbv"],
    ids=["empty", "whitespace", "control", "emoji", "punctuation", "script", "html", "bidi",
         "lone-surrogates", "unknown-intent", "over-limit", "gibberish"],
)
def test_messages_with_nothing_to_understand_get_999_and_the_helpline(
    servers: BotServers, message: str
) -> None:
    status, replies = send(servers.webhook_url, message)
    assert status == 200
    text = text_of(replies)
    assert "999" in text and HELPLINE in text, text
    assert "<script>" not in text and "onerror" not in text  # the bot never echoes input
    still_answers(servers.webhook_url)


@pytest.mark.parametrize(
    "message",
    ["<b>help</b> my boss has my passport", "help \ud800 me i cant leave the farm",
     '/emergency{"nation": "<b>x</b>"', "my boss\x00 took my passport\n\n\n"],
    ids=["html-around-words", "lone-surrogate", "broken-payload", "control-inside"],
)
def test_odd_characters_around_real_words_do_not_stop_the_bot(
    servers: BotServers, message: str
) -> None:
    status, replies = send(servers.webhook_url, message)
    assert status == 200
    text = text_of(replies)
    assert "999" in text or "Is anyone in danger right now?" in text, text
    assert "<b>" not in text
    still_answers(servers.webhook_url)


def test_a_100_kb_message_is_cut_and_answered_quickly_and_the_server_stays_up(
    servers: BotServers,
) -> None:
    started = time.monotonic()
    status, replies = send(servers.webhook_url, "my boss keeps my passport and " * 3500)
    elapsed = time.monotonic() - started
    assert status == 200
    assert replies, "no answer"
    # A default Rasa works on such a message for about a minute and then dies.
    assert elapsed < 30, f"took {elapsed:.0f} s"
    still_answers(servers.webhook_url)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (b"\xff\xfe\x00binary", 400),
        (b"", 400),
        (b"[1, 2, 3]", 400),
        (b'"just a string"', 400),
        (b"null", 400),
        (json.dumps({"message": "hi"}).encode(), 400),  # no sender: never a shared default
        (json.dumps({"sender": "a b c", "message": "hi"}).encode(), 400),
        (json.dumps({"sender": "x" * 200, "message": "hi"}).encode(), 400),
        (json.dumps({"sender": 12345, "message": "hi"}).encode(), 400),
        (json.dumps({"sender": "ok-id", "message": 12345}).encode(), 400),
        (json.dumps({"sender": "ok-id", "message": None}).encode(), 400),
        (json.dumps({"sender": "ok-id", "message": ["hi"]}).encode(), 400),
        (json.dumps({"sender": "ok-id", "message": {"text": "hi"}}).encode(), 400),
        (json.dumps({"sender": "ok-id", "message": "x" * (MAX_BODY_BYTES + 1)}).encode(), 413),
    ],
    ids=["invalid-json", "binary", "no-body", "array", "string", "null", "no-sender",
         "sender-with-spaces", "sender-too-long", "sender-number", "message-number",
         "message-null", "message-list", "message-object", "over-body-limit"],
)
def test_malformed_requests_get_a_clear_4xx(servers: BotServers, body: bytes, status: int) -> None:
    got, answer = post(servers.webhook_url, body)
    assert got == status
    assert isinstance(answer, dict) and answer.get("error"), answer
    still_answers(servers.webhook_url)


def test_a_body_of_several_megabytes_is_refused_with_413(servers: BotServers) -> None:
    request = urllib.request.Request(servers.webhook_url, data=b"x" * (3 * 1024 * 1024),
                                     headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=60)
    assert refused.value.code == 413
    still_answers(servers.webhook_url)


@pytest.mark.parametrize(
    "message",
    ["pomóż mi proszę, szef zabrał mój paszport", "necesito ayuda, no me dejan salir",
     "tôi bị nhốt, xin hãy giúp tôi", "ساعدوني من فضلكم", "помогите мне пожалуйста",
     "帮帮我"],
    ids=["polish", "spanish", "vietnamese", "arabic", "russian", "chinese"],
)
def test_another_language_gets_999_and_the_helplines_interpreters(chat: Chat, message: str) -> None:
    # The card (in the language when the bot can tell which, docs/languages.md) and in English.
    text = "\n".join(chat.texts(message))
    assert "999" in text
    assert HELPLINE in text
    assert "It has an interpreter in your language." in text


def test_another_language_in_the_middle_of_the_triage_gets_the_same_answer(chat: Chat) -> None:
    chat.texts("hi")
    replies = chat.say("pracodawca zabrał mi paszport i nie płaci")
    text = "\n".join(reply["text"] for reply in replies)
    assert "It has an interpreter in your language." in text and "999" in text
    # The triage carries on, in Polish with the English after it.
    replies = chat.say("/report_self")
    assert "Is anyone in danger right now?" in [reply["text"] for reply in replies]
    assert "pl" in [reply.get("lang") for reply in replies]
