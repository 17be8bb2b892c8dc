"""What a person's concern is answered with (issue 18's tune read: 'how is it treated' answered with a department
alone; crawled promises quoted): a disease's own sentence on treatment, chosen by the concern's words; a crawled
page's promise is never a claim."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from chat import concern as concerns
from chat.pipeline import _with_department
from tests.test_chat import pipeline, tiny_kb  # noqa: F401  (the tiny KB's pipeline, a fixture)
from kb.debris import PROMOTION, debris
from retriever.hits import EntityMention, Passage


def passage(section: str, text: str, items=()) -> Passage:
    return Passage(f"e1:{section}:xywy:0", 1, "disease", "癫痫", section, f"癫痫 · {section}：{text}", "xywy", 1, "h",
                   items=tuple(items), authority=10)


OVERVIEW = passage("概述", "癫痫是一种慢性疾病。癫痫患者经过正规的抗癫痫药物治疗，约70%的患者其发作是可以得到控制的。")
DEPARTMENT = passage("就诊科室", "内科、神经内科", ["内科", "神经内科"])


def passages_of(entity_id, section=None):
    return [p for p in (OVERVIEW, DEPARTMENT) if section in (None, p.section)]


def support():
    return SimpleNamespace(entities=[EntityMention("癫痫", 0, 2, 1, "disease", "癫痫")])


def test_how_it_is_treated_is_answered_from_its_own_text_when_its_treatment_list_is_left_out():
    concern = concerns.read("我叔叔的癫痫怎么治疗？")
    assert concern.kind == "what_to_do" and "治疗" in concerns.answering_words(concern)
    assert _with_department([DEPARTMENT], support(), passages_of, concern) == [OVERVIEW, DEPARTMENT]


def test_other_concerns_get_no_treatment_text():
    concern = concerns.read("我叔叔的癫痫会遗传吗？")
    assert _with_department([DEPARTMENT], support(), passages_of, concern) == [DEPARTMENT]


@pytest.mark.parametrize("sentence", ["中医治疗癫痫，可以根治。", "本品无毒副作用。", "采用祖传秘方，一次性治愈，永不复发。",
                                      "中医整体治疗可以清除残存的癌细胞。",
                                      "如果你能平衡你的身体PH值，让你的身体转变成弱碱性，不管你得的是什么癌症都有转变和被治好。"])
def test_a_crawled_promise_is_never_a_claim(sentence):
    assert debris(sentence, sentence=True) == PROMOTION
    assert debris(sentence, sentence=True, strict=False) is None  # a curated text is as written


def test_medical_uses_of_the_same_words_stay():
    for sentence in ("根治幽门螺杆菌可降低胃癌风险。", "规范治疗后多数患者可以控制发作。", "目前尚无特效解毒剂。",
                     "本品为纯中药制剂，保存不当可能影响产品质量。", "钙拮抗药对心绞痛的治疗作用效果显著。"):
        assert debris(sentence, sentence=True) is None, sentence


def test_must_i_is_read_as_a_question_of_whether_and_a_second_opinion_offered():
    concern = concerns.read("牙不疼也没露神经，但是牙体已经缺失很多了，医生说只能抽神经作牙套修复。一定要做根管治疗吗")
    assert concern.kind == "can_i" and concern.must
    line = concerns.first_line(concern)
    assert line.startswith("是否需要") and "另一位医生" in line


def test_a_pain_denied_is_not_asked_about():
    from chat import complaints

    mouth = complaints.of("牙不疼，但是牙体缺了一大块")
    assert mouth is not None and not any("疼" in q for q in mouth.questions("牙不疼，但是牙体缺了一大块"))


def test_not_pregnant_told_as_people_write_it():
    from chat.patient import extract_facts

    for text in ("月经推迟，无怀孕", "排除怀孕了", "验孕试纸一道杠", "最近没同房"):
        assert extract_facts([text]).pregnant is False, text


def test_a_disease_asked_about_after_a_drug_is_not_answered_with_the_drug_s_reactions():
    from chat.pipeline import _reaction_evidence
    from retriever.analysis import QueryAnalysis
    from retriever.symptoms import Finding

    question = "吃了15天多西环素，24日停药，今天外阴又开始痒，是不是支原体感染发作了"
    drug = EntityMention("多西环素", question.index("多西环素"), question.index("多西环素") + 4, 7, "drug", "多西环素片")
    disease = EntityMention("支原体感染", question.index("支原体感染"), question.index("支原体感染") + 5, 8, "disease", "支原体感染")
    analysis = QueryAnalysis(question=question, topics=(drug, disease), findings=(Finding("瘙痒", 0, 1, True),))
    reactions = passage("不良反应", "皮疹、瘙痒")
    line, _ = _reaction_evidence(concerns.read(question), analysis, support(), lambda *a: [reactions], [])
    assert line == ""


def test_an_overview_standing_in_for_the_section_a_person_asked_is_left_out_and_not_announced():
    from chat.pipeline import _without_standing_overview
    from chat.support import without_suggestions

    standing = SimpleNamespace(reason="entity overview", not_covered=["知识库中「癫痫」没有关于治愈率的内容，以下是它的概况。"])
    assert _without_standing_overview([OVERVIEW, DEPARTMENT], standing) == [DEPARTMENT]
    assert without_suggestions(standing.not_covered[0]) == "知识库中「癫痫」没有关于治愈率的内容。"
    asked = SimpleNamespace(reason="entity overview", not_covered=[])  # nothing asked of it: its overview answers
    assert _without_standing_overview([OVERVIEW, DEPARTMENT], asked) == [OVERVIEW, DEPARTMENT]


def test_can_it_be_treated_is_quoted_whole_and_a_denied_disease_is_not_what_the_answer_is_about():
    assert concerns.read("我想问问您，能不能够治疗高血压？").about == "治疗高血压"
    from chat.pipeline import _serious_evidence, _department_of

    hbv = EntityMention("乙肝", 0, 2, 2, "disease", "乙肝")
    from retriever.analysis import QueryAnalysis
    question = "乙肝检查问题大吗？谷丙转氨酶59，无乙肝病史，这有影响么"
    complications = Passage("e2:并发症:xywy:0", 2, "disease", "乙肝", "并发症", "乙肝 · 并发症：肝硬化", "xywy", 1, "h",
                            items=("肝硬化",), authority=10)
    line, _ = _serious_evidence(concerns.read(question), QueryAnalysis(question=question, topics=(hbv,)),
                                SimpleNamespace(entities=[hbv]), lambda *a: [complications], [])
    assert line == ""
    liver = Passage("e2:就诊科室:xywy:0", 2, "disease", "乙肝", "就诊科室", "乙肝 · 就诊科室：肝病", "xywy", 1, "h", items=("肝病",))
    assert _department_of([liver]) == "肝病科" and _department_of([DEPARTMENT]) == "神经内科"


def test_can_this_test_find_that_disease_is_answered_from_its_tests():
    from chat.pipeline import _test_evidence
    from retriever.analysis import QueryAnalysis

    question = "血清ALT能查出乙肝吗？我今天还查了血常规，能查出来吗"
    hbv = EntityMention("乙肝", question.index("乙肝"), question.index("乙肝") + 2, 2, "disease", "乙肝")
    tests = Passage("e2:检查:xywy:0", 2, "disease", "乙肝", "检查", "乙肝 · 检查：乙肝两对半、肝功能检查、ALT", "xywy", 1, "h",
                    items=("乙肝两对半", "肝功能检查", "ALT"), authority=10)
    line, found = _test_evidence(concerns.read(question), QueryAnalysis(question=question, topics=(hbv,)),
                                 SimpleNamespace(entities=[hbv]), lambda *a: [tests], [])
    assert line.startswith("知识库中「乙肝」的检查写到了「ALT」；") and "血常规" not in line and found == [tests]
    line, _ = _test_evidence(concerns.read("乙肝能治好吗"), QueryAnalysis(question="乙肝能治好吗", topics=(hbv,)),
                             SimpleNamespace(entities=[hbv]), lambda *a: [tests], [])
    assert line == ""


def test_x_causes_y_asked_anywhere_in_a_story_is_the_concern():
    message = ("糖尿病会引起发烧吗？爷爷患上了糖尿病，最近两天一直发烧，我想问一下医生，糖尿病会引来发烧吗？"
               "这个糖尿病会有什么并发症吗？怎么治疗呢？")
    concern = concerns.read(message)
    assert concern.kind == "causes" and concern.about == "发烧"
    assert concerns.read("吃了头孢会导致拉肚子，现在怎么办").kind == "what_to_do"  # told, not asked


def test_a_hospital_question_the_kb_cannot_place_is_promised_nothing_below():
    concern = concerns.read("梅毒去哪个医院看比较好")
    assert concern.kind == "hospital"
    assert "下面是" not in concerns.first_line(concern, supported=False)
    assert "下面是" in concerns.first_line(concern, supported=True)


def test_a_child_to_be_is_no_child_patient():
    from chat.patient import extract_facts

    for text in ("我和老公准备要孩子，这几天可以同房吗", "想生个宝宝，需要检查什么", "怀孩子的时候能吃药吗"):
        assert not extract_facts([text]).child, text
    assert extract_facts(["我家孩子发烧了"]).child


def test_should_i_see_a_doctor_is_answered_yes_not_hedged():
    for message in ("眼底出血了，要不要去医院", "高血压眼底出血，有必要到医院医治吗", "这种情况需要去看医生吗"):
        line = concerns.first_line(concerns.read(message))
        assert line.startswith("需要。") and "没有针对您情况的明确结论" not in line, message
    assert concerns.first_line(concerns.read("有必要做胃镜吗")).startswith("是否需要「做胃镜」")


def test_the_signs_not_to_wait_for_are_those_of_the_entry_answered_when_the_message_named_no_complaint():
    assert "黑便" in concerns.signs_of_entries("胃癌") and "180/120" in concerns.signs_of_entries("高血压")
    assert concerns.signs_of_entries("尖锐湿疣") == ""


def test_can_it_be_treated_is_not_should_i_see_a_doctor():
    assert not concerns.first_line(concerns.read("乙肝大三阳可以医治吗？")).startswith("需要。")


def test_an_age_told_roughly_is_an_age_told():
    from chat.patient import extract_facts

    assert extract_facts(["我奶奶70多岁了，头晕"]).age_years == 70
    assert extract_facts(["他三十来岁，胃疼两天了"]).age_years == 30
    assert "age" not in concerns.read("我奶奶70多岁了，头晕", describes_symptoms=True).missing


def test_the_interaction_lead_says_the_labels_name_each_other_only_when_a_quoted_sentence_does():
    from chat.pipeline import _names_another

    def label(name, text):
        return Passage(f"e:{name}", 1, "drug", name, "药物相互作用", f"{name} · 药物相互作用：{text}", "demo", 1, "h")

    ibuprofen = label("布洛芬缓释胶囊", "本品可能干扰小剂量阿司匹林的抗血小板作用。")
    aspirin = label("阿司匹林肠溶片", "与其他非甾体抗炎药合用，增加溃疡风险。")
    cold = label("感冒药片", "用于感冒引起的头痛、发热。")
    assert _names_another([(1, "本品可能干扰小剂量阿司匹林的抗血小板作用")], [ibuprofen, aspirin])
    assert not _names_another([(1, "用于感冒引起的头痛、发热"), (2, "与其他非甾体抗炎药合用，增加溃疡风险")],
                              [cold, aspirin])


def test_a_question_the_message_already_answers_is_not_asked_again():
    from chat import complaints

    told = {
        "gynaecology": ("白带像豆腐渣，有异味", 0),
        "liver": ("乙肝携带者，肝功能正常", 0),
        "digestion": ("胃疼，晚饭后特别严重", 0),
        "joint": ("膝盖摔伤，一站起来就刺骨的痛", 1),
        "epilepsy": ("一直吃丙戊酸钠", 1),
    }
    for kind, (text, i) in told.items():
        k = complaints.named(kind)
        assert k.asks[i] not in k.questions(text), (kind, text)
        assert k.asks[i] in k.questions("最近有点疼"), kind  # and asked of one who did not


def test_a_surgical_wound_is_its_own_kind_and_a_description_that_asks_nothing_is_the_persons_own():
    from chat import complaints

    assert complaints.of("肝移植缝合需要注意哪些问题？肝移植清创需要有留意哪些问题？").kind == "surgical_wound"
    assert complaints.of("手指被刀割伤了，伤口挺深").kind == "wound" and complaints.named("wound").lead
    c = concerns.read("主要就是头皮痒有时候还疼出白头挤开可疼了", describes_symptoms=True)
    assert c.personal and c.complaint == "skin"
    assert not concerns.read("头皮痒的治疗方法有哪些", describes_symptoms=False).personal  # a question put to the KB


def test_side_effects_of_a_diseases_drugs_are_said_to_depend_on_the_drug_and_not_to_stop_it_alone():
    c = concerns.read("癫痫药物有哪些副作用？我老公一直在吃药物调养")
    assert c.kind == "side_effects" and "不要自行停药" in concerns.first_line(c)
    assert concerns.read("阿莫西林有哪些不良反应？", drug_named=True).kind != "side_effects"  # its label says them


def test_a_syphilis_test_weakly_positive_is_no_pregnancy_and_a_sore_worse_for_a_year_is_seen_soon():
    from chat import complaints

    assert complaints.of("梅毒TP弱阳性1:16身上的红点忽隐忽现").kind == "skin" and complaints.of("梅毒TP弱阳性1:16") is None
    assert complaints.of("测了早孕试纸弱阳").kind == "pregnancy"
    assert concerns.not_waiting("爸爸的毒疮本来不大1年多都没好现在越来越严重了") == concerns.SOON_LINE.format(
        what="越来越大或一直不愈合的包块、溃疡或痣")


def test_a_long_standing_condition_is_asked_its_treatment_and_values_not_the_age():
    c = concerns.read("我是乙肝携带者，乙肝病毒清除不了吗？现在肝功正常，有时傍晚有点恶心", describes_symptoms=True)
    assert c.complaint == "liver" and "age" not in c.missing and "duration" not in c.missing


def test_a_question_that_takes_a_pain_as_told_is_not_asked_of_a_complaint_without_one():
    from chat import complaints

    digestion = complaints.named("digestion")
    assert digestion.asks[0] not in digestion.questions("胃不舒服经常恶心没食欲，口臭")
    assert digestion.asks[0] in digestion.questions("肚子疼三天了")
    eye = complaints.named("eye")
    assert eye.asks[0] in eye.questions("眼睛红") and eye.asks[0] not in eye.questions("眼睛红，但不疼")


def test_a_complaint_a_heart_drug_relieves_gets_the_chest_pain_signs():
    from chat import complaints

    told = "胃难受，刚吃完饭心里也不好受，吃救心丸一会就好"
    assert complaints.named("chest").signs in complaints.signs(complaints.named("digestion"), told)
    assert complaints.named("chest").signs not in complaints.signs(complaints.named("digestion"), "胃难受，吃饭后胀")


def test_a_childs_medical_complaint_goes_to_paediatrics_with_a_childs_signs():
    from chat import complaints

    c = concerns.read("我家宝宝8个月，这两天老是吐奶，拉肚子，怎么办", child=True, describes_symptoms=True)
    assert c.complaint == "digestion" and concerns.usual_department(c) == "儿科（小儿消化科）"
    assert concerns.where_to_go(c, "消化内科") == "儿科（小儿消化科）" and concerns.where_to_go(c, "小儿内科") == "小儿内科"
    assert complaints.CHILD_SIGNS["digestion"] in c.signs
    adult = concerns.read("我最近老是拉肚子怎么办", describes_symptoms=True)
    assert concerns.where_to_go(adult, "消化内科") == "消化内科" and complaints.CHILD_SIGNS["digestion"] not in adult.signs
    assert concerns.usual_department(concerns.Concern("tell", complaint="eye", child=True)) == "眼科"


def test_a_use_the_label_does_not_list_gets_that_said_and_no_dose(pipeline):
    a = pipeline.answer("流感可以吃阿莫西林胶囊吗，一次吃多少")
    assert "的适应症没有写到「流行性感冒」" in a.text or "的适应症没有写到「流感」" in a.text, a.text
    assert not any(c.section == "用法用量" for c in a.citations)
    b = pipeline.answer("头痛可以吃布洛芬缓释胶囊吗")
    assert "「布洛芬缓释胶囊」的适应症写到了「头痛」" in b.text, b.text
    c = pipeline.answer("高血压能吃牛肉吗")  # a food, whatever a graph lists it as
    assert "的适应症" not in c.text.split("\n")[0]


def test_a_complaint_after_a_drug_quotes_the_labels_item_that_names_it_not_the_whole_list():
    from chat.pipeline import _concern_evidence
    from retriever.analysis import QueryAnalysis
    from retriever.symptoms import Finding

    question = "我在吃阿莫西林，这两天身上起了疹子，是不是药的副作用？"
    drug = EntityMention("阿莫西林", 2, 6, 7, "drug", "阿莫西林胶囊")
    analysis = QueryAnalysis(question=question, topics=(drug,), findings=(Finding("皮疹", 14, 16, True),))
    reactions = Passage("e7:不良反应:demo:0", 7, "drug", "阿莫西林胶囊", "不良反应",
                        "1. 恶心、呕吐、腹泻等胃肠道反应。2. 皮疹、药物热和哮喘等过敏反应。", "demo", 1, "h",
                        items=("恶心", "皮疹", "药物热"), authority=30)
    line, found, naming = _concern_evidence(concerns.read(question, drug_named=True), analysis, support(),
                                            lambda *a: [reactions], [])
    assert "写到了「皮疹」" in line and found == [reactions] and "皮疹" in naming and "恶心" not in naming


def test_a_childs_use_of_a_drug_whose_kb_text_never_speaks_of_children_is_for_the_paediatrician_first(pipeline):
    from chat.pipeline import _purpose_evidence
    from retriever.analysis import QueryAnalysis
    from retriever.symptoms import Finding

    syrup = EntityMention("金银花糖浆", 9, 14, 9, "drug", "金银花糖浆")
    indications = Passage("e9:适应症:cmekg:0", 9, "drug", "金银花糖浆", "适应症", "金银花糖浆 · 适应症：发热、口渴、腰痛",
                          "cmekg", 1, "h")
    question = "宝宝六个月，发烧38度，喝金银花糖浆可以吗？"
    analysis = QueryAnalysis(question=question, mentions=(syrup,), topics=(syrup,), findings=(Finding("发热", 8, 10, True),))
    support = SimpleNamespace(entities=[syrup])

    def passages_of(entity_id, section=None):
        return [indications] if section in (None, "适应症") else []

    # for a child the line is the whole answer: an adult's indications ("发热") under it would read as a yes
    for child, said, shown in ((True, "没有写到儿童（婴幼儿）能不能用", []), (False, "的适应症写到了「发热」", [indications])):
        concern = concerns.Concern("can_i", child=child)
        line, found = _purpose_evidence(concern, analysis, support, passages_of, [indications])
        assert said in line and found == shown, line
    # through the pipeline: the tiny KB's label never speaks of children
    child = pipeline.answer("孩子三岁，头痛可以吃布洛芬缓释胶囊吗")
    assert "没有写到儿童（婴幼儿）" in child.text and "适应症" not in child.text and "[1]" not in child.text
    assert "没有写到儿童（婴幼儿）" not in pipeline.answer("头痛可以吃布洛芬缓释胶囊吗").text


def test_whether_it_can_be_cured_is_answered_from_the_sentences_of_its_entry_that_say_so():
    from chat.pipeline import CURE_WORDS, _can_evidence, _cure_evidence
    from retriever.analysis import QueryAnalysis

    epilepsy = EntityMention("癫痫", 0, 2, 1, "disease", "癫痫")
    overview = passage("概述", "癫痫患者经过正规的抗癫痫药物治疗，约70%的患者其发作是可以得到控制的。")
    prevention = passage("预防", "急性期患者痊愈后半年内应定期复查。")  # not where a disease's course is told
    sections = {"概述": [overview], "预防": [prevention]}

    def passages_of(entity_id, section=None):
        return sections.get(section, [])

    question = "癫痫病能彻底根治吗？"
    analysis = QueryAnalysis(question=question, topics=(epilepsy,))
    line, found, naming = _cure_evidence(concerns.read(question), analysis, support(), passages_of, [])
    assert "能不能治好" in line and "不是对您的预测" in line and found == [overview] and naming == CURE_WORDS
    sections.pop("概述")
    assert _cure_evidence(concerns.read(question), analysis, support(), passages_of, [])[0] == ""
    # nor is it a matter of what its prevention or diet text happens to say ("关于「治好」：…预防部分")
    sections["预防"] = [passage("预防", "坚持治疗就能治好。")]
    asked = "癫痫能不能治好"
    assert concerns.read(asked).kind == "can_i" and "治好" in concerns.read(asked).about
    assert _can_evidence(concerns.read(asked), QueryAnalysis(question=asked, topics=(epilepsy,)),
                         support(), passages_of, [])[0] == ""


def test_a_pain_in_the_chest_told_by_what_it_is_like_adds_chest_pains_signs():
    from chat import complaints

    told = "我得的是不是浅表性胃炎？胸口发锥，疼"
    assert complaints.named("chest").signs in complaints.signs(complaints.named("digestion"), told)


def test_how_serious_is_answered_from_what_its_entry_says_of_its_course_before_a_crawled_complication_list():
    from chat.pipeline import _serious_evidence
    from retriever.analysis import QueryAnalysis

    kawasaki = EntityMention("川崎病", 0, 3, 7, "disease", "川崎病")
    overview = Passage("e7:概述:xywy:0", 7, "disease", "川崎病", "概述", "川崎病 · 概述：为自限性疾病，多数预后良好，复发率1%至2%。",
                       "xywy", 1, "h", authority=10)
    complications = Passage("e7:并发症:xywy:0", 7, "disease", "川崎病", "并发症", "川崎病 · 并发症：冠状动脉瘤、心肌炎", "xywy", 1,
                            "h", items=("冠状动脉瘤", "心肌炎"), authority=10)

    def passages_of(entity_id, section=None):
        return {"概述": [overview], "并发症": [complications]}.get(section, [])

    question = "川崎病很严重吗"
    line, found, *naming = _serious_evidence(concerns.read(question), QueryAnalysis(question=question, topics=(kawasaki,)),
                                             SimpleNamespace(entities=[kawasaki]), passages_of, [])
    assert "关于病程和预后的说法" in line and found[0] is overview and "预后" in naming[0]
    no_course = lambda entity_id, section=None: [complications] if section == "并发症" else []  # noqa: E731
    line, found = _serious_evidence(concerns.read(question), QueryAnalysis(question=question, topics=(kawasaki,)),
                                    SimpleNamespace(entities=[kawasaki]), no_course, [])
    assert "可能引起的并发症" in line and found[0] is complications
