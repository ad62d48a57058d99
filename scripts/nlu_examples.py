"""The examples of Rasa NLU YAML files, as (intent, text) with entity marks taken off.

Shared by scripts/robustness.py and scripts/classifier_probe.py. It needs only PyYAML, since the
probe runs in an environment of its own without Rasa or spaCy.
"""

from __future__ import annotations

import re
from pathlib import Path

# "[Leeds](uk_place)" and '[nail bar]{"entity": "business"}' read as "Leeds" and "nail bar".
ENTITY = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\{[^}]*\})")
# Messages in another language are the LanguageGate's: its tests cover them.
NOT_ENGLISH = frozenset({"other_language", "language_unsure"})


def read_examples(path: Path) -> list[tuple[str, str]]:
    """(intent, text) of every example of one file, or of each *.yml of a folder in name order."""
    import yaml

    examples = []
    for file in sorted(path.glob("*.yml")) if path.is_dir() else [path]:
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        for block in data.get("nlu") or []:
            if "intent" not in block:
                continue
            for line in str(block.get("examples", "")).splitlines():
                line = line.strip()
                if line.startswith("- "):
                    examples.append((str(block["intent"]), ENTITY.sub(r"\1", line[2:])))
    return examples
