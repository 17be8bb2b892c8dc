"""Read-side questions about the KB, as plain dicts for the CLI and JSON output."""

from __future__ import annotations

from collections import defaultdict
from itertools import islice

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from kb.authority import authority_column
from kb.db import kb_id, kb_revision
from kb.corroboration import corroborated_links
from kb.models import Alias, Contribution, Entity, Link, Section, Source
from kb.injection import instruction_like
from kb.names import normalize_name


def kb_stats(session: Session) -> dict:
    entities = dict(session.execute(select(Entity.type, func.count()).group_by(Entity.type)).all())
    origins = dict(session.execute(select(Contribution.origin, func.count()).group_by(Contribution.origin)).all())
    count = lambda stmt: session.scalar(stmt) or 0  # noqa: E731
    return {
        "kb_revision": kb_revision(session),
        "kb_id": kb_id(session),
        "entities": {t: entities.get(t, 0) for t in ("drug", "disease", "exam", "symptom")},
        "drugs": entities.get("drug", 0),
        "diseases": entities.get("disease", 0),
        "exams": entities.get("exam", 0),
        "sections": count(select(func.count()).select_from(Section)),
        "aliases": count(select(func.count()).select_from(Alias)),
        "links": count(select(func.count()).select_from(Link)),
        "links_resolved": count(select(func.count()).select_from(Link).where(Link.target_id.is_not(None))),
        "sources": count(select(func.count()).select_from(Source)),
        "contributions_by_origin": origins,
    }


def find_entities(session: Session, name: str, type: str | None = None) -> list[dict]:
    """Entities whose name or alias normalises to `name`'s normal form, fully described."""
    norm = normalize_name(name)
    alias_ids = select(Alias.entity_id).where(Alias.norm_alias == norm)
    stmt = (
        select(Entity)
        .where(or_(Entity.norm_name == norm, Entity.id.in_(alias_ids)))
        .options(selectinload(Entity.sections), selectinload(Entity.aliases),
                 selectinload(Entity.contributions).selectinload(Contribution.source))
        .order_by(Entity.id)
    )
    if type:
        stmt = stmt.where(Entity.type == type)
    return [describe(session, e) for e in session.scalars(stmt)]


def describe(session: Session, entity: Entity) -> dict:
    origin_of = {c.id: c.origin for c in entity.contributions}
    ids = [c.source_id for c in entity.contributions]
    rank_of_source = dict(session.execute(select(Source.id, authority_column(session)).where(Source.id.in_(ids))).all()) \
        if ids else {}
    rank_of = {c.id: rank_of_source.get(c.source_id) for c in entity.contributions}
    links = defaultdict(list)
    for rel, target in session.execute(
        select(Link.relation, Link.target_name).where(Link.from_id == entity.id).order_by(Link.id)
    ):
        links[rel].append(target)
    for rel, source_name in session.execute(
        select(Link.relation, Entity.name).join(Entity, Entity.id == Link.from_id).where(Link.target_id == entity.id)
    ):
        links[f"{rel} (from)"].append(source_name)
    return {
        "id": entity.id, "type": entity.type, "name": entity.name,
        "approval_number": entity.approval_number, "otc_class": entity.otc_class,
        "aliases": list(dict.fromkeys(a.alias for a in entity.aliases)),
        "sections": [{"kind": s.kind, "title": s.title, "text": s.text, "items": s.items,
                      "origin": origin_of.get(s.contribution_id), "authority": rank_of.get(s.contribution_id),
                      "instruction_like": instruction_like(s.text)}
                     for s in entity.sections],
        "links": dict(links),
        # disease -> drug links that the drug's own indications corroborate (kb.corroboration); the others
        # are never named in an answer
        "drugs_corroborated": corroborated_links(session, [entity.id]).get(entity.id, {})
        if entity.type == "disease" else {},
        "sources": [{"origin": c.origin, "uri": c.source.uri, "format": c.source.format, "authority": rank_of.get(c.id),
                     "license_note": c.source.license_note, "revision": c.revision,
                     "content_hash": c.content_hash} for c in entity.contributions],
        "created_revision": entity.created_revision, "updated_revision": entity.updated_revision,
    }


def export_records(session: Session, type: str | None = None, origin: str | None = None):
    """One record per (entity, origin) in the project's JSON record format (docs/record-format.md)."""
    stmt = select(Contribution).join(Entity).order_by(Entity.id, Contribution.id).options(
        selectinload(Contribution.entity))
    if type:
        stmt = stmt.where(Entity.type == type)
    if origin:
        stmt = stmt.where(Contribution.origin == origin)
    rows = iter(session.scalars(stmt))
    while contribs := list(islice(rows, 2000)):
        ids = [c.id for c in contribs]
        sections = defaultdict(list)
        for s in session.scalars(select(Section).where(Section.contribution_id.in_(ids)).order_by(Section.position)):
            sections[s.contribution_id].append(s)
        aliases = defaultdict(list)
        for a in session.scalars(select(Alias).where(Alias.contribution_id.in_(ids)).order_by(Alias.id)):
            aliases[a.contribution_id].append(a.alias)
        for c in contribs:
            e = c.entity
            record = {"type": e.type, "name": e.name, "origin": c.origin}
            if aliases[c.id]:
                record["aliases"] = aliases[c.id]
            if e.approval_number:
                record["approval_number"] = e.approval_number
            if e.otc_class:
                record["otc_class"] = e.otc_class
            record["sections"] = [
                {k: v for k, v in (("kind", s.kind), ("text", s.text), ("items", s.items), ("title", s.title)) if v}
                for s in sections[c.id]
            ]
            yield record
