"""What the user has told us about the patient, and the label warnings those facts trigger.

Facts (age, sex, pregnancy, breastfeeding, allergies, current drugs, duration) are read from every user
message of the conversation with plain patterns, so a fact said three turns ago still counts. They
are used for safety, never for dosing: a drug whose 禁忌 names a stated allergy or pregnancy is
flagged with a quote of the label, and so is an interaction between a drug being asked about and a
drug the user already takes, when either label names the other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

from retriever.hits import EntityMention, Passage
from retriever.linking import bare_drug_name
from retriever.passages import SENTENCE_END
from retriever.words import CHILD_WORDS, TAKING, alternation

_CN_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10,
              "半": 0.5, "几": 3}
_NUM = r"(\d{1,3}(?:\.\d)?|[一二两三四五六七八九十半几]{1,3})"
_AGE = re.compile(_NUM + r"\s*(?:多|来)?\s*(?:周)?岁")  # "70多岁", "三十来岁"
_AGE_MONTHS = re.compile(_NUM + r"\s*个(?:多)?月(?:大|的(?:宝宝|孩子|婴儿|小孩))")
_DURATION = re.compile(r"(?:已经|持续|有|快|都)?" + _NUM + r"\s*(?:个)?(?:多)?(天|日|周|星期|个月|月|年|小时)(?:多)?(?:了|左右|以来)")
# (a pregnancy planned or hoped for is not one: "备孕3个月", "想怀孕", "怎样才能怀孕")
_PREGNANT = re.compile(r"(?<!想)(?<!打算)(?<!计划)(?<!才能)(?<!容易)(?<!备)"
                       r"(怀孕|孕妇|孕期|孕早期|孕中期|孕晚期|妊娠|保胎|怀了(?:宝宝|孩子)?|孕(?:\d{1,2}|[一二两三四五六七八九十]{1,3})\+?\d?\s*(?:周|个多?月)|有喜)")
_NOT_PREGNANT = re.compile(r"(没有?怀孕|未怀孕|无怀孕|不是孕妇|没怀|非孕|排除(了)?怀孕|不是怀孕|不可能怀孕|没有可能怀孕|验孕(是)?阴性|"
                           r"(早孕)?试纸(是)?一道杠|没有同房|没同房|未同房)")
_BREASTFEEDING = re.compile(r"(哺乳|喂奶|母乳|喂母乳)")
# After a birth the mother's own body is what is told about ("剖腹产五个月了，…出血…宝宝吃母乳"): 宝宝 is not the patient.
_NEWBORN = re.compile(r"(新生儿|婴儿|出生(后)?[0-9一二两三四五六七八九十几]+\s*(天|周)|满月)")
_POSTPARTUM = re.compile(r"(产后|剖腹产|剖宫产|剖妇产|生完孩子|生孩子后|坐月子|月子里|恶露|顺产后)")
# (a child to be: "准备要孩子", "想生个宝宝", "怀孩子" is a couple planning or a pregnancy, not a child patient)
_CHILD = re.compile(r"(?<!要)(?<!生)(?<!怀)(?<!要个)(?<!生个)(?<!怀上)(?<!备孕)(?<!要不到)(?<!要不上)(?<!怀不上)(?<!生不出)"
                    + alternation(CHILD_WORDS + ("新生儿",)))  # ("要不到孩子": a couple, not a child)
_MALE = re.compile(r"(男性|男的|我是男|男士|先生|男，|男,|^男)")
_FEMALE = re.compile(r"(女性|女的|我是女|女士|女，|女,|^女)")
_ALLERGY = re.compile(r"(?:对)?([\u4e00-\u9fffA-Za-z0-9]{1,12}?)(?:类药物|类药|类|药物|药)?(?:都)?过敏")
_ALLERGY_STOP = re.compile(r"^(我|我对|对|有|是|会|曾|曾经|以前|之前|吃|用|会不会|容易|他|她|孩子|宝宝|药物|食物|皮肤|季节性|什么|严重)+")
_NO_ALLERGY = re.compile(r"(没有|无|否认)(什么)?(药物)?过敏")


@dataclass
class PatientFacts:
    age_years: float | None = None
    sex: str | None = None  # "男" | "女"
    pregnant: bool | None = None
    breastfeeding: bool = False
    allergies: list[str] = field(default_factory=list)
    drugs: list[str] = field(default_factory=list)  # names as the KB has them when linked
    drug_ids: list[tuple[int, str]] = field(default_factory=list)  # (entity id, name) of the linked ones
    duration: str | None = None
    about_child: bool = False  # the user speaks of their child ("孩子", "宝宝", "儿子")
    postpartum: bool = False  # she has given birth recently and tells about herself

    @property
    def child(self) -> bool | None:
        """True for a child, False for an adult, None when nothing says."""
        if self.age_years is not None:
            return self.age_years < 14
        # in a pregnancy, "宝宝" is the baby she carries, and after a birth the one she feeds: the person asked
        # about is the mother
        return True if self.about_child and not (self.pregnant or self.postpartum) else None

    def summary(self) -> str:
        """"女，32岁，怀孕，对青霉素过敏，正在服用华法林钠片" (empty when nothing is known)."""
        parts = []
        if self.sex:
            parts.append(self.sex)
        if self.age_years is not None:
            age = self.age_years
            parts.append(f"{round(age * 12)}个月" if age < 1 else f"{age:g}岁")
        if self.pregnant:
            parts.append("怀孕")
        if self.breastfeeding:
            parts.append("哺乳期")
        if self.allergies:
            parts.append("对" + "、".join(self.allergies) + "过敏")
        if self.drugs:
            parts.append("正在服用" + "、".join(self.drugs))
        if self.duration:
            parts.append("持续" + self.duration)
        return "，".join(parts)

    def to_json(self) -> dict:
        return {"age_years": self.age_years, "sex": self.sex, "pregnant": self.pregnant,
                "breastfeeding": self.breastfeeding, "allergies": self.allergies, "drugs": self.drugs,
                "duration": self.duration, "child": self.child, "postpartum": self.postpartum}


def _number(text: str) -> float | None:
    if re.fullmatch(r"\d+(\.\d)?", text):
        return float(text)
    if text in _CN_DIGITS:
        return float(_CN_DIGITS[text])
    if text.startswith("十"):  # 十二
        return 10 + _CN_DIGITS.get(text[1:], 0)
    if len(text) >= 2 and text[1] == "十":  # 二十, 三十五
        return _CN_DIGITS.get(text[0], 0) * 10 + _CN_DIGITS.get(text[2:], 0)
    return None


def extract_facts(messages: list[str], link: Callable[[str], list[EntityMention]] | None = None) -> PatientFacts:
    """Facts from the user's messages, later messages overriding earlier ones."""
    facts = PatientFacts()
    for text in messages:
        if m := _AGE.search(text):
            facts.age_years = _number(m.group(1))
        elif m := _AGE_MONTHS.search(text):
            months = _number(m.group(1))
            facts.age_years = months / 12 if months is not None else None
        if _CHILD.search(text):
            facts.about_child = True
        if _MALE.search(text):
            facts.sex = "男"
        if _FEMALE.search(text):
            facts.sex = "女"
        if _NOT_PREGNANT.search(text):
            facts.pregnant = False
        elif _PREGNANT.search(text):
            facts.pregnant, facts.sex = True, "女"
        if _BREASTFEEDING.search(text):
            facts.breastfeeding, facts.sex = True, "女"
        if _POSTPARTUM.search(text) and not _NEWBORN.search(text):  # ("新生儿，产后22天，体温…": the baby)
            facts.postpartum, facts.sex = True, "女"
        if not _NO_ALLERGY.search(text):
            for m in _ALLERGY.finditer(text):
                allergen = _ALLERGY_STOP.sub("", m.group(1))
                if len(allergen) >= 2 and allergen not in facts.allergies:
                    facts.allergies.append(allergen)
        for m in TAKING.finditer(text):
            span = m.group(1)
            linked = [(e.entity_id, e.entity_name) for e in (link(span) if link else []) if e.entity_type == "drug"]
            for drug in linked:
                if drug not in facts.drug_ids:
                    facts.drug_ids.append(drug)
            for name in [n for _, n in linked] or ([span.strip()] if not link else []):
                if name not in facts.drugs:
                    facts.drugs.append(name)
        if m := _DURATION.search(text):
            facts.duration = m.group(1) + m.group(2)
    return facts


@dataclass
class SafetyFlag:
    """A label sentence that matters for this patient, quoted with the passage it comes from."""

    drug: str
    reason: str  # "对青霉素过敏", "怀孕", "正在服用华法林钠片"
    quote: str  # the sentence of the label, verbatim
    passage: Passage


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in SENTENCE_END.split(text) if s.strip()]


def _quote(passage: Passage, pattern: str) -> str | None:
    for sentence in _sentences(passage.body):
        if re.search(pattern, sentence):
            return sentence
    return None


_SALT = re.compile(r"^(盐酸|硫酸|马来酸|苯磺酸|琥珀酸|酒石酸|甲磺酸|枸橼酸|富马酸|醋酸)|(钠|钾|钙|镁)$")


def core_names(name: str) -> list[str]:
    """The names a label may use for a drug product: "华法林钠片" -> 华法林钠片, 华法林钠, 华法林."""
    names = [name]
    bare = bare_drug_name(name) or name
    if bare and bare != name:
        names.append(bare)
    salt_free = _SALT.sub("", bare)
    if len(salt_free) >= 2 and salt_free not in names:
        names.append(salt_free)
    return names


def check_drug_safety(facts: PatientFacts, asked: list[tuple[int, str]], taking: list[tuple[int, str]],
                      passages_of: Callable[[int, str], list[Passage]]) -> list[SafetyFlag]:
    """Label sentences that concern this patient, for each drug (entity id, name) being asked about.

    `taking` are the drugs the user already takes, linked to the KB; an interaction is flagged when
    either label names the other drug. `passages_of(entity_id, section)` gives a drug's passages."""
    flags: list[SafetyFlag] = []

    def add(drug_id: int, drug: str, reason: str, sections: tuple[str, ...], pattern: str) -> bool:
        for section in sections:
            for passage in passages_of(drug_id, section):
                if quote := _quote(passage, pattern):
                    flags.append(SafetyFlag(drug, reason, quote, passage))
                    return True
        return False

    def names_pattern(name: str) -> str:
        return "(" + "|".join(re.escape(n) for n in core_names(name)) + ")"

    for drug_id, name in asked:
        for allergen in facts.allergies:
            core = re.sub(r"(类|药物|药)$", "", allergen)
            add(drug_id, name, f"对{allergen}过敏", ("禁忌", "注意事项"), re.escape(core) + r".{0,12}(过敏|禁用|慎用)")
        if facts.pregnant:
            add(drug_id, name, "怀孕", ("禁忌", "孕妇及哺乳期妇女用药", "注意事项"), r"(孕妇|妊娠|孕期|怀孕)")
        if facts.breastfeeding:
            add(drug_id, name, "哺乳期", ("禁忌", "孕妇及哺乳期妇女用药"), r"(哺乳|乳汁|授乳)")
        if facts.age_years is not None and facts.age_years < 12:
            add(drug_id, name, "儿童", ("禁忌", "儿童用药"), r"(儿童|小儿|婴儿|新生儿|岁以下)")
        for other_id, other in taking:
            if other_id == drug_id or set(core_names(other)) & set(core_names(name)):
                continue  # the same medicine in another form ("吃阿莫西林胶囊", asked of 阿莫西林咀嚼片): no interaction
            sections = ("药物相互作用", "禁忌", "注意事项")
            if not add(drug_id, name, f"正在服用{other}", sections, names_pattern(other)):
                add(other_id, other, f"正在服用{other}、同时问到{name}", sections, names_pattern(name))
    return flags
