"""Citation verification: every sentence of a generated answer must cite a passage that supports it.

An answer is split into claims (sentences, with the [n] marks that follow them). A claim is kept only
when it cites at least one of the numbered passages and
  - most of its content (character bigrams, connective words aside) appears in the cited passages,
  - every number in it (doses, frequencies, ages, durations) appears in a cited passage exactly, and
  - every negation in it ("不", "禁用", "无") appears in a cited passage, so "可以用" cannot be
    verified against "禁用".
Everything else is removed and reported, never silently kept: a small model's fluent guess and an
instruction smuggled into a label end up in `Verification.removed`, not in the answer.

Verification is also done while streaming (`verify_stream`): text is buffered to the end of each
claim and only verified claims are passed on, so a streamed answer never shows what the final
answer would not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

from kb.names import fold
from retriever.hits import Passage
from retriever.passages import SENTENCE_END
from retriever.words import DENIAL_CHARS

MIN_SUPPORT = 0.6  # share of a claim's content bigrams that must occur in its cited passages
# A citation mark: [1], ［2］, 【3】, [1,2], [1、3] (finetune scores answers with the same pattern).
CITATION = re.compile(r"[\[［【]\s*(\d{1,2}(?:\s*[,，、]\s*\d{1,2})*)\s*[\]］】]")
_CITE = re.compile(r"\s*" + CITATION.pattern)
_END = "。！？!?；;\n"
# Connective words that a composed sentence adds around quoted content; they carry no claim.
_CONNECTIVES = re.compile(
    r"(根据|资料|知识库|说明书|中|写明|提到|显示|指出|记载|包括|包含|主要|常见|常用|通常|一般|可能|可以|需要|"
    r"建议|就诊|科室|症状|检查|药物|以及|和|与|及|或|等|的|是|为|有|了|：|:|，|,|、|“|”|「|」|\s)"
)
_UNIT = (r"(?:mg|μg|ug|g|ml|iu|u|kg|%|次|片|粒|袋|支|滴|丸|包|瓶|毫升|毫克|微克|克|单位|日|天|周|个月|月|年|小时|"
         r"分钟|岁|倍|度|℃)?")
# A number with the unit that follows it: "0.5g" must be in the passage as "0.5g", not as "0.5" in "0.5ml".
_NUMBER = re.compile(r"(?<![\d.])\d+(?:\.\d+)?\s*" + _UNIT)
_CN_NUMBER = re.compile(r"[零一二两三四五六七八九十百千万半]+\s*(?:次|片|粒|袋|支|滴|丸|包|瓶|毫升|毫克|微克|克|"
                        r"日|天|周|个月|小时|岁|倍)")
_PARTIAL_CITE = re.compile(r"\s*[\[［【]\s*[\d,，、\s]*$")




@dataclass
class Claim:
    text: str  # the sentence without its citation marks
    cited: list[int]  # passage numbers, 1-based, in the order written
    raw: str  # the sentence as written, marks included
    support: float = 0.0
    problem: str = ""  # why it was removed; "" when kept

    @property
    def ok(self) -> bool:
        return not self.problem


@dataclass
class Verification:
    kept: list[Claim] = field(default_factory=list)
    removed: list[Claim] = field(default_factory=list)

    @property
    def text(self) -> str:
        return render(self.kept)

    @property
    def cited(self) -> list[int]:
        """Passage numbers the kept claims cite, in first-cited order."""
        return list(dict.fromkeys(n for c in self.kept for n in c.cited))


def split_claims(text: str) -> list[Claim]:
    """Sentences with the [n] marks that follow (or end) them: "…。[1][2]" and "…[1]。" both cite 1."""
    claims, pos = [], 0
    text = text.replace("\r", "")
    while pos < len(text):
        end = _claim_end(text, pos)
        if end is None:
            end = len(text)
        raw = text[pos:end]
        pos = end
        cited = [int(n) for m in _CITE.finditer(raw) for n in re.split(r"\s*[,，、]\s*", m.group(1))]
        body = _CITE.sub("", raw).strip(" \t\n")
        if body.strip("。！？!?；;，,、：:- *#>"):
            claims.append(Claim(body, list(dict.fromkeys(cited)), raw.strip()))
    return claims


def _claim_end(text: str, pos: int, final: bool = True) -> int | None:
    """Index just past the claim starting at `pos` (its end mark and any citation marks after it),
    or None when the text ends first (a streaming caller then waits for more)."""
    i = pos
    while i < len(text):
        if text[i] in _END:
            j = i + 1
            while True:
                m = _CITE.match(text, j)
                if not m:
                    break
                j = m.end()
            if not final and (j == len(text) or _PARTIAL_CITE.match(text, j)):
                return None  # a citation mark may still follow
            return j
        i += 1
    return None


def bigrams(text: str) -> set[str]:
    """Character bigrams of the CJK and alphanumeric runs; single characters for one-character runs."""
    grams = set()
    for run in re.findall(r"[\u4e00-\u9fff]+|[a-z0-9.%]+", fold(text)):
        if re.match(r"[a-z0-9]", run):
            grams.add(run)
        elif len(run) == 1:
            grams.add(run)
        else:
            grams.update(run[i:i + 2] for i in range(len(run) - 1))
    return grams


def numbers(text: str) -> list[str]:
    """Numbers with their units, spaces removed: "一次 0.5 g" gives "0.5g"; "一日3次" gives "3次"."""
    text = fold(text)
    found = [m.group(0) for m in _NUMBER.finditer(text)] + [m.group(0) for m in _CN_NUMBER.finditer(text)]
    return [re.sub(r"\s+", "", n) for n in found]


def _compact(text: str) -> str:
    """Spaces out ("0.5 g" is "0.5g"), except after list numbering ("2. 5-羟色胺" is not 2.5)."""
    return re.sub(r"(?<!\d\.)\s+", "", text)


def _has_number(number: str, passage_text: str) -> bool:
    """`number` occurs in the passage as a whole ("5" is not found inside "0.5" or "15")."""
    compact = _compact(passage_text)
    pattern = re.escape(number)
    if number[0].isdigit():
        pattern = r"(?<!\d)(?<!\d\.)" + pattern  # not the "5" of "0.5"
    if number[-1].isdigit():
        pattern += r"(?!\d|\.\d)"  # not the "1" of "1.5", but the "1" of "1. 恶心"
    return re.search(pattern, compact) is not None


# Whom a dose is for: the claim's population must be in the same sentence as its numbers.
_POPULATION = re.compile(r"成人|成年人|儿童|小儿|幼儿|婴幼儿|婴儿|新生儿|早产儿|老年|老人|孕妇|妊娠|哺乳|青少年|"
                         r"\d+(?:\.\d+)?\s*(?:～|~|-|至)?\s*\d*\s*(?:岁|个月|周)|肾功能|肝功能")
_HAN_BEFORE = re.compile(r"[\u4e00-\u9fff]{1,2}$")


def dose_unbound(claim: str, passages: Iterable[Passage]) -> str:
    """Why the claim's numbers are not stated together in its cited text, or "" when they are.

    A dose is checked as a whole, not number by number: one sentence of a cited passage (with its
    lead-in when that ends in a colon) must hold every number of the claim, each with the
    characters written right before it ("一次4g" is not "一次0.5g…不超过4g"), and the population the claim
    names ("3个月以下婴儿…40mg/kg" is not the sentence that gives 3个月以下婴儿 30mg/kg)."""
    text = _compact(fold(claim))
    bound = []  # (number with unit, the Han characters written right before it)
    for m in _NUMBER.finditer(text):
        number = m.group(0)
        if not number[:1].isdigit():
            continue
        before = _HAN_BEFORE.search(text[: m.start()])
        bound.append((number, before.group(0) if before else ""))
    if not bound:
        return ""
    groups = [g for g in _POPULATION.findall(text) if g and not g[:1].isdigit()]
    sentences = []
    for p in passages:
        parts = [_compact(x) for x in SENTENCE_END.split(fold(p.text)) if x.strip()]
        # a lead-in ending in a colon belongs with what follows ("用法用量：\n成人一次…")
        sentences += parts + [parts[i] + parts[i + 1] for i in range(len(parts) - 1) if parts[i].endswith((":", "："))]
    for sentence in sentences:
        if all(_has_number(n, sentence) and (not ctx or ctx + n in sentence) for n, ctx in bound) \
                and all(g in sentence for g in groups):
            return ""
    shown = "、".join(c + n for n, c in bound)
    return f"dose {shown}" + (f" for {'、'.join(groups)}" if groups else "") + " is not stated so in one cited sentence"


_NEGATION = re.compile(rf"(避免|停用|慎用)|([{DENIAL_CHARS}禁忌勿非])([\u4e00-\u9fff]?)")


def _negations_ok(claim: str, passage_text: str) -> str:
    """The first negation of the claim (with the character after it) that the passage lacks, or ""."""
    # the one-character denials of `retriever.words` and a label's prohibitions (禁, 忌, 勿, 非)
    for m in _NEGATION.finditer(claim):
        phrase = m.group(0).rstrip("等及和与")  # "尿失禁等": the 等 of a shortened list is no part of the negation
        if phrase not in passage_text:
            return phrase
    return ""


def support(claim: str, passages: Iterable[Passage]) -> float:
    """Share of the claim's content bigrams found in the passages (connective words removed)."""
    content = bigrams(_CONNECTIVES.sub(" ", claim))
    if not content:
        return 1.0 if claim.strip() else 0.0
    found = set().union(*(bigrams(p.text) for p in passages)) if passages else set()
    return len(content & found) / len(content)


# "高血压的护理：" before a sentence: the entity and section it comes from, as the quoting generator writes them
HEADING = re.compile(r"^(?P<entity>[^：:。]{1,40})的(?P<section>[^：:。]{1,12})[：:]")


def check(claim: Claim, numbered: dict[int, Passage], min_support: float = MIN_SUPPORT) -> Claim:
    """Fill `support` and `problem` (empty when the claim may stay)."""
    if not claim.cited:
        claim.problem = "no citation"
        return claim
    missing = [n for n in claim.cited if n not in numbered]
    if missing:
        claim.problem = f"cites [{missing[0]}], which is not one of the passages"
        return claim
    cited = [numbered[n] for n in claim.cited]
    # A heading must name the cited passage, and the sentence after it must be supported on its own: the
    # entity's name would otherwise carry a few made-up words ("消化性溃疡的就诊：就诊医院[3]").
    heading = HEADING.match(claim.text)
    body = claim.text[heading.end():] if heading else claim.text
    claim.support = support(body, cited)
    joined = fold("\n".join(p.text for p in cited))
    if heading and not all(fold(name) in joined for name in heading.group("entity", "section")):
        claim.problem = f"heading '{heading.group(0)[:-1]}' does not name the cited passage"
        return claim
    if heading and not re.search(r"\w", body):
        claim.problem = "nothing after the heading"
        return claim
    for number in numbers(claim.text):
        if not _has_number(number, joined):
            claim.problem = f"number {number} is not in the cited passage"
            return claim
    unbound = dose_unbound(claim.text, cited)
    if unbound:
        claim.problem = unbound
        return claim
    negation = _negations_ok(fold(claim.text), joined)
    if negation:
        claim.problem = f"'{negation}' is not in the cited passage"
        return claim
    if claim.support < min_support:
        claim.problem = f"support {claim.support:.2f} < {min_support}"
    return claim


def verify(text: str, numbered: dict[int, Passage], min_support: float = MIN_SUPPORT) -> Verification:
    result = Verification()
    for claim in split_claims(text):
        check(claim, numbered, min_support)
        (result.kept if claim.ok else result.removed).append(claim)
    return result


def render(claims: list[Claim]) -> str:
    """Kept claims back into text ("…。[1]"); a new line where the cited passage changes."""
    out, last = [], None
    for c in claims:
        if out and c.cited[:1] != last:
            out.append("\n")
        out.append(render_claim(c))
        last = c.cited[:1]
    return "".join(out)


def render_claim(claim: Claim) -> str:
    """"口服[1]。": the marks stand inside the sentence they cite, so "口服。[1]成人…" cannot read as
    citing the next one."""
    text = claim.text.rstrip("".join(c for c in _END if c != "\n"))
    end = claim.text[len(text):] or "。"
    return text + "".join(f"[{n}]" for n in claim.cited) + end


def verify_stream(pieces: Iterable[str], numbered: dict[int, Passage], on_removed: Callable[[Claim], None],
                  min_support: float = MIN_SUPPORT) -> Iterator[Claim]:
    """Verified claims as soon as each is complete; removed ones go to `on_removed`."""
    buffer = ""
    for piece in pieces:
        buffer += piece
        while True:
            end = _claim_end(buffer, 0, final=False)
            if end is None:
                break
            chunk, buffer = buffer[:end], buffer[end:]
            yield from _checked(chunk, numbered, on_removed, min_support)
    if buffer.strip():
        yield from _checked(buffer, numbered, on_removed, min_support)


def _checked(chunk: str, numbered, on_removed, min_support) -> Iterator[Claim]:
    for claim in split_claims(chunk):
        check(claim, numbered, min_support)
        if claim.ok:
            yield claim
        else:
            on_removed(claim)
