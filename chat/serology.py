"""A hepatitis B serology result (乙肝两对半, 五项) read from a message, and the KB's sentence on its pattern.

People copy their five markers in many forms: "两对半245阳性", "1、3、5阳性", "第二项弱阳性，其他全部阴性",
"乙肝表面抗原呈阴性（-）；乙肝表面抗体呈阳性（+）…", "表面抗体阳性，其他都是阴性". `read` turns them into
which of the five are positive (only when every marker is told, or the rest are said or implied negative), and
`sentence` picks the sentence of the exam entry's 临床意义 that names that pattern: the answer quotes it and cites
it, never an interpretation of its own. A pattern the entry does not name gets nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ENTRY = "乙肝两对半"  # the exam entity whose 临床意义 names the patterns (the demo KB's; kb/demo/exams.jsonl)
SECTION = "临床意义"

# The five markers in their order on a report, each as messages name it.
MARKERS = (
    (1, r"表面抗原|HBs\s*Ag|HBsAg"),
    (2, r"表面抗体|抗\s*-?\s*HBs|HBs\s*Ab|HBsAb"),
    (3, r"[eE]\s*抗原|HBe\s*Ag|HBeAg"),
    (4, r"[eE]\s*抗体|抗\s*-?\s*HBe|HBe\s*Ab|HBeAb"),
    (5, r"核心抗体|抗\s*-?\s*HBc|HBc\s*Ab|HBcAb"),
)
_NAMES = {1: "表面抗原", 2: "表面抗体", 3: "e抗原", 4: "e抗体", 5: "核心抗体"}
_POSITIVE = r"(弱阳性?|阳性|阳|\(\s*\+\s*\)|（\s*\+\s*）|\+)"
_NEGATIVE = r"(阴性|阴|\(\s*-\s*\)|（\s*-\s*）|-)"
_MARKER = re.compile("|".join(f"(?P<m{n}>{p})" for n, p in MARKERS), re.I)
_RESULT = re.compile(rf"^[^，。,；;、\d]{{0,6}}?(?P<res>(-/\+|\+/-)|{_POSITIVE}|{_NEGATIVE})")
# "两对半245阳性", "乙肝五项1、3、5阳性", "第二项弱阳性": which numbered markers are positive
# (a marker's number: 1-5, or 第一…第五; "五项" alone is the test's name)
_NUMBER = r"(第\s*[1-5一二三四五]|[1-5])\s*项?"
_NUMBERED = re.compile(rf"(两对半|五项|乙肝)[^。？?！!]{{0,12}}?(?P<nums>{_NUMBER}(\s*[、，,和及与跟]?\s*{_NUMBER}){{0,4}})"
                       r"\s*(都|均)?\s*(是|为|呈)?\s*(?P<weak>弱)?阳")
_ALL_NEGATIVE = re.compile(r"(两对半|五项)[^。？?！!，,]{0,6}?(全|都|全部|均)(是|为|呈)?阴")
_REST_NEGATIVE = re.compile(r"(其他|其余|其它|别的|剩下的)[^，。,；;]{0,4}(都|全|全部|均)?(是)?阴")
_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5}

# The 临床意义 sentence for each pattern of positives starts with these words (see kb/demo/exams.jsonl).
PATTERNS = (
    (frozenset({2}), "只有表面抗体阳性"),
    (frozenset({2, 4, 5}), "表面抗体、e抗体、核心抗体阳性"),
    (frozenset({2, 5}), "表面抗体、e抗体、核心抗体阳性"),
    (frozenset({1, 3, 5}), "表面抗原、e抗原、核心抗体阳性"),
    (frozenset({1, 4, 5}), "表面抗原、e抗体、核心抗体阳性"),
    (frozenset({1, 5}), "表面抗原、核心抗体阳性"),
    (frozenset({5}), "只有核心抗体阳性"),
    (frozenset({4, 5}), "只有核心抗体阳性"),
    (frozenset(), "五项全部阴性"),
)
WEAK = "弱阳性"


@dataclass(frozen=True)
class Result:
    positive: frozenset[int]
    weak: bool  # a marker was weakly positive

    def told(self) -> str:
        """The result as the answer repeats it ("表面抗体阳性，其余阴性")."""
        if not self.positive:
            return "五项都阴性"
        names = "、".join(_NAMES[n] for n in sorted(self.positive))
        return f"{names}阳性" + ("（有弱阳性）" if self.weak else "") + ("，其余阴性" if len(self.positive) < 5 else "")


def read(text: str) -> Result | None:
    """The five markers `text` tells, or None when it does not tell all of them (none is guessed)."""
    state: dict[int, bool] = {}
    weak = False
    if _ALL_NEGATIVE.search(text):
        state = {n: False for n in range(1, 6)}  # "乙肝两对半五项全是阴性"
    numbered = _NUMBERED.search(text)
    if numbered:
        nums = {int(c) if c.isdigit() else _DIGITS[c] for c in re.findall(r"[1-5一二三四五]", numbered.group("nums"))}
        state = {n: n in nums for n in range(1, 6)}  # "245阳性": the others are negative
        weak = bool(numbered.group("weak"))
    for m in _MARKER.finditer(text):
        n = next(int(k[1]) for k, v in m.groupdict().items() if v)
        result = _RESULT.match(text[m.end():])
        if not result:
            continue
        res = result.group("res")
        weak = weak or res.startswith("弱") or res in ("-/+", "+/-")
        state[n] = bool(re.match(_POSITIVE, res)) or res in ("-/+", "+/-")
    if state and len(state) < 5 and _REST_NEGATIVE.search(text):
        state = {n: state.get(n, False) for n in range(1, 6)}
    if len(state) < 5:
        return None
    return Result(frozenset(n for n, on in state.items() if on), weak)


def sentence(result: Result, text: str) -> str:
    """The sentence of the entry's 临床意义 `text` that names this pattern, "" when it names none."""
    key = next((k for pattern, k in PATTERNS if pattern == result.positive), None)
    return next((s.strip() for s in re.findall(r"[^。]+。", text) if key and s.strip().startswith(key)), "")


def weak_sentence(text: str) -> str:
    """The sentence of `text` on a weakly positive result, "" when it has none."""
    return next((s.strip() for s in re.findall(r"[^。]+。", text) if s.strip().startswith(WEAK)), "")


def item(result: Result, said: str) -> str:
    """The result as told and the entry's sentence for it: one item of the answer's report line (chat.values)."""
    return f"乙肝两对半（五项）{result.told()}：知识库中写到“{said.rstrip('。')}”"


def weak_item(said: str) -> str:
    """The entry's sentence on a weakly positive marker, as one more item of the report line."""
    return f"其中的弱阳性：知识库中写到“{said.rstrip('。')}”"
