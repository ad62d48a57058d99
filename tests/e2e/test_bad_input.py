"""Whatever a client sends, the Rasa server answers calmly (2xx, or a clear 4xx), stays up, and
then answers a real message normally. Runs against the real servers over the REST webhook."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest

from scripts.serve import BotServers
from tests.e2e.conftest import ApiRasa, Chat

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


# The fallback answer (README: "Not understood"): 999 and the helpline, and the main buttons.
FALLBACK_TEXT = (
    "Sorry, I didn't understand that. In an emergency call 999. To talk to a person: "
    "08000 121 700."
)
MAIN_BUTTONS = ["It's happening to me", "I'm worried about someone", "I'm asking for my work",
                "Support and resources", "Start again"]
EMERGENCY_FIRST_LINE = (
    "Call 999 now and ask for the police. Can't speak? Call 999 from a mobile, listen, then "
    "press 55 when asked (the Silent Solution). If you can say one thing, say where you are."
)
DANGER_QUESTION = "Is anyone in danger right now?"


@pytest.mark.parametrize(
    "message",
    ["", "   \n\t  ", "\x00\x01\x02\x1b", "\ud800", "\udfff \ud800", "<img src=x onerror=alert(1)>",
     "<b></b>\n<br/>"],
    ids=["empty", "whitespace", "control", "lone-surrogate", "lone-surrogates", "html-only",
         "tags-only"],
)
def test_a_message_with_nothing_left_after_cleaning_gets_the_fallback_answer(
    servers: BotServers, message: str
) -> None:
    status, replies = send(servers.webhook_url, message)
    assert status == 200
    assert [reply["text"] for reply in replies] == [FALLBACK_TEXT]
    assert [b["title"] for b in replies[0]["buttons"]] == MAIN_BUTTONS
    still_answers(servers.webhook_url)


@pytest.mark.parametrize(
    "message",
    ["🙏😢🙏", "?!...", "<script>alert('x')</script>", "\u202egnirts desrever\u202c",
     "\ud800\udfff", "a" * 1001, "qwpoeiruty zmxncbv"],
    ids=["emoji", "punctuation", "script", "bidi", "surrogate-pair", "over-limit", "gibberish"],
)
def test_messages_with_nothing_to_understand_get_999_and_the_helpline(
    servers: BotServers, message: str
) -> None:
    """What these are taken for depends on the model (the fallback, another language's card);
    whatever it is, the answer gives 999 and the helpline, and buttons to go on with."""
    status, replies = send(servers.webhook_url, message)
    assert status == 200
    text = text_of(replies)
    assert "999" in text and HELPLINE in text, text
    assert any(reply.get("buttons") for reply in replies), replies
    assert "<script>" not in text and "alert(" not in text  # the bot never echoes input
    still_answers(servers.webhook_url)


def test_an_unknown_intent_payload_is_asked_about(servers: BotServers) -> None:
    """No button the bot made sends it: nothing likely, so the bot asks who it is about."""
    status, replies = send(servers.webhook_url, "/not_an_intent")
    assert status == 200
    assert [reply["text"] for reply in replies] == [
        "Can you tell me who this is about? In an emergency call 999. To talk to a person: "
        "08000 121 700."]
    assert [b["payload"] for b in replies[0]["buttons"]] == [
        "/report_self", "/report_other", "/practitioner", "/report_child", "/talk_to_person"]


@pytest.mark.parametrize(
    ("message", "clean", "expected"),
    [
        # "help" before a story sits on the line between the story and danger now
        # (docs/nlu-evaluation.md): either answer means the words were understood.
        ("<b>help</b> my boss has my passport", "help my boss has my passport",
         (DANGER_QUESTION, EMERGENCY_FIRST_LINE)),
        ("they locked us in \ud800 help", "they locked us in help", EMERGENCY_FIRST_LINE),
        ('/emergency{"nation": "<b>x</b>"', "/emergency", EMERGENCY_FIRST_LINE),
        ("my boss\x00 took my passport\n\n\n", "my boss took my passport", DANGER_QUESTION),
        ("<i>he's got a knife</i>\x1b", "he's got a knife", EMERGENCY_FIRST_LINE),
    ],
    ids=["html-around-words", "lone-surrogate", "broken-payload", "control-inside",
         "markup-around-danger"],
)
def test_odd_characters_around_real_words_are_understood_as_the_words_alone(
    servers: BotServers, message: str, clean: str, expected: str | tuple[str, ...]
) -> None:
    """The words are understood: the answer is the one they get without the odd characters
    (the danger question when who it is about is understood; the emergency card for danger),
    never the fallback."""
    status, replies = send(servers.webhook_url, message)
    assert status == 200
    texts = [reply.get("text", "") for reply in replies]
    assert any(answer in texts for answer in
               (expected if isinstance(expected, tuple) else (expected,))), texts
    assert FALLBACK_TEXT not in texts and "Who is this about?" not in texts
    assert not any("<b>" in text or "<i>" in text for text in texts)
    status, plain = send(servers.webhook_url, clean)
    assert texts == [reply.get("text", "") for reply in plain]
    still_answers(servers.webhook_url)


def test_a_100_kb_message_is_cut_to_1000_characters_before_nlu_and_answered(
    servers_with_api: ApiRasa,
) -> None:
    """Why a long paste is answered as fast as a short one: only its first 1,000 characters
    (cut at a word) reach the NLU, and what they say is answered. How fast: `make bench`."""
    message = "my boss keeps my passport and " * 3500
    assert len(message) > 100_000
    sender = f"long-{uuid.uuid4().hex}"
    status, replies = send(servers_with_api.bot.webhook_url, message, sender)
    assert status == 200
    texts = [reply.get("text", "") for reply in replies]
    assert DANGER_QUESTION in texts and FALLBACK_TEXT not in texts, texts
    [stored] = servers_with_api.user_texts(sender)
    assert 800 < len(stored) <= 1000
    assert message.startswith(stored) and stored.endswith("passport and my boss")
    still_answers(servers_with_api.bot.webhook_url)


@pytest.mark.parametrize(
    ("message", "stored"),
    [("a" * 1000, "a" * 1000), ("a" * 1001, "a" * 1000), ("b" * 100_000, "b" * 1000)],
    ids=["1000", "1001", "100000"],
)
def test_the_nlu_gets_at_most_1000_characters(
    servers_with_api: ApiRasa, message: str, stored: str
) -> None:
    sender = f"cut-{uuid.uuid4().hex}"
    status, replies = send(servers_with_api.bot.webhook_url, message, sender)
    assert status == 200 and "999" in text_of(replies)
    assert servers_with_api.user_texts(sender) == [stored]


# README: "bodies over 256 kB a 413" (256 x 1,024 bytes).
BODY_LIMIT = 256 * 1024
NOT_AN_OBJECT = "the body must be a JSON object"
BAD_SENDER = "sender must be an id of 1 to 128 letters, digits or _.:-"
NOT_TEXT = "message must be a string"


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (b"{not json", 400, NOT_AN_OBJECT),
        (b"\xff\xfe\x00binary", 400, NOT_AN_OBJECT),
        (b"", 400, NOT_AN_OBJECT),
        (b"[1, 2, 3]", 400, NOT_AN_OBJECT),
        (b'"just a string"', 400, NOT_AN_OBJECT),
        (b"null", 400, NOT_AN_OBJECT),
        (json.dumps({"message": "hi"}).encode(), 400, BAD_SENDER),  # never a shared default
        (json.dumps({"sender": "", "message": "hi"}).encode(), 400, BAD_SENDER),
        (json.dumps({"sender": "a b c", "message": "hi"}).encode(), 400, BAD_SENDER),
        (json.dumps({"sender": "x" * 129, "message": "hi"}).encode(), 400, BAD_SENDER),
        (json.dumps({"sender": 12345, "message": "hi"}).encode(), 400, BAD_SENDER),
        (json.dumps({"sender": "ok-id"}).encode(), 400, NOT_TEXT),
        (json.dumps({"sender": "ok-id", "message": 12345}).encode(), 400, NOT_TEXT),
        (json.dumps({"sender": "ok-id", "message": None}).encode(), 400, NOT_TEXT),
        (json.dumps({"sender": "ok-id", "message": ["hi"]}).encode(), 400, NOT_TEXT),
        (json.dumps({"sender": "ok-id", "message": {"text": "hi"}}).encode(), 400, NOT_TEXT),
        (json.dumps({"sender": "ok-id", "message": "x" * BODY_LIMIT}).encode(), 413,
         f"request body over {BODY_LIMIT} bytes"),
    ],
    ids=["invalid-json", "binary", "no-body", "array", "string", "null", "no-sender",
         "empty-sender", "sender-with-spaces", "sender-too-long", "sender-number",
         "no-message", "message-number", "message-null", "message-list", "message-object",
         "over-body-limit"],
)
def test_malformed_requests_get_a_clear_4xx(
    servers: BotServers, body: bytes, status: int, error: str
) -> None:
    got, answer = post(servers.webhook_url, body)
    assert (got, answer) == (status, {"error": error})
    still_answers(servers.webhook_url)


def body_of(size: int, sender: str) -> bytes:
    """A message body of exactly `size` bytes: "my boss took my passport ..." repeated."""
    empty = json.dumps({"sender": sender, "message": ""}).encode()
    words = ("my boss took my passport " * (size // 25 + 1))[: size - len(empty)]
    body = json.dumps({"sender": sender, "message": words}).encode()
    assert len(body) == size
    return body


def test_a_body_of_256_kb_is_taken_and_one_byte_more_is_refused(servers: BotServers) -> None:
    body = body_of(BODY_LIMIT, f"big-{uuid.uuid4().hex}")
    status, replies = post(servers.webhook_url, body)
    assert status == 200
    # Taken, and cut: the answer is the one its first 1,000 characters get on their own, in a
    # new conversation (a passport story repeated 40 times: the story, or danger now).
    texts = [reply["text"] for reply in replies]
    status, cut = send(servers.webhook_url, json.loads(body)["message"][:1000])
    assert status == 200 and texts == [reply["text"] for reply in cut]
    assert DANGER_QUESTION in texts or EMERGENCY_FIRST_LINE in texts, texts
    status, answer = post(servers.webhook_url, body_of(BODY_LIMIT + 1, "big-2"))
    assert (status, answer) == (413, {"error": f"request body over {BODY_LIMIT} bytes"})
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
