"""How names in a message are read (issue 18's tune read: a wrong entry linked): a class word before 治疗 is a
kind of treatment, not a product; an everyday word for what is seen is a finding of the disease the message
names, not a second disease."""

from __future__ import annotations

from retriever.analysis import analyze
from retriever.hits import EntityMention


NAMES = {"抗病毒": (1, "drug", "抗病毒颗粒"), "乙肝": (2, "disease", "乙肝"), "传染性软疣": (3, "disease", "传染性软疣"),
         "痘痘": (4, "disease", "痤疮"), "布洛芬": (5, "drug", "布洛芬片"),
         "仙灵": (6, "drug", "仙灵")}


def topics(text: str, names: dict = NAMES) -> list[str]:
    mentions = [EntityMention(surface, text.find(surface), text.find(surface) + len(surface), eid, etype, name)
                for surface, (eid, etype, name) in names.items() if surface in text]
    return [m.entity_name for m in analyze(text, mentions, None).topics]


def test_a_class_word_before_treatment_is_no_product():
    assert "抗病毒颗粒" not in topics("乙肝大三阳，还需要抗病毒治疗吗") and "乙肝" in topics("乙肝大三阳，还需要抗病毒治疗吗")
    assert topics("布洛芬治疗头痛效果怎样") == ["布洛芬片"]


def test_an_everyday_word_for_what_is_seen_is_a_finding_of_the_disease_named():
    assert topics("身上长了小痘痘，医院说是传染性软疣，为什么还痒") == ["传染性软疣"]
    assert topics("脸上的痘痘怎么办") == ["痤疮"]


def test_one_character_that_makes_another_herbal_material_makes_another_product():
    # "仙灵子" is not 仙灵 (a product, 润燥止痒胶囊): answering with that product's label would be unsafe
    assert topics("仙灵子能治什么病") == [] and topics("仙灵能治什么病") == ["仙灵"]
    assert topics("布洛芬子怎么吃") == [] and topics("布洛芬能吃吗") == ["布洛芬片"]
    assert topics("布洛芬吃了还是头痛") == ["布洛芬片"]  # a verb after the name is no part of a name


def test_which_drugs_treat_a_disease_asked_as_people_ask_it_is_its_usual_drugs():
    from retriever.intent import detect_intent

    for q in ("治疗[D]的药有哪些？", "[D]的药有什么", "[D]吃什么药"):
        assert detect_intent(q, ["disease"])[0] == "常用药物", q
    assert detect_intent("这药有什么副作用", ["drug"]) == ["不良反应"]


def test_a_time_told_is_no_question_and_treatment_and_care_asked_as_people_ask_are_read():
    from retriever.intent import detect_intent
    from retriever.words import is_asking_clause

    assert not is_asking_clause("这几天我的姑姑是查出来得上了宫颈癌了，") and not is_asking_clause("前几天发烧")
    assert is_asking_clause("一天吃几片") and is_asking_clause("几岁可以打")
    assert detect_intent("这个病有什么要特别注意的事情以及它的治疗手段", ["disease"], last_first=True) == ["治疗方式", "护理"]
    assert detect_intent("[D]咋样的治疗？", ["disease"]) == ["治疗方式"]


def test_an_exam_the_story_tells_was_done_is_how_it_was_found_not_the_topic():
    names = {"血常规": (7, "exam", "血常规"), "胃炎": (8, "disease", "胃炎"), "胃镜检查": (9, "disease", "胃镜检查")}
    assert topics("吃东西后胃胀怎么办？医院去检查了血常规，都正常，钡餐造影说有点轻微胃炎。", names) == ["胃炎"]
    assert topics("胃镜检查发现胃窦有3cm息肉，切片为良性。问需要开刀切除吗？", names) == []
    assert topics("血常规能查出什么？", names) == ["血常规"] and topics("胃镜检查前要注意什么", names) == ["胃镜检查"]


def test_a_disease_name_before_xing_qualifies_another_condition():
    names = {"癫痫": (10, "disease", "癫痫")}
    assert topics("非癫痫性肌阵挛是病吗？", names) == [] and topics("癫痫会遗传吗？", names) == ["癫痫"]


def test_a_disease_tests_ruled_out_is_no_topic_and_no_condition_of_the_person():
    from chat import complaints

    names = {"甲亢": (11, "disease", "甲亢")}
    told = "去医院做检查，心脏甲亢都没问题，医生说继续观察"
    assert topics(told, names) == [] and complaints.of(told) is None
    assert topics("甲亢正常吗", names) == ["甲亢"] and complaints.of("我有甲亢，最近心慌").kind == "thyroid"


def test_a_disease_named_in_full_is_read_before_its_organs_umbrella_and_how_long_is_no_question():
    from retriever.analysis import _UMBRELLA, _without_umbrella
    from retriever.hits import EntityMention
    from retriever.words import is_asking_clause

    assert not is_asking_clause("胃病几年了，断断续续发作")  # how long it has been, not "how many years?"
    assert is_asking_clause("吃了几天了？") and is_asking_clause("一天吃几次")
    assert _UMBRELLA.match("胃病") and _UMBRELLA.match("心脏病") and not _UMBRELLA.match("慢性浅表性胃炎")
    gastritis = EntityMention("慢性浅表性胃炎", 6, 13, 1, "disease", "慢性浅表性胃炎")
    umbrella = EntityMention("胃病", 20, 22, 2, "disease", "胃病")
    notes: list[str] = []
    assert _without_umbrella("前天做胃镜，是慢性浅表性胃炎伴胃窦糜烂，胃病几年了", [gastritis, umbrella], notes) == [gastritis] and notes
    assert _without_umbrella("胃病几年了", [umbrella], []) == [umbrella]  # alone, it is what is asked about
    # beside a disease of another organ, or said twice, it is still what is asked about ("胃病能引起高血压吗")
    pressure = EntityMention("高血压", 5, 8, 3, "disease", "高血压")
    again = EntityMention("胃病", 30, 32, 2, "disease", "胃病")
    assert _without_umbrella("x" * 40, [umbrella, pressure, again], []) == [umbrella, pressure, again]
    question = "是不是得了胃病了？吃晚饭后疼痛，今天吐了许多。是不是胃炎啊？"
    at = question.index("胃炎")
    wondered = EntityMention("胃炎", at, at + 2, 4, "disease", "胃炎")
    assert _without_umbrella(question, [umbrella, wondered], []) == [umbrella, wondered]


def test_catching_a_disease_is_no_part_of_its_name():
    """"接吻会被传染乙肝病毒吗" was refused as a question about an unknown "传染乙肝"."""
    assert topics("接吻会被传染乙肝病毒吗？他有乙肝") == ["乙肝"]
    assert analyze("接吻会被传染乙肝吗", [EntityMention("乙肝", 5, 7, 2, "disease", "乙肝")], None).unknown == ()
    # nor is where on the body: "腰部肋子裂了" is 肋骨骨折 (by its everyday name), not an unknown "腰部肋子裂"
    told = "老人跌了一下，腰部肋子裂了好几根"
    ribs = EntityMention("肋子裂", told.find("肋子裂"), told.find("肋子裂") + 3, 9, "disease", "肋骨骨折")
    assert analyze(told, [ribs], None).unknown == ()


def test_a_finding_written_inside_a_disease_name_is_no_finding_of_the_person():
    from retriever.symptoms import SymptomIndex

    index = SymptomIndex({1: "糜烂性胃炎", 2: "宫颈糜烂", 3: "偏头痛", 4: "感冒"},
                         {1: {"糜烂", "恶心"}, 2: {"糜烂", "白带增多"}, 3: {"偏头痛", "恶心"}, 4: {"偏头痛", "发热"}})
    named = EntityMention("糜烂性胃炎", 0, 5, 1, "disease", "糜烂性胃炎")
    analysis = analyze("糜烂性胃炎的治疗方式", [named], index)
    assert analysis.present == [] and [m.entity_name for m in analysis.topics] == ["糜烂性胃炎"]
    assert analysis.kind == "entity"
    # a name that is itself a complaint keeps what it holds; a finding beside the name is still read
    migraine = EntityMention("偏头痛", 1, 4, 3, "disease", "偏头痛")
    assert analyze("我偏头痛三天了", [migraine], index).present == ["偏头痛"]
    assert "恶心" in analyze("糜烂性胃炎，最近恶心", [named], index).present


def test_a_longer_disease_name_misspelt_around_a_name_it_holds_is_read_as_that_disease():
    from retriever.linking import EntityLinker
    from retriever.passages import EntityName

    linker = EntityLinker([EntityName(1, "disease", "胃炎"), EntityName(2, "disease", "糜烂性胃炎"),
                           EntityName(3, "drug", "乙肝解毒丸"), EntityName(4, "disease", "乙肝")])
    text = "咪烂性胃炎怎么治疗比较有效"
    near = linker.near_misses(text, linker.link(text))
    assert [(m.surface, m.entity_name) for m in near] == [("咪烂性胃炎", "糜烂性胃炎")]
    # a qualifier is written as meant: "青年高血压" is no misspelling of 老年高血压
    linker = EntityLinker([EntityName(1, "disease", "胃炎"), EntityName(2, "disease", "糜烂性胃炎"),
                           EntityName(3, "drug", "乙肝解毒丸"), EntityName(4, "disease", "乙肝"),
                           EntityName(5, "disease", "高血压"), EntityName(6, "disease", "老年高血压")])
    text = "青年高血压怎么治疗"
    assert linker.near_misses(text, linker.link(text)) == []
    # a drug is no misspelling of a phrase that holds a disease's name ("乙肝病毒" is not 乙肝解毒)
    text = "接吻会被传染乙肝病毒吗"
    assert linker.near_misses(text, linker.link(text)) == []


def test_an_organ_or_a_department_a_source_lists_as_an_alias_names_the_organ_or_the_department():
    from retriever.linking import EntityLinker
    from retriever.passages import EntityName

    linker = EntityLinker([EntityName(1, "drug", "甲状腺片", ("甲状腺", "万通")), EntityName(2, "disease", "腹部损伤", ("外科",)),
                           EntityName(3, "disease", "甲状腺"), EntityName(4, "disease", "阑尾炎")])
    found = [(m.surface, m.entity_name) for m in linker.link("让及时到甲状腺外科进一步咨询，万通是什么药，阑尾炎")]
    assert ("甲状腺", "甲状腺片") not in found and ("外科", "腹部损伤") not in found
    assert ("万通", "甲状腺片") in found and ("阑尾炎", "阑尾炎") in found
    assert ("甲状腺", "甲状腺") in found  # an entity called so still links by its own name


def _pairs_index():
    from retriever.symptoms import PAIR_MIN_FREQUENCY, SymptomIndex

    n = PAIR_MIN_FREQUENCY
    lists = {i: {"膝关节疼痛"} for i in range(n)} | {n + i: {"白带增多", "外阴瘙痒"} for i in range(n)} \
        | {2 * n + i: {"大腿刺痛"} for i in range(2)} | {2 * n + 2 + i: {"咳嗽"} for i in range(40)}
    return SymptomIndex({i: f"D{i}" for i in lists}, lists)


def test_a_site_and_what_is_wrong_with_it_said_apart_are_read_as_the_kbs_term_for_the_pair():
    index = _pairs_index()
    assert index.find("双膝盖蹲不下伸不直用力过度就疼痛难忍") == (["膝关节疼痛"], [])
    assert index.find("我外阴很痒，白带多，有异味")[0] == ["外阴瘙痒", "白带增多"]
    assert index.find("白带发黄，多，有时痒")[0] == ["白带增多"]  # a short clause says more of the last site
    # denied, too far apart, a one-character site not right before it, or a pair the KB lists too rarely: nothing
    assert index.find("膝盖不疼，就是有点肿")[0] == []
    assert index.find("手术后伤口有点疼")[0] == [] and index.find("大腿有点疼")[0] == []


def test_a_disease_of_old_age_is_named_only_for_someone_said_to_be_old():
    from retriever.symptoms import InquiryState, SymptomIndex

    index = SymptomIndex({1: "老年人肺癌", 2: "胸膜炎"}, {1: {"胸痛", "背痛"}, 2: {"胸痛", "刺痛"}})
    assert [c.name for c in index.rank(InquiryState(present=["胸痛", "背痛"]))] == ["胸膜炎"]
    assert "老年人肺癌" in [c.name for c in index.rank(InquiryState(present=["胸痛", "背痛"], elderly=True))]


def test_a_story_that_asks_nothing_tells_the_examination_done_and_a_symptom_word_beside_a_diagnosis_is_a_finding():
    from retriever.symptoms import SymptomIndex

    index = SymptomIndex({1: "宫颈癌", 2: "疼痛", 3: "感冒"}, {1: {"疼痛", "月经过多"}, 2: {"疼痛"}, 3: {"发热", "咳嗽"}})
    story = "一直觉得腹部疼痛，就到医院去做了检查了，结果发现是得了宫颈癌了。"
    names = {"宫颈癌": (1, "disease", "宫颈癌"), "疼痛": (2, "disease", "疼痛")}
    mentions = [EntityMention(s, story.find(s), story.find(s) + len(s), eid, t, n) for s, (eid, t, n) in names.items()]
    analysis = analyze(story, mentions, index)
    assert analysis.intents == () or "检查" not in analysis.intents
    assert [m.entity_name for m in analysis.topics] == ["宫颈癌"]
    asked = "宫颈癌要做哪些检查？"
    assert "检查" in analyze(asked, [EntityMention("宫颈癌", 0, 3, 1, "disease", "宫颈癌")], index).intents
