"""Retrieval results as plain dicts, for --json output, answer logs and HTTP responses."""

from __future__ import annotations

from dataclasses import asdict

from retriever.hits import Passage, RetrievalResult


def passage_to_dict(p: Passage) -> dict:
    d = asdict(p)
    d["items"] = list(p.items)
    return d


def result_to_dict(result: RetrievalResult, k: int | None = None) -> dict:
    hits = result.hits if k is None else result.hits[:k]
    return {
        "question": result.question,
        "kb_revision": result.kb_revision,
        "entities": [asdict(m) for m in result.entities],
        "intents": result.intents,
        "hits": [
            {"rank": h.rank, "score": round(h.score, 6), "channel_ranks": h.channel_ranks,
             "channel_scores": {c: round(s, 6) for c, s in h.channel_scores.items()},
             "boosts": h.boosts, "passage": passage_to_dict(h.passage)}
            for h in hits
        ],
        "timings_ms": result.timings_ms,
        "warnings": result.warnings,
    }
