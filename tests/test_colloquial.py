"""kb/colloquial: the reviewed everyday names (大三阳, 羊癫疯, 酒精肝 ...) patients use for KB entities.

The file is alias-only records in the project's record format. Ingested under its own origin it must
only add aliases to entities that already exist: a record whose canonical name is missing would
create a new, empty entity, and an alias that names another entity would shadow it.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import func, select

from kb.db import migrate, session_scope
from kb.formats import read_path
from kb.models import Alias, Contribution, Entity, Source
from kb.names import normalize_name
from kb.queries import find_entities
from kb.records import ENTITY_TYPES, Record, Section as RSection
from kb.store import SourceBatch, ingest
from tests.conftest import shared_data

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "kb" / "colloquial"
NAMES = FOLDER / "names.jsonl"
LICENSE = ("yiju colloquial names (kb/colloquial): written by the yiju project, same licence as the project "
           "(Apache-2.0); not a clinical source")
FULL_KB = ROOT / "var" / "full.sqlite"


def colloquial_records() -> list[Record]:
    return list(read_path(FOLDER))


def raw_lines() -> list[dict]:
    return [json.loads(line) for line in NAMES.read_text(encoding="utf-8").splitlines() if line.strip()]


def canonical_stub(record: Record) -> Record:
    """The canonical entity as some other source would have it: the name and one section, no aliases."""
    kind = {"drug": "适应症", "disease": "概述", "exam": "概述"}[record.type]
    return Record(record.type, record.name, [], [RSection(kind, f"{record.name}的一段说明。")])


def run_cli(*args: str) -> dict:
    from typer.testing import CliRunner

    from kb.cli import app

    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_every_record_parses_with_the_project_reader_and_is_alias_only():
    records = colloquial_records()
    lines = raw_lines()
    assert len(records) == len(lines) >= 50
    problems = [f"{r.where}: {r.problem}" for r in records if r.problem]
    assert problems == []
    for record in records:
        record.validate()  # what ingest does first: cleans in place and raises on a bad record
    seen: dict[str, str] = {}
    names = {(r.type, normalize_name(r.name)) for r in records}
    assert len(names) == len(records), "one record per canonical entity"
    for record, line in zip(records, lines):
        assert record.type in ENTITY_TYPES and record.sections == []
        assert set(line) == {"type", "name", "aliases"}
        assert record.aliases == line["aliases"] and record.aliases, record.name
        for alias in record.aliases:
            assert len(alias) >= 2 and alias.strip() == alias, alias
            assert not any(c in alias for c in "，。？！?!、 "), f"{alias}: a name, not a phrase"
            norm = normalize_name(alias)
            assert norm != normalize_name(record.name), f"{alias} is {record.name}'s own name"
            assert norm not in seen, f"{alias} maps to both {seen.get(norm)} and {record.name}"
            assert (record.type, norm) not in names, f"{alias} is the name of another record"
            seen[norm] = record.name
    assert 80 <= len(seen) <= 150


def test_dry_run_of_the_folder_reads_every_record(sqlite_url):
    report = run_cli("ingest", str(FOLDER), "--origin", "colloquial", "--dry-run", "--db", sqlite_url)
    assert report["records"] == len(raw_lines()) and report["rejected"] == 0 and report["files"] == 1


def test_ingest_adds_the_aliases_to_existing_entities_and_creates_none(sqlite_url):
    """Into a KB that holds the canonical entities: aliases with colloquial provenance, no new entity,
    and a second ingest changes nothing."""
    records = colloquial_records()
    migrate(sqlite_url)
    with session_scope(sqlite_url) as s:
        stubs = [canonical_stub(r) for r in records]
        first = ingest(s, [SourceBatch("stub.jsonl", "json", "stub", "hash-stub", stubs)])
    assert first.added == len(records)
    with session_scope(sqlite_url) as s:
        entities_before = s.scalar(select(func.count()).select_from(Entity))
        revision_before = first.revision

    args = ("ingest", str(FOLDER), "--origin", "colloquial", "--license", LICENSE, "--no-update-index",
            "--db", sqlite_url)
    report = run_cli(*args)
    assert (report["added"], report["updated"], report["rejected"]) == (0, len(records), 0)
    assert report["revision"] == revision_before + 1

    with session_scope(sqlite_url) as s:
        assert s.scalar(select(func.count()).select_from(Entity)) == entities_before
        rows = s.execute(
            select(Entity.type, Entity.name, Alias.alias, Contribution.origin, Source.license_note)
            .join(Alias, Alias.entity_id == Entity.id)
            .join(Contribution, Contribution.id == Alias.contribution_id)
            .join(Source, Source.id == Contribution.source_id)
        ).all()
        expected = {(r.type, r.name, a) for r in records for a in r.aliases}
        assert {(t, n, a) for t, n, a, _, _ in rows} == expected
        assert {(o, lic) for *_, o, lic in rows} == {("colloquial", LICENSE)}

        (epilepsy,) = find_entities(s, "羊癫疯")
        assert epilepsy["name"] == "癫痫" and epilepsy["type"] == "disease"
        assert {"羊癫疯", "羊羔疯"} <= set(epilepsy["aliases"])
        assert {src["origin"] for src in epilepsy["sources"]} == {"stub", "colloquial"}
        assert [sec["origin"] for sec in epilepsy["sections"]] == ["stub"]  # aliases only, no text
        (hbv,) = find_entities(s, "大三阳", "disease")
        assert hbv["name"] == "乙型病毒性肝炎"

    again = run_cli(*args)
    assert (again["added"], again["updated"], again["unchanged"]) == (0, 0, len(records))
    assert again["revision"] == report["revision"]


def test_a_missing_canonical_entity_is_skipped_not_created(sqlite_url):
    """A KB without 癫痫 (the demo KB has no epilepsy entry) gets no empty 癫痫 entity: the alias-only record
    is skipped and reported, and the rest attach."""
    records = [r for r in colloquial_records() if r.name != "癫痫"]
    migrate(sqlite_url)
    with session_scope(sqlite_url) as s:
        ingest(s, [SourceBatch("stub.jsonl", "json", "stub", "hash-stub", [canonical_stub(r) for r in records])])
        before = s.scalar(select(func.count()).select_from(Entity))
    report = run_cli("ingest", str(FOLDER), "--origin", "colloquial", "--no-update-index", "--db", sqlite_url)
    assert report["added"] == 0 and report["skipped"] == 1 and "癫痫" in report["skipped_records"][0]
    assert report["updated"] == len(records)
    with session_scope(sqlite_url) as s:
        assert s.scalar(select(func.count()).select_from(Entity)) == before
        assert not find_entities(s, "羊癫疯")


def test_the_names_resolve_in_the_full_kb_without_shadowing_another_entity():
    """Against the locally built full KB (demo + xywy + CMeKG), opened read-only: every canonical name
    exists with that type, and no alias is the name or alias of a different drug, disease or exam."""
    if not FULL_KB.exists():
        pytest.skip(f"{FULL_KB} is absent (build the full KB from demo + xywy + CMeKG to run this check)")
    db = sqlite3.connect(f"file:{FULL_KB}?mode=ro", uri=True)
    try:
        problems = []
        for r in colloquial_records():
            ids = [i for (i,) in db.execute("SELECT id FROM entities WHERE type = ? AND name = ?", (r.type, r.name))]
            if len(ids) != 1:
                problems.append(f"{r.type} {r.name}: {len(ids)} entities of that exact name")
                continue
            for alias in r.aliases:
                norm = normalize_name(alias)
                clash = db.execute(
                    "SELECT type, name FROM entities WHERE norm_name = ? AND type != 'symptom' AND id != ? "
                    "UNION SELECT e.type, e.name FROM aliases a JOIN entities e ON e.id = a.entity_id "
                    "JOIN contributions c ON c.id = a.contribution_id "
                    "WHERE a.norm_alias = ? AND e.type != 'symptom' AND e.id != ? AND c.origin != 'colloquial'",
                    (norm, ids[0], norm, ids[0])).fetchall()
                if clash:
                    problems.append(f"{alias} -> {r.name} also names {clash}")
    finally:
        db.close()
    assert problems == []


def test_the_dev_set_questions_use_these_names():
    """On the real patient questions (toyhom 内科 sample) the everyday names are frequent: 大三阳 alone
    is in hundreds of questions, and about a fifth of all questions contain at least one alias."""
    import pandas as pd

    path = shared_data("toyhom-im-sample", "内科5000-6000.csv")
    df = pd.read_csv(path, encoding="gb18030")
    questions = (df["title"].fillna("") + "。" + df["ask"].fillna("")).tolist()
    aliases = [a for r in colloquial_records() for a in r.aliases]
    with_alias = sum(any(a in q for a in aliases) for q in questions)
    assert len(questions) > 7000
    assert with_alias >= 0.15 * len(questions), with_alias
    assert sum("大三阳" in q for q in questions) > 300
