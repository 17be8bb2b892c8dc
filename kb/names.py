"""Name normalisation: one function decides when two spellings name the same entity."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Punctuation and spacing that differ between sources but never distinguish two entities.
_DROP = re.compile(r"[\s·•・\u00b7\u3000\-_/\\,，、;；:：'\"“”‘’()（）\[\]【】<>《》〈〉]+")


def fold(text: str) -> str:
    """Width-folded (NFKC) and lower-cased: how text is compared, not how it is shown."""
    return unicodedata.normalize("NFKC", text or "").lower()


def to_halfwidth(text: str) -> str:
    """Full-width ASCII (ＡＢＣ１２３，) to half-width; NFKC also folds compatibility forms."""
    return unicodedata.normalize("NFKC", text)


@lru_cache(maxsize=262_144)  # link targets repeat: 130k links of the xywy crawl name ~30k symptoms
def normalize_name(name: str) -> str:
    """The key under which an entity or alias is stored and looked up.

    Width-folded, lower-cased, with spaces and punctuation removed, so that
    "阿莫西林 胶囊", "阿莫西林胶囊" and "ＡＭＯＸＩＣＩＬＬＩＮ" find the same rows.
    """
    return _DROP.sub("", to_halfwidth(name)).lower()


# Full-width digits, Latin letters, "．" and "％" (as in "０．５ｇ", "５％") fold to ASCII in display text;
# Chinese punctuation (，：；（）) and circled numbers (①) are kept as written.
_WIDE_ALNUM = {c: c - 0xFEE0 for c in [*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B), 0xFF0E, 0xFF05]}


_WIDE_CHARS = "\uff05\uff0e\uff10-\uff19\uff21-\uff3a\uff41-\uff5a"
_WIDE = re.compile(f"[{_WIDE_CHARS}]")
_SPACES = re.compile(r"[ \t\u3000]{2,}|[\t\u3000]")
_BLANK_LINES = re.compile(r"\n\s*\n+")
# Anything clean_text would change: a wide character, \r, \t, an ideographic space, two spaces or a
# blank line. It starts with one character class so that `re` skips clean text at C speed; the plain
# alternation "[...]|  |\n\s*\n" takes twice as long over the xywy crawl's 18M characters.
_ODD = f"{_WIDE_CHARS}\r\t\u3000"
_ANY_MESS = re.compile(f"[{_ODD} \n](?:(?<=[{_ODD}])|(?<= ) |(?<=\n)\\s*\n)")


def clean_text(text: str) -> str:
    """Display text: full-width digits and letters folded, runs of spaces collapsed, trimmed (line breaks kept)."""
    # Fast path: ingest cleans ~500k strings for the xywy crawl alone, and most need nothing.
    if not _ANY_MESS.search(text):
        return text.strip()
    if _WIDE.search(text):
        text = text.translate(_WIDE_ALNUM)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if _SPACES.search(text):
        text = re.sub(r"[ \t\u3000]+", " ", text)
    if "\n" in text:
        text = _BLANK_LINES.sub("\n", text)
    return text.strip()


_ASCII_TO_CJK = {",": "，", ":": "：", ";": "；", "?": "？", "!": "！", "(": "（", ")": "）"}
_CJK = "\u4e00-\u9fff\u3001-\u303f\uff08\uff09\uff0c\uff1a\uff1b"
# List numbering "(1)" is left alone; other punctuation touching Chinese text becomes full-width.
_PUNCT_NEAR_CJK = re.compile(f"\\(\\d{{1,2}}\\)|(?<=[{_CJK}])[,:;?!()]|[,:;?!()](?=[{_CJK}])")


clean_item = lru_cache(maxsize=262_144)(clean_text)  # short list items (symptoms, drugs) repeat a lot


def restore_cjk_punctuation(text: str) -> str:
    """Undo NFKC's folding of Chinese punctuation where it touches Chinese text: "用法:口服,一次1粒"
    -> "用法：口服，一次1粒"; "1,000" and "(PT)" between Latin letters stay as they are."""
    return _PUNCT_NEAR_CJK.sub(lambda m: _ASCII_TO_CJK.get(m.group(0), m.group(0)), text)


def dedupe_aliases(name: str, aliases: list[str]) -> list[str]:
    """Aliases in first-seen order, without blanks, without the name itself and without repeats."""
    seen = {normalize_name(name)}
    out = []
    for alias in aliases:
        alias = clean_text(alias or "")
        key = normalize_name(alias)
        if key and key not in seen:
            seen.add(key)
            out.append(alias)
    return out


def shorten(value: object, limit: int = 60) -> str:
    """A value as an error line quotes it: whole up to `limit` characters, else its start and "…"
    (a 5,000-character name must not make a 15 KB error line)."""
    text = str(value)
    return text if len(text) <= limit else text[:limit] + "…"
