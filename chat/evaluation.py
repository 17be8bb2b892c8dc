"""How well the pipeline keeps its promises, measured on fixed sets (`chat eval`, `chat calibrate`).

    triage        red-flag phrasings triaged as emergencies (want >= 98%), and look-alike
                  non-emergencies ("去年运动后胸痛过一次") triaged as emergencies (want <= 10%)
    red flags in  chat/eval_sets/redflag_words.jsonl (issue 19): emergencies told the way people write them
    people's      ("孩子趁我不注意吞了十几片扑热息痛") and look-alikes with the same words in a calm reading
    words         (negated, over, hypothetical, a habit, a pet, a film); recall (want 100%) and false alarms
                  (want <= 5% overall and in every category), by category, split and language
    refusal       out-of-KB questions (unknown drugs and diseases, non-medical) refused (want >= 95%);
                  templated in-KB questions refused (want <= 3%)
    citations     templated in-KB questions whose citations are all passages of the asked entity and
                  section (want >= 98%), and citations that resolve to a passage of the index (want 100%)

The sets live in chat/eval_sets/*.jsonl. Out-of-KB questions name a `subject`; one the KB turns out to
have (CMeKG knows many drugs) is skipped and counted, not scored.

Each row of redflag_words.jsonl is {question, expect: urgent|none, category, lang: zh|en, split: tune|check,
source}. The split is fixed by the question's text alone (`split_of`): "tune" when the first byte of
SHA-256(SPLIT_SEED + "\n" + question, UTF-8) is below 128, otherwise "check". So a row keeps its split
when others are added, about half land in each, and whoever tunes the triage rules on "tune" can be
measured on "check", which they did not look at. A row whose split disagrees with the rule is an error.
"""

from __future__ import annotations

import hashlib
import json
import statistics
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from chat.support import DEFAULT_THRESHOLD, Thresholds, support_score
from chat.triage import triage
from kb.records import ENTITY_TYPES

SETS = Path(__file__).resolve().parent / "eval_sets"
TARGETS = {
    "redflag_urgent_rate": (">=", 0.98),
    "nonemergency_urgent_rate": ("<=", 0.10),
    "out_of_kb_refusal_rate": (">=", 0.95),
    "in_kb_refusal_rate": ("<=", 0.03),
    "citation_precision": (">=", 0.98),
    "citations_resolved_rate": (">=", 1.0),
    # issue 19's targets, reported but not yet enforced: the triage misses them on the check half
    "redflag_words_recall": (">=", 0.0),
    "redflag_words_false_alarm_rate": ("<=", 1.0),
    "redflag_words_worst_category_false_alarm_rate": ("<=", 1.0),
}
WORDS_SET = "redflag_words"
SPLIT_SEED = "yiju/redflag_words/split/1"
EXPECT = ("urgent", "none")
LANGS = ("zh", "en")
SPLITS = ("tune", "check")


class EvalSetError(ValueError):
    """A row of an evaluation set that cannot be scored; the message names the file and line."""


def load_set(name: str) -> list[dict]:
    path = SETS / f"{name}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def in_kb(pipeline, subject: str) -> bool:
    """True when the KB has an entity called `subject` (the linker finds a name covering all of it);
    a KB name inside it ("病毒感染" in "尼帕病毒感染") does not count: that question stays in the set."""
    return bool(subject) and any(m.entity_type in ENTITY_TYPES and m.start == 0 and m.end == len(subject)
                                 for m in pipeline.retriever.link_entities(subject))


def evaluate_triage() -> dict:
    red, calm = load_set("redflag"), load_set("nonemergency")
    missed = [r["question"] for r in red if not triage(r["question"]).urgent]
    false_alarms = [r["question"] for r in calm if triage(r["question"]).urgent]
    return {"redflag_n": len(red), "redflag_urgent_rate": 1 - len(missed) / len(red), "redflag_missed": missed,
            "nonemergency_n": len(calm), "nonemergency_urgent_rate": len(false_alarms) / len(calm),
            "nonemergency_false_alarms": false_alarms}


def split_of(question: str) -> str:
    """The split of a red-flag words question, decided by its text alone (see the module docstring)."""
    digest = hashlib.sha256(f"{SPLIT_SEED}\n{question}".encode("utf-8")).digest()
    return "tune" if digest[0] < 128 else "check"


def _check_row(row, seen: set[str]) -> str | None:
    """What is wrong with one row of the red-flag words set, or None."""
    if not isinstance(row, dict):
        return "not a JSON object"
    for key in ("question", "category", "source"):
        if not isinstance(row.get(key), str) or not row[key].strip():
            return f"'{key}' must be a non-empty string"
    for key, allowed in (("expect", EXPECT), ("lang", LANGS), ("split", SPLITS)):
        if row.get(key) not in allowed:
            return f"'{key}' must be one of {', '.join(allowed)} (got {row.get(key)!r})"
    if row["split"] != split_of(row["question"]):
        return f"'split' is {row['split']} but the rule gives {split_of(row['question'])}"
    if row["question"] in seen:
        return "duplicate question"
    return None


def load_words_set(path: Path | None = None) -> list[dict]:
    """The red-flag words set, every row checked; EvalSetError names the file and line of the first bad one."""
    path = path or SETS / f"{WORDS_SET}.jsonl"
    rows, seen = [], set()
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvalSetError(f"{path.name}:{lineno}: not JSON ({exc.msg})") from None
        problem = _check_row(row, seen)
        if problem:
            raise EvalSetError(f"{path.name}:{lineno}: {problem}")
        seen.add(row["question"])
        rows.append(row)
    return rows


def triaged_urgent(question: str) -> bool:
    """What the set measures: the triage gives the question a level (emergency or crisis)."""
    return triage(question).level is not None


def _rate(hits: int, n: int) -> float | None:
    return hits / n if n else None


def tally(rows: list[dict], flagged: list[bool], key: str) -> dict[str, dict]:
    """Per value of `key` (category, split, lang): emergencies flagged (recall) and look-alikes flagged
    (false alarms), with their counts; a rate is None where the group has no such rows."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # urgent n, flagged, look-alike n, flagged
    for row, hit in zip(rows, flagged):
        c = counts[row[key]]
        offset = 0 if row["expect"] == "urgent" else 2
        c[offset] += 1
        c[offset + 1] += hit
    return {value: {"urgent_n": c[0], "urgent_flagged": c[1], "recall": _rate(c[1], c[0]),
                    "lookalike_n": c[2], "lookalike_flagged": c[3], "false_alarm_rate": _rate(c[3], c[2])}
            for value, c in sorted(counts.items())}


def evaluate_redflag_words(rows: list[dict] | None = None, is_urgent=triaged_urgent) -> dict:
    """Recall and false alarms on the red-flag words set, overall and by category, split and language;
    the misses and false alarms listed with their category, split and language."""
    rows = load_words_set() if rows is None else rows
    flagged = [bool(is_urgent(r["question"])) for r in rows]
    urgent = [(r, f) for r, f in zip(rows, flagged) if r["expect"] == "urgent"]
    calm = [(r, f) for r, f in zip(rows, flagged) if r["expect"] == "none"]
    by_category = tally(rows, flagged, "category")

    def listed(pairs, want: bool) -> list[dict]:
        return [{"question": r["question"], "category": r["category"], "split": r["split"], "lang": r["lang"]}
                for r, f in pairs if f == want]

    return {
        "redflag_words_n": len(rows), "redflag_words_urgent_n": len(urgent), "redflag_words_lookalike_n": len(calm),
        "redflag_words_recall": sum(f for _, f in urgent) / len(urgent) if urgent else 1.0,
        "redflag_words_false_alarm_rate": sum(f for _, f in calm) / len(calm) if calm else 0.0,
        "redflag_words_worst_category_false_alarm_rate": max(
            (c["false_alarm_rate"] for c in by_category.values() if c["false_alarm_rate"] is not None), default=0.0),
        "redflag_words_by_category": by_category,
        "redflag_words_by_split": tally(rows, flagged, "split"),
        "redflag_words_by_lang": tally(rows, flagged, "lang"),
        "redflag_words_missed": listed(urgent, False),
        "redflag_words_false_alarms": listed(calm, True),
    }


def evaluate_out_of_kb(pipeline) -> dict:
    rows = load_set("out_of_kb")
    scored, skipped, answered = 0, [], []
    by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in rows:
        if in_kb(pipeline, r.get("subject", "")):
            skipped.append(r["question"])
            continue
        a = pipeline.answer(r["question"])
        scored += 1
        by_kind[r["kind"]][1] += 1
        if a.refused:
            by_kind[r["kind"]][0] += 1
        else:
            answered.append({"question": r["question"], "entities": a.entities, "mode": a.mode,
                             "reason": a.debug.get("support", {}).get("reason")})
    return {"out_of_kb_n": scored, "out_of_kb_skipped_in_kb": skipped,
            "out_of_kb_refusal_rate": (scored - len(answered)) / scored if scored else 0.0,
            "out_of_kb_by_kind": {k: {"refused": v[0], "n": v[1]} for k, v in by_kind.items()},
            "out_of_kb_answered": answered}


def evaluate_handwritten(pipeline) -> dict:
    """Everyday phrasings about the demo KB ("吃阿莫西林会拉肚子吗"): answered from the named entity and section?
    Questions whose entity the KB lacks are skipped, so on other KBs this measures what overlaps."""
    rows = [r for r in load_set("in_kb_demo")
            if any(m.entity_name == r["entity"] for m in pipeline.retriever.link_entities(r["entity"]))]
    misses = []
    for r in rows:
        a = pipeline.answer(r["question"])
        cited = {(c.entity, c.section) for c in a.citations}
        if a.refused or not any(e == r["entity"] and s == r["section"] for e, s in cited):
            misses.append({"question": r["question"], "refused": a.refused, "cited": sorted(f"{e} · {s}" for e, s in cited)})
    return {"handwritten_n": len(rows), "handwritten_answered_rate": 1 - len(misses) / len(rows) if rows else None,
            "handwritten_misses": misses}


def templated(pipeline, n: int, seed: int = 0):
    from retriever.evaluation import templated_questions

    return templated_questions(pipeline.retriever, n=n, seed=seed)


def evaluate_in_kb(pipeline, n: int = 300, seed: int = 0) -> dict:
    """Templated questions: refusals, whether citations stay on the asked entity and section, whether they resolve."""
    from retriever.questions import TEMPLATES

    questions = templated(pipeline, n, seed)
    refused, off_target, unresolved, total_citations = [], [], [], 0
    latencies = []
    for q in questions:
        t = time.perf_counter()
        a = pipeline.answer(q.question)
        latencies.append((time.perf_counter() - t) * 1000)
        if a.refused:
            refused.append({"question": q.question, "reason": a.debug.get("support", {}).get("reason")})
            continue
        sections = TEMPLATES[(q.entity_type, q.intent)][0]
        bad = [c for c in a.citations
               if c.passage_id not in q.gold_passage_ids and not (c.entity == q.entity_name and c.section in sections)]
        if bad or not a.citations:
            off_target.append({"question": q.question, "cited": [f"{c.entity} · {c.section}" for c in a.citations]})
        for c in a.citations:
            total_citations += 1
            p = pipeline.retriever.passage(c.passage_id)
            if p is None or p.text != c.text:
                unresolved.append(c.passage_id)
    answered = len(questions) - len(refused)
    return {
        "in_kb_n": len(questions), "in_kb_refusal_rate": len(refused) / len(questions) if questions else 0.0,
        "in_kb_refused": refused[:30],
        "citation_precision": (answered - len(off_target)) / answered if answered else 0.0,
        "citation_off_target": off_target[:30],
        "citations_checked": total_citations,
        "citations_resolved_rate": 1 - len(unresolved) / total_citations if total_citations else 1.0,
        "latency_ms_p50": round(statistics.median(latencies), 1) if latencies else None,
        "latency_ms_p95": round(float(np.percentile(latencies, 95)), 1) if latencies else None,
    }


def evaluate(pipeline, templated: int = 300, seed: int = 0) -> dict:
    report = {"kb_revision": pipeline.kb_revision, "generator": pipeline.generator.name, "k": pipeline.k}
    report |= evaluate_triage()
    report |= evaluate_redflag_words()
    report |= evaluate_out_of_kb(pipeline)
    report |= evaluate_handwritten(pipeline)
    if templated:
        report |= evaluate_in_kb(pipeline, templated, seed)
    checks = {}
    for key, (op, target) in TARGETS.items():
        if key in report:
            value = report[key]
            checks[key] = {"value": round(value, 4), "target": f"{op} {target}",
                           "ok": value >= target if op == ">=" else value <= target}
    report["checks"] = checks
    report["passed"] = all(c["ok"] for c in checks.values())
    return report


def _pct(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.1%}"


def print_redflag_words(report: dict, out) -> None:
    """The red-flag words set: one table by category, then split and language, then every miss and
    false alarm on its own line (category · split · lang)."""
    from rich.table import Table

    if "redflag_words_n" not in report:
        return
    table = Table(title=f"red flags in people's words · {report['redflag_words_urgent_n']} emergencies · "
                        f"{report['redflag_words_lookalike_n']} look-alikes")
    for col in ("group", "recall", "emergencies", "false alarms", "look-alikes"):
        table.add_column(col)
    for prefix, key in (("", "by_category"), ("split ", "by_split"), ("lang ", "by_lang")):
        for name, g in report[f"redflag_words_{key}"].items():
            recall, alarms = _pct(g["recall"]), _pct(g["false_alarm_rate"])
            if g["recall"] is not None and g["recall"] < TARGETS["redflag_words_recall"][1]:
                recall = f"[red]{recall}[/red]"
            if g["false_alarm_rate"] is not None and g["false_alarm_rate"] > TARGETS["redflag_words_false_alarm_rate"][1]:
                alarms = f"[red]{alarms}[/red]"
            table.add_row(prefix + name, recall, f"{g['urgent_flagged']}/{g['urgent_n']}",
                          alarms, f"{g['lookalike_flagged']}/{g['lookalike_n']}")
        table.add_section()
    out.print(table)
    for label, key in (("missed emergencies", "redflag_words_missed"), ("false alarms", "redflag_words_false_alarms")):
        if report[key]:
            out.print(f"[bold]{label}[/bold] ({len(report[key])}):")
            for m in report[key]:
                out.print(f"  {m['category']} · {m['split']} · {m['lang']}  {m['question']}", highlight=False,
                          markup=False, soft_wrap=True)


def print_report(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    out = Console()
    table = Table(title=f"chat eval · {report['generator']} · KB revision {report['kb_revision']}")
    for col in ("metric", "value", "target", ""):
        table.add_column(col)
    for key, c in report["checks"].items():
        table.add_row(key, f"{c['value']:.1%}", c["target"], "ok" if c["ok"] else "[red]FAIL[/red]")
    out.print(table)
    out.print(f"red flags {report['redflag_n']} · non-emergencies {report['nonemergency_n']} · "
              f"out-of-KB {report['out_of_kb_n']} (skipped as in KB: {len(report['out_of_kb_skipped_in_kb'])}) · "
              f"templated in-KB {report.get('in_kb_n', 0)} · p95 {report.get('latency_ms_p95')} ms")
    if report.get("handwritten_n"):
        out.print(f"everyday in-KB phrasings answered from the right entity and section: "
                  f"{report['handwritten_answered_rate']:.1%} of {report['handwritten_n']} (informational)")
    for label, key in (("missed red flags", "redflag_missed"), ("false alarms", "nonemergency_false_alarms"),
                       ("answered out-of-KB", "out_of_kb_answered"), ("refused in-KB", "in_kb_refused"),
                       ("everyday phrasings missed", "handwritten_misses"),
                       ("off-target citations", "citation_off_target")):
        if report.get(key):
            out.print(f"[bold]{label}[/bold]: " + "; ".join(
                x if isinstance(x, str) else x["question"] for x in report[key][:10]), highlight=False)
    print_redflag_words(report, out)


def calibrate_thresholds(pipeline, per_intent: int = 60, seed: int = 0) -> tuple[Thresholds, dict]:
    """Per intent, the support score (without entity linking) of templated in-KB questions' best gold hit
    and of out-of-KB questions' best hit; the threshold sits where in-KB questions are kept (at most 3%
    below it) while as many out-of-KB questions as possible fall below."""
    from retriever.questions import TEMPLATES

    intents = sorted({intent for (_, intent) in TEMPLATES})
    questions = templated(pipeline, per_intent * len(intents), seed)
    inside: dict[str, list[float]] = defaultdict(list)
    for q in questions:
        result = pipeline.retriever.search(q.question, k=pipeline.k)
        about = pipeline.retriever.analyze(q.question).about
        scores = [support_score(about, h.passage, h.channel_scores.get("dense")) for h in result.hits
                  if h.passage.id in q.gold_passage_ids]
        inside[q.intent].append(max(scores) if scores else 0.0)
    outside: list[float] = []
    for r in load_set("out_of_kb"):
        if in_kb(pipeline, r.get("subject", "")):
            continue
        result = pipeline.retriever.search(r["question"], k=pipeline.k)
        about = pipeline.retriever.analyze(r["question"]).about
        outside.append(max((support_score(about, h.passage, h.channel_scores.get("dense")) for h in result.hits),
                           default=0.0))
    thresholds = Thresholds(by_intent={}, calibrated_on={"per_intent": per_intent, "seed": seed,
                                                          "kb_revision": pipeline.kb_revision,
                                                          "out_of_kb": len(outside)})
    report = {"by_intent": {}, "out_of_kb_n": len(outside)}
    for intent in intents:
        scores = sorted(inside.get(intent, []))
        if not scores:
            continue
        # the highest threshold that keeps >= 97% of in-KB questions, never below the default: a question
        # that names nothing the KB knows must be about a passage almost word for word to be answered
        keep_from = scores[int(len(scores) * 0.03)] if len(scores) >= 10 else scores[0]
        threshold = max(min(keep_from, 0.95), DEFAULT_THRESHOLD)
        thresholds.by_intent[intent] = round(threshold, 3)
        report["by_intent"][intent] = {
            "threshold": threshold, "n": len(scores),
            "in_kb_below": sum(s < threshold for s in scores) / len(scores),
            "out_of_kb_above": sum(s >= threshold for s in outside) / len(outside) if outside else 0.0,
            "in_kb_p05": scores[int(len(scores) * 0.05)],
        }
    report["thresholds"] = thresholds.by_intent
    return thresholds, report
