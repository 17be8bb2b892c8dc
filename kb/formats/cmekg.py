"""CMeKG (Chinese Medical Knowledge Graph) from the `pycmekg` package: drugs, diseases and exams.

The package is a pickle of {entity name: {predicate: [values]}} with no entity types, so the type
is read off the predicates an entry carries (see `classify`). Values are extracted phrases and
noisy, so they are kept as items (for linking) with the text they join to, never rewritten.

Loading the pickle takes about 0.6 s and converting all 27,403 entries about 1 s.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import re

from kb.debris import INDICATIONS, checked, debris, efficacy_term
from kb.formats.common import keep, normalize_otc
from kb.formats.label import drug_name_aliases
from kb.names import shorten
from kb.records import Record, Section, drug_section_kind, text_of_items

# Predicates only drug entries carry: label fields, 中药材 (入药部位/性味/功效) and 方剂 (出处/功用/组成).
DRUG_ONLY = {
    "成份", "OTC类型", "用法用量", "商品名", "通用名", "规格", "药品类型", "药品监管分级", "功能主治",
    "入药部位", "性味", "功效", "出处", "功用", "组成",
}
# Predicates drugs share with other entries (an exam has 不良反应, an acupoint has 主治).
DRUG_ALSO = {"适应症", "不良反应", "禁忌", "药物相互作用", "主治", "用量"}
DISEASE_KEYS = {
    "常见症状", "就诊科室", "ICD10", "常见病因", "临床症状及体征", "并发症", "多发群体", "常见发病部位",
    "传染性", "药物治疗", "鉴别诊断", "病因", "治疗", "实验室检查", "影像学检查", "辅助检查",
    # Clinical pathway (临床路径) entries describe a disease's inpatient course.
    "标准住院时间", "出院标准", "进入路径标准", "治疗方案", "选择治疗方案的依据",
}
EXAM_KEYS = {"所属分类", "相关症状", "相关疾病"}

# Predicates that are other names of the entity.
ALIAS_KEYS = {
    "商品名", "通用名", "英文名", "英文名称", "英文别称", "英文别名", "外文名", "别称", "又称", "同义词",
    "中文学名", "中医病名",
}
# Predicates that say nothing a patient or clinician asks about: graph structure, taxonomy, and
# 名称, which on exam entries is the entity name split at "、" ("肝上、下界叩诊" -> "肝上", "下界叩诊").
DROPPED = {"名称", "上位关系", "下位关系", "界", "门", "亚门", "纲", "亚纲", "目", "亚目", "科", "亚科", "族", "属", "种", "二名法"}
OTC_KEYS = ("OTC类型", "药品类型", "是否处方药")

DISEASE_KINDS = {
    "常见症状": "症状",
    "检查": "检查", "实验室检查": "检查", "影像学检查": "检查", "辅助检查": "检查", "组织学检查": "检查",
    "内窥镜检查": "检查",
    "药物治疗": "常用药物",
    "常见病因": "病因", "病因": "病因",
    "多发群体": "易感人群",
    "治疗": "治疗方式", "手术治疗": "治疗方式", "辅助治疗": "治疗方式",
    "是否纳入医保": "医保",
}
EXAM_KINDS: dict[str, str] = {}  # 相关疾病 and 注意事项 are canonical exam kinds already
DRUG_KINDS = {"用量": "用法用量", "功用": "功效"}


def classify(facts: dict[str, list[str]]) -> str | None:
    """"drug", "disease", "exam", or None for entries that are none of them (minerals, bare plants)."""
    keys = set(facts)
    if keys & DRUG_ONLY:
        return "drug"
    if "所属分类" in keys:  # only exam entries are filed under an exam category (血, 尿, 超声 ...)
        return "exam"
    if keys & DISEASE_KEYS or any(k.startswith("诊断依据") for k in keys):
        return "disease"
    if keys & DRUG_ALSO:
        return "drug"
    if keys & EXAM_KEYS:
        return "exam"
    return None


MAX_KIND = 64  # sections.kind is VARCHAR(64)


def to_record(name: str, facts: dict[str, list[str]], entity_type: str) -> Record:
    kinds = {"drug": DRUG_KINDS, "disease": DISEASE_KINDS, "exam": EXAM_KINDS}[entity_type]
    aliases: list[str] = []
    merged: dict[str, list[str]] = {}  # kind -> values; 常见病因 and 病因 are one section
    titles: dict[str, str] = {}
    for predicate, values in facts.items():
        values = [v.strip() for v in values if isinstance(v, str) and v.strip()]
        if not values or predicate in DROPPED or predicate in OTC_KEYS:
            continue
        if predicate in ALIAS_KEYS:
            aliases.extend(values)
            continue
        kind = kinds.get(predicate) or (drug_section_kind(predicate) if entity_type == "drug" else None) or predicate
        if len(kind) > MAX_KIND:  # "诊断依据_<a whole sentence>": the sentence is content, not a kind
            kind, _, detail = kind.partition("_")
            values = [f"{detail[:200]}：{v}" for v in values]
        merged.setdefault(kind[:MAX_KIND], []).extend(values)
        if kind != predicate:
            titles.setdefault(kind, predicate)
    if entity_type == "drug":
        _efficacy_apart(merged)
    sections = [_section(kind, values, titles.get(kind)) for kind, values in merged.items()]
    if entity_type == "drug":
        aliases += drug_name_aliases(name)
    record = Record(type=entity_type, name=name, aliases=aliases, where=f"cmekg#{shorten(name)}")
    if entity_type == "drug":
        record.sections = sections
        record.otc_class = next(
            (c for key in OTC_KEYS for v in facts.get(key, []) if (c := normalize_otc(v))), None
        )
        approval = merged.get("批准文号")
        record.approval_number = approval[0].replace("国药准字：", "国药准字") if approval else None
    else:
        record.sections = keep(sections)
    return record


# "名称：丙二醇", "辅料：丙二醇", "罕见：窒息": a short label the extraction kept before the phrase
_LABEL_PREFIX = re.compile(r"^[\u4e00-\u9fff]{1,4}[：:](?=\S)")
_JOINED = re.compile(r"[。；;]")  # "湿疹等。烦躁", "呃逆；罕见：窒息": two phrases cut as one


def clean_values(kind: str, values: list[str]) -> list[str]:
    """The section's phrases as statements: a phrase two were cut into is split, a short label before one is
    removed, and debris (kb.debris: fragments, heading and study-design words, cut clauses) is left out.
    Sentences (用法用量, 注意事项: over 20 characters or with a comma) are only checked as sentences."""
    out = []
    for value in values:
        sentence = len(value) > 20 or "，" in value
        parts = [value] if sentence else [p for p in _JOINED.split(value) if p.strip()]
        for part in parts:
            part = part.strip()
            if not sentence:
                part = _LABEL_PREFIX.sub("", part).strip()
                part = re.sub(r"(?<=..)等$", "", part)  # "湿疹等": a phrase cut short
            if part and not debris(part, sentence=sentence, section=kind):
                out.append(part)
    return out


EFFICACY_KIND = "功效"


def _efficacy_apart(merged: dict[str, list[str]]) -> None:
    """功能主治 (read as 适应症) mixes a TCM drug's actions with what it treats ("活血", "通脉", "头痛", "高脂血症"):
    the actions (kb.debris.efficacy_term) are its 功效, not indications, and move there."""
    values = merged.get(INDICATIONS, [])
    actions = [v for v in values if efficacy_term(_LABEL_PREFIX.sub("", v).strip())]
    if not actions:
        return
    merged[EFFICACY_KIND] = merged.get(EFFICACY_KIND, []) + [_LABEL_PREFIX.sub("", v).strip() for v in actions]
    merged[INDICATIONS] = [v for v in values if v not in actions]
    if not merged[INDICATIONS]:
        del merged[INDICATIONS]


def _section(kind: str, values: list[str], title: str | None) -> Section:
    items = list(dict.fromkeys(clean_values(kind, values) if checked(kind) else values))
    # Phrases read as a list ("发热、咳嗽"); sentences (用法用量, 注意事项) would not, so they get "；".
    sentences = any(len(v) > 20 or "，" in v for v in items)
    text = "；".join(items) if sentences else text_of_items(items)
    return Section(kind=kind, text=text, items=items, title=title)


def read(stats: Counter | None = None) -> Iterator[Record]:
    """Every drug, disease and exam in CMeKG; counts per type (and "skipped") go into `stats`."""
    try:
        from pyCMeKG import cmekg
    except ImportError:
        raise ImportError("CMeKG needs the pycmekg package: pip install 'yiju[cmekg]'") from None
    db = cmekg().model.db_dic
    for name, facts in db.items():
        entity_type = classify(facts) if name.strip() else None
        record = to_record(name.strip(), facts, entity_type) if entity_type else None
        if record is None or not (record.sections or record.aliases):
            if stats is not None:
                stats["skipped"] += 1
            continue
        if stats is not None:
            stats[entity_type] += 1
        yield record


def read_with_stats() -> tuple[list[Record], Counter]:
    """All records and a Counter {"drug": n, "disease": n, "exam": n, "skipped": n}."""
    stats: Counter = Counter()
    records = list(read(stats))
    return records, stats


def package_uri() -> str:
    """Provenance for the packaged source: the distribution and its version."""
    from importlib.metadata import version

    return f"package:pycmekg=={version('pycmekg')}"


def package_hash() -> str:
    """Hash of the package's data files, so a new pycmekg release counts as a new source."""
    import hashlib
    from importlib.metadata import files

    h = hashlib.sha256()
    for f in sorted(files("pycmekg") or [], key=str):
        if f.suffix not in (".py", ".pyc") and "dist-info" not in str(f):
            h.update(str(f).encode())
            h.update(f.locate().read_bytes())
    return h.hexdigest()
