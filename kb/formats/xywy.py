"""The xywy (寻医问药) re-crawl: each file is ONE JSON object {"0": {disease}, "1": {...}, ...}.

A disease nests its fields in gaishu_info / symptom_data / food_info; they map onto our canonical
disease sections. The files are a few MB each and plain `json.loads` reads all 18 in well under a
second, so there is no streaming here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from kb.debris import checked, keep_items
from kb.formats.common import FormatError, iter_json_values, keep, list_section, read_text, strings, text_section
from kb.records import Record, RecordError, named, parse_or_invalid

GAISHU_TEXT = {
    "desc": "概述",
    "susceptible_people": "易感人群",
    "transmission_way": "传播途径",
    "treat_cycle": "治疗周期",
    "cure_prob": "治愈率",
    "disease_ratio": "发病率",
    "medical_insurance": "医保",
    "treat_cost": "治疗费用",
}
GAISHU_LISTS = {
    "common_drug": "常用药物",
    "belongs_to_department": "就诊科室",
    "has_complication": "并发症",
    "treat_way": "治疗方式",
}
TOP_TEXT = {"cause_info": "病因", "prevent_info": "预防", "nursing_info": "护理"}


def read(path: Path) -> Iterator[Record]:
    path = Path(path)
    text = read_text(path)
    values = list(iter_json_values(text, path))
    if len(values) != 1 or not isinstance(values[0][1], dict):
        raise FormatError(f'{path}: expected one JSON object {{"0": {{disease}}, "1": ...}} (the xywy crawl layout)')
    for key, obj in values[0][1].items():
        yield parse_or_invalid(lambda: to_record(obj, f"{path}#record {key}"))


def to_record(obj: object, where: str) -> Record:
    if not isinstance(obj, dict) or not isinstance(obj.get("gaishu_info"), dict):
        raise RecordError(where, "expected a disease object with a \"gaishu_info\" object")
    gaishu = obj["gaishu_info"]
    name = gaishu.get("name")
    if not isinstance(name, str) or not name.strip():
        raise RecordError(where, "disease has no gaishu_info.name")
    where = named(where, name)
    symptoms = _dict(obj, "symptom_data")
    food = _dict(obj, "food_info")
    # the two texts say what to eat and what to avoid: each keeps its label ("1、刺激性的食物" alone reads as advice)
    diet = "\n".join(f"{label}：{text}" for label, key in (("宜", "good_diet_text"), ("忌", "avoid_diet_text"))
                     for text in strings(food.get(key)))

    sections = [text_section(kind, gaishu.get(key)) for key, kind in GAISHU_TEXT.items()]
    sections += [list_section(kind, _items(kind, gaishu.get(key))) for key, kind in GAISHU_LISTS.items()]
    sections += [text_section(kind, obj.get(key)) for key, kind in TOP_TEXT.items()]
    sections += [
        # The detail paragraphs say more than the symptom names; the names stay as items for linking.
        list_section("症状", _items("症状", symptoms.get("symptoms")), "\n".join(strings(symptoms.get("symptom_detail")))),
        list_section("检查", _items("检查", obj.get("inspect_info"))),
        list_section("饮食", strings(food.get("recommand_recipes")), diet),
        list_section("宜吃", strings(food.get("good_food"))),
        list_section("忌吃", strings(food.get("avoid_food"))),
    ]
    return Record(type="disease", name=name, sections=keep(sections), where=where)


def _items(kind: str, value: object) -> list[str]:
    """A list field's items without the page's debris (kb.debris: "腓肠肌强直收缩..." cut by the page, link
    words, fragments); foods (宜吃/忌吃) are not read through it, a one-character food is a food. Pieces the
    crawl cut one phrase into are joined first (`joined`)."""
    values = joined(strings(value))
    return keep_items(values, section=kind)[0] if checked(kind) else values


# A piece that ends where its phrase goes on ("药物治疗、手术治疗和"); marks a cut leaves at either end ("，手术治疗").
_GOES_ON = re.compile(r"(?:和|及|与|或|以及|、)$")
_EDGE = " ，,、；;"


def joined(values: list[str]) -> list[str]:
    """The crawl's list as the page wrote it: it cut some fields' text at the wrong places (癫痫 治疗方式
    ["药物治疗、手术治疗和", "心理、康复治疗等"] is one phrase, "…和心理、康复治疗等"; 球孢子菌病 ["抗真菌治疗",
    "，手术治疗"]). A piece that ends mid-phrase is joined to the next; the marks a cut left at an end go."""
    out: list[str] = []
    for value in values:
        if out and _GOES_ON.search(out[-1]):
            out[-1] += value.strip(_EDGE)
        else:
            out.append(value.strip().strip("，,；; "))
    return [v.strip(_EDGE) if not _GOES_ON.search(v) else v for v in out if v.strip(_EDGE)]


def _dict(obj: dict, key: str) -> dict:
    value = obj.get(key)
    return value if isinstance(value, dict) else {}
