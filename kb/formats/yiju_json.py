"""The project's own record format: JSON (one object or a list) or JSON lines; see docs/record-format.md.

This is the format to write by hand or export from another system, so it is strict: an unknown
top-level key is an error (a typo such as "alias" would otherwise drop data silently), while an
unknown section kind is kept as a free-text section, because sources legitimately have sections we
have no canonical name for.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from kb.formats.common import iter_json_values, read_text, strings
from kb.names import shorten
from kb.records import (ENTITY_TYPES, Record, RecordError, Section, drug_section_kind, named, parse_or_invalid,
                        text_of_items)

# "origin" is written by `kb export` for reference; `kb ingest` files records under --origin instead.
KEYS = {"type", "name", "aliases", "approval_number", "otc_class", "sections", "origin"}
SECTION_KEYS = {"text", "items", "title"}


def read(path: Path) -> Iterator[Record]:
    """Records from a .json file (an object or a list of them) or a .jsonl file (one per line)."""
    path = Path(path)
    text = read_text(path)
    values = list(iter_json_values(text, path))
    single_document = len(values) == 1 and path.suffix.lower() != ".jsonl"
    for line, value in values:
        if isinstance(value, RecordError):  # a broken JSON line: skipped with --skip-invalid
            yield Record.invalid(value)
        elif single_document and isinstance(value, list):
            for i, item in enumerate(value, 1):
                yield parse_or_invalid(lambda: to_record(item, f"{path}#record {i}"))
        else:
            yield parse_or_invalid(lambda: to_record(value, f"{path}:line {line}" if not single_document else str(path)))


def to_record(obj: object, where: str) -> Record:
    """One record object -> Record; RecordError (naming `where` and the record's name) when malformed."""
    if not isinstance(obj, dict):
        raise RecordError(where, f"expected a record object {{\"type\": ..., \"name\": ...}}, got {type(obj).__name__}")
    name = obj.get("name")
    if isinstance(name, str) and name.strip():
        where = named(where, name)
    unknown = sorted(set(obj) - KEYS)
    if unknown:
        raise RecordError(where, f"unknown key {shorten(unknown[0])!r} (allowed: {', '.join(sorted(KEYS))})")
    kind = obj.get("type")
    if kind not in ENTITY_TYPES:
        raise RecordError(where, f"\"type\" must be one of {', '.join(ENTITY_TYPES)}, got {shorten(kind)!r}")
    if not isinstance(name, str) or not name.strip():
        raise RecordError(where, "\"name\" must be a non-empty string")
    aliases = obj.get("aliases") or []
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise RecordError(where, "\"aliases\" must be a list of strings")
    for key in ("approval_number", "otc_class"):
        if obj.get(key) is not None and not isinstance(obj[key], str):
            raise RecordError(where, f"{key!r} must be a string")
    raw_sections = obj.get("sections") or {}
    if isinstance(raw_sections, list):  # [{"kind": ..., "text": ..., "items": [...]}], as `kb export` writes
        if not all(isinstance(v, dict) and isinstance(v.get("kind"), str) for v in raw_sections):
            raise RecordError(where, "\"sections\" as a list must hold objects with a \"kind\"")
        raw_sections = [(v["kind"], {k: x for k, x in v.items() if k != "kind"}) for v in raw_sections]
    elif isinstance(raw_sections, dict):
        raw_sections = list(raw_sections.items())
    else:
        raise RecordError(where, "\"sections\" must be an object mapping section kind to its value")
    sections = [_section(k, v, kind, where) for k, v in raw_sections]
    return Record(
        type=kind,
        name=name,
        aliases=aliases,
        sections=sections,
        approval_number=obj.get("approval_number"),
        otc_class=obj.get("otc_class"),
        where=where,
    )


def _section(written: str, value: object, entity_type: str, where: str) -> Section:
    where = f"{where}: section {shorten(written, 24)!r}"
    # Drug kinds have many spellings (功能主治 = 适应症); store the canonical one, remember the written one.
    kind = (drug_section_kind(written) if entity_type == "drug" else None) or written
    title = written if kind != written else None
    if isinstance(value, str):
        return Section(kind=kind, text=value, title=title)
    if isinstance(value, list):
        if not all(isinstance(v, str) for v in value):
            raise RecordError(where, "a list must hold strings only")
        return Section(kind=kind, text=text_of_items(strings(value)), items=strings(value), title=title)
    if isinstance(value, dict):
        unknown = sorted(set(value) - SECTION_KEYS)
        if unknown:
            raise RecordError(where, f"unknown key {shorten(unknown[0])!r} (allowed: text, items, title)")
        items = value.get("items") or []
        if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
            raise RecordError(where, "\"items\" must be a list of strings")
        text = value.get("text")
        if text is not None and not isinstance(text, str):
            raise RecordError(where, "\"text\" must be a string")
        return Section(
            kind=kind,
            text=text if text is not None else text_of_items(strings(items)),
            items=strings(items),
            title=value.get("title") or title,
        )
    raise RecordError(where, f"expected a string, a list of strings or an object, got {type(value).__name__}")
