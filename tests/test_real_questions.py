"""Real-looking patient messages on the demo KB (kb/demo + kb/colloquial): one test per cause of the
real-questions issue, asserting what the user sees. Messages are written the way people write to an
online consultation (a story, then the question), not the way our templates ask."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from chat.real_questions import RealQuestionsError, outcome, read_questions, sample, summarize

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo KB with the everyday-name list, indexed with the hashing encoder (fast, offline)."""
    from kb.db import migrate, session_scope
    from kb.sources import read_files
    from kb.store import ingest
    from retriever.index import build_index

    from chat.pipeline import Pipeline

    folder = tmp_path_factory.mktemp("demo-real")
    url = f"sqlite:///{folder / 'kb.sqlite'}"
    migrate(url)
    with session_scope(url) as session:
        ingest(session, read_files([ROOT / "kb" / "demo"], origin="demo"))
    with session_scope(url) as session:
        ingest(session, read_files([ROOT / "kb" / "colloquial"], origin="colloquial"))
    build_index(url, folder / "index", encoder="hash", progress=False, workers=1)
    return Pipeline.load(url, str(folder / "index"), "extractive", log_answers=False, on_stale="ignore")


def cited(answer) -> set[tuple[str, str]]:
    return {(c.entity, c.section) for c in answer.citations}


def body(answer) -> str:
    return answer.text.split("以上内容来自知识库")[0]


# --------------------------------------------------------------------------- 1. narratives get a first answer

def test_a_narrative_of_symptoms_gets_cited_possible_conditions_in_the_first_reply(demo):
    a = demo.answer("医生你好，我最近三天一直拉肚子，肚子疼，还有点恶心，没有发烧，这是怎么回事？该怎么办")
    assert outcome(a) == "answered" and a.mode == "diagnosis"
    assert "急性胃肠炎" in a.text and "不是诊断" in a.text and "120" in a.text
    assert all(section in ("症状", "就诊科室", "检查") for _, section in cited(a))
    # the denied finding is said back as denied and never asked about
    assert "没有发热" in a.text and "「发热」" not in a.text


def test_the_narrowing_question_is_never_about_a_finding_already_given(demo):
    a = demo.answer("这两天咽东西疼，嗓子疼得厉害，有点发烧")
    asked = re.findall(r"您是否有「([^」]+)」", a.text)
    assert not set(asked) & {"咽痛", "发热", "吞咽痛"}


# --------------------------------------------------------------------------- 2. glued names

@pytest.mark.parametrize("question, entity", [
    ("两片布洛芬缓释胶囊一次吃了会不会有事？", "布洛芬缓释胶囊"),
    ("周四去医院查了血常规，血常规要空腹吗", "血常规"),
    ("男54岁，近几个月高血压一直不稳定，高血压吃什么药好", "高血压"),
])
def test_numbers_people_and_times_glue_nothing_to_a_name(demo, question, entity):
    a = demo.answer(question)
    assert not a.refused, a.text
    assert entity in {e for e, _ in cited(a)}


def test_a_drug_glued_into_another_product_is_not_answered_with_the_wrong_label(demo):
    a = demo.answer("阿莫西林克拉维酸钾怎么吃？一次几片")
    assert a.refused and not a.citations
    assert "知识库中没有「阿莫西林克拉维酸钾」" in a.text


def test_a_question_about_a_product_the_kb_lacks_is_not_answered_from_the_story(demo):
    a = demo.answer("我一直拉肚子，不发烧，阿莫西林克拉维酸钾能吃吗？")
    assert a.refused and not a.citations and "知识库中没有「阿莫西林克拉维酸钾」" in a.text


def test_a_narrower_disease_is_answered_from_its_broader_entry_and_says_so(demo):
    a = demo.answer("我是二型糖尿病人，饮食需要注意什么？")  # 二型糖尿病 is an everyday name of 2型糖尿病
    assert not a.refused and ("2型糖尿病", "饮食") in cited(a) or ("2型糖尿病", "宜吃") in cited(a)
    analysis = demo.retriever.analyze("我得了慢性胃食管反流病该吃什么药")
    assert ("慢性胃食管反流病", "胃食管反流病") in analysis.broader


# --------------------------------------------------------------------------- 3. everyday names and typos

def test_everyday_names_from_the_kb_link(demo):
    a = demo.answer("吗叮啉饭前吃还是饭后吃？")
    assert ("多潘立酮片", "用法用量") in cited(a)
    assert demo.retriever.analyze("强的松能长期吃吗").topics[0].entity_name == "醋酸泼尼松片"


def test_a_drug_one_character_off_is_suggested_never_answered(demo):
    """A misspelt drug may be another drug: the answer asks back instead of quoting a label."""
    a = demo.answer("奥美拉挫肠溶胶囊怎么吃")
    assert a.refused and not a.citations
    assert "您是不是指「奥美拉唑肠溶胶囊」" in a.text


def test_a_disease_one_character_off_is_answered_and_says_what_it_matched(demo):
    a = demo.answer("社区获得性肺严有哪些症状")
    assert not a.refused and "您是不是指「社区获得性肺炎」" in a.text
    assert ("社区获得性肺炎", "症状") in cited(a)


def test_a_name_glued_before_a_kb_name_is_another_disease_not_its_parent(demo):
    """"耐药" + 幽门螺杆菌感染 (like "尼帕" + 病毒感染) is refused rather than answered from the broad entry;
    a group or stage word ("小儿", "急性") narrows the same disease and is answered from it, saying so."""
    a = demo.answer("耐药幽门螺杆菌感染吃什么药？")
    assert a.refused and "知识库中没有「耐药幽门螺杆菌感染」" in a.text
    b = demo.answer("小儿手足口病有哪些症状")
    assert not b.refused and ("手足口病", "症状") in cited(b)
    assert "知识库中没有「小儿手足口病」的专门条目" in b.text


def test_a_single_word_that_some_crawl_lists_as_a_symptom_is_no_description(demo):
    assert demo.retriever.analyze("为什么天空是蓝色的？").kind != "findings"
    assert demo.retriever.analyze("肚子疼三天了怎么办").kind == "findings"


# --------------------------------------------------------------------------- 4. section and entity

def test_the_section_comes_from_the_asking_clause_not_from_the_story(demo):
    analysis = demo.retriever.analyze("我家孩子上周去医院检查了，说是急性支气管炎，这个病怎么治疗？")
    assert analysis.intents[0] == "治疗方式"
    assert [m.entity_name for m in analysis.topics] == ["急性支气管炎"]
    assert demo.retriever.analyze("脑梗死做手术大概要多少钱").intents[0] == "治疗费用"


def test_denied_symptoms_are_findings_not_topics(demo):
    analysis = demo.retriever.analyze("我头痛三天了，不咳嗽，也没有发烧、恶心")
    assert {"咳嗽", "发热", "恶心"} <= set(analysis.absent) and "头痛" in analysis.present
    assert not any(m.entity_name in ("咳嗽", "发热") for m in analysis.topics)


def test_the_drug_taken_is_context_and_the_drug_asked_about_is_the_topic(demo):
    a = demo.answer("我一直在吃华法林钠片，最近牙疼，布洛芬缓释胶囊能吃吗？")
    assert {e for e, _ in cited(a)} >= {"布洛芬缓释胶囊"}
    assert any("华法林" in f for f in a.safety_flags)


# --------------------------------------------------------------------------- 5. answer the question, not the passage

def test_an_interaction_question_leads_with_the_sentences_naming_the_other_drug(demo):
    a = demo.answer("布洛芬和阿司匹林能一起吃吗")
    lines = body(a).strip().splitlines()
    assert "说明书中提到对方" in lines[0]
    assert "阿司匹林" in lines[1] or "布洛芬" in lines[1]
    assert {s for _, s in cited(a)} == {"药物相互作用"}


def test_a_fasting_question_quotes_the_exam_notes_sentence(demo):
    a = demo.answer("查血常规要空腹吗？明天早上去")
    assert ("血常规", "注意事项") in cited(a)
    first = body(a).strip().splitlines()[0]
    assert "空腹" in first


def test_an_overdose_gets_the_label_and_see_a_doctor_now(demo):
    a = demo.answer("布洛芬缓释胶囊一次吃了6粒会怎么样")
    assert "立即就医" in a.text and "120" in a.text
    assert {s for _, s in cited(a)} <= {"药物过量", "用法用量", "注意事项"}


def test_answers_are_short_and_say_where_the_rest_is(demo):
    a = demo.answer("阿莫西林胶囊的不良反应有哪些")
    assert len(re.findall(r"\[\d+\]", body(a).split("（以上摘取")[0])) <= 6
    if "以上摘取" in a.text:
        assert "完整内容见来源[1]" in a.text


# --------------------------------------------------------------------------- 6. refuse only when the KB is silent

def test_a_missing_section_gets_the_overview_and_a_not_covered_line(demo):
    a = demo.answer("高血压的治愈率高吗")
    assert not a.refused and "没有关于治愈率的内容" in a.text
    assert {e for e, _ in cited(a)} == {"高血压"}


def test_a_hospital_question_gets_the_department_and_whom_to_ask(demo):
    a = demo.answer("高血压去哪家医院看比较好？")
    assert ("高血压", "就诊科室") in cited(a)
    # said once, first (the concern's line), not again by a second line on hospitals
    assert a.text.startswith("知识库不收录医院排名") and "不评价或推荐具体医院" not in a.text


def test_out_of_kb_is_still_refused(demo):
    for q in ("瑞德西韦的副作用有哪些？", "帮我写一首关于春天的诗"):
        a = demo.answer(q)
        assert a.refused and not a.citations, q


# --------------------------------------------------------------------------- chat eval --real

def test_read_questions_reads_the_toyhom_csv_in_gb18030_and_jsonl(tmp_path):
    csv_path = tmp_path / "q.csv"
    csv_path.write_bytes("department,title,ask,answer\n心血管科,高血压吃什么药？,我父亲高血压,低盐饮食\n"
                         .encode("gb18030"))
    [q] = read_questions(csv_path)
    assert q.question == "高血压吃什么药？我父亲高血压" and q.reference == "低盐饮食" and q.department == "心血管科"
    jsonl = tmp_path / "q.jsonl"
    jsonl.write_text(json.dumps({"question": "头痛怎么办"}, ensure_ascii=False) + "\n\n", encoding="utf-8")
    assert read_questions(jsonl)[0].question == "头痛怎么办"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "ok"}\n{"reference": "no question"}\n', encoding="utf-8")
    with pytest.raises(RealQuestionsError, match="bad.jsonl: line 2"):
        read_questions(bad)
    assert [q.question for q in sample(read_questions(csv_path) * 3, 2, seed=1)] == ["高血压吃什么药？我父亲高血压"] * 2


def test_summary_counts_outcomes_and_overlap_among_answers():
    rows = [{"outcome": "answered", "reference_names": ["高血压"], "shared_names": ["高血压"],
             "question_names_entity": True, "cited_question_entity": True},
            {"outcome": "refused", "reference_names": ["高血压"], "shared_names": [],
             "question_names_entity": True, "cited_question_entity": False}]
    report = summarize(rows, [10.0, 30.0])
    assert report["answered_rate"] == 0.5 and report["refused_rate"] == 0.5
    assert report["reference_overlap_rate"] == 1.0 and report["reference_overlap_of_all"] == 0.5
    assert report["on_topic_citation_rate"] == 1.0


def test_chat_eval_real_counts_what_verification_kept_of_a_models_sentences(demo, tmp_path, monkeypatch):
    from chat.real_questions import evaluate_real
    from tests.test_chat import MadeUpGenerator

    path = tmp_path / "q.jsonl"
    path.write_text("\n".join(json.dumps({"question": q}, ensure_ascii=False) for q in [
        "阿莫西林有哪些不良反应？", "阿莫西林一次吃多少？", "今天天气怎么样"]), encoding="utf-8")
    report, rows = evaluate_real(demo, read_questions(path))  # the quoting generator writes no sentences of its own
    assert report["generated_answers"] == 0 and report["survival_rate"] is None
    monkeypatch.setattr(demo, "generator", MadeUpGenerator())  # one quote, three inventions
    report, rows = evaluate_real(demo, read_questions(path))
    # the dose question is quoted from the label whatever the generator, and the refusal generated nothing
    assert [r["generated"] for r in rows] == [
        {"kept": 1, "removed": 3, "declined": False, "repeated": False, "quoted_instead": False}, None, None]
    assert report["generated_answers"] == 1 and report["generated_sentences"] == 4
    assert report["survival_rate"] == 0.25 and report["quoted_instead_rate"] == 0.0
    assert sum(report["removed_because"].values()) == 3 and "no citation" in report["removed_because"]
    assert "20粒" in " ".join(rows[0]["removed_claims"])


def test_chat_eval_real_on_a_small_file(demo, tmp_path):
    from chat.real_questions import evaluate_real, write_report

    path = tmp_path / "q.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in [
        {"question": "高血压吃什么药好？", "reference": "高血压常用药物有氨氯地平等，需遵医嘱。"},
        {"question": "今天天气怎么样", "reference": ""},
    ]), encoding="utf-8")
    report, rows = evaluate_real(demo, read_questions(path))
    assert report["n"] == 2 and report["counts"]["answered"] == 1 and report["counts"]["refused"] == 1
    out = write_report(tmp_path / "r.md", report, rows, 2, 0, str(path))
    text = out.read_text(encoding="utf-8")
    assert "**Doctor**" in text and "高血压吃什么药好" in text


def test_how_to_live_with_it_is_answered_from_its_prevention_and_diet_text_not_its_definition(demo):
    exercise = demo.answer("高血压什么运动比较好呢？大舅是个活动达人，高血压什么活动最好？")
    assert body(exercise).split("\n")[0].startswith("高血压的预防：规律进行中等强度有氧运动"), exercise.text
    assert "高血压的预防：规律进行中等强度有氧运动" in demo.answer("高血压慢跑还是快走对身体好呢？").text
    salt = demo.answer("钠对高血压的影响是什么？有高血压不能够吃钠？")
    assert ("高血压", "饮食") in cited(salt) and "低盐" in salt.text, salt.text


def test_what_to_eat_is_answered_from_the_diet_text_said_as_such_and_a_drug_question_is_not(demo):
    a = demo.answer("我有高血压，平时吃什么好？")
    assert a.text.startswith("吃什么，知识库中「高血压」的饮食建议见下文"), a.text
    assert ("高血压", "饮食") in cited(a)
    assert not demo.answer("我有高血压，吃什么药好？").text.startswith("吃什么，知识库中")


def test_a_refusal_says_why_in_one_line_without_talk_of_models_and_a_persons_own_question_gets_no_example(demo):
    from chat.answer import REFUSAL
    from chat.support import ASK_THE_KB

    assert "模型" not in REFUSAL and "我不凭猜测回答" in REFUSAL
    own = demo.answer("我最近总觉得自己运气不好，做什么都不顺，这是怎么回事")
    put = demo.answer("量子纠缠是什么")
    assert own.refused and ASK_THE_KB not in own.text and "阿莫西林" not in own.text
    assert put.refused and ASK_THE_KB in put.text
