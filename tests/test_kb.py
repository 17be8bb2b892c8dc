"""The knowledge base: schema on SQLite and PostgreSQL, idempotent ingest, revisions, relations."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

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

    assert migrate(db_url) == "0004"
    with get_engine(db_url).connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_upgrade_from_the_first_schema_keeps_the_data_and_downgrade_works(db_url):
    """A KB made by an earlier release upgrades in place: its rows survive and ingest goes on."""
    assert migrate(db_url, "0001") == "0001"
    run(db_url, [amoxicillin(), cold()])
    assert migrate(db_url) == "0004"
    assert run(db_url, [amoxicillin(), cold()]).changed == 0
    assert run(db_url, [cbc()]).added == 1
    with session_scope(db_url) as s:
        unresolved = s.scalars(select(Link.target_name).where(Link.target_id.is_(None))).all()
        assert unresolved == ["对乙酰氨基酚片"]  # the one link whose target is not in this KB
    from alembic import command

    from kb.db import alembic_config, schema_version

    engine = get_engine(db_url)
    with engine.begin() as conn:
        cfg = alembic_config(db_url)
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0001")
    assert schema_version(engine) == "0001"
    with session_scope(db_url) as s:
        assert s.scalar(select(func.count()).select_from(Entity)) == 3 + 3  # and the 3 symptoms


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


# --- the `kb` command line, as a user runs it -------------------------------------------------

import json as _json

from typer.testing import CliRunner

from kb.cli import app

runner = CliRunner()

LABEL = """【药品名称】
通用名称：布洛芬缓释胶囊
商品名称：芬必得
英文名称：Ibuprofen Sustained Release Capsules
【适应症】用于缓解轻至中度疼痛如头痛、关节痛、偏头痛、牙痛、肌肉痛、神经痛、痛经。也用于普通感冒或流行性感冒引起的发热。
【用法用量】口服。成人，一次1粒，一日2次（早晚各一次）。
【禁忌】对其他非甾体抗炎药过敏者禁用。
"""


def kb_cli(*args: str):
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def stats(url: str) -> dict:
    code, out, _ = kb_cli("stats", "--json", "--db", url)
    assert code == 0
    return _json.loads(out)


def test_cli_ingest_is_idempotent_and_a_changed_label_updates_one_drug(db_url, tmp_path):
    label = tmp_path / "ibuprofen.txt"
    label.write_text(LABEL, encoding="utf-8")
    code, out, _ = kb_cli("ingest", str(label), "--db", db_url, "--json")
    assert code == 0 and _json.loads(out)["added"] == 1
    code, out, _ = kb_cli("ingest", str(label), "--db", db_url, "--json")
    report = _json.loads(out)
    assert (report["added"], report["updated"], report["unchanged"], report["revision"]) == (0, 0, 1, 1)

    label.write_text(LABEL.replace("一日2次", "一日3次"), encoding="utf-8")
    code, out, _ = kb_cli("ingest", str(label), "--db", db_url, "--json", "--dry-run")
    assert _json.loads(out)["updated"] == 1 and stats(db_url)["kb_revision"] == 1
    code, out, _ = kb_cli("ingest", str(label), "--db", db_url, "--json")
    assert _json.loads(out)["updated"] == 1 and stats(db_url)["kb_revision"] == 2

    code, out, _ = kb_cli("show", "芬必得", "--db", db_url, "--json")
    drug = _json.loads(out)["matches"][0]
    assert drug["name"] == "布洛芬缓释胶囊" and "布洛芬" in drug["aliases"]
    assert any("一日3次" in s["text"] for s in drug["sections"] if s["kind"] == "用法用量")
    assert drug["sources"][0]["uri"] == str(label)
    demo = tmp_path / "demo-ibuprofen.txt"
    demo.write_text(LABEL.replace("一日2次", "一日1次"), encoding="utf-8")
    kb_cli("ingest", str(demo), "--db", db_url, "--origin", "demo", "--license", "demo data [not for clinical use]")
    code, out, _ = kb_cli("show", "芬必得", "--db", db_url)
    assert code == 0 and "demo data [not for clinical use]" in " ".join(out.split())  # the licence note is shown


def test_export_round_trips(sqlite_url, tmp_path):
    label = tmp_path / "ibuprofen.txt"
    label.write_text(LABEL, encoding="utf-8")
    kb_cli("ingest", str(label), "--db", sqlite_url)
    exported = tmp_path / "kb.jsonl"
    assert kb_cli("export", "-o", str(exported), "--db", sqlite_url)[0] == 0
    other = f"sqlite:///{tmp_path / 'copy.sqlite'}"
    code, out, _ = kb_cli("ingest", str(exported), "--db", other, "--origin", "label", "--json")
    assert code == 0 and _json.loads(out)["added"] == 1
    assert kb_cli("export", "--db", other)[1] == exported.read_text(encoding="utf-8")


@pytest.mark.parametrize("name,content,message", [
    ("truncated.jsonl", '{"type": "drug", "name": "x", "sections": {"适应症": "y"}}\n{"type": "drug", "na',
     "truncated.jsonl:line 2"),
    ("noname.txt", "【成份】阿莫西林。\n【适应症】感染。\n", "noname.txt:line 1: drug label has no 通用名称"),
    ("binary.bin", b"\x00\x01\x02\xff\xfe" * 50, "binary.bin"),
    ("notes.txt", "今天天气很好，我们去公园散步。\n", "notes.txt: unknown format"),
])
def test_malformed_input_is_one_line_exit_1_and_nothing_written(db_url, tmp_path, name, content, message):
    good = tmp_path / "good.txt"
    good.write_text(LABEL, encoding="utf-8")
    bad = tmp_path / name
    bad.write_bytes(content) if isinstance(content, bytes) else bad.write_text(content, encoding="utf-8")
    kb_cli("init", "--db", db_url)
    code, _, err = kb_cli("ingest", str(good), str(bad), "--db", db_url)
    assert code == 1
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert stats(db_url)["kb_revision"] == 0 and stats(db_url)["drugs"] == 0


def test_skip_invalid_writes_the_good_and_lists_the_rejected(sqlite_url, tmp_path):
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text('{"type": "exam", "name": "血常规", "sections": {"概述": "血液细胞检查"}}\n'
                     '{"type": "exam", "nmae": "尿常规"}\n', encoding="utf-8")
    code, out, _ = kb_cli("ingest", str(mixed), "--db", sqlite_url, "--skip-invalid", "--json")
    report = _json.loads(out)
    assert code == 0 and report["added"] == 1 and report["rejected"] == 1
    assert "mixed.jsonl:line 2" in report["rejected_records"][0] and "nmae" in report["rejected_records"][0]


def test_unreachable_database_is_one_line_exit_1(tmp_path):
    code, _, err = kb_cli("stats", "--db", "postgresql+psycopg://nobody@127.0.0.1:1/nowhere")
    assert code == 1 and "cannot open database" in err and "Traceback" not in err
    code, _, err = kb_cli("ingest", "--source", "nosuch", "--db", f"sqlite:///{tmp_path / 'x.sqlite'}")
    assert code == 1 and "unknown --source" in err


def test_one_call_with_two_origins_naming_the_same_new_entity(db_url):
    migrate(db_url)
    with session_scope(db_url) as s:
        report = ingest(s, [SourceBatch("a.json", "xywy", "xywy", "a", [cold()]),
                            SourceBatch("b.json", "cmekg", "cmekg", "b", [cold()])])
    assert report.added == 2  # one per origin's contribution
    with session_scope(db_url) as s:
        assert s.scalar(select(func.count()).select_from(Disease)) == 1
        assert len(s.scalar(select(Disease)).contributions) == 2


def test_section_items_with_quotes_and_control_characters_round_trip(db_url):
    items = ['含"引号"的项', "反斜杠\\项", "换\n行", "普通项", "a\",\"b"]
    record = Record("disease", "测试病", [], [RSection("症状", "", items), RSection("检查", "", ["血常规"])])
    migrate(db_url)
    run(db_url, [record])
    with session_scope(db_url) as s:
        stored = s.scalars(select(Section.items).join(Entity).where(Entity.name == "测试病").order_by(Section.position))
        assert list(stored) == [items, ["血常规"]]


def test_bulk_insert_with_columns_out_of_table_order(sqlite_url):
    """Rows whose column order is not the driver's parameter order go through SQLAlchemy's own insert
    (the path for drivers with named parameters); the fast path must not scramble them."""
    from kb.models import Alias
    from kb.store import bulk_insert

    migrate(sqlite_url)
    run(sqlite_url, [cold()])
    with session_scope(sqlite_url) as s:
        eid, cid = s.execute(text("SELECT entity_id, id FROM contributions")).one()
        bulk_insert(s, Alias.__table__, ("alias", "norm_alias", "entity_id", "contribution_id"),
                    [("伤风", "伤风", eid, cid), ("上感", "上感", eid, cid)])
        bulk_insert(s, Alias.__table__, ("entity_id", "contribution_id", "alias", "norm_alias"),
                    [(eid, cid, "普通感冒", "普通感冒")])
    with session_scope(sqlite_url) as s:
        got = s.execute(text("SELECT alias, norm_alias, entity_id FROM aliases ORDER BY id")).all()
    assert [tuple(r) for r in got] == [("感冒", "感冒", eid), ("伤风", "伤风", eid), ("上感", "上感", eid),
                                       ("普通感冒", "普通感冒", eid)]
    with pytest.raises(ValueError, match="aliases: rows have 2 values for 4 columns"):
        with session_scope(sqlite_url) as s:
            bulk_insert(s, Alias.__table__, ("entity_id", "contribution_id", "alias", "norm_alias"), [(eid, cid)])
