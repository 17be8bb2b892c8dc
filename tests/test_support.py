"""chat.support on its own: which passages answer a question, or why none does, from a query analysis and
a retrieval result built by hand (no index), and the support thresholds kept next to the index."""

from __future__ import annotations

from retriever.analysis import QueryAnalysis
from retriever.hits import EntityMention, Passage, RetrievalHit, RetrievalResult

from chat.support import Thresholds, check_support, support_score


def passage(entity_id: int, name: str, section: str, body: str, etype: str = "disease", items=()) -> Passage:
    return Passage(f"e{entity_id}:{section}:t:0", entity_id, etype, name, section, f"{name} · {section}：{body}",
                   "test", 1, "h", 0, tuple(items))


KB = {
    (1, "治疗方式"): [passage(1, "高血压", "治疗方式", "生活方式干预、药物治疗。", items=("生活方式干预", "药物治疗"))],
    (1, "常用药物"): [passage(1, "高血压", "常用药物", "氨氯地平、缬沙坦。", items=("氨氯地平", "缬沙坦"))],
    (1, "就诊科室"): [passage(1, "高血压", "就诊科室", "心血管内科。", items=("心血管内科",))],
    (1, "概述"): [passage(1, "高血压", "概述", "高血压是以动脉血压持续升高为特征的慢性疾病，诊断标准为140/90mmHg。")],
    (2, "概述"): [passage(2, "感冒", "概述", "感冒是上呼吸道感染。")],
    (3, "症状"): [passage(3, "经期推迟", "症状", "乏力、便秘。", items=("乏力", "便秘"))],
    (3, "病因"): [passage(3, "经期推迟", "病因", "怀孕、内分泌失调。", items=("怀孕", "内分泌失调"))],
    (3, "就诊科室"): [passage(3, "经期推迟", "就诊科室", "妇产科。", items=("妇产科",))],
}


def passages_of(entity_id: int, section: str | None = None) -> list[Passage]:
    if section is None:
        return [p for (e, _), ps in KB.items() if e == entity_id for p in ps]
    return KB.get((entity_id, section), [])


def mention(question: str, name: str, entity_id: int) -> EntityMention:
    start = question.index(name)
    return EntityMention(name, start, start + len(name), entity_id, "disease", name)


def result_of(question: str, hits: list[Passage] = ()) -> RetrievalResult:
    return RetrievalResult(question, [RetrievalHit(p, 1.0 / (i + 1), i + 1) for i, p in enumerate(hits)], [], [])


def test_a_named_entity_is_answered_from_the_asked_section_plus_what_a_doctor_adds():
    q = "高血压怎么治疗"
    a = QueryAnalysis(q, mentions=(mention(q, "高血压", 1),), topics=(mention(q, "高血压", 1),), intents=("治疗方式",),
                      kind="entity")
    s = check_support(a, result_of(q), passages_of, Thresholds())
    assert s.ok and [p.section for p in s.passages] == ["治疗方式", "常用药物", "就诊科室"]
    assert s.intent == "治疗方式" and [m.entity_name for m in s.entities] == ["高血压"] and not s.not_covered


def test_a_missing_section_is_answered_with_the_overview_and_says_what_is_not_covered():
    q = "高血压的治愈率高吗"
    a = QueryAnalysis(q, topics=(mention(q, "高血压", 1),), intents=("治愈率",), kind="entity")
    s = check_support(a, result_of(q), passages_of, Thresholds())
    assert s.ok and s.passages[0].section == "概述"
    assert s.not_covered and "没有关于治愈率的内容" in s.not_covered[0] and "治疗方式" in s.not_covered[0]


def test_what_it_is_of_an_entry_without_an_overview_is_answered_with_its_causes_and_signs_without_a_note():
    q = "月经推迟了十天是怎么回事"
    a = QueryAnalysis(q, topics=(mention(q, "月经推迟", 3),), intents=("概述",), kind="entity")
    s = check_support(a, result_of(q), passages_of, Thresholds())
    assert s.ok and s.passages[0].section == "病因" and not s.not_covered


def test_a_focus_word_finds_the_sentences_that_mention_it():
    q = "高血压140/90算高吗，诊断标准是什么"
    a = QueryAnalysis(q, topics=(mention(q, "高血压", 1),), intents=(), kind="entity", focus=("诊断标准",))
    s = check_support(a, result_of(q), passages_of, Thresholds())
    assert s.ok and [p.section for p in s.passages] == ["概述"]


def test_a_name_the_kb_lacks_is_refused_with_what_to_ask_instead():
    q = "阿莫西林克拉维酸钾怎么吃"
    drug = EntityMention("阿莫西林", 0, 4, 9, "drug", "阿莫西林胶囊")
    a = QueryAnalysis(q, mentions=(drug,), topics=(), intents=("用法用量",), kind="open", unknown=("阿莫西林克拉维酸钾",))
    s = check_support(a, result_of(q), passages_of, Thresholds())
    assert not s.ok and not s.passages
    assert "知识库中没有「阿莫西林克拉维酸钾」" in s.suggestion and "阿莫西林胶囊" in s.suggestion


def test_without_a_named_entity_only_a_passage_that_covers_the_question_supports_it():
    covered = passage(2, "感冒", "概述", "感冒是上呼吸道感染。")
    q = "上呼吸道感染是什么"
    a = QueryAnalysis(q, intents=("概述",), kind="open", about="上呼吸道 感染")
    assert check_support(a, result_of(q, [covered]), passages_of, Thresholds(default=0.8)).ok
    q2 = "尼帕病毒感染是什么"
    a2 = QueryAnalysis(q2, intents=("概述",), kind="open", about="尼帕 病毒感染")
    s2 = check_support(a2, result_of(q2, [covered]), passages_of, Thresholds(default=0.8))
    assert not s2.ok and s2.score < 0.8 and s2.suggestion
    assert support_score("尼帕 病毒感染", covered) < support_score("上呼吸道 感染", covered)


def test_thresholds_are_kept_next_to_the_index_and_read_back(tmp_path):
    assert Thresholds.load(tmp_path).of("症状") == Thresholds().default  # nothing saved yet: the defaults
    saved = Thresholds(default=0.85, by_intent={"症状": 0.9}, calibrated_on={"kb_revision": 3})
    path = saved.save(tmp_path)
    loaded = Thresholds.load(tmp_path)
    assert path.exists() and loaded.of("症状") == 0.9 and loaded.of("病因") == 0.85
    assert loaded.calibrated_on == {"kb_revision": 3}
