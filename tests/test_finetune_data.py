"""Instruction data from a small KB, dialogue-corpus converters and the evaluation's scoring rules."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from finetune.corpora import ConvertReport, CorpusError, convert, parse_bianque
from finetune.data import (
    LABELS,
    Fact,
    Question,
    eval_questions,
    facts,
    make_examples,
    read_jsonl,
    split_of,
    write_splits,
)
from finetune.evaluate import answer_items, markdown_table, parse_spec, score, summarize
from finetune.prompts import REFUSAL, cited_numbers, is_refusal
from kb.records import Record, Section
from retriever.hits import Passage, RetrievalHit, RetrievalResult
from retriever.questions import templates_for

DRUGS = ["阿莫西林胶囊", "布洛芬片", "头孢克肟片", "氯雷他定片", "奥美拉唑肠溶胶囊", "二甲双胍片", "硝苯地平片",
         "阿司匹林肠溶片", "蒙脱石散", "板蓝根颗粒", "对乙酰氨基酚片", "维生素C片"]
DISEASES = ["感冒", "高血压", "糖尿病", "胃炎", "肺炎", "中耳炎", "荨麻疹", "腹泻", "偏头痛", "哮喘", "痛风", "贫血"]


def records() -> list[Record]:
    out = []
    for i, name in enumerate(DRUGS):
        out.append(Record("drug", name, sections=[
            Section("适应症", f"用于{DISEASES[i]}、{DISEASES[(i + 1) % 12]}。", [DISEASES[i], DISEASES[(i + 1) % 12]]),
            Section("不良反应", "偶见恶心、皮疹。", ["恶心", "皮疹"]),
            Section("用法用量", "口服，一次1片，一日3次。"),
        ]))
    for i, name in enumerate(DISEASES):
        out.append(Record("disease", name, sections=[
            Section("症状", "发热、咳嗽、乏力", ["发热", "咳嗽", "乏力"][: 1 + i % 3]),
            Section("常用药物", DRUGS[i], [DRUGS[i]]),
            Section("就诊科室", "内科", ["内科"]),
        ]))
    return out


@pytest.fixture(scope="module")
def kb_url(tmp_path_factory):
    from kb.db import dispose_engines, session_scope
    from kb.store import SourceBatch, ingest

    url = f"sqlite:///{tmp_path_factory.mktemp('kb') / 'kb.sqlite'}"
    with session_scope(url, migrate_first=True) as session:
        ingest(session, [SourceBatch("test://records", "json", "test", "h1", [r.validate() for r in records()])])
    yield url
    dispose_engines()


class FakePassages:
    """Stands in for `retriever.Retriever`: one passage per section; search ranks by shared characters."""

    def __init__(self, fs: list[Fact]):
        self.passages = [Passage(f"e{f.entity_id}:{f.section}:test:0", f.entity_id, f.entity_type, f.name, f.section,
                                 f"{f.name} · {f.section}：{f.text or '、'.join(f.items)}", "test", 1, "h", 0,
                                 tuple(f.items)) for f in fs]

    def passages_of(self, entity_id, section=None):
        return [p for p in self.passages if p.entity_id == entity_id and (section is None or p.section == section)]

    def search(self, question, k):
        ranked = sorted(self.passages, key=lambda p: -len(set(question) & set(p.text)))[:k]
        return RetrievalResult(question, [RetrievalHit(p, 1.0, i + 1) for i, p in enumerate(ranked)], [], [])


@pytest.fixture(scope="module")
def kb_facts(kb_url):
    from kb.db import session_scope

    with session_scope(kb_url) as session:
        return facts(session)


def test_facts_cover_the_asked_sections(kb_facts):
    kinds = Counter((f.entity_type, f.section) for f in kb_facts)
    assert kinds[("drug", "适应症")] == len(DRUGS) and kinds[("disease", "症状")] == len(DISEASES)
    assert all(section in LABELS and templates_for(etype, section) for etype, section in kinds)


def test_examples_split_by_entity_and_cite_the_gold_passage(kb_facts, tmp_path):
    source = FakePassages(kb_facts)
    counters = Counter()
    rows = list(make_examples(kb_facts, source, closed_book=1, rag=2, refusal_rate=0.3, k=3, seed=1,
                              counters=counters))
    stats = write_splits(rows, tmp_path)
    assert stats["entities_shared_across_splits"] == 0
    assert stats["examples"] == len(rows) and counters["refusal"] > 0 and counters["rag"] > 0
    written = [r for s in ("train", "dev", "test") for r in read_jsonl(tmp_path / f"{s}.jsonl")]
    assert {r["split"] for r in written} <= {"train", "dev", "test"}
    for r in written:
        assert [m["role"] for m in r["messages"]][-2:] == ["user", "assistant"]
        assert r["split"] == split_of(r["entity_type"], r["entity"])
        answer = r["messages"][-1]["content"]
        if r["kind"] == "rag":
            n = cited_numbers(answer)
            assert len(n) == 1 and r["passage_ids"][n[0] - 1] in r["gold_passage_ids"]
            assert f"[{n[0]}] {r['entity']} · {r['section']}" in r["messages"][-2]["content"]
        elif r["kind"] == "refusal":
            assert answer == REFUSAL
            gold_prefix = f"e{r['entity_id']}:{r['section']}:"
            assert not any(p.startswith(gold_prefix) for p in r["passage_ids"])
        else:
            assert "资料" not in r["messages"][-2]["content"]
        # distractors come from the same split only
        ids = {int(p.split(":")[0][1:]) for p in r.get("passage_ids", [])}
        by_id = {f.entity_id: f for f in kb_facts}
        assert all(by_id[i].split == r["split"] or i == r["entity_id"] for i in ids)


def test_rag_answer_lists_the_items_the_passage_shows(kb_facts):
    fact = next(f for f in kb_facts if f.name == "阿莫西林胶囊" and f.section == "适应症")
    ex = next(e for e in make_examples([fact], FakePassages(kb_facts), closed_book=0, rag=1, refusal_rate=0.0))
    n = cited_numbers(ex["messages"][-1]["content"])[0]
    assert ex["messages"][-1]["content"] == f"阿莫西林胶囊的适应病症包括：感冒、高血压。[{n}]"


def test_eval_questions_are_canonical_and_held_out(kb_facts):
    qs = eval_questions(kb_facts, split="train", n=6)
    assert len(qs) == 6 and len({(q.entity_type, q.section) for q in qs}) >= 4  # balanced over sections
    for q in qs:
        assert split_of(q.entity_type, q.entity_name) == "train" and q.gold_items
        assert q.question == templates_for(q.entity_type, q.section)[0].format(name=q.entity_name)


def test_splits_are_stable_and_roughly_proportioned():
    names = [f"疾病{i}" for i in range(4000)]
    splits = Counter(split_of("disease", n) for n in names)
    assert 0.03 < splits["test"] / 4000 < 0.07 and 0.03 < splits["dev"] / 4000 < 0.07
    assert split_of("drug", "阿莫西林 胶囊") == split_of("drug", "阿莫西林胶囊")  # by normalised name


# ---------------------------------------------------------------------------- converters

def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def test_med2023_rows_and_bad_rows(tmp_path):
    f = write(tmp_path / "med.json", '{"content": "头痛怎么办？", "summary": "多休息，必要时就医。"}\n'
                                     '{"content": "", "summary": "x"}\n{broken\n[1, 2]\n')
    report = ConvertReport(str(f), "med2023")
    rows = list(convert(f, "med2023", report))
    assert [m["role"] for m in rows[0]["messages"]] == ["user", "assistant"]
    assert report.rows == 4 and report.converted == 1 and sum(report.bad.values()) == 3
    assert report.bad["broken JSON line"] == 1 and any(":3: broken JSON" in b for b in report.bad_examples)


def test_bianque_multi_turn(tmp_path):
    msgs = parse_bianque("病人：我头疼三天了。\n医生：有没有发热？\n病人：没有。\n医生：")
    assert [m["role"] for m in msgs] == ["user", "assistant", "user"]
    f = write(tmp_path / "bq.jsonl", json.dumps({"input": "病人：我头疼三天了。\n医生：有没有发热？\n病人：没有。\n医生：",
                                                 "target": "建议先测量血压。"}, ensure_ascii=False) + "\n"
              + json.dumps({"input": "医生：你好"}, ensure_ascii=False) + "\n")
    report = ConvertReport(str(f), "bianque")
    rows = list(convert(f, "bianque", report))
    assert len(rows) == 1 and rows[0]["messages"][-1] == {"role": "assistant", "content": "建议先测量血压。"}
    assert report.bad == Counter({"dialogue starts with the doctor": 1})
    txt = write(tmp_path / "bq.txt", "病人：咳嗽\n医生：多喝水。\n\n病人：发烧\n医生：吃退烧药。\n病人：谢谢\n")
    report = ConvertReport(str(txt), "bianque")
    assert len(list(convert(txt, "bianque", report))) == 1 and report.bad["dialogue does not end with the doctor's answer"] == 1


def test_huatuo_and_cmedqa2(tmp_path):
    f = write(tmp_path / "huatuo.jsonl", json.dumps({"questions": [["胃痛吃什么药？"]], "answers": ["可用奥美拉唑。"]},
                                                    ensure_ascii=False) + "\n"
              + json.dumps({"question": "高血压要注意什么？", "answer": "低盐饮食。"}, ensure_ascii=False) + "\n")
    report = ConvertReport(str(f), "qa")
    rows = list(convert(f, "qa", report))
    assert len(rows) == 1 and report.bad["question or answer missing or not a string"] == 1
    folder = tmp_path / "cmedqa2"
    folder.mkdir()
    write(folder / "question.csv", "question_id,content\n1,孩子发烧怎么办？\n")
    write(folder / "answer.csv", "ans_id,question_id,content\n1,1,物理降温。\n2,9,无主的回答\n3,1\n")
    report = ConvertReport(str(folder), "qa")
    rows = list(convert(folder, "qa", report))
    assert len(rows) == 1 and report.bad["answer to an unknown question_id"] == 1 and len(report.bad) == 2


def test_toyhom_gb18030_csv(tmp_path):
    f = write(tmp_path / "toyhom.csv", "department,title,ask,answer\n内科,头痛怎么办,我两天前开始头痛,注意休息。\n"
                                       "内科,咳嗽\n外科,骨折,摔伤了,\n", encoding="gb18030")
    report = ConvertReport(str(f), "toyhom")
    rows = list(convert(f, "toyhom", report))
    assert rows[0]["messages"][0]["content"] == "头痛怎么办\n我两天前开始头痛" and report.converted == 1
    assert report.bad == Counter({"expected 4 columns, found 2": 1, "empty assistant turn": 1})
    with pytest.raises(CorpusError, match="header"):
        list(convert(write(tmp_path / "x.csv", "a,b\n1,2\n"), "toyhom"))


# ---------------------------------------------------------------------------- scoring

def q(items=("发热", "咳嗽", "乏力")) -> Question:
    return Question("感冒的典型症状是什么？", 7, "disease", "感冒", "症状", list(items), "发热、咳嗽、乏力，可伴头痛")


def p(eid: int, section: str) -> Passage:
    return Passage(f"e{eid}:{section}:t:0", eid, "disease", "感冒", section, "x", "t", 1, "h")


def test_criteria_precision_and_citations():
    passages = [p(7, "症状"), p(8, "症状"), p(7, "病因")]
    s = score("g", q(), "感冒的典型症状包括：发热、咳嗽、流鼻血。[1][2]", passages, 0.5)
    assert s.hit_items == ["发热", "咳嗽"] and s.answered_items == 3 and s.supported_items == 2
    assert s.citations == 2 and s.correct_citations == 1 and not s.refused
    row = summarize([s, score("g", q(), REFUSAL, passages, 0.1)])
    assert row["criterion_1"] == row["criterion_2"] == row["criterion_3"] == 0.5  # 2 of 3 gold items: all three
    assert row["refusal_rate"] == 0.5 and row["citation_precision"] == 0.5
    assert abs(row["item_precision"] - 2 / 3) < 1e-9
    assert "| g | 2 |" in markdown_table({"g": row})


def test_answer_items_and_refusals():
    assert answer_items("感冒的症状包括：发热、咳嗽。[1] 也可能乏力") == ["发热", "咳嗽", "也可能乏力"]
    assert is_refusal(REFUSAL) and answer_items(REFUSAL) == []
    assert cited_numbers("a[1] b［2］ c[1,3]") == [1, 2, 3]


def test_generator_specs():
    assert parse_spec("extractive") == ("extractive", "extractive", True)
    assert parse_spec("base=hf:/m/gemma@closed") == ("base", "hf:/m/gemma", False)
    label, spec, retrieval = parse_spec("hf:/m/gemma+/runs/r1/final")
    assert label == "gemma + LoRA r1 + retrieval" and spec == "hf:/m/gemma+/runs/r1/final" and retrieval
    assert parse_spec("gemma-270m")[0] == "gemma-270m + retrieval"
    assert parse_spec("openai:http://127.0.0.1:8000/v1")[0] == "v1 + retrieval"
    from chat.generators import GeneratorError

    with pytest.raises(GeneratorError, match="unknown generator 'hf/m/gemma'"):  # chat's parser, before any model loads
        parse_spec("base=hf/m/gemma@closed")


@pytest.mark.slow
def test_xywy_and_cmekg_give_50k_examples_with_no_shared_entity(tmp_path):
    """`finetune data` on the xywy crawl + CMeKG (closed-book + paraphrase, as the CLI's --no-rag run)."""
    from kb.db import dispose_engines, session_scope
    from kb.sources import read_files, read_package
    from kb.store import ingest
    from tests.conftest import shared_data

    folder = shared_data("xywy-disease-kb")
    pytest.importorskip("pyCMeKG")
    url = f"sqlite:///{tmp_path / 'kb.sqlite'}"
    with session_scope(url, migrate_first=True) as session:  # one ingest per source, as `kb ingest` does
        ingest(session, read_files([folder]), skip_invalid=True)
    with session_scope(url) as session:
        ingest(session, [read_package("cmekg")], skip_invalid=True)
    with session_scope(url) as session:
        fs = facts(session)
    stats = write_splits(make_examples(fs, None, closed_book=2), tmp_path / "out")
    dispose_engines()
    assert stats["examples"] >= 50_000 and stats["entities_shared_across_splits"] == 0


def test_cli_convert_reports_bad_rows_as_json(tmp_path):
    from typer.testing import CliRunner

    from finetune.cli import app

    f = write(tmp_path / "med.json", '{"content": "头痛怎么办？", "summary": "多休息。"}\n{broken\n')
    result = CliRunner().invoke(app, ["convert", str(f), "-f", "med2023", "--out", str(tmp_path / "out"), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)  # the one JSON document on stdout
    assert doc["converted"] == 1 and doc["bad"] == 1 and doc["files"][0]["bad_by_reason"] == {"broken JSON line": 1}
    assert sum(doc["splits"].values()) == 1
    result = CliRunner().invoke(app, ["convert", str(tmp_path / "nope.json"), "-f", "med2023", "--out", str(tmp_path)])
    assert result.exit_code == 1 and "no such file" in result.output


def test_a_system_prompt_echo_is_not_a_refusal_and_rescoring_is_stable():
    from dataclasses import asdict

    from chat.generators import SYSTEM_PROMPT
    from finetune.evaluate import rescore

    assert not is_refusal(SYSTEM_PROMPT + " 发热、咳嗽")
    assert is_refusal("资料中没有相关信息。") and is_refusal("知识库中没有找到能回答这个问题的依据")
    passages = [p(7, "症状"), p(8, "症状")]
    rows = [asdict(score("g", q(), "感冒的典型症状包括：发热。[1][2]", passages, 0.5))]
    again = rescore(rows, [q()])["g"][0]
    assert asdict(again) == rows[0]
