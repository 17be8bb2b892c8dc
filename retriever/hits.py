"""What a search returns. These types are the contract `chat` and `finetune` rely on."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Passage:
    """One self-contained piece of the KB: one section of one entity from one origin (chunked if long).

    `id` is stable across rebuilds ("e{entity_id}:{section}:{origin}:{chunk}"), so citations in old
    answer logs still resolve. `text` starts with the entity and section ("阿莫西林胶囊 · 适应症：…")
    so the passage reads correctly on its own in a prompt or a sources panel.
    """

    id: str
    entity_id: int
    entity_type: str  # drug | disease | exam
    entity_name: str
    section: str  # canonical section kind, e.g. "适应症", "症状"
    text: str
    source: str  # human-readable provenance: origin and file/package
    kb_revision: int  # KB revision this passage's content was last changed in
    content_hash: str
    chunk: int = 0
    items: tuple[str, ...] = ()  # extracted items of the section (symptoms, drug names, ...)
    # the source's rank (kb.authority: label 40 > curated 30 > graph 20 > crawl 10; 0 from an index built before
    # ranks). Where sources hold one section, a lower one's passage holds only what the higher ones lack.
    authority: int = 0
    # lower-ranked sources (their origins) whose text of this section says what this one does not: the answer,
    # quoting this one, says a lower source differs (kb.authority `Held.differs`)
    differs: tuple[str, ...] = ()

    @property
    def body(self) -> str:
        """The text without the "entity · section：" heading."""
        head, sep, rest = self.text.partition("：")
        return rest if sep and " · " in head else self.text


@dataclass(frozen=True)
class EntityMention:
    """A KB name or alias found in the question."""

    surface: str  # as written in the question
    start: int
    end: int
    entity_id: int
    entity_type: str
    entity_name: str  # the canonical KB name


@dataclass
class RetrievalHit:
    passage: Passage
    score: float  # fused score (or the channel's own score when one channel is used alone)
    rank: int  # 1-based
    channel_ranks: dict[str, int] = field(default_factory=dict)  # {"bm25": 3, "dense": 1, "entity": 1}
    channel_scores: dict[str, float] = field(default_factory=dict)
    boosts: dict[str, float] = field(default_factory=dict)  # why it moved: {"entity": .., "section": ..}


@dataclass
class RetrievalResult:
    question: str
    hits: list[RetrievalHit]
    entities: list[EntityMention]
    intents: list[str]  # section kinds the question asks about, most likely first
    timings_ms: dict[str, float] = field(default_factory=dict)
    kb_revision: int = 0
    warnings: list[str] = field(default_factory=list)  # e.g. stale index
    analysis: object = None  # the retriever.analysis.QueryAnalysis the search read (read-only)
    stale: str | None = None  # why the index may not reflect the KB (None when it is current)
