"""Entity linking: KB names and aliases found in a question (Aho-Corasick, longest match wins).

Matching runs on `kb.names.normalize_name` forms, so "ＡＭＯＸＩＣＩＬＬＩＮ", "阿莫西林 胶囊" and
"阿莫西林胶囊" all match; positions are mapped back to the question as written. Besides names and
aliases the automaton knows each drug's name without its dosage form ("布洛芬缓释胶囊" -> "布洛芬"),
because people ask about "布洛芬", not about the capsule; such a bare name links all the products that
share it (up to `MAX_PER_KEY`), and never shadows an entity that is really called that.
"""

from __future__ import annotations

import os
import pickle
import re
from collections.abc import Callable, Iterable
from pathlib import Path

import ahocorasick

from kb.debris import DEPARTMENTS
from kb.names import normalize_name
from retriever.hits import EntityMention
from retriever.passages import EntityName
from retriever.words import ORGANS

MAX_PER_KEY = 8
# Words that are another thing's name, whatever a source lists them as an alias of: an organ ("甲状腺" as 甲状腺片's
# short name) or a department ("外科" as an alias of 腹部损伤). Only an entity called so links by them.
_NEVER_ALIASES = ORGANS | DEPARTMENTS
# Shortest names a near-miss spelling may link to: drug names are long and misspelt often; short disease
# names are one character away from too many words.
NEAR_MISS_MIN = {"drug": 4, "disease": 5, "exam": 5}
# Dosage forms, longest first so that "肠溶胶囊" is stripped whole.
DOSAGE_FORMS = sorted({
    "胶囊", "软胶囊", "硬胶囊", "肠溶胶囊", "缓释胶囊", "控释胶囊", "片", "肠溶片", "缓释片", "控释片", "分散片",
    "咀嚼片", "泡腾片", "含片", "薄膜衣片", "糖衣片", "口腔崩解片", "颗粒", "颗粒剂", "冲剂", "口服液", "口服溶液",
    "糖浆", "合剂", "注射液", "注射剂", "粉针剂", "丸", "滴丸", "水丸", "蜜丸", "大蜜丸", "小蜜丸", "浓缩丸", "散",
    "软膏", "乳膏", "霜", "凝胶", "滴眼液", "眼膏", "滴鼻液", "滴耳液", "喷雾剂", "气雾剂", "栓", "贴", "贴剂",
    "贴膏", "膏药", "混悬液", "干混悬剂", "混悬剂", "酊", "搽剂", "洗剂", "溶液", "片剂", "胶丸", "膏", "茶", "酒",
}, key=len, reverse=True)
_PREFIXES = ("注射用", "复方")  # "注射用头孢曲松钠" is asked about as "头孢曲松钠"; 复方 is kept (it differs)
_ASCII = re.compile(r"^[0-9a-z .+\-]+$")
# Normalisation drops punctuation, so "肥厚、皮肤" would read as "厚皮"; a name never spans these.
_SEPARATORS = re.compile(r"[、，,。；;！!？?：:\n]")
_ASCII_CHAR = re.compile(r"[0-9a-z]")


def bare_drug_name(name: str) -> str | None:
    """The drug's name without its dosage form, or None when there is nothing to strip."""
    norm = normalize_name(name)
    stripped = norm
    if stripped.startswith("注射用"):
        stripped = stripped[3:]
    for form in DOSAGE_FORMS:
        if stripped.endswith(form) and len(stripped) - len(form) >= 2:
            stripped = stripped[: -len(form)]
            break
    stripped = re.sub(r"[0-9.]+(mg|g|ml|%)?$", "", stripped)  # "阿司匹林肠溶片100mg"
    return stripped if stripped != norm and len(stripped) >= 2 else None


def _normalize_with_positions(text: str) -> tuple[str, list[int]]:
    """normalize_name applied char by char, with the question index each normalised char came from."""
    out, where = [], []
    for i, ch in enumerate(text):
        for n in normalize_name(ch):
            out.append(n)
            where.append(i)
    return "".join(out), where


def _usable(key: str) -> bool:
    """Too-short keys would link noise: one Chinese character, or fewer than 3 Latin letters."""
    if len(key) < 2 or key.isdigit():
        return False
    return not (_ASCII.match(key) and len(key) < 3)


class EntityLinker:
    """Finds the KB's drug, disease and exam names and aliases in text."""

    def __init__(self, names: Iterable[EntityName]):
        exact: dict[str, list[tuple[int, str, str]]] = {}
        bare: dict[str, list[tuple[int, str, str]]] = {}
        by_name: set[tuple[str, int]] = set()
        # near misses: a name with one character changed keeps its first or its second half intact, so each
        # form is filed under (length, first half) and (length, second half); a span is compared only with
        # the forms filed under its own halves (two keys a form: cheap to build)
        self.forms: list[tuple[str, tuple[int, str, str]]] = []
        self.halves: dict[tuple[int, int, str], list[int]] = {}
        for e in names:
            target = (e.entity_id, e.entity_type, e.name)
            forms = []
            for surface in (e.name, *e.aliases):
                key = normalize_name(surface)
                if _usable(key):
                    found = exact.setdefault(key, [])
                    if target not in found:
                        found.append(target)
                    forms.append(key)
            by_name.add((normalize_name(e.name), e.entity_id))
            if e.entity_type == "drug":
                key = bare_drug_name(e.name)
                if key and _usable(key):
                    bare.setdefault(key, []).append(target)
                    forms.append(key)
            shortest = NEAR_MISS_MIN.get(e.entity_type, 99)
            for form in dict.fromkeys(forms):
                if shortest <= len(form) <= 12 and not _ASCII_CHAR.search(form):
                    half = len(form) // 2
                    self.forms.append((form, target))
                    self.halves.setdefault((len(form), 0, form[:half]), []).append(len(self.forms) - 1)
                    self.halves.setdefault((len(form), 1, form[half:]), []).append(len(self.forms) - 1)
        for key, targets in exact.items():
            # The entity *called* that shadows those that only list it as an alias: "头孢克洛咀嚼片"
            # is the product of that name, not the brand "迪素" whose 通用名 it is.
            named = [t for t in targets if (key, t[0]) in by_name]
            if named:
                targets[:] = named
        self.automaton = ahocorasick.Automaton()
        for key, targets in exact.items():
            self.automaton.add_word(key, (key, True, tuple(targets[:MAX_PER_KEY])))
        for key, targets in bare.items():
            if key not in exact:
                self.automaton.add_word(key, (key, False, tuple(targets[:MAX_PER_KEY])))
        self.size = len(exact) + len(bare)
        if self.size:
            self.automaton.make_automaton()

    FILE = "linker.pickle"  # in each index generation: building the automaton takes a second on a large KB

    def save(self, folder: Path) -> None:
        tmp = Path(folder) / f".{self.FILE}.tmp"
        with open(tmp, "wb") as f:
            pickle.dump(self, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, Path(folder) / self.FILE)

    @classmethod
    def open(cls, folder: Path, names: Callable[[], Iterable[EntityName]]) -> "EntityLinker":
        """The linker saved with an index generation (a file the index's own build wrote), or one built
        from `names()` for a generation written before linkers were saved."""
        path = Path(folder) / cls.FILE
        if path.exists():
            with open(path, "rb") as f:
                return pickle.load(f)
        return cls(names())

    def named(self, name: str) -> list[tuple[int, str, str]]:
        """(entity id, type, name) of the entities called exactly `name` (one dictionary lookup, no scan)."""
        key = normalize_name(name)
        found = self.automaton.get(key, None) if self.size else None
        return [t for t in (found[2] if found else ()) if t[2] == name]

    def link(self, text: str) -> list[EntityMention]:
        """Mentions in order of appearance; overlapping matches resolve to the longest (then the leftmost)."""
        if not self.size or not text:
            return []
        norm, where = _normalize_with_positions(text)
        matches = []
        for end, (key, is_exact, targets) in self.automaton.iter(norm):
            start = end - len(key) + 1
            if _ASCII_CHAR.match(key[0]) and start > 0 and _ASCII_CHAR.match(norm[start - 1]):
                continue  # "ace" inside "replace": Latin names match whole words only
            if _ASCII_CHAR.match(key[-1]) and end + 1 < len(norm) and _ASCII_CHAR.match(norm[end + 1]):
                continue
            if _SEPARATORS.search(text, where[start], where[end] + 1) and not any(
                _SEPARATORS.search(name) for _, _, name in targets
            ):
                continue
            if key in _NEVER_ALIASES and all(normalize_name(name) != key for _, _, name in targets):
                continue  # "甲状腺" names the organ, not 甲状腺片; "外科" a department, not 腹部损伤 (crawled aliases)
            matches.append((start, end + 1, is_exact, targets))
        matches.sort(key=lambda m: (-(m[1] - m[0]), not m[2], m[0]))
        taken = [False] * len(norm)
        chosen = []
        for start, end, is_exact, targets in matches:
            if any(taken[start:end]):
                continue
            taken[start:end] = [True] * (end - start)
            chosen.append((start, end, targets))
        mentions = []
        for start, end, targets in sorted(chosen):
            q_start, q_end = where[start], where[end - 1] + 1
            for entity_id, entity_type, name in targets:
                mentions.append(EntityMention(text[q_start:q_end], q_start, q_end, entity_id, entity_type, name))
        return mentions


    def near_misses(self, text: str, mentions: list[EntityMention]) -> list[EntityMention]:
        """Names written with one wrong character ("复方甲氧那名" for 复方甲氧那明), outside the spans
        already linked. Only a whole segment counts (the characters between words that are never part of
        a name, `retriever.words.NON_NAME_GLUE`), and only when one KB product is that close: a part of a
        longer phrase that happens to be one character off a name is not a misspelling of it."""
        from retriever.words import NON_NAME_GLUE

        taken = [False] * len(text)
        for m in mentions:
            taken[m.start:m.end] = [True] * (m.end - m.start)
        found: list[EntityMention] = []
        for run in re.finditer(r"[\u4e00-\u9fff]+", text):
            a, b = run.span()
            cuts = [a] + [x for g in NON_NAME_GLUE.finditer(text, a, b) for x in g.span()] + [b]
            for start, end in zip(cuts[::2], cuts[1::2]):
                span = text[start:end]
                if not 4 <= len(span) <= 12:
                    continue
                # a disease linked inside the segment ("胃炎" in "咪烂性胃炎") may be the stem of a misspelt longer
                # disease name: the segment is read only for disease names that hold that stem whole (a drug is
                # not: "乙肝病毒" is no misspelling of 乙肝解毒丸)
                stems = [m.surface for m in mentions if start <= m.start and m.end <= end and m.end - m.start < len(span)]
                straddles = any(m.start < start < m.end or m.start < end < m.end for m in mentions)
                if any(taken[start:end]) and (not stems or straddles or _QUALIFIER.search(span)):
                    continue  # ("青年高血压" is no misspelling of 老年高血压: a qualifier is written as meant)
                half = len(span) // 2
                candidates = self.halves.get((len(span), 0, span[:half]), []) + \
                    self.halves.get((len(span), 1, span[half:]), [])
                targets = {self.forms[i][1] for i in candidates
                           if sum(a != b for a, b in zip(span, self.forms[i][0])) == 1
                           and (not stems or self.forms[i][1][1] == "disease"
                                and all(stem in self.forms[i][0] for stem in stems))}
                if targets and len({_product(name) for _, _, name in targets}) == 1:
                    found += [EntityMention(span, start, end, eid, etype, name) for eid, etype, name in targets]
        return sorted(found, key=lambda m: m.start)


# Words that qualify a disease by whom or which course ("青年", "急性"): a name that holds one is not misspelt there.
_QUALIFIER = re.compile(r"(青年|老年|中年|少年|小儿|儿童|婴儿|幼儿|新生儿|成人|妊娠|孕妇|产后|急性|慢性|早期|晚期|原发性|继发性|"
                        r"男性|女性)")


def _product(name: str) -> str:
    """One key for the dosage forms of one drug (a near miss may match 胶囊 and 片 alike)."""
    return bare_drug_name(name) or normalize_name(name)


def mask_mentions(text: str, mentions: list[EntityMention]) -> str:
    """The text with mentioned names blanked out, so that words inside names do not read as intent cues."""
    chars = list(text)
    for m in mentions:
        chars[m.start : m.end] = [" "] * (m.end - m.start)
    return "".join(chars)
