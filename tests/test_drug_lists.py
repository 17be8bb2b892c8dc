"""Issue 18: a disease's drug list names only drugs whose own indications name the disease (kb.corroboration),
as items; the crawled sentence that repeats the list cannot be checked name by name and never reaches an
answer, and CMeKG's 相关药物 (any drug related to the disease) is never shown as what treats it."""

from __future__ import annotations

from kb.db import migrate, session_scope
from kb.records import Record, Section
from kb.store import SourceBatch, ingest
from retriever.passages import kb_passages


def test_only_corroborated_drugs_reach_a_diseases_drug_list(tmp_path):
    url = f"sqlite:///{tmp_path / 'kb.sqlite'}"
    migrate(url)
    records = [
        Record("disease", "癫痫", [], [Section("常用药物", "珍珠末、白金丸、丙戊酸钠片", ["珍珠末", "白金丸", "丙戊酸钠片"]),
                                      Section("概述", "癫痫是一种慢性脑部疾病。")]),
        Record("drug", "丙戊酸钠片", [], [Section("适应症", "用于治疗全身性或部分性癫痫。")]),
        Record("drug", "白金丸", [], [Section("功能主治", "豁痰通窍，清心安神。用于痰气壅塞。")]),  # names no 癫痫
    ]
    with session_scope(url) as session:
        ingest(session, [SourceBatch("kb.jsonl", "json", "test", "h", records)])
    with session_scope(url) as session:
        lists = [p for p in kb_passages(session) if p.entity_name == "癫痫" and p.section == "常用药物"]
    assert lists and all("白金丸" not in p.text and "珍珠末" not in p.text for p in lists)
    assert any("丙戊酸钠片" in p.text for p in lists)


def test_a_related_drugs_list_is_never_named_as_treatment():
    from chat.concern import Concern
    from chat.pipeline import DRUGS_NOT_LISTED, _drug_lists
    from retriever.analysis import QueryAnalysis
    from retriever.hits import Passage

    related = Passage("e1:相关药物:cmekg:0", 1, "disease", "痤疮", "相关药物", "痤疮 · 相关药物：注射用胸腺肽、甲硝唑乳膏",
                      "cmekg", 1, "h")

    class Facts:
        child = pregnant = breastfeeding = None

    kept, line = _drug_lists([related], Concern("drug"), QueryAnalysis(question="痤疮吃什么药"), Facts())
    assert kept == [] and line == DRUGS_NOT_LISTED
