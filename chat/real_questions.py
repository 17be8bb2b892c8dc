"""Real-question evaluation (`chat eval --real FILE`): how the pipeline serves people who did not write
their questions for it.

Input is either the Toyhom consultation CSV (`department,title,ask,answer`, GB18030 or UTF-8; the
question is title + ask, the reference is the doctor's answer) or JSONL `{"question": ..., "reference":
...}` (a KB maintainer's own question log; `reference` may be missing). Each question goes through the
same pipeline as `chat ask`, without the answer log, and is counted as exactly one of

    emergency   the answer starts with the call-120 (or crisis) notice
    refused     the KB's silence: nothing in it bears on the question
    asked back  the pipeline asked one question before answering (inquiry)
    answered    everything else (a cited answer, or a list of possible conditions)

and, for answers, two measures that need no person:

    reference overlap    the answer names a KB disease or drug that the reference also names
                         (both texts linked with the retriever's own linker; among answered questions
                         whose reference names any KB disease or drug)
    on-topic citations   an answer cites a passage of an entity the question itself names
                         (among answered questions that name one)

`--report PATH.md` writes N sampled questions with the answer and the reference side by side, for a
person to read and grade: the figures above say what is refused, only reading says what is useful.
"""

from __future__ import annotations

import csv
import io
import json
import random
import re
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from chat.answer import DISCLAIMER, SHORT_DISCLAIMER
from kb.formats.common import FormatError, decode
from kb.records import ENTITY_TYPES

# guided: the concern answered without KB facts to cite (what decides it, where to go first, when not to wait)
OUTCOMES = ("answered", "guided", "refused", "asked_back", "emergency")
_NAMED = ("drug", "disease")
TOYHOM_COLUMNS = ("department", "title", "ask", "answer")


class RealQuestionsError(ValueError):
    """A question file that cannot be read; the message names the file and line."""


@dataclass(frozen=True)
class RealQuestion:
    question: str
    reference: str = ""
    department: str = ""
    line: int = 0  # where it came from in the file (1-based; the CSV header is line 1)


def read_questions(path: str | Path) -> list[RealQuestion]:
    """The questions of a Toyhom-style CSV or a JSONL file (see the module docstring)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise RealQuestionsError(f"{path}: is a directory, not a CSV or JSONL file") from None
    except OSError as exc:
        raise RealQuestionsError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        text, _ = decode(path, data, gb18030_ok=True)
    except FormatError as exc:
        raise RealQuestionsError(str(exc)) from None
    if path.suffix.lower() in (".jsonl", ".json") or text.lstrip().startswith("{"):
        return _read_jsonl(path, text)
    return _read_csv(path, text)


def _read_csv(path: Path, text: str) -> list[RealQuestion]:
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in ("title", "ask") if c not in (reader.fieldnames or [])]
    if missing:
        raise RealQuestionsError(f"{path}: line 1: a CSV needs the columns {','.join(TOYHOM_COLUMNS)} "
                                 f"(missing {', '.join(missing)})")
    out = []
    for row in reader:
        title, ask = (row.get("title") or "").strip(), (row.get("ask") or "").strip()
        question = title if ask in ("", title) else f"{title}{'' if title[-1:] in '？?。！!' else '？'}{ask}"
        if question:
            out.append(RealQuestion(question, (row.get("answer") or "").strip(),
                                    (row.get("department") or "").strip(), reader.line_num))
    return out


def _read_jsonl(path: Path, text: str) -> list[RealQuestion]:
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise RealQuestionsError(f"{path}: line {number}: not JSON ({exc.msg})") from None
        if not isinstance(record, dict) or not isinstance(record.get("question"), str) \
                or not record["question"].strip():
            raise RealQuestionsError(f'{path}: line {number}: needs a "question" string')
        out.append(RealQuestion(record["question"].strip(), str(record.get("reference") or "").strip(),
                                str(record.get("department") or ""), number))
    return out


def sample(questions: list, n: int | None, seed: int = 0) -> list:
    """`n` questions (or report rows) drawn without replacement by `seed` (all, in order, when n is None)."""
    if n is None or n >= len(questions):
        return list(questions)
    return random.Random(seed).sample(questions, n)


HALVES = ("tune", "check")


def half(questions: list, which: str, seed: int = 0) -> list:
    """The tuning or the check half of a development set: the questions shuffled by `seed`, the first half
    "tune", the rest "check". Rules are tuned on "tune" only and reported on both, so that a rule that helps
    only the rows it was written for shows up as a gap between the halves."""
    if which not in HALVES:
        raise RealQuestionsError(f"half must be one of {', '.join(HALVES)}, not {which!r}")
    order = list(questions)
    random.Random(seed).shuffle(order)
    cut = len(order) // 2
    return order[:cut] if which == "tune" else order[cut:]


def outcome(answer) -> str:
    if answer.triage:
        return "emergency"
    if answer.mode == "inquiry":
        return "asked_back"
    if answer.mode == "guidance":
        return "guided"
    if answer.refused:
        return "refused"
    return "answered"


def answer_body(answer) -> str:
    """The answer without the disclaimer, which names no KB entity of its own."""
    return answer.text.replace(DISCLAIMER, "").replace(SHORT_DISCLAIMER, "")


def named(link, text: str) -> set[str]:
    """KB diseases and drugs a text names (by canonical name)."""
    return {m.entity_name for m in link(text) if m.entity_type in _NAMED}


def evaluate_real(pipeline, questions: list[RealQuestion], progress=None) -> tuple[dict, list[dict]]:
    """Runs every question through `pipeline`; returns (report, one row per question)."""
    link = pipeline.retriever.link_entities
    pipeline.answer("感冒吃什么药")  # warm: the figures are about answering, not loading
    rows, latencies = [], []
    for q in questions:
        started = time.perf_counter()
        answer = pipeline.answer(q.question)
        latencies.append((time.perf_counter() - started) * 1000)
        kind = outcome(answer)
        asked = {m.entity_id for m in link(q.question) if m.entity_type in ENTITY_TYPES}
        cited = [pipeline.retriever.passage(c.passage_id) for c in answer.citations]
        cited_entities = {c.entity for c in answer.citations}
        # only what an answer says counts: a refusal's suggestion ("例如「高血压挂什么科」") names nothing
        answer_names = (named(link, answer_body(answer)) | {c.entity for c in answer.citations
                                                            if c.entity_type in _NAMED}) if kind == "answered" else set()
        reference_names = named(link, q.reference) if q.reference else set()
        rows.append({
            "line": q.line, "department": q.department, "question": q.question, "reference": q.reference,
            "answer": answer.text, "outcome": kind, "mode": answer.mode,
            "citations": [c.label() for c in answer.citations],
            "cited_question_entity": any(p is not None and p.entity_id in asked for p in cited),
            "question_names_entity": bool(asked),
            "reference_names": sorted(reference_names), "shared_names": sorted(answer_names & reference_names),
            "cited_entities": sorted(cited_entities), "latency_ms": round(latencies[-1], 1),
            "reason": answer.debug.get("support", {}).get("reason"),
            # a model's sentences: how many verification kept and why the others went (None: nothing generated)
            "generated": answer.debug.get("generated"),
            "removed_claims": answer.removed_claims,
        })
        if progress:
            progress()
    return summarize(rows, latencies), rows


def summarize(rows: list[dict], latencies: list[float]) -> dict:
    n = len(rows)
    counts = {k: sum(r["outcome"] == k for r in rows) for k in OUTCOMES}
    answered = [r for r in rows if r["outcome"] == "answered"]
    with_reference = [r for r in answered if r["reference_names"]]
    naming = [r for r in answered if r["question_names_entity"]]
    lat = np.asarray(latencies or [0.0])
    generated = [r["generated"] for r in rows if r.get("generated")]
    kept, removed = sum(g["kept"] for g in generated), sum(g["removed"] for g in generated)

    def share_generated(key: str) -> float | None:  # of the answers a model wrote
        return sum(bool(g.get(key)) for g in generated) / len(generated) if generated else None

    return {
        "n": n,
        **{f"{k}_rate": counts[k] / n if n else 0.0 for k in OUTCOMES},
        "counts": counts,
        "reference_overlap_rate": (sum(bool(r["shared_names"]) for r in with_reference) / len(with_reference)
                                   if with_reference else 0.0),
        "reference_overlap_n": len(with_reference),
        "reference_overlap_of_all": (sum(bool(r["shared_names"]) for r in rows if r["reference_names"])
                                     / max(1, sum(bool(r["reference_names"]) for r in rows))),
        "on_topic_citation_rate": (sum(r["cited_question_entity"] for r in naming) / len(naming)) if naming else 0.0,
        "on_topic_citation_n": len(naming),
        # only for a model generator: the share of its sentences that citation verification let through, and the
        # answers where none did and the KB was quoted instead
        "generated_answers": len(generated),
        "generated_sentences": kept + removed,
        "survival_rate": kept / (kept + removed) if kept + removed else None,
        "quoted_instead_rate": share_generated("quoted_instead"),
        "declined_rate": share_generated("declined"),
        "repeated_rate": share_generated("repeated"),
        "removed_because": dict(Counter(_why(c) for r in rows for c in r.get("removed_claims") or []).most_common()),
        "latency_ms_p50": round(float(np.percentile(lat, 50)), 1),
        "latency_ms_p95": round(float(np.percentile(lat, 95)), 1),
    }


def _why(removed_claim: str) -> str:
    """The kind of problem in "sentence (problem)": numbers and passage marks dropped, so that they can be counted."""
    problem = removed_claim.rsplit("(", 1)[-1].rstrip(")")
    return re.sub(r"\[\d+\]|\d+(\.\d+)?|'[^']*'", "…", problem)


def print_summary(report: dict, source: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"real questions · {source} · n={report['n']}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key in OUTCOMES:
        table.add_row(key.replace("_", " "), f"{report[key + '_rate']:.1%} ({report['counts'][key]})")
    table.add_row("reference overlap (answered)", f"{report['reference_overlap_rate']:.1%} "
                                                  f"of {report['reference_overlap_n']}")
    table.add_row("reference overlap (all)", f"{report['reference_overlap_of_all']:.1%}")
    table.add_row("cites an entity the question names", f"{report['on_topic_citation_rate']:.1%} "
                                                        f"of {report['on_topic_citation_n']}")
    if report.get("generated_answers"):
        table.add_row("generated sentences kept by verification", f"{report['survival_rate']:.1%} of "
                                                                  f"{report['generated_sentences']}")
        table.add_row("answers where the KB was quoted instead", f"{report['quoted_instead_rate']:.1%} of "
                                                                 f"{report['generated_answers']}")
        table.add_row("answers the model declined (its refusal)", f"{report['declined_rate']:.1%}")
        table.add_row("answers stopped where the model repeated itself", f"{report['repeated_rate']:.1%}")
    table.add_row("latency p50 / p95", f"{report['latency_ms_p50']:.0f} / {report['latency_ms_p95']:.0f} ms")
    Console().print(table)


def write_report(path: str | Path, report: dict, rows: list[dict], n: int, seed: int, source: str) -> Path:
    """A markdown file with `n` sampled rows: question, answer and reference side by side."""
    picked = sample(rows, n, seed)
    lines = ["# Real questions: answers beside the doctors' replies", "",
             f"Source: `{source}` · {report['n']} questions · "
             f"answered {report['answered_rate']:.1%}, guided {report['guided_rate']:.1%}, "
             f"refused {report['refused_rate']:.1%}, "
             f"asked back {report['asked_back_rate']:.1%}, emergency {report['emergency_rate']:.1%} · "
             f"reference overlap {report['reference_overlap_rate']:.1%} · "
             f"p50/p95 {report['latency_ms_p50']:.0f}/{report['latency_ms_p95']:.0f} ms", ""]
    for i, r in enumerate(picked, 1):
        lines += [f"## {i}. {r['department'] or 'question'} (line {r['line']}) · {r['outcome']}", "",
                  "**Question**", "", _quote(r["question"]), "", "**yiju**", "", _quote(r["answer"]), ""]
        if r["citations"]:
            lines += ["Sources: " + "; ".join(r["citations"]), ""]
        if r["reference"]:
            lines += ["**Doctor**", "", _quote(r["reference"]), ""]
        lines += [f"Names shared with the doctor: {'、'.join(r['shared_names']) or '—'}", ""]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _quote(text: str) -> str:
    return "\n".join("> " + line if line.strip() else ">" for line in text.strip().splitlines())
