"""chat.triage: red flags described now fire (Chinese and English); look-alikes from real consultation
messages do not (cost questions, events that are over, intermittent or long-standing complaints, habits,
diagnoses, narratives handled by a doctor since); is_english; and the rate on the real development set."""

from __future__ import annotations

import pytest

from chat.triage import ENGLISH_ONLY_NOTE, explain, is_english, read, triage
from tests.conftest import shared_data

RED_FLAGS_ZH = [
    # chest pain with a red-flag companion (sweating, the left arm, lasting)
    ("胸口压着痛、一直出冷汗", "emergency"),
    ("胸痛半小时不缓解", "emergency"),
    ("胸口疼，左臂发麻", "emergency"),
    ("最近胸口压着痛，出冷汗", "emergency"),
    ("胸闷气短好几天了，今天突然胸口剧烈疼痛，出了一身冷汗", "emergency"),
    ("我经常胸闷，刚才突然胸口压榨样疼，左胳膊麻，出冷汗", "emergency"),
    ("胸口压着痛，出冷汗，会不会是心梗", "emergency"),
    # narratives: a title, then a description in the present
    ("我爸突然说话不清楚怎么办？我爸今年65岁，有高血压好几年了，刚才吃饭的时候突然说话含糊，右边手拿不住筷子",
     "emergency"),
    ("胸口痛出冷汗怎么回事？我老公抽烟二十年，今天早上起来胸口压着痛，一直出冷汗，已经半个小时了", "emergency"),
    ("脑出血怎么办？我爸刚才突然剧烈头痛，然后就吐了，现在叫不醒", "emergency"),
    ("脑梗治疗费用多少？我妈刚才突然说话不清楚，右手抬不起来", "emergency"),  # a cost question, but now
    # long-standing conditions with something new today
    ("我爸有癫痫多年，今天抽搐了十几分钟还没停，叫不醒", "emergency"),
    ("孩子发烧三天了，今天突然抽搐，叫不醒", "emergency"),
    ("我爸去年中风了，今天又突然说不出话", "emergency"),
    ("我爸刚才突然晕倒，现在已经醒了，但是说话不清楚", "emergency"),
    # ages are not durations; who it happens to is named once
    ("宝宝三个月了，发烧39度", "emergency"),
    ("怀孕五个月了，下面出血很多", "emergency"),
    ("老人摔倒了，头上流了很多血，止不住", "emergency"),
    ("孩子抽搐，口吐白沫，我们正在送他去医院的路上", "emergency"),
    ("孩子吞了一颗纽扣电池", "emergency"),
    ("老人不停地抽搐", "emergency"),  # 不停/不断 is no negation
    ("时不时胸闷，越来越重，出冷汗", "emergency"),  # intermittent, but getting worse
    ("我不想活了，活着没意思", "crisis"),
    ("有胃病吃不下饭怎么办？最近做什么事都没心思，经常有轻生的念头", "crisis"),
]

RED_FLAGS_EN = [
    ("my father suddenly can't speak and one side is weak", "emergency"),
    ("chest pain and sweating", "emergency"),
    ("she is not breathing", "emergency"),
    ("my baby has a seizure", "emergency"),
    ("I want to kill myself", "crisis"),
    ("My mom collapsed and is unresponsive, please help", "emergency"),
    ("my son swallowed bleach", "emergency"),
    ("I think my husband is having a heart attack", "emergency"),
    ("she is bleeding heavily and it won't stop", "emergency"),
    ("my face is drooping and my speech is slurred", "emergency"),
    ("my baby is 3 weeks old and has a fever", "emergency"),
    ("I feel like hurting myself", "crisis"),
]

LOOK_ALIKES = [
    # cost and where to treat it: a general question
    "脑中风治疗费用大概多少钱",
    "脑梗后遗症要花多少钱",
    "心脏搭桥手术费用多少？医保能报销吗",
    # over
    "发烧39度，昨天已经退烧了",
    "宝宝发烧39度，吃了退烧药，烧退了，还要去医院吗",
    "孩子昨天抽搐了一次，抽搐已经停了，现在精神还好",
    "孩子刚才抽了一下，现在不抽了，睡着了",
    "上周吐血了，后来止住了，需要做胃镜吗",
    "吐血后来止住了",
    # intermittent or long-standing
    "有时喘不过气，是怎么回事",
    "有时候胸闷，几年了",
    "时不时心慌胸闷",
    "偶尔胸闷气短，是心脏病吗",
    "胃胀难受咋样缓解好？前一天胃胀干呕，第三天胃胀一直不消化，胸闷气短呼吸困难，吃了消食片，应当怎么办",
    "最近总是头晕恶心，胸闷，是颈椎病吗",
    "胸闷，一直头晕恶心好几天了",
    # habits, diagnoses, after-effects, narratives handled since
    "孩子有癫痫，每次发作时会口吐白沫，吃什么药能控制",
    "热性惊厥用抗癫痫药物有效吗？",
    "爸爸去年脑出血，现在半边身体没力气，康复训练怎么做",
    "前几天晕倒了一次，去医院检查说是低血糖，平时要注意什么",
    "癫痫能治好吗？我儿子前两天突然抽搐，口吐白沫，送到医院检查说是癫痫",
    "我昨天突然晕倒了，醒了以后去医院查了心电图，需要再做什么检查",
    "我高血压好几年了，吃了很多种药，血压还是高",
    "小孩子从沙发上摔下来，哭了一会，现在玩得好好的",
    "孩子吃鱼被鱼刺卡了，吞了口饭下去了，现在不疼了",
    "孩子3岁，发烧38.5度，精神挺好，要不要去医院",
    # English: negated, general, past, hypothetical
    "what causes chest pain",
    "I have no chest pain, just a cough",
    "he had a stroke last year, what should he eat",
    "what should I do if someone has a seizure",
    "Is suicide common among teenagers?",
]


# Events told in people's own words (issue 19): what happened is read, not a phrase matched.
EVENTS = [
    # an ingestion of an amount, in any word order (把-construction, amount first)
    ("我刚才一口气把一整瓶安眠药都吃了，现在有点晕", "emergency"),
    ("安眠药吃了一整瓶", "emergency"),
    ("男朋友吞下去二十片安眠药", "emergency"),
    # "不注意" / "不小心" are no negation of what follows
    ("孩子趁我不注意吞了十几片扑热息痛，怎么办", "emergency"),
    ("我不小心喝了几口消毒液", "emergency"),
    ("宝宝偷吃了两片奶奶的降压药", "emergency"),  # a small child, unwatched: any amount
    # a seizure and not responding, told by their signs
    ("宝宝抽起来了，眼睛往上翻，叫也不应", "emergency"),
    ("我爸突然倒在地上，牙关紧闭，手脚抖个不停", "emergency"),
    ("喊他没反应，怎么拍都不醒", "emergency"),
    # English forms
    ("I just swallowed a whole bottle of sleeping pills", "emergency"),
    ("my toddler swallowed ten of grandma's pills, what should I do", "emergency"),
    ("he is shaking and his eyes rolled back", "emergency"),
    ("she won't respond", "emergency"),
    ("I want to overdose on purpose", "crisis"),
    # amounts told in other ways, other verbs, a child and an adult's medicine, poisons named by kind
    ("一口气吃了十五六片止痛片", "emergency"),
    ("吞了二十多粒安眠药", "emergency"),
    ("我妈把一盒降压药全当糖豆吃了", "emergency"),
    ("孩子把奶奶的降压药吃了两颗", "emergency"),
    ("孩子喝了几口洗甲水", "emergency"),
    ("屋里烧着炭盆，我和老公都头疼想吐，他站不起来了", "emergency"),
    # emergencies told by their signs, not their names
    ("上腹部突然像刀割一样疼，疼到后背，吐了好几次", "emergency"),
    ("吃了虾以后全身起风团，嗓子发紧，有点喘", "emergency"),
    ("咳嗽咳出一大口鲜血", "emergency"),
    ("孕32周，一上午就动了一两下，感觉胎动很少", "emergency"),
    ("两个月的宝宝不怎么吃奶，一直睡，哭声很弱", "emergency"),
    ("发烧两天，脖子僵硬低不下头，身上有出血点", "emergency"),
    ("孩子从床上摔下来头着地，吐了两次，一直想睡", "emergency"),
    ("my son is wheezing badly and his inhaler isn't helping", "emergency"),
    ("I'm 34 weeks and my waters just broke", "emergency"),
]

NOT_EVENTS = [
    "吃了两片布洛芬，多久起效",  # a dose, not an overdose
    "一次吃了一片",
    "吃一整瓶会怎样",  # not done: a question
    "我没有吃一整瓶安眠药，只吃了一片",  # a real negation
    "喝了一瓶啤酒头有点晕",  # a container of a drink, not of a medicine
    "阿莫西林吃了好几盒了还没好",  # a course of treatment
    "吃了打过农药的青菜会中毒吗",
    "宝宝发烧39度，吃了退烧药，烧退了，还要去医院吗",  # over, two clauses later
    "抽了血以后有点头晕",
    "腿抽筋了，一抽一抽的疼",
    "I took 2 tablets of ibuprofen",
    "what happens if you take a whole bottle of pills",
    "I did not swallow any pills",
    "吃了一盒感冒药还没好",  # a course of treatment
    "吃了一大把瓜子，嗓子有点干",  # a handful of food
    "孩子吃了我的维生素片",  # a vitamin is no adult medicine
    "女儿在抽屉里翻东西",  # 抽屉 is no fit
    "发烧39度，浑身发抖，盖了被子还冷",  # rigors, not a fit
    "喉咙肿痛，吞口水疼",  # a sore throat
    "怀孕6周，有一点点出血，褐色的",  # a little bleeding: the clinic, not 120
    "小孩睡着以后腿一抽一抽的",  # a limb twitching in sleep
    "胃炎能长期剧烈运动吗",  # 剧烈 exercise, not pain
]


@pytest.mark.parametrize(("question", "level"), EVENTS)
def test_events_told_in_other_words_fire(question, level):
    assert triage(question).level == level, read(question)


@pytest.mark.parametrize("question", NOT_EVENTS)
def test_doses_negations_and_questions_are_no_events(question):
    assert triage(question).level is None, [e for e in read(question) if e.when == "now"]


def test_read_says_what_who_and_when():
    events = [e for e in read("孩子趁我不注意吞了十几片扑热息痛，怎么办") if e.flag == "poisoning"]
    assert events and events[0].who == "child" and events[0].when == "now"
    assert {e.when for e in read("我没有胸痛")} == {"negated"}
    assert any(e.when == "habitual or hypothetical" for e in read("吃了一整瓶会怎样"))
    assert any(e.who == "self" and e.when == "now" for e in read("I just swallowed a whole bottle of sleeping pills"))


def test_english_overdose_gets_the_120_advice_in_english():
    first = triage("I just swallowed a whole bottle of sleeping pills").message.split("\n")[0]
    assert first.startswith("⚠️") and "120" in first and "overdose" in first


@pytest.mark.parametrize(("question", "level"), RED_FLAGS_ZH + RED_FLAGS_EN)
def test_red_flags_described_now_fire(question, level):
    assert triage(question).level == level, explain(question)


@pytest.mark.parametrize("question", LOOK_ALIKES)
def test_look_alikes_do_not_fire(question):
    assert triage(question).level is None, [e for e in explain(question) if e[2] == "affirmed"]


def test_english_red_flags_say_call_120_in_english_first():
    chest = triage("chest pain and sweating")
    first = chest.message.split("\n")[0]
    assert first.startswith("⚠️") and "120" in first and "emergency" in first
    assert "请立即拨打 120" in chest.message  # the Chinese notice follows
    crisis = triage("I want to kill myself")
    assert "400-161-9995" in crisis.message.split("\n")[0]


@pytest.mark.parametrize(("text", "english"), [
    ("my chest hurts", True),
    ("What is the dose of amoxicillin?", True),
    ("hello", True),
    ("阿莫西林 amoxicillin 怎么吃", False),
    ("What is 阿莫西林?", False),
    ("CT检查要空腹吗", False),
    ("HPV疫苗", False),
    ("胸口疼", False),
    ("ok", False),
    ("123", False),
    ("", False),
])
def test_is_english(text, english):
    assert is_english(text) is english


def test_english_only_note():
    assert ENGLISH_ONLY_NOTE.startswith("yiju answers questions in Chinese only") and "120" in ENGLISH_ONLY_NOTE


def test_explain_names_the_discount():
    reasons = dict((m, why) for _, m, why in explain("发烧39度，昨天已经退烧了"))
    assert reasons["发烧"] == "over"
    assert ("unconscious", "晕倒", "set in the past") in explain("前几天晕倒了一次，去医院检查说是低血糖")
    assert ("unconscious", "抽搐", "handled since") in explain("孩子突然抽搐，口吐白沫，送到医院检查说是癫痫")


def test_real_consultation_questions_rarely_fire():
    """On 7,644 real online-consultation questions (internal medicine, mostly narratives about chronic
    conditions) the old rules fired on 329 (4.3%); what still fires must stay rare."""
    from chat.real_questions import read_questions

    questions = read_questions(shared_data("toyhom-im-sample", "内科5000-6000.csv"))
    fired = [q.question for q in questions if triage(q.question).level]
    assert len(questions) > 7000
    assert len(fired) / len(questions) < 0.01, fired[:20]


# Issue 18: age changes urgency (a newborn's swelling that shuts an eye, jaundice that deepens) and waters
# leaking in pregnancy told as wet underwear; a scene told after a habit ("…就会退成正常，之后…") is now.
NEWBORN_AND_PREGNANCY = [
    "宝宝在出生三天后，额头上出现紫色的血管瘤，用手压颜色就会退，之后眼皮处已经肿的睁不开眼睛，要怎么治呢？",
    "新生儿出生10天，黄疸越来越重，吃奶也少了",
    "怀孕34周，今天早上发现内裤湿了一片，像是有水流出来，不疼",
]
NEWBORN_LOOK_ALIKES = ["宝宝两个月，吃奶后偶尔吐一点奶正常吗", "宝宝5个月了，黄疸早就退了", "孩子三岁，眼皮有点肿"]


@pytest.mark.parametrize("question", NEWBORN_AND_PREGNANCY)
def test_a_newborns_danger_signs_and_leaking_waters_fire(question):
    assert triage(question).level == "emergency", explain(question)


@pytest.mark.parametrize("question", NEWBORN_LOOK_ALIKES)
def test_an_older_babys_or_a_past_complaint_does_not_fire(question):
    assert triage(question).level is None, explain(question)


@pytest.mark.parametrize("question", [
    "我刚才一口气把一整瓶安眠药都吃了，现在有点晕", "孩子趁我不注意吞了十几片扑热息痛，怎么办", "宝宝抽起来了，眼睛往上翻，叫也不应",
    "I just swallowed a whole bottle of sleeping pills",
    "My child swallowed a dozen paracetamol tablets when I was not looking, what do I do",
    "My baby is having a fit, his eyes rolled up and he does not respond"])
def test_issue_19s_three_messages_and_their_english_form_are_emergencies(question):
    assert triage(question).level == "emergency", explain(question)


# Issue 19 part 2: the kinds of words read since (phrases written for these tests, not rows of the eval set).
PART2_EMERGENCIES = [
    "外婆把敌敌畏当成酱油倒进汤里喝了两口",  # a poison taken by mistake, told with 把
    "孩子喝了奶奶装在饮料瓶里的农药",  # the poison named after a relative clause
    "怀了双胞胎32周，刚才突然肚子疼得厉害",  # pregnant, however told
    "孕33周，下面哗地流出来一大股清水",  # waters with a longer gap
    "孕28周，眼前一闪一闪的，头很痛",  # flashing sight in pregnancy
    "孕晚期，肚子一阵一阵疼，三分钟一次",  # contractions at an interval are not on-and-off
    "宝宝喝水呛到了，脸憋得发紫，哭不出声",  # choking with the airway signs
    "孩子吸气的时候喉咙里呼呼响，越来越喘",  # stridor
    "老爸拉肚子拉的全是鲜血",  # blood everywhere
    "外公突然右边手脚不听使唤",  # one side, however said
    "孩子头磕到地上，现在不记得刚才的事了",  # a head hit, then lost memory
    "宝宝十个月，发烧，今天精神特别差，尿也少了",  # a listless febrile baby
    "生完孩子三天，下面流血越来越多，手脚冰凉",  # bleeding that grows, with shock signs
    "孩子中暑，叫他都不怎么理人",
    "呼吸不过来了，救命",
    "I can't do this anymore, I'm going to end it tonight",
    "my chest has been aching for half an hour and I feel dizzy",
    "my mom took way too many of her sleeping pills",
    "grandpa keeled over and is out cold",
    "she is losing a lot of blood after giving birth",
]
PART2_LOOK_ALIKES = [
    "怀孕五个月，刷牙的时候牙龈出血",  # a bleed from somewhere else is no pregnancy bleed
    "头磕了一下，没吐，不想睡，就是起了个包",  # the red signs negated
    "我家狗狗突然抽搐，口吐白沫",  # a pet: a vet's question
    "猫咪喘不上气，张着嘴呼吸",
    "my cat is having trouble breathing",
    "this homework is killing me",  # a figure of speech
    "she passed out for a second at the concert but she's fine now",
    "I sometimes get chest pain and sweating when I'm anxious, it comes and goes",
    "my grandma has dementia and doesn't recognise us, any tips?",
]


@pytest.mark.parametrize("question", PART2_EMERGENCIES)
def test_part2_kinds_of_words_fire(question):
    assert triage(question).urgent, explain(question)


@pytest.mark.parametrize("question", PART2_LOOK_ALIKES)
def test_part2_look_alikes_do_not_fire(question):
    assert triage(question).level is None, [e for e in explain(question) if e[2] == "affirmed"]


def test_a_pet_is_who_it_happens_to_unless_it_did_it():
    assert {e.who for e in read("我家狗狗突然抽搐") if e.flag == "unconscious"} == {"pet"}
    assert triage("孩子被狗咬了，伤口很深，一直在流血").urgent
    assert triage("my son was bitten by our dog and is bleeding heavily").urgent


def test_a_bleed_in_cirrhosis_is_an_emergency_however_small_it_is_said_to_be():
    from chat.triage import triage

    for q in ("早期肝硬化，上个月胃出血住院，这两天又出血了，这次不是很严重", "我爸肝硬化，今天拉黑便",
              "My dad has cirrhosis and vomited blood this morning"):
        assert triage(q).level == "emergency", q
    for q in ("肝硬化会引起呕血吗", "肝硬化去年呕过血，现在好了", "肝硬化患者能吃什么"):
        assert triage(q).level is None, q


def test_a_young_infants_temperature_measured_below_a_fever_is_not_one():
    from chat.triage import triage

    assert triage("宝宝出生22天，体温37.4度，精神很好，吃奶也好，算发烧吗").level is None
    for q in ("宝宝出生22天，发烧38.2度", "刚满月的宝宝，体温37.8，一直睡", "宝宝出生20天，体温37.2度，不吃奶"):
        assert triage(q).level == "emergency", q


def test_a_black_tarry_stool_is_an_emergency_unless_iron_bismuth_or_blood_food_explain_it():
    from chat.triage import triage

    for q in ("大便柏油色，请问:云南白药和奥美拉唑能一起吃吗？", "今天拉了黑色的大便", "I have black tarry stool today"):
        assert triage(q).level == "emergency", q
    for q in ("吃了铁剂以后大便发黑正常吗", "黑便是什么原因引起的", "大便是黑色的，昨天吃了猪血", "昨天拉了黑色的大便，今天正常了"):
        assert triage(q).level is None, q


@pytest.mark.parametrize("question", [
    "昨天晚上一时想不开吃了快四十颗扑热息痛，现在就是有点恶心，是不是已经过去了没事了",  # asked, not told, over
    "吃了三十片安眠药，现在没事了",  # an amount swallowed acts later
    "孩子吃花生过敏，打了肾上腺素笔，现在好多了",  # adrenaline needed: the reaction can come back
    "我儿子三岁，半夜突然咳得跟小狗叫似的，吸气喉咙里嘶嘶响，嘴唇有点紫",  # a comparison, not a pet
    "My daughter had a nut reaction and I gave her the epipen, she seems better now",
])
def test_what_is_not_over_when_it_feels_better_and_what_only_sounds_like_a_pet(question):
    assert triage(question).urgent, explain(question)


@pytest.mark.parametrize("question", [
    "宝宝发烧39度，吃了退烧药，烧退了，还要去医院吗",  # over, told
    "孩子差点吃了洗衣凝珠，被我抢下来了，没吃进去",
    "my eyelid has been twitching on and off for a week. is that some kind of seizure?",
    "Is it ok to alternate ibuprofen and paracetamol for a fever? dont want to accidentally overdose",
])
def test_what_is_over_or_never_happened_is_no_emergency(question):
    assert not triage(question).urgent, explain(question)


@pytest.mark.parametrize("question", [
    "我爸喘得躺都躺不下，嘴唇乌紫，说一句话要歇两口气",  # breathing failing, however told
    "她一直咳嗽，喘气都费劲，嘴唇颜色也不太对",
    "我妈刚才脸色蜡黄，一直出冷汗，说想躺会儿",  # shock, whatever caused it
    "狗把腿咬开一个口子，用毛巾捂着血还是一直往下流，湿透两条毛巾了，诊所说处理不了",  # not handled: sent on
    "妈妈吃了野蘑菇，现在上吐下泻，人有点迷糊，她说吐完就好了",  # what she says will pass has not passed
    "我爷爷嘴角歪了，说话大舌头，上次也有过一次，十几分钟就好了，这次一个多钟头了",  # last time's is not this time's
    "孩子手在抖，叫他也不理，之前从来没有过这种情况",  # never before: new, not past
    "头疼了好多年了，但今天这个跟以前不一样，像脑袋里炸开一样",  # unlike before: not long-standing
    "血压量了210/125，头疼得厉害，看东西模糊",  # a very high pressure with what it does now
    "我媳妇怀孕八个月，刚才全身抽了一阵，翻白眼，现在醒了",  # a fit in pregnancy stays an emergency
    "邻居被电打了一下倒地上了，现在醒了",  # so does an electric shock
    "孩子好像把遥控器里的纽扣电池吞下去了",
    "宝宝一个半月，发烧38度",  # under three months any fever
    "宝宝八个月，发烧38度，哭声很弱，叫他没什么反应",  # past three months with a danger sign
    "活着太累了，绳子已经准备好了",
    "我刚才割了手腕，其实也不太想活了",
    "I can't do this anymore. The pills are lined up on the table.",
])
def test_what_people_tell_without_the_red_flag_words(question):
    assert triage(question).level is not None, explain(question)


@pytest.mark.parametrize("question", [
    "新生儿正常体温是多少",  # a temperature asked about, not a fever
    "看电视剧里一个人突然捂着胸口倒下了，真的心脏病发作也这样吗",  # watched, not lived
    "有人晕倒先打120还是先按压",  # first-aid knowledge
    "跑完步喘不上气，歇一会就好了",  # over after rest
    "宝宝八个月，发烧38度一晚上了，能喝点什么",  # past three months, 38 and nothing else: a fever to watch
])
def test_what_only_sounds_like_an_emergency(question):
    assert triage(question).level is None, explain(question)
