"""How well the language detector (addons/language.py) does on messages written for it.

    python scripts/language_report.py        the tables of docs/languages.md (markdown)

Reads tests/language/detection.yml (held-out messages, written by someone who had not seen the
detector) and sorts each message's outcome:
- right: the language named is the message's own (the card and triage in it);
- with its card: unsure, but its language is among the one or two whose cards are shown beside
  the English (Tigrinya and Amharic; a word for "help");
- picker: unsure: the English card and the picker;
- English: taken for English (the English conversation, whose every answer still has 999);
- wrong: another language named. The tests allow none.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yaml

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rasa.shared.nlu.training_data.loading import load_data  # noqa: E402

from addons.language import Identification, LanguageCheck, cld2_detect  # noqa: E402
from addons.nlu import lexicon_of  # noqa: E402
from i18n.translations import languages  # noqa: E402

DETECTION_FILE = ROOT / "tests" / "language" / "detection.yml"
OUTCOMES = ("right", "with its card", "picker", "English", "wrong")


def make_check() -> LanguageCheck:
    """The detector as the trained bot has it: the lexicon of data/nlu, the bot's languages."""
    return LanguageCheck(lexicon_of(load_data(str(ROOT / "data" / "nlu"))), languages())


def outcome(found: Identification, expected: str | None) -> str:
    """expected: the message's language, or None for a language the bot does not have."""
    if found.english is not False:
        return "English"
    if found.language is not None:
        return "right" if found.language == expected else "wrong"
    if expected is not None and expected in found.option_cards:
        return "with its card"
    return "picker"


@dataclass
class Row:
    name: str
    counts: Counter[str]

    def cells(self) -> str:
        total = sum(self.counts.values())
        return " | ".join([self.name, str(total), *(str(self.counts[o]) for o in OUTCOMES)])


def rows(check: LanguageCheck, section: str, data: dict[str, object]) -> list[Row]:
    out = []
    block = data.get(section) or {}
    assert isinstance(block, dict)
    for code, messages in block.items():
        expected = None if section == "unsupported" else str(code)
        counts: Counter[str] = Counter(
            outcome(check.identify(str(text)), expected) for text in messages
        )
        name = languages()[code].english_name if code in languages() else str(code)
        out.append(Row(f"{name} (`{code}`)", counts))
    return out


def alone(check: LanguageCheck, data: dict[str, object]) -> str:
    """Each detector on its own, on every message in a language the bot has (sentences, short,
    romanised): how often its answer would have been right or wrong, had it been trusted."""
    counts = {"pycld2 alone (when reliable)": Counter[str](),
              "py3langid alone": Counter[str](),
              "this bot (script, then both agreeing)": Counter[str]()}
    for section in ("sentences", "short", "romanised"):
        block = data.get(section) or {}
        assert isinstance(block, dict)
        for code, messages in block.items():
            for text in messages:
                text = str(text)
                found = cld2_detect(text)
                cld2 = found[1] if found and found[0] else None
                guess = check._best_guess(text)
                ours = check.identify(text).language
                for name, said in zip(counts, (cld2, guess, ours), strict=True):
                    counts[name]["right" if said == code else
                                 "no answer" if said in (None, "un") else "wrong"] += 1
    rows = ["| detector | right | wrong | no answer |", "| --- | ---: | ---: | ---: |"]
    rows += [f"| {name} | {c['right']} | {c['wrong']} | {c['no answer']} |"
             for name, c in counts.items()]
    return "\n".join(rows)


def report(check: LanguageCheck | None = None) -> str:
    check = check or make_check()
    data = yaml.safe_load(DETECTION_FILE.read_text(encoding="utf-8"))
    header = ("| language | messages | " + " | ".join(OUTCOMES) + " |\n"
              "| --- | ---: | " + " | ".join("---:" for _ in OUTCOMES) + " |")
    parts = []
    titles = {
        "sentences": "Messages of 5 to 30 words",
        "short": "One or two words (\"help\", \"police\")",
        "romanised": "Romanised (Vietnamese without accents, Arabizi, Roman Urdu, Finglish)",
        "unsupported": "Languages the bot has no translation for (\"right\" cannot happen)",
    }
    for section, title in titles.items():
        table = "\n".join(f"| {row.cells()} |" for row in rows(check, section, data))
        parts.append(f"**{title}**\n\n{header}\n{table}")
    english = data.get("english") or []
    taken = [str(t) for t in english if check.identify(str(t)).english is False]
    parts.append(f"**English messages that must stay English**: {len(english) - len(taken)} of "
                 f"{len(english)} stayed English.")
    parts.append("**Each detector alone**, on the messages above in the bot's languages "
                 "(sentences, short, romanised: a wrong answer means a card in the wrong "
                 f"language)\n\n{alone(check, data)}")
    return "\n\n".join(parts)


if __name__ == "__main__":
    print(report())
