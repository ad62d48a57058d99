"""The scripted YAML conversations (tests/conversations_runner.py) without any server: loading,
strict validation, matching, and the failure transcript, with a fake bot."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.conversations_runner import (
    CONVERSATIONS_DIR,
    Conversation,
    ConversationFailed,
    ConversationFileError,
    Reply,
    load_conversations,
    load_file,
    run_conversation,
)

WHO: Reply = {
    "text": "Who is this about?",
    "buttons": [
        {"title": "It's happening to me", "payload": "/report_self"},
        {"title": "I'm worried about someone", "payload": "/report_other"},
    ],
}
DANGER: Reply = {
    "text": "Is anyone in danger right now?",
    "buttons": [
        {"title": "Yes, someone is in danger now", "payload": "/affirm"},
        {"title": "No", "payload": "/deny"},
    ],
}
FALLBACK: Reply = {"text": "Sorry, I didn't understand that. In an emergency call 999."}
EMERGENCY: list[Reply] = [
    {"text": "Call 999 now and ask for the police."},
    {"text": "Deaf? Use 999 BSL (https://www.999bsl.co.uk)."},
    {"text": "When you are safe, call 08000 121 700.",
     "buttons": [{"title": "I\u2019m safe now", "payload": "/safe_now"}]},
]


class FakeBot:
    """Answers each message from a script; records what it was sent."""

    def __init__(self, script: dict[str, list[Reply]]) -> None:
        self.script = script
        self.sent: list[str] = []

    def say(self, message: str) -> list[Reply]:
        self.sent.append(message)
        return self.script.get(message, [FALLBACK])


BOT: dict[str, list[Reply]] = {
    "hi": [{"text": "Hello. I'm an automated assistant."}, WHO],
    "/report_other": [DANGER],
    "he's got a knife": EMERGENCY,
    "/affirm": EMERGENCY,
    "pizza": [FALLBACK, WHO],
    "quiet": [],
}


def write(tmp_path: Path, text: str, name: str = "topic.yml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def load_one(tmp_path: Path, text: str) -> Conversation:
    conversations = load_file(write(tmp_path, text))
    assert len(conversations) == 1
    return conversations[0]


def errors(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConversationFileError) as raised:
        load_file(write(tmp_path, text))
    return str(raised.value)


def failure(tmp_path: Path, text: str, bot: dict[str, list[Reply]] = BOT) -> str:
    conversation = load_one(tmp_path, text)
    with pytest.raises(ConversationFailed) as raised:
        run_conversation(conversation, FakeBot(bot).say, sender="sender-1")
    return str(raised.value)


# --- Loading ----------------------------------------------------------------------------------


def test_a_conversation_loads_with_every_key(tmp_path: Path) -> None:
    conversation = load_one(tmp_path, """
        conversations:
          - name: Danger   in the middle
            action_server: down
            steps:
              - user: hi
                expect: Who is this about
              - button: I'm worried about someone
                expect: ["Is anyone in danger"]
                not_expect: [Sorry]
                expect_buttons: ["No"]
                not_expect_buttons: More
                expect_link: https://www.999bsl.co.uk
    """)
    assert conversation.name == "Danger in the middle"
    assert conversation.test_id == "topic: Danger in the middle"
    assert conversation.action_server == "down"
    assert conversation.line == 2
    first, second = conversation.steps
    assert (first.kind, first.text, first.expect, first.line) == ("user", "hi",
                                                                  ("Who is this about",), 5)
    assert (second.kind, second.text, second.number) == ("button", "I'm worried about someone", 2)
    assert second.not_expect == ("Sorry",)
    assert second.expect_buttons == ("No",)
    assert second.not_expect_buttons == ("More",)
    assert second.expect_link == ("https://www.999bsl.co.uk",)


def test_the_action_server_is_up_unless_said_otherwise(tmp_path: Path) -> None:
    conversation = load_one(tmp_path, """
        conversations:
          - name: Up
            steps:
              - user: hi
    """)
    assert conversation.action_server == "up"
    assert not conversation.steps[0].has_checks


def test_yes_no_and_numbers_are_sent_as_typed(tmp_path: Path) -> None:
    conversation = load_one(tmp_path, """
        conversations:
          - name: Plain YAML would turn these into true, false and numbers
            steps:
              - user: no
                expect: 999
              - user: Yes
              - user: 0800 1111
              - user: null
    """)
    assert [step.text for step in conversation.steps] == ["no", "Yes", "0800 1111", "null"]
    assert conversation.steps[0].expect == ("999",)


def test_the_shipped_conversation_files_are_valid() -> None:
    conversations = load_conversations()
    files = {conversation.file.name for conversation in conversations}
    assert {"triage.yml", "safety.yml", "answers.yml", "resources.yml"} <= files
    ids = [conversation.test_id for conversation in conversations]
    assert len(ids) == len(set(ids))
    assert any(conversation.action_server == "down" for conversation in conversations)
    assert CONVERSATIONS_DIR.is_dir()


# --- Validation -------------------------------------------------------------------------------


def test_an_unknown_step_key_is_named_with_a_suggestion(tmp_path: Path) -> None:
    message = errors(tmp_path, """
        conversations:
          - name: Typo
            steps:
              - user: hi
                expcet: Who is this about
    """)
    assert 'topic.yml, line 2, conversation "Typo", step 1 (line 4)' in message
    assert 'unknown key "expcet" (did you mean "expect"?)' in message


def test_an_unknown_conversation_key_is_named(tmp_path: Path) -> None:
    message = errors(tmp_path, """
        conversations:
          - name: Typo
            action_sever: down
            steps:
              - user: hi
    """)
    assert 'conversation "Typo": unknown key "action_sever" (did you mean "action_server"?)' \
        in message


def test_a_missing_name_is_an_error(tmp_path: Path) -> None:
    message = errors(tmp_path, """
        conversations:
          - steps:
              - user: hi
    """)
    assert "topic.yml, line 2, conversation 1: the conversation has no `name:`" in message


@pytest.mark.parametrize("steps", ["steps: []", "steps:", ""])
def test_a_conversation_without_steps_is_an_error(tmp_path: Path, steps: str) -> None:
    message = errors(tmp_path, f"""
        conversations:
          - name: Empty
            {steps}
    """)
    assert 'conversation "Empty": the conversation has no steps' in message


@pytest.mark.parametrize(
    ("step", "problem"),
    [
        ("- user: hi\n                button: No", "not user and button"),
        ("- expect: hi", "not neither"),
        ("- button: ''", '"button" must be a text (not empty)'),
        ("- user: [hi]", '"user" must be a text, e.g. "" for an empty message'),
        ("- user: hi\n                expect: []", '"expect" is an empty list'),
        ("- user: hi\n                expect: ['']", '"expect" must be a text or a list of texts'),
        ("- user: hi\n                expect_link: www.gov.uk", "starting with https://"),
        ("- hi", "a step must have keys"),
    ],
)
def test_bad_steps_are_errors(tmp_path: Path, step: str, problem: str) -> None:
    message = errors(tmp_path, f"""
        conversations:
          - name: Bad step
            steps:
              {step}
    """)
    assert 'conversation "Bad step", step 1' in message or 'conversation "Bad step":' in message
    assert problem in message


def test_a_button_cannot_be_the_first_step(tmp_path: Path) -> None:
    message = errors(tmp_path, """
        conversations:
          - name: Click first
            steps:
              - button: No
    """)
    assert "the first step cannot click a button" in message


def test_the_action_server_is_up_or_down(tmp_path: Path) -> None:
    message = errors(tmp_path, """
        conversations:
          - name: Sideways
            action_server: off
            steps:
              - user: hi
    """)
    assert '"action_server" must be "up" or "down", not "off"' in message


def test_two_conversations_with_one_name_are_an_error(tmp_path: Path) -> None:
    message = errors(tmp_path, """
        conversations:
          - name: Same
            steps:
              - user: hi
          - name: Same
            steps:
              - user: hello
    """)
    assert 'line 5, conversation "Same": another conversation in this file has the same name' \
        in message


def test_a_key_given_twice_is_an_error(tmp_path: Path) -> None:
    message = errors(tmp_path, """
        conversations:
          - name: Twice
            steps:
              - user: hi
                expect: Who
                expect: Hello
    """)
    assert 'topic.yml, line 6: this is not valid YAML: the key "expect" is given twice' in message


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("conversations: [\n", "this is not valid YAML"),
        ("- name: x\n  steps:\n    - user: hi\n", "the file must start with `conversations:`"),
        ("conversations:\n", "must be a list with at least one conversation"),
        ("conversations:\n  - just text\n", "a conversation must have keys"),
        ("conversations: []\ntests: []\n", 'unknown key "tests"'),
    ],
)
def test_bad_files_are_errors(tmp_path: Path, text: str, problem: str) -> None:
    message = errors(tmp_path, text)
    assert "topic.yml" in message
    assert problem in message


def test_every_problem_of_every_file_is_reported_at_once(tmp_path: Path) -> None:
    write(tmp_path, "conversations:\n  - name: A\n    steps: []\n", "one.yml")
    write(tmp_path, "conversations:\n  - name: B\n    stesp: []\n", "two.yml")
    with pytest.raises(ConversationFileError) as raised:
        load_conversations(tmp_path)
    lines = str(raised.value).splitlines()
    assert lines[0].startswith("Invalid conversation file(s)")
    assert any('one.yml, line 2, conversation "A": the conversation has no steps' in line
               for line in lines)
    assert any('two.yml, line 2, conversation "B": unknown key "stesp"' in line for line in lines)


# --- Running: matching --------------------------------------------------------------------------


def test_a_conversation_that_goes_as_written_passes(tmp_path: Path) -> None:
    conversation = load_one(tmp_path, """
        conversations:
          - name: Danger in the middle
            steps:
              - user: hi
                expect: ["who is THIS about"]
                expect_buttons: ["i'm worried about someone"]
              - button: I\u2019m worried about someone
                expect: Is anyone in danger right now
                not_expect_buttons: More
              - user: he's got a knife
                expect: ["Call 999   now", "when you are safe"]
                not_expect: ["Sorry, I didn't understand"]
                expect_buttons: ["I'm safe now"]
                expect_link: ["https://www.999bsl.co.uk", "HTTPS://www.999bsl"]
    """)
    bot = FakeBot(BOT)
    turns = run_conversation(conversation, bot.say)
    assert bot.sent == ["hi", "/report_other", "he's got a knife"]
    assert [turn.sent for turn in turns] == bot.sent


def test_the_failure_shows_the_whole_transcript_and_marks_the_failing_step(
    tmp_path: Path,
) -> None:
    message = failure(tmp_path, """
        conversations:
          - name: Danger in the middle
            steps:
              - user: hi
                expect: Who is this about
              - button: I'm worried about someone
                expect: Is anyone in danger right now
              - user: he's back and he's got a knife
                expect: ["Call 999 now"]
                not_expect: ["Sorry, I didn't understand"]
              - user: thanks
    """)
    assert message == textwrap.dedent("""\
        Conversation "Danger in the middle"
          topic.yml, line 2; run with both servers; sender id sender-1

        step 1 (line 4)  user: hi
            bot: Hello. I'm an automated assistant.
            bot: Who is this about?
                 buttons: [It's happening to me] [I'm worried about someone]
        step 2 (line 6)  user clicks [I'm worried about someone]  (sends /report_other)
            bot: Is anyone in danger right now?
                 buttons: [Yes, someone is in danger now] [No]
        step 3 (line 8)  user: he's back and he's got a knife
            bot: Sorry, I didn't understand that. In an emergency call 999.
        >>> FAILED HERE: step 3 (line 8)
        >>>   expected "Call 999 now", but the bot did not say it
        >>>   the bot said "Sorry, I didn't understand", which is in not_expect
        >>> the step checks:
        >>>   expect:             ["Call 999 now"]
        >>>   not_expect:         ["Sorry, I didn't understand"]
        (1 more step not run)""").replace("topic.yml", str(tmp_path / "topic.yml"))


def test_a_missing_button_fails_and_lists_the_buttons_offered(tmp_path: Path) -> None:
    message = failure(tmp_path, """
        conversations:
          - name: Wrong button
            steps:
              - user: hi
              - button: I'm scared
              - user: hello
              - user: hello again
    """)
    assert message.splitlines()[-4:] == [
        "step 2 (line 5)  user clicks [I'm scared]",
        ">>> FAILED HERE: step 2 (line 5)",
        '>>>   the last bot turn has no button "I\'m scared"; it offered: '
        "[It's happening to me] [I'm worried about someone]",
        "(2 more steps not run)",
    ]


def test_a_button_after_a_turn_without_buttons_fails(tmp_path: Path) -> None:
    message = failure(tmp_path, """
        conversations:
          - name: No buttons
            steps:
              - user: quiet
              - button: No
    """)
    assert "    bot: (says nothing)" in message
    assert 'the last bot turn has no button "No"; it offered no buttons' in message


@pytest.mark.parametrize(
    ("check", "problem"),
    [
        ("expect_buttons: [Start again]",
         'expected a button "Start again", but the bot offered none by that title'),
        ("not_expect_buttons: [I'm safe now]",
         'the bot offered a button "I\'m safe now", which is in not_expect_buttons'),
        ("expect_link: https://www.gov.uk",
         'expected a link starting with "https://www.gov.uk", but the bot gave none'),
        ("not_expect: [999 BSL]", 'the bot said "999 BSL", which is in not_expect'),
    ],
)
def test_each_check_fails_with_its_own_message(tmp_path: Path, check: str, problem: str) -> None:
    message = failure(tmp_path, f"""
        conversations:
          - name: Checks
            steps:
              - user: he's got a knife
                {check}
    """)
    assert f">>>   {problem}" in message
    assert f">>>   {check.split(':')[0] + ':':<20}" in message


def test_a_multi_line_bot_message_is_indented_in_the_transcript(tmp_path: Path) -> None:
    bot: dict[str, list[dict[str, Any]]] = {"signs": [{"text": "Signs:\n- Injuries\n- No ID"}]}
    message = failure(tmp_path, """
        conversations:
          - name: Signs
            steps:
              - user: signs
                expect: Passport
    """, bot)
    assert "    bot: Signs:\n         - Injuries\n         - No ID\n>>> FAILED HERE" in message


def test_a_bot_that_does_not_answer_fails_with_the_transcript(tmp_path: Path) -> None:
    conversation = load_one(tmp_path, """
        conversations:
          - name: Server gone
            action_server: down
            steps:
              - user: hi
              - button: It's happening to me
    """)

    def say(message: str) -> list[Reply]:
        if message == "hi":
            return list(BOT["hi"])
        raise ConnectionRefusedError("connection refused")

    with pytest.raises(ConversationFailed) as raised:
        run_conversation(conversation, say)
    message = str(raised.value)
    assert "run with the action server down" in message
    assert "step 2 (line 6)  user clicks [It's happening to me]  (sends /report_self)\n" \
        ">>> FAILED HERE: step 2 (line 6)\n" \
        ">>>   the bot did not answer: ConnectionRefusedError('connection refused')" in message
