"""Where the Rasa server's time goes: py-spy's samples by component."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from scripts.bench.settings import ROOT

# (category, pattern on "function (file:line)" frames). A sample belongs to the deepest frame
# that matches a pattern, so library code (numpy, TensorFlow, json) counts for the component
# that called it.
PROFILE_CATEGORIES: tuple[tuple[str, str], ...] = (
    # Sanic compiles some of its functions from strings: their frames name no file.
    ("Sanic: HTTP, routing, event loop",
     r"[(/](sanic|sanic_routing|sanic_cors)/|asyncio/|uvloop|\((send|http1_response_header|"
     r"connection_task|handle_request|_run_response_middleware|_run_request_middleware):\d+\)"),
    ("REST channel (addons/channel.py, text.py)", r"addons/channel\.py|addons/text\.py"),
    ("REST channel: a question beside a story (addons/two_things.py)", r"addons/two_things\.py"),
    ("Responses in the user's language (addons/nlg.py, i18n/)", r"addons/nlg\.py|/i18n/"),
    ("Counting what the bot did (addons/counting.py, counts.py)", r"addons/count(ing|s)\.py"),
    ("Rasa processor and agent (events, tracker updates)",
     r"rasa/core/processor\.py|rasa/core/agent\.py|rasa/core/channels/"),
    ("Actions: responses, form, custom-action call",
     # jsonschema: Rasa checks every action server response against a schema.
     r"rasa/core/actions/|rasa/core/nlg/|rasa/utils/endpoints\.py|[(/]jsonschema/"),
    ("Tracker store (load and save the conversation)", r"rasa/core/tracker_store\.py"),
    ("Lock store", r"rasa/core/lock_store\.py|rasa/core/lock\.py"),
    ("Graph engine (running components)", r"rasa/engine/"),
    ("NLU: message parsing (regex for /payloads)", r"regex_message_handler\.py"),
    ("NLU: SpacyNLP (spaCy pipeline)", r"rasa/nlu/utils/spacy_utils\.py"),
    ("NLU: SpacyTokenizer", r"rasa/nlu/tokenizers/"),
    ("NLU: LexicalSyntacticFeaturizer", r"lexical_syntactic_featurizer\.py"),
    # Its process is addons/speedups.py's (token counts made when read).
    ("NLU: CountVectorsFeaturizer (words and char n-grams)",
     r"count_vectors_featurizer\.py|(process|_counts) \([^)]*addons/speedups\.py"),
    ("NLU: DIETClassifier (TensorFlow)", r"diet_classifier\.py"),
    ("NLU: SpellingNormaliser (addons/spelling.py)", r"addons/spelling\.py"),
    ("NLU: EntityMasker (addons/masking.py)", r"addons/masking\.py"),
    ("NLU: LanguageGate (addons/nlu.py)", r"apply_language_check|addons/language\.py"),
    ("NLU: DangerGate (addons/nlu.py)", r"apply_danger_check|addons/danger\.py"),
    ("NLU: SpacyEntityExtractor", r"spacy_entity_extractor\.py"),
    ("NLU: EntitySynonymMapper", r"entity_synonyms\.py"),
    ("NLU: FallbackClassifier", r"fallback_classifier\.py"),
    ("NLU: ResponseSelector", r"response_selector\.py"),
    ("Policies: RulePolicy", r"rule_policy\.py"),
    ("Policies: MemoizationPolicy", r"memoization\.py"),
    ("Policies: TEDPolicy / UnexpecTED", r"ted_policy\.py|unexpected_intent_policy\.py"),
    ("Policies: prediction selection", r"rasa/core/policies/ensemble\.py"),
    ("Logging", r"[(/]logging/"),
)
# py-spy cuts some stacks (deep generators): their frames still tell something.
PROFILE_FALLBACKS: tuple[tuple[str, str], ...] = (
    ("Trackers: replaying events (caller cut from the stack)", r"rasa/shared/core/trackers\.py"),
    ("TensorFlow / Keras (caller cut from the stack)", r"[(/](tensorflow|keras)/"),
)
_COMPILED = [[(name, re.compile(pattern)) for name, pattern in table]
             for table in (PROFILE_CATEGORIES, PROFILE_FALLBACKS)]


def categorise(frames: list[str]) -> str:
    for table in _COMPILED:
        for frame in reversed(frames):  # the deepest frame first
            for name, pattern in table:
                if pattern.search(frame):
                    return name
    return "Other"


def summarise_profile(raw: str, cpu_ms_per_message: float) -> dict[str, Any]:
    """Shares of py-spy's samples (raw, collapsed stacks) per category and per function.

    py-spy samples the Python threads that are not idle; a thread waiting for a core counts
    as busy, so on a shared machine the sample count overstates CPU time. The shares are
    therefore turned into milliseconds with the process's measured CPU time per message."""
    per_category: Counter[str] = Counter()
    per_function: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        per_category[categorise(frames)] += count
        leaf = re.sub(r"\(/.*?/site-packages/", "(", frames[-1])
        per_function[leaf.replace(f"({ROOT}/", "(")] += count

    def row(samples: int) -> dict[str, float]:
        share = samples / max(total, 1)
        return {"share": round(share, 3), "cpu_ms_per_message": round(
            share * cpu_ms_per_message, 2)}

    return {
        "samples": total,
        "categories": {name: row(n) for name, n in per_category.most_common()},
        "top_functions": {name: row(n) for name, n in per_function.most_common(15)},
    }
