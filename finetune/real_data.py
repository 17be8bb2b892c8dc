"""Retrieval-augmented examples whose questions are real patients' messages (`finetune data --real FILE`).

    training_questions(questions, eval_n, eval_seed)  -> (questions to train on, how many were excluded)
    real_examples(pipeline, questions, ...)           -> Iterator[dict]   chat-messages examples

The file is what `chat eval --real FILE` reads (Toyhom CSV or JSONL); the questions that `chat eval --real FILE
--n EVAL_N --seed EVAL_SEED` samples (by the same `sample` function) are never trained on, nor any question of
the same text. Each remaining question goes through the chat pipeline (extractive generator) and becomes one
example:

    prompt   chat's generation prompt (`finetune.prompts.rag_messages` -> `chat.generators.chat_messages`)
             over the passages the pipeline numbered for the generator
    target   the body the pipeline's sentence selection produced: the quoted sentences with their [n]
             citations (`chat.pipeline.render_body`), without the triage notice, notes or disclaimer,
             which the pipeline adds itself; kind "real"
    refusal  where the pipeline found no support: chat's REFUSAL, with the top retrieved passages shown;
             kind "real_refusal"

Emergencies, ask-backs and findings answers (a list of possible conditions, built by the pipeline, not the
generator) are skipped and counted. A quoted sentence the clipped prompt passage does not show is left out of
the target, so a target never says what its prompt does not.

Splits: an example goes to the split of its main cited entity (`finetune.data.split_of`; for a refusal, the
first entity the question names, else the top passage's). Passages of entities of other splits are taken out
of the prompt (citations renumbered); an example that cites entities of two splits, or whose question names a
held-out (dev/test) entity of another split, is dropped and counted, so a held-out entity never appears in a
training example (a dev or test question may name a training entity). Each question text is
used once.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence

from chat.answer import REFUSAL, Answer
from chat.generators import PASSAGE_CHARS as CHAT_PASSAGE_CHARS
from chat.pipeline import render_body
from chat.real_questions import RealQuestion, sample
from finetune.data import split_of
from finetune.prompts import clip, rag_messages
from retriever.hits import Passage

EVAL_N = 500  # the evaluation sample of `chat eval --real FILE --n 500 --seed 0`
EVAL_SEED = 0
QUESTION_TYPES = ("drug", "disease", "exam")


def _key(question: str) -> str:
    return "".join(question.split())


def training_questions(questions: Sequence[RealQuestion], eval_n: int = EVAL_N, eval_seed: int = EVAL_SEED,
                       n: int | None = None, seed: int = 0) -> tuple[list[RealQuestion], int]:
    """The questions not in the evaluation sample of `eval_n` (0: none) by `eval_seed`, nor of the same text as
    one, each text once; `n` of them drawn by `seed` (all when None). Returns them and how many questions the
    exclusion removed."""
    held_out = {_key(q.question) for q in sample(list(questions), eval_n, eval_seed)} if eval_n else set()
    seen: set[str] = set()
    kept = []
    for q in questions:
        key = _key(q.question)
        if key not in held_out and key not in seen:
            seen.add(key)
            kept.append(q)
    excluded = sum(_key(q.question) in held_out for q in questions)
    return sample(kept, n, seed), excluded


def real_examples(pipeline, questions: Iterable[RealQuestion], *, max_chars: int = CHAT_PASSAGE_CHARS,
                  k: int = 3, counters: Counter | None = None, refusal_share: float | None = None,
                  progress: Callable[[], None] | None = None) -> Iterator[dict]:
    """One example per question the pipeline answers from passages or refuses (see the module docstring).

    refusal_share: at most this share of the examples are refusals (the rest are dropped, counted): a KB that
    lacks most of what people ask would otherwise teach a model mostly to decline."""
    counters = counters if counters is not None else Counter()
    link = pipeline.retriever.link_entities
    held: list[dict] = []  # refusals over the share wait for answers to come (questions come in any order)
    shown = {"real": 0, "real_refusal": 0}

    def room() -> bool:
        return refusal_share is None or shown["real_refusal"] + 1 <= refusal_share * (sum(shown.values()) + 1)

    for q in questions:
        answer = pipeline.answer(q.question)
        named = [m for m in link(q.question) if m.entity_type in QUESTION_TYPES]
        example = example_of(answer, named, max_chars=max_chars, k=k, counters=counters)
        if example is not None:
            example = {**example, "line": q.line, "department": q.department}
            if example["kind"] == "real_refusal" and not room():
                held.append(example)
            else:
                shown[example["kind"]] += 1
                yield example
            while held and room():
                shown["real_refusal"] += 1
                yield held.pop(0)
        if progress:
            progress()
    if held:  # more refusals than the share allows: counted, not written
        counters["real_refusal"] -= len(held)
        counters["real_dropped_refusal_over_share"] += len(held)


def example_of(answer: Answer, named: Sequence = (), *, max_chars: int = CHAT_PASSAGE_CHARS, k: int = 3,
               counters: Counter | None = None) -> dict | None:
    """The example an answer gives (None, counted, when it gives none); `named`: the question's entity mentions."""
    counters = counters if counters is not None else Counter()
    skip = _skip_reason(answer)
    if skip:
        counters[f"real_skipped_{skip}"] += 1
        return None
    gen = answer.generation
    if answer.refused:
        shown = gen.passages or gen.retrieved[:k]
        main = (named[0].entity_type, named[0].entity_name) if named else \
            (shown[0].entity_type, shown[0].entity_name) if shown else None
        claims = []
    else:
        claims = [c for c in gen.claims if _shown(c, gen.passages, max_chars)]
        if not claims:
            counters["real_skipped_nothing_shown"] += 1  # every quoted sentence lies past the clipped text
            return None
        shown = gen.passages
        first = shown[claims[0].cited[0] - 1]
        main = (first.entity_type, first.entity_name)
    if main is None:
        counters["real_skipped_no_passages"] += 1
        return None
    split = split_of(*main)
    cited = {n for c in claims for n in c.cited}
    if any(split_of(shown[n - 1].entity_type, shown[n - 1].entity_name) != split for n in cited):
        counters["real_dropped_cited_across_splits"] += 1
        return None
    if any(split_of(m.entity_type, m.entity_name) not in (split, "train") for m in named):
        counters["real_dropped_names_held_out_entity"] += 1  # a dev/test entity named outside its split
        return None
    keep = [n for n, p in enumerate(shown, 1) if n in cited or split_of(p.entity_type, p.entity_name) == split]
    if answer.refused:
        keep = keep[:k]
    if not keep:
        counters["real_skipped_no_passages"] += 1
        return None
    number = {old: new for new, old in enumerate(keep, 1)}
    passages = [shown[n - 1] for n in keep]
    if claims:
        target = render_body([dataclasses.replace(c, cited=[number[n] for n in c.cited]) for c in claims])
        kind, lead = "real", passages[number[claims[0].cited[0]] - 1]
    else:
        target, kind, lead = REFUSAL, "real_refusal", passages[0]
    counters[kind] += 1
    messages = rag_messages(gen.question or answer.question, passages, target, max_chars, gen.patient)
    return {"split": split, "kind": kind, "entity_id": lead.entity_id if claims else None,
            "entity": main[1], "entity_type": main[0], "section": lead.section if claims else "",
            "question": answer.question, "passage_ids": [p.id for p in passages],
            "gold_passage_ids": [passages[number[n] - 1].id for n in sorted(cited)], "messages": messages}


def _skip_reason(answer: Answer) -> str:
    if answer.triage:
        return "emergency"
    if answer.mode in ("inquiry", "diagnosis"):
        return "asked_back" if answer.mode == "inquiry" else "findings_answer"
    if answer.generation is None:
        return "no_retrieval"  # answered before retrieval (a language notice)
    if answer.refused and REFUSAL not in answer.text and answer.mode != "guidance":
        return "other_refusal"  # e.g. a dose not answered from a stale index (guidance is the KB's silence too)
    return ""


def _shown(claim, passages: Sequence[Passage], max_chars: int) -> bool:
    """Whether the claim's sentence (less the generator's "X的Y：" lead) is in its cited passages as the prompt
    shows them; a list cut short ("A、B等。") counts when every item is."""
    for n in claim.cited:
        if not 1 <= n <= len(passages):
            return False
        p = passages[n - 1]
        seen = _compact(clip(p, max_chars).text.rstrip("…"))
        text = claim.text.removeprefix(f"{p.entity_name}的{p.section}：")
        text = _compact(text).rstrip("。！？!?；;，,")
        parts = text.removesuffix("等").split("、") if text.endswith("等") else [text]
        if not all(part in seen for part in parts):
            return False
    return bool(claim.cited)


def _compact(text: str) -> str:
    return "".join(text.split())

