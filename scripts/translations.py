"""Keep the translations in content/translations/ in step with the English.

    python scripts/translations.py status          the table of languages and review status
                                                   (docs/languages.md holds a copy)
    python scripts/translations.py check           what is missing or out of date, per language
    python scripts/translations.py english         every English string, with its fingerprint
    python scripts/translations.py template CODE   a new language file to fill in (stdout)
    python scripts/translations.py stamp CODE KEY...
        after checking that the translation of KEY (e.g. responses.utter_ask_who,
        buttons./deny, page.danger_line) says what the current English says: record the
        current English's fingerprint, so it is no longer out of date
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from i18n.translations import (  # noqa: E402
    TRANSLATIONS_DIR,
    EnglishStrings,
    content_problems,
    english_strings,
    fingerprint,
    load_all,
    missing,
    out_of_date,
)


def status_table(english: EnglishStrings | None = None) -> str:
    english = english or english_strings()
    rows = [
        "| code | language | English name | direction | translated by | on | checked | review | "
        "missing | out of date |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | ---: | ---: |",
    ]
    for lang in load_all().values():
        review = lang.review_status
        if lang.review_status == "reviewed":
            review = f"reviewed by {lang.reviewed_by}, {lang.reviewed_on}"
        else:
            review = "**draft**: needs a native speaker's review"
        rows.append(
            f"| `{lang.code}` | {lang.name} | {lang.english_name} | {lang.direction} | "
            f"{lang.translated_by} | {lang.translated_on} | {lang.checked or 'no'} | {review} | "
            f"{len(missing(lang, english))} | {len(out_of_date(lang, english))} |"
        )
    return "\n".join(rows)


def check() -> int:
    english = english_strings()
    problems = 0
    for lang in load_all().values():
        for item in (missing(lang, english) + out_of_date(lang, english)
                     + content_problems(lang, english)):
            print(f"{lang.code}: {item}")
            problems += 1
    print(f"{problems} problem(s)")
    return 1 if problems else 0


def english_dump() -> str:
    english = english_strings()
    out: dict[str, dict[str, dict[str, str]]] = {}
    for section, key, text in english.all():
        out.setdefault(section, {})[key] = {"source": fingerprint(text), "english": text}
    return yaml.safe_dump(out, allow_unicode=True, sort_keys=False, width=100)


class _Dumper(yaml.SafeDumper):
    """Multi-line strings as literal blocks, as a translator would write them."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def template(code: str) -> str:
    english = english_strings()
    head = {
        "code": code,
        "name": "NAME IN ITS OWN SCRIPT",
        "english_name": "ENGLISH NAME",
        "direction": "ltr",
        "translation": {"by": "WHO", "date": dt.date.today().isoformat()},
        "review": {"status": "draft", "by": None, "date": None},
    }
    body: dict[str, dict[str, dict[str, str]]] = {}
    for section, key, text in english.all():
        body.setdefault(section, {})[key] = {"source": fingerprint(text), "text": text}
    return yaml.dump({**head, **body}, Dumper=_Dumper, allow_unicode=True, sort_keys=False,
                     width=1000)


def stamp(code: str, keys: list[str]) -> int:
    path = TRANSLATIONS_DIR / f"{code}.yml"
    text = path.read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    current = {f"{section}.{key}": fingerprint(english)
               for section, key, english in english_strings().all()}
    lines = text.splitlines(keepends=True)
    for dotted in keys:
        section, _, key = dotted.partition(".")
        old = ((data.get(section) or {}).get(key) or {}).get("source")
        if dotted not in current or old is None:
            print(f"{code}: no {dotted} to stamp")
            return 1
        # Edit the line in place so the file's comments and layout stay as written.
        replaced = False
        for i, line in enumerate(lines):
            if line.strip() == f"source: {old}" and not replaced and _under(lines, i, key):
                lines[i] = line.replace(old, current[dotted])
                replaced = True
        if not replaced:
            print(f"{code}: could not find the source line of {dotted}")
            return 1
        print(f"{code}: {dotted} {old} -> {current[dotted]}")
    path.write_text("".join(lines), encoding="utf-8")
    return 0


def _under(lines: list[str], index: int, key: str) -> bool:
    """Whether the `source:` line at index belongs to the entry `key` (the line above)."""
    for line in reversed(lines[:index]):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            return stripped.rstrip(":").strip("'\"") == key
    return False


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    command, args = argv[0], argv[1:]
    if command == "status":
        print(status_table())
        return 0
    if command == "check":
        return check()
    if command == "english":
        print(english_dump())
        return 0
    if command == "template" and len(args) == 1:
        print(template(args[0]))
        return 0
    if command == "stamp" and len(args) >= 2:
        return stamp(args[0], args[1:])
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
