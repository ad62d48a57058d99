"""Scripted conversations that testers write in YAML (tests/conversations/*.yml): loading, strict
validation, running against any bot, and the failure transcript. See docs/testing.md.

A file holds a list of conversations; each conversation is a list of steps. A step sends one
message (typed with `user:` or a button clicked by its title with `button:`) and checks the bot's
whole answer to it (every message of that turn):

    conversations:
      - name: Danger in the middle of the triage goes straight to 999
        steps:
          - user: hi
            expect: Who is this about
          - button: I'm worried about someone
            expect_buttons: ["Yes, someone is in danger now", "No", "I'm not sure"]
          - user: he's back and he's got a knife
            expect: ["Call 999 now"]
            not_expect: ["Sorry, I didn't understand"]

Nothing here needs a server: `run_conversation` takes any function that sends a message and
returns the bot's replies as the Rasa REST channel does (a list of {"text", "buttons"} objects),
so the unit tests drive it with a fake bot and tests/e2e/test_conversations.py with the real one.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from yaml.constructor import ConstructorError

ROOT = Path(__file__).resolve().parent.parent
CONVERSATIONS_DIR = ROOT / "tests" / "conversations"

CONVERSATION_KEYS = ("name", "steps", "action_server")
MESSAGE_KEYS = ("user", "button")
CHECK_KEYS = ("expect", "not_expect", "expect_buttons", "not_expect_buttons", "expect_link",
              "expect_lang", "not_expect_lang")
STEP_KEYS = MESSAGE_KEYS + CHECK_KEYS
ACTION_SERVER_VALUES = ("up", "down")

Reply = dict[str, Any]
Say = Callable[[str], list[Reply]]

_URL = re.compile(r"https?://[^\s\"'<>]+")
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


class ConversationFileError(ValueError):
    """One or more conversation files are not valid; the message names every problem."""


class ConversationFailed(AssertionError):
    """A conversation did not go as written; the message is the transcript up to the failure."""


# --- Loading ------------------------------------------------------------------------------


class _Mapping(dict[str, Any]):
    """A YAML mapping that remembers the line it starts on (1-based)."""

    line: int = 0


class _Loader(yaml.SafeLoader):
    """Reads every plain value as text, so `user: no` sends "no" and `user: 999` sends "999"
    (plain YAML would turn them into False and a number). Rejects a key given twice."""


_Loader.yaml_implicit_resolvers = {}


def _construct_mapping(loader: _Loader, node: yaml.Node) -> _Mapping:
    assert isinstance(node, yaml.MappingNode)
    seen: set[str] = set()
    for key_node, _ in node.value:
        key = str(key_node.value)
        if key in seen:
            raise ConstructorError(
                None, None, f'the key "{key}" is given twice', key_node.start_mark
            )
        seen.add(key)
    pairs = loader.construct_mapping(node, deep=True).items()
    mapping = _Mapping({str(key): value for key, value in pairs})
    mapping.line = node.start_mark.line + 1
    return mapping


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


@dataclass(frozen=True)
class Step:
    """One message the user sends, and what the bot's answer must (not) contain."""

    number: int  # 1-based, within its conversation
    line: int
    kind: Literal["user", "button"]
    text: str  # what is typed, or the title of the button clicked
    expect: tuple[str, ...] = ()
    not_expect: tuple[str, ...] = ()
    expect_buttons: tuple[str, ...] = ()
    not_expect_buttons: tuple[str, ...] = ()
    expect_link: tuple[str, ...] = ()
    # Language codes: a message of the answer is (not) in that language (its `lang`).
    expect_lang: tuple[str, ...] = ()
    not_expect_lang: tuple[str, ...] = ()

    @property
    def has_checks(self) -> bool:
        return any(getattr(self, key) for key in CHECK_KEYS)


@dataclass(frozen=True)
class Conversation:
    file: Path
    line: int
    name: str
    steps: tuple[Step, ...]
    action_server: Literal["up", "down"] = "up"

    @property
    def test_id(self) -> str:
        return f"{self.file.stem}: {self.name}"

    @property
    def where(self) -> str:
        return f"{_display(self.file)}, line {self.line}"


class _Problems:
    """Collects every problem of every file, so a tester sees them all at once."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.messages.append(f"{where}: {message}")


def _unknown_key(key: str, allowed: Sequence[str]) -> str:
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f' (did you mean "{close[0]}"?)' if close else ""
    return f'unknown key "{key}"{hint}; the keys allowed here are: {", ".join(allowed)}'


def _texts(value: Any, key: str, where: str, problems: _Problems) -> tuple[str, ...]:
    """A check's value: one text, or a list of texts; none of them empty."""
    items = value if isinstance(value, list) else [value]
    if not items:
        problems.add(where, f'"{key}" is an empty list')
        return ()
    texts: list[str] = []
    for item in items:
        if not isinstance(item, str) or not item.strip():
            problems.add(where, f'"{key}" must be a text or a list of texts, none of them empty')
            return ()
        texts.append(item.strip())
    if key == "expect_link":
        for text in texts:
            if not text.lower().startswith(("https://", "http://")):
                problems.add(
                    where, f'"expect_link" must be web addresses starting with https://: "{text}"'
                )
    return tuple(texts)


def _step(raw: Any, number: int, where: str, problems: _Problems) -> Step | None:
    if not isinstance(raw, _Mapping):
        problems.add(where, "a step must have keys, such as `- user: hello` or `- button: No`")
        return None
    where = f"{where}, step {number} (line {raw.line})"
    ok = True
    for key in raw:
        if key not in STEP_KEYS:
            problems.add(where, _unknown_key(key, STEP_KEYS))
            ok = False
    kinds = [key for key in MESSAGE_KEYS if key in raw]
    if len(kinds) != 1:
        problems.add(
            where,
            "a step needs exactly one of `user:` (a message typed) or `button:` (the title of a "
            f"button to click), not {' and '.join(kinds) if kinds else 'neither'}",
        )
        return None
    kind: Literal["user", "button"] = "user" if kinds[0] == "user" else "button"
    text = raw[kind]
    # A typed message may be empty or blank on purpose (what does the bot do with nothing?),
    # as long as it is written as a quoted text; a button needs a title.
    if not isinstance(text, str) or (kind == "button" and not text.strip()):
        problems.add(where, f'"{kind}" must be a text' + (" (not empty)" if kind == "button"
                                                          else ', e.g. "" for an empty message'))
        return None
    if kind == "button" and number == 1:
        problems.add(where, "the first step cannot click a button: the bot has not said anything")
        ok = False
    checks = {key: _texts(raw[key], key, where, problems) for key in CHECK_KEYS if key in raw}
    if not ok:
        return None
    return Step(number=number, line=raw.line, kind=kind,
                text=text if kind == "user" else text.strip(), **checks)


def _conversation(
    raw: Any, index: int, path: Path, names: set[str], problems: _Problems
) -> Conversation | None:
    where = f"{_display(path)}, conversation {index}"
    if not isinstance(raw, _Mapping):
        problems.add(where, "a conversation must have keys: `- name: ...` and `steps:`")
        return None
    where = f"{_display(path)}, line {raw.line}, conversation {index}"
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.add(where, "the conversation has no `name:` (one line saying what it checks)")
        return None
    name = " ".join(name.split())
    where = f'{_display(path)}, line {raw.line}, conversation "{name}"'
    ok = True
    if name in names:
        problems.add(where, "another conversation in this file has the same name")
        ok = False
    names.add(name)
    for key in raw:
        if key not in CONVERSATION_KEYS:
            problems.add(where, _unknown_key(key, CONVERSATION_KEYS))
            ok = False
    action_server = raw.get("action_server", "up")
    if action_server not in ACTION_SERVER_VALUES:
        problems.add(where, f'"action_server" must be "up" or "down", not "{action_server}"')
        ok = False
    raw_steps = raw.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        problems.add(where, "the conversation has no steps: add `steps:` with at least one step")
        return None
    steps = [_step(item, n, where, problems) for n, item in enumerate(raw_steps, start=1)]
    if not ok or any(step is None for step in steps):
        return None
    return Conversation(
        file=path,
        line=raw.line,
        name=name,
        steps=tuple(step for step in steps if step is not None),
        action_server="down" if action_server == "down" else "up",
    )


def _parse_file(path: Path, problems: _Problems) -> list[Conversation]:
    where = _display(path)
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        at = f", line {mark.line + 1}" if mark is not None else ""
        reason = getattr(error, "problem", None) or str(error)
        problems.add(f"{where}{at}", f"this is not valid YAML: {reason}")
        return []
    if not isinstance(document, _Mapping) or "conversations" not in document:
        problems.add(where, "the file must start with `conversations:`, then a list of them")
        return []
    for key in document:
        if key != "conversations":
            problems.add(where, _unknown_key(key, ["conversations"]))
    raw = document["conversations"]
    if not isinstance(raw, list) or not raw:
        problems.add(where, "`conversations:` must be a list with at least one conversation")
        return []
    names: set[str] = set()
    found = [_conversation(item, i, path, names, problems) for i, item in enumerate(raw, 1)]
    return [conversation for conversation in found if conversation is not None]


def load_file(path: Path) -> list[Conversation]:
    """The conversations of one file; ConversationFileError names every problem in it."""
    return load_files([path])


def load_files(paths: Sequence[Path]) -> list[Conversation]:
    problems = _Problems()
    conversations = [c for path in paths for c in _parse_file(path, problems)]
    if problems.messages:
        raise ConversationFileError(
            "Invalid conversation file(s) (see docs/testing.md):\n"
            + "\n".join(f"- {message}" for message in problems.messages)
        )
    return conversations


def load_conversations(directory: Path = CONVERSATIONS_DIR) -> list[Conversation]:
    """Every conversation of every `*.yml` file in the directory, in file order."""
    return load_files(sorted(directory.glob("*.yml")))


# --- Checking a turn ------------------------------------------------------------------------


def normalise(text: str) -> str:
    """What matching compares: case, curly quotes and runs of spaces or newlines do not matter."""
    return " ".join(text.translate(_QUOTES).split()).casefold()


def reply_texts(replies: Sequence[Reply]) -> list[str]:
    return [str(reply.get("text") or "") for reply in replies]


def button_titles(replies: Sequence[Reply]) -> list[str]:
    """Every button's title, and the English title of a translated one."""
    return [
        str(b.get(key, ""))
        for reply in replies
        for b in reply.get("buttons") or []
        for key in ("title", "english")
        if b.get(key)
    ]


def reply_languages(replies: Sequence[Reply]) -> set[str]:
    return {str(reply["lang"]) for reply in replies if reply.get("lang")}


def links_in(replies: Sequence[Reply]) -> list[str]:
    return [
        url.rstrip(".,;:)") for text in reply_texts(replies) for url in _URL.findall(text)
    ]


def find_button(replies: Sequence[Reply], title: str) -> dict[str, Any] | None:
    """The button of this turn with that title, or that English title if it is translated
    (case and curly quotes do not matter)."""
    wanted = normalise(title)
    for reply in replies:
        for button in reply.get("buttons") or []:
            names = (str(button.get("title", "")), str(button.get("english", "")))
            if wanted in (normalise(name) for name in names):
                return dict(button)
    return None


def check_turn(step: Step, replies: Sequence[Reply]) -> list[str]:
    """What is wrong with the bot's answer to this step (nothing: an empty list)."""
    said = "\n".join(normalise(text) for text in reply_texts(replies))
    titles = {normalise(title) for title in button_titles(replies)}
    links = [normalise(link) for link in links_in(replies)]
    problems: list[str] = []
    for text in step.expect:
        if normalise(text) not in said:
            problems.append(f'expected "{text}", but the bot did not say it')
    for text in step.not_expect:
        if normalise(text) in said:
            problems.append(f'the bot said "{text}", which is in not_expect')
    for title in step.expect_buttons:
        if normalise(title) not in titles:
            problems.append(f'expected a button "{title}", but the bot offered none by that title')
    for title in step.not_expect_buttons:
        if normalise(title) in titles:
            problems.append(f'the bot offered a button "{title}", which is in not_expect_buttons')
    for url in step.expect_link:
        if not any(link.startswith(normalise(url)) for link in links):
            problems.append(f'expected a link starting with "{url}", but the bot gave none')
    languages = reply_languages(replies)
    for code in step.expect_lang:
        if code not in languages:
            problems.append(f'expected a message in "{code}", but the bot wrote in none')
    for code in step.not_expect_lang:
        if code in languages:
            problems.append(f'the bot wrote in "{code}", which is in not_expect_lang')
    return problems


# --- Running and the transcript -----------------------------------------------------------


@dataclass
class Turn:
    step: Step
    sent: str  # the message sent: the typed text, or the clicked button's payload
    replies: list[Reply] = field(default_factory=list)


@dataclass
class Failure:
    step: Step
    problems: list[str]
    answered: bool  # False: the bot gave no answer (the message could not be sent, or failed)
    sent: str | None = None  # the message sent, if it was


def _quote_list(items: Sequence[str]) -> str:
    return "[" + ", ".join(f'"{item}"' for item in items) + "]"


def _step_heading(step: Step, sent: str | None) -> str:
    if step.kind == "user":
        return f"step {step.number} (line {step.line})  user: {step.text}"
    payload = f"  (sends {sent})" if sent is not None else ""
    return f"step {step.number} (line {step.line})  user clicks [{step.text}]{payload}"


def _bot_lines(replies: Sequence[Reply]) -> list[str]:
    if not replies:
        return ["    bot: (says nothing)"]
    lines: list[str] = []
    for reply in replies:
        text = str(reply.get("text") or "")
        first, *rest = text.splitlines() or ["(no text)"]
        lang = f"[{reply['lang']}] " if reply.get("lang") else ""
        lines.append(f"    bot: {lang}{first}")
        lines += [f"         {line}" for line in rest]
        titles = [str(b.get("title", "")) for b in reply.get("buttons") or []]
        if titles:
            lines.append("         buttons: " + " ".join(f"[{t}]" for t in titles))
    return lines


def _expectation_lines(step: Step) -> list[str]:
    return [
        f">>>   {key + ':':<20}{_quote_list(getattr(step, key))}"
        for key in CHECK_KEYS
        if getattr(step, key)
    ]


def format_transcript(
    conversation: Conversation,
    turns: Sequence[Turn],
    failure: Failure | None = None,
    sender: str | None = None,
) -> str:
    """The conversation so far, every message of the user and of the bot with its buttons; with a
    failure, a `>>> FAILED HERE` block after the failing step saying what went wrong."""
    server = "the action server down" if conversation.action_server == "down" else "both servers"
    lines = [
        f'Conversation "{conversation.name}"',
        f"  {conversation.where}; run with {server}"
        + (f"; sender id {sender}" if sender else ""),
        "",
    ]
    for turn in turns:
        lines.append(_step_heading(turn.step, turn.sent))
        lines += _bot_lines(turn.replies)
    if failure is not None:
        if not failure.answered:
            lines.append(_step_heading(failure.step, failure.sent))
        lines.append(f">>> FAILED HERE: step {failure.step.number} (line {failure.step.line})")
        lines += [f">>>   {problem}" for problem in failure.problems]
        if failure.answered and failure.step.has_checks:
            lines.append(">>> the step checks:")
            lines += _expectation_lines(failure.step)
        left = len(conversation.steps) - failure.step.number
        if left:
            lines.append(f"({left} more step{'s' if left > 1 else ''} not run)")
    return "\n".join(lines)


def run_conversation(
    conversation: Conversation, say: Say, sender: str | None = None
) -> list[Turn]:
    """Sends each step's message through `say` and checks the answer. Raises ConversationFailed,
    whose message is the whole transcript so far, at the first step that goes wrong."""
    turns: list[Turn] = []

    def fail(
        step: Step, problems: list[str], answered: bool, sent: str | None = None
    ) -> ConversationFailed:
        failure = Failure(step, problems, answered, sent)
        return ConversationFailed(format_transcript(conversation, turns, failure, sender))

    for step in conversation.steps:
        message = step.text
        if step.kind == "button":
            last = turns[-1].replies if turns else []
            button = find_button(last, step.text)
            if button is None or not button.get("payload"):
                offered = button_titles(last)
                choice = (
                    "it offered: " + " ".join(f"[{title}]" for title in offered)
                    if offered
                    else "it offered no buttons"
                )
                raise fail(step, [f'the last bot turn has no button "{step.text}"; {choice}'],
                           answered=False)
            message = str(button["payload"])
        try:
            replies = say(message)
        except Exception as error:  # any error reaching the bot: report it with the transcript
            problem = f"the bot did not answer: {error!r}"
            raise fail(step, [problem], answered=False, sent=message) from error
        turns.append(Turn(step, message, list(replies)))
        problems = check_turn(step, replies)
        if problems:
            raise fail(step, problems, answered=True)
    return turns
