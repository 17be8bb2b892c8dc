"""How much a source is trusted, and what that decides when several sources hold one section.

Every source carries an authority rank, stored with it (`sources.authority`): a drug label (说明书) is
written and approved as a whole; curated entries (the demo's, written from labels by people) come next;
CMeKG's items are phrases a model extracted from such texts; the xywy crawl is page text. The rank is
set at ingest from the source's origin and format (`default_authority`), or given (`kb ingest
--authority`).

`precedence` is the one place where ranks decide: for a section that several sources hold for one
entity, the highest-ranked source answers whole; a lower one keeps only the items the higher ones lack,
and its free text only where no higher one has text of its own (a higher bare item list is completed by
a lower source's detail, a label's text is never contradicted by a crawl's). Sections whose text is a
dose or a warning (`TEXT_WINS`) are the higher source's alone. The retriever applies it when it builds
passages; `kb lint` applies it to count what is superseded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import case, inspect, literal
from sqlalchemy.orm import Session

from kb.names import fold

# rank -> (name, how a reader sees it)
RANKS: dict[int, tuple[str, str]] = {
    40: ("label", "说明书"),
    30: ("curated", "整理条目"),
    20: ("graph", "知识图谱"),
    10: ("crawl", "网页抓取"),
}
BY_NAME = {name: rank for rank, (name, _) in RANKS.items()} | {shown: rank for rank, (_, shown) in RANKS.items()}
UNRANKED = 0  # a passage from an index built before ranks existed

# Origins whose standing is known whatever their format: the demo's labels are written by the project, not
# a manufacturer's label; colloquial names are curated.
BY_ORIGIN = {"demo": 30, "colloquial": 30, "cmekg": 20, "xywy": 10, "medical-json": 10}
BY_FORMAT = {"label": 40, "json": 30, "cmekg": 20, "xywy": 10, "medical-json": 10}
DEFAULT = 30

# Sections where a lower source's text is never shown beside a higher source's: doses and warnings differ
# between sources, and the label's are the ones that hold.
TEXT_WINS = {"用法用量", "注意事项", "孕妇及哺乳期妇女用药", "儿童用药", "老年用药", "药物过量", "规格", "成份"}


def default_authority(origin: str, fmt: str) -> int:
    """The rank of a source of this origin and format when none is given."""
    return BY_ORIGIN.get(origin, BY_FORMAT.get(fmt, DEFAULT))


def parse_authority(value: str | int) -> int:
    """"label" / "说明书" / "40" -> 40; ValueError naming the choices otherwise."""
    text = str(value).strip()
    if text in BY_NAME:
        return BY_NAME[text]
    if text.isdigit() and 0 <= int(text) <= 100:
        return int(text)
    names = ", ".join(f"{n} ({r})" for r, (n, _) in RANKS.items())
    raise ValueError(f"unknown authority {text!r} (one of {names}, or a number 0-100)")


def authority_name(rank: int | None) -> str:
    """"说明书 (label, 40)": how `kb show` and the sources panel name a rank."""
    if rank is None or rank == UNRANKED:
        return "未分级"
    best = max((r for r in RANKS if r <= rank), default=min(RANKS))
    name, shown = RANKS[best]
    return f"{shown} ({name}, {rank})"


def authority_label(rank: int | None) -> str:
    """"说明书": the short name of a rank (the nearest rank at or below it)."""
    if rank is None or rank == UNRANKED:
        return "未分级"
    return RANKS[max((r for r in RANKS if r <= rank), default=min(RANKS))][1]


def stores_authority(session: Session) -> bool:
    """Whether the KB's schema has `sources.authority` (migration 0004)."""
    return "authority" in {c["name"] for c in inspect(session.connection()).get_columns("sources")}


def authority_column(session: Session, source_table=None):
    """An SQL expression for a source row's rank: the stored column, or on a KB whose schema predates it
    (not migrated yet: `kb init`) the default from its origin and format, so reading never fails."""
    from kb.models import Source

    table = source_table if source_table is not None else Source.__table__
    if stores_authority(session):
        return table.c.authority
    whens = [(table.c.origin == o, literal(r)) for o, r in BY_ORIGIN.items()]
    whens += [(table.c.format == f, literal(r)) for f, r in BY_FORMAT.items()]
    return case(*whens, else_=literal(DEFAULT))


# --- precedence ---------------------------------------------------------------------------------------

@dataclass
class Held:
    """What one source holds for one section of one entity (texts and items), before and after precedence."""

    origin: str
    authority: int
    texts: list[str] = field(default_factory=list)
    items: list[str] = field(default_factory=list)
    superseded: list[str] = field(default_factory=list)  # items and texts left out: a higher source holds them
    dropped: list[tuple[str, str]] = field(default_factory=list)  # (kb.debris category, item or sentence) left out
    # sentences of this (lower) source's superseded dose or warning text (TEXT_WINS) that the higher sources' text
    # does not say: where the sources differ, and the answer, quoting the higher, should say a lower source differs
    differs: list[str] = field(default_factory=list)


_SEPARATORS = re.compile(r"[、，,；;。\s]+")
_NOT_CONTENT = re.compile(r"[^\w]+")


def own_text(held: Held) -> list[str]:
    """The texts that say more than the item list ("发热、咳嗽" for items 发热, 咳嗽 says nothing more)."""
    items = set(held.items)
    joins = {"、".join(held.items), "；".join(held.items)}
    out = []
    for t in held.texts:
        t = t.strip()
        if not t or t in joins or (items and set(p for p in _SEPARATORS.split(t) if p) <= items):
            continue
        out.append(t)
    return out


def _bigrams(text: str) -> set[str]:
    text = _NOT_CONTENT.sub(" ", fold(text))
    grams = set()
    for run in text.split():
        if len(run) == 1:
            grams.add(run)
        else:
            grams.update(run[i:i + 2] for i in range(len(run) - 1))
    return grams


def covered(item: str, text: str, grams: set[str]) -> bool:
    """Whether `item` is said by `text` (folded): as written, or with at least 80% of its character bigrams."""
    key = _NOT_CONTENT.sub("", fold(item))
    if not key:
        return True
    if key in text:
        return True
    mine = _bigrams(item)
    return bool(mine) and len(mine & grams) / len(mine) >= 0.8


_SENTENCES = re.compile(r"(?<=[。！？!?；;\n])")


def _unsaid(text: str, seen_text: str, grams: set[str]) -> list[str]:
    """The sentences of `text` (of at least 4 content characters) that a higher source's text does not say
    (`covered`)."""
    return [s.strip() for s in _SENTENCES.split(text)
            if len(_NOT_CONTENT.sub("", s)) >= 4 and not covered(s, seen_text, grams)]


def precedence(section: str, held: list[Held]) -> list[Held]:
    """The sources of one section of one entity, highest rank first, each reduced to what it may add
    (see the module docstring); a source left with nothing is dropped. Ties keep the given order."""
    ranked = sorted(held, key=lambda h: -h.authority)
    out: list[Held] = []
    seen_text = ""  # folded, content characters only, of everything higher sources hold
    grams: set[str] = set()
    higher_has_text = False
    for h in ranked:
        if out and h.authority < out[0].authority:
            kept_items = [i for i in h.items if not covered(i, seen_text, grams)]
            if section in TEXT_WINS:  # a dose or warning item the higher text does not say (still added after it)
                h.differs += [i for i in kept_items if len(_NOT_CONTENT.sub("", i)) >= 4]
            h.superseded += [i for i in h.items if i not in kept_items]
            texts = own_text(h)
            if higher_has_text or section in TEXT_WINS and out:
                h.superseded += texts
                if section in TEXT_WINS:  # a dose or a warning said otherwise; elsewhere a crawl's text says more
                    h.differs += [x for t in texts for x in _unsaid(t, seen_text, grams)]
                texts = []
            h.items, h.texts = kept_items, texts
        own = own_text(h)
        joined = "\n".join(h.texts + h.items)
        seen_text += "\n" + _NOT_CONTENT.sub("", fold(joined))
        grams |= _bigrams(joined)
        higher_has_text = higher_has_text or bool(own)
        if h.items or h.texts:
            out.append(h)
    return out


def settle_held(section: str, held: list[Held], entity: str = "") -> list[Held]:
    """One section of one entity as answers may quote it: debris (kb.debris) left out of every source's items
    and of the sentences of sources ranked below curated (extraction; a label's or curated text is written by
    people and kept whole), then `precedence`. Highest rank first; what was left out is in `dropped` and
    `superseded`. The retriever builds passages from this (retriever/passages.py), `kb lint` counts it."""
    from kb.debris import STATISTIC, STATISTIC_SECTIONS, checked, keep_items, keep_sentences, strict_for

    for h in held if section in STATISTIC_SECTIONS else ():
        if strict_for(h.authority):
            h.dropped += [(STATISTIC, x) for x in h.items + h.texts]
            h.items, h.texts = [], []
    for h in held if checked(section) else ():
        strict = strict_for(h.authority)
        h.items, dropped = keep_items(list(dict.fromkeys(h.items)), section, strict, entity)
        texts = []
        for t in h.texts:
            kept, gone = keep_sentences(t, strict, section, entity)
            dropped += gone
            if kept:
                texts.append(kept)
        h.texts = texts
        h.dropped += dropped
    if len(held) == 1:
        return [h for h in held if h.items or h.texts]
    return precedence(section, held)
