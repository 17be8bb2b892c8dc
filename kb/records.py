"""What every ingester produces: plain records, validated and hashed before anything is written.

A `Record` is one entity (drug, disease or exam) as one origin describes it. The store keeps one
contribution per (entity, origin), so the same disease from the xywy crawl and from CMeKG sit side by
side, and re-ingesting one origin replaces only what that origin said.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Callable

from kb.models import Contribution, Entity
from kb.names import clean_item, clean_text, dedupe_aliases, normalize_name, shorten

ENTITY_TYPES = ("drug", "disease", "exam")

# Canonical drug-label section kinds, in label order, with the headers that mean them.
DRUG_SECTIONS: dict[str, tuple[str, ...]] = {
    "药品名称": ("药品名称", "通用名称", "名称"),
    "成份": ("成份", "成分", "主要成份", "主要成分", "组成"),
    "性状": ("性状",),
    "适应症": ("适应症", "适应证", "功能主治", "主治", "作用类别", "功能与主治"),
    "规格": ("规格",),
    "用法用量": ("用法用量", "用法与用量", "用量用法", "用法"),
    "不良反应": ("不良反应", "副作用"),
    "禁忌": ("禁忌", "禁忌症", "禁忌证", "禁用"),
    "注意事项": ("注意事项", "警告", "警示语"),
    "孕妇及哺乳期妇女用药": ("孕妇及哺乳期妇女用药", "孕妇用药", "哺乳期妇女用药"),
    "儿童用药": ("儿童用药",),
    "老年用药": ("老年用药", "老年患者用药"),
    "药物相互作用": ("药物相互作用", "相互作用"),
    "药物过量": ("药物过量", "过量"),
    "临床试验": ("临床试验",),
    "药理毒理": ("药理毒理", "药理作用", "毒理研究", "药理学"),
    "药代动力学": ("药代动力学", "药动学"),
    "贮藏": ("贮藏", "储藏", "贮存", "保存"),
    "包装": ("包装",),
    "有效期": ("有效期",),
    "执行标准": ("执行标准",),
    "批准文号": ("批准文号",),
    "生产企业": ("生产企业", "生产厂家", "企业名称"),
}

# Canonical disease section kinds. List-valued kinds also become links (see LINK_KINDS).
DISEASE_SECTIONS = (
    "概述", "症状", "检查", "常用药物", "就诊科室", "并发症", "病因", "预防", "易感人群",
    "传播途径", "治疗方式", "治疗周期", "治愈率", "发病率", "医保", "治疗费用", "护理", "饮食",
    "宜吃", "忌吃", "ICD10",
)
EXAM_SECTIONS = ("概述", "相关疾病", "检查项目", "正常值", "临床意义", "注意事项", "检查过程")

# Disease/exam list sections that are relations to other entities: section kind -> (relation, target type).
LINK_KINDS: dict[str, tuple[str, str]] = {
    "症状": ("disease_symptom", "symptom"),
    "检查": ("disease_exam", "exam"),
    "常用药物": ("disease_drug", "drug"),
    "并发症": ("disease_complication", "disease"),
    "相关疾病": ("exam_disease", "disease"),
}

# What the database holds at most, read off the models: PostgreSQL refuses longer values and NUL
# characters (SQLite would take them), so a record is checked against them before anything is written.
FIELD_LIMITS = {"approval_number": Entity.__table__.c.approval_number.type.length,
                "otc_class": Entity.__table__.c.otc_class.type.length}
ORIGIN_LIMIT = Contribution.__table__.c.origin.type.length
NUL = "\x00"

_HEADER_TO_KIND = {normalize_name(h): kind for kind, headers in DRUG_SECTIONS.items() for h in headers}


def drug_section_kind(header: str) -> str | None:
    """Map a label header as written ("功能与主治", "【用法与用量】") to its canonical kind, or None."""
    return _HEADER_TO_KIND.get(normalize_name(header))


class RecordError(ValueError):
    """A record that cannot be ingested; the message names where it came from and what is wrong."""

    def __init__(self, where: str, problem: str):
        super().__init__(f"{where}: {problem}")
        self.where = where
        self.problem = problem


@dataclass
class Section:
    kind: str  # canonical kind, e.g. "适应症"
    text: str  # the text as the source gave it (cleaned of width and spacing noise)
    items: list[str] = field(default_factory=list)  # extracted items, e.g. symptom names
    title: str | None = None  # the header as written, when it differs from the kind


@dataclass
class Record:
    type: str  # "drug" | "disease" | "exam"
    name: str
    aliases: list[str] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    approval_number: str | None = None  # 国药准字, drugs only
    otc_class: str | None = None  # "OTC" | "Rx" | "甲类OTC" | "乙类OTC", drugs only
    where: str = ""  # "path:line 12" / "path#record 3", for error messages; not part of the content
    problem: str | None = None  # set by a reader that could not parse this record; validate() reports it

    @classmethod
    def invalid(cls, error: RecordError, type: str = "drug") -> "Record":
        """A placeholder for a record a reader could not parse, so the reader can go on with the file
        and the store decides (reject the batch, or skip it with --skip-invalid)."""
        return cls(type, "", where=error.where, problem=error.problem)

    def validate(self) -> "Record":
        """Clean in place and return self, or raise RecordError naming `where` and the problem."""
        where = self.where or "record"
        if self.problem:
            raise RecordError(where, self.problem)
        if self.type not in ENTITY_TYPES:
            raise RecordError(where, f"unknown entity type {shorten(self.type)!r} (expected one of {', '.join(ENTITY_TYPES)})")
        self.name = clean_text(self.name or "")
        for label, texts in (("name", (self.name,)), ("aliases", self.aliases),
                             *((key, (getattr(self, key) or "",)) for key in FIELD_LIMITS)):
            _refuse_nul(where, label, texts)
        if not normalize_name(self.name):
            raise RecordError(where, f"{self.type} has no name")
        if len(self.name) > 200:
            raise RecordError(where, f"name is {len(self.name)} characters long; is a header missing?")
        self.aliases = [a for a in dedupe_aliases(self.name, self.aliases) if len(a) <= 255]
        kept = []
        for s in self.sections:
            if not s.kind or len(s.kind) > 64:
                raise RecordError(where, f"{shorten(self.name)}: section kind {shorten(s.kind)!r} is empty or longer than "
                                         "64 characters")
            if s.title and len(s.title) > 255:
                s.title = s.title[:255]
            s.text = clean_text(s.text or "")
            if s.items:
                s.items = list(dict.fromkeys(item for x in s.items if isinstance(x, str) and (item := clean_item(x))))
            if NUL in s.text or NUL in s.kind or NUL in (s.title or "") or NUL in "".join(s.items):
                _refuse_nul(where, f"section {shorten(s.kind, 24)!r}", (s.kind, s.title or "", s.text, *s.items))
            if s.text or s.items:
                kept.append(s)
        self.sections = kept
        if not self.sections and not self.aliases:
            raise RecordError(where, f"{self.type} {shorten(self.name)!r} has no content (no sections)")
        for key, limit in FIELD_LIMITS.items():
            value = getattr(self, key)
            if value is not None and len(value) > limit:
                raise RecordError(where, f"{key} is {len(value)} characters long (at most {limit}): {shorten(value)!r}")
        return self

    @property
    def norm_name(self) -> str:
        return normalize_name(self.name)

    def content(self) -> dict:
        """Everything the record says (not where it was read from), as plain JSON-able data."""
        return {
            "type": self.type, "name": self.name, "aliases": self.aliases,
            "approval_number": self.approval_number, "otc_class": self.otc_class,
            "sections": [[s.kind, s.text, s.items, s.title] for s in self.sections],
        }

    def content_hash(self) -> str:
        """Hash of everything the record says; equal hashes mean re-ingesting changes nothing."""
        blob = json.dumps(self.content(), ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def section(self, kind: str) -> Section | None:
        return next((s for s in self.sections if s.kind == kind), None)


def _refuse_nul(where: str, label: str, texts) -> None:
    """RecordError naming `label` when one of `texts` holds a NUL character (PostgreSQL cannot store it)."""
    for text in texts:
        if NUL in text:
            raise RecordError(where, f"{label} contains a NUL character (\\x00) at character {text.index(NUL) + 1}; "
                                     "remove it from the source")


def check_origin(origin: str, where: str) -> str:
    """`origin` (`--origin`, default the format's name) when the KB can store it, else RecordError:
    at most ORIGIN_LIMIT characters, no NUL, and no ":", which separates the parts of a passage id."""
    if not origin or not origin.strip():
        raise RecordError(where, "origin is empty (--origin names the source's contributions)")
    if len(origin) > ORIGIN_LIMIT:
        raise RecordError(where, f"origin {shorten(origin)!r} is {len(origin)} characters long; "
                                 f"an origin (--origin) is at most {ORIGIN_LIMIT}")
    if ":" in origin or NUL in origin:
        raise RecordError(where, f"origin {shorten(origin)!r} contains ':' or a NUL character; "
                                 "an origin (--origin) is a plain name such as xywy or demo")
    return origin


def named(where: str, name: str) -> str:
    """`where` with the record's name, as error messages show it: "file:line 3 (阿莫西林胶囊)", a long name cut."""
    return f"{where} ({shorten(name.strip())})"


def parse_or_invalid(build: Callable[[], Record]) -> Record:
    """`build()`, or an invalid placeholder carrying its RecordError (see `Record.invalid`)."""
    try:
        return build()
    except RecordError as exc:
        return Record.invalid(exc)


def text_of_items(items: list[str]) -> str:
    """How a list section reads as text: "发热、咳嗽、咽痛"."""
    return "、".join(items)
