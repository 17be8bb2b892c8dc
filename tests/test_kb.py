"""The knowledge base: schema on SQLite and PostgreSQL, idempotent ingest, revisions, relations."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from kb.db import get_engine, kb_revision, migrate, session_scope
from kb.models import Base, Disease, Drug, Entity, Exam, Link, Section, Source, Symptom
from kb.records import Record, RecordError, Section as RSection
from kb.store import IngestError, SourceBatch, ingest


def amoxicillin(indication: str = "敏感菌所致的呼吸道感染。") -> Record:
    return Record("drug", "阿莫西林胶囊", ["阿莫仙", "Amoxicillin Capsules", "阿莫仙"],
                  [RSection("适应症", indication, ["呼吸道感染"]), RSection("用法用量", "口服。成人一次0.5g，每6～8小时1次。")],
                  otc_class="Rx")


def cold() -> Record:
    return Record("disease", "急性上呼吸道感染", ["感冒"], [
        RSection("概述", "鼻腔、咽或喉部急性炎症的总称。"),
        RSection("症状", "", ["发热", "鼻塞", "咽痛"]),
        RSection("检查", "", ["血常规"]),
        RSection("常用药物", "", ["阿莫仙", "对乙酰氨基酚片"]),
    ])


def cbc() -> Record:
    return Record("exam", "血常规", ["全血细胞计数"], [RSection("概述", "血液细胞的计数与分类。"),
                                                RSection("相关疾病", "", ["急性上呼吸道感染"])])


def run(url, records, origin="json", **kw):
    with session_scope(url) as s:
        return ingest(s, [SourceBatch("test.jsonl", "json", origin, "hash-" + origin, records)], **kw)


def test_schema_from_migrations_matches_models(db_url):
    """The Alembic history, not create_all, builds the schema, and it has no drift from the models."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    assert migrate(db_url) == "0001"
    with get_engine(db_url).connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_reingest_is_a_noop_and_a_change_bumps_the_revision(db_url):
    migrate(db_url)
    first = run(db_url, [amoxicillin(), cold(), cbc()])
    assert (first.added, first.updated, first.revision) == (3, 0, 1)
    again = run(db_url, [amoxicillin(), cold(), cbc()])
    assert (again.added, again.updated, again.unchanged, again.revision) == (0, 0, 3, 1)

    changed = run(db_url, [amoxicillin("敏感菌所致的中耳炎、鼻窦炎、咽炎。"), cold(), cbc()])
    assert (changed.added, changed.updated, changed.unchanged, changed.revision) == (0, 1, 2, 2)
    with session_scope(db_url) as s:
        drug = s.scalar(select(Drug))
        assert drug.section("适应症").text == "敏感菌所致的中耳炎、鼻窦炎、咽炎。"
        assert len([x for x in drug.sections if x.kind == "适应症"]) == 1  # replaced, not appended
        assert drug.updated_revision == 2 and drug.created_revision == 1
        assert kb_revision(s) == 2


def test_relations_resolve_both_ways_including_by_alias(db_url):
    migrate(db_url)
    run(db_url, [cold(), cbc()])  # the drug arrives later: its link resolves then
    run(db_url, [amoxicillin()], origin="label")
    with session_scope(db_url) as s:
        disease = s.scalar(select(Disease))
        assert [d.name for d in disease.drugs] == ["阿莫西林胶囊"]  # linked through the brand-name alias
        assert [e.name for e in disease.exams] == ["血常规"]
        assert sorted(x.name for x in disease.symptoms) == sorted(["咽痛", "发热", "鼻塞"])
        assert [d.name for d in s.scalar(select(Drug)).diseases] == ["急性上呼吸道感染"]
        assert [d.name for d in s.scalar(select(Exam)).diseases] == ["急性上呼吸道感染", "急性上呼吸道感染"]
        fever = s.scalar(select(Symptom).where(Symptom.name == "发热"))
        assert [d.name for d in fever.diseases] == ["急性上呼吸道感染"]
        unresolved = s.scalar(select(func.count()).select_from(Link).where(Link.target_id.is_(None)))
        assert unresolved == 1  # 对乙酰氨基酚片 is not in this KB


def test_origins_keep_their_own_contributions(db_url):
    migrate(db_url)
    run(db_url, [cold()], origin="xywy")
    other = Record("disease", "急性上呼吸道感染", [], [RSection("症状", "", ["咳嗽"])])
    run(db_url, [other], origin="cmekg")
    run(db_url, [cold()], origin="xywy")  # re-ingesting xywy leaves cmekg's sections alone
    with session_scope(db_url) as s:
        kinds = s.execute(select(Section.kind, Section.items).join(Entity).where(Entity.type == "disease")).all()
        assert ("症状", ["咳嗽"]) in [(k, i) for k, i in kinds]
        assert kb_revision(s) == 2


def test_bad_record_rejects_the_whole_batch_unless_skip_invalid(db_url):
    migrate(db_url)
    bad = Record("drug", "  ", [], [RSection("适应症", "x")], where="labels.txt:line 12")
    with pytest.raises(IngestError, match=r"labels.txt:line 12: drug has no name; nothing was written"):
        run(db_url, [amoxicillin(), bad])
    with session_scope(db_url) as s:
        assert s.scalar(select(func.count()).select_from(Entity)) == 0
        assert kb_revision(s) == 0 and s.scalar(select(func.count()).select_from(Source)) == 0
    report = run(db_url, [amoxicillin(), bad], skip_invalid=True)
    assert report.added == 1 and report.rejected == ["labels.txt:line 12: drug has no name"]


def test_dry_run_writes_nothing(db_url):
    migrate(db_url)
    report = run(db_url, [amoxicillin(), cold()], dry_run=True)
    assert report.added == 2 and report.revision == 0
    with session_scope(db_url) as s:
        assert s.scalar(select(func.count()).select_from(Entity)) == 0


def test_duplicate_names_in_one_batch_are_merged_and_aliases_deduplicated(sqlite_url):
    migrate(sqlite_url)
    twin = Record("drug", "阿莫西林　胶囊", ["ＡＭＯＸＩＣＩＬＬＩＮ ＣＡＰＳＵＬＥＳ"], [RSection("禁忌", "青霉素过敏者禁用。")])
    report = run(sqlite_url, [amoxicillin(), twin])
    assert (report.added, report.merged) == (1, 1)
    with session_scope(sqlite_url) as s:
        drug = s.scalar(select(Drug))
        assert [a.alias for a in drug.aliases] == ["阿莫仙", "Amoxicillin Capsules"]
        assert {x.kind for x in drug.sections} == {"适应症", "用法用量", "禁忌"}


def test_record_validation_names_the_record():
    with pytest.raises(RecordError, match="medical_3.json#record 17: unknown entity type 'herb'"):
        Record("herb", "x", where="medical_3.json#record 17").validate()
    with pytest.raises(RecordError, match="has no content"):
        Record("exam", "血常规", where="x").validate()
