"""What the format readers share: reading text safely, walking JSON with line numbers, building sections.

Every reader turns a file into `kb.records.Record`s and nothing else; errors name the file and the
line or record so that a maintainer can open the file at the right place.
"""

from __future__ import annotations

import codecs
import json
import logging
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from kb.names import to_halfwidth
from kb.records import DISEASE_SECTIONS, RecordError, Section, text_of_items

log = logging.getLogger("kb.formats")


class FormatError(ValueError):
    """A file that cannot be read as any (or the requested) format; the message names the file."""


def read_text(path: Path, gb18030_ok: bool = False) -> str:
    """The file's text, or a FormatError that says why it is not text we can read.

    GB18030 is only accepted where the caller says so (drug labels pasted from Windows tools are
    often saved in it); JSON is UTF-8 by definition, so guessing there would hide real corruption.
    """
    text, encoding = decode(path, read_bytes(path), gb18030_ok)
    if encoding == "gb18030":
        log.warning("%s: not UTF-8; read as GB18030", path)
    if not text.strip():
        raise FormatError(f"{path}: file is empty")
    return text


def read_bytes(path: Path, limit: int = -1) -> bytes:
    """The file's bytes (its first `limit` bytes when limit >= 0), or a FormatError naming the file."""
    try:
        with path.open("rb") as f:
            return f.read(limit)
    except FileNotFoundError:
        raise FormatError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise FormatError(f"{path}: is a directory, not a file") from None


def decode(path: Path, data: bytes, gb18030_ok: bool = False, partial: bool = False) -> tuple[str, str]:
    """(text, encoding): UTF-8 (with or without BOM), else GB18030 where allowed, else FormatError. The one
    encoding sniffer: the KB's readers, `chat eval --real` and `finetune convert` all read text through it.

    UTF-8 is decided by decoding (valid UTF-8 is UTF-8), and GB18030 likewise: charset-normalizer's guess is
    not trusted between the two, as on short Chinese text it guesses wrong (头痛 in GB18030 reads as Big5, a
    two-line GB18030 CSV as cp932). It names what a file is when it is neither, so the message says which
    `iconv -f` converts it. `partial` is for a file's first bytes: a multi-byte character cut at the end is
    not an error.
    """
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise FormatError(f"{path}: UTF-16 text; save it as UTF-8 (e.g. `iconv -f utf-16 -t utf-8`)")
    if b"\x00" in data:
        raise FormatError(f"{path}: looks like a binary file (contains NUL bytes), not text or JSON")
    try:
        return _decode(data, "utf-8-sig", partial), "utf-8"
    except UnicodeDecodeError as e:
        utf8_error = e
    try:
        text = _decode(data, "gb18030", partial)
    except UnicodeDecodeError:
        raise FormatError(
            f"{path}: not UTF-8 text (bad byte at offset {utf8_error.start}) and not GB18030 either; "
            f"{_what_it_is(data)}"
        ) from None
    if gb18030_ok:
        return text, "gb18030"
    raise FormatError(
        f"{path}: not UTF-8 (it decodes as GB18030); convert it with `iconv -f gb18030 -t utf-8`"
    )


def _decode(data: bytes, encoding: str, partial: bool) -> str:
    return codecs.getincrementaldecoder(encoding)().decode(data, final=not partial)


def _what_it_is(data: bytes) -> str:
    """The rest of the message for bytes that are neither UTF-8 nor GB18030: the encoding charset-normalizer
    finds (a guess: on a few bytes it is often wrong) and how to convert it, else that they are no text."""
    from charset_normalizer import from_bytes

    found = from_bytes(data[:1 << 20]).best()
    if found is None:
        return "is it a binary file?"
    return f"it may be {found.encoding} (a guess): if so, convert it with `iconv -f {found.encoding} -t utf-8`"


def iter_json_values(text: str, path: Path) -> Iterator[tuple[int, object]]:
    """Each top-level JSON value in `text` with the line it starts on.

    JSON lines (`is_json_lines`) are read line by line: a broken line is yielded as a RecordError in
    place of its value, naming that line, so that the reader makes it an invalid record (which
    --skip-invalid skips) and goes on with the next line. Anything else is one document or
    concatenated pretty-printed objects, and a syntax error (a truncated download, a missing comma)
    is a FormatError naming the line, not a traceback. A string holding half of a surrogate pair
    (the escape "\\ud800" alone), which is no text at all, is refused the same way.
    """
    lone_surrogates = "\\ud" in text or "\\uD" in text  # only escapes make them; checked only then
    if is_json_lines(text, path):
        yield from _json_lines(text, path, lone_surrogates)
        return
    decoder = json.JSONDecoder()
    pos, line, end = 0, 1, len(text)
    ws = re.compile(r"\s*")
    while True:
        skip = ws.match(text, pos).end()
        line += text.count("\n", pos, skip)
        pos = skip
        if pos >= end:
            return
        try:
            value, after = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as e:
            truncated = " (the file looks truncated)" if e.pos >= len(text.rstrip()) else ""
            raise FormatError(f"{path}:line {e.lineno}: invalid JSON: {e.msg} at column {e.colno}{truncated}") from None
        if lone_surrogates and _has_lone_surrogate(value):
            raise FormatError(f"{path}:line {line}: {LONE_SURROGATE}")
        yield line, value
        line += text.count("\n", pos, after)
        pos = after


LONE_SURROGATE = "a string holds half of a UTF-16 surrogate pair (an escape such as \\ud800 alone), which is not text"


def is_json_lines(text: str, path: Path) -> bool:
    """A .jsonl/.ndjson file, or one whose first line is a whole JSON value with more lines after it."""
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        return True
    first_end = text.find("\n")
    if first_end < 0 or not text[first_end:].strip():
        return False
    try:
        json.loads(text[:first_end])
    except ValueError:
        return False
    return True


def _json_lines(text: str, path: Path, lone_surrogates: bool) -> Iterator[tuple[int, object]]:
    lines = text.split("\n")
    last = max((i for i, raw in enumerate(lines, 1) if raw.strip()), default=0)
    for lineno, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        where = f"{path}:line {lineno}"
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as e:
            truncated = " (the file looks truncated)" if lineno == last and e.pos >= len(raw.rstrip()) else ""
            yield lineno, RecordError(where, f"invalid JSON: {e.msg} at column {e.colno}{truncated}")
            continue
        if lone_surrogates and _has_lone_surrogate(value):
            yield lineno, RecordError(where, LONE_SURROGATE)
            continue
        yield lineno, value


_SURROGATE = re.compile("[\ud800-\udfff]")


def _has_lone_surrogate(value: object) -> bool:
    """Whether any string in a decoded JSON value (keys too) holds a surrogate, which only a lone
    escape leaves behind (a pair decodes to one character)."""
    if isinstance(value, str):
        return bool(_SURROGATE.search(value))
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    return False


def strings(value: object) -> list[str]:
    """A source's list field as a list of non-empty strings (crawls put None and numbers in lists)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, Iterable) and not isinstance(value, (dict, bytes)):
        return [text for v in value if isinstance(v, (str, int, float)) and (text := str(v).strip())]
    return []


def text_section(kind: str, value: object) -> Section | None:
    """A free-text section, or None when the source left it empty."""
    if isinstance(value, list):
        value = "\n".join(strings(value))
    if not isinstance(value, str) or not value.strip():
        return None
    return Section(kind=kind, text=value.strip())


def list_section(kind: str, items: Iterable[str], text: str | None = None) -> Section | None:
    """A list section (symptoms, exams, drugs ...): items deduplicated, text "、"-joined unless given."""
    items = list(dict.fromkeys(item for i in items if i and (item := i.strip())))
    if not items and not (text and text.strip()):
        return None
    return Section(kind=kind, text=(text or "").strip() or text_of_items(items), items=items)


_DISEASE_ORDER = {kind: i for i, kind in enumerate(DISEASE_SECTIONS)}


def keep(sections: Iterable[Section | None]) -> list[Section]:
    """The non-empty sections, canonical disease kinds in DISEASE_SECTIONS order, others after them.

    A fixed order makes the content hash independent of how a source happened to order its fields.
    """
    kept = [s for s in sections if s is not None]
    return sorted(kept, key=lambda s: _DISEASE_ORDER.get(s.kind, len(_DISEASE_ORDER)))


# OTC class as labels and databases write it -> the four values Record.otc_class allows.
def normalize_otc(text: str | None) -> str | None:
    """"甲类非处方药", "OTC甲类", "乙类OTC", "处方药", "Rx" ... -> "甲类OTC" | "乙类OTC" | "OTC" | "Rx"."""
    if not text:
        return None
    t = to_halfwidth(text).upper().replace(" ", "")
    if "非处方" in t or "OTC" in t:
        if "甲" in t:
            return "甲类OTC"
        if "乙" in t:
            return "乙类OTC"
        return "OTC"
    if "处方药" in t or t in ("RX", "R"):
        return "Rx"
    return None
