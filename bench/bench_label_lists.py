"""Label lists answered whole (issue 20): every drug whose list section a label or curated source and CMeKG both hold.

    python bench/bench_label_lists.py                       # the full KB of `make full-kb`: var/full.sqlite + var/full-index
    python bench/bench_label_lists.py --db sqlite:///var/kb.sqlite --index var/index --templates all
    python bench/bench_label_lists.py --json > label-lists.json

For each (drug, section) of `LIST_SECTIONS` (适应症, 禁忌, 不良反应, 药物相互作用) that a source ranked curated or above
(kb.authority: a label, the demo's curated labels) holds beside a CMeKG-ranked one (graph), the pipeline (extractive
generator) is asked the templated question (retriever/questions.py; by default the first template that names the
section, "X的适应症是什么？"; --templates all asks every one). Measured, per question:

- whole: every item of the higher source's list is in the answer. Items are the section's items as the KB holds them
  (its text's sentences when it has none), split at list separators (、，；：, brackets) into pieces of two
  characters or more, and looked up in the answer with its [n] markers taken out;
- CMeKG first: a CMeKG-only item (one the higher source does not say, kb.authority.covered, and that is no debris)
  appears before the end of the higher source's list in the answer, i.e. a lower source speaks before the label has
  said all it says;
- debris: an item of the CMeKG section that kb.debris calls debris (and that the higher source's text does not
  contain) appears in a sentence of the answer that does not cite the higher source, or a sentence the answer
  cites to CMeKG holds a piece (a "、" list item, else the sentence) that kb.debris calls debris;
- latency: wall time of `Pipeline.answer`, after a warm-up.

The failing questions (first --show) are printed with the items that were missing and the answer's first lines.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FULL_DB = f"sqlite:///{ROOT / 'var' / 'full.sqlite'}"
FULL_INDEX = str(ROOT / "var" / "full-index")
HIGHER = 30  # kb.authority: curated (30) and label (40) answer; graph (20) is CMeKG's rank
GRAPH = 20

_ITEM_SPLIT = re.compile(r"[、，,；;：:（）()\[\]【】。\n]+")
_NUMBERING = re.compile(r"^\s*(?:\d{1,2}|[一二三四五六七八九十]{1,2}|[①-⑳])[.．、)）]\s*")
_MARKER = re.compile(r"\[\d+(?:[,，]\s*\d+)*\]")
_CLAIM = re.compile(r"(.*?)((?:\[\d+(?:[,，]\s*\d+)*\])+)", re.S)


@dataclass
class Pair:
    """One (drug, section) held by a higher source and by CMeKG."""

    drug: str
    section: str
    higher_origin: str
    label_items: list[str]  # what the answer must say, all of it
    label_text: str  # the higher source's text and items, for telling its words from CMeKG's
    cmekg_only: list[str]  # CMeKG items the higher source does not say (and that are statements)
    cmekg_debris: list[str]  # CMeKG items kb.debris calls debris, that the higher source's text lacks
    graph_origins: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    pair: Pair
    question: str
    answer: str
    missing: list[str]
    cmekg_first: list[str]
    debris_shown: list[str]
    refused: bool
    latency_ms: float
    cited_origins: list[str] = field(default_factory=list)

    @property
    def whole(self) -> bool:
        return not self.missing and not self.refused


def list_items(texts: list[str], items: list[str]) -> list[str]:
    """A section's list members: its items (its texts' sentences when it has none), split at list separators."""
    out = []
    for piece in items or texts:
        piece = _NUMBERING.sub("", piece.strip())
        for part in _ITEM_SPLIT.split(piece):
            part = _NUMBERING.sub("", part).strip(" 。；;，,、.")
            if len(part) >= 2:
                out.append(part)
    return list(dict.fromkeys(out))


def find_pairs(db: str, sections: tuple[str, ...]) -> list[Pair]:
    """Every drug section that a source ranked curated or above and a graph-ranked source (CMeKG) both hold."""
    from sqlalchemy import select

    from kb.authority import _NOT_CONTENT, _bigrams, authority_column, covered
    from kb.db import session_scope
    from kb.debris import keep_items
    from kb.models import Contribution, Entity, Section, Source
    from kb.names import fold

    held: dict[tuple[int, str], dict] = {}
    with session_scope(db) as session:
        rank = authority_column(session)
        rows = session.execute(
            select(Entity.id, Entity.name, Section.kind, Section.text, Section.items, Contribution.origin, rank)
            .join(Section, Section.entity_id == Entity.id)
            .join(Contribution, Contribution.id == Section.contribution_id)
            .join(Source, Source.id == Contribution.source_id)
            .where(Entity.type == "drug", Section.kind.in_(sections))
            .order_by(Entity.name, Section.kind, Section.position))
        for eid, name, kind, text, items, origin, authority in rows:
            slot = held.setdefault((eid, kind), {"name": name, "higher": {}, "graph": {}})
            side = "higher" if authority >= HIGHER else "graph" if GRAPH <= authority < HIGHER else None
            if side is None:
                continue
            got = slot[side].setdefault(origin, {"authority": authority, "texts": [], "items": []})
            if text and text.strip():
                got["texts"].append(text.strip())
            got["items"] += [i for i in (items or []) if isinstance(i, str) and i.strip()]
    pairs = []
    for (eid, kind), slot in held.items():
        if not slot["higher"] or not slot["graph"]:
            continue
        origin, top = max(slot["higher"].items(), key=lambda kv: kv[1]["authority"])
        label_text = "\n".join(top["texts"] + top["items"])
        seen = "\n" + _NOT_CONTENT.sub("", fold(label_text))
        grams = _bigrams(label_text)
        graph_items = list(dict.fromkeys(i for g in slot["graph"].values() for i in g["items"]))
        kept, dropped = keep_items(graph_items, kind, strict=True)
        pairs.append(Pair(
            drug=slot["name"], section=kind, higher_origin=origin,
            label_items=list_items(top["texts"], top["items"]), label_text=label_text,
            cmekg_only=[i for i in kept if not covered(i, seen, grams)],
            cmekg_debris=[i for _, i in dropped if i.strip() and i.strip() not in label_text],
            graph_origins=sorted(slot["graph"])))
    return sorted(pairs, key=lambda p: (p.drug, sections.index(p.section)))


def questions_for(section: str, which: str) -> list[str]:
    """The templates asked: the first that names the section (or the first), or every one."""
    from retriever.questions import templates_for

    templates = list(templates_for("drug", section) or ())
    if which == "all":
        return templates
    return [next((t for t in templates if section in t), templates[0])]


def claims(text: str) -> list[tuple[str, list[int]]]:
    """The answer's cited sentences: (sentence, [citation numbers])."""
    out = []
    for m in _CLAIM.finditer(text):
        numbers = [int(n) for n in re.findall(r"\d+", m.group(2))]
        out.append((m.group(1).strip("。；; \n"), numbers))
    return out


def shown_debris(sentence: str, section: str) -> list[str]:
    """The pieces of a quoted sentence that kb.debris calls debris: the items of a "、" list, else the sentence."""
    from kb.debris import debris

    sentence = _NUMBERING.sub("", sentence).strip()
    listed = "、" in sentence and "，" not in sentence
    pieces = sentence.split("、") if listed else [sentence]
    return [p for p in pieces if debris(p, sentence=not listed or len(p) > 20, section=section, strict=True)]


def measure(pipeline, pair: Pair, question: str) -> Outcome:
    t = time.perf_counter()
    answer = pipeline.answer(question)
    latency = (time.perf_counter() - t) * 1000
    text = _MARKER.sub("", answer.text)
    missing = [i for i in pair.label_items if i not in text]
    origin_of = {c.n: c.passage_id.rsplit(":", 2)[-2] for c in answer.citations}
    # the end of the label's list in the answer: the last label item found
    ends = [text.find(i) + len(i) for i in pair.label_items if i in text]
    label_end = max(ends, default=0)
    first = [i for i in pair.cmekg_only if 0 <= text.find(i) < label_end]
    said = claims(answer.text)
    not_label = "\n".join(s for s, ns in said if not any(origin_of.get(n) == pair.higher_origin for n in ns))
    # (as whole items: a debris item "不适" is not shown by "胃部不适")
    shown = {piece.strip() for piece in re.split(r"[、，,。；;：:\n]", _MARKER.sub("", not_label))}
    debris = [i for i in pair.cmekg_debris if i in shown]
    # and what the answer quotes from CMeKG, piece by piece, as kb.debris judges it (the KB's items may be clean
    # while a sentence of its text is not)
    for sentence, ns in said:
        if any(origin_of.get(n) in pair.graph_origins for n in ns):
            debris += [piece for piece in shown_debris(sentence, pair.section) if piece not in debris]
    return Outcome(pair, question, answer.text, missing, first, debris, answer.refused, latency,
                   list(dict.fromkeys(origin_of.values())))


def main() -> None:
    from chat.selection import LIST_SECTIONS

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default=FULL_DB, help=f"KB URL (default {FULL_DB})")
    ap.add_argument("--index", default=FULL_INDEX, help=f"index folder (default {FULL_INDEX})")
    ap.add_argument("--templates", choices=("first", "all"), default="first",
                    help="ask the first template that names the section, or every template of the intent")
    ap.add_argument("--sections", default=",".join(LIST_SECTIONS), help="list sections to check, comma-separated")
    ap.add_argument("--show", type=int, default=20, help="failing questions to print")
    ap.add_argument("--json", action="store_true", help="print one JSON document")
    args = ap.parse_args()

    sections = tuple(s.strip() for s in args.sections.split(",") if s.strip())
    unknown = [s for s in sections if s not in LIST_SECTIONS]
    if unknown:
        sys.exit(f"not a list section: {', '.join(unknown)} (one of {', '.join(LIST_SECTIONS)})")
    if not Path(args.index).is_dir():
        sys.exit(f"no index at {args.index}")

    from chat.pipeline import Pipeline
    from kb.db import DatabaseError

    try:
        pairs = find_pairs(args.db, sections)
    except DatabaseError as e:
        sys.exit(f"cannot read the KB at {args.db}: {e}")
    if not pairs:
        sys.exit(f"no drug section held by both a label/curated source and CMeKG in {args.db}")
    pipeline = Pipeline.load(args.db, args.index, "extractive", log_answers=False, on_stale="warn")
    for pair in pairs[:5]:  # warm-up: caches, lazy imports, the encoder's first call
        pipeline.answer(questions_for(pair.section, "first")[0].format(name=pair.drug))
    outcomes = [measure(pipeline, pair, q.format(name=pair.drug))
                for pair in pairs for q in questions_for(pair.section, args.templates)]
    report = summarise(outcomes, sections, args)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print_report(report)


def _figures(outs: list[Outcome]) -> dict:
    found = sum(len(o.pair.label_items) - len(o.missing) for o in outs)
    total = sum(len(o.pair.label_items) for o in outs)
    times = [o.latency_ms for o in outs] or [0.0]
    return {
        "questions": len(outs), "drugs": len({o.pair.drug for o in outs}),
        "whole": sum(o.whole for o in outs), "whole_rate": round(sum(o.whole for o in outs) / max(1, len(outs)), 4),
        "items_found": found, "items_total": total, "item_recall": round(found / max(1, total), 4),
        "refused": sum(o.refused for o in outs),
        "cmekg_first": sum(bool(o.cmekg_first) for o in outs), "debris_shown": sum(bool(o.debris_shown) for o in outs),
        "cmekg_cited": sum(any(x in o.pair.graph_origins for x in o.cited_origins) for o in outs),
        "p50_ms": round(float(np.percentile(times, 50)), 1), "p95_ms": round(float(np.percentile(times, 95)), 1),
    }


def summarise(outcomes: list[Outcome], sections: tuple[str, ...], args) -> dict:
    failing = [o for o in outcomes if not o.whole or o.cmekg_first or o.debris_shown]
    return {
        "db": args.db, "index": args.index, "templates": args.templates,
        "all": _figures(outcomes),
        "by_section": {s: _figures([o for o in outcomes if o.pair.section == s]) for s in sections},
        "failing": [{"drug": o.pair.drug, "section": o.pair.section, "question": o.question, "refused": o.refused,
                     "missing": o.missing, "missing_of": len(o.pair.label_items), "cmekg_first": o.cmekg_first,
                     "debris_shown": o.debris_shown, "answer": o.answer} for o in failing[:args.show]],
        "failing_n": len(failing),
    }


def print_report(report: dict) -> None:
    a = report["all"]
    print(f"{report['db']} + {report['index']}: {a['questions']} questions on {a['drugs']} drugs "
          f"(templates: {report['templates']})")
    head = f"{'section':8} {'n':>4} {'whole':>7} {'items':>11} {'recall':>7} {'CMeKG 1st':>9} {'debris':>6} {'CMeKG cited':>11} " \
           f"{'refused':>7} {'p50 ms':>7} {'p95 ms':>7}"
    print(head)
    for name, f in [*report["by_section"].items(), ("all", a)]:
        print(f"{name:8} {f['questions']:>4} {f['whole_rate']:>7.1%} {f['items_found']:>5}/{f['items_total']:<5} "
              f"{f['item_recall']:>7.1%} {f['cmekg_first']:>9} {f['debris_shown']:>6} {f['cmekg_cited']:>11} {f['refused']:>7} "
              f"{f['p50_ms']:>7} {f['p95_ms']:>7}")
    if report["failing"]:
        print(f"\nfailing questions: {report['failing_n']} (first {len(report['failing'])})")
    for f in report["failing"]:
        why = []
        if f["refused"]:
            why.append("refused")
        if f["missing"]:
            why.append(f"missing {len(f['missing'])}/{f['missing_of']}: {'、'.join(f['missing'][:12])}")
        if f["cmekg_first"]:
            why.append(f"CMeKG before the label's end: {'、'.join(f['cmekg_first'][:8])}")
        if f["debris_shown"]:
            why.append(f"debris: {'、'.join(f['debris_shown'][:8])}")
        print(f"- {f['question']}  {'; '.join(why)}")
        body = next((b for b in f["answer"].split("\n\n") if not b.startswith("⚠")), "").replace("\n", " ")
        print(f"    {body[:240]}{'…' if len(body) > 240 else ''}")


if __name__ == "__main__":
    main()
