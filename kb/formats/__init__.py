"""Input formats for `kb ingest`: each reader turns a file into `kb.records.Record`s, nothing more.

    FORMATS[name](path) -> Iterator[Record]   one reader per format
    detect_format(path) -> name                sniffs the content, not just the extension
    read_path(path, fmt=None)                  files or directories, detecting per file

Readers do not validate or store; `Record.validate()` and the store do that. Errors are
`FormatError` (the file as a whole: binary, empty, unknown, broken JSON) or `kb.records.RecordError`
(one record, naming the file and line or record number).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

from kb.formats import label, medical_json, xywy, yiju_json
from kb.formats.common import FormatError, decode, read_bytes
from kb.names import normalize_name
from kb.records import DRUG_SECTIONS, Record, drug_section_kind

__all__ = ["FORMATS", "FormatError", "detect_format", "iter_files", "read_path"]

FORMATS: dict[str, Callable[[Path], Iterator[Record]]] = {
    "label": label.read,
    "json": yiju_json.read,
    "medical-json": medical_json.read,
    "xywy": xywy.read,
}

SNIFF_BYTES = 64 * 1024  # enough to see the first record of every format; xywy files are MBs

_XYWY = re.compile(r'"gaishu_info"\s*:')
_MEDICAL = re.compile(r'"(?:\$oid|cure_department|acompany|recommand_drug|cured_prob|yibao_status)"\s*:')
_YIJU = re.compile(r'"type"\s*:\s*"(?:drug|disease|exam)"|"sections"\s*:')
_JSON_START = re.compile(r'\s*(?:\{|\[\s*(?:[{\["\]\d-]|$))')  # "[成份]" opens a label, not a JSON array
_BRACKET_HEADER = re.compile(r"^\s*[【\[［〔]\s*([^】\]］〕\n]{1,24}?)\s*[】\]］〕]", re.M)
_COLON_HEADER = re.compile(r"^\s*([\u4e00-\u9fff ]{2,12}?)\s*[:：]", re.M)


def detect_format(path: Path) -> str:
    """The FORMATS key for `path`, judged from its first 64 KiB; FormatError naming the file if none fits."""
    path = Path(path)
    head = read_bytes(path, SNIFF_BYTES)
    if not head.strip():
        raise FormatError(f"{path}: file is empty")
    # Only labels may be GB18030 (pasted from Windows tools); JSON readers will insist on UTF-8.
    text, _ = decode(path, head, gb18030_ok=True, partial=len(head) == SNIFF_BYTES)
    if _JSON_START.match(text):
        if _XYWY.search(text):
            return "xywy"
        if _MEDICAL.search(text):
            return "medical-json"
        if _YIJU.search(text):
            return "json"
        raise FormatError(
            f"{path}: JSON, but not a format we know (expected yiju records with \"type\"/\"sections\", "
            "QASystemOnMedicalKG medical.json, or the xywy crawl); see docs/record-format.md"
        )
    if _looks_like_label(text):
        return "label"
    raise FormatError(
        f"{path}: unknown format: not JSON and no drug-label headers such as 【药品名称】 or 适应症：; "
        "pass the format explicitly if this is wrong"
    )


def read_path(path: Path, fmt: str | None = None) -> Iterator[Record]:
    """Records from a file or, recursively and in sorted order, from every file under a directory.

    Hidden files and README* are skipped in directories (data folders carry their own READMEs).
    With `fmt` None each file's format is detected on its own, so a folder may mix formats.
    """
    if fmt is not None and fmt not in FORMATS:
        raise FormatError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")
    path = Path(path)
    if not path.exists():
        raise FormatError(f"{path}: no such file or directory")
    for file in iter_files(path):
        yield from FORMATS[fmt or detect_format(file)](file)


def iter_files(path: Path) -> Iterator[Path]:
    """`path` itself, or the files under a directory in sorted order, without hidden files and READMEs."""
    if not path.is_dir():
        yield path
        return
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        parts = file.relative_to(path).parts
        if any(part.startswith(".") for part in parts) or file.name.upper().startswith("README"):
            continue
        yield file


def _looks_like_label(text: str) -> bool:
    """One bracketed label header (【成份】), or two different "适应症：" style ones.

    A single "名称：" line is too common in ordinary text to call a file a drug label.
    """
    names = ("通用名称", "商品名称", "otc")
    if any(drug_section_kind(h) or normalize_name(h) in names for h in _BRACKET_HEADER.findall(text)):
        return True
    kinds = {drug_section_kind(h) or normalize_name(h) for h in _COLON_HEADER.findall(text)}
    return len(kinds & (set(DRUG_SECTIONS) | {"通用名称"})) >= 2
