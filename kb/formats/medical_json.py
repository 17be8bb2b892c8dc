"""QASystemOnMedicalKG `medical.json`: one disease per line, Mongo-export style (or a JSON array).

Field names are the crawl's own (acompany, recommand_drug, cured_prob ...); each maps to one of
our canonical disease sections. `category` (疾病百科 > 内科 > 呼吸内科) duplicates cure_department
and is dropped; `_id` is Mongo's.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from kb.formats.common import iter_json_values, keep, list_section, read_text, strings, text_section
from kb.records import Record, RecordError, named, parse_or_invalid

TEXT_FIELDS = {
    "desc": "概述",
    "cause": "病因",
    "prevent": "预防",
    "easy_get": "易感人群",
    "get_way": "传播途径",
    "cure_lasttime": "治疗周期",
    "cured_prob": "治愈率",
    "get_prob": "发病率",
    "yibao_status": "医保",
    "cost_money": "治疗费用",
}
LIST_FIELDS = {
    "symptom": "症状",
    "check": "检查",
    "cure_department": "就诊科室",
    "acompany": "并发症",
    "cure_way": "治疗方式",
    "do_eat": "宜吃",
    "not_eat": "忌吃",
    "recommand_eat": "饮食",
}
DRUG_FIELDS = ("common_drug", "recommand_drug", "drug_detail")
IGNORED = {"_id", "name", "category"}

_DETAIL = re.compile(r"\(([^()]+)\)\s*$")  # "北京同仁堂百咳静糖浆(百咳静糖浆)" -> 百咳静糖浆


def read(path: Path) -> Iterator[Record]:
    """Each disease in the file; RecordError/FormatError name the line (or array index) at fault."""
    path = Path(path)
    text = read_text(path)
    for line, value in iter_json_values(text, path):
        if isinstance(value, RecordError):  # a broken JSON line: skipped with --skip-invalid
            yield Record.invalid(value, "disease")
        elif isinstance(value, list):  # a JSON array of records instead of JSON lines
            for i, obj in enumerate(value, 1):
                yield parse_or_invalid(lambda: to_record(obj, f"{path}#record {i}"))
        else:
            yield parse_or_invalid(lambda: to_record(value, f"{path}:line {line}"))


def drug_names(obj: dict) -> list[str]:
    """常用药物: common + recommended drugs, then drugs named only in drug_detail's "厂家(药名)"."""
    names = strings(obj.get("common_drug")) + strings(obj.get("recommand_drug"))
    for detail in strings(obj.get("drug_detail")):
        m = _DETAIL.search(detail.replace("（", "(").replace("）", ")"))
        if m:
            names.append(m.group(1).strip())
    return list(dict.fromkeys(names))


def to_record(obj: object, where: str) -> Record:
    if not isinstance(obj, dict):
        raise RecordError(where, f"expected a disease object, got {type(obj).__name__}")
    name = obj.get("name")
    if not isinstance(name, str) or not name.strip():
        raise RecordError(where, "disease has no \"name\"")
    where = named(where, name)
    sections = [text_section(kind, obj.get(key)) for key, kind in TEXT_FIELDS.items()]
    sections += [list_section(kind, strings(obj.get(key))) for key, kind in LIST_FIELDS.items()]
    sections.append(list_section("常用药物", drug_names(obj)))
    return Record(type="disease", name=name, sections=keep(sections), where=where)
