"""SQLAlchemy models of the knowledge base. The schema changes only through migrations/.

Entities share one table (single-table inheritance: `Drug`, `Disease`, `Exam`, `Symptom`), so that
names, aliases, sections and links work the same for all of them. What an entity says comes in
`Contribution`s, one per origin (xywy, cmekg, demo labels, ...): re-ingesting an origin replaces that
origin's sections, aliases and links and leaves the others alone.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    pass


class KbIdentity(Base):
    """The KB's id: one row, made when the schema is created (migration 0003) and never changed.

    A retrieval index records the id of the KB it was built from, so that an index of another KB is
    told apart from this one even when both KBs hold the same content at the same revision.
    """

    __tablename__ = "kb_identity"
    id: Mapped[str] = mapped_column(Uuid(as_uuid=False), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Revision(Base):
    """One row per ingest that changed something; the KB revision is the highest id."""

    __tablename__ = "revisions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    summary: Mapped[dict] = mapped_column(JSON, default=dict)  # {"added": n, "updated": n, ...}
    note: Mapped[str | None] = mapped_column(Text)


class Source(Base):
    """Provenance: one file or package as it was ingested."""

    __tablename__ = "sources"
    id: Mapped[int] = mapped_column(primary_key=True)
    uri: Mapped[str] = mapped_column(Text)  # file path or "package:pycmekg==0.2.5"
    format: Mapped[str] = mapped_column(String(32))
    origin: Mapped[str] = mapped_column(String(64))
    content_hash: Mapped[str] = mapped_column(String(64))
    license_note: Mapped[str | None] = mapped_column(Text)
    ingested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revision: Mapped[int] = mapped_column(Integer)  # the KB revision this ingest produced (or found)
    # How far the source is trusted (kb.authority: label 40 > curated 30 > graph 20 > crawl 10); migration
    # 0004. Deferred, so that loading a Source from a KB not migrated yet does not fail (readers use
    # kb.authority.authority_column).
    authority: Mapped[int] = mapped_column(Integer, server_default="30", deferred=True)

    __table_args__ = (UniqueConstraint("uri", "content_hash", name="uq_source_uri_hash"),)
    __mapper_args__ = {"eager_defaults": False}  # no RETURNING of authority: a KB of an older schema lacks it


class Entity(Base):
    __tablename__ = "entities"
    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(255))
    norm_name: Mapped[str] = mapped_column(String(255))
    approval_number: Mapped[str | None] = mapped_column(String(64))  # 国药准字, drugs
    otc_class: Mapped[str | None] = mapped_column(String(16))  # OTC / Rx, drugs
    created_revision: Mapped[int] = mapped_column(Integer)
    updated_revision: Mapped[int] = mapped_column(Integer)

    contributions: Mapped[list["Contribution"]] = relationship(back_populates="entity", order_by="Contribution.id")
    aliases: Mapped[list["Alias"]] = relationship(back_populates="entity", order_by="Alias.id", viewonly=True)
    sections: Mapped[list["Section"]] = relationship(
        back_populates="entity", order_by="(Section.contribution_id, Section.position)", viewonly=True
    )
    links_out: Mapped[list["Link"]] = relationship(
        foreign_keys="Link.from_id", back_populates="source_entity", viewonly=True
    )
    links_in: Mapped[list["Link"]] = relationship(
        foreign_keys="Link.target_id", back_populates="target_entity", viewonly=True
    )

    __table_args__ = (UniqueConstraint("type", "norm_name", name="uq_entity_type_name"),)
    __mapper_args__ = {"polymorphic_on": "type", "polymorphic_identity": "entity"}

    def section(self, kind: str) -> "Section | None":
        return next((s for s in self.sections if s.kind == kind), None)

    def linked(self, relation: str) -> list["Entity"]:
        """Entities this one links to by `relation` (resolved links only)."""
        return [l.target_entity for l in self.links_out if l.relation == relation and l.target_entity]

    def linked_from(self, relation: str) -> list["Entity"]:
        return [l.source_entity for l in self.links_in if l.relation == relation]


class Drug(Entity):
    __mapper_args__ = {"polymorphic_identity": "drug"}

    @property
    def diseases(self) -> list[Entity]:
        return self.linked_from("disease_drug")


class Disease(Entity):
    __mapper_args__ = {"polymorphic_identity": "disease"}

    @property
    def drugs(self) -> list[Entity]:
        return self.linked("disease_drug")

    @property
    def exams(self) -> list[Entity]:
        return self.linked("disease_exam")

    @property
    def symptoms(self) -> list[Entity]:
        return self.linked("disease_symptom")


class Exam(Entity):
    __mapper_args__ = {"polymorphic_identity": "exam"}

    @property
    def diseases(self) -> list[Entity]:
        return self.linked_from("disease_exam") + self.linked("exam_disease")


class Symptom(Entity):
    """A symptom name; it exists so that disease-symptom is a relation queryable both ways."""

    __mapper_args__ = {"polymorphic_identity": "symptom"}

    @property
    def diseases(self) -> list[Entity]:
        return self.linked_from("disease_symptom")


class Contribution(Base):
    """What one origin says about one entity; its hash makes re-ingest a no-op."""

    __tablename__ = "contributions"
    id: Mapped[int] = mapped_column(primary_key=True)
    entity_id: Mapped[int] = mapped_column(ForeignKey("entities.id", ondelete="CASCADE"))
    origin: Mapped[str] = mapped_column(String(64))
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    content_hash: Mapped[str] = mapped_column(String(64))
    revision: Mapped[int] = mapped_column(Integer)  # KB revision that last changed it

    entity: Mapped[Entity] = relationship(back_populates="contributions")
    source: Mapped[Source] = relationship()

    __table_args__ = (UniqueConstraint("entity_id", "origin", name="uq_contribution_entity_origin"),)


class Alias(Base):
    __tablename__ = "aliases"
    id: Mapped[int] = mapped_column(primary_key=True)
    entity_id: Mapped[int] = mapped_column(ForeignKey("entities.id", ondelete="CASCADE"), index=True)
    contribution_id: Mapped[int] = mapped_column(ForeignKey("contributions.id", ondelete="CASCADE"), index=True)
    alias: Mapped[str] = mapped_column(String(255))
    norm_alias: Mapped[str] = mapped_column(String(255), index=True)

    entity: Mapped[Entity] = relationship(back_populates="aliases")


class Section(Base):
    """One label section or disease field: original text plus extracted items."""

    __tablename__ = "sections"
    id: Mapped[int] = mapped_column(primary_key=True)
    entity_id: Mapped[int] = mapped_column(ForeignKey("entities.id", ondelete="CASCADE"), index=True)
    contribution_id: Mapped[int] = mapped_column(ForeignKey("contributions.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(64))
    title: Mapped[str | None] = mapped_column(String(255))
    text: Mapped[str] = mapped_column(Text)
    items: Mapped[list] = mapped_column(JSON, default=list)
    position: Mapped[int] = mapped_column(Integer)

    entity: Mapped[Entity] = relationship(back_populates="sections")
    contribution: Mapped[Contribution] = relationship()


class Link(Base):
    """A relation (disease_drug, disease_exam, disease_symptom, disease_complication, exam_disease).

    `target_name` keeps what the source said; `target_id` is filled when an entity of that name (or
    alias) exists, and re-resolved after every ingest, so links made before the target arrived
    resolve later.
    """

    __tablename__ = "links"
    id: Mapped[int] = mapped_column(primary_key=True)
    relation: Mapped[str] = mapped_column(String(32))
    from_id: Mapped[int] = mapped_column(ForeignKey("entities.id", ondelete="CASCADE"), index=True)
    contribution_id: Mapped[int] = mapped_column(ForeignKey("contributions.id", ondelete="CASCADE"), index=True)
    target_type: Mapped[str] = mapped_column(String(16))
    target_name: Mapped[str] = mapped_column(String(255))
    target_norm: Mapped[str] = mapped_column(String(255))
    target_id: Mapped[int | None] = mapped_column(ForeignKey("entities.id", ondelete="SET NULL"), index=True)

    source_entity: Mapped[Entity] = relationship(foreign_keys=[from_id], back_populates="links_out")
    target_entity: Mapped[Entity | None] = relationship(foreign_keys=[target_id], back_populates="links_in")


class AnswerLog(Base):
    """Every answer chat gives, so that it can be audited against the KB revision it cited."""

    __tablename__ = "answer_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    cited_passage_ids: Mapped[list] = mapped_column(JSON, default=list)
    kb_revision: Mapped[int] = mapped_column(Integer)
    generator: Mapped[str] = mapped_column(String(255))
    latency_ms: Mapped[float] = mapped_column()
    refused: Mapped[bool] = mapped_column(default=False)
    triage: Mapped[str | None] = mapped_column(String(32))
    extra: Mapped[dict] = mapped_column(JSON, default=dict)
