"""Reciprocal-rank fusion of the channels, plus boosts for what the question itself says.

RRF adds w / (RRF_K + rank) over the channels that ranked a passage, so a passage that two channels
agree on beats one that a single channel loves, and raw scores (BM25 units, cosines) never have to
be calibrated against each other. On top of that, a passage of an entity named in the question and a
passage of the section it asks for get fixed boosts; `RetrievalHit.boosts` shows them so `retriever
debug` can say why a passage moved.
"""

from __future__ import annotations

from dataclasses import dataclass, field

RRF_K = 60
CHANNEL_WEIGHTS = {"entity": 1.0, "bm25": 1.0, "dense": 1.0}
BOOST_ENTITY = 0.01  # about the gap between ranks 1 and 9 of one channel
BOOST_SECTION = 0.015  # for the first intent; the n-th intent gets BOOST_SECTION / n
# The asked section *of a named entity* is the answer the question spells out: it must beat a
# passage of the same entity that BM25 and dense happen to agree on (they rarely see the section).
BOOST_SECTION_OF_ENTITY = 0.04


@dataclass
class Fused:
    row: int
    score: float
    channel_ranks: dict[str, int] = field(default_factory=dict)
    channel_scores: dict[str, float] = field(default_factory=dict)
    boosts: dict[str, float] = field(default_factory=dict)


def fuse(rankings: dict[str, list[tuple[int, float]]], row_meta: dict[int, tuple[int, str]],
         linked: set[int], intents: list[str], weights: dict[str, float] | None = None) -> list[Fused]:
    """Fused ranking of every passage any channel returned, best first.

    `rankings` maps channel -> [(row, raw score)] best first; `row_meta` maps row -> (entity id,
    section) for the boosts.
    """
    weights = weights or CHANNEL_WEIGHTS
    fused: dict[int, Fused] = {}
    for channel, ranking in rankings.items():
        w = weights.get(channel, 1.0)
        for rank, (row, score) in enumerate(ranking, start=1):
            f = fused.setdefault(row, Fused(row, 0.0))
            f.score += w / (RRF_K + rank)
            f.channel_ranks[channel] = rank
            f.channel_scores[channel] = score
    for f in fused.values():
        entity_id, section = row_meta.get(f.row, (None, None))
        if entity_id in linked:
            f.boosts["entity"] = BOOST_ENTITY
        if section in intents:
            boost = BOOST_SECTION_OF_ENTITY if entity_id in linked else BOOST_SECTION
            f.boosts["section"] = boost / (intents.index(section) + 1)
        f.score += sum(f.boosts.values())
    return sorted(fused.values(), key=lambda f: (-f.score, f.row))
