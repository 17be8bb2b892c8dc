"""Templated questions with known answers, and Recall@k / MRR@10 for every channel in one run.

A question is made from an entity and a section the KB has for it ("{药品}有哪些不良反应？" for a drug
with a 不良反应 section); its gold passages are that entity's passages of that section (any origin,
any chunk). The templates are `retriever.questions.TEMPLATES`, which `finetune` builds its training
questions from too.
"""

from __future__ import annotations

import json
import random
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from retriever.hits import Passage
from retriever.questions import TEMPLATES

ALIAS_SHARE = 0.2  # questions that name the entity by an alias (brand, English or other name)
BARE_SHARE = 0.15  # drug questions that drop the dosage form ("布洛芬" for "布洛芬缓释胶囊")


@dataclass(frozen=True)
class EvalQuestion:
    question: str
    intent: str  # the section kind asked for (the gold sections' main kind)
    entity_id: int
    entity_name: str
    entity_type: str
    gold_passage_ids: tuple[str, ...]
    template: str
    surface: str = ""  # how the question names the entity (the name, an alias or the bare drug name)
    name_form: str = "name"  # name | alias | bare


def _passage_index(source) -> dict[tuple[int, str], list[tuple[str, str, str]]]:
    """(entity id, section) -> [(passage id, entity type, entity name)] from a Session, a Retriever or Passages."""
    index: dict[tuple[int, str], list[tuple[str, str, str]]] = defaultdict(list)
    store = getattr(source, "store", None)
    if store is not None:  # a Retriever: read the four columns needed, not 300k Passage objects
        rows = store.iter_rows("id, entity_id, entity_type, entity_name, section")
    else:
        if isinstance(source, Session):
            from retriever.passages import kb_passages

            source = kb_passages(source)
        rows = ((p.id, p.entity_id, p.entity_type, p.entity_name, p.section) for p in source)
    for pid, eid, etype, name, section in rows:
        index[(eid, section)].append((pid, etype, name))
    return index


def _other_names(source) -> dict[int, list[tuple[str, str]]]:
    """entity id -> [(surface, "alias" | "bare")] that name that entity and no other one, so a
    question using them still has exactly one right answer. Empty for a plain iterable of Passages."""
    from kb.names import normalize_name
    from retriever.linking import bare_drug_name

    store = getattr(source, "store", None)
    if store is not None:
        names = store.entity_names()
    elif isinstance(source, Session):
        from retriever.passages import kb_entity_names

        names = kb_entity_names(source)
    else:
        return {}
    owners: dict[str, set[int]] = defaultdict(set)
    forms: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for e in names:
        owners[normalize_name(e.name)].add(e.entity_id)
        for alias in e.aliases:
            owners[normalize_name(alias)].add(e.entity_id)
            forms[e.entity_id].append((alias, "alias"))
        bare = bare_drug_name(e.name) if e.entity_type == "drug" else None
        if bare:
            owners[bare].add(e.entity_id)
            forms[e.entity_id].append((bare, "bare"))
    return {eid: [(s, f) for s, f in found if owners[normalize_name(s)] == {eid} and _askable(s)]
            for eid, found in forms.items()}


def templated_questions(source: "Session | Iterable[Passage] | object", n: int = 2000, seed: int = 0,
                        intents: Iterable[str] | None = None, variants: bool = True) -> list[EvalQuestion]:
    """`n` questions spread evenly over the (type, intent) templates the KB can answer, each about a
    different entity where possible; deterministic for a given KB and seed.

    source: a SQLAlchemy Session on the KB, a loaded `Retriever`, or an iterable of Passages.
    intents: restrict to these intents (default: all in TEMPLATES).
    variants: name some entities the way people do: by an alias (brand or English name, about
        ALIAS_SHARE of questions) or, for drugs, without the dosage form (BARE_SHARE); only names
        that belong to that one entity are used.
    """
    rng = random.Random(seed)
    index = _passage_index(source)
    other_names = _other_names(source) if variants else {}
    wanted = set(intents) if intents is not None else None
    pools: list[tuple[tuple[str, str], list[tuple[int, str, tuple[str, ...]]]]] = []
    for (etype, intent), (sections, templates) in TEMPLATES.items():
        if wanted is not None and intent not in wanted:
            continue
        by_entity: dict[int, tuple[str, list[str]]] = {}
        for (eid, section), found in index.items():
            if section in sections and found[0][1] == etype:
                name, ids = by_entity.setdefault(eid, (found[0][2], []))
                ids.extend(pid for pid, _, _ in found)
        pool = [(eid, name, tuple(sorted(ids))) for eid, (name, ids) in sorted(by_entity.items())
                if _askable(name)]
        if pool:
            rng.shuffle(pool)
            pools.append(((etype, intent), pool))
    questions: list[EvalQuestion] = []
    cursor = [0] * len(pools)
    while len(questions) < n and pools:
        progressed = False
        for i, ((etype, intent), pool) in enumerate(pools):
            if len(questions) >= n:
                break
            if cursor[i] >= len(pool):
                continue
            eid, name, gold = pool[cursor[i]]
            cursor[i] += 1
            progressed = True
            template = rng.choice(TEMPLATES[(etype, intent)][1])
            surface, form = name, "name"
            roll = rng.random()
            aliases = [s for s, f in other_names.get(eid, ()) if f == "alias"]
            bare = [s for s, f in other_names.get(eid, ()) if f == "bare"]
            if roll < ALIAS_SHARE and aliases:
                surface, form = rng.choice(aliases), "alias"
            elif roll < ALIAS_SHARE + BARE_SHARE and bare:
                surface, form = bare[0], "bare"
            questions.append(EvalQuestion(template.format(name=surface), intent, eid, name, etype, gold, template,
                                          surface, form))
        if not progressed:
            break
    return questions


SYMPTOM_TEMPLATES = ("{a}、{b}、{c}是什么病？", "出现{a}、{b}和{c}可能是什么病", "我{a}，还{b}、{c}，是得了什么病")


def symptom_questions(source, n: int = 300, seed: int = 0) -> list[EvalQuestion]:
    """Questions that describe a disease by three of its listed symptoms and name no entity
    ("咳嗽、发热、气促是什么病？"); gold: that disease's 症状 passages.

    Here entity linking has nothing to go on, so these measure BM25 and dense retrieval and what
    fusion makes of them. Several diseases can share three symptoms, so perfect scores are not
    expected. source: a Retriever, a Session or Passages, as for `templated_questions`.
    """
    rng = random.Random(seed)
    store = getattr(source, "store", None)
    if store is not None:
        rows = ((pid, eid, etype, name, section, tuple(json.loads(items))) for pid, eid, etype, name, section, items
                in store.iter_rows("id, entity_id, entity_type, entity_name, section, items", "WHERE section='症状'"))
    else:
        if isinstance(source, Session):
            from retriever.passages import kb_passages

            source = kb_passages(source)
        rows = ((p.id, p.entity_id, p.entity_type, p.entity_name, p.section, p.items) for p in source)
    gold: dict[int, list[str]] = defaultdict(list)
    candidates: dict[int, tuple[str, tuple[str, ...]]] = {}
    for pid, eid, etype, name, section, items in rows:
        if section != "症状" or etype != "disease":
            continue
        gold[eid].append(pid)
        usable = tuple(i for i in items[:8] if 2 <= len(i) <= 12 and name not in i)
        if len(usable) >= 4 and eid not in candidates:
            candidates[eid] = (name, usable)
    pool = sorted(candidates.items())
    rng.shuffle(pool)
    out = []
    for eid, (name, items) in pool[:n]:
        a, b, c = rng.sample(items, 3)
        template = rng.choice(SYMPTOM_TEMPLATES)
        out.append(EvalQuestion(template.format(a=a, b=b, c=c), "症状→疾病", eid, name, "disease",
                                tuple(sorted(gold[eid])), template, "", "none"))
    return out


def _askable(name: str) -> bool:
    """Names nobody would type into a question (very long, or mostly punctuation) make no test."""
    return 2 <= len(name) <= 30


def _first_gold_rank(ranked: list, gold: set) -> int | None:
    for rank, x in enumerate(ranked, start=1):
        if x in gold:
            return rank
    return None


def evaluate(retriever, questions: list[EvalQuestion], channels: tuple[str, ...] = ("entity", "bm25", "dense"),
             progress: Callable[[int], None] | None = None) -> dict:
    """Recall@1/5/10 and MRR@10, overall and per intent, for each channel alone and for the fusion of
    all of them (plus the reranker when the retriever has one), all from one ranking per question."""
    names = list(channels) + ["fused"]
    ranks: dict[str, list[int | None]] = {c: [] for c in names}
    latency: list[float] = []
    for q in questions:
        gold = set(q.gold_passage_ids)
        t = time.perf_counter()
        result = retriever.rank(q.question, channels, keep_rankings=True)
        latency.append((time.perf_counter() - t) * 1000)
        gold_rows = set(retriever.store.rows_of_ids(list(gold)).values())
        for c in channels:
            ranks[c].append(_first_gold_rank([row for row, _ in result.rankings.get(c, [])[:10]], gold_rows))
        ranks["fused"].append(_first_gold_rank([h.passage.id for h in result.hits[:10]], gold))
        if progress:
            progress(1)
    report = {"questions": len(questions), "channels": {}}
    intents = list(dict.fromkeys(q.intent for q in questions))
    order = [k[1] for k in TEMPLATES]
    intents.sort(key=lambda i: order.index(i) if i in order else len(order))
    for c in names:
        report["channels"][c] = {
            "overall": _metrics(ranks[c]),
            "by_intent": {i: _metrics([r for r, q in zip(ranks[c], questions) if q.intent == i]) for i in intents},
        }
    forms = [f for f in ("name", "alias", "bare", "none") if any(q.name_form == f for q in questions)]
    for c in names:
        report["channels"][c]["by_name_form"] = {
            f: _metrics([r for r, q in zip(ranks[c], questions) if q.name_form == f]) for f in forms}
    report["by_intent_count"] = {i: sum(q.intent == i for q in questions) for i in intents}
    report["by_name_form_count"] = {f: sum(q.name_form == f for q in questions) for f in forms}
    latency.sort()
    if latency:
        report["latency_ms"] = {"p50": round(latency[len(latency) // 2], 2),
                                "p95": round(latency[min(len(latency) - 1, int(len(latency) * 0.95))], 2)}
    return report


def _metrics(ranks: list[int | None]) -> dict[str, float]:
    n = len(ranks) or 1
    return {
        "recall@1": round(sum(r is not None and r <= 1 for r in ranks) / n, 4),
        "recall@5": round(sum(r is not None and r <= 5 for r in ranks) / n, 4),
        "recall@10": round(sum(r is not None and r <= 10 for r in ranks) / n, 4),
        "mrr@10": round(sum(1 / r for r in ranks if r is not None and r <= 10) / n, 4),
    }
