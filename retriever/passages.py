"""KB sections as passages: one per (entity, section, origin), long text chunked at sentence ends.

Every passage reads on its own ("阿莫西林 · 适应症：…"), so a prompt, a sources panel or an old answer
log can show it without the KB. Ids are "e{entity_id}:{section}:{origin}:{chunk}" and depend on
nothing else, so they survive rebuilds and citations keep resolving.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import PurePath

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.authority import Held, authority_column, settle_held
from kb.debris import CAUSE_AS_COMPLICATION, strict_for
from kb.corroboration import DRUG_SECTION as DRUG_LIST, corroborated_links
from kb.models import Alias, Contribution, Entity, Section, Source
from kb.records import ENTITY_TYPES, LINK_KINDS, text_of_items
from retriever.symptoms import is_symptom_item
from retriever.hits import Passage

CHUNK_CHARS = 360  # long enough for a label paragraph, short enough for a compact prompt
# List sections whose items are the answer ("百日咳 · 症状：阵发性咳嗽、…"); detail text follows as later chunks.
LIST_FIRST = set(LINK_KINDS) | {"就诊科室", "宜吃", "忌吃", "治疗方式"}

# Where a sentence ends (after its mark): passages are chunked there, and chat quotes and checks whole sentences.
SENTENCE_END = re.compile(r"(?<=[。！？!?；;\n])")
_CLAUSE_END = re.compile(r"(?<=[，,、：:])")


def passage_id(entity_id: int, section: str, origin: str, chunk: int) -> str:
    return f"e{entity_id}:{section}:{origin}:{chunk}"


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def chunk_text(text: str, limit: int = CHUNK_CHARS) -> list[str]:
    """Split at sentence ends into pieces of at most `limit` characters (a sentence longer than that is
    cut at clause ends, and failing those, hard), packing short sentences together."""
    text = text.strip()
    if len(text) <= limit:
        return [text] if text else []
    pieces: list[str] = []
    for sentence in SENTENCE_END.split(text):
        if len(sentence) <= limit:
            pieces.append(sentence)
            continue
        for clause in _CLAUSE_END.split(sentence):
            pieces += [clause[i : i + limit] for i in range(0, len(clause), limit)]
    chunks, current = [], ""
    for piece in pieces:
        if current and len(current) + len(piece) > limit:
            chunks.append(current.strip())
            current = ""
        current += piece
    if current.strip():
        chunks.append(current.strip())
    return [c for c in chunks if c]


def chunk_items(items: list[str], limit: int = CHUNK_CHARS) -> list[list[str]]:
    """Items packed into groups whose "、"-joined text stays under `limit` (an item is never split)."""
    groups: list[list[str]] = []
    size = 0
    for item in items:
        if groups and size + len(item) + 1 <= limit:
            groups[-1].append(item)
            size += len(item) + 1
        else:
            groups.append([item])
            size = len(item)
    return groups


def short_source(origin: str, uri: str) -> str:
    """"xywy · medical_0.json", "cmekg · package:pycmekg==0.2.5": enough to find the source, short enough to show."""
    name = PurePath(uri).name if "/" in uri or "\\" in uri else uri
    return f"{origin} · {name}" if name and name != origin else origin


def kb_licenses(session: Session) -> dict[str, str]:
    """{short source: licence note} of every ingested source that has a note (the latest ingest wins), so an
    answer can show "demo data, NOT for clinical use" beside the passage it quotes."""
    rows = session.execute(select(Source.origin, Source.uri, Source.license_note)
                           .where(Source.license_note.is_not(None)).order_by(Source.id))
    return {short_source(origin, uri): note for origin, uri, note in rows if note and note.strip()}


@dataclass
class SectionContent:
    """One section kind of one entity from one origin: the rows the KB holds for it, merged."""

    entity_id: int
    entity_type: str
    entity_name: str
    section: str
    origin: str
    source: str
    revision: int
    contribution_id: int
    texts: list[str] = field(default_factory=list)
    items: list[str] = field(default_factory=list)
    authority: int = 0  # the source's rank (kb.authority)
    # what `settle` left out: (why, text), why a kb.debris category or "superseded" (a higher source holds it)
    dropped: list[tuple[str, str]] = field(default_factory=list)
    # on the section that answers (the highest-ranked source's): (origin, sentence) of lower sources' superseded
    # text that this one does not say (kb.authority `Held.differs`): where the answer should say a lower
    # source differs (its origins reach the Passage, stored with the index).
    differs: list[tuple[str, str]] = field(default_factory=list)


def section_passages(s: SectionContent, limit: int = CHUNK_CHARS) -> list[Passage]:
    """The passages of one section: the item list (chunked by items) and the free text (chunked by sentences)."""
    items = list(dict.fromkeys(s.items))
    if s.section == "症状":  # crawled symptom lists carry page debris ("婚姻", "地点", truncated "…...")
        items = [i for i in items if is_symptom_item(i)]
    item_text = text_of_items(items)
    known = set(items)
    # A text that only lists the items again ("鼻塞、流涕") adds nothing; detail paragraphs do.
    texts = [t for t in dict.fromkeys(t.strip() for t in s.texts)
             if t and t != item_text and not (known and set(re.split(r"[、，,；;]\s*", t)) <= known)]
    # CMeKG joins sentence-like items with "；": that text *is* the items, do not repeat it.
    texts = [t for t in texts if t != "；".join(items)] if items else texts
    bodies: list[tuple[str, tuple[str, ...]]] = []
    item_bodies = [(text_of_items(g), tuple(g)) for g in chunk_items(items, limit)] if items else []
    text_bodies = [(c, ()) for t in texts for c in chunk_text(t, limit)]
    if not texts and items and any(len(i) > 20 or "，" in i for i in items):
        item_bodies = [(c, ()) for c in chunk_text("；".join(items), limit)]  # sentences, not a list
        item_bodies[0] = (item_bodies[0][0], tuple(items))
    if s.section in LIST_FIRST or not text_bodies:
        bodies = item_bodies + text_bodies
    elif all(i in "\n".join(texts) for i in items):
        # Items a label parser cut out of the text ("1. …" clauses) would only repeat it.
        bodies = [(text_bodies[0][0], tuple(items))] + text_bodies[1:]
    else:
        bodies = text_bodies + item_bodies
    out = []
    for chunk, (body, chunk_items_) in enumerate(bodies):
        text = f"{s.entity_name} · {s.section}：{body}"
        out.append(Passage(
            id=passage_id(s.entity_id, s.section, s.origin, chunk), entity_id=s.entity_id,
            entity_type=s.entity_type, entity_name=s.entity_name, section=s.section, text=text,
            source=s.source, kb_revision=s.revision, content_hash=content_hash(text), chunk=chunk,
            items=chunk_items_, authority=s.authority, differs=tuple(dict.fromkeys(o for o, _ in s.differs)),
        ))
    return out


def read_sections(session: Session, entity_ids: Iterable[int] | None = None) -> Iterator[SectionContent]:
    """The KB's sections of drugs, diseases and exams, merged per (entity, origin, kind), in a stable order."""
    q = (
        select(Section.entity_id, Entity.type, Entity.name, Section.kind, Section.text, Section.items,
               Contribution.id, Contribution.origin, Contribution.revision, Source.uri, authority_column(session))
        .join(Entity, Entity.id == Section.entity_id)
        .join(Contribution, Contribution.id == Section.contribution_id)
        .join(Source, Source.id == Contribution.source_id)
        .where(Entity.type.in_(ENTITY_TYPES))
        .order_by(Section.entity_id, Contribution.origin, Section.position)
    )
    ids = sorted(set(entity_ids)) if entity_ids is not None else None
    batches = [ids[i : i + 500] for i in range(0, len(ids), 500)] if ids is not None else [None]
    for batch in batches:
        stmt = q if batch is None else q.where(Section.entity_id.in_(batch))
        drugs_ok = corroborated_links(session, batch)
        current: dict[tuple[int, str, str], SectionContent] = {}
        last_entity = None
        for eid, etype, name, kind, text, items, cid, origin, revision, uri, rank in session.execute(
            stmt.execution_options(yield_per=5000)
        ):
            if eid != last_entity:
                yield from _corroborated(settle(current.values()), drugs_ok)
                current, last_entity = {}, eid
            key = (eid, origin, kind)
            sc = current.get(key)
            if sc is None:
                sc = current[key] = SectionContent(eid, etype, name, kind, origin, short_source(origin, uri),
                                                   revision, cid, authority=rank)
            if text:
                sc.texts.append(text)
            sc.items.extend(i for i in (items or []) if isinstance(i, str))
        yield from _corroborated(settle(current.values()), drugs_ok)


def settle(sections: Iterable[SectionContent]) -> list[SectionContent]:
    """One entity's sections as answers may quote them: `kb.authority.settle_held` per section kind, the one
    place where debris is left out and ranks decide which source answers (a lower source keeps only what
    the higher lack). Highest rank first within each kind; what was left out is in `dropped`."""
    by_kind: dict[str, list[SectionContent]] = {}
    for sc in sections:
        by_kind.setdefault(sc.section, []).append(sc)
    out = []
    for kind, group in by_kind.items():
        held = [Held(sc.origin, sc.authority, list(sc.texts), list(sc.items)) for sc in group]
        kept = {id(h) for h in settle_held(kind, held, group[0].entity_name)}
        top = None
        for sc, h in sorted(zip(group, held), key=lambda pair: -pair[0].authority):
            sc.texts, sc.items = h.texts, h.items
            sc.dropped += h.dropped + [("superseded", x) for x in h.superseded]
            if id(h) in kept:
                top = top or sc
                out.append(sc)
        if top is not None:
            top.differs += [(h.origin, x) for h in held for x in h.differs]
    return _without_causes_as_complications(out)


def _caused_by(item: str, causes: str) -> bool:
    """Whether the 病因 text says `item` causes the entity ("病毒性肝炎是我国肝硬化最常见的病因", "由病毒性肝炎引起"),
    not merely names it ("酒精性肝病包括脂肪肝、酒精性肝炎和肝硬化")."""
    i = re.escape(item)
    return bool(re.search(rf"(由|因|继发于|源于){i}|{i}[^。；;]{{0,14}}?(引起|导致|所致|诱发|病因|原因)", causes))


def _without_causes_as_complications(sections: list[SectionContent]) -> list[SectionContent]:
    """A crawled 并发症 list that names what the entity's own 病因 says causes it ("病毒性肝炎" as a complication of
    肝硬化) has the relation reversed: those items are left out (kb.debris CAUSE_AS_COMPLICATION)."""
    causes = "\n".join(t for sc in sections if sc.section == "病因" for t in sc.texts + sc.items)
    if not causes:
        return sections
    out = []
    for sc in sections:
        if sc.section == "并发症" and strict_for(sc.authority):
            reversed_ = [i for i in sc.items if len(i) >= 3 and _caused_by(i, causes)]
            sc.items = [i for i in sc.items if i not in reversed_]
            sc.dropped += [(CAUSE_AS_COMPLICATION, i) for i in reversed_]
            if not sc.items and not sc.texts:
                continue
        out.append(sc)
    return out


def _corroborated(sections: Iterable[SectionContent], drugs_ok: dict[int, dict[str, bool]]) -> Iterator[SectionContent]:
    """A disease's drug list keeps only the drugs whose own indications name the disease
    (`kb.corroboration`), as items: its text (the same list as a crawled sentence, "珍珠末、白金丸") cannot be
    checked name by name and is left out; a list left empty is no section at all."""
    for sc in sections:
        if sc.entity_type == "disease" and sc.section == DRUG_LIST:
            ok = drugs_ok.get(sc.entity_id, {})
            sc.items, sc.texts = [i for i in sc.items if ok.get(i)], []
            if not sc.items:
                continue
        yield sc


def kb_passages(session: Session, entity_ids: Iterable[int] | None = None,
                limit: int = CHUNK_CHARS) -> Iterator[Passage]:
    """All passages of the KB (or of `entity_ids`), in a stable order."""
    for sc in read_sections(session, entity_ids):
        yield from section_passages(sc, limit)


@dataclass(frozen=True)
class EntityName:
    """What the linker and the tokenizer need to know about an entity."""

    entity_id: int
    entity_type: str
    name: str
    aliases: tuple[str, ...] = ()


def kb_entity_names(session: Session, entity_ids: Iterable[int] | None = None) -> list[EntityName]:
    """Names and aliases of drugs, diseases and exams (symptoms are not linked: they have no passages)."""
    q = select(Entity.id, Entity.type, Entity.name).where(Entity.type.in_(ENTITY_TYPES)).order_by(Entity.id)
    aq = select(Alias.entity_id, Alias.alias).join(Entity, Entity.id == Alias.entity_id) \
        .where(Entity.type.in_(ENTITY_TYPES)).order_by(Alias.id)
    if entity_ids is not None:
        ids = sorted(set(entity_ids))
        rows, alias_rows = [], []
        for i in range(0, len(ids), 500):
            rows += session.execute(q.where(Entity.id.in_(ids[i : i + 500]))).all()
            alias_rows += session.execute(aq.where(Alias.entity_id.in_(ids[i : i + 500]))).all()
    else:
        rows, alias_rows = session.execute(q).all(), session.execute(aq).all()
    aliases: dict[int, list[str]] = {}
    for eid, alias in alias_rows:
        aliases.setdefault(eid, []).append(alias)
    return [EntityName(eid, etype, name, tuple(dict.fromkeys(aliases.get(eid, ())))) for eid, etype, name in rows]
