"""Issue 20, the third debris read of 200 answers (docs/kb.md "Debris read in 200 answers"): what it found is
recognised where it arises (the readers, kb.debris, the sentence selection), and a lower source's text that the
higher source does not say is recorded as differing."""

from __future__ import annotations

import pytest

from kb.debris import EFFICACY, HEADING, LAB, debris, efficacy_term, keep_items, lab_value


@pytest.mark.parametrize("term", ["活血", "清热", "清热解毒", "活血化瘀", "止咳", "通脉", "辛凉解表", "熄风定痫"])
def test_a_tcm_action_is_no_indication(term):
    assert efficacy_term(term) and debris(term, section="适应症") == EFFICACY


@pytest.mark.parametrize("condition", ["头痛", "消渴", "壮热", "健忘", "湿热", "高脂血症", "用于感冒", "腹痛"])
def test_a_condition_of_the_same_shape_stays_an_indication(condition):
    assert debris(condition, section="适应症") is None


def test_an_action_under_another_section_is_not_judged_by_the_indication_rule():
    assert debris("排气", section="症状") is None and debris("清热解毒", section="功效") is None


@pytest.mark.parametrize("lab", ["血糖升高", "单项ALT升高", "γ—转肽酶", "谷丙转氨酶偏高", "尿胆红素阳性", "白细胞增多",
                                 "肝功能异常", "餐后血糖高"])
def test_a_lab_value_is_no_symptom(lab):
    assert lab_value(lab) and debris(lab, section="症状") == LAB


@pytest.mark.parametrize("finding", ["低血糖", "高血糖", "蛋白尿", "血尿", "黄疸", "贫血", "血压升高", "肝功能衰竭"])
def test_findings_a_person_has_or_sees_stay_symptoms(finding):
    assert debris(finding, section="症状") is None


def test_a_lab_value_is_kept_where_it_is_the_thing_listed():
    assert debris("血糖升高", section="检查") is None and debris("血糖升高", section="不良反应") is None


def test_headings_the_read_found():
    for line in ("1.急性小泡性脂肪肝", "2、慢性胃炎", "(三)旋前圆肌综合征", "脂肪肝对症护理", "X线表现"):
        assert debris(line, sentence=True) == HEADING, line
    for item, section in (("X线表现", "检查"), ("抗病毒治疗的禁忌证", "治疗方式"), ("实验室", "检查")):
        assert debris(item, section=section) == HEADING, item
    # an ended list item, advice, an exam and a treatment are kept
    for line in ("1、高血压。", "3、适当运动", "3.减少癫痫的后遗症", "1.运动障碍"):
        assert debris(line, sentence=True) is None, line
    for item, section in (("实验室检查", "检查"), ("载脂蛋白E基因分型", "检查"), ("抗病毒治疗方案", "治疗方式"),
                          ("严格掌握禁忌症", "注意事项")):
        assert debris(item, section=section) is None, item


def test_the_label_and_curated_text_are_not_judged():
    assert keep_items(["活血", "血糖升高"], "适应症", strict=False)[0] == ["活血", "血糖升高"]


def test_xywy_joins_a_phrase_the_crawl_cut():
    from kb.formats.xywy import joined, to_record

    assert joined(["药物治疗、手术治疗和", "心理、康复治疗等"]) == ["药物治疗、手术治疗和心理、康复治疗等"]
    assert joined(["抗真菌治疗", "，手术治疗", "，支持性治疗"]) == ["抗真菌治疗", "手术治疗", "支持性治疗"]
    assert joined(["药物治疗", "支持性治疗"]) == ["药物治疗", "支持性治疗"]
    record = to_record({"gaishu_info": {"name": "癫痫", "treat_way": ["药物治疗、手术治疗和", "心理、康复治疗等"]},
                        "symptom_data": {"symptoms": ["抽搐", "血糖升高", "地点"]}}, "t#0")
    assert record.section("治疗方式").items == ["药物治疗、手术治疗和心理、康复治疗等"]
    assert record.section("症状").items == ["抽搐"]


def test_cmekg_moves_a_drugs_actions_from_its_indications_to_its_efficacy():
    from kb.formats.cmekg import to_record

    record = to_record("冰蛹通脉含片", {"功能主治": ["活血", "通脉", "头痛", "高脂血症", "化浊"], "成份": ["冰片"]}, "drug")
    assert record.section("适应症").items == ["头痛", "高脂血症"]
    assert record.section("功效").items == ["活血", "通脉", "化浊"]
    only_actions = to_record("某丸", {"功能主治": ["清热解毒", "消肿止痛"], "成份": ["冰片"]}, "drug")
    assert only_actions.section("适应症") is None and only_actions.section("功效").items == ["清热解毒", "消肿止痛"]


def test_a_lower_source_that_says_otherwise_is_recorded_as_differing():
    from kb.authority import Held, settle_held

    label = Held("label", 40, ["一次1片，一日3次。"])
    graph = Held("cmekg", 20, ["一次1片，一日3次。一次2片，一日2次，饭后服用。"])
    same = Held("xywy", 10, ["一次1片，一日3次。"])
    settle_held("用法用量", [label, graph, same])
    assert graph.differs == ["一次2片，一日2次，饭后服用。"] and same.differs == [] and label.differs == []
    assert graph.texts == [] and graph.superseded  # still never quoted beside the label's dose


def test_passages_keep_the_difference_on_the_section_that_answers():
    from retriever.passages import SectionContent, settle

    mk = lambda origin, rank, text: SectionContent(1, "drug", "某片", "用法用量", origin, origin, 1, 1,  # noqa: E731
                                                   [text], [], authority=rank)
    out = settle([mk("cmekg", 20, "一次2片，一日2次。"), mk("label", 40, "一次1片，一日3次。")])
    assert [sc.origin for sc in out] == ["label"] and out[0].differs == [("cmekg", "一次2片，一日2次。")]


def _passage(n, origin, items, rank, entity="乙型病毒性肝炎", section="治疗方式"):
    from retriever.hits import Passage

    body = "、".join(items)
    return Passage(id=f"e1:{section}:{origin}:{n}", entity_id=1, entity_type="disease", entity_name=entity,
                   section=section, text=f"{entity} · {section}：{body}", source=origin, kb_revision=1,
                   content_hash=str(n), items=tuple(items), authority=rank)


def test_a_second_sources_list_carries_its_label():
    from chat.citations import verify
    from chat.generators import ExtractiveGenerator, GenerationRequest
    from chat.selection import labelled

    passages = [_passage(0, "cmekg", ["抗病毒治疗", "免疫调节"], 20), _passage(1, "xywy", ["药物治疗", "支持性治疗"], 10)]
    excerpts = labelled([(1, "抗病毒治疗、免疫调节"), (2, "药物治疗、支持性治疗")], passages)
    assert excerpts == [(1, "抗病毒治疗、免疫调节"), (2, "乙型病毒性肝炎的治疗方式：药物治疗、支持性治疗")]
    text = "".join(ExtractiveGenerator().stream(GenerationRequest("乙肝怎么治", passages, [], "", excerpts=excerpts)))
    assert text.splitlines()[1] == "乙型病毒性肝炎的治疗方式：药物治疗、支持性治疗。[2]"
    checked = verify(text, dict(enumerate(passages, 1)))
    assert not checked.removed and len(checked.kept) == 2
    # prose, a new section, or the same passage going on: as before
    prose = [_passage(0, "cmekg", ["抗病毒治疗"], 20), _passage(1, "xywy", ["药物治疗"], 10)]
    assert labelled([(1, "抗病毒治疗"), (2, "早期诊断，早期治疗")], prose)[1][1] == "早期诊断，早期治疗"
    other = [_passage(0, "cmekg", ["抗病毒治疗"], 20), _passage(1, "xywy", ["乏力"], 10, section="症状")]
    assert labelled([(1, "抗病毒治疗"), (2, "乏力")], other) == [(1, "抗病毒治疗"), (2, "乏力")]


def test_a_bare_list_in_a_second_passages_text_carries_its_label_too():
    from chat.selection import labelled

    passages = [_passage(0, "demo", ["尿频", "尿急"], 30, section="症状"), _passage(1, "xywy", [], 10, section="症状")]
    assert labelled([(1, "尿频、尿急"), (2, "尿频、尿急、血尿、发热。")], passages)[1][1] == \
        "乙型病毒性肝炎的症状：尿频、尿急、血尿、发热。"
    assert labelled([(1, "尿频、尿急"), (2, "8、很多失眠的人喜欢胡思乱想。")], passages)[1][1] == "8、很多失眠的人喜欢胡思乱想。"


def test_a_crawls_longer_prose_is_superseded_but_not_a_difference():
    from kb.authority import Held, settle_held

    curated = Held("demo", 30, ["阑尾管腔阻塞是最常见的病因。"])
    crawl = Held("xywy", 10, ["阑尾为一细长的管道，仅一端与盲肠相通，一旦梗阻，可使管腔内分泌物积存。"])
    settle_held("病因", [curated, crawl])
    assert crawl.superseded and crawl.differs == []


def test_a_disease_named_as_a_symptom_is_debris_under_a_symptom_list_and_the_clinical_signs_section_is_checked():
    from kb.debris import DISEASE, LAB, debris

    for item in ("复杂性尿路感染", "急性单纯性膀胱炎", "酒精性肝硬化", "严重性假肥大型营养不良症"):
        assert debris(item, section="症状") == DISEASE, item
        assert debris(item, section="临床症状及体征") == DISEASE, item
    for item in ("尿频", "皮疹", "荨麻疹", "呼吸困难", "心力衰竭", "失眠症", "发炎"):
        assert debris(item, section="症状") is None, item
    assert debris("ALT水平升高", section="临床症状及体征") == LAB
    assert debris("复杂性尿路感染", section="并发症") is None  # a complication list names diseases
    assert debris("复杂性尿路感染", section="症状", strict=False) is None  # a curated list is as written
