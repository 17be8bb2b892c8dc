"""Sentence selection: quote the sentences that answer the question, not whole sections.

A section of a label can run to twenty sentences; "布洛芬和阿司匹林能一起吃吗" is answered by the one
or two of them that name the other drug. The focus of a question is what the query analysis left after
taking out names, section cues and asking words ("空腹", "喝酒"), the other drugs it names (for an
interaction, each label's sentences naming the other come first), the findings it reports, and the
patient's group (a child's dose line before the adult's). Sentences with a focus word lead, in passage
order; the rest follow in order, up to `MAX_SENTENCES` in all. Selection only chooses and orders whole
sentences of the passages: every quoted sentence is still verified and cited.

A drug's list sections (`LIST_SECTIONS`: indications, contraindications, adverse reactions, interactions) are
lists a person needs whole: every sentence of their passages is quoted, never cut at the sentence or
character budget, which applies to prose. The passages come highest-ranked source first (chat/support.py),
a lower source holding only what the higher lacks (retriever/passages.py `settle`), and are quoted in that
order: focus words reorder sentences within one source's list, never a lower source's before a higher one's.

A quoting generator names a passage's entity and section ("高血压的治疗方式：") only where the entity or section
changes; an item list of a second passage of the same section (a lower source's, or a later chunk) would stand
bare ("药物治疗、支持性治疗[4]。"), a list that states nothing. `labelled` gives such a list its "X的Y：".
"""

from __future__ import annotations

import re

from chat.patient import core_names
from retriever.analysis import QueryAnalysis
from retriever.hits import Passage
from retriever.passages import SENTENCE_END

MAX_SENTENCES = 6
PERSONAL_SENTENCES = 4  # for a person's own story, whose answer also asks and says when not to wait
MAX_CHARS = 400  # about a phone screen of answer text
MAX_ITEMS = 10
LIST_SECTIONS = ("适应症", "禁忌", "不良反应", "药物相互作用")  # a drug's lists: answered whole
_GROUP_WORDS = {"child": ("儿童", "小儿", "婴儿", "幼儿", "岁以下", "岁以上"), "pregnant": ("孕妇", "妊娠", "哺乳"),
                "elderly": ("老年", "老人")}

def split_sentences(text: str) -> list[str]:
    """Sentences of a passage body; list numbering stays with its item ("1. 恶心……。"), and a lead-in
    ending in a colon stays with what follows ("下列感染：…")."""
    text = re.sub(r"\s*\n\s*", "\n", text.strip())
    parts = [p.strip() for p in SENTENCE_END.split(text) if p.strip().strip("。；;")]
    merged: list[str] = []
    for part in parts:
        if merged and (merged[-1].rstrip()[-1:] in ":：" or re.fullmatch(r"[(（]?\d{1,2}[.．、)）]?", merged[-1])):
            merged[-1] = merged[-1].rstrip() + part
        else:
            merged.append(part)
    return merged


def focus_words(analysis: QueryAnalysis, passage: Passage, groups: tuple[str, ...] = ()) -> list[str]:
    """What a sentence of `passage` should mention to answer this question (see the module docstring)."""
    own = passage.entity_name
    words = [w for w in analysis.focus if w not in own and own not in w and w != passage.section]
    others = {m.entity_name for m in (*analysis.topics, *analysis.taking) if m.entity_id != passage.entity_id}
    words += [n for name in others for n in core_names(name) if len(n) >= 2]
    words += analysis.present
    if passage.entity_type == "drug":  # a child's dose line before the adult's; a disease text is not a dose
        words += [w for g in groups for w in _GROUP_WORDS.get(g, ())]
    return list(dict.fromkeys(words))


def is_list(passage: Passage) -> bool:
    """Whether the passage belongs to a list answered whole (LIST_SECTIONS of a drug)."""
    return passage.entity_type == "drug" and passage.section in LIST_SECTIONS


def select(analysis: QueryAnalysis, passages: list[Passage], groups: tuple[str, ...] = (),
           limit: int = MAX_SENTENCES) -> tuple[list[tuple[int, str]], bool]:
    """The sentences to quote as (passage number, sentence), in the order to quote them, and whether any
    were left out."""
    scored = []  # (leads, matches the focus, passage number, position, sentence)
    whole = []  # the same, of lists answered whole
    seen = set()
    for n, p in enumerate(passages, 1):
        focus = focus_words(analysis, p, groups)
        listed = is_list(p)
        for i, sentence in enumerate(split_sentences(p.body)):
            if sentence in seen:
                continue  # two origins often hold the same label sentence
            seen.add(sentence)
            matched = any(w in sentence for w in focus)
            # an item list (症状, 检查, 常用药物) is the section's answer itself: it leads too
            (whole if listed else scored).append(
                (matched or bool(p.items), matched, n, i, sentence if listed else _short_list(sentence, p, focus)))
    key = lambda s: (not s[1], not s[0], s[2], s[3])  # noqa: E731
    chosen, chars = [], 0
    for item in sorted(scored, key=key):
        if len(chosen) >= limit or (chosen or whole) and chars + len(item[4]) > MAX_CHARS:
            break  # a few long overview sentences are as much as a reader takes in
        chosen.append(item)
        chars += len(item[4])
    # a list whole, in its own order (its sentences that name the question's focus first), before any prose;
    # the highest-ranked source's all before a lower one's, whatever the focus ("什么人禁用X": a CMeKG "…禁用")
    rank = lambda s: -passages[s[2] - 1].authority  # noqa: E731
    quoted = sorted(whole, key=lambda s: (rank(s), not s[1], s[2], s[3])) + chosen
    excerpts = labelled([(n, sentence) for *_, n, _, sentence in quoted], passages)
    return excerpts, len(chosen) < len(scored)


_BARE_LIST = re.compile(r"^[^，,。；;：:]+(?:、[^，,。；;：:]+)+[。；;]?$")  # "尿频、尿急、尿痛": names, no clause


def is_item_list(sentence: str, passage: Passage) -> bool:
    """Whether `sentence` is a list and nothing more: (part of) the passage's item list ("药物治疗、支持性治疗",
    "A、B等。"), or a sentence of its text that only lists ("尿频、尿急、尿痛、发热。")."""
    if "，" in sentence or "," in sentence:
        return False
    if _BARE_LIST.match(sentence.strip()) and all(
            len(p) >= 2 and not re.search(r"\d", p) for p in sentence.strip().rstrip("。；;").split("、")):
        return True
    if not passage.items:
        return False
    parts = [p for p in re.split(r"[、；;]", sentence.strip().rstrip("。；;")) if p]
    if parts and parts[-1].endswith("等") and parts[-1] not in passage.items:
        parts[-1] = parts[-1][:-1]
    return bool(parts) and all(p in passage.items for p in parts)


def labelled(excerpts: list[tuple[int, str]], passages: list[Passage]) -> list[tuple[int, str]]:
    """The excerpts, an item list that follows another passage of the same entity and section (where a quoting
    generator writes no "X的Y：", chat/generators.py) led by its own "X的Y：", so it reads as a statement."""
    out, last = [], None
    for n, sentence in excerpts:
        p = passages[n - 1]
        if last is not None and n != last:
            before = passages[last - 1]
            if (before.entity_id, before.section) == (p.entity_id, p.section) and is_item_list(sentence, p):
                sentence = f"{p.entity_name}的{p.section}：{sentence}"
        out.append((n, sentence))
        last = n
    return out


def _short_list(sentence: str, passage: Passage, focus: list[str]) -> str:
    """A long item list cut to its first `MAX_ITEMS` items, those the question mentions first (a CMeKG
    drug list can run to forty names); other sentences unchanged."""
    items = sentence.rstrip("。").split("、")
    if not passage.items or len(items) <= MAX_ITEMS:
        return sentence
    items.sort(key=lambda i: not any(w in i or i in w for w in focus))
    return "、".join(items[:MAX_ITEMS]) + "等。"
