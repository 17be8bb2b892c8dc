"""What a message itself tells that should not wait for days (chat.concern.not_waiting): said first, for a
person's own story, in every path of the answer; a worry, a negation, the past or a habit is no reason."""

from __future__ import annotations

import pytest

from chat import concern as concerns
from chat.concern import BP_LINE, not_waiting
from tests.test_chat import build_tiny_kb


@pytest.mark.parametrize("message", [
    "胃疼得厉害，要紧吗",
    "早上摔了一跤，膝盖动不了，站不起来",
    "腰疼，起不来床了",
    "我爸今年70岁，昨天开始发烧38.5度，咳嗽，有糖尿病，怎么办",
    "做完取卵手术后肚子越来越大，胀得难受",
    "月经出血12天了，头晕乏力",
    "血压160/110，头晕没力气正常吗",
    "高压190低压100，头疼",
    "脸上长了个痣，最近越来越大",
])
def test_what_should_not_wait_is_read(message):
    assert not_waiting(message)


@pytest.mark.parametrize("message", [
    "不是很疼，就是有点胀",
    "怕会疼得厉害",
    "去年摔了一跤站不起来，现在腰还疼",
    "每次月经都疼得受不了，正常吗",
    "血压130/85正常吗",
    "以前血压180/120，现在吃药控制在130/80，能停药吗",
    "量了下150/95",
    "双膝盖蹲不下伸不直，用力过度就疼痛难忍",  # a pain brought on by a trigger: how it comes on decides, not today
    "蹲下的时候疼得厉害",
])
def test_a_worry_a_negation_the_past_or_a_habit_is_no_reason(message):
    assert not_waiting(message) == ""


def test_the_reading_is_said_with_the_numbers_told():
    assert not_waiting("血压160/110，头晕") == BP_LINE.format(bp="160/110")


def test_a_person_is_told_first_and_the_first_line_does_not_then_say_it_cannot_judge():
    concern = concerns.read("血压160/110，头晕没力气正常吗")
    assert concern.today and concern.kind == "normal"
    assert "不能替您下结论" not in concerns.first_line(concern)
    assert concerns.read("高血压的诊断标准是什么").today == ""  # a question put to the KB tells nothing of anyone


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    from chat.pipeline import Pipeline

    url, index = build_tiny_kb(tmp_path_factory.mktemp("not-waiting-kb"))
    return Pipeline.load(url, index, "extractive", k=5, on_stale="ignore", log_answers=False)


def test_the_pipeline_says_it_before_the_answer(pipeline):
    answer = pipeline.answer("我胃疼得厉害，已经两天了，要紧吗")
    assert answer.text.startswith("您提到「疼得厉害」")


def test_new_stomach_trouble_past_45_is_for_soon():
    assert "胃镜" in not_waiting("最近胃胀，反酸，吃不下", 59)
    assert not_waiting("胃胀好多年了，老毛病", 59) == "" and not_waiting("最近胃胀", 30) == ""


def test_someone_else_s_blood_in_a_wound_or_a_needle_stick_is_for_within_hours():
    assert "2小时内" in not_waiting("给病人换药时血滴到了手上，手上有个倒刺，会不会传染乙肝")
    assert "2小时内" in not_waiting("被用过的针头扎了一下")
    assert not_waiting("我抽血的时候针扎的地方青了") == ""


def test_a_case_supposed_is_not_one_told():
    assert not_waiting("乙肝有了抗体还会感染不？或者说有抗体了被针扎到还会被传染么？") == ""
    assert not_waiting("如果胃疼得厉害要去医院吗") == ""


def test_a_fit_that_is_over_is_asked_what_it_was_like_and_told_its_first_aid():
    from chat import complaints

    message = "我家孩子6岁，昨天晚上睡觉的时候突然抽了一下，眼睛往上翻，一分钟左右就好了，要紧吗"
    concern = concerns.read(message)
    assert concern.complaint == "fit" and "侧躺" in concern.signs and "当天就医" in concern.signs
    fit = complaints.named("fit")
    assert fit.questions(message)[0].startswith("抽的时候")  # how long it lasted is told


def test_bleeding_from_within_is_not_pressed_on():
    from chat.triage import BLEEDING_WITHIN_ADVICE, triage

    assert BLEEDING_WITHIN_ADVICE in triage("我爸突然吐了半盆血，现在头晕").message
    assert BLEEDING_WITHIN_ADVICE in triage("阴道大量出血，一小时湿透两片卫生巾").message
    assert "按压出血处" in triage("手被刀割了，血一直止不住").message


def test_a_medicine_taken_by_mistake_is_told_what_to_watch_for():
    line = not_waiting("我奶奶70多了，早上把我爸的降压药吃了一片，会怎样")
    assert "血压过低" in line and "低血糖" in line
    assert not_waiting("早上药吃重了，多吃了一次二甲双胍").startswith("您提到「药吃重了」")
    assert not_waiting("没有吃错药，就是头晕") == ""


@pytest.mark.parametrize("message, told", [
    ("月经推迟了十天，这两天有少量出血，小肚子有点疼，怎么回事？", True),
    ("例假过了一周没来，今天肚子痛得厉害", True),
    ("停经40天，褐色分泌物", True),
    ("例假推迟一周了，没有性生活，肚子疼", False),  # no pregnancy is possible: no ectopic to rule out
    ("月经推迟了五天，别的没什么不舒服", False),
    ("绝经两年了，最近肚子疼", False),
])
def test_a_late_period_with_bleeding_or_pain_is_seen_today_for_an_ectopic_pregnancy(message, told):
    assert (not_waiting(message) == concerns.ECTOPIC_LINE.format(what="月经推迟")) is told


@pytest.mark.parametrize("message", [
    "测早孕都有浅浅的弱阳，今天凌晨阴道出血，有大血块",
    "烧伤的面积很大，糖尿病烫伤后如何护理",
    "膝盖骑车摔伤的，去医院看了。但已经结痂了却还不能动，特别一站起来就刺骨的痛",
])
def test_a_positive_test_with_bleeding_a_large_burn_and_an_injury_that_still_bears_no_weight_are_for_today(message):
    assert not_waiting(message)


def test_what_happened_years_ago_is_not_for_today():
    assert not not_waiting("十年前摔了一跤，当时站不起来，现在走路没问题")


def test_a_deep_wound_or_bleeding_that_will_not_stop_is_for_today():
    assert not_waiting("手指被刀割伤了，伤口挺深") and not_waiting("按了十分钟血还止不住")
    assert not not_waiting("伤口不深，已经止血了")


def test_a_warm_belly_or_a_past_weekend_is_not_a_fever_or_pain_of_today():
    assert not not_waiting("73岁，肚子长期发热很不舒服，吃过很多药") and not not_waiting("奶奶手脚发热")
    assert not not_waiting("婶婶上周末的时候在家里忽然昏倒，然后口吐白沫，浑身剧烈疼痛。")
    assert not_waiting("老人发热三天了")


def test_a_newborns_jaundice_that_is_rising_is_for_today():
    assert not_waiting("宝宝出生6天，黄疸17.7，还在升高，有点吐奶，要紧吗")
    assert not not_waiting("新生儿黄疸要紧吗") and not not_waiting("宝宝出生10天，黄疸已经退了")
    # the day counted ("出生第六天") and the value told first, the trend a sentence later
    assert not_waiting("宝宝出生第六天，黄疸值17.7，晚上爱哭闹，白天还好。吃了三天药黄疸值不退反升，怎么办")


def test_in_pregnancy_a_pressure_of_140_90_is_already_for_today_at_obstetrics():
    assert not_waiting("怀孕7个月，血压150/95，头有点晕", pregnant=True) == concerns.PREGNANCY_BP_LINE.format(bp="150/95")
    assert not not_waiting("血压150/95，头有点晕") and not not_waiting("孕妇血压120/80正常吗", pregnant=True)


@pytest.mark.parametrize("message, pregnant", [
    ("怀孕7个月，血压150/95，头有点晕", True),
    ("孕三个月了，血压145/92正常吗", True),
    ("没有怀孕，血压150/95，头晕", None),  # a pregnancy denied (read by chat.patient, once)
    ("备孕3个月了，血压150/95，能吃降压药吗", None),  # a pregnancy planned is not one
    ("想怀孕，血压145/95，要紧吗", None),
])
def test_the_pregnancy_line_follows_what_the_patient_reader_read(message, pregnant):
    from chat.patient import extract_facts

    facts = extract_facts([message])
    assert facts.pregnant is pregnant or (pregnant is None and not facts.pregnant)
    told = concerns.read(message, pregnant=facts.pregnant, describes_symptoms=True).today
    assert told.startswith("您提到怀孕期间血压") is bool(pregnant)


def test_after_egg_retrieval_a_swelling_belly_is_the_clinics_today_and_its_questions_are_asked():
    from chat import complaints

    message = "取卵后胃胀肚子变大，这是不是腹水，胃胀得不舒服，恶心"
    assert "卵巢过度刺激综合征" in not_waiting(message)
    kind = complaints.of(message)
    assert kind.kind == "reproduction" and "生殖" in kind.department
    concern = concerns.read(message, describes_symptoms=True)
    assert "生殖" in concerns.where_to_go(concern, "内科、消化内科")  # not where the KB's 腹水 is seen


def test_a_birth_years_ago_is_no_postpartum_complaint_and_a_fit_is_not_a_headache():
    from chat import complaints

    assert complaints.of("生孩子已经七年了，生孩子后下地早，后脚跟疼，一见凉风就疼").kind == "joint"
    assert complaints.of("剖腹产后一个月，还有出血").kind == "postpartum"
    assert complaints.of("我小孩昨晚半夜里突然抽动，在我怀里面抽动，两眼发直").kind == "fit"
    # a weight on the chest with breathlessness gets chest pain's signs beside the belly's
    message = "肚子上部即胸下部中间那块地方有东西压着一样有点喘不过气，按下去会疼一会"
    assert "左肩臂" in complaints.signs(complaints.of(message), message)


def test_a_childs_complaint_with_no_kind_of_its_own_gets_a_childs_go_now_signs_and_保胎_is_a_pregnancy():
    from chat.patient import extract_facts

    concern = concerns.read("孩子智力低下，有时候想说什么给忘了，爱生气爱哭", child=True, describes_symptoms=True)
    signs = concerns.when_not_to_wait(concern, None, True)
    assert signs == concerns.CHILD_URGENT_SIGNS and "呕血" not in signs
    assert extract_facts(["羊水断断续续的流，不算太多，可以保胎吗"]).pregnant is True
    assert not extract_facts(["结婚两年一直没有避孕，还没有怀上宝宝，就是担心要不到孩子"]).child  # a couple


@pytest.mark.parametrize("message, said", [
    ("昨天晚上吃了一粒，皮肤红痒，是这个药过敏导致的吗？我应该怎么办", True),
    ("吃了阿莫西林两天，身上起了红疹子，很痒", True),
    ("输了两天头孢，今天身上没有起疹子", False),  # denied
    ("我对青霉素过敏，能吃头孢吗", False),  # an allergy known before: the label answers, no stop line
])
def test_a_rash_after_a_medicine_is_told_to_stop_it_and_ask_the_prescriber(message, said):
    line = not_waiting(message)
    assert ("先停用这个药" in line) is said, line
    if said:
        assert "长期用的药，当天就联系医生" in line and "120" in line  # not for every medicine, and when to go now


@pytest.mark.parametrize("message, said", [
    ("肝炎病发两三年了，之间吃过药，后来好了，就没吃了，现在又病发了该怎么办？", True),
    ("血压高吃了一年药，自己停了，现在又高了", True),
    ("大三阳，医生说吃到正常就好了，现在停药了又不正常了", True),
    ("吃药后不吃了，担心复发", False),  # a worry
])
def test_a_medicine_stopped_and_the_illness_back_is_for_the_specialist_soon(message, said):
    line = not_waiting(message)
    assert ("不要自己恢复以前的药" in line) is said, line


def test_a_question_is_asked_only_for_the_parts_the_message_does_not_tell():
    from chat import complaints

    bite = complaints.of("被小狗咬出血了，有事吗")
    assert bite.questions("被小狗咬出血了，有事吗")[0] == "什么时候被咬（抓）的，在哪个部位？"
    assert bite.questions("被狗咬了")[0] == "什么时候被咬（抓）的，伤口破皮、出血了吗，在哪个部位？"
    belly = "我经常感觉右下腹胀痛"
    assert complaints.of(belly).questions(belly)[0] == "是一直疼还是一阵一阵，和吃饭有没有关系？"
    # "右腹" leaves upper or lower open, and "胃疼" with a fever can be an appendix beginning: where is asked
    for vague in ("我经常感觉右腹胀痛", "周五晚上胃痛，今天发烧38度"):
        assert complaints.of(vague).questions(vague)[0].startswith("疼在肚子哪个位置")
    told = "前几天拉肚子现在疼得厉害没有便血"
    assert not any(q.startswith("大便怎样") for q in complaints.of(told).questions(told))
    assert complaints.of("肝炎又犯了，药停了半年").questions("肝炎又犯了，药停了半年")[1:] == ()
    assert len(complaints.of("肝炎，一直在吃药").questions("肝炎，一直在吃药")) == 2  # taking it: whether regularly


def test_which_kind_of_complaint_a_message_is_about_reads_words_as_they_are_meant():
    from chat import complaints

    # a place on the head told by the ear is the head's, not the ear's
    assert complaints.of("头左边很疼，位置大概在耳朵上方7-10cm的地方").kind == "head"
    # feeling sick told in two words counts once: a period's change with nausea is gynaecology's first
    assert complaints.of("月经这次很少，还有褐色的东西，这几天有点恶心想呕吐").kind == "gynaecology"
    # "胃不舒服" and "没食欲" are complaints, not denials
    assert complaints.of("口臭，胃里不舒服，经常恶心没有食欲").kind == "digestion"


@pytest.mark.parametrize("message, line", [
    ("拔针头的时候，有些带血的液体掉在我的手指上了，看了手没伤口，赶紧擦掉洗了手，肝病会被传染吗", "完好的皮肤能挡住"),
    ("病人的血溅到我手上的伤口了", "最好在2小时内"),
    ("血滴到手上了，手上有个小口子", "最好在2小时内"),
])
def test_blood_on_whole_skin_is_washed_and_blood_in_a_wound_is_seen_within_hours(message, line):
    assert line in not_waiting(message)


def test_a_stroke_had_brings_its_questions_and_the_signs_of_another_and_a_hip_after_a_fall_is_for_today():
    from chat import complaints

    told = "妈妈前段时间有轻微的中风，脸上也已经开始有面瘫的症状，她一直说脸很疼"
    kind = complaints.of(told)
    assert kind.kind == "stroke" and "口角歪斜" in kind.signs and "120" in kind.signs
    assert complaints.of("是不是中风了？") is None  # wondered: triage's to read, not a condition had
    assert "摔倒后大腿根或胯部疼" in not_waiting("我妈52岁摔了一跤，右腿大腿内侧的筋疼，能伸直，就是不能用力")


def test_a_pain_named_only_by_what_it_is_like_never_leads_the_possible_conditions():
    from types import SimpleNamespace

    from chat.pipeline import _led_by_most_specific
    from retriever.symptoms import SymptomIndex

    # "刺痛" is listed by few entries, yet it says only what the pain is like: it weighs nothing in the index
    index = SymptomIndex({i: f"D{i}" for i in range(40)},
                         {i: ({"刺痛"} if i < 2 else {"尿痛"} if i < 5 else {"咳嗽"}) for i in range(40)})
    assert index.weight("刺痛") == 0.0 and index.weight("尿痛") > 0
    urinary, spine = SimpleNamespace(matched=["尿痛", "疼痛"]), SimpleNamespace(matched=["刺痛", "疼痛"])
    assert _led_by_most_specific([urinary, spine], ["尿痛", "刺痛", "疼痛"], index.weight) == [urinary]


@pytest.mark.parametrize("message, said", [
    ("坐了十几个小时的火车，下车后发现左小腿肿了，有点疼", True),
    ("右腿肿了两天，前几天刚做完手术", True),
    ("两条腿都肿，晚上更明显", False),  # both legs: not a clot's picture
])
def test_one_leg_swollen_after_sitting_a_journey_or_an_operation_is_for_today(message, said):
    assert ("一条腿肿" in not_waiting(message)) is said


def test_a_line_for_today_is_never_followed_by_i_do_not_answer(pipeline):
    from chat.answer import REFUSAL
    from chat.pipeline import NO_ENTRY_AFTER_LEAD

    # the tiny KB has nothing on it: the line for today stands, and the KB's silence is said as where it came from
    answer = pipeline.answer("测早孕有浅浅的弱阳，今天凌晨阴道出血，有大血块，这是什么情况？")
    assert answer.text.startswith("您提到验孕阳性") and NO_ENTRY_AFTER_LEAD in answer.text
    assert REFUSAL not in answer.text and "我不作回答" not in answer.text


def test_whether_one_drinks_is_told_by_any_drink_named_and_how_much_by_an_amount():
    from chat import complaints

    story = "患了酒精肝怎么办?我经常喝啤酒，几个月前检查发觉我患了酒精肝"
    asked = complaints.of(story).questions(story)
    assert not any("平时喝酒吗" in q for q in asked) and any("每天大概喝多少" in q for q in asked)
    asked = complaints.of("我有脂肪肝，每天喝两瓶啤酒，怎么办").questions("我有脂肪肝，每天喝两瓶啤酒，怎么办")
    assert not any("喝" in q for q in asked)
    assert any("平时喝酒吗" in q for q in complaints.of("我有脂肪肝，怎么办").questions("我有脂肪肝，怎么办"))


@pytest.mark.parametrize("message, said", [
    ("昨天和男朋友同房没戴套，怕怀孕怎么办", True),
    ("我上个月20号来的月经，这个月十一号左右同房，发现套套底端有一些精液，会怀孕吗", True),  # a period's date is no past
    ("我们在备孕，安全期同房会怀孕吗", False),  # a pregnancy wanted
    ("男朋友是乙肝病毒携带者，过性生活不戴避孕套可以吗", False),  # no pregnancy worry
])
def test_sex_without_protection_and_a_pregnancy_not_wanted_is_told_the_72_hour_window(message, said):
    assert ("72小时内" in not_waiting(message)) is said


@pytest.mark.parametrize("message, took", [
    ("4.8号有性行为，4.10今天有少量褐色血，请问是什么原因？需要吃药吗？", False),
    ("要不要打针", False),
    ("昨天晚上吃了一粒，皮肤红痒，是这个药过敏吗", True),
    ("吃了药还是疼", True),
])
def test_a_medicine_asked_about_is_no_medicine_taken_and_its_name_is_not_asked(message, took):
    concern = concerns.read(message, describes_symptoms=True)
    assert ("drug" in concern.missing) is took


def test_a_complaints_questions_skip_a_result_already_given_and_an_adults_habits_for_a_child():
    from chat import complaints

    story = "乙肝病毒携带者，HBV-DNA 2.3*10^7，想问要不要治疗"
    asked = complaints.of(story).questions(story)
    assert not any("HBV-DNA" in q for q in asked)
    cough = "宝宝肺炎好了，这两天又开始咳嗽"
    assert not any("吸烟" in q for q in complaints.of(cough).questions(cough, child=True))
    assert any("吸烟" in q for q in complaints.of("咳嗽两周了").questions("咳嗽两周了"))


def test_whether_it_matters_is_asked_as_serious_not_as_may_i():
    assert concerns.read("宝宝出生第三天，黄疸值15，要不要紧").kind == "serious"
    assert concerns.read("要不要去医院").kind == "can_i"
