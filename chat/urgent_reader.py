"""A learned reader of emergencies, read beside the rules of chat.triage.

The rules read events people tell in words someone wrote a pattern for; people in trouble use words nobody
wrote one for, and rules read from one half of the red-flag words set carry little to the other (issue 19). This
reader is a logistic regression on the character 1-3-gram TF-IDF of the message, trained on the **tune** split of
that set only (urgent messages against their look-alikes: the same words negated, past, hypothetical, a worry, a
story) and on ordinary questions (the tuning half of the Toyhom sample, when the shared data is there), with a second, multiclass regression that names the kind of emergency. chat.triage flags a message when
its rules or this reader do; the reader never clears what a rule flagged.

The threshold is chosen by 5-fold cross-validation on the tune rows, before any check row is seen: the lowest
score at which at most FA_TARGET of the out-of-fold look-alikes would be flagged. The score is a class-balanced
logistic output, not a probability: use it with the threshold.

Everything scoring needs is in one .npz beside this file (vocabulary, idf, weights, threshold, kinds): scoring is
numpy only, about 0.2 ms a message. Training needs scikit-learn (`pip install scikit-learn`); rebuild the
artefact after the words set or the rules change (the ordinary questions are those the rules let pass):

    python -m chat.urgent_reader [QUESTIONS]  # trains on the tune split (and the ordinary questions), writes
                                              # chat/urgent_reader.npz, prints the cross-validated figures
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

ARTEFACT = Path(__file__).with_name("urgent_reader.npz")
# Ordinary questions, as more that are not emergencies: the tuning half of the Toyhom sample (MIT,
# github.com/Toyhom/Chinese-medical-dialogue-data), read from the shared data folder beside the checkout when there.
ORDINARY = Path(__file__).resolve().parents[2] / "shared" / "data" / "toyhom-im-sample" / "内科5000-6000.csv"
MAX_CHARS = 256  # what a message is cut to
NGRAM_MAX = 3
FA_TARGET = 0.01  # out-of-fold look-alikes flagged at the threshold (cross-validated on the tune split)
FOLDS = 5
VERSION = 1
_SPACES = re.compile(r"\s\s+")


def ngrams(text: str) -> list[str]:
    """Character 1..NGRAM_MAX-grams of the lower-cased text, whitespace runs collapsed."""
    t = _SPACES.sub(" ", text.strip()[:MAX_CHARS].lower())
    return [t[i:i + n] for n in range(1, NGRAM_MAX + 1) for i in range(len(t) - n + 1)]


class _Tfidf:
    """Sublinear-tf TF-IDF over a fixed vocabulary, L2-normalised (what scikit-learn's TfidfVectorizer computes)."""

    def __init__(self, vocab: Sequence[str], idf: np.ndarray):
        self.index = {g: i for i, g in enumerate(vocab)}
        self.idf = np.asarray(idf, dtype=np.float64)

    def row(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        counts = Counter(self.index[g] for g in ngrams(text) if g in self.index)
        cols = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        weights = (1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts)))) * self.idf[cols]
        norm = math.sqrt(float(weights @ weights)) or 1.0
        return cols, weights / norm


class UrgentReader:
    """`score(text)` -> (score, kind of emergency); `urgent(text)` -> whether the score reaches the threshold."""

    def __init__(self, arrays: dict, meta: dict):
        self.meta = meta
        self.threshold = float(meta["threshold"])
        self.kinds = list(meta["kinds"])
        self.arrays = arrays
        self._urgent = _Tfidf(arrays["vocab"], arrays["idf"])
        self._kind = _Tfidf(arrays["kind_vocab"], arrays["kind_idf"])

    def score(self, text: str) -> tuple[float, str]:
        cols, weights = self._urgent.row(text)
        z = float(weights @ self.arrays["coef"][cols]) + float(self.arrays["intercept"])
        cols, weights = self._kind.row(text)
        logits = weights @ self.arrays["kind_coef"][:, cols].T + self.arrays["kind_intercept"]
        return 1.0 / (1.0 + math.exp(-z)), self.kinds[int(np.argmax(logits))]

    def urgent(self, text: str) -> str | None:
        """The kind of emergency when the message reads as one, else None."""
        score, kind = self.score(text)
        return kind if score >= self.threshold else None

    def save(self, path: Path = ARTEFACT) -> Path:
        np.savez_compressed(path, meta=np.array(json.dumps(self.meta, ensure_ascii=False)), **self.arrays)
        return path


@lru_cache(maxsize=1)
def load(path: Path = ARTEFACT) -> UrgentReader | None:
    """The shipped reader, or None when its file is missing (the rules then stand alone)."""
    if not Path(path).exists():
        return None
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files if k != "meta"}
        meta = json.loads(str(z["meta"]))
    if meta.get("version") != VERSION:
        raise ValueError(f"{path}: urgent reader version {meta.get('version')}, this code reads {VERSION}")
    return UrgentReader(arrays, meta)


# ------------------------------------------------------------------ training (scikit-learn)

def _fit(urgent: list[str], calm: list[str], ordinary: Sequence[str] = ()) -> dict:
    """The urgent-vs-not regression: urgent messages against their look-alikes and, when given, ordinary questions;
    each group carrying the same total weight."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    groups = [g for g in (urgent, calm, list(ordinary)) if g]
    texts = [t for g in groups for t in g]
    y = np.array([1] * len(urgent) + [0] * (len(texts) - len(urgent)))
    w = np.array([1.0 / len(g) for g in groups for _ in g])
    vectorizer = TfidfVectorizer(analyzer=ngrams, sublinear_tf=True, min_df=2, dtype=np.float64)
    model = LogisticRegression(C=4.0, max_iter=5000).fit(vectorizer.fit_transform(texts), y, sample_weight=w / w.mean())
    return {"vocab": np.array(vectorizer.get_feature_names_out(), dtype=str), "idf": vectorizer.idf_.astype(np.float32),
            "coef": model.coef_[0].astype(np.float32), "intercept": np.float32(model.intercept_[0])}


def _fit_kinds(texts: list[str], kinds: list[str]) -> tuple[dict, list[str]]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = TfidfVectorizer(analyzer=ngrams, sublinear_tf=True, min_df=2, dtype=np.float64)
    model = LogisticRegression(C=64.0, max_iter=5000).fit(vectorizer.fit_transform(texts), kinds)
    return ({"kind_vocab": np.array(vectorizer.get_feature_names_out(), dtype=str),
             "kind_idf": vectorizer.idf_.astype(np.float32), "kind_coef": model.coef_.astype(np.float32),
             "kind_intercept": model.intercept_.astype(np.float32)}, [str(k) for k in model.classes_])


def train(rows: Sequence[dict], fa_target: float = FA_TARGET, folds: int = FOLDS, seed: int = 0,
          ordinary: Sequence[str] = ()) -> UrgentReader:
    """A reader fitted on `rows` (the tune split: question, expect "urgent"|"none", category) and, when given,
    `ordinary` questions as more that are not emergencies; its threshold chosen by `folds`-fold cross-validation
    on `rows` (out-of-fold look-alikes flagged <= fa_target)."""
    from sklearn.model_selection import StratifiedKFold

    rows = list(rows)
    y = np.array([r["expect"] == "urgent" for r in rows], dtype=int)
    kind_arrays, kinds = _fit_kinds([r["question"] for r in rows if r["expect"] == "urgent"],
                                    [r["category"] for r in rows if r["expect"] == "urgent"])

    def reader(part: list[dict], threshold: float) -> UrgentReader:
        arrays = _fit([r["question"] for r in part if r["expect"] == "urgent"],
                      [r["question"] for r in part if r["expect"] != "urgent"], ordinary) | kind_arrays
        return UrgentReader(arrays, {"version": VERSION, "threshold": threshold, "kinds": kinds})

    out_of_fold = np.zeros(len(rows))
    for fit, held in StratifiedKFold(folds, shuffle=True, random_state=seed).split(np.zeros(len(y)), y):
        fold = reader([rows[i] for i in fit], math.inf)
        out_of_fold[held] = [fold.score(rows[i]["question"])[0] for i in held]
    calm = np.sort(out_of_fold[y == 0])[::-1]
    k = int(math.floor(fa_target * len(calm)))
    threshold = float(np.nextafter(calm[k], np.inf)) if k < len(calm) else float(calm[-1])
    final = reader(rows, threshold)
    final.meta.update(fa_target=fa_target, folds=folds, seed=seed, n_urgent=int(y.sum()),
                      n_lookalike=int(len(y) - y.sum()), n_ordinary=len(ordinary), cv_recall=float((out_of_fold[y == 1] >= threshold).mean()),
                      cv_false_alarms=float((out_of_fold[y == 0] >= threshold).mean()))
    return final


def ordinary_questions(path: Path = ORDINARY) -> list[str]:
    """The tuning half of the real questions at `path` (chat.real_questions; the check half is never read) less
    those the rules flag: ordinary questions, [] when the file is absent."""
    from chat import triage
    from chat.real_questions import half, read_questions

    if not Path(path).exists():
        return []
    return [q.question for q in half(read_questions(path), "tune", 0) if not triage.fired(q.question)]


def main(argv: Sequence[str] = ()) -> None:
    import sys

    from chat.evaluation import load_words_set

    argv = list(argv or sys.argv[1:])
    rows = [r for r in load_words_set() if r["split"] == "tune"]
    reader = train(rows, ordinary=ordinary_questions(Path(argv[0]) if argv else ORDINARY))
    path = reader.save()
    load.cache_clear()
    m = reader.meta
    print(f"{path}: {m['n_urgent']} urgent and {m['n_lookalike']} look-alike tune rows, {m['n_ordinary']} ordinary "
          f"questions; threshold {m['threshold']:.3f}; cross-validated recall {m['cv_recall']:.1%}, look-alikes "
          f"flagged {m['cv_false_alarms']:.1%}")


if __name__ == "__main__":
    main()
