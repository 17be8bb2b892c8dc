"""Name normalisation: one function decides when two spellings name the same entity."""

from __future__ import annotations

import re
import unicodedata

# Punctuation and spacing that differ between sources but never distinguish two entities.
_DROP = re.compile(r"[\s·•・\u00b7\u3000\-_/\\,，、;；:：'\"“”‘’()（）\[\]【】<>《》〈〉]+")


def to_halfwidth(text: str) -> str:
    """Full-width ASCII (ＡＢＣ１２３，) to half-width; NFKC also folds compatibility forms."""
    return unicodedata.normalize("NFKC", text)


def normalize_name(name: str) -> str:
    """The key under which an entity or alias is stored and looked up.

    Width-folded, lower-cased, with spaces and punctuation removed, so that
    "阿莫西林 胶囊", "阿莫西林胶囊" and "ＡＭＯＸＩＣＩＬＬＩＮ" find the same rows.
    """
    return _DROP.sub("", to_halfwidth(name)).lower()


def clean_text(text: str) -> str:
    """Display text: width-folded, runs of spaces collapsed, trimmed (line breaks kept)."""
    text = to_halfwidth(text).replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(r"[ \t\u3000]+", " ", text)
    text = re.sub(r"\n\s*\n+", "\n", text)
    return text.strip()


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
