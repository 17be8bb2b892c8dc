"""Ask before advising: the conversation side of an inquiry.

Findings and the ranking of diseases by them live in the retrieval index (`retriever.symptoms`); this
module reads an inquiry back from the conversation itself (what the user said, which symptom the last
assistant message asked about), so the CLI, the UI and the stateless HTTP API share one code path, and
words the question the pipeline asks ("您是否有「咳嗽」？").
"""

from __future__ import annotations

import re

from retriever.symptoms import InquiryState, SymptomIndex
from retriever.words import DENIAL_SPOKEN, denial_alternation

QUESTION_MARK = "您是否有「"
_ASKED = re.compile(r"您是否有「([^」]+)」")
_YES = re.compile(r"^\s*(有|是|是的|对|嗯|有的|有点|有一点|会|偶尔有|经常|好像有|yes|y)\b|^\s*(有|是|对|嗯)")
# A reply that starts with a spoken denial (`retriever.words.DENIAL_SPOKEN`; "未", "否认" are no reply), or "否",
# "不是", "没感觉", "no"; a one-character one need not stand alone ("没咳", "不疼").
_NO = re.compile(rf"^\s*{denial_alternation(('否', '不是', '没感觉', 'no', 'n'), words=DENIAL_SPOKEN)}\b|"
                 rf"^\s*([{''.join(w for w in DENIAL_SPOKEN if len(w) == 1)}])")


def asked_symptom(assistant_text: str) -> str | None:
    m = _ASKED.search(assistant_text or "")
    return m.group(1) if m else None


def is_answer(text: str) -> bool | None:
    """True for "有"/"是", False for "没有"/"不", None when the reply is neither."""
    text = (text or "").strip()
    if _NO.search(text):
        return False
    if _YES.search(text):
        return True
    return None


def read_state(index: SymptomIndex, messages: list[dict]) -> InquiryState:
    """The inquiry in progress at the end of `messages` (OpenAI-style dicts, the new user turn last).

    An inquiry is the run of turns since the last assistant message that did not ask an inquiry
    question; every user turn of that run adds the findings it reports or denies, and a "有"/"没有"
    answers the symptom asked just before it. Whether a message starts an inquiry at all is the query
    analysis's call (`QueryAnalysis.kind == "findings"`), not this function's."""
    start = 0
    for i, m in enumerate(messages):
        if m["role"] == "assistant" and not asked_symptom(m["content"]):
            start = i + 1
    state = InquiryState()
    pending = None
    for m in messages[start:]:
        if m["role"] == "assistant":
            pending = asked_symptom(m["content"])
            if pending:
                state.asked.append(pending)
            continue
        if m["role"] != "user":
            continue
        present, absent = index.find(m["content"])
        if pending:
            reply = is_answer(m["content"])
            if reply is True and pending not in present:
                present.insert(0, pending)
            elif reply is False and pending not in present:
                absent.insert(0, pending)
        for s in present:
            if s not in state.present:
                state.present.append(s)
            if s in state.absent:
                state.absent.remove(s)
        for s in absent:
            if s not in state.absent and s not in state.present:
                state.absent.append(s)
        pending = None
    state.pending = pending
    return state


def question_text(symptom: str) -> str:
    """The one question put to the user; the reply "有"/"没有" is read back by `read_state`."""
    return f"为了缩小范围，想再确认一下：{QUESTION_MARK}{symptom}」？请回答“有”或“没有”，也可以补充其他症状。"
