"""The resource catalogue (content/catalogue.yml): loaded once, checked, and read by the actions.

Every link and number the bot sends comes from this file. A malformed catalogue raises
CatalogueError naming the entry, which stops the action server at start rather than
failing in the middle of someone's conversation.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

CATALOGUE_PATH = Path(__file__).resolve().parent.parent / "content" / "catalogue.yml"
# Set to try a changed catalogue without replacing the real one.
CATALOGUE_ENV = "TRIAGE_CATALOGUE"

CATEGORIES = (
    "emergency",
    "police",
    "helpline",
    "victim_care_pathways",
    "legal_support",
    "support_for_survivors",
    "survivor_services_map",
    "children",
    "organisation",
)
# The categories a user can browse as lists of links (the seed page's resource lists).
RESOURCE_CATEGORIES = (
    "victim_care_pathways",
    "legal_support",
    "support_for_survivors",
    "survivor_services_map",
)
AUDIENCES = ("self", "someone_else", "professional")
NATIONS = ("england", "wales", "scotland", "northern_ireland")

_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
# UK numbers as people read them: digits in groups separated by single spaces.
_PHONE = re.compile(r"^\d+( \d+)*$")
_URL = re.compile(r"^https://[^\s/$.?#][^\s]*$")
_REQUIRED = ("id", "title", "description", "category", "audience", "nations", "source",
             "verified", "last_reviewed")
_OPTIONAL = ("url", "phone", "format", "toolkit_id", "note")
FORMATS = ("pdf", "doc", "docx", "web")
MAX_DESCRIPTION = 140  # one line on a phone screen


class CatalogueError(ValueError):
    """The catalogue file is missing or malformed."""


@dataclass(frozen=True)
class Entry:
    id: str
    title: str
    description: str
    category: str
    audience: tuple[str, ...]
    nations: tuple[str, ...]
    source: str
    verified: bool
    last_reviewed: dt.date
    url: str | None = None
    phone: str | None = None
    format: str | None = None
    toolkit_id: int | None = None
    note: str | None = None

    @property
    def tel(self) -> str | None:
        """The tel: link for the phone number, e.g. tel:08000121700."""
        return f"tel:{self.phone.replace(' ', '')}" if self.phone else None


@dataclass(frozen=True)
class Category:
    id: str
    label: str
    intro: str


@dataclass(frozen=True)
class Catalogue:
    entries: tuple[Entry, ...]
    categories: dict[str, Category]

    def get(self, entry_id: str) -> Entry:
        for entry in self.entries:
            if entry.id == entry_id:
                return entry
        raise KeyError(entry_id)

    def in_category(self, category: str) -> list[Entry]:
        """Entries of one category, verified ones first, each group sorted by title."""
        chosen = [e for e in self.entries if e.category == category]
        return sorted(chosen, key=lambda e: (not e.verified, e.title.lower()))

    def links_to_serve(self, category: str) -> list[Entry]:
        """The links a user is shown: unverified ones only when nothing verified exists."""
        links = [e for e in self.in_category(category) if e.url]
        verified = [e for e in links if e.verified]
        return verified or links

    def phones(self) -> set[str]:
        return {e.phone for e in self.entries if e.phone}

    def urls(self) -> set[str]:
        return {e.url for e in self.entries if e.url}


def _fail(entry_id: str, problem: str) -> CatalogueError:
    return CatalogueError(f"catalogue entry {entry_id!r}: {problem}")


def _subset(raw: Any, allowed: Iterable[str], field: str, entry_id: str) -> tuple[str, ...]:
    allowed = tuple(allowed)
    if not isinstance(raw, list) or not raw:
        raise _fail(entry_id, f"{field} must be a non-empty list")
    unknown = [value for value in raw if value not in allowed]
    if unknown:
        raise _fail(entry_id, f"unknown {field} {unknown}; allowed: {list(allowed)}")
    return tuple(raw)


def _parse_entry(raw: Any, position: int) -> Entry:
    if not isinstance(raw, dict):
        raise CatalogueError(f"catalogue entry number {position}: not a mapping")
    entry_id = str(raw.get("id", f"number {position}"))
    missing = [key for key in _REQUIRED if key not in raw]
    if missing:
        raise _fail(entry_id, f"missing {missing}")
    unknown_keys = sorted(set(raw) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown_keys:
        raise _fail(entry_id, f"unknown keys {unknown_keys} (a typo?)")
    if not _ID.match(entry_id):
        raise _fail(entry_id, "id must be lowercase letters, digits and hyphens")
    if raw["category"] not in CATEGORIES:
        raise _fail(entry_id, f"unknown category {raw['category']!r}")
    url, phone = raw.get("url"), raw.get("phone")
    if url is None and phone is None:
        raise _fail(entry_id, "needs a url or a phone number")
    if url is not None and not _URL.match(str(url)):
        raise _fail(entry_id, f"url must be https: {url!r}")
    if phone is not None and not _PHONE.match(str(phone)):
        raise _fail(entry_id, f"phone must be digits in space-separated groups: {phone!r}")
    if not isinstance(raw["verified"], bool):
        raise _fail(entry_id, "verified must be true or false")
    try:
        reviewed = dt.date.fromisoformat(str(raw["last_reviewed"]))
    except ValueError as error:
        raise _fail(entry_id, f"last_reviewed is not a date: {error}") from error
    for field in ("title", "description", "source"):
        if not isinstance(raw[field], str) or not raw[field].strip():
            raise _fail(entry_id, f"{field} must be non-empty text")
    if len(raw["description"]) > MAX_DESCRIPTION:
        raise _fail(entry_id, f"description is longer than {MAX_DESCRIPTION} characters")
    if raw.get("format") is not None and raw["format"] not in FORMATS:
        raise _fail(entry_id, f"unknown format {raw['format']!r}; allowed: {list(FORMATS)}")
    return Entry(
        id=entry_id,
        title=raw["title"].strip(),
        description=raw["description"].strip(),
        category=raw["category"],
        audience=_subset(raw["audience"], AUDIENCES, "audience", entry_id),
        nations=_subset(raw["nations"], NATIONS, "nations", entry_id),
        source=raw["source"],
        verified=raw["verified"],
        last_reviewed=reviewed,
        url=url,
        phone=str(phone) if phone is not None else None,
        format=raw.get("format"),
        toolkit_id=raw.get("toolkit_id"),
        note=raw.get("note"),
    )


def parse_catalogue(document: Any) -> Catalogue:
    if not isinstance(document, dict) or not isinstance(document.get("entries"), list):
        raise CatalogueError("the catalogue must be a mapping with a list of entries")
    entries = tuple(_parse_entry(raw, i) for i, raw in enumerate(document["entries"], 1))
    seen: set[str] = set()
    for entry in entries:
        if entry.id in seen:
            raise _fail(entry.id, "id is used twice")
        seen.add(entry.id)
    return Catalogue(entries, _parse_categories(document.get("categories"), entries))


def _parse_categories(raw: Any, entries: tuple[Entry, ...]) -> dict[str, Category]:
    if not isinstance(raw, dict):
        raise CatalogueError("the catalogue needs a 'categories' mapping with label and intro")
    categories = {}
    for category in RESOURCE_CATEGORIES:
        info = raw.get(category)
        if not isinstance(info, dict) or not info.get("label") or not info.get("intro"):
            raise CatalogueError(f"category {category!r} needs a label and an intro")
        if not any(entry.category == category for entry in entries):
            raise CatalogueError(f"the catalogue has no entries in category {category!r}")
        categories[category] = Category(category, str(info["label"]), str(info["intro"]))
    unknown = sorted(set(raw) - set(RESOURCE_CATEGORIES))
    if unknown:
        raise CatalogueError(f"unknown resource categories {unknown}")
    return categories


def load_catalogue(path: Path | None = None) -> Catalogue:
    if path is None:
        path = Path(os.environ.get(CATALOGUE_ENV) or CATALOGUE_PATH)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise CatalogueError(f"cannot read the catalogue {path}: {error}") from error
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise CatalogueError(f"the catalogue {path} is not valid YAML: {error}") from error
    return parse_catalogue(document)


@lru_cache(maxsize=1)
def default_catalogue() -> Catalogue:
    return load_catalogue()
