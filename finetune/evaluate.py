"""`finetune eval`: QiZhenGPT's manual protocol made automatic, for several generators in one run.

For templated questions over held-out entities (`finetune.data.eval_questions`), each answer is scored
against the KB's items for the asked entity and section (hit = normalised containment):

    criterion 1   >= 1 gold item in the answer          criterion 2   >= 1/2 of the gold items
    criterion 3   >= 2/3 of the gold items              item precision  answered items that the KB
    citation precision  citations [n] that point to a passage of the asked entity and section
    refusal rate  answers that decline                  latency       seconds per answer (incl. retrieval)

An "answered item" is a segment of the answer split at 、，；。 (after the "X的Y包括：" lead-in and
the citations are removed); it is supported when it contains, or is contained in, a gold item or the
KB's text of that section. 1 - item precision is the hallucination rate. With `unanswerable > 0`, that
many extra questions are asked with every passage of the asked section removed from the retrieved
ones: there the right answer is a refusal, and `refusal when unsupported` counts them.

Generators are chat's (`chat.generators`), named by its specs and read by its parser: `extractive`,
`hf:PATH[+ADAPTER]`, `gemma-270m`, `openai:URL`, ... (`generator_usage()`), all with retrieval;
`hf:...@closed` asks the model closed-book (no passages); `LABEL=SPEC` names a column. Answers come from the generator itself, not the whole chat
pipeline: support thresholds and claim verification would hide the differences between models.
"""

from __future__ import annotations

import json
import re
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from finetune.data import Question
from finetune.prompts import CITATION, PASSAGE_CHARS, cited_numbers, clip, closed_book_messages, is_refusal
from kb.names import normalize_name

_SEGMENT = re.compile(r"[、，,；;。\n！!？?]|以及")
MAX_ITEMS = 30


@dataclass
class Generator:
    """A named way to answer: `answer(question, passages) -> (text, new_tokens, stopped)`."""

    label: str
    spec: str
    retrieval: bool
    answer: Callable[[str, Sequence], tuple[str, int, bool]]


@dataclass
class Scored:
    generator: str
    question: str
    entity: str
    section: str
    answerable: bool
    answer: str
    gold_items: list[str]
    hit_items: list[str]
    answered_items: int
    supported_items: int
    citations: int
    correct_citations: int
    refused: bool
    latency_s: float
    new_tokens: int
    stopped: bool
    passage_ids: list[str] = field(default_factory=list)

    @property
    def fraction(self) -> float:
        return len(self.hit_items) / len(self.gold_items) if self.gold_items else 0.0


def answer_items(answer: str) -> list[str]:
    """The items an answer asserts: its segments, minus the lead-in and the citations."""
    text = CITATION.sub("", answer)
    if is_refusal(text):
        return []
    head, sep, rest = text.partition("：")
    if sep and len(head) <= 40:
        text = rest
    seen, items = set(), []
    for seg in _SEGMENT.split(text):
        key = normalize_name(seg)
        if len(key) >= 2 and key not in seen:
            seen.add(key)
            items.append(seg.strip())
    return items[:MAX_ITEMS]


def score(generator: str, q: Question, answer: str, passages: Sequence, latency_s: float, new_tokens: int = 0,
          stopped: bool = True, answerable: bool = True) -> Scored:
    refused = is_refusal(answer)
    norm_answer = normalize_name(CITATION.sub("", answer))
    gold_norm = [normalize_name(g) for g in q.gold_items]
    hits = [] if refused else [g for g, n in zip(q.gold_items, gold_norm) if n and n in norm_answer]
    gold_text = normalize_name(q.gold_text)
    items = answer_items(answer)
    supported = 0
    for item in items:
        n = normalize_name(item)
        if any(g and (g in n or n in g) for g in gold_norm) or (gold_text and n in gold_text):
            supported += 1
    cites = cited_numbers(answer)
    correct = sum(1 for c in cites if 1 <= c <= len(passages)
                  and passages[c - 1].entity_id == q.entity_id and passages[c - 1].section == q.section)
    return Scored(generator, q.question, q.entity_name, q.section, answerable, answer, q.gold_items, hits,
                  len(items), supported, len(cites), correct, refused, round(latency_s, 3), new_tokens, stopped,
                  [p.id for p in passages])


def summarize(rows: Sequence[Scored]) -> dict:
    """The table row of one generator."""
    ans = [r for r in rows if r.answerable]
    una = [r for r in rows if not r.answerable]
    n = len(ans) or 1
    items = sum(r.answered_items for r in ans)
    cites = sum(r.citations for r in ans)
    lat = [r.latency_s for r in rows]
    out = {
        "questions": len(ans),
        "criterion_1": sum(len(r.hit_items) >= 1 for r in ans) / n,
        "criterion_2": sum(r.fraction >= 1 / 2 for r in ans) / n,
        "criterion_3": sum(r.fraction >= 2 / 3 for r in ans) / n,
        "item_precision": sum(r.supported_items for r in ans) / items if items else None,
        "hallucination_rate": 1 - sum(r.supported_items for r in ans) / items if items else None,
        "citation_precision": sum(r.correct_citations for r in ans) / cites if cites else None,
        "answers_with_citation": sum(r.citations > 0 for r in ans) / n,
        "refusal_rate": sum(r.refused for r in ans) / n,
        "stopped_rate": sum(r.stopped for r in rows) / (len(rows) or 1),
        "new_tokens_mean": statistics.fmean(r.new_tokens for r in rows) if rows else None,
        "latency_mean_s": statistics.fmean(lat) if lat else None,
        "latency_p50_s": statistics.median(lat) if lat else None,
    }
    if una:
        out["unanswerable"] = len(una)
        out["refusal_when_unsupported"] = sum(r.refused for r in una) / len(una)
    return out


def parse_spec(spec: str) -> tuple[str, str, bool]:
    """"LABEL=SPEC@closed" -> (label, spec, retrieval); without LABEL, one is made from the paths. SPEC is read
    by chat's own parser (`chat.generators.parse_spec`): an unknown one is a GeneratorError."""
    from chat.generators import parse_spec as generator_spec
    from chat.generators import split_adapter

    label, sep, rest = spec.partition("=")
    if not sep:
        label, rest = "", spec
    closed = rest.endswith("@closed")
    rest = rest.removesuffix("@closed")
    kind, argument = generator_spec(rest)
    if not label:
        if kind.name == "extractive":
            label = "extractive"
        else:
            path, adapter = split_adapter(argument) if kind.name == "hf" else (argument or rest, None)
            parts = Path(adapter).parts if adapter else ()
            label = Path(path).name + (f" + LoRA {parts[-2] if parts[-1:] == ('final',) and len(parts) > 1 else parts[-1]}"
                                       if parts else "")
            label += " closed-book" if closed else " + retrieval"
    return label, rest, not closed


DECODING = ("chat", "greedy")


def make_generator(spec: str, max_new_tokens: int = 96, threads: int | None = None,
                   passage_chars: int = PASSAGE_CHARS, decoding: str = "chat") -> Generator:
    """A generator by spec, built from chat's generators so that eval measures what chat runs.

    With retrieval, the passages are clipped as in training (`passage_chars`) and chat's own prompt
    is used. Closed-book (`@closed`) uses the same loaded model with `closed_book_messages`.
    `decoding="chat"` generates with chat's settings (greedy with its repetition penalty and
    n-gram block); `"greedy"` is plain greedy decoding, what a tuned model was trained to produce:
    a repetition penalty over the prompt also penalises copying the passages and their [n] marks.
    """
    if decoding not in DECODING:
        raise ValueError(f"unknown decoding {decoding!r} (chat or greedy)")
    from chat.generators import GenerationRequest, load_generator, until_moves_on

    label, rest, retrieval = parse_spec(spec)
    gen = load_generator(rest, threads=threads)
    tokenizer = getattr(gen, "tokenizer", None)
    model = getattr(gen, "model", None)

    def run_model(prompt: str) -> tuple[str, int, bool]:
        # chat's prompt and generation settings through chat's own `complete` (not `stream()`'s thread and
        # streamer): the same tokens, plus an exact count of them and whether the model stopped.
        done = gen.complete(prompt, max_new_tokens, **({} if decoding == "chat" else {"do_sample": False}))
        text = done.text
        if getattr(gen, "base_model", False):
            text = "".join(until_moves_on([text]))  # chat's own cut of a base model
        return text.strip(), done.new_tokens, done.stopped

    if retrieval:
        def answer(question: str, passages: Sequence) -> tuple[str, int, bool]:
            request = GenerationRequest(question=question, passages=[clip(p, passage_chars) for p in passages],
                                        max_new_tokens=max_new_tokens)
            if model is not None and hasattr(gen, "prompt"):
                return run_model(gen.prompt(request))
            return "".join(gen.stream(request)).strip(), 0, True
    else:
        if model is None:
            raise ValueError(f"{spec}: closed-book needs a local model (hf:PATH)")

        def answer(question: str, passages: Sequence) -> tuple[str, int, bool]:
            return run_model(tokenizer.apply_chat_template(closed_book_messages(question), tokenize=False,
                                                           add_generation_prompt=True))

    return Generator(label, rest, retrieval, answer)


@dataclass
class Case:
    """One question with the passages every generator with retrieval is shown."""

    question: Question
    passages: list
    answerable: bool
    search_s: float


def cases_for(questions: Sequence[Question], search: Callable[[str, int], list] | None, k: int = 3,
              unanswerable: int = 0) -> list[Case]:
    """Retrieve once per question (before any model is loaded); the first `unanswerable` questions are
    asked again with every passage of the asked entity and section removed."""
    cases = []
    for i, q in enumerate(list(questions) + list(questions[:unanswerable])):
        answerable = i < len(questions)
        t = time.perf_counter()
        passages = list(search(q.question, k + (0 if answerable else 8))) if search else []
        if not answerable:
            passages = [p for p in passages if not (p.entity_id == q.entity_id and p.section == q.section)]
        cases.append(Case(q, passages[:k], answerable, time.perf_counter() - t))
    return cases


def run(generators: Sequence[Generator], cases: Sequence[Case], progress: Callable[[str], None] | None = None,
        log_path: Path | None = None) -> dict[str, list[Scored]]:
    """Ask every case of every generator; the same passages for every generator of a question."""
    if any(g.retrieval for g in generators) and cases and not any(c.passages for c in cases):
        raise ValueError("generators with retrieval need passages: pass a retriever index")
    results: dict[str, list[Scored]] = {}
    log = open(log_path, "a", encoding="utf-8") if log_path else None
    for g in generators:
        rows = results.setdefault(g.label, [])
        for j, c in enumerate(cases):
            if not g.retrieval and not c.answerable:
                continue  # without passages an "unanswerable" case is the same question again
            shown = c.passages if g.retrieval else []
            t = time.perf_counter()
            text, new_tokens, stopped = g.answer(c.question.question, shown)
            latency = time.perf_counter() - t + (c.search_s if g.retrieval else 0.0)
            row = score(g.label, c.question, text, shown, latency, new_tokens, stopped, c.answerable)
            rows.append(row)
            if log:
                log.write(json.dumps(asdict(row), ensure_ascii=False) + "\n")
                log.flush()
            if progress:
                progress(f"{g.label}: {j + 1}/{len(cases)} ({latency:.1f} s)")
    if log:
        log.close()
    return results


def rescore(rows: Sequence[dict], questions: Sequence[Question]) -> dict[str, list[Scored]]:
    """Score saved answers (answers.jsonl rows) again with the current rules, without generating.

    Questions are matched by text (rebuild them with the same KB, split, count and seed); the shown
    passages are recovered from their ids ("e{entity_id}:{section}:{origin}:{chunk}")."""
    by_text = {q.question: q for q in questions}
    results: dict[str, list[Scored]] = {}
    for row in rows:
        q = by_text.get(row["question"])
        if q is None:
            raise ValueError(f"answers.jsonl asks {row['question']!r}, which is not among the rebuilt questions; "
                             "use the same --questions, --split, --types and --seed as the run")
        passages = [_passage_stub(pid) for pid in row["passage_ids"]]
        results.setdefault(row["generator"], []).append(
            score(row["generator"], q, row["answer"], passages, row["latency_s"], row["new_tokens"], row["stopped"],
                  row["answerable"]))
    return results


def _passage_stub(passage_id: str):
    from retriever.hits import Passage

    entity, section, *_ = passage_id.split(":")
    return Passage(passage_id, int(entity.lstrip("e")), "", "", section, "", "", 0, "")


METRICS = [("criterion_1", "C1 ≥1 item"), ("criterion_2", "C2 ≥1/2"), ("criterion_3", "C3 ≥2/3"),
           ("item_precision", "item precision"), ("citation_precision", "citation precision"),
           ("answers_with_citation", "cites ≥1"), ("refusal_rate", "refusals"),
           ("refusal_when_unsupported", "refuses unsupported"), ("stopped_rate", "stops"),
           ("new_tokens_mean", "tokens/answer"), ("latency_mean_s", "latency s")]


def markdown_table(summary: dict[str, dict]) -> str:
    cols = [(key, name) for key, name in METRICS if any(key in s for s in summary.values())]
    lines = ["| generator | questions | " + " | ".join(n for _, n in cols) + " |",
             "| --- | ---: | " + " | ".join("---:" for _ in cols) + " |"]
    for label, s in summary.items():
        cells = []
        for key, _ in cols:
            v = s.get(key)
            cells.append("–" if v is None else f"{v:.1f}" if key in ("latency_mean_s", "new_tokens_mean")
                         else f"{100 * v:.1f}%")
        lines.append(f"| {label} | {s['questions']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def bar_chart(summary: dict[str, dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [("criterion_1", "C1"), ("criterion_2", "C2"), ("criterion_3", "C3"), ("item_precision", "item prec."),
            ("citation_precision", "citation prec."), ("refusal_rate", "refusals")]
    if any("refusal_when_unsupported" in s for s in summary.values()):
        keys.append(("refusal_when_unsupported", "refuses unsupp."))
    fig, ax = plt.subplots(figsize=(max(7, 1.6 * len(keys)), 4.2))
    width = 0.8 / max(len(summary), 1)
    for i, (label, s) in enumerate(summary.items()):
        xs = [j + i * width for j in range(len(keys))]
        ys = [100 * (s.get(k) or 0) for k, _ in keys]
        bars = ax.bar(xs, ys, width, label=label)
        ax.bar_label(bars, fmt="%.0f", fontsize=7)
    ax.set_xticks([j + width * (len(summary) - 1) / 2 for j in range(len(keys))], [n for _, n in keys])
    ax.set_ylabel("%")
    ax.set_ylim(0, 105)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
