"""Issue 20, the fifth debris read of 200 answers (docs/kb.md "Debris read in 200 answers"): each class it
found is recognised where passages are built (kb.debris through kb.authority.settle_held), with what must stay."""

from __future__ import annotations

import pytest

from kb.authority import Held, settle_held
from kb.debris import (DISEASE, EFFICACY, FINDING_AS_TEST, FRAGMENT, HEADING, LAB, NOT_A_FINDING, STATISTIC, CUT,
                       debris, keep_sentences)


@pytest.mark.parametrize("item", ["利血平", "胃阴虚", "胃黏膜充血水肿", "肝细胞脂肪性变", "脂质沉积症", "肝脏轻度脂肪变性",
                                  "钙离子内流", "硝苯地平片"])
def test_a_drug_a_tissue_change_a_mechanism_or_a_tcm_pattern_is_no_symptom(item):
    assert debris(item, section="症状") == NOT_A_FINDING


@pytest.mark.parametrize(("item", "entity"), [("肝炎", "黄疸型肝炎"), ("咽炎", "慢性咽炎"), ("儿童抽动症", "抽动症"),
                                              ("溃疡病", ""), ("肝炎", "乙肝携带者")])
def test_a_disease_or_the_entry_itself_is_no_symptom(item, entity):
    assert debris(item, section="症状", entity=entity) == DISEASE


@pytest.mark.parametrize("item", ["头痛", "腹痛", "发炎", "低血糖", "心悸", "便血", "皮疹", "恶心", "乏力"])
def test_findings_stay(item):
    assert debris(item, section="症状") is None


def test_an_entry_named_as_a_finding_keeps_it():
    assert debris("头痛", section="症状", entity="头痛") is None and debris("腹泻", section="症状", entity="腹泻") is None


def test_lab_and_serology_results_are_no_symptoms():
    assert debris("大三阳", section="症状") == LAB and debris("低钾血症", section="症状") == LAB
    assert debris("低钾血症", section="并发症") is None


def test_a_bare_analyte_is_no_adverse_reaction_but_its_change_is():
    assert debris("血糖", section="不良反应") == FRAGMENT
    assert debris("血糖升高", section="不良反应") is None and debris("低血糖", section="不良反应") is None


def test_a_term_cut_before_its_end_is_cut():
    assert debris("屈光指数不", section="病因") == CUT and debris("曲率不", section="病因") == CUT


@pytest.mark.parametrize(("item", "expected"), [("皮疹", FINDING_AS_TEST), ("皮损", FINDING_AS_TEST), ("血常规", None),
                                                ("胸部X线片", None), ("醋酸白试验", None), ("X线钡影跳跃征", None)])
def test_a_finding_listed_as_a_test(item, expected):
    assert debris(item, section="检查") == expected


def test_a_drug_action_is_no_indication():
    assert debris("增加冠脉血流量", section="适应症") == EFFICACY
    assert debris("改善睡眠", section="适应症") is None and debris("心绞痛", section="适应症") is None


@pytest.mark.parametrize("sentence", ["主要临床表现大致可归纳为以下几类。", "另一些感染者则成为无症状的病毒携带者。",
                                      "指病毒性肝炎发展至后期形成肝硬化。"])
def test_lead_ins_and_sentences_cut_at_the_start(sentence):
    assert debris(sentence, sentence=True) in (HEADING, CUT)


def test_sentences_that_stay():
    for sentence in ("指导患者按时服药。", "其症状主要表现为以下几个方面：头痛、头晕。", "乙肝病毒主要经血液传播。"):
        assert debris(sentence, sentence=True) is None, sentence


def test_a_numbered_heading_before_its_explanation_goes_and_numbered_advice_stays():
    kept, dropped = keep_sentences("1、预防癫痫病的发生\n积极治疗原发病，避免脑外伤。\n2、适当运动\n3、规律作息\n", True, "预防")
    assert dropped == [(HEADING, "1、预防癫痫病的发生")]
    assert "积极治疗原发病" in kept and "2、适当运动" in kept and "3、规律作息" in kept
    assert keep_sentences("1、预防癫痫病的发生\n积极治疗原发病。", False, "预防")[1] == []  # a curated text as written


def test_a_cause_told_under_symptoms_goes():
    kept, dropped = keep_sentences("主要由于化学物质引起，如浓茶、咖啡、烈酒等刺激性物质。上腹痛、恶心。", True, "症状")
    assert kept == "上腹痛、恶心。" and dropped[0][0] == NOT_A_FINDING


def test_a_crawled_cure_rate_or_course_is_never_quoted_a_curated_one_is():
    crawl = Held("xywy", 10, [], ["0%"])
    assert settle_held("治愈率", [crawl]) == [] and crawl.dropped == [(STATISTIC, "0%")]
    curated = Held("demo", 30, ["经规范治疗，多数患者可以控制。"])
    assert settle_held("治疗周期", [curated]) == [curated]


def test_the_entry_name_reaches_the_items_when_passages_are_built():
    crawl = Held("xywy", 10, [], ["咽痛", "咽炎", "咽部异物感"])
    settle_held("症状", [crawl], "慢性咽炎")
    assert crawl.items == ["咽痛", "咽部异物感"] and crawl.dropped == [(DISEASE, "咽炎")]


def test_a_body_function_alone_is_no_finding():
    for word in ("呼吸", "心跳", "体温", "血压", "食欲"):
        assert debris(word, section="症状") == HEADING, word
    assert debris("呼吸困难", section="症状") is None


def test_a_cause_listed_as_a_complication_is_left_out_where_the_entry_s_sections_are_read_together():
    from kb.debris import CAUSE_AS_COMPLICATION
    from retriever.passages import SectionContent, settle

    causes = SectionContent(1, "disease", "肝硬化", "病因", "xywy", "xywy", 1, 1, texts=["病毒性肝炎是我国肝硬化最常见的病因。"],
                            authority=10)
    complications = SectionContent(1, "disease", "肝硬化", "并发症", "xywy", "xywy", 1, 1,
                                   items=["病毒性肝炎", "上消化道出血", "肝性脑病"], authority=10)
    kept = {sc.section: sc for sc in settle([causes, complications])}
    assert kept["并发症"].items == ["上消化道出血", "肝性脑病"]
    assert (CAUSE_AS_COMPLICATION, "病毒性肝炎") in kept["并发症"].dropped


def test_a_complication_the_causes_only_name_stays():
    from retriever.passages import SectionContent, settle

    causes = SectionContent(1, "disease", "酒精性肝病", "病因", "xywy", "xywy", 1, 1,
                            texts=["长期大量饮酒导致酒精性肝病，包括脂肪肝、酒精性肝炎和肝硬化。"], authority=10)
    complications = SectionContent(1, "disease", "酒精性肝病", "并发症", "xywy", "xywy", 1, 1,
                                   items=["肝硬化", "营养不良"], authority=10)
    kept = {sc.section: sc for sc in settle([causes, complications])}
    assert kept["并发症"].items == ["肝硬化", "营养不良"]


def test_discomfort_with_no_site_is_no_symptom_but_stays_an_adverse_reaction():
    assert debris("不适", section="症状") == FRAGMENT and debris("不适或疼痛", section="症状") == FRAGMENT
    assert debris("不适", section="不良反应") is None and debris("胃部不适", section="症状") is None


def test_a_crawl_heading_for_the_symptoms_that_come_with_it_is_no_symptom():
    from kb.debris import HEADING, debris

    for item in ("伴随症状体征", "伴随症状", "临床表现", "典型症状"):
        assert debris(item, section="症状") == HEADING, item
    assert debris("伴恶心", section="症状") is None and debris("乏力", section="症状") is None


def test_a_household_remedy_a_quick_cure_and_a_share_cured_are_never_quoted_from_a_crawl():
    from kb.debris import PROMOTION, STATISTIC, debris

    remedy = "发生小面积烫伤时, 立刻涂点牙膏, 不仅止痛, 且能抑制起水泡. 小面积二度烧伤1次即愈"
    assert debris(remedy, sentence=True, section="护理") == PROMOTION
    assert debris("可以有百分之六七拾的患者可以治疗痊愈", sentence=True, section="概述") == STATISTIC
    assert debris(remedy, sentence=True, section="护理", strict=False) is None  # a label or curated text is not judged
    for kept in ("烫伤后立即用流动的凉水冲洗15～20分钟", "约30%的患者可自行缓解", "白癜风的治疗以外用药物和光疗为主"):
        assert debris(kept, sentence=True, section="护理") is None, kept
