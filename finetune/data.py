"""Instruction data from the KB: templated questions, closed-book and retrieval-augmented, split by entity.

    facts(session)            -> {(entity, section kind): Fact}   what the KB says, items merged over origins
    split_of(type, name)      -> "train" | "dev" | "test"         stable: a hash of the entity's name
    make_examples(facts, passages=...) -> Iterator[dict]          chat-messages examples with metadata
    eval_questions(facts)     -> list[Question]                   held-out questions for `finetune eval`
    write_splits(examples, out_dir) -> stats

Questions are `retriever.questions.TEMPLATES` (QiZhenGPT's "{药品}的适应病症是什么？" ..., each with the ways
people ask), the same table the retriever and chat evaluations ask; the first template of each section is
the canonical one that evaluation asks. Retrieval-augmented
examples put the retriever's top passages for the question in the prompt — the gold passage plus
distractors, shuffled and numbered — and the answer lists the gold items that the passage shows and
cites it; refusal examples leave every passage of the asked entity and section out, and the target
declines. A split is decided by the asked entity, and distractor passages come only from entities of
the same split, so no entity is seen in two splits.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from finetune.prompts import PASSAGE_CHARS, REFUSAL, clip, closed_book_messages, rag_messages
from kb.models import Entity, Section
from kb.names import normalize_name
from retriever.questions import templates_for

SPLITS = ("train", "dev", "test")

# The sections training asks about (the questions are `retriever.questions.TEMPLATES`, one table for
# evaluation and training), and how an answer names each: "{name}的{label}包括：…".
LABELS = {
    "适应症": "适应病症", "不良反应": "不良反应", "禁忌": "禁忌", "用法用量": "用法用量",
    "症状": "典型症状", "常用药物": "常用药物", "检查": "检查项目", "就诊科室": "就诊科室",
    "相关疾病": "相关疾病", "临床意义": "临床意义",
}
MAX_ANSWER_ITEMS = 8
MAX_TEXT_ANSWER = 90  # characters of a text section quoted as the answer


@dataclass
class Fact:
    """What the KB says about one section of one entity, merged over origins."""

    entity_id: int
    entity_type: str
    name: str
    section: str
    items: list[str] = field(default_factory=list)
    text: str = ""

    @property
    def split(self) -> str:
        return split_of(self.entity_type, self.name)


@dataclass
class Question:
    """A templated question with what a correct answer must contain (gold items of the KB)."""

    question: str
    entity_id: int
    entity_type: str
    entity_name: str
    section: str
    gold_items: list[str]
    gold_text: str = ""


class PassageSource(Protocol):
    """What data generation needs from the retriever (`retriever.Retriever` satisfies it)."""

    def search(self, question: str, k: int): ...  # -> RetrievalResult with .hits[].passage

    def passages_of(self, entity_id: int, section: str | None = None): ...  # -> list[Passage]


def split_of(entity_type: str, name: str, dev: float = 0.05, test: float = 0.05) -> str:
    """The split of an entity, from a hash of its normalised name: stable across KB rebuilds."""
    h = int(hashlib.sha1(f"{entity_type}:{normalize_name(name)}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "test" if h < test else "dev" if h < test + dev else "train"


def facts(session: Session, types: Sequence[str] = ("drug", "disease", "exam"),
          limit_entities: int | None = None) -> list[Fact]:
    """Every (entity, asked section) the KB can answer, items merged over origins in first-seen order."""
    kinds = {kind for kind in LABELS if any(templates_for(t, kind) for t in types)}
    stmt = (
        select(Entity.id, Entity.type, Entity.name, Section.kind, Section.text, Section.items)
        .join(Section, Section.entity_id == Entity.id)
        .where(Entity.type.in_(list(types)), Section.kind.in_(sorted(kinds)))
        .order_by(Entity.id, Section.contribution_id, Section.position)
    )
    merged: dict[tuple[int, str], Fact] = {}
    entities: set[int] = set()
    for eid, etype, name, kind, text, items in session.execute(stmt):
        if templates_for(etype, kind) is None:
            continue
        if limit_entities and eid not in entities and len(entities) >= limit_entities:
            continue
        entities.add(eid)
        fact = merged.setdefault((eid, kind), Fact(eid, etype, name, kind))
        for item in items or []:
            if item and item not in fact.items:
                fact.items.append(item)
        if text and not fact.text:
            fact.text = text
    # "{检查}用于检查什么？" is asked once per exam: from its related diseases when known, else its meaning.
    out = [f for f in merged.values()
           if not (f.section == "临床意义" and (f.entity_id, "相关疾病") in merged)]
    return [f for f in out if f.items or f.text.strip()]


def answer_text(fact: Fact, items: Sequence[str] | None = None, text: str | None = None, cite: str = "") -> str:
    """The target answer: the items (or a quoted text), then the citation ("……。[1]", as chat's prompt asks)."""
    label = LABELS.get(fact.section, fact.section)
    items = list(items if items is not None else fact.items)[:MAX_ANSWER_ITEMS]
    if items:
        return f"{fact.name}的{label}包括：{'、'.join(items)}。{cite}"
    body = _clip(text if text is not None else fact.text, MAX_TEXT_ANSWER)
    return f"{fact.name}的{label}：{body}。{cite}"


def _clip(text: str, n: int) -> str:
    text = " ".join(text.split()).rstrip("。；;，,")
    if len(text) <= n:
        return text
    cut = max(text.rfind(p, 0, n) for p in "。；;，,")
    return text[: cut if cut > n // 2 else n].rstrip("。；;，,")


def question_for(fact: Fact, variant: int) -> str:
    templates = templates_for(fact.entity_type, fact.section)
    return templates[variant % len(templates)].format(name=fact.name)


def visible_items(items: Sequence[str], passage, max_chars: int = PASSAGE_CHARS) -> list[str]:
    """The gold items a reader of the (clipped) passage can actually see."""
    seen = normalize_name(clip(passage, max_chars).text)
    return [i for i in items if normalize_name(i) and normalize_name(i) in seen]


def make_examples(facts_: Iterable[Fact], passages: PassageSource | None = None, *, closed_book: int = 1,
                  rag: int = 1, refusal_rate: float = 0.15, k: int = 3, max_chars: int = PASSAGE_CHARS,
                  seed: int = 0, counters: Counter | None = None) -> Iterator[dict]:
    """Examples for each fact: `closed_book` closed-book and `rag` retrieval-augmented ones, with paraphrases.

    A fraction `refusal_rate` of the retrieval-augmented examples become refusals: the passages
    shown are the top hits that are *not* the asked entity's asked section, and the answer declines.
    """
    rng = random.Random(seed)
    counters = counters if counters is not None else Counter()
    for fact in facts_:
        split = fact.split
        base = {"split": split, "entity_id": fact.entity_id, "entity": fact.name,
                "entity_type": fact.entity_type, "section": fact.section}
        variant = rng.randrange(1000)
        for _ in range(closed_book):
            q = question_for(fact, variant)
            variant += 1
            counters["closed_book"] += 1
            yield {**base, "kind": "closed_book", "question": q, "gold_items": fact.items,
                   "messages": closed_book_messages(q, answer_text(fact))}
        if passages is None:
            continue
        for _ in range(rag):
            q = question_for(fact, variant)
            variant += 1
            ex = _rag_example(fact, q, passages, split, refuse=rng.random() < refusal_rate, k=k,
                              max_chars=max_chars, rng=rng, counters=counters)
            if ex is not None:
                yield {**base, **ex}


def _rag_example(fact: Fact, question: str, passages: PassageSource, split: str, *, refuse: bool, k: int,
                 max_chars: int, rng: random.Random, counters: Counter) -> dict | None:
    gold = list(passages.passages_of(fact.entity_id, fact.section))
    if not gold:
        counters["rag_skipped_no_gold_passage"] += 1
        return None
    hits = [h.passage for h in passages.search(question, k + 4).hits]
    is_gold = lambda p: p.entity_id == fact.entity_id and p.section == fact.section
    # Distractors from the same split only, so a held-out entity never appears in a training prompt.
    distractors = [p for p in hits if not is_gold(p)
                   and (p.entity_id == fact.entity_id or split_of(p.entity_type, p.entity_name) == split)]
    if refuse:
        shown = distractors[:k]
        if not shown:
            counters["rag_skipped_no_distractors"] += 1
            return None
        answer, kind, gold_ids = REFUSAL, "refusal", []
    else:
        # The gold chunk that shows most of the items (or the first), plus the top distractors.
        best = max(gold, key=lambda p: len(visible_items(fact.items, p, max_chars)))
        shown = [best] + distractors[: k - 1]
        kind, gold_ids = "rag", [best.id]
    rng.shuffle(shown)
    if not refuse:
        n = shown.index(best) + 1
        items = visible_items(fact.items, best, max_chars)
        answer = answer_text(fact, items or None, text=clip(best, max_chars).body if not items else None, cite=f"[{n}]")
    counters[kind] += 1
    return {"kind": kind, "question": question, "gold_items": fact.items,
            "passage_ids": [p.id for p in shown], "gold_passage_ids": gold_ids,
            "messages": rag_messages(question, shown, answer, max_chars)}


def eval_questions(facts_: Iterable[Fact], split: str = "test", n: int = 120, seed: int = 0,
                   types: Sequence[str] = ("drug", "disease", "exam")) -> list[Question]:
    """Canonical questions over `split` entities whose gold section has items, balanced over sections."""
    by_section: dict[tuple[str, str], list[Fact]] = defaultdict(list)
    for f in facts_:
        if f.split == split and f.items and f.entity_type in types:
            by_section[(f.entity_type, f.section)].append(f)
    rng = random.Random(seed)
    for group in by_section.values():
        rng.shuffle(group)
    picked: list[Fact] = []
    while len(picked) < n and any(by_section.values()):
        for key in sorted(by_section):
            if by_section[key] and len(picked) < n:
                picked.append(by_section[key].pop())
    return [Question(question_for(f, 0), f.entity_id, f.entity_type, f.name, f.section, f.items, f.text)
            for f in picked]


def write_splits(examples: Iterable[dict], out_dir: Path, seed: int = 0) -> dict:
    """Write train/dev/test JSONL (each shuffled) and stats.json; return the stats."""
    out_dir.mkdir(parents=True, exist_ok=True)
    by_split: dict[str, list[dict]] = {s: [] for s in SPLITS}
    for ex in examples:
        by_split[ex["split"]].append(ex)
    rng = random.Random(seed)
    stats: dict = {"examples": 0, "splits": {}}
    entities_of = {}
    for split, rows in by_split.items():
        rng.shuffle(rows)
        with open(out_dir / f"{split}.jsonl", "w", encoding="utf-8") as f:
            for i, row in enumerate(rows):
                row = {"id": f"{split}-{i:06d}", **row}
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        entities_of[split] = {(r["entity_type"], r["entity"]) for r in rows}
        chars = [sum(len(m["content"]) for m in r["messages"]) for r in rows]
        stats["splits"][split] = {
            "examples": len(rows), "entities": len(entities_of[split]),
            "by_kind": dict(Counter(r["kind"] for r in rows)),
            "by_section": dict(Counter(f"{r['entity_type']}:{r['section']}" for r in rows)),
            "mean_chars": round(sum(chars) / len(chars), 1) if chars else 0,
        }
        stats["examples"] += len(rows)
    shared = set()
    for a in SPLITS:
        for b in SPLITS:
            if a < b:
                shared |= entities_of[a] & entities_of[b]
    stats["entities_shared_across_splits"] = len(shared)
    (out_dir / "stats.json").write_text(json.dumps(stats, ensure_ascii=False, indent=2), encoding="utf-8")
    return stats


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]

