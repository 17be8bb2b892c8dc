"""The prompt format: training uses the one that chat's generators use at inference.

A retrieval-augmented prompt is `chat.generators.chat_messages` (chat's system prompt, passages
numbered [1].., then the question) — defined once, in chat, because chat cannot import finetune and
the tuned model must see at inference exactly the layout it was trained on. This module only clips the
passages (every prompt token costs training time on a CPU) and adds what chat has no use for:
closed-book messages, the refusal target and the helpers that score answers.

An example is a list of chat messages ({"role", "content"}), so any model's own chat template renders it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from chat.answer import REFUSAL
from chat.citations import CITATION
from chat.generators import GenerationRequest, chat_messages
from retriever.hits import Passage

__all__ = ["REFUSAL", "REFUSAL_MARKERS", "SYSTEM_CLOSED", "PASSAGE_CHARS", "CITATION", "clip", "rag_messages",
           "closed_book_messages", "cited_numbers", "is_refusal"]

# The refusal target is the sentence chat itself says (chat.answer.REFUSAL), so the tuned model learns it.
SYSTEM_CLOSED = "你是医学知识问答助手。请简洁、准确地回答。"
PASSAGE_CHARS = 120  # chat renders up to 220; shorter here keeps a CPU hour of training to ~1k examples

# Phrases by which an answer declines; used to score refusals, whichever generator wrote them.
REFUSAL_MARKERS = ("资料中没有", "没有相关信息", "无法根据", "无法回答", "知识库中没有", "未找到相关", "不能回答", "不作回答")


def clip(passage: Passage, max_chars: int = PASSAGE_CHARS) -> Passage:
    """The passage as the prompt shows it: at most `max_chars` characters ("…" marks a cut)."""
    text = " ".join(passage.text.split())
    if len(text) > max_chars:
        text = text[: max_chars - 1] + "…"
    return dataclasses.replace(passage, text=text)


def rag_messages(question: str, passages: Sequence[Passage], answer: str | None = None,
                 max_chars: int = PASSAGE_CHARS, patient: str = "") -> list[dict]:
    """chat's messages for numbered passages + question (+ the patient's facts, as the pipeline passes them);
    with `answer`, a complete training example."""
    request = GenerationRequest(question=question, passages=[clip(p, max_chars) for p in passages],
                                patient=patient)
    messages = chat_messages(request)
    if answer is not None:
        messages.append({"role": "assistant", "content": answer})
    return messages


def closed_book_messages(question: str, answer: str | None = None) -> list[dict]:
    """Messages for a question asked without passages (QiZhenGPT style)."""
    messages = [{"role": "system", "content": SYSTEM_CLOSED}, {"role": "user", "content": question}]
    if answer is not None:
        messages.append({"role": "assistant", "content": answer})
    return messages


def cited_numbers(answer: str) -> list[int]:
    """The passage numbers an answer cites, in order of first citation."""
    return list(dict.fromkeys(int(n) for group in CITATION.findall(answer) for n in re.findall(r"\d+", group)))


def is_refusal(answer: str) -> bool:
    """An answer that declines says so first; a marker later on (a base model echoing chat's system
    prompt, "资料中没有的内容不要回答") is not a refusal."""
    first = re.split(r"[。！？!?\n]", answer.strip(), maxsplit=1)[0]
    return any(m in first for m in REFUSAL_MARKERS)
