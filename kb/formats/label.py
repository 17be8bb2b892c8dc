"""Drug labels (药品说明书) as users paste them: header-delimited sections, several labels per file.

Labels come from package inserts, PDFs and web pages, so the same header is written many ways:
"【适应症】", "【 适应症 】", "[适应症]", "［适应症］", "适应症：", "功能主治:". Everything is width-folded
first (NFKC) so that one set of patterns finds the structure, and section text gets its Chinese
punctuation back afterwards (`restore_cjk_punctuation`); then a line is a header when its bracketed or colon-terminated prefix is a known label
header (`kb.records.drug_section_kind`). Bracketed headers are unambiguous, so an unknown bracketed
header (【核准日期】, 【附注3】) still opens a section of its own; a colon prefix counts only when it is a known
header, because "注意：" or "用法：" inside a section is text, not structure.

A new label starts at a 【药品名称】/【通用名称】 header once the current label has a name or a body,
or at a line of ---/===.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from kb.formats.common import normalize_otc, read_text
from kb.names import clean_text, normalize_name, restore_cjk_punctuation, to_halfwidth
from kb.records import Record, RecordError, Section, drug_section_kind, parse_or_invalid

NAME = "药品名称"
# Lines inside the 药品名称 section. 通用名称 names the record; trade and English names are what
# patients and clinicians type, so they become aliases. Pinyin and chemical names are not.
GENERIC_FIELDS = {"通用名称", "通用名", "药品通用名称", "中文名称"}
ALIAS_FIELDS = {"商品名称", "商品名", "英文名称", "英文名", "外文名称"}
IGNORED_FIELDS = {"汉语拼音", "拼音名", "化学名称", "化学名"}
NAME_FIELDS = GENERIC_FIELDS | ALIAS_FIELDS | IGNORED_FIELDS
# Headers that say which OTC class a label is ("【OTC】甲类", "非处方药类别：乙类").
OTC_HEADERS = {"otc", "otc类别", "otc类型", "非处方药", "非处方药类别", "处方药", "药品分类", "药品类别"}
# Headers printed above the name on real labels; seeing them does not mean a label's body has begun.
PREFACE_HEADERS = {"核准日期", "修改日期", "警示语", "特殊药品", "外用药品"}
# Kinds whose text is a list of conditions or reactions: split into items for linking and display.
ITEM_KINDS = {"适应症", "禁忌", "不良反应"}

_BRACKET_HEADER = re.compile(r"^\s*[【\[〔]\s*([^】\]〔〕\[]{1,24}?)\s*[】\]〕]\s*:?\s*(.*)$")
_COLON_HEADER = re.compile(r"^\s*([\u4e00-\u9fffA-Za-z][\u4e00-\u9fffA-Za-z ]{0,15}?)\s*:\s*(.*)$")
# An unknown 【】 header at a line start: Chinese first, then Chinese, digits, letters ("附注3", "注", "附表A")
_OWN_HEADER = re.compile(r"[\u4e00-\u9fff][\u4e00-\u9fff0-9A-Za-z()·、]{0,23}")
_SEPARATOR = re.compile(r"^\s*([-=_*~])\1{2,}\s*$")
_TITLE = re.compile(r"^\s*[《\"]?(.{2,40}?)[》\"]?\s*(?:使用)?说明书\s*$")
_OTC_LINE = re.compile(r"^(?:(?:甲类|乙类)?(?:OTC|非处方药)(?:甲类|乙类)?|处方药|RX)$", re.I)
_APPROVAL = re.compile(r"国药准字\s*[A-Z]\s*\d{8}")
_INLINE_HEADER = re.compile(r"(?<![\u4e00-\u9fff,、(\"“])(【\s*([^】]{1,24}?)\s*】)")
_INLINE_NAME_FIELD = re.compile(r"\S\s+((?:商品名称|英文名称|汉语拼音|通用名称)\s*:)")
_CIRCLED = {chr(0x2460 + i): f"({i + 1})" for i in range(20)}  # ① .. ⑳, which NFKC turns into bare digits

# Dosage forms, longest first so that "肠溶胶囊" is removed whole rather than just "胶囊".
DOSAGE_FORMS = sorted(
    {
        "缓释胶囊", "肠溶胶囊", "软胶囊", "硬胶囊", "胶囊", "胶囊剂", "缓释片", "控释片", "肠溶片", "分散片",
        "泡腾片", "咀嚼片", "含片", "口含片", "口腔崩解片", "口崩片", "舌下片", "薄膜衣片", "糖衣片", "片",
        "片剂", "缓释颗粒", "颗粒", "颗粒剂", "冲剂", "干混悬剂", "混悬剂", "混悬液", "口服混悬液", "口服液",
        "口服溶液", "合剂", "糖浆", "糖浆剂", "注射液", "注射剂", "输液", "软膏", "乳膏", "眼膏", "凝胶", "滴眼液",
        "滴耳液", "滴鼻液", "滴剂", "喷雾剂", "鼻喷雾剂", "气雾剂", "吸入剂", "吸入气雾剂", "栓", "栓剂",
        "胶丸", "滴丸", "丸", "丸剂", "水丸", "蜜丸", "散", "散剂", "溶液", "酊", "酊剂", "搽剂", "洗剂",
        "贴剂", "贴膏", "膏药", "乳剂", "粉针", "粉针剂", "粉剂", "膏",
    },
    key=len,
    reverse=True,
)


def strip_dosage_form(name: str) -> str | None:
    """"阿莫西林胶囊" -> "阿莫西林", "注射用头孢曲松钠" -> "头孢曲松钠"; None when nothing sensible remains.

    Users ask about "阿莫西林", labels are titled "阿莫西林胶囊": the bare ingredient name is the
    alias that lets a question find the label.
    """
    base = re.sub(r"\s*[(（][^()（）]*[)）]\s*$", "", name.strip())  # "(II)", "(0.25g)" after the form
    stripped = base
    if stripped.startswith("注射用"):
        stripped = stripped[3:]
    else:
        for form in DOSAGE_FORMS:
            if stripped.endswith(form):
                stripped = stripped[: -len(form)]
                break
    stripped = stripped.strip(" -·")
    if stripped == base or len(normalize_name(stripped)) < 2:
        return None
    return stripped


# Salt prefixes and cation suffixes that people leave out: "盐酸二甲双胍片" is asked about as "二甲双胍".
SALT_PREFIXES = ("硫酸氢", "盐酸", "硫酸", "磷酸", "苯磺酸", "马来酸", "琥珀酸", "酒石酸", "富马酸", "甲磺酸",
                 "枸橼酸", "氢溴酸", "醋酸", "乳酸", "门冬氨酸")
CATION_SUFFIXES = ("钠", "钾", "钙")


def drug_name_aliases(name: str) -> list[str]:
    """The shorter names a drug is asked by: without the dosage form, then without the salt.

    "盐酸二甲双胍片" -> ["盐酸二甲双胍", "二甲双胍"]; "华法林钠片" -> ["华法林钠", "华法林"].
    A remainder under three characters or ending in 化/酸/氢 ("氯化钾", "葡萄糖酸钙", "琥珀酸亚铁")
    is a different substance's name, not a short name, and is not offered.
    """
    out = []
    current = strip_dosage_form(name) or name.strip()
    if current != name.strip() and len(current) >= 3:
        out.append(current)  # ("减肥胶囊", "感冒颗粒", "止咳糖浆": a two-character remainder is a word, not a name)
    elif current != name.strip():
        return out
    for prefix in SALT_PREFIXES:
        if current.startswith(prefix) and len(current) - len(prefix) >= 3:
            current = current[len(prefix):]
            out.append(current)
            break
    if current.endswith(CATION_SUFFIXES) and len(current) >= 4 and current[-2] not in "化酸氢":
        out.append(current[:-1])
    return out


def split_items(text: str) -> list[str]:
    """A list-like section ("1.发热；2.咳嗽。") as short items: split on 。；; and list numbering."""
    text = re.sub(r"\(\d{1,2}\)|(?<![\w(.])\d{1,2}\)|(?<![\w.])\d{1,2}[.、](?!\d)", "\n", text)
    items = []
    for part in re.split(r"[\n。；;]+", text):
        part = part.strip(" \t,，、:：.")
        if part:
            items.append(part)
    return items


@dataclass
class _Section:
    kind: str
    title: str | None
    lines: list[str] = field(default_factory=list)


@dataclass
class _Label:
    line: int  # where the label starts, for error messages
    sections: list[_Section] = field(default_factory=list)
    generic: str | None = None
    first_name_line: str | None = None  # "【药品名称】阿莫西林胶囊" without a 通用名称 field
    title: str | None = None  # "阿莫西林胶囊说明书"
    aliases: list[str] = field(default_factory=list)
    otc: str | None = None
    bracketed: bool = False  # uses 【】 headers: then colon prefixes inside sections are text

    @property
    def current(self) -> _Section | None:
        return self.sections[-1] if self.sections else None

    @property
    def has_name(self) -> bool:
        return any(s.kind == NAME for s in self.sections) or self.generic is not None

    @property
    def has_body(self) -> bool:
        return any(s.kind != NAME and (s.title or s.kind) not in PREFACE_HEADERS for s in self.sections)


def _prepare(line: str) -> str:
    for circled, plain in _CIRCLED.items():
        if circled in line:
            line = line.replace(circled, plain)
    # The full-width tilde of dose ranges ("每6～8小时") is kept as the label wrote it; NFKC would make it
    # "~", which no Chinese label prints and restore_cjk_punctuation cannot tell from a written "~".
    return "～".join(map(to_halfwidth, line.split("～"))).rstrip()


def _lines(lines: list[str]) -> Iterator[tuple[int, str]]:
    """(line number, prepared line), with run-on pastes ("...。【适应症】...") cut at their headers.

    Text copied from web pages often loses its line breaks; a known bracketed header after the end
    of a sentence is then still a header. "详见【注意事项】" is not: it follows a word, mid-sentence.
    """
    for lineno, raw in enumerate(lines, 1):
        line = _prepare(raw)
        cuts = [m.start(1) for m in _INLINE_HEADER.finditer(line) if _known_header(m.group(2))]
        cuts += [m.start(1) for m in _INLINE_NAME_FIELD.finditer(line)]
        start = 0
        for cut in sorted(set(cuts)):
            if line[start:cut].strip():
                yield lineno, line[start:cut]
            start = cut
        yield lineno, line[start:]


def _known_header(title: str) -> bool:
    title = re.sub(r"\s+", "", title)
    return drug_section_kind(title) is not None or title in NAME_FIELDS


def _header(line: str, label: _Label | None) -> tuple[str, str, str, bool] | None:
    """(kind, header as written, text after it, bracketed) when `line` opens a section, else None.

    kind is a canonical drug kind, "name-field" for 商品名称/英文名称..., "otc", or for an unknown
    bracketed header the header itself.
    """
    m = _BRACKET_HEADER.match(line)
    bracketed = m is not None
    if not m:
        m = _COLON_HEADER.match(line)
        if not m:
            return None
    title = re.sub(r"\s+", "", m.group(1))
    rest = m.group(2).strip()
    in_name = label is not None and label.current is not None and label.current.kind == NAME
    if title in NAME_FIELDS and (bracketed or in_name or title in GENERIC_FIELDS):
        # Inside 【药品名称】, "通用名称：X" is a field of the name, not a new label.
        if in_name or title not in GENERIC_FIELDS:
            return "name-field", title, f"{title}:{rest}", bracketed
        return NAME, title, f"{title}:{rest}", bracketed
    if normalize_name(title) in OTC_HEADERS:
        return "otc", title, rest, bracketed
    kind = drug_section_kind(title)
    if bracketed and kind is None and line.lstrip().startswith("【") and _OWN_HEADER.fullmatch(title):
        return title, title, rest, True  # 【核准日期】, 【上市许可持有人】, 【附注3】: kept under their own name
    if bracketed and kind is not None:
        return kind, title, rest, True
    if bracketed:
        return None  # "[1]", "[注]": square brackets in running text
    if kind is None:
        return None
    # A colon prefix in a 【】-style label, or one repeating the section it is in ("用法：" inside
    # 用法用量), is part of the text. A new label's 药品名称 line is the exception.
    if label is not None and (label.bracketed or (label.current and label.current.kind == kind)) and kind != NAME:
        return None
    if kind == NAME and in_name:
        return None
    return kind, title, rest, False


def _name_line(label: _Label, text: str) -> None:
    """One line of the 药品名称 section: a 通用名称/商品名称/... field, or the bare name."""
    m = re.match(r"^\s*([\u4e00-\u9fff]{2,8})\s*:\s*(.*)$", text)
    if m and m.group(1) in NAME_FIELDS:
        field_name, value = m.group(1), m.group(2).strip().strip("。;；")
        value = re.sub(r"[®™]", "", value).strip()
        if not value:
            return
        if field_name in GENERIC_FIELDS:
            label.generic = label.generic or value
        elif field_name in ALIAS_FIELDS:
            if field_name.startswith(("英文", "外文")):
                label.aliases.append(value)
            else:
                label.aliases.extend(v for v in re.split(r"[、/;；,，]", value) if v.strip())
        return
    text = text.strip().strip("。")
    if text and label.first_name_line is None:
        label.first_name_line = text
    elif re.fullmatch(r"[A-Za-z][A-Za-z0-9 .,()'-]+", text):  # "Amoxicillin Capsules" under the name
        label.aliases.append(text)


def _parse(lines: list[str]) -> Iterator[_Label]:
    label: _Label | None = None
    pending_line: int | None = None  # a title or OTC line seen between labels: belongs to the next one
    pending_title: str | None = None
    pending_otc: str | None = None
    pending_title_line = ""

    def new_label(lineno: int) -> _Label:
        nonlocal pending_line, pending_title, pending_otc
        fresh = _Label(line=pending_line or lineno, title=pending_title, otc=pending_otc)
        pending_line = pending_title = pending_otc = None
        return fresh

    def flush_pending() -> None:
        # Preamble lines followed by more of the same label, not by a new one: they were its own
        # (an OTC mark at its foot, a line of its text that happened to end in 说明书).
        nonlocal pending_line, pending_title, pending_otc
        if label is not None and pending_otc:
            label.otc = label.otc or pending_otc
        if label is not None and label.current is not None and pending_title:
            label.current.lines.append(pending_title_line)
        pending_line = pending_title = pending_otc = None

    for lineno, line in _lines(lines):
        text = line.strip()
        if not text:
            continue
        if _SEPARATOR.match(text):
            flush_pending()  # an OTC line just above the separator closes the label above it
            if label is not None:
                yield label
            label = None
            continue
        if _OTC_LINE.match(text.replace(" ", "")):
            pending_otc = normalize_otc(text)
            pending_line = pending_line or lineno
            continue
        header = _header(line, label)
        if header is None:
            title_line = _TITLE.match(text)
            in_section = label is not None and label.current is not None
            if title_line and not re.search(r"请|阅读|见|本品", title_line.group(1)) and (not in_section or label.has_body):
                pending_title, pending_title_line = title_line.group(1).strip(), text
                pending_line = pending_line or lineno
                continue
            if not in_section:
                continue  # text above the first header: 核准日期 lines, logos, warnings
            flush_pending()
            if label.current.kind == NAME:
                _name_line(label, text)
            label.current.lines.append(text)
            continue
        kind, title, rest, bracketed = header
        if kind == "otc":
            flush_pending()
            if label is None:
                label = new_label(lineno)
            label.otc = normalize_otc(title + rest) or label.otc  # "OTC类别：甲类" needs both halves
            continue
        if kind == "name-field":
            flush_pending()
            if label is None:
                label = new_label(lineno)
            if not (label.current and label.current.kind == NAME):
                label.sections.append(_Section(NAME, title))
            _name_line(label, rest)
            label.current.lines.append(rest)
            continue
        if kind == NAME and label is not None and (label.has_name or label.has_body):
            yield label
            label = None
        if label is None:
            label = new_label(lineno)
        else:
            flush_pending()
        label.bracketed = label.bracketed or bracketed
        label.sections.append(_Section(kind, title if title != kind else None))
        if rest:
            if kind == NAME:
                _name_line(label, rest)
            label.current.lines.append(rest)
    if label is not None:
        yield label


def _record(label: _Label, path: Path) -> Record:
    where = f"{path}:line {label.line}"
    name = label.generic or label.first_name_line or label.title
    if not name:
        raise RecordError(where, "drug label has no 通用名称/药品名称 (add a 【药品名称】 header with 通用名称：...)")
    aliases = list(label.aliases)
    for other in (label.first_name_line, label.title):
        if other and normalize_name(other) != normalize_name(name):
            aliases.append(other)
    aliases += drug_name_aliases(clean_text(name))

    merged: dict[str, Section] = {}  # a kind written twice (适应症 and 功能主治) is one section
    approval = None
    for s in label.sections:
        text = restore_cjk_punctuation("\n".join(s.lines).strip())
        if s.kind == "批准文号" and text and approval is None:
            m = _APPROVAL.search(text)
            approval = re.sub(r"\s+", "", m.group(0)) if m else text.splitlines()[0].strip()
        if s.kind in merged:
            merged[s.kind].text = "\n".join(t for t in (merged[s.kind].text, text) if t)
        else:
            merged[s.kind] = Section(kind=s.kind, text=text, title=s.title)
    for s in merged.values():
        if s.kind in ITEM_KINDS:
            s.items = split_items(s.text)
    return Record(
        type="drug",
        name=name,
        aliases=aliases,
        sections=list(merged.values()),
        approval_number=approval,
        otc_class=label.otc,
        where=where,
    )


def read(path: Path) -> Iterator[Record]:
    """Every label in a text file, in file order; RecordError names the line a bad label starts on."""
    path = Path(path)
    text = read_text(path, gb18030_ok=True)
    for label in _parse(text.splitlines()):
        yield parse_or_invalid(lambda: _record(label, path))


def parse_text(text: str, source: str = "<text>") -> list[Record]:
    """Labels in a pasted string (for the UI and tests); `source` names it in error messages."""
    return [_record(label, Path(source)) for label in _parse(text.splitlines())]
