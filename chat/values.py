"""Values a person copies from a report, set against the reference intervals the KB holds.

"谷丙转氨酶342.4", "空腹血糖10.23", "HBV-DNA 1.41*10^5": each value is read with the test it belongs to
(`read`); the 正常值 section of the test's exam entry in the KB (the demo's curated 肝功能, 血常规, 血脂…, each
interval after the test's own name) gives the interval, and `compare` says where the value lies: above the upper
limit (with how many times it, from twice), below the lower, or inside; where a man's and a woman's intervals
disagree and the sex is not known, that it depends on sex. The interval is the KB's, cited; the arithmetic is
the product's. HBV-DNA well above any assay's detection limit is read with its entry's 临床意义 ("能检测到…
说明病毒在复制"). A range the message gives itself ("55（参考值是5-40）") is chat.concern.measures_line's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from retriever.words import sentence_before


@dataclass(frozen=True)
class Test:
    label: str  # how the answer names it
    said: str  # how messages name it
    plausible: tuple[float, float]  # values outside are another unit or another test: not read
    entries: tuple[str, ...]  # the exam entities whose section holds its interval, in order
    key: str = ""  # where in that section its own interval is told ("ALT 男性9～50U/L；AST …"); "": the whole
    section: str = "正常值"


# The order matters where one name contains another: 糖化血红蛋白 before 血红蛋白, 餐后 and 空腹 before 血糖.
TESTS: tuple[Test, ...] = (
    Test("谷丙转氨酶（ALT）", r"(谷丙转氨酶|谷丙|(?<![冬门])丙氨酸(氨基)?转[移氨]酶|(?<![A-Za-z])(ALT|GPT)(?![A-Za-z]))", (1, 5000),
         ("肝功能",), "ALT"),
    Test("谷草转氨酶（AST）", r"(谷草转氨酶|谷草|天?[门冬]+氨酸(氨基)?转([移氨]酶)?|(?<![A-Za-z])(AST|GOT)(?![A-Za-z]))", (1, 5000),
         ("肝功能",), "AST"),
    Test("总胆红素", r"(总胆红素|(?<![A-Za-z])TBIL(?![A-Za-z]))", (1, 800), ("肝功能",), "总胆红素"),
    Test("糖化血红蛋白", r"(糖化血红蛋白|HbA1c)", (3, 20), ("糖化血红蛋白",), "正常参考范围"),
    Test("餐后2小时血糖", r"((餐后|饭后)\s*(两|2|二)?\s*(个)?\s*(小时|h)?\s*(的)?血糖)", (1, 40), ("口服葡萄糖耐量试验",),
         "2小时血糖"),
    Test("空腹血糖", r"(空腹(血糖|(?=\s*[:：是为]?\s*\d))|(饭前|餐前)(的)?血糖|(?<![A-Za-z])FPG(?![A-Za-z]))", (1, 35), ("空腹血糖",), "空腹血糖正常"),
    Test("血尿酸", r"(血尿酸|尿酸(?!度|检查))", (50, 1500), ("血尿酸",), "常用参考范围"),
    Test("甘油三酯", r"(甘油三酯|(?<![A-Za-z])TG(?![A-Za-z]))", (0.1, 40), ("血脂",), "甘油三酯"),
    Test("总胆固醇", r"(总胆固醇|(?<![A-Za-z])TC(?![A-Za-z]))", (1, 25), ("血脂",), "总胆固醇"),
    Test("低密度脂蛋白胆固醇", r"(低密度脂蛋白(胆固醇)?|(?<![A-Za-z])LDL(-C)?(?![A-Za-z]))", (0.2, 20), ("血脂",), "LDL-C"),
    Test("血红蛋白", r"((?<!糖化)血红蛋白(?!尿)|(?<![A-Za-z])HGB(?![A-Za-z]))", (20, 250), ("血常规",), "血红蛋白"),
    Test("白细胞", r"((?<!尿)(?<!粪便)白细胞(计数)?|(?<![A-Za-z])WBC(?![A-Za-z]))", (0.1, 300), ("血常规",), "白细胞计数"),
    Test("血小板", r"(血小板(计数)?|(?<![A-Za-z])PLT(?![A-Za-z]))", (1, 2000), ("血常规",), "血小板计数"),
    Test("血肌酐", r"((?<!尿)肌酐|(?<![A-Za-z])(Cr|CREA?)(?![A-Za-z]))", (10, 3000), ("肾功能",), "血肌酐"),
    Test("促甲状腺激素（TSH）", r"(促甲状腺(激)?素|(?<![A-Za-z])TSH(?![A-Za-z]))", (0.001, 200), ("甲状腺功能",), "TSH"),
    Test("乙肝病毒DNA", r"(HBV[\s_-]*DNA|乙肝(病毒)?\s*DNA|乙型肝炎病毒\s*DNA|DNA\s*(病毒|定量)|病毒\s*DNA|"
         r"(?<![双链核糖酸])DNA|乙肝病毒(量|定量)?(?=[^，。,]{0,4}\d))", (1000, 1e12), ("乙肝病毒DNA定量",),
         section="临床意义"),
)
_COMPILED = tuple((t, re.compile(t.said, re.I | re.S)) for t in TESTS)
_NUMBER = r"\d+(?:\.\d+)?"
# Between a test's name and its value: "是", "为", "：", "约", "]", a unit's bracket ... not another number.
_GAP = re.compile(r"[^\d，。,；？?！!\n]{0,10}?(?=\d)")
# A value with a power of ten ("1.41*10^5", "5.86??10的7次方", "2.243E+4", "10的4次方"), else a plain number.
_SCIENTIFIC = re.compile(rf"(?P<m>{_NUMBER})?\s*(?:[*×xX?？·`]+\s*)?10\s*(?:\^|的|`|\*\*)\s*(?P<e>\d+)\s*(?:次方|次幂)?|"
                         rf"(?P<m2>{_NUMBER})\s*[Ee]\s*[+]?\s*(?P<e2>\d+)")
_PLAIN = re.compile(rf"(?P<v>{_NUMBER})")
_RATIO = re.compile(r"[/／比]")
# A value told of the past: a past time is the last time word before it in its sentence ("当时谷丙转氨酶90").
_THEN_PAST = re.compile(r"(当时|那时|以前|之前|原来|去年|前年|刚发现|刚查出|[12][09]\d\d年|\d+年前)(?!.*(现在|目前|今天|最近|这次|复查))")
_HEPATITIS_B = re.compile(r"(乙肝|HBV|大三阳|小三阳|两对半|乙型肝炎)", re.I)
# "从89降到65": the value now is the last one.
_THEN = re.compile(rf"\s*(?:降到|降至|升到|升至|到了|变为|变成|→|->)\s*(?P<v>{_NUMBER})")
# The message gives the range itself: measures_line's.
_RANGE_AFTER = re.compile(rf"\s*[^\d，。,；;]{{0,3}}[（(\[【]?\s*(参考|正常)?[^\d，。,；;]{{0,4}}{_NUMBER}\s*[-~～—－]+\s*{_NUMBER}")
# A value's unit when it is told; a percentage is a ratio, not the test's usual unit (except HbA1c).
_PERCENT = re.compile(r"\s*%")


@dataclass(frozen=True)
class Reading:
    test: Test
    value: float
    said: str  # the value as written ("342.4", "1.41*10^5")


def read(text: str) -> list[Reading]:
    """The values `text` gives for the tests of TESTS, each test once (its last value), in the order told."""
    found: dict[str, tuple[int, Reading]] = {}
    taken: list[tuple[int, int]] = []  # name spans already read ("糖化血红蛋白" is not also "血红蛋白")
    for test, pattern in _COMPILED:
        for m in pattern.finditer(text):
            if any(a <= m.start() < b for a, b in taken) or (m.group() == "DNA" and not _HEPATITIS_B.search(text)):
                continue  # a bare "DNA" is the hepatitis B virus's only where the message is about hepatitis B
            if _RATIO.search(text, max(0, m.start() - 1), m.start() + 1) or _RATIO.match(text, m.end()):
                continue  # "ALT/AST 1.31": a ratio of two tests, not either's value
            if _THEN_PAST.search(sentence_before(text, m.start())):
                continue  # "2013年…当时谷丙转氨酶90…现在一切正常": a value of the past
            gap = _GAP.match(text, m.end())
            if not gap:
                continue
            at = gap.end()
            value, said = _value(text, at, scientific=test.section == "临床意义")
            if value is None or _RANGE_AFTER.match(text, at + len(said)):
                continue
            then = _THEN.match(text, at + len(said))
            if then:
                value, said = float(then.group("v")), then.group("v")
            if test.label != "糖化血红蛋白" and _PERCENT.match(text, at + len(said)):
                continue
            if not test.plausible[0] <= value <= test.plausible[1]:
                continue
            taken.append((m.start(), m.end()))
            found[test.label] = (m.start(), Reading(test, value, said))
    return [r for _, r in sorted(found.values(), key=lambda x: x[0])]


def _value(text: str, at: int, scientific: bool) -> tuple[float | None, str]:
    if scientific:
        s = _SCIENTIFIC.match(text, at)
        if s:
            if s.group("e2"):
                return float(s.group("m2")) * 10 ** int(s.group("e2")), s.group(0).strip()
            return float(s.group("m") or 1) * 10 ** int(s.group("e")), s.group(0).strip()
    p = _PLAIN.match(text, at)
    return (float(p.group("v")), p.group("v")) if p else (None, "")


# In a 正常值 section: "ALT 男性9～50U/L，女性7～40U/L", "白细胞计数 3.5～9.5×10⁹/L", "总胆固醇<5.2mmol/L",
# "正常参考范围约4%～6%", "男性约208～428μmol/L": each interval, with the sex it is for when one is named.
_INTERVAL = re.compile(rf"(?P<who>男性|女性)?[^\d<≤＜；;。男女]{{0,6}}?(?:(?P<low>{_NUMBER})\s*%?\s*[～~]\s*(?P<high>{_NUMBER})|"
                       rf"[<≤＜]\s*(?P<below>{_NUMBER}))\s*(?P<unit>[^\s；;，,。（(为]*)")
_SEGMENT_END = re.compile(r"[；;。]")


@dataclass(frozen=True)
class Interval:
    who: str  # "男性", "女性" or "" (any adult)
    low: float | None
    high: float
    unit: str


def intervals(text: str, key: str = "") -> list[Interval]:
    """The adult intervals a 正常值 passage states for one test (the part after `key`, to the next "；" or
    "。"), by sex where it names one; the first of each sex ("20～59岁" before later age bands)."""
    if key:
        at = text.find(key)
        if at < 0:
            return []
        end = _SEGMENT_END.search(text, at + len(key))
        text = text[at + len(key):end.start() if end else len(text)]
    out: dict[str, Interval] = {}
    for m in _INTERVAL.finditer(text):
        who = m.group("who") or ""
        if who not in out:
            low = float(m.group("low")) if m.group("low") else None
            out[who] = Interval(who, low, float(m.group("high") or m.group("below")), m.group("unit"))
    return list(out.values())


def compare(reading: Reading, found: list[Interval], sex: str | None = None) -> str:
    """Where `reading` lies against the intervals (its sex's when known): "" when none applies."""
    if sex in ("男", "女"):
        found = [i for i in found if i.who in (f"{sex}性", "")] or found
    if not found:
        return ""
    where = {_where(reading.value, i) for i in found}
    said = f"{reading.test.label}{reading.said}："
    if len(where) > 1:
        return said + f"是否超出参考区间要看性别（{'、'.join(i.who + _range(i) for i in found)}）"
    where = where.pop()
    if where == "high":
        limits = "、".join(f"{i.who}{_num(i.high)}" for i in found)
        times = sorted({round(reading.value / i.high, 1) for i in found})
        return said + f"高于参考区间上限（{limits}）" + (
            f"，约为上限的{'～'.join(f'{t:g}' for t in times)}倍" if 2 <= times[0] and times[-1] < 100 else "") + (
            FAR if times[0] >= FAR_TIMES else "")
    if where == "low":
        return said + f"低于参考区间下限（{'、'.join(i.who + _num(i.low) for i in found)}）" + (
            FAR if all(reading.value <= i.low / FAR_TIMES for i in found) else "")
    return said + "在参考区间内"


# Three times the upper limit (a third of the lower): not a value to watch at home, whatever it means.
FAR_TIMES = 3
FAR = "，明显超出，建议尽快（近日内）就医复查，不要拖"


def _range(i: Interval) -> str:
    return (f"{_num(i.low)}～{_num(i.high)}" if i.low is not None else f"<{_num(i.high)}") + i.unit


def _where(value: float, i: Interval) -> str:
    return "high" if value > i.high else "low" if i.low is not None and value < i.low else "in"


def _num(x: float) -> str:
    return f"{x:g}"


def virus(reading: Reading) -> str:
    """HBV-DNA well above any assay's detection limit, read with the KB's 临床意义 ("能检测到…说明病毒在复制")."""
    return f"{reading.test.label}{reading.said}：明显高于常见的检测下限，知识库写到能检测到说明病毒在复制，要不要抗病毒由医生结合其他检查判断"


def line(items: list[tuple[str, int]]) -> str:
    """The sentence said before the answer: each value's comparison with the number of the passage it rests on."""
    if not items:
        return ""
    return ("您给出的化验结果，对照知识库中的成人参考区间和说明（各医院略有不同，以您报告单上所附的为准）："
            + "；".join(f"{text}[{n}]" for text, n in items) + "。")
