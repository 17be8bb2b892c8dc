"""Red-flag triage: the first thing the pipeline does with a question, before any retrieval.

An emergency described in the present ("胸口压着痛、一直出冷汗", "嘴歪了说话不清楚", "孩子误吞了
药") gets "call 120 now" before anything else, whatever the KB says; talk of self-harm gets a crisis
line. The rules are plain regular expressions, because a triage that a reviewer cannot read line by
line cannot be trusted, and because it must work with no model and in microseconds.

How a message is read (`read` returns it; `explain` is the same as tuples): a question is cut into
sentences and clauses, and each red flag's patterns find *events* in it, told the way people tell them:

    an ingestion   a swallowing verb that is done (吃/吞/喝/服/咽/灌/舔…了) + an amount above a dose, however
                   written ("十五六片", "二十多粒", "40片", "好多片", "一大把…药", "整整一瓶"), or a whole container
                   taken at once ("把一板降压药都当成维生素吃了", "一口气吃了一盒"), or a poison, in either order
                   (not "吃了两片布洛芬", "吃一整瓶会怎样", "阿莫西林吃了好几盒", "吃了5片维生素C"); a small child
                   who took medicine unwatched or an adult's medicine ("把奶奶的降压药吃了"), any amount; wild
                   mushrooms, carbon monoxide (a stove, charcoal, a heater) or pesticide told with the symptoms
    a seizure      by its signs: "抽起来了", "在抽", "一抽一抽" (not of one leg), the limbs shaking (the whole body
                   shaking is rigors), "牙关紧闭", a bitten tongue, eyes rolled up with stiffness, one fit after another
    not responding "叫也不应", "喊他没反应", "怎么拍都不醒", "叫她只会哼一声", "没知觉"; a collapse; confusion
                   ("不认识人了", low blood sugar with sweating and confusion)
    and the rest   severe belly pain however told, with the signs of a surgical belly (rigid, no wind and vomiting,
                   jelly stools, torsion, rebound); anaphylaxis as a trigger or a rash + the airway or circulation
                   failing; bleeding by its amount ("吐了半盆血"), by pressure that does not stop it, black stools with
                   faintness; breathing; chest pain with a companion; stroke signs; a baby not feeding and
                   listless or with a bulging fontanelle; fever with a stiff neck or a rash that does not fade;
                   pregnancy (fewer movements, waters, labour, blurred sight, heavy bleeding); injuries (a head hit
                   then vomiting or drowsiness, burns of the face or a large area, shocks, drowning, crush);
                   self-harm intent and farewells; in English, the same kinds in English words

Each event gets *who* (the last person named before it: infant, child, pregnant, elderly, the asker,
someone else) and *when*: "now", or why not, decided in one place (`_discount`) for every event. Negation
is a negator right before the event, with at most words that keep it about the event between ("没有胸痛",
"没有明显胸痛", "不是吐血"); "趁我不注意吞了", "不小心喝了", "不知道吃了多少" are no negation. A red flag
fires when each of its patterns has an event happening now. English is read the same way with English
patterns ("swallowed a whole bottle of sleeping pills", "his eyes rolled back", "she won't respond").

A red-flag word alone is not an emergency. Real questions are narratives (a title, then a description:
"癫痫能治好吗？我儿子前两天突然抽搐，口吐白沫，送到医院检查说是癫痫…"), and most mention red-flag words
about the past, a habit, a diagnosis or a worry. So a diagnosis named as such ("脑梗", "心梗", "癫痫发作",
"热性惊厥") counts only when suspected or just happened ("是不是中风了", "脑出血了吗"), and each match of a
red-flag pattern is read in its context (`explain` and `read` say which rule discounts it):

    negated          right before it        "没有胸痛", "差点晕倒"
    past             its clause             "去年胸痛过", "以前…已经好了"
    set in the past  its sentence           "有一次…突然晕倒，四肢抽搐" (the last time word before it is a past one)
    habitual         its sentence           "复发时神志不清，口吐白沫" (the last such word is 会/每次/发作时)
    over             the rest of its        "发烧39度，昨天已经退烧了", "吃了退烧药，烧退了", "抽搐已经停了",
                     sentence               "现在不抽了"
    handled since    after it               "…口吐白沫，送到医院检查说是癫痫", "后来才知道是癫痫"
    a diagnosis      its clause, before it  "医生说他是癫痫发作了"
    hypothetical     its clause             "怕他中风了", "如果…的话", "癫痫发作会窒息吗", "才不会让孩子误喝",
                                            "想把一整瓶都吃了" (intent: the crisis line, not an ingestion)
    asleep           its clause             "早上赖床怎么叫都叫不醒"
    intermittent     its clause             "有时喘不过气", "偶尔胸闷", "老是胸闷" (突然/剧烈/越来越/加重 make it
                                            acute again, also in the next clause, but not in a habit: "他经常突然晕倒")
    long-standing    its sentence           "有时候胸闷，几年了", "前一天胃胀…第三天…胸闷气短" (unless its clause
                                            says it is new, or the sentence names sweating, 压榨, 左臂, 濒死…)
    the patient is writing                  "我昨天突然晕倒" (fainting and fits only: over in minutes; yesterday's
                                            are past too)
    an after-effect                         "爸爸去年脑出血，现在半边身体没力气" (unless said to be new)

A title is judged by the description when that mentions the same thing ("癫痫发作怎么办？…每次发作时
口吐白沫…"). The whole question is discounted when it asks about a condition in general (what it is,
causes, prevention, cost, which hospital) and nothing in it says it is happening now (现在, 突然, 刚才,
怎么办…). Self-harm (chronic_ok) is discounted only by negation and the past: "经常有轻生的念头" still
gets the crisis line.

English questions get the same advice through English patterns per red flag (`RedFlag.english`), with
negation ("no chest pain"), the past, "if" and general questions ("what causes chest pain") discounted.
The pipeline answers other English input with ENGLISH_ONLY_NOTE (see `is_english`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kb.names import fold
from retriever.words import CHILD_WORDS, COST_WORDS, DENIAL_CHARS, alternation, denial_alternation

from chat import urgent_reader

EMERGENCY_CALL = "请立即拨打 120 急救电话，或马上去最近医院的急诊，不要等待线上答复。"
EMERGENCY_CALL_EN = ("Call 120 (China) or your local emergency number now, or go to the nearest emergency "
                     "department; do not wait for an online answer.")
CRISIS_LINES = (
    "如果你正在想伤害自己，请现在就联系能帮助你的人：\n"
    "- 全国心理援助热线（希望24热线）：400-161-9995（24 小时）\n"
    "- 北京心理危机研究与干预中心：010-82951332（24 小时）\n"
    "- 有生命危险时请立即拨打 120 或 110。\n"
    "你并不孤单，也可以马上告诉身边一个信任的人，让他陪着你。"
)
CRISIS_LINE_EN = ("If you are thinking about hurting yourself, please reach out now: in China call 400-161-9995 "
                  "(24 h) or 010-82951332 (24 h); if your life is in danger call 120 or 110, or your local "
                  "emergency number.")
ENGLISH_ONLY_NOTE = ("yiju answers questions in Chinese only (目前仅支持中文提问). In an emergency call 120 (China) "
                     "or your local emergency number now.")


@dataclass(frozen=True)
class RedFlag:
    name: str
    label: str  # what it may be, in the words shown to the user
    patterns: tuple[str, ...]  # every pattern must match (affirmed), in any order
    advice: str = ""  # one safe thing to do while waiting for help
    kind: str = "emergency"  # "emergency" | "crisis"
    chronic_ok: bool = False  # True: "for months" does not discount it (e.g. suicidal thoughts)
    english: tuple[str, ...] = ()  # the same red flag asked in English: every pattern must match (lower case)
    label_en: str = ""
    who: str = ""  # who it happens to ("宝宝", "孕晚期"): must be named and not negated; no other discount applies
    sequela_of: str = ""  # a known past episode of this makes the signs after-effects unless said to be new
    transient: bool = False  # over in minutes (a faint, a fit): yesterday's is past, and the one writing is awake
    lasting: str = ""  # what stays an emergency once over (a fit in pregnancy, an electric shock): not discounted as over


_NP = r"[^，。,；;！？!?\n]"  # any character but a clause break: "腹痛急迫，便意难忍" is two clauses
# Choking: something went down the wrong way ("呛着了", "噎住", "卡住了") and the airway shows it: no cry, no
# voice, no cough, a red or blue face. "被鱼刺卡了嗓子，吞口水有点疼" is a bone in the throat, not this.
_CHOKING = (r"(呛|噎|卡)(着|住|到)(了)?[^。！？!?]{0,16}(哭不出|说不出|咳不出|发不出声|出不了声|没(有)?声音|喘不|憋|"
            r"脸(憋)?(得)?(通红|发紫|发青|青紫|紫))")
# Stridor and croup: a noise as the breath goes in, a throat that whistles or wheezes, a barking cough with breathing
# worse ("吸气的时候喉咙里有呼呼的声音", "咳得像狗叫"). "呼吸声音大" with a blocked nose is not this.
_STRIDOR = (r"(吸气(的)?(时候)?[^，。,]{0,6}(有声音|有响声|有怪声|怪响|呼呼|嘶嘶|咝咝|吼|哨|拉风箱)|"
            r"(喉咙|嗓子)(里)?[^，。,]{0,4}(呼呼|嘶嘶|咝咝|哨音|吹哨|拉风箱)(的)?(声|响)?|"
            r"(咳|咳嗽)[^，。,]{0,3}(像狗叫|犬吠|像小狗)[^。！？!?]{0,16}(喘|呼吸|憋|吸气))")
_CHEST = r"((胸|背)[^，。,]{0,8}撕裂|撕裂(样|一样|般)?的?(疼|痛)|心脏(那块|那里|那儿|部位)?.{0,4}(绞痛|剧痛|痛|疼)|胸痛|胸口.{0,4}(痛|疼|闷|压|发紧)|胸疼|心口(痛|疼)|(胸口|心口|心前区)(像|跟)[^，。,]{0,6}(痛|疼|绞)|心前区(痛|疼)|胸闷|胸部(剧痛|压榨))"
# What makes chest pain an emergency rather than 胸闷 over days: sweating, pain spreading to the arm, jaw or
# back, crushing or tearing pain, a sense of dying, pallor, or pain that lasts (half an hour, not relieved).
# 头晕/恶心/一直 alone are not enough: "最近总是头晕恶心胸闷" is the everyday complaint of a clinic.
_CHEST_COMPANION = (r"((出|冒|流|淌)(了)?.{0,3}汗|大汗|冷汗|虚汗|一身汗|满头.{0,2}汗|全是汗|汗(珠|淋|如雨|湿|直流)|左(臂|肩|胳膊|手臂|上肢)|下巴|"
                    r"(疼|痛|放射|窜|牵扯)(到|至)(后背|背|肩|左|胳膊|手臂|下巴|脖子)|剧烈|剧痛|撕裂|压榨|压着|石头|濒死|"
                    r"要死|喘不(上|过)|透不过气|上不来气|半小时|半个小时|[0-9一二三四五六七八九十几]+(多|来)?分钟|[0-9一二两三四五六七八九十几]+(多|来)?个?小时|"
                    r"不缓解|不见缓解|(硝酸甘油|救心丸|药)[^，。,]{0,8}(不管用|没用|不缓解|不见效|不顶用|也不行)|窜到后背|"
                    r"(面色|脸色)(苍白|发白|煞白|发青|发紫)|晕倒|昏倒|晕过去|(一黑|晕)(就)?倒(了|下)|心慌得(厉害|不行|受不了))")
_MINUTES = r"([0-9]+|[一二两三四五六七八九十几好半]+)(多|来)?(个)?(分钟|小时)"  # "二十多分钟", "半个小时", "五分钟"
_MONTHS = r"([0-9]{1,2}|[一二两三四五六七八九十]{1,2})个(多)?月"
_KID = alternation(CHILD_WORDS)
_INFANT = rf"([0-9一二三四五六七八九十]+(周|天)(大|的{_KID})|{_KID}(才|刚)[0-9一二三四五六七八九十几多]+(周|天)|婴儿|新生儿|宝宝|小宝|婴幼儿|满月|奶娃|{_MONTHS}(大|的{_KID})|{_KID}(才|刚)?{_MONTHS})"
_YOUNG_INFANT = rf"(([0-9]|1[0-2]|[一二三四五六七八九十]|十[一二])周(大|的{_KID})|([1-8]?[0-9]|[一二三四五六七八九十几]+)天(大|的{_KID})|{_KID}(才|刚)([0-9]|[一二三四五六七八九十几多]+)(周|天)|新生儿|满月|出生.{{0,6}}天|([0-3]|[一二两三])个(多|半)?月(大|的{_KID})|{_KID}(才|刚)?([0-3]|[一二两三])个(多|半)?月)"
_FEVER = (r"(发烧|发热|高烧|高热|烧到|(?<!正常)体温(?!计|表)|烧了|烧得|fever|3[7-9](\.[0-9])?度|(?<![0-9.])(37\.[5-9]|3[89]\.[0-9]|4[0-2]\.[0-9])(?![0-9])|"
          r"(摸着|身上|额头|头|浑身|全身)[^，。,]{0,2}(滚)?烫)")
# A baby past three months with 38-38.9 and nothing else has a fever to watch, not a call to 120 (under three
# months any fever is: `young_infant_fever`). What makes a child's fever an emergency besides its height: a bulging
# fontanelle, floppiness, no response, a weak or shrill cry, a rash that does not fade, blue lips, fast breathing,
# no wet nappy for hours.
_CHILD_DANGER = (r"囟门[^，。,]{0,3}(鼓|凸|膨|隆|突)|软(绵绵|趴趴|软的|塌塌)|没(什么)?反应|尿(也|都|量)?(很|特别|明显)?少(了)?|哭声(很|特别|有点)?(弱|尖|无力)|(出血|瘀)(点|斑)|紫(红)?色?的?(点|斑)|"
                 r"不(褪|退)色|嘴唇[^，。,]{0,2}(发紫|发青|青)|呼吸(急促|困难|(很|特别|非常)?快)|"
                 r"(一天|半天|好久|[0-9一二两三四五六七八九十几]+个?小时)(都)?没(有)?(尿|湿尿布)|皮肤发花")
_JERK = r"抽(?!屉|烟|血|筋|空|奖|签|查|水|样|成|出|取|脂)"  # a fit, not 抽屉, 抽烟, 抽血, 腿抽筋, 抽空
_DULL = r"(精神(很|特别|非常|极|太)?(差|不好)|没(有)?精神|蔫(蔫|了)|没精打采)"  # listless: "今天精神特别差"
_HIGH = (r"(39(\.[0-9])?|4[0-2](\.[0-9])?|三十九|四十|高烧|高热|烧得厉害|" + _JERK + r"|惊厥|" + _DULL + r"|嗜睡|叫不醒|不吃奶|哭闹不止|烧.{0,4}不退|" + _CHILD_DANGER + ")")
# What blackens a stool without a bleed: iron, bismuth, blood tofu and dark foods.
_BLACK_FROM_FOOD_OR_DRUG = re.compile(r"(铁剂|补铁|硫酸亚铁|琥珀酸亚铁|多糖铁|铋|得乐|动物血|猪血|鸭血|血豆腐|黑芝麻|桑葚|蓝莓|"
                                      r"火龙果|黑米|墨鱼|活性炭|药用炭)")
# A temperature measured below what counts as a young infant's fever (up to 37.4 °C, "三十七度二"; from 37.5
# an armpit reading in the first months is treated as a fever).
_BELOW_FEVER = re.compile(r"(?<![0-9.])(3[56](\.[0-9])?|37(\.[0-4])?)(?![0-9])\s*(度|℃|°)|三十[六七](度)?[零一二三四]?(?![五六七八九])")
# A child who is a year old or more ("3岁宝宝") is no infant: a high number alone is not an emergency there.
_AGE_YEARS = r"([1-9][0-9]?|[一两二三四五六七八九十])(周)?岁"
_SERIOUS_CHILD = (r"(" + _JERK + r"|惊厥|" + _DULL + r"|嗜睡|叫不醒|不吃奶|哭闹不止|昏|没反应|" + _CHILD_DANGER + ")")
# A baby unwell without a fever: a bulging fontanelle, or not feeding and listless.
_FEEDS_POORLY = r"(不(怎么|太|爱|肯)?吃奶|拒奶|吃奶(很|特别)?(少|差)|奶(也|都)?不(怎么|太)?(吃|喝)|喂(奶)?(也|都)?不吃|只吃几口)"
_LISTLESS = r"(精神(很|特别)?(差|不好)|没精神|蔫|嗜睡|一直睡|睡不醒|叫不醒|哭声(弱|小|尖|无力)|软(绵绵|趴趴)?|没力气|哭不出)"
_BABY_DANGER = (rf"(囟门{_NP}{{0,3}}(鼓|凸|膨|隆|突)|{_FEEDS_POORLY}[^。！？!?]{{0,12}}{_LISTLESS}|{_LISTLESS}[^。！？!?]{{0,12}}{_FEEDS_POORLY})")
# What makes a newborn's or young baby's complaint urgent whatever else is said: jaundice that deepens, a swelling
# that shuts an eye, not feeding, repeated vomiting (the age is the red flag's `who`).
_NEWBORN_DANGER = (r"(黄疸[^。！？!?]{0,6}(越来越|加重|加深|更黄|变黄|蔓延)|(越来越|更)黄|"
                   r"(眼皮|眼睑|眼睛|眼)[^。！？!?]{0,8}(肿|鼓)[^。！？!?]{0,6}(睁不开|闭上|挡住)|"
                   r"(不吃奶|吃奶(少|很少|越来越少|差|不好)|不肯吃奶|拒奶)|(反复|一直|每次|频繁)[^，。,]{0,3}(吐|呕吐|喷射)|喷射(状|性)?(吐|呕吐))")
# Fever with a stiff neck or a rash that does not fade: meningitis or sepsis, at any age.
# Pregnant, however told: "怀孕34周", "孕晚期", "怀二胎37周", "怀着双胞胎", "七个月的身孕".
_PREGNANT = (r"(怀孕|孕妇|孕期|孕[0-9一二三四五六七八九十]+周|孕晚期|孕早期|孕中期|怀上|怀(了|着)?(二胎|三胎|二宝|三宝|老二|头胎|"
             r"双胞胎|龙凤胎|宝宝)|身孕|准妈妈|孕妈)")
# A sign told with the place it comes from that is not the womb ("牙龈出血", "鼻子流血", "痔疮出血"): chained
# look-behinds, one per word (re needs each to be fixed-width).
_NOT_WOMB = "".join(f"(?<!{w})" for w in ("牙龈", "刷牙", "牙", "鼻子", "鼻", "痔疮", "肛门", "眼睛", "眼", "耳朵", "嘴",
                                           "口腔", "伤口", "手指", "皮下", "针眼", "胃", "尿"))
_MENINGEAL = (r"((脖子|颈部|颈项|后颈)[^，。,]{0,3}(僵|硬|强直|低不下|弯不下|不能弯)|低不下头|(出血|瘀)(点|斑)|"
              r"紫(红)?色?的?(点|斑|疹)|按(了|压|着)?[^，。,]{0,2}不(褪|退)色|怕光)")
# A diagnosis named as such ("患脑梗多年", "脑出血后遗症") is no event; it is one when it is suspected or has
# just happened ("是不是中风了", "我爸脑出血了吗", "突然中风").
# How weakness of a limb is told: "没劲", "抬不起来", "不听使唤", "使不上劲", "拿不住东西".
_WEAK = r"(无力|麻|不能动|动不了|没(有)?力|没劲|抬不起|不听使唤|使不上劲|不灵活|拿不住|耷拉)"
_SUSPECT = r"(是不是|怀疑|疑似|好像|好象|像是|可能是|估计是|会不会是|难道是|该不会是)"
_STROKE_NAME = r"(中风|脑卒中|脑梗|脑出血|脑溢血|面瘫)"
_MI_NAME = r"(心梗|心肌梗[死塞]?)"

# ---------------------------------------------------------------- events: what happened, in people's words
# An ingestion: a verb of swallowing that is done (吃了, 吞下去, 都喝了), with an amount above any usual dose or
# a poison, in either order within one clause ("吞了十几片扑热息痛", "把一整瓶安眠药都吃了", "农药喝了一口").
# "吃了两片布洛芬", "一次吃了一片" name a dose, not an overdose; "吃一整瓶会怎样" is not done.
_SWALLOW = r"(吃|吞|喝|服|咽|嗑|灌|嚼|舔)"
_DONE = r"(了|下去|下|掉|光|进去|进肚子?)"  # not 完: "一盒药吃完了还没好" is a course of treatment
_ALL = r"(都|全|全部|统统|一口气|一下子|一次性?)"
# More than a usual dose: five tablets or more, tens of pills (a dose of 丸/粒 can be 8-10), a handful, or a
# whole container, however the number is written ("十五六片", "二十多粒", "40片", "好多片", "一大把").
# "吃了好几盒药", "吃了两瓶了" tell a course of treatment, not an overdose.
_ABOUT = r"(多|来|余|几|[一二三四五六七八九])?"  # "二十多", "十来", "十五六"
_MANY = (r"((?<![0-9.])([5-9]|[1-9][0-9]+)(?![0-9.])|[五六七八九]|[一二两三四五六七八九]?十[一二三四五六七八九几多来]?|"
         r"几十|数十|[一二两三四五六七八九几]百|上百|好多|很多|许多|一大堆|一堆|一大把|一把|大把)")
_LOTS = (r"((?<![0-9.])([2-9][0-9]|[1-9][0-9]{2,})|十几|几十|数十|[二三四五六七八九]十|[一二两三四五六七八九几]百|上百|"
         r"好多|很多|许多|一大堆|一大把|大把)")
_HARMLESS = r"(维生素|维C|钙|益生菌|鱼肝油|含片|喉片|润喉|消食片|山楂|口香糖|糖果|软糖|瓜子|花生|饼干|零食)"
_STRONG = r"(安眠|安定|地西泮|唑仑|唑吡坦|佐匹克隆|西泮|降压|降糖|抗抑郁|精神|止痛|扑热息痛|对乙酰氨基酚|华法林|地高辛|氯氮平|奥氮平|喹硫平|碳酸锂)"
_PILLS = (rf"(?!{_NP}{{0,6}}{_HARMLESS})({_MANY}{_ABOUT}(个)?(片|颗|药片|胶囊)|{_LOTS}{_ABOUT}(个)?(粒|丸|袋|包|支)|"
          rf"{_MANY}{_ABOUT}(个)?(粒|丸)(?={_NP}{{0,3}}{_STRONG})|(一整|整整一|满满一|整|大半|一大)(板|盒|瓶|袋|包))")
# A bottle or a handful, of a medicine ("吞了一瓶安眠药", not "喝了一瓶啤酒"); a box or a blister taken in the
# course of treatment ("吃了一盒感冒药还没好") is no overdose unless taken at once (_WHOLE_BA, "一整盒").
_CONTAINER = r"((一|半)(瓶|把)|一大把|一大堆|大把)"
_DRUG = (r"(药|片|丸|胶囊|安眠|安定|扑热息痛|对乙酰氨基酚|布洛芬|阿司匹林|感冒灵|褪黑素|地西泮|艾司唑仑|阿普唑仑|"
         r"唑吡坦|佐匹克隆|氯硝西泮|糖浆|铁剂|避孕|泰诺|美林|芬必得|散利痛|头孢|阿莫西林|华法林|地高辛|二甲双胍|格列|"
         r"碳酸锂|舍曲林|氟西汀|帕罗西汀|奥氮平|喹硫平|氯氮平|胰岛素)")
# Poisons and things that must not be swallowed ("吃了打过农药的菜", "农药残留" are food, not poison).
_POISON = (r"(农药|百草枯|敌敌畏|敌百虫|乐果|草甘膦|草铵膦|敌草快|毒死蜱|甲胺磷|溴敌隆|除草剂|杀虫剂|杀虫水|灭蚊|蚊香液|蟑螂药|老鼠药|鼠药|毒鼠强|灭鼠|消毒液|消毒水|"
           r"84(消毒|液)|漂白|洁厕|洗洁精|洗衣液|洗衣凝珠|洗甲水|卸甲水|干燥剂|防冻液|甲醇|工业酒精|水银|汞|电池|纽扣|"
           r"硬币|磁(铁|珠|力珠)|吸铁石|图钉|钉子|刀片|缝衣针|大头针|硫酸|盐酸|烧碱|火碱|管道疏通|通下水道|汽油|柴油|煤油|"
           r"樟脑丸|卫生球|风油精|花露水|打火机油|机油|松节油|香蕉水|天那水|稀释剂|驱虫|河豚|断肠草|钩吻|夹竹桃|曼陀罗|亚硝酸盐|假酒|氰化|砒霜)"
           rf"(?!{_NP}{{0,2}}(残留|味|泡|洗过|擦过|冲|没洗|没冲|消过毒)|的(菜|水果|蔬菜|碗|筷子|杯子|奶瓶))")
# A whole container taken at once, told with 把 ("把一板降压药都当成维生素吃了", "把一瓶安眠药吃了").
_WHOLE_BA = (rf"把{_NP}{{0,6}}(一整|整|大半|一大|一|半|两|几|好几){_NP}{{0,1}}(瓶|板|盒|袋|包|把|罐){_NP}{{0,8}}"
             rf"({_DRUG}|{_POISON}){_NP}{{0,10}}{_SWALLOW}{_DONE}")
_INGESTION = (rf"({_SWALLOW}{_DONE}{_NP}{{0,4}}({_PILLS}|{_CONTAINER}{_NP}{{0,4}}{_DRUG})|"  # 吃了一整瓶, 吞了一瓶安眠药
              rf"{_PILLS}{_NP}{{0,8}}({_SWALLOW}{_DONE}|{_ALL}{_SWALLOW}完)|"  # 一整瓶安眠药都吃了, 十几片全吞了
              rf"{_WHOLE_BA}|(一口气|一下子|一次性|一次就|同时){_NP}{{0,3}}{_SWALLOW}{_DONE}{_NP}{{0,2}}(一|两|几|好几)(盒|板|瓶)|"
              rf"{_DRUG}{_NP}{{0,3}}{_SWALLOW}{_DONE}{_NP}{{0,2}}({_PILLS}|{_CONTAINER})|"  # 安眠药吃了一整瓶
              rf"{_SWALLOW}{_DONE}?{_NP}{{0,6}}{_POISON}|{_POISON}{_NP}{{0,4}}{_SWALLOW}{_DONE}|"  # 喝了农药, 电池吞下去了
              rf"{_SWALLOW}{_DONE}{_NP}{{0,12}}的{_POISON}|"  # 喝了爸爸放在矿泉水瓶里的汽油
              rf"把{_NP}{{0,6}}{_POISON}{_NP}{{0,12}}{_SWALLOW}{_DONE})")  # 把洁厕灵当成醋倒菜里吃了几口
# A small child who took something unwatched, or an adult's medicine: any amount ("宝宝偷吃了两片降压药",
# "趁我不注意吞了药", "宝宝把爷爷的降糖药吃了几颗"); "给孩子吃了…" is a parent giving it, not this.
_UNWATCHED = rf"(偷吃|偷偷{_NP}{{0,2}}{_SWALLOW}|趁{_NP}{{0,6}}(不注意|没注意|不在|没看)|自己(拿|翻|找|把))"
_GROWN_UP = r"(爷爷|奶奶|姥姥|姥爷|外公|外婆|爸爸|妈妈|大人|老人|我|我们|家里|别人)的"
_NOT_VITAMIN = r"(?:(?!维生素|维C|钙|益生菌|鱼肝油|糖)[^，。,；;！？!?\n])"  # a child's vitamin is no adult medicine
_CHILD_INGESTION = (rf"(?<!给)({_KID}{_NP}{{0,8}}{_UNWATCHED}{_NP}{{0,10}}({_DRUG}|{_POISON})|"
                    rf"{_KID}[^。！？!?]{{0,30}}{_POISON}[^。！？!?]{{0,10}}(?<![没不未])(?<!差点){_SWALLOW}{_DONE}|"
                    rf"{_KID}{_NP}{{0,4}}把{_NP}{{0,2}}{_GROWN_UP}{_NOT_VITAMIN}{{0,6}}{_DRUG}{_NP}{{0,6}}{_SWALLOW}{_DONE}|"
                    rf"{_KID}{_NP}{{0,4}}{_SWALLOW}{_DONE}{_NP}{{0,4}}{_GROWN_UP}{_NOT_VITAMIN}{{0,6}}{_DRUG})")
# A seizure told by its signs: jerking, eyes rolled up, jaw clenched, foam at the mouth. "抽了血", "抽烟",
# "腿抽筋", "抽了一下" are no seizure; eyes rolled up alone ("睡觉眼睛往上翻") count only with stiffness or blueness.
_EYES_UP = r"((眼睛|眼球|两眼|双眼|眼珠)(子)?(一直|总是|老是)?(往|向)?上(翻|吊)|翻(起)?白眼|(两眼|眼睛)发直)"
_SEIZURE_SIGNS = (rf"(抽(起来|了起来|个不停|得(很|特别)?厉害)|(?<![腿脚])(在|还在|正在){_JERK}(?!了?一下)|"
                  rf"(舌头|嘴巴|嘴)[^，。,]{{0,2}}咬(破|出血|伤)|咬(破|伤)(了)?舌头|(?<![腿脚皮指胃肉筋])一抽一抽(?!的?(疼|痛))|"
                  rf"((手脚|四肢|胳膊腿)(一直|不停地?|在)?(抽|抖|抽动|抖动)|(全身|浑身|身体)(一直|不停地?|在)?(抽|抽动))(个不停|不停|起来)|"
                  rf"(手脚|四肢|胳膊腿|全身|浑身)(一直|不停地?|还在|一下一下地?)(抽|抽动|抽搐)|"
                  rf"(?<![烟血会能])抽(了|着)(?=[,，。!！?？]|$|{_MINUTES}|一阵|好久|很久|半天)|"
                  rf"(?<![烟血])抽{_NP}{{0,8}}(一次又一次|一次接一次|一阵接一阵|接二连三|停不下来|还没停|还不停)|"
                  rf"(一次又一次|一次接一次|接二连三|接连){_NP}{{0,4}}(抽|发作)|(抽|发作){_NP}{{0,8}}中间{_NP}{{0,4}}(没|不)(醒|清醒)|"
                  rf"(身体|全身|浑身)一挺一挺|(?<![腿脚])(突然){_JERK}(了|起来)?{_NP}{{0,4}}[,，]?{_NP}{{0,2}}(全身|浑身|身体|手脚|四肢)(发|都)?(僵|硬|挺)|嘴角(抽动|抽搐|一抽一抽)|(眼睛|眼球|两眼|双眼)(往|向)?一边(斜|偏|歪)|"
                  rf"{_EYES_UP}{_NP}{{0,2}}[,，]?{_NP}{{0,6}}(僵|硬|发紫|发青|不动|{_JERK})|牙关紧闭|牙关咬紧|咬紧牙关|(口|嘴)(里|角)?(吐|冒|流)白?沫)")
# Not responding, told in other words: "叫也不应", "喊他没反应", "怎么叫都不醒", "没知觉".
_UNRESPONSIVE = (r"((叫|喊|拍|摇)(他|她|它|孩子|宝宝|人|名字)?(也|都|半天|了半天)?((不太|不怎么)(应|答应|理|理人|搭理)|不应|不答应|不理|不醒|没醒|不说话|不吭声|不出声|没(有)?(反应|回应|动静))|"
                 r"怎么(叫|喊|拍|摇)都(叫|喊|拍|摇)?不(醒|应|理)|没(有)?(了)?知觉|失去(了)?知觉|人事不省|"
                 r"(叫|喊|拍)(他|她|孩子|宝宝|老人)?[^，。,]{0,3}只(会|是|能)?(哼|嗯|眼睛动|睁一下|动一下)|叫不太醒|(躺|趴|倒)(在)?[^，。,]{0,4}一动不动)")
# Confused: drowsy and not answering sense ("人迷迷糊糊的，叫他也说不清话"), or low blood sugar with sweating or
# confusion in someone on insulin or tablets for diabetes. "头迷迷糊糊的" alone is a foggy head, not this.
_CONFUSED = (r"(不认识(人|家里人|家人|我们?)了|认不出(人|家人|我们?)了|(说胡话|胡言乱语)[^。！？!?]{0,12}(不认|认不出)|"
             r"(迷迷糊糊|迷糊)(的)?[^。！？!?]{0,12}(叫|喊|问|说)[^，。,]{0,6}(不清|不应|不答|没反应|答不上|说不出|听不懂)|"
             r"(低血糖|血糖(很|特别)?低)[^。！？!?]{0,16}(迷糊|意识|叫不醒|昏|抽|说不清|胡话|冷汗|大汗)|"
             r"(胰岛素|降糖药|糖尿病)[^。！？!?]{0,24}(大汗|冷汗|一身汗)[^。！？!?]{0,16}(迷糊|意识|叫不醒|昏|抽|说不清|胡话))")
# A collapse: "倒在地上", "突然倒下", "一下子瘫在地上".
_COLLAPSE = r"(倒在地上|倒地不起|突然倒下|栽倒|(瘫|躺)在地上(不动|起不来)|摔倒在地(不起|起不来|不动))"

# Severe belly pain, however told ("上腹部突然刀割一样疼", "肚子疼得直不起腰", "小腹突然剧痛"), and the belly
# signs of a surgical emergency: rigid, obstructed (no wind and vomiting), "redcurrant jelly" stools, torsion.
_BELLY = r"(肚子|腹部|上腹|下腹|小腹|肚脐|腹|胃|肚皮)"
_SEVERE_PAIN = (r"(突然[^，。,]{0,2}(疼|痛)得(很|特别|非常)?厉害|剧烈(?!运动|活动|锻炼|咳)|剧痛|刀割|刀绞|刀捅|刀扎|绞痛|撕裂|难忍|受不了|(疼|痛)得(打滚|受不了|直不起腰|不敢动|满头|冒汗|出汗|"
                r"叫|哭|蜷|弯|要命|站不起|走不了)|(疼|痛)得(直|一直|在|直接)(哭|叫|打滚|冒汗)|打滚|直不起腰|不敢(动|碰))")
_BELLY_SEVERE = (rf"({_SEVERE_PAIN}{_NP}{{0,8}}{_BELLY}{_NP}{{0,3}}(痛|疼)|{_BELLY}{_NP}{{0,5}}(痛|疼){_NP}{{0,10}}{_SEVERE_PAIN}|"
                 rf"{_BELLY}{_NP}{{0,5}}{_SEVERE_PAIN})")
_ACUTE_BELLY = (rf"({_BELLY_SEVERE}|{_BELLY}{_NP}{{0,6}}(不让|不敢让|不给)(摸|碰|按)|松(手|开)[^，。,]{{0,3}}更(疼|痛)|反跳痛|{_BELLY}{_NP}{{0,4}}(硬得|硬邦邦|硬的?)(像|跟)?{_NP}{{0,2}}(木板|板|石头)|板状腹|"
                r"(没|不)(有)?(放屁|排气)[^。！？!?]{0,16}(吐|呕)|(吐|呕)[^。！？!?]{0,16}(没|不)(有)?(放屁|排气)|"
                r"果酱(样|一样|色)?的?(大便|便便|便|屎)|(大便|便便|拉)[^，。,]{0,6}果酱|"
                r"(睾丸|蛋蛋|阴囊)[^，。,]{0,6}(突然|剧|疼得|痛得|肿)|突然[^，。,]{0,6}(睾丸|蛋蛋|阴囊)[^，。,]{0,4}(疼|痛)|"
                r"(转移|跑|移|转)(到)?(了)?右下(腹|边|面|方)|右下(腹|边|面)[^。！？!?]{0,10}(越来越|剧|加重|发烧|发热))")

# A severe allergic reaction: something allergic (a named allergy, a sting, hives or a rash all over, a food
# people react to) and the airway or circulation giving way (throat tight, tongue or face swelling, a hoarse
# voice, wheezing, faintness). "过敏起了几个包，吃了药就消了" has no second part.
_ALLERGIC = (r"(过敏(?!性(鼻炎|皮炎|结膜炎|紫癜|哮喘|咳嗽))|(蜂|马蜂|蜜蜂|黄蜂|胡蜂)[^，。,]{0,2}(蛰|蜇|叮)|(蛰|蜇)(了|到|伤)|"
             r"(打|接种)(完|了)[^，。,]{0,3}(疫苗|针)[^。！？!?]{0,20}(疙瘩|疹|风团|肿)|风团|荨麻疹|(全身|浑身|身上|满身|脸上)[^，。,]{0,4}(起|长|冒|出)(了)?[^，。,]{0,6}(疹|疙瘩|包|风团|红斑|红点)|"
             r"(全身|浑身)(发)?(红|痒)|(吃|喝|碰|咬)(了|到)[^，。,]{0,8}(花生|坚果|核桃|腰果|开心果|虾|蟹|海鲜|芒果|菠萝|"
             r"鸡蛋|牛奶|贝|蚕蛹|荞麦))")
_AIRWAY_SHOCK = (r"((喉咙|嗓子|嗓子眼|喉头|咽喉)[^，。,]{0,3}(发紧|紧|肿|堵|被掐|掐住|封住)|像被掐住|喉头水肿|"
                 r"(舌头|嘴唇|嘴巴|整张脸|满脸|整个脸)[^，。,]{0,3}肿(得|起来|了)(?!点|一点)|舌头[^，。,]{0,3}(胀|发胀|变大|变厚)|"
                 r"咽(口水|东西)[^，。,]{0,3}(都)?(难|困难|咽不下)|声音(嘶哑|变了|哑了|发不出)|声音[^，。,]{0,3}变了|"
                 r"呼吸(有点|很|特别|越来越)?(困难|费劲|费力|急促|急|不了|不上)|喘(不上|不过|得厉害|起来)|有点喘|憋得|憋气|胸口憋|胸闷|吞(口水|咽)[^，。,]{0,3}(难|困难|不下)|"
                 r"头晕|发晕|晕倒|要倒|站不住|站不稳|心慌|血压(低|下降|掉)|脸色(苍白|发白)|出冷汗|意识模糊)")

# Not right after a denial ("没吐", "没有昏迷"): the denial words of `retriever.words`, one character or "没有".
_NOT_DENIED = rf"(?<![{DENIAL_CHARS}])(?<!没有)"

# Injuries told by what happened: a head hit with vomiting or drowsiness after it; a burn of the face or a large
# area, or a deep one (white, black, skin come off); hot water or oil poured over someone.
_HEAD_HIT = (r"((头|脑袋|后脑勺?|头部|额头)[^，。,]{0,6}(撞|摔|磕|碰|着地|砸)|(撞|摔|磕|碰|砸)(到|在|伤)?(了)?[^，。,]{0,3}"
             r"(头|脑袋|后脑勺?|头部))")
_HEAD_RED = (_NOT_DENIED + r"(?<!没再)(吐|呕|昏|晕(倒|过去|了过去)|意识|犯困|想睡|嗜睡|睡不醒|迷糊|叫不醒|" + _JERK +
             r"|说胡话|不认人|认不出|糊涂|记不(起|得|住)|想不起|不记得|(一直|反复|重复|老是)(问|说)(同|一样|一个|刚才))")
_BURN = (r"((烧伤|烫伤|烧着|烫着|烫到|烧到|烫了|着火|火烧|炸伤|(开水|热水|热油|热汤|油)[^，。,]{0,8}(浇|泼|洒|溅|倒))"
         r"[^。！？!?]{0,14}(脸|面部|头|脖子|颈|眼|喉咙|全身|浑身|一大片|大片|大面积|整(条|个|只|片)|胸|肚子|背|下身|会阴|"
         r"皮(都)?(掉|脱|烂)|发白|发黑|焦))")

# English patterns are matched against the lower-cased question.
_EN_CHEST = (r"(chest (pain|pains|hurts?|tightness|pressure)|chest feels (like|tight|heavy)|"
             r"(elephant|weight|something heavy) (is )?(sitting|pressing|on) (on )?(my|his|her) chest|pain in (my|his|her|the) chest|"
             r"(pressure|tightness|pain|heaviness|squeezing|crushing) in (my|his|her|the) chest|"
             r"(my|his|her) chest (is |feels )?(really |very |so |super )?(tight|painful|heavy|sore) and (tight|painful|heavy|sore)|"
             r"(my|his|her) chest (hurts|is tight|(has been|is|keeps|started|kept|was) (hurting|aching|killing))|crushing (pain|chest))")
# English events: an ingestion of an amount ("swallowed a whole bottle of sleeping pills", "took 30 tablets",
# "took all of my pills"), a thing swallowed, a seizure by its signs, not responding.
_EN_AMOUNT = (r"(a whole|the whole|an entire|the entire|a full|half a|all (of )?(my|his|her|their|the|mom'?s|dad'?s)|"
              r"a handful( of)?|handfuls( of)?|a bunch of|a lot of|lots of|loads of|(a |half a )?dozens?( of)?|too many|[5-9]|[1-9]\d+|"
              r"five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty|a hundred)")
_EN_DRUG = (r"(pills?|tablets?|capsules?|meds|medicines?|medications?|sleeping|paracetamol|tylenol|acetaminophen|"
            r"ibuprofen|advil|aspirin|xanax|ambien|valium|melatonin|antidepressants?|insulin)")
_EN_INGESTION = (rf"\b(swallowed|took|taken|ate|eaten|downed|popped|overdosed on) (like |about |around |maybe |almost |nearly |"
                 rf"over |more than |at least |way |far |much |probably |i think )?{_EN_AMOUNT}\b[^.!?;]{{0,30}}\b{_EN_DRUG}|"
                 r"\b(swallowed|downed) (a whole|the whole|an entire) bottle|"
                 r"\bgot into (my|his|her|the|grandma'?s|grandpa'?s|mom'?s|dad'?s) (pills|medicine|meds|medication)|"
                 r"\b(swallowed|ate|chewed) some of (my|his|her|the|grandma'?s|grandpa'?s|mom'?s|dad'?s) [^.!?;]{0,25}"
                 r"(pills|tablets|medicine|meds)|"
                 r"\b(swallowed|ate) (a |an |the |some |two |2 )?(button )?(coin|magnet|battery|batteries|laundry pod|pin|nail)")
_EN_SEIZURE = (r"(eyes (have |had )?(rolled|rolling|roll|went|are rolling|turned) (back|up)|foam(ing)? at the mouth|"
               r"(shaking|jerking|twitching|convulsing) (all over|uncontrollably|and (won'?t|doesn'?t|isn'?t|is not|not|can'?t))|"
               r"(arms|legs|body) (are |is )?(jerking|stiff and))")
_EN_UNRESPONSIVE = (r"((won'?t|doesn'?t|does not|will not|isn'?t|is not|not) (respond|answer|wake)|no response|"
                    r"keeled over|out cold|blacked out|hard to wake|barely (awake|conscious|responsive)|can'?t stay awake|"
                    r"(doesn'?t|does not|didn'?t|can'?t) (recogni[sz]e|know) (us|me|anyone|who (we|i) am)|"
                    r"can'?t get (him|her|them) to (respond|wake|answer))")
_EN_CHEST_COMPANION = (r"(sweat|clammy|left arm|(arm|jaw|back) (hurts|pain)|jaw|crushing|pressure|pass(ing)? out|light-?headed|dizzy|"
                       r"(down|into|to) (his|her|my|the) (left )?(arm|jaw|back|neck)|"
                       r"short(ness)? of breath|can'?t breathe|breathless|nause|vomit|faint|pale|severe|\d+ ?min|"
                       r"half an hour|an hour|won'?t go away|not going away|getting worse)")

RED_FLAGS: tuple[RedFlag, ...] = (
    RedFlag("self_harm", "有伤害自己的想法", (
        r"(想死|不想活|自杀(?!身亡|死亡|去世|离世|的新闻|率)|轻生|寻死|结束(自己的?)?生命|了结自己|割腕|跳楼|跳河|上吊|一了百了|"
        r"活着没(意思|意义)|活不下去|伤害自己|自残|自伤|(想|要|我|你|就|都)去死|不想再活|死了算了|离开这个世界|"
        rf"(安眠药|药){_NP}{{0,8}}(全吃|全部吃|攒)|安眠药{_NP}{{0,8}}一次吃|想{_NP}{{0,6}}跳下去|结束(这)?一切|吃多少{_NP}{{0,10}}(会死|能死|致死|致命|死人)|怎么死|"
        rf"(死|自杀){_NP}{{0,4}}(方法|不痛)|遗书|遗言|绝笔|交代(好)?后事|永别了|(跟|和|向)(这个世界|世界|大家|所有人|家里人|家人){_NP}{{0,3}}(再见|告别|道别)|(发|说|留)[^，。,]{{0,8}}(对不起大家|永别|下辈子)|"
        r"一时想不开|想不开(就|去|才)?(吃|喝|跳|割|吞)|"
        rf"烧(了)?{_NP}{{0,2}}炭[^。！？!?]{{0,20}}(封|胶带|堵)|(封|堵)(了|住|死)?[^。！？!?]{{0,10}}(门|窗)[^。！？!?]{{0,20}}炭|"
        r"我[^，。,]{0,4}(在|站在|坐在|爬到|上了)(楼顶|天台|顶楼|桥上|楼顶边|窗台|江边|河边)[^。！？!?]{0,30}(累|没意思|撑不|绝望|再见|对不起|不知道为什么)|"
        r"(谢谢(我|你)?这些年|(让|请|拜托)(我|你)[^，。,]{0,4}(帮|替)?(她|他)?(养|照顾)(她的|他的)?(猫|狗|孩子|宠物|爸妈|父母)|交[代待](了)?后事)"
        r"[^。！？!?]{0,50}(关机|不回|联系不上|失联|找不到|(存|攒|囤)(了|下)?[^，。,]{0,4}药)|"
        r"不(太|怎么|是很)想活|活着(太|真|好)?累|(绳子|药|刀片?|炭)[^，。,]{0,4}(已经|都)?(准备好|买好|备好|攒够)|一睡不醒|"
        r"睡(下去)?(就)?不(用|要)?再醒|割(了|破|开)(自己的?)?(手腕|腕)|"
        r"(站在|在|爬上|上了)(天台|楼顶|顶楼|桥上|窗台)[^。！？!?]{0,20}(跳下去|跳下来|往下跳)|"
        r"(你们|大家)以后(就)?(清净|轻松|不用(再)?(管|操心))|(再也)?不(会)?(再)?(拖累|连累|麻烦)你们|把自己(结束|了结|解决)|活腻了|不想(再)?醒来|想(永远)?消失|没有活下去的(意义|理由|勇气|动力)|结束(掉)?自己|撑不(下去|住)了|不想(再)?(撑|熬|坚持)(下去)?了)",
    ), kind="crisis", chronic_ok=True, label_en="thoughts of self-harm", english=(
        r"(kill(ing)? myself|(want|wish)(ed)? (someone|somebody|you|they|god|it) (would |to |could )?kill me|suicid|end (my life|it all)|want to die|wanna die|don'?t want to (live|be alive)|"
        r"(hurt|harm|cut)(ting|ing)? myself|(cut|slit|slashed) (my|his|her) wrists?|self[- ]harm|better off dead|"
        r"no reason to live|take all (my|the) pills|nothing to live for|don'?t want to wake up|"
        r"(overdose|overdosed|od'?d?) on purpose|(going|want|plan(ning)?) to (overdose|take (all|a whole|the whole))|"
        r"don'?t want to be here anymore|(have|got) the pills (ready|in front of me|here|with me)|"
        r"(wrote|writing|left) (a |my )?(suicide |goodbye )?note|saying goodbye (to everyone|forever)|end it (tonight|now)|(going to|gonna|want to|wanna|i'?ll|i will|about to|ready to) end it\b(?! with)|"
        r"jump (off|from) (the|a) (bridge|roof|building)|can'?t do this anymore|(letters?|notes?) (to|for) (my|the) (kids|children|family|wife|husband)|pills (are )?(lined up|counted out|ready))",
    )),
    RedFlag("chest_pain", "胸痛伴出汗等，可能是急性心肌梗死等心脏急症", (_CHEST, _CHEST_COMPANION),
            "立即停止活动，坐下或半躺休息，不要自己开车去医院。", label_en="chest pain that may be a heart attack",
            english=(_EN_CHEST, _EN_CHEST_COMPANION)),
    RedFlag("heart_attack", "疑似急性心肌梗死", (
        rf"({_SUSPECT}{_NP}{{0,3}}{_MI_NAME}|{_MI_NAME}(了|犯了|发作)|心脏病(犯|发作)|心绞痛.{{0,4}}(发作|不缓解))",
    ), "立即停止活动，坐下或半躺休息，不要自己开车去医院。", label_en="a possible heart attack",
            english=(r"(having a heart attack|had a heart attack just now|(is|am|be) a heart attack|"
                     r"heart attack right now)",)),
    RedFlag("stroke", "疑似脑卒中（中风）", (
        r"(突然.{0,4}(一只|一边)(手|脚|胳膊|腿).{0,6}(没(有)?力|无力|麻|不能动|动不了)|"
        r"(口角|嘴(巴)?(角)?|口眼|脸(突然)?)[^，。,]{0,4}(歪|斜)|((一侧|半边|半身|单侧|左侧|右侧|左边|右边)(的)?"
        r"(肢体|手脚|胳膊腿|手|脚|腿|胳膊|身体|脸|身子)?|一边(的)?(肢体|手脚|胳膊腿|手|脚|腿|胳膊|身体|脸|身子)).{0,4}" + _WEAK + r"|半身不遂|偏瘫|"
        r"说话.{0,4}(不清|含糊|不利索|大舌头)|说不清(楚)?话|口齿不清|言语不清|说不出话|突然[^，。,]{0,6}(看不清|看不见|失明|眼前发黑|听不见)|(一只眼|单眼|左眼|右眼)[^，。,]{0,4}突然[^，。,]{0,10}(看不见|看不清|失明|黑了)|(拉了|拉上|挡了)[^，。,]{0,2}(帘子|窗帘|幕布)|说话[^，。,]{0,4}大舌头|"
        r"(左|右)(手|脚|腿|胳膊|臂)(突然)?[^，。,]{0,2}(抬不起|没劲|没力|无力|不能动|动不了|拿不住|不听使唤|使不上劲)|听不懂(我们|别人|人)?(说话|的话|讲话)|答非所问|"
        r"(筷子|碗|杯子|东西)[^，。,]{0,3}(掉|拿不住|握不住)|"
        rf"突然.{{0,6}}(走路不稳|站不稳|天旋地转)|{_SUSPECT}{_NP}{{0,4}}{_STROKE_NAME}|{_STROKE_NAME}了|"
        rf"(突然|刚才|刚刚){_NP}{{0,4}}{_STROKE_NAME})",
    ), "记下发病时间，让病人平躺、头偏向一侧，不要喂水喂药。", label_en="a possible stroke",
            sequela_of=rf"({_STROKE_NAME}|脑梗塞|脑血栓|偏瘫)", english=(
        r"(face (is )?(drooping|droopy|twisted)|droop|"
        r"one side (of (his|her|my|the) (body|face) )?(is |feels )?(weak|numb|paraly)|"
        r"(weak|numb)(ness)? (on|in|of|down) (one|the (left|right)|(his|her|my) (left|right)) side|"
        r"(left|right) side (is |feels )?(weak|numb|paraly)|"
        r"slurr|can'?t (lift|raise|move) (his|her|my) (left |right )?(arm|leg|hand)|(words|speech) (is |are )?"
        r"(jumbled|garbled|mixed up|not making sense)|suddenly can'?t see|can'?t (speak|talk)|cannot (speak|talk)|unable to (speak|talk)|trouble (speaking|talking)|"
        r"(having|had) a stroke|is it a stroke|(is|am) a stroke)",
    )),
    RedFlag("breathing", "呼吸困难", (
        rf"(呼吸(很|好|特别|非常|太|越来越)?困(难|南)|{_CHOKING}|{_STRIDOR}|越来越喘|喘得越来越(厉害|重|快)|粉红色?的?泡沫(样)?痰|憋醒|大口(大口)?(地)?喘气|喘得(很|特别|非常)?(厉害|不行|说不出话|上气不接下气)|"
        r"(呼吸|气)(都)?(不上来|上不来)|(肋骨|锁骨|胸口)(下面|中间)?.{0,3}凹(进去|下去)|(肋骨|锁骨|肋间)[^。！？!?]{0,10}(往里|向里|往下)凹|三凹|鼻翼(扇动|一扇一扇)|"
        r"(塞|放|吞)(进|到)(了)?(嘴|鼻|喉)[^。！？!?]{0,14}(呼吸|喘|憋)|憋得(躺不|睡不)|(一句话|话)都说不(完|全|出)|喘不(上|过)气|(喘|呼吸|透)不(过|上)来|透不过气|上不来气|喘不动|憋得(喘|透|脸|嘴|说不|上不)|(快|要)?憋死了|窒息(?!感)|"
        r"(嘴唇|口唇|嘴皮子?|脸|嘴|指甲|手指头|手指|指头)(都|也|有点|已经)?(发)?(紫|青紫|乌紫|发乌|乌青|发青|发绀|颜色(也)?不(太)?对)|(说|讲)(一句|句|两句)话[^，。,]{0,4}(要|就|得)?(歇|喘|停)|躺(都)?躺不下|(喘气|呼吸|出气)(都|也)?(很|特别|有点)?费(劲|力)|呼吸(很)?(急促|费力|停止|不了)|不能呼吸|无法呼吸|喉咙(肿|堵)[^，。,]{0,4}(喘|呼吸|出不来气|上不来气|憋)|"
        r"吸不进气|(只能|必须)坐着(才能)?(睡|呼吸|喘)|躺下(就)?(喘|憋|上不来气)|"
        r"(呼吸|喘气|嗓子|喉咙)[^，。,]{0,3}(哨音|吹哨|拉风箱|呼噜呼噜|咝咝|嘶嘶)|(喘气|呼吸|出气|吸气)[^，。,]{0,6}(哨子|哨声|口哨)|"
        r"喘得(很|特别|非常)?(急|快)|说话[^，。,]{0,6}(停下来|停下|歇)[^，。,]{0,3}(换气|喘气|喘口气)|"
        r"(口水|唾沫|唾液)[^，。,]{0,3}(都)?(咽不下|吞不下|咽不了|吞不了)|"
        rf"噎住|卡住{_NP}{{0,6}}(喉咙|气管|嗓子)|(异物|糖|果冻|硬币|花生|瓜子|豆|葡萄|汤圆|年糕|药片|玩具|纽扣|珠子|东西卡住喉咙){_NP}{{0,6}}卡|"
        r"哮喘.{0,8}(发作|不缓解|没用|喘不))",
    ), "让病人坐起、解开紧身衣物；有异物卡喉可用海姆立克法（孕妇、肥胖者改为按压胸骨下半段的胸部冲击，"
       "一岁以下婴儿用拍背加压胸）。", label_en="trouble breathing", english=(
        r"(can'?t catch (my|his|her|their) breath|can'?t get (any )?(air|breath)|struggling for (air|breath)|gasping for air|"
        r"breathing (really |very )?(fast|hard)|can'?t breathe|cannot breathe|unable to breathe|not breathing|stop(s|ping|ped)? breathing|"
        r"(grey|gray|blue|purple|dusky) (around|round) (the |his |her |my )?(mouth|lips)|struggling to breathe|"
        r"(difficulty|trouble|hard time) breathing|hard to breathe|short(ness)? of breath|gasping|choking|"
        r"(lips|face|skin) (are |is )?(turning )?(blue|purple|grey|gray)|turning blue|wheez\w* (badly|bad|a lot|hard)|"
        r"(inhaler|puffer|nebuli[sz]er)[^.!?]{0,20}(isn'?t|is not|not|doesn'?t|does not|didn'?t) (helping|working|help|work)|"
        r"can barely (talk|speak|breathe)|grunting (with|when|each|every)|"
        r"(belly|tummy|stomach|chest|ribs|neck) (is |are )?(sucking|pulling|caving|sinking) in|"
        r"can'?t (finish|get out) (a |his |her |my )?(sentence|words)|(stopping|stop|pausing|pause) to (breathe|catch)|ribs (suck|sucking|pull|pulling) in|(sucking|pulling) in (under|between) (the|her|his) ribs|"
        r"(isn'?t|is not|not) breathing (properly|normally|right|well))",
    )),
    RedFlag("bleeding", "大出血", (
        r"((一|每|半)(个)?小时.{0,4}(换|湿透)|湿透.{0,4}(卫生巾|护垫|裤子)|哗哗.{0,3}(出|流)血|"
        r"(一直|不停|还)(在)?(流|出|冒)血|(出|流)血.{0,3}(特别|非常|太)多|大出血|出血不止|血流不止|止不住血|血止不住|流血不止|血(一直|还在|不停).{0,3}(流|出|冒)|"
        r"大量(的)?(出血|流血|呕血|吐血|便血|咯血|鲜血)|吐血|呕血|咯血|咳血(?!丝)|喷血|"
        r"(吐|呕|咳|咯)(出)?(了)?[^，。,]{0,6}(鲜|暗红|红|黑|紫)[^，。,]{0,2}(的)?血(?![压糖脂管丝点])|"
        r"(便血|拉血|尿血|吐血|出血|流血)[^。！？!?]{0,20}((一)?站起来(就)?(头晕|晕|眼前发黑)|一站(起来)?就(晕|头晕)|一大滩)|"
        r"(按|压|捂)(了|着)?[^。！？!?]{0,12}(换了|湿透|浸透)[^。！？!?]{0,8}(还在|还是|仍)(往外)?(渗|流|冒|出)|"
        r"(全是|全都是|满是|都是)(的)?(鲜|暗红色?|红)?血(?![丝点压糖])|(马桶|水池|便池|盆|床单|地上)[^，。,]{0,3}(都|全)?(红了|染红|是血)|"
        r"(咳血|吐血|咯血|呕血|便血|鲜血|血块)[^。！？!?]{0,12}(小半|大半|半|一|好几|几)(碗|盆|杯|脸盆|口杯)|一口一口(的)?(鲜)?血|血.{0,2}喷|"
        r"(便血|拉血|尿血|黑便).{0,8}(很多|大量|一直|头晕|晕|心慌)|(阴道|下身|下面).{0,6}(大量|很多|不停).{0,3}(出血|流血)|"
        rf"(流血|出血|(?<![高低贫])血(?![压糖脂管型液常栓清]))({_NP}{{0,8}}|[，,]{_NP}{{0,3}})"
        r"(很多(?!药|种|次|天|年|方法)|好多(?!药|种|次|天|年|方法)|一大摊|湿透|止不住|不止)|"
        r"(流|出|吐|咳|咯|呕|拉|便|喷|尿)(出|了|出来|出了){0,2}(很多|好多|一大摊|一摊|一地|大量|一大口|一口一口|满口|大口|"
        r"半盆|一盆|一碗|半碗|一杯|一大堆)(的)?(鲜|暗红色?|黑|红)?(的)?血|"
        r"(流血|出血|血)[^，。,]{0,3}越来越多|(出血|流血|鼻血)(流)?(了)?[^，。,]{0,2}(半个|一个|[0-9一二两三四五六七八九十几]+个?)(多)?(小时|钟头)|"
        r"(一晚上|一夜|一个小时|半天|一会儿?)[^，。,]{0,3}(湿|换)(了|透)?[^，。,]{0,2}(两|三|四|五|六|好几|几)(条|片|个|次|张)|"
        r"(流血|出血|下血)[^。！？!?]{0,20}(脸(色)?(煞|发|苍)?白|手脚(冰凉|发凉|冰冷)|冷汗|站不住|站不稳|眼前发黑|心慌)|"
        r"血崩|湿透(了)?[^，。,]{0,3}(两|三|四|几|好几)?(条|块|张|片)?(毛巾|纱布|衣服|卫生巾)|(捂|按|压)着[^，。,]{0,4}血(还是|还|仍)(一直)?(往下|往外)?(流|淌|冒)|(满地|一地|一身|满身|满脸|满手|满嘴)(都是)?(的)?血|动脉(出血|破)|血[^，。,]{0,8}(湿透|染红|浸透)|"
        r"(衣服|裤子|床单|被子|纱布|毛巾|卫生巾|尿不湿)[^，。,]{0,4}(染红|浸透)|"
        r"(流血|出血|鼻血|血)[^。！？!?]{0,16}(止不住|按不住|(按|压|捂)[^，。,]{0,6}(也|都|还)(止不住|在流|在出|没用|不管用)|"
        r"还在(流|出|冒|淌))|"
        r"(黑便|柏油(样|一样|似)|(大便|便便|拉的|屎)[^，。,]{0,4}(发黑|黑色|是黑的|像柏油)|拉(了)?[^，。,]{0,4}黑色?的?(大便|便|屎)|"
        r"黑色的?(大便|便便|稀便))[^。！？!?]{0,16}(头晕|晕|心慌|冷汗|站不住|站不稳|眼前发黑|脸色(苍白|发白)|脸白))",
    ), "用干净的布用力持续按压出血处，不要松开查看。", label_en="heavy bleeding", english=(
        r"(bleeding (heavily|a lot|badly|everywhere|won'?t stop|that won'?t stop|non-?stop)|won'?t stop bleeding|"
        r"can'?t stop (the |his |her |my )?bleeding|heavy bleeding|(vomiting|throwing up|coughing up|spitting up|puking)( up)? ([a-z-]+ ){0,3}blood\b(?! streak| spot| tinge)|"
        r"lots of blood|lost a lot of blood|losing (a lot of|lots of|so much) blood|"
        r"(bleed|bleeding|blood)[^.!?]{0,40}(won'?t|doesn'?t|does not|will not) stop|"
        r"bleeding[^.!?]{0,30}for (over |more than |about )?(an|half an|one|two|\d+) hours?|(bleeding|bled) through|soaked (through|a pad|pads)|spurting|coffee[- ]grounds?|(black|tarry|tar-like) (stool|poop)[^.!?]{0,40}(dizz|faint|pale|weak)|"
        r"blood (is )?(everywhere|gushing|pouring)|soaking (through|every)|soaked (every|two|three|several) towels?)",
    )),
    # Shock, whatever caused it: a pale or waxen face with cold sweat, fainting or confusion ("脸色蜡黄，一直出冷汗").
    RedFlag("shock", "面色苍白、出冷汗、晕厥等休克表现", (
        r"((脸色|面色|脸)[^，。,]{0,3}(苍白|发白|煞白|惨白|蜡黄|很白|灰白|白得吓人)[^。！？!?]{0,16}(冷汗|虚汗|晕|昏|迷糊|手脚(冰凉|发凉)|站不住)|"
        r"(冷汗|虚汗|晕了一下|晕倒|晕过去)[^。！？!?]{0,16}(脸色|面色)[^，。,]{0,3}(苍白|发白|煞白|惨白|蜡黄|很白|灰白))",
    ), "让病人平躺、抬高双腿、保暖，不要喂水喂食。", label_en="signs of shock", english=(
        r"(pale|grey|gray|ashen|white as a sheet)[^.!?]{0,30}(cold sweat|clammy|sweaty|faint|passed out|confused)",)),
    # A very high blood pressure with what it does to the brain or eyes now.
    RedFlag("hypertensive_crisis", "血压极高并伴头痛、视物模糊等，可能是高血压急症", (
        r"((?<![0-9])(2[0-9]{2}|1[89][0-9])\s*[/／]\s*(1[2-9][0-9])(?![0-9])|(高压|收缩压)[^，。,]{0,3}(2[0-9]{2})(?![0-9]))",
        r"(头(疼|痛)|看(东西)?[^，。,]{0,2}(模糊|不清|重影)|视物模糊|胸(痛|闷)|说话不清|(手|脚|半边)[^，。,]{0,2}麻|恶心|呕吐|吐了)",
    ), "安静坐下休息，不要自行加量服用降压药。", label_en="a very high blood pressure with symptoms", english=(
        r"(2[0-9]{2}|1[89][0-9]) ?/ ?(1[2-9][0-9])", r"(headache|blurr|chest pain|vision|confus|vomit)")),
    # Black, tarry stool is bleeding in the upper gut until shown otherwise (not after iron, bismuth or blood food).
    RedFlag("melena", "黑便（柏油样大便，可能是上消化道出血）", (
        r"(黑便|柏油(样|色|一样|似)|(大便|便便|拉的|屎)[^，。,]{0,4}(发黑|黑色|是黑的|黑黑的|像柏油)|拉(了)?[^，。,]{0,4}黑色?的?(大便|便|屎)|"
        r"黑色的?(大便|便便|稀便))",
    ), "尽快去医院急诊；不要进食进水，如头晕心慌先平躺。", label_en="black, tarry stool", english=(
        r"(black|tarry|tar-like) (stool|poop|bowel)",)),
    # In cirrhosis a bleed from the gut is an emergency however small it is said to be ("肝硬化…又出血了，这次不严重").
    RedFlag("cirrhosis_bleed", "肝硬化消化道出血", (
        r"(肝硬化|肝硬变)",
        r"(呕血|吐血|便血|拉血|黑便|柏油(样|色)|大便(发黑|是黑的|黑色)|(又|再次|再)(出血|吐血|呕血|便血)|出血了|胃出血|食道静脉曲张破裂)",
    ), "立即去医院急诊；不要进食进水，呕血时侧躺防止呛咳。", label_en="bleeding in cirrhosis", chronic_ok=True, english=(
        r"cirrhosis", r"(vomit(ing|ed)? blood|black (stool|poop)|tarry|bleed(ing)? again|blood in (my |his |her )?(stool|poop))")),
    RedFlag("poisoning", "中毒或误服", (
        rf"(误服|误食|误吞|误喝|误吃|{_INGESTION}|{_CHILD_INGESTION}|吞(下|了){_NP}{{0,6}}(消毒|毒)|"
        r"喝(了|下).{0,8}(农药|百草枯|敌敌畏|消毒|洗洁精|漂白|84|洁厕|酒精|甲醇|老鼠药|杀虫)|"
        r"(采|摘|捡|山上|野生|野)[^，。,]{0,6}(蘑菇|菌子|菌)[^。！？!?]{0,20}(吐|拉肚子|腹泻|晕|胡话|幻觉|小人|抽)|"
        r"(煤气|燃气|天然气|一氧化碳|烧炭|烧了炭|炭盆|炭火|火盆|木炭|蜂窝煤|煤炉|煤球|热水器)[^？?]{0,30}"
        r"(头晕|头疼|头痛|恶心|想吐|吐了|晕|昏|叫不醒|站不起|迷糊|没力气)|"
        r"(头晕|头疼|头痛|恶心|想吐|吐了|昏|叫不醒|站不起|迷糊)[^？?]{0,16}(烧炭|炭盆|炭火|火盆|煤炉|蜂窝煤|一氧化碳)|"
        r"(打|喷|撒|配)(了|完)?[^，。,]{0,2}农药[^。！？!?]{0,16}(头晕|恶心|吐|出汗|抽|流口水|呼吸|喘|晕)|"
        r"(打|喷|撒)(了|完)?(农)?药[^？?]{0,40}(大汗|口水|流涎|瞳孔|(黑)?眼珠[^，。,]{0,4}(缩|小)|(大)?蒜味|迷糊|抽|喘)|"
        r"(大)?蒜(的)?味[^。！？!?]{0,20}(口水|流涎|大汗|出汗|瞳孔|眼珠|迷糊)|(口水|流涎|大汗)[^。！？!?]{0,20}(大)?蒜(的)?味|"
        r"(瞳孔|黑眼珠|眼珠子?)[^，。,]{0,6}(缩得?(很|特别|非常)?小|针尖)|"
        r"(一家人|全家|一家[三四五六几]口|几个人|我们几个|同事们?)[^。！？!?]{0,20}(吃|喝)[^。！？!?]{0,20}(都|全)[^。！？!?]{0,6}"
        r"(吐|上吐下泻|晕|昏|胡话|抽)|"
        r"(纽扣|扣子|扣式|圆饼|圆圆的?)[^，。,]{0,4}电池[^。！？!?]{0,30}(吞|吃|咽)|(吞|吃|咽)[^，。,]{0,6}(纽扣|扣子|扣式)?电池|(磁铁|磁珠|巴克球)[^。！？!?]{0,20}(吞|吃|咽)|(吞|吃|咽)[^，。,]{0,6}(磁铁|磁珠|巴克球)|(吃|服)(错|多)了药|(吃|服)(错|多)药了|过量服用|服药过量|吃药过量|(被|让).{0,3}(毒)?蛇咬|毒蘑菇|野蘑菇|"
        rf"(煤气|一氧化碳|食物|农药|药物|酒精)?中毒了|{_SUSPECT}{_NP}{{0,4}}(煤气|一氧化碳|食物|农药|药物|酒精)?中毒|"
        r"中毒.{0,4}(怎么办|急救)|(煤气|燃气|天然气).{0,4}(泄漏|漏了).{0,10}(晕|恶心|头疼|头痛|昏))",
    ), "保留药瓶或毒物包装带去医院；不要自行催吐或喂东西，除非医生指导。", label_en="poisoning or an overdose",
            english=(r"(overdos|"
                     r"swallowed (a |the |some |his |her |my )?(bleach|poison|pills|tablets|batter|detergent|medicine)|"
                     r"took (too many|a whole|the whole|all (the|my|his|her|of)) |" + _EN_INGESTION + "|"
                     r"(drank|ate|swallowed|licked) (some |a bit of |a little |a cup of |a mouthful of |a sip of |a lot of )?"
                     r"(bleach|pesticide|weed ?killer|detergent|poison|rat poison|antifreeze|nail polish remover|drain cleaner)|poisoned|"
                     r"carbon monoxide|(swallowed|ate) (a |some |two |the )?(button |coin )?(batter(y|ies)|magnets))",)),
    RedFlag("infant_fever", "婴幼儿高热", (_FEVER, _HIGH), "尽快带孩子去医院急诊；不要捂汗。", who=_INFANT,
            label_en="high fever in a baby", english=(
                r"(newborn|infant|\b\d+[- ]?(week|month)s?[- ]?old|\bbaby)", r"(fever|temperature)",
                r"(3[89](\.\d)?|4[0-2](\.\d)?|10[2-7]|high|not feeding|won'?t feed|lethargic|floppy|limp)")),
    RedFlag("young_infant_fever", "三个月内婴儿发热", (_FEVER,), "尽快带孩子去医院急诊；不要捂汗。", who=_YOUNG_INFANT,
            label_en="fever in a baby under three months", english=(
                r"(newborn|\b([1-9]|1[0-2])[- ]?weeks?[- ]?old|\b[1-3][- ]?months?[- ]?old)", r"(fever|temperature)")),
    RedFlag("infant_unwell", "婴儿囟门鼓起或不吃奶、精神差", (_BABY_DANGER,), "尽快带孩子去医院急诊。", who=_INFANT,
            label_en="a baby who is not feeding or is listless", english=(
                r"(newborn|infant|\b\d+[- ]?(week|month)s?[- ]?old|\bbaby)",
                r"(bulging (soft spot|fontanelle)|(won'?t|not|isn'?t) (feed|feeding|eating)[^.!?]{0,40}(lethargic|floppy|limp|sleepy)|"
                r"(lethargic|floppy|limp)[^.!?]{0,40}(won'?t|not|isn'?t) (feed|feeding|eating))")),
    RedFlag("newborn_unwell", "新生儿或三个月内婴儿黄疸加重、眼睑肿到睁不开、不吃奶或反复呕吐", (_NEWBORN_DANGER,),
            "尽快带孩子去医院急诊（小婴儿病情变化快）。", who=_YOUNG_INFANT,
            label_en="a newborn who is yellower, not feeding, vomiting or swollen shut", english=(
                r"(newborn|\b([1-9]|1[0-2])[- ]?(day|week)s?[- ]?old)",
                r"(jaundice[^.!?]{0,20}(worse|spreading)|(more|getting) yellow|eyes? swollen shut|(won'?t|not|isn'?t) "
                r"(feed|feeding)|vomiting (everything|again|repeatedly))")),
    RedFlag("meningitis", "发热伴颈部僵硬或皮疹按压不褪色，可能是脑膜炎等急症", (_FEVER, _MENINGEAL), "",
            label_en="fever with a stiff neck or a rash that does not fade", english=(
                r"(fever|temperature)", r"(stiff neck|neck (is |feels )?stiff|can'?t bend (his|her|my) neck|"
                r"rash (that )?(doesn'?t|does not|won'?t) fade|purple (spots|rash)|bulging (soft spot|fontanelle))")),
    RedFlag("very_high_fever", "高热", (r"(4[0-2](\.[0-9])?|四十(一|二)?)\s*(度|℃|°)",), "", label_en="a very high fever",
            english=(r"(\b4[0-2](\.\d)? ?(°|degrees|c\b)|\b10[5-7](\.\d)? ?(°|degrees|f\b))",)),
    RedFlag("unconscious", "意识障碍或抽搐", (
        rf"({_SEIZURE_SIGNS}|{_UNRESPONSIVE}|{_COLLAPSE}|{_CONFUSED}|"
        r"人(也|都|已经)?(有点|有些|开始|变得)?(迷糊|糊涂|不清醒)(了)?(?![的地])|昏迷|昏倒|晕倒|晕过去|不省人事|叫不醒|叫不应|意识(不清|模糊|丧失)|神志不清|没(有)?了?意识|抽搐|抽风|"
        r"(?<![性热烧])惊厥|惊厥了|癫痫(病)?(又)?(发作|复发|犯)(了|起来)|口吐白沫|没(有)?(了)?(呼吸|心跳)|心跳停|没反应|休克|倒地)",
    ), "让病人侧躺、保持呼吸道通畅，不要往嘴里塞东西；没有呼吸心跳时立即胸外按压。",
            label_en="loss of consciousness or a seizure", transient=True, english=(
                _EN_SEIZURE + "|" + _EN_UNRESPONSIVE + "|"
                r"(unconscious|passed out|fainted|collapsed|unresponsive|not responding|won'?t wake up|not waking up|"
                r"can'?t wake (him|her|them|my)|(having|has|had) a (seizure|fit)|seizure|seizing|convuls|"
                r"no pulse|not breathing|stopped breathing)",)),
    RedFlag("anaphylaxis", "严重过敏反应", (
        rf"({_ALLERGIC}[^。！？!?]{{0,40}}{_AIRWAY_SHOCK}|{_AIRWAY_SHOCK}[^。！？!?]{{0,20}}{_ALLERGIC}|"
        r"过敏(?!性).{0,30}(嗓子(紧|发紧|肿|堵)|喉咙(紧|发紧)|眼睛肿|喉咙|呼吸(困难|急促|不了|费力)|喘不|憋|全身.{0,3}(肿|疹|红)|嘴唇肿|舌头肿|脸.{0,2}肿|眼睛肿|"
        r"休克|头晕|晕)|喉头水肿|过敏性休克|(打|用|扎|注射)(了)?[^，。,]{0,4}肾上腺素)",
    ), "立即停用可疑的药物或食物；有医生开的肾上腺素笔时按说明使用。", label_en="a severe allergic reaction",
            english=(r"(anaphyla|allergic reaction.{0,40}(throat|breath|swell|lips|tongue|faint|dizzy)|"
                     r"(gave|used|injected|give|use) (her|him|my|the|an|his|them|me)?\s?(\w+ )?(epi-?pen|epinephrine|adrenaline)|"
                     r"throat (is |feels |is feeling |getting )?(closing|swelling|swollen|tight)|"
                     r"(tongue|lips|face) (is |are )?(swelling|swollen|puffing up)|"
                     r"(hives|rash) (all over|everywhere)[^.!?]{0,40}(breath|wheez|dizzy|faint|throat))",)),
    RedFlag("trauma", "严重外伤", (
        rf"((出|遇|发生|碰上|碰到)(了)?车祸了|被(车|汽车|货车|卡车|摩托车|电动车|三轮车)(给)?撞|车祸{_NP}{{0,10}}(昏迷|流血|出血|骨折|动不了|不醒|站不起)|"
        rf"伤口{_NP}{{0,3}}(很深|特别深|见骨)|被电(打|击|到)|(洁厕|消毒|84|漂白|石灰|硫酸|盐酸|烧碱|火碱){_NP}{{0,6}}(溅|进|弄)"
        rf"(到|进)?{_NP}{{0,2}}眼|摔{_NP}{{0,14}}((胯|髋|大腿根).{{0,4}}(剧痛|疼得)|(腿|脚)(往外|向外)(撇|翻)|站不起来|起不来|动不了)|"
        rf"高处(坠落|摔)|从{_NP}{{0,6}}(楼|楼梯|台阶|树|高处|房顶|屋顶|阳台|窗|梯子|脚手架|山|崖|车上){_NP}{{0,4}}(摔|掉|坠|跌)|"
        r"骨头.{0,3}(露|戳)|大面积(烧伤|烫伤)|严重(烧伤|烫伤)|"
        rf"(头|脑袋).{{0,6}}(撞|摔|磕).{{0,12}}{_NOT_DENIED}(吐|呕|昏|晕|意识|出血)|(?<![像被])触电|溺水|被.{{0,4}}(砍|捅)|刀.{{0,4}}(很深|扎)|"
        rf"{_HEAD_HIT}[^。！？!?]{{0,24}}{_HEAD_RED}|{_BURN}|被电(打|击|到|了|着)|电(到|着)了|电击|"
        r"掉(进|到|入)[^，。,]{0,4}(水|河|池塘|塘|湖|井|游泳池|泳池|水缸|浴缸|海)|落水|(从水里|水里)?(捞|救)(上来|起来)|"
        r"(腿|胳膊|手臂|前臂|手腕|脚踝)[^，。,]{0,6}(变形|弯了|(?<!骨)折了|(明显)?是歪的|歪了|变短|短了一截|不直了)|"
        r"(滑倒|跌倒|摔倒|摔下来)[^。！？!?]{0,20}(起不来|站不起来|动不了|(脚|腿)(往外|向外)(撇|翻|转))|"
        r"(很深|特别深|好深|挺深)的(口子|伤口)|(切|砍|剁|轧|夹|锯|绞)掉(了)?(一节|一截|半截|一块|手指|指头)|"
        r"(眼睛|眼球)[^，。,]{0,4}(扎|戳|炸|刺)(伤|破|了|到)|炸伤|"
        r"(卷进|绞进|碾|轧)(去|了|到|断|烂|碎)|(卷|绞|夹)(进|入)[^，。,]{0,4}(机器|机|滚筒|皮带|齿轮)|(手指|脚趾|指头)[^，。,]{0,4}(夹|切|砍|压|剁|轧)断|断了一截)",
    ), "不要随意搬动伤者（怀疑颈椎或脊柱受伤时尤其如此），按压止血。", label_en="a serious injury",
            lasting=r"(电|溺水|落水|捞|救|卷进|绞进|碾|轧)", english=(
        r"(car (accident|crash)|hit by a (car|truck|bus)|"
        r"fell (from|off|out of) (a |the )?(roof|ladder|building|balcony|window|height|tree|bunk|second|third)|fell down (the )?stairs|bone (is )?sticking out|"
        r"(arm|leg|wrist|ankle|forearm|elbow) (is |looks )?(bent|twisted|deformed)|(bent|twisted) at (a|an) (weird|strange|funny|odd|unnatural|wrong) angle|"
        r"severe burn|badly burn|electrocuted|drown|stab(bed)?|head injury.{0,30}(vomit|unconscious)|"
        r"(hit|bumped|banged|struck) (his|her|my|their|the) head[^.!?]{0,50}(vomit|throwing up|sleepy|drowsy|confused|"
        r"unconscious|passed out|won'?t wake)|electric shock|burn(ed|t)? (all over|his face|her face|my face)|"
        r"(burn(ed|t)|scald(ed)?) (by|with) (boiling|hot) (water|oil)[^.!?]{0,30}(all over|face|chest|back|belly|arms|legs|blister)|"
        r"(boiling|hot) (water|oil)[^.!?]{0,20}(all over|poured on|spilled (on|over)) (him|her|his|my|the))",
    )),
    RedFlag("thunderclap_headache", "突发剧烈头痛", (
        r"(突然.{0,3}像(被)?.{0,3}(打|敲|砸)了?一(棍|锤|下)|突然.{0,3}像(被)?[^，。,]{0,6}(锤子|棍子|榔头|斧头)[^，。,]{0,3}(打|敲|砸|劈)|"
        r"头.{0,2}(炸裂|要炸|像要裂开)|(从来|这辈子|长这么大|有生以来)(都)?没(有)?这么(疼|痛)过|"
        r"(突然|剧烈|炸裂|撕裂|这辈子最|从来没(有)?这么|从未).{0,6}(头痛|头疼)|(头痛|头疼).{0,8}(剧烈|炸|喷射|脖子(僵|硬)|呕吐)|"
        r"(头|脑袋|后脑勺?)[^，。,]{0,3}(疼|痛)得(要命|要死|受不了|要炸|要裂|像要炸|像要裂开|抱头|打滚|站不住)|"
        r"突然[^，。,]{0,3}(抱|捂)着头[^，。,]{0,3}(喊|叫|说)?(疼|痛)|(头|脑袋)[^，。,]{0,3}(爆炸|炸开|要爆)|(头|脑袋|后脑勺?)[^，。,]{0,2}(突然|一下子)[^，。,]{0,3}(剧痛|炸|裂|剧烈(地)?(疼|痛))|(突然|一下子)[^，。,]{0,6}(头|脑袋|后脑勺?)[^，。,]{0,3}(剧痛|炸|裂))",
    ), "", label_en="a sudden severe headache",
            english=(r"(worst headache|sudden(ly)?[^.!?]{0,20}(severe|terrible|excruciating|splitting|explosive|blinding) (headache|head pain)|"
                     r"thunderclap|"
                     r"headache (came on|started|hit) (suddenly|all of a sudden|out of nowhere)|"
                     r"like (being|getting) hit (on|in) the head|head (feels like it'?s|is) (going to )?(explod|split)|"
                     r"(severe|terrible|excruciating|splitting) headache[^.!?]{0,40}(stiff neck|vomit|confus|double vision|passed out))",)),
    RedFlag("acute_abdomen", "急腹症", (
        rf"((剧烈|绞痛|疼得打滚|痛得打滚|难忍|受不了|刀割){_NP}{{0,6}}(腹痛|肚子(痛|疼))|"
        rf"(腹痛|肚子(痛|疼)){_NP}{{0,8}}(剧烈|打滚|难忍|受不了|硬|板)|宫外孕|右下腹{_NP}{{0,8}}(越来越|剧|加重)|{_ACUTE_BELLY}|"
        r"没(有)?(放屁|排气)[^。！？!?]{0,12}(吐|呕)|(吐|呕)[^。！？!?]{0,12}没(有)?(放屁|排气))",
    ), "暂时不要吃东西喝水，不要自行服止痛药掩盖病情。", label_en="severe abdominal pain", english=(
        r"(severe|unbearable|excruciating|worst|terrible|really bad|intense|agonizing) (abdominal|stomach|belly|tummy) "
        r"(pain|ache|cramps)|ectopic|(abdominal|stomach|belly|tummy) (pain|ache|cramps?) (is |was |has been )?(so |really )?"
        r"(unbearable|excruciating|severe|agonizing|so bad)|doubled over|(belly|stomach|abdomen|tummy) (is )?(rigid|hard as a board|board-?like)|"
        r"pain (moved|moving|spread|has moved|went) (down )?(to|into) (the |my |his |her )?(lower )?right|"
        r"(belly ?button|navel)[^.!?]{0,40}(moved|moving|went|shifted|spread) (down )?(to|into) (the |my |his |her )?(lower )?right|"
        r"(hasn'?t|haven'?t|has not|not) (pooped|passed gas|farted)[^.!?]{0,30}(vomit|throwing up)|"
        r"testic\w* (pain|is swollen|suddenly)|"
        r"(severe|terrible|unbearable|excruciating) pain in (my|his|her|the) (lower )?(right )?(belly|stomach|abdomen|tummy)",)),
    RedFlag("pregnancy", "孕期急症", (
        r"((下面|下身|阴道).{0,3}(有|见|出)血|(感觉不到|没(有)?感觉到?)胎动|胎动(少了|不动)|眼前发黑|冒金星|血压[^，。,]{0,4}(1[6-9][0-9]|2[0-9]{2})|"
        r"(?<![点丝量])" + _NOT_WOMB + r"(出血|流血)(?![丝点])|破水|羊水|胎动(消失|减少|没了)|抽搐|" + _SEIZURE_SIGNS + r"|剧烈.{0,2}(腹痛|头痛)|肚子.{0,2}(剧痛|疼得)|"
        r"胎动[^，。,]{0,4}(少|减少|不动|没了|消失|弱|不明显)|(感觉不到|没(有)?感觉到?|摸不到)[^，。,]{0,2}胎动|"
        r"(宝宝|孩子|胎儿)(在肚子里)?[^，。,]{0,3}(不动|不怎么动|不太动|没(怎么|什么)?动(过|静)?|动得(很|特别)?少)|(一上午|半天|一天|一晚上|一下午)(就|才|只)?动了?(一两|一|两)下|"
        r"(下面|下身|阴道)[^，。,]{0,4}(流|出|冒|涌|淌)(出)?(了)?[^，。,]{0,8}水|流水|(内裤|裤子|床单)[^，。,]{0,4}湿(了|透)|"
        r"(有|一股)[^，。,]{0,3}水[^，。,]{0,3}(流|淌)出|"
        r"看(东西)?[^，。,]{0,2}(模糊|重影|不清|一闪一闪|闪光|发花|有黑点|有亮点)|视物模糊|视力模糊|眼前[^，。,]{0,2}(闪光|一闪一闪|有黑点|冒星星)|(高压|收缩压)[^，。,]{0,2}(1[6-9][0-9]|2[0-9]{2})|"
        r"(摔|跌|撞)[^。！？!?]{0,10}肚子|肚子[^，。,]{0,4}(着地|撞|磕)|"
        r"肚子[^，。,]{0,2}(一直)?(硬|发硬|硬邦邦)[^。！？!?]{0,8}(疼|痛)|(宫缩|肚子)[^。！？!?]{0,10}([0-9一二两三四五六七八九十几]+分钟(一次|来一次)|"
        r"有规律|越来越(疼|紧|频))|" + _BELLY_SEVERE + ")",
    ), "立即去有产科的医院急诊。", label_en="an emergency in pregnancy",
            who=_PREGNANT, lasting=rf"({_JERK}|白眼|白沫|眼睛[^，。,]{{0,4}}上翻)", english=(
        r"(pregnan|\d+ weeks|\d+ months along)", r"(bleeding|water (just |has |had )?(broke|broken|breaking)|leaking fluid|"
                                r"fluid (is |keeps |kept |started )?(leaking|gushing|coming out|pouring|trickling)|"
                                r"(severe|terrible|awful|bad|pounding|splitting|really bad) headache|seeing (spots|stars|flash)|"
                                r"(flashing lights|spots|stars) (in|before) (my|her) eyes|vision (is |went |has gone )?(blurry|blurred|funny)|"
                                r"(baby|fetus) (is )?(not|stopped) moving|(baby|fetus) (hasn'?t|has not|isn'?t|is not) (moved|moving|kicking)|"
                                r"not feeling (the )?baby|(haven'?t|have not|hasn'?t|not) felt (the |my )?baby|(less|reduced|decreased) (fetal )?movement|"
                                r"waters? (just |has |have |had )?(broke|broken|breaking)|no (fetal )?movement|severe (pain|headache|cramp)|blurr(y|ed) vision|"
                                r"contractions (every|are) \d+|seizure|shoulder (tip )?pain|(sharp|stabbing) pain|"
                                r"feel(ing)? (like )?(fainting|faint|i'?m going to faint)|about to faint|passed out)")),
)

# ---------------------------------------------------------------- what discounts a match (module docstring)
# Negated: a negation right before the event, with at most words that keep it about the event between
# ("没有胸痛", "没有明显胸痛", "没再抽", "不是吐血", "差点晕倒"). Other words after 不/没 make it about something
# else: "趁我不注意吞了", "不小心喝了", "不知道吃了多少", "没看住" are no negation of what follows.
# The denial words of `retriever.words` (not "有没有", "是不是", "时不时"), and here also what did not quite
# happen ("并非", "差点晕倒", "险些", "几乎"). ("并无" ends in "无", so it adds nothing here.)
_NEG_WORD = denial_alternation(("并非", "差点", "差一点", "险些", "几乎"),
                               guards={"没有": "(?<!有)", "没": "(?<!有)", "不": "(?<![是时])"})
_NEG_FILLER = (r"(明显|什么|任何|出现|发生|再|有|感到|感觉|觉得|太|很|怎么|咋|过|一点|发|在|是|真的|那么|见|会|把|"
               r"算|经常|怎|大|想|打算)")
_NEGATION = re.compile(rf"{_NEG_WORD}{_NEG_FILLER}{{0,2}}$")  # not "是不是", "有没有", "时不时"
# Said in the match's own clause: it happened before, or it is over.
_PAST = re.compile(r"(去年|前年|几年前|多年前|年前|小时候|小的时候|年轻的时候|(?<![跟和比同])(以前|之前)(?![^，。,]{0,3}(从来|从未|从没|都没|没有过|没出现))|曾经|(?<![不未])曾|上个月|上月|上次|那次|当年|早年|"
                   r"月前|已经好了|现在好了|早就好了|已经好转|已经恢复|已痊愈|已经不|现在没事|后来好了|早就没事|依稀记得|记得)")
# Words that set the scene for the clauses after them, up to the next such word of the sentence: a past time
# ("有一次…突然晕倒，四肢抽搐"), the present ("今天", "刚才"), or a habit ("发作时…口吐白沫，全身抽动").
_WHEN_PAST = (r"去年|前年|几年前|多年前|年前|小时候|小的时候|年轻的时候|(?<![跟和比同])以前|(?<![跟和比同])之前|曾经|上个月|上月|上次|那次|当年|早年|月前|"
              r"天前|周前|星期前|礼拜前|前段时间|前一段时间|前阵子|前一阵|前些天|前些日子|前几天|前两天|前天|上个?星期|上个?礼拜|"
              r"上周|当时|那时|那天|有一天|有一次|有次|(最近|上|那)一次|[0-9]{4}年|[0-9]{1,2}月[0-9]{1,2}[日号]|"
              r"[0-9一二三四五六七八九十]+月份")
_WHEN_NOW = r"现在|目前|正在|刚才|刚刚|此刻|今天|今早|今晚|这次|此次|这会儿|之后|后来|随后|接着"  # (then: a new scene)
_WHEN_YESTERDAY = r"昨天|昨晚|昨日"  # the present for what lasts (a stroke), the past for what passes (a faint)
_MODAL = r"(?<![不机社学体误约聚宴晚开大一理])会(?!不会|诊|议|阴|员|计|儿)"  # will / would / tends to; not 会不会, 社会, 一会儿
_HABIT_WORDS = rf"{_MODAL}|每次|每当|每逢|每隔|(发作|复发|病发|犯病|发病|犯)(的)?(时|时候)"
_SETTING = re.compile(rf"(?P<past>{_WHEN_PAST})|(?P<now>{_WHEN_NOW})|(?P<yesterday>{_WHEN_YESTERDAY})|"
                      rf"(?P<habit>{_HABIT_WORDS})")
_ONSET = re.compile(r".{0,3}(开始|起|以来|至今)")  # "前两天开始胸闷": ongoing since then, not a past episode
_REALIZED = re.compile(r"了(?!就)")  # "他平时会头晕，突然晕倒了": this time it happened
# Over: said after the match, in its clause or the next one ("发烧39度，昨天已经退烧了").
_OVER = re.compile(r"(退烧(?!药|贴|针|栓|的药)|烧退|退了|退下去|(?<![不没未])停了|(?<![不没未])停下|止住|不抽了|不吐了|(?<![不没未])好了|好转|"
                   r"(?<![不没未])缓解了|自行(缓解|纾|停止|恢复|好)|纾缓|恢复(了|正常)|(?<![不没未])醒了|醒过来|醒来|醒后|(?<![不没未叫还])清醒|"
                   r"苏醒|没事了|没事儿|没大碍|正常了|一切正常|没(有)?再(抽|吐|流|出血|发作)|过去了|平稳|稳定了)")
_BELIEF = re.compile(r"(说|以为|认为|估计|觉得)")  # what someone says will pass, not what has passed
_ASKING_OVER = re.compile(r"(是不是|是否|会不会|算不算|能不能|吗|么|？|\?)")
# What is not over when it feels better: an amount swallowed acts later ("吃了四十颗…现在没事了"), and a reaction
# that needed adrenaline can come back within hours ("打了肾上腺素笔，好多了").
_ACTS_LATER = re.compile(rf"({_PILLS}|{_CONTAINER}|肾上腺素|epi-?pen|epinephrine|adrenaline)")
# Handled: later in the question a doctor has seen it (a diagnosis, a hospital, an ambulance), or the asker
# learned afterwards what it was: it is not happening now.
_HANDLED = re.compile(rf"((医院|医生|大夫|急诊|门诊|校医|诊所)(去)?{_NP}{{0,12}}(检查|诊断|确诊|说(?!过)|告诉|查出|判断|"
                      r"发现|发觉|知道|知晓|获知|得知|看了|开了)|(医院|急诊)(里|去|进行)?(治疗|救治|抢救)|"
                      r"诊断(为|是|出|得)|确诊|查出|检查.{0,3}(出|发现|发觉|结果|报告|后|之后|完|说|一看|知道|知晓)|"
                      r"被告[之知]|住院|入院|出院|在医院|"
                      r"(?<![要该用])(送|带|抬|拉)(了)?(他|她|孩子|病人|老人)?(往|到|去|进)(了)?(医院|急诊|卫生院|诊所)|"
                      r"(送|带|去|到|进|抬|拉)(了|往|到|去|进)?(医院|急诊|卫生院|诊所)(了|后|之后|以后|检查|仔细检查|做|治疗|救治|抢救)|"
                      r"(打|叫)了(120|救护车|急救车)|救护车|急救车|抢救|救回|(开|给)了.{0,6}药|(后来|(?<!刚)才|方才)(知道|知晓|发现|发觉|获知|得知|晓得)|后来[^，。,；;！？!?]{0,4}说是|"
                      r"(看了|看过|就去看|去看了)(医生|大夫|中医|西医|门诊|急诊))")
_HISTORY = re.compile(r"(之前|以前|曾经|曾|早就|去年|上次|原来)$")  # "以前确诊过癫痫": what was known before, not a visit since
# Intermittent or long-standing in the match's clause, unless it is sudden or getting worse ...
_CHRONIC = re.compile(r"((许多|很多|好多|大多)时候|好几个月|几个月了|好几年|多年|几年了|很多年|长期|经常|反复|偶尔|一直都|一直以来|老毛病|[0-9一两三四五六七八九十]+年了|"
                      r"有时|有的时候|时不时|间断|间歇|不时|时常|常常|总(?![共之结体的额数量和计部统])|老是|老(觉|感|打|犯|出现)|频繁|"
                      r"动不动|天天|每天|一阵一阵|阵发|时好时坏|反反复复|隔三差五|三天两头)")
_ACUTE = re.compile(r"(突然|剧烈|越来越|加重|刚才|刚刚|正在|此刻)")
_WORSE = re.compile(r"(越来越|加重)")
# Coming at a regular interval is labour, not an on-and-off complaint: "肚子一阵一阵疼，五分钟一次".
_INTERVAL = re.compile(r"[0-9一二两三四五六七八九十几]+(多)?分钟(就)?(一次|来一次|疼一次|一阵)")  # said in the next clause: "时不时胸闷，越来越重"
# ... and "他经常突然晕倒", "有时候会突然抽搐" describe a habit however sudden each time is.
_HABITUAL = re.compile(rf"({_MODAL}|每次|每当|经常|常常|总是|老是|时常|频繁|动不动|(许多|很多|好多|大多)时候)")
# Long-standing anywhere in the match's sentence ("有时候胸闷，几年了", "前一天胃胀…第三天…胸闷气短"), unless its
# own clause says it is new or now, or names a red-flag companion ("胸闷几天了，今天出冷汗、左臂麻").
_DURATION = re.compile(r"(好几个月|几个月了|好几年|多年|几年了|很多年|长期|老毛病|[0-9一两三四五六七八九十几多]+(个)?(年|月)(了|多|以来|来)|"
                       r"[0-9一两二三四五六七八九十几多]+(个)?(周|星期|礼拜)(了|多|以来|来)|第[二三四五六七八九十0-9两几]+天|前一天|头一天|[0-9一二两三四五六七八九十几多]+天(了|来|以来)|这几天|这两天|近几天|"
                       r"几天来|好几天|连续.{0,3}天|一周了|一个星期|半个月|个把月|这段时间|一段时间|最近|近期|近来|至今|一直以来|病史)")
_DURATION_OVERRIDE = re.compile(r"(突然|剧烈|越来越|加重|刚才|刚刚|正在|此刻|现在还|还在|今天|今早|今晚|昨天|昨晚)")
_UNLIKE_BEFORE = re.compile(r"(完全不一样|跟(以前|平时|往常)[^，。,]{0,3}不一样|从来没(有)?这么|从没这么|从未这么)")  # this time is new
_RED_COMPANION = re.compile(r"(冷汗|大汗|压榨|剧烈|剧痛|濒死|左臂|左(胳膊|肩|手臂)|撕裂|发紫|青紫|发绀)")
_AGE = re.compile(r"(宝宝|孩子|婴儿|儿子|女儿|小孩|娃|怀孕|怀上|孕|出生|满|今年|岁)")  # "宝宝三个月了" is an age
# Habitual or hypothetical in the match's clause: "癫痫发作会窒息吗", "每次都疼得受不了", "怕他中风了", "…的话".
_IF = r"(如果|假如|万一|要是|假设)"
_HABIT = re.compile(rf"({_HABIT_WORDS}|{_IF}|的话|以防|预防|防止|以免|避免|免得|才不会|(?<![可害恐])怕(?!是)|容易|"
                    rf"(想|打算|准备)(要)?(把|{_SWALLOW}))")  # "想把一整瓶都吃了" is intent (self-harm), not an ingestion
# Asleep, not unconscious: "孩子早上赖床怎么叫都叫不醒".
_SLEEPY = re.compile(r"(赖床|睡懒觉|起床气|叫(他|她|孩子)?起床|缺觉|睡得(太)?(死|沉))")
_IMMEDIATE = re.compile(r"(正在|刚才|刚刚|此刻|还在)")
# New: "我爸去年中风，今天又突然说不出话" is a new stroke, "去年脑出血，现在半边身体没力气" an after-effect.
_NEW = re.compile(r"(突然|刚才|刚刚|此刻|正在|又|今天|今早|今晚|越来越|加重)")
_KNOWN = re.compile(r"(得了|得过|患了|患有|患|有过|确诊|诊断|查出|(?<!是不是)(?<!怀疑)(?<!像是)(?<!好像)有)$")
# Who it happens to: someone who fainted or had a seizure and is writing the question is no longer unconscious.
_PERSON = re.compile(r"(?P<other>(他|她)自己|他|她|爸|妈|父亲|母亲|孩子|儿子|女儿|闺女|宝宝|小孩|娃|爷|奶|婆婆|公公|老公|老婆|姥|外公|"
                     r"外婆|哥|姐|弟|妹|叔|姨|舅|伯|嫂|侄|朋友|同学|同事|同桌|邻居|老人|病人|患者|亲戚|丈夫|妻子|对象|家人|员工|男子|"
                     r"女子|媳妇|女友|男友)|(?P<self>我|本人|(?<![他她子人儿女爸妈])自己)")
# An animal the event happens to ("狗狗突然抽搐口吐白沫", "家里的狗偷吃了巧克力"): a vet's question, not 120. Not an
# animal that did it ("被狗咬了", "狗咬了…") nor a thing named after one ("猫砂", "狗粮", "热狗").
_PET = re.compile(r"(?<!热)(狗狗|小狗|狗子|狗|猫咪|小猫|猫|宠物|兔子|仓鼠|鹦鹉|泰迪|金毛|柯基|哈士奇|二哈|比熊|博美)"
                  r"(?!粮|砂|毛|屎|尿|窝|绳|链|笼|眼|头鹰)")
_PET_AGENT = re.compile(r"(了)?(把[^，。,]{0,6})?(咬|抓|挠|扑|撞|踢|舔)")  # "狗把腿咬开": the dog did it
_LIKE = re.compile(r"(跟|像|似|如|好像|和)$")  # "咳得跟小狗叫似的": a comparison
# The question asks about the condition in general (what it is, causes, cost, where to treat it).
_INFO = re.compile(r"(是什么|什么是|有哪些|哪些|原因|为什么|为何|怎么预防|如何预防|预防|区别|不同|分辨|辨别|区分|的症状|表现|科普|机制|"
                   r"病因|概率|发病率|死亡率|能治好|后遗症|康复|护理|饮食|怎么检查|做什么检查|多久能好|"
                   r"影响|会不会(?!是)|会引起|能引起|导致|致使|引发|造成|使人|让人|一定是|遗传|传染|急救知识|怎么急救|如何急救|常识|知识|"
                   r"了解|介绍|定义|统计|电影|电视剧|纪录片|小说|新闻|论文|话题|哪个|哪国|率|先[^，。,]{1,8}还是先|"
                   r"哪家医院|哪里治|医院哪家好|哪家好|" + "|".join(COST_WORDS) + ")")
_NOW = re.compile(r"(现在|正在|突然|刚才|刚刚|此刻|马上|赶紧|快|一直|越来越|止不住|救命|急(?![救性诊促躁])|怎么办|在医院|送医|(?<!先)打120|"
                  r"[0-9一二两三四五六七八九十半几]+(分钟|小时|个小时)|今天|今晚|今早|昨晚|昨天)")
# Watched or read, not lived: a scene of a drama, a film, the news.
_STORY = re.compile(r"((电视剧|电视|电影|视频|新闻|小说|剧)(里|里面|中|上)|新闻说|看(了)?(一)?(个|部|集)?(电视剧|电影|纪录片|小说))")
_CLAUSE = re.compile(r"[^。！？!?；;，,\n]+")
_SENTENCE = re.compile(r"[^。！？!?；;\n]+")
_TITLE = re.compile(r"[^。！？!?；;\n]{2,60}[？?](?=.{6,})", re.S)  # "题目？描述": the title sums up the description

# English: the same discounts, with English words.
_EN_NEGATION = re.compile(r"\b(no|not|never|without|denies|deny|don'?t have|doesn'?t have|didn'?t have|free of|"
                          r"isn'?t|wasn'?t|no longer)\b(\W+\w+){0,2}\W*$")
_EN_PAST = re.compile(r"\b(last (year|month|week)|years ago|months ago|weeks ago|used to|"
                      r"when i was (a )?(kid|child|young)|in the past|years back|is over|has stopped|stopped now|"
                      r"went away|gone now|better now|is fine now|(he'?s|she'?s|i'?m|they'?re|seems?|is|am|are|feels?) (fine|ok|okay|alright|all right|"
                      r"back to normal|awake and (talking|alert)) now|for a (few|couple of) seconds|for a second|recovered|(in|since) (19|20)\d\d)\b")
_EN_HYPOTHETICAL = re.compile(r"\b(if|in case|whether|would|could|might|should someone|when someone|"
                              r"(don'?t|do not|never) want to|to avoid|so (that )?(i|we|he|she) (don'?t|won'?t))\b")
_EN_IS_IT = re.compile(r"\b(is|could|might|can) (that|this|it) (be )?(some (kind|sort) of |a |an )?")
_EN_LONG = re.compile(r"\b(on and off|comes and goes|for (a|one|two|three|several|a few|\d+) (weeks?|months?|years?))\b")
_EN_HABIT = re.compile(r"\b(sometimes|occasionally|every now and then|from time to time|once in a while|often|usually|"
                       r"whenever|comes and goes|on and off|tends? to|dementia|alzheimer'?s|"
                       r"for (the (past|last) )?(a few |several |many |\d+ )?(months|years))\b")  # "I sometimes get short of breath when I'm anxious"
_EN_ACUTE = re.compile(r"\b(suddenly|sudden|worse|worsening|right now|now|this time)\b")
_EN_PET = re.compile(r"\b(?:(?:my|our|the|his|her|their|a) )?(?:dog|puppy|cat|kitten|pet|rabbit|hamster|parrot|bird)s?\b")
_EN_INFO = re.compile(r"\b(what (causes|is|are|does)|what'?s the (cause|difference|treatment)|why (do|does|would)|"
                      r"causes of|signs of|symptoms of|what'?s an? |how long (can|does|do|will) (someone|a person|you|people)|"
                      r"movie|film|tv show|novel|documentary|article|how do (paramedics|doctors)|"
                      r"how (to|do you|can i|can you) (prevent|recogni[sz]e|tell|treat|know)|"
                      r"risk (of|factors)|difference between|how common|statistics|in general|is it normal|cost of|"
                      r"how much does|which hospital|(is|are) .{0,30}common|how many|rate of)\b")
_EN_NOW = re.compile(r"\b(now|right now|suddenly|just|currently|help|emergency|urgent|this (morning|evening)|tonight|"
                     r"today|minutes?|is having|keeps)\b|"
                     r"\b(i|he|she|they|we|my \w+) (just |has |have )?(took|swallowed|ate|drank|collapsed|fell|passed out|"
                     r"won'?t|isn'?t|is not|can'?t)\b|\b(swallowed|collapsed|passed out|fainted|got into)\b")  # "I took 30 pills, what is going to happen?" tells an event
_EN_CLAUSE = re.compile(r"[^.!?;,\n]+")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")


@dataclass
class Triage:
    level: str | None  # "emergency" | "crisis" | None
    flags: list[str]  # RedFlag names that fired
    labels: list[str]
    message: str = ""

    @property
    def urgent(self) -> bool:
        return self.level is not None


_CJK_SPACE = re.compile(r"(?<=[\u3400-\u9fff\uf900-\ufaff])\s+(?=[\u3400-\u9fff\uf900-\ufaff])")


def normalize(text: str) -> str:
    """Compared the one way text is compared (kb.names.fold), with a space between Chinese words read as the
    clause break it stands for: "孕晚期 突然抽了一下 全身僵" is three clauses, like "过敏，喉咙肿，喘不上气"."""
    return _CJK_SPACE.sub("，", fold(text))


def is_english(text: str) -> bool:
    """True when the text is written in a Latin-script language: letters, and few or no Chinese characters
    ("my chest hurts" yes; "阿莫西林 amoxicillin 怎么吃" and "CT检查" no)."""
    text = normalize(text)
    latin, cjk = len(_LATIN.findall(text)), len(_CJK.findall(text))
    return latin >= 3 and cjk * 5 <= latin and bool(re.search(r"[a-z]{2,}", text))


def _span(spans: list[tuple[int, int]], at: int, length: int) -> tuple[int, int]:
    return next(((a, b) for a, b in spans if a <= at < b), (0, length))


@dataclass(frozen=True)
class _Text:
    """A normalized question cut into clauses and sentences, with its title (when it has one)."""
    text: str
    clauses: list[tuple[int, int]]
    sentences: list[tuple[int, int]]
    title_end: int  # 0: no title

    @classmethod
    def of(cls, text: str) -> _Text:
        title = _TITLE.match(text)
        sentences = [(m.start(), m.end()) for m in _SENTENCE.finditer(text)]
        if title and len(text) - title.end() <= 20 and len(sentences) <= 3:
            sentences = [(0, len(text))]  # "嘴角有点歪是面瘫吗？已经一个月了": the description adds to the title
        return cls(text, [(m.start(), m.end()) for m in _CLAUSE.finditer(text)], sentences, title.end() if title else 0)


def _setting(t: _Text, sentence_start: int, at: int, transient: bool) -> str | None:
    """What the last scene-setting word before `at` in its sentence says: "past", "now", "habit" or None."""
    last = None
    for w in _SETTING.finditer(t.text, sentence_start, at):
        if w.group("past") and _ONSET.match(t.text, w.end()):
            continue  # "前两天开始…": since then
        last = "past" if w.group("past") or (w.group("yesterday") and transient) else \
            "habit" if w.group("habit") else "now"
    return last


def _over_after(t: "_Text", start: int, end: int) -> bool:
    """True when, between `start` and `end`, a clause tells it is over; one that asks right around the word
    ("是不是已经过去了", "好了吗") does not."""
    for o in _OVER.finditer(t.text, start, end):
        c_start, c_end = _span(t.clauses, o.start(), len(t.text))
        if _BELIEF.search(t.text, c_start, o.start()) \
                or _setting(t, _span(t.sentences, o.start(), len(t.text))[0], o.start(), False) == "past":
            continue  # "她说吐完就好了", "去年也有过一次，十几分钟就好了，这次…还没好": not this time
        if not _ASKING_OVER.search(t.text, max(c_start, start, o.start() - 8), min(c_end, end, o.end() + 3)):
            return True
    return False


def _handled_after(text: str, at: int) -> bool:
    for h in _HANDLED.finditer(text, at):
        if _HISTORY.search(text, max(0, h.start() - 4), h.start()) or text.startswith("过", h.end()):
            continue  # "以前确诊过癫痫": what was known before, not a visit since
        if re.match(r"(的)?(路上|途中)|[^，。,]{0,4}(处理不了|看不了|治不了|没(有)?办法|让[^，。,]{0,4}(去|转)|建议[^，。,]{0,4}(去|转)|叫[^，。,]{0,4}(去|转))", text[h.end():]):
            continue  # "正在送医院的路上", "诊所说处理不了": still an emergency, and what to do meanwhile helps
        return True
    return False


def _long_standing(text: str, start: int, end: int) -> bool:
    """A duration in text[start:end] that is not an age ("宝宝三个月了", "怀孕五个月了")."""
    return any(not _AGE.search(text, max(0, d.start() - 6), d.start()) and not re.match(r"(大|的(宝宝|孩子))", text[d.end():])
               for d in _DURATION.finditer(text, start, end))


def _known_before(pattern: str, t: _Text, at: int) -> bool:
    """True when the condition `pattern` is named before `at` as a past episode or a diagnosis ("去年脑出血",
    "患脑梗多年", "脑梗后遗症", "中风过")."""
    for k in re.finditer(pattern, t.text[:at]):
        start, end = _span(t.clauses, k.start(), len(t.text))
        s_start = _span(t.sentences, k.start(), len(t.text))[0]
        if _PAST.search(t.text, start, end) or _setting(t, s_start, k.start(), False) == "past" \
                or re.match(r"(过|后|以后|之后|后遗症|的后遗症)", t.text[k.end():]) \
                or _KNOWN.search(t.text, max(0, k.start() - 4), k.start()):
            return True
    return False


def _said_by_patient(t: _Text, sentence_start: int, at: int) -> bool:
    """True when the last person named before `at` (in its sentence, else before it) is the asker: "我突然晕倒";
    in a title, the first person named in the description ("抽搐是癫痫吗？我昨天吃饭时…")."""
    last = None
    for start in (sentence_start, 0):
        for p in _PERSON.finditer(t.text, start, at):
            last = p
        if last:
            break
    if not last and at < t.title_end:
        after = list(_PERSON.finditer(t.text, t.title_end))[:2]
        if after:
            last = after[1] if after[0].group("self") and len(after) > 1 and after[1].start() - after[0].end() <= 2 \
                else after[0]  # "我家孩子": the child
    return bool(last and last.group("self"))


def _pet(t: _Text, at: int) -> bool:
    """True when the last one named before `at` (in its sentence, else before it) is an animal it happens to."""
    s_start = _span(t.sentences, at, len(t.text))[0]
    for start in (s_start, 0):
        beings = [(p.end(), False) for p in _PERSON.finditer(t.text, start, at)] + [
            (a.end(), True) for a in _PET.finditer(t.text, start, at)
            if "被" not in t.text[max(0, a.start() - 5):a.start()] and not _PET_AGENT.match(t.text, a.end())
            and not _LIKE.search(t.text, max(0, a.start() - 2), a.start())]
        if beings:
            return max(beings)[1]
    return False


def _discount(flag: RedFlag, m: re.Match, t: _Text) -> str | None:
    """Why this match of a red-flag pattern is not an emergency happening now (None: it may be one)."""
    text = t.text
    if _pet(t, m.start()):
        return "a pet"
    start, end = _span(t.clauses, m.start(), len(text))
    if _STORY.search(text, _span(t.sentences, m.start(), len(text))[0], m.start()):
        return "in a story"  # "昨晚看电视剧，里面一个老板…突然捂着胸口就倒下了"
    last_end = _span(t.clauses, max(m.start(), m.end() - 1), len(text))[1]  # the clause where the match ends
    clause = text[start:end]
    if _NEGATION.search(text, start, m.start()):
        return "negated"
    if _PAST.search(clause):
        return "past"
    if flag.chronic_ok:  # talk of self-harm: only what someone else might say ("如果身边的人说想自杀") is discounted
        if re.search(_IF, clause) and not _said_by_patient(t, _span(t.sentences, m.start(), len(text))[0], m.start()):
            return "habitual or hypothetical"
        return None
    if flag.name == "unconscious" and _SLEEPY.search(clause):
        return "asleep"
    s_start, s_end = _span(t.sentences, m.start(), len(text))
    setting = _setting(t, s_start, m.start(), flag.transient)
    if setting == "past":
        return "set in the past"
    if setting == "habit" and not _IMMEDIATE.search(clause) and not _REALIZED.match(text, m.end()):
        return "habitual"
    if _over_after(t, m.end(), s_end) and not _ACTS_LATER.search(m.group()) \
            and not (flag.lasting and re.search(flag.lasting, m.group())):
        return "over"  # "发烧39度，吃了退烧药，烧退了"
    if _handled_after(text, m.end()):
        return "handled since"
    if _HANDLED.search(text, start, m.start()):
        return "a diagnosis"  # "医生说他是癫痫发作了": the doctor's word for what happened
    if _HABIT.search(clause) and not _IMMEDIATE.search(clause):
        return "habitual or hypothetical"
    if _CHRONIC.search(clause) and not (_ACUTE.search(clause) and not _HABITUAL.search(clause)) \
            and not _INTERVAL.search(m.group()) \
            and (_HABITUAL.search(clause) or not any(_WORSE.search(text, a, b) for a, b in t.clauses if a in (end + 1, last_end + 1))):
        return "intermittent"  # unless the clause after it (or after the match, when it runs on) says it is getting worse
    if _long_standing(text, s_start, s_end) and not _DURATION_OVERRIDE.search(clause) and not _UNLIKE_BEFORE.search(text, s_start, s_end) \
            and not _RED_COMPANION.search(text, s_start, s_end):
        return "long-standing"
    if flag.transient and _said_by_patient(t, s_start, m.start()):
        return "the patient is writing"
    if flag.sequela_of and not _NEW.search(clause) and _known_before(flag.sequela_of, t, m.start()):
        return "an after-effect"
    return None



# ---------------------------------------------------------------- the reading: events, who, when
@dataclass(frozen=True)
class Event:
    """One red-flag event read from a question: what (a RedFlag name), the words it was read from, who it
    happens to, and when: "now" (happening, or just happened and not over) or why not ("negated", "past",
    "over", "habitual or hypothetical", "a general question", "told again below" for a title...)."""
    flag: str
    said: str
    who: str  # "infant" | "child" | "pregnant" | "elderly" | "self" | "other" | "" (nobody named)
    when: str


_ELDERLY = r"(老人|老年|爷|奶|姥|外公|外婆|老太|老头|[6-9][0-9]岁)"
_EN_PERSON = re.compile(r"\b(?:(?P<self>i|me|my|myself)|(?P<infant>newborn|infant|baby)|"
                        r"(?P<child>toddler|child|kid|son|daughter|boy|girl)|(?P<elderly>grandma|grandpa|grandmother|"
                        r"grandfather|elderly)|(?P<pregnant>pregnant)|(?P<other>he|she|his|her|they|mom|dad|mother|father|"
                        r"husband|wife|friend|someone))\b")


def _who(t: _Text, at: int) -> str:
    """Who the event at `at` happens to: the last person named before it in its sentence (else before it,
    else the first after), told as an infant, a child, pregnant, elderly, the asker or someone else."""
    if _pet(t, at):
        return "pet"
    s_start, s_end = _span(t.sentences, at, len(t.text))
    person = None
    for start in (s_start, 0):
        person = next(reversed(list(_PERSON.finditer(t.text, start, at))), None)
        if person:
            break
    person = person or next(_PERSON.finditer(t.text, at), None)
    if not person:
        return ""
    around = t.text[s_start:s_end]
    if person.group("self"):
        return "pregnant" if re.search(_PREGNANT, around) and not _NEGATION.search(around) else "self"
    word = person.group("other")
    if re.search(_KID, word):
        return "infant" if re.search(_INFANT, around) and not re.search(_AGE_YEARS, around) else "child"
    if re.search(_ELDERLY, word):
        return "elderly"
    return "pregnant" if re.search(_PREGNANT, around) else "other"


def _pet_en(text: str, at: int) -> bool:
    """True when the last one named before `at` is an animal it happens to ("my dog is having trouble breathing"),
    not one that did it ("bitten by our dog")."""
    beings = [(p.end(), False) for p in _EN_PERSON.finditer(text, 0, at)] + [
        (a.end(), True) for a in _EN_PET.finditer(text, 0, at) if not re.search(r"\bby (a |an |the )?$", text[:a.start()])]
    return bool(beings) and max(beings)[1]


def _discount_en(m: re.Match, text: str, clauses: list[tuple[int, int]], chronic_ok: bool) -> str | None:
    """Why this match of an English pattern is not happening now (None: it may be): the same discounts."""
    start, end = _span(clauses, m.start(), len(text))
    if _pet_en(text, m.start()):
        return "a pet"
    if _EN_NEGATION.search(text[start:m.start()]):
        return "negated"
    if _EN_PAST.search(text[start:end]) or (not chronic_ok and _EN_PAST.search(text, m.end())
                                            and not _ACTS_LATER.search(m.group())):
        return "past"
    if not chronic_ok and _EN_HYPOTHETICAL.search(text[start:end]):
        return "habitual or hypothetical"
    if not chronic_ok and _EN_HABIT.search(text[start:end]) and not _EN_ACUTE.search(text[start:end]):
        return "intermittent"
    if not chronic_ok and _EN_IS_IT.search(text[start:end]) and _EN_LONG.search(text) and not _EN_ACUTE.search(text):
        return "intermittent"  # "twitching on and off for a week. is that some kind of seizure?"
    return None


def _who_en(text: str, at: int) -> str:
    person = next(reversed(list(_EN_PERSON.finditer(text, 0, at))), None) or next(_EN_PERSON.finditer(text, at), None)
    return "" if not person else "self" if person.group("self") else person.lastgroup


def _general(text: str, english: bool) -> set[str]:
    """The kinds of red flag ("emergency", "crisis") that the question asks about in general, saying nothing of
    now ("胸痛的原因有哪些", "what causes chest pain"); talk of self-harm counts unless nobody in it is the asker."""
    info, now, asker = (_EN_INFO, _EN_NOW, r"\b(i|me|my|myself)\b") if english else (_INFO, _NOW, r"(我|自己|活着)")
    if not info.search(text) or now.search(text):
        return set()
    return {"emergency"} if re.search(asker, text) else {"emergency", "crisis"}


def _not_the_one(flag: RedFlag, t: _Text) -> bool:
    """A red flag about someone in particular (an infant, a pregnancy) where nobody such is named, or "没有怀孕"."""
    if flag.name == "infant_fever" and re.search(_AGE_YEARS, t.text) and not re.search(_SERIOUS_CHILD, t.text):
        return True  # "3岁宝宝高烧": a child, not an infant
    if flag.name == "melena" and _BLACK_FROM_FOOD_OR_DRUG.search(t.text):
        return True  # "吃了铁剂后大便发黑": iron, bismuth or blood food blacken the stool
    if flag.name == "young_infant_fever" and _BELOW_FEVER.search(t.text) and not re.search(_HIGH, t.text) \
            and not re.search(_SERIOUS_CHILD, t.text):
        return True  # "22天宝宝，体温37.4度，精神很好": a temperature measured below a young infant's fever
    if flag.name == "stroke" and re.search(_KID, t.text) and re.search(_AGE_YEARS, t.text) and not _ACUTE.search(t.text):
        return True  # "孩子三岁了说话还口齿不清": how a child learns to speak, not a stroke
    return bool(flag.who) and not _named(flag.who, t)


class _Reading:
    """A normalized question ready to be read flag by flag: its clauses and sentences, and which kinds of red
    flag it asks about only in general. Events are read lazily, so triage stops at the first one happening now."""

    def __init__(self, text: str):
        self.text, self.english = text, is_english(text)
        self.t = None if self.english else _Text.of(text)
        self.en_clauses = [(m.start(), m.end()) for m in _EN_CLAUSE.finditer(text)] if self.english else []
        self.general = _general(text, self.english)

    def events(self, flag: RedFlag, i: int, with_who: bool = False):
        """The events read by pattern `i` of `flag`, each with when it happens ("now" or why not). A title is
        judged by the description after it when that mentions the same thing ("癫痫发作怎么办？…每次发作时…")."""
        text, t = self.text, self.t
        if self.english:
            for m in re.finditer(flag.english[i], text):
                when = _discount_en(m, text, self.en_clauses, flag.chronic_ok) or \
                    ("a general question" if flag.kind in self.general else "now")
                yield Event(flag.name, m.group(), _who_en(text, m.start()) if with_who else "", when)
            return
        matches = list(re.finditer(flag.patterns[i], text))
        told_below = t.title_end and any(m.start() >= t.title_end for m in matches)
        for m in matches:
            when = "told again below" if told_below and m.start() < t.title_end else _discount(flag, m, t) or "now"
            if when == "now" and flag.kind in self.general or (
                    when == "now" and self.general and not _said_by_patient(t, _span(t.sentences, m.start(), len(text))[0],
                                                                              m.start())):
                when = "a general question"  # "抑郁症的人为什么会有自杀的念头？我在写论文": not the asker's
            elif when == "now" and _not_the_one(flag, t):
                when = "not the one it is about"
            yield Event(flag.name, m.group(), _who(t, m.start()) if with_who else "", when)

    def patterns(self, flag: RedFlag) -> range:
        return range(len(flag.english if self.english else flag.patterns))

    def fires(self, flag: RedFlag) -> bool:
        """Every pattern of the flag has an event happening now (and the flag has patterns in this language)."""
        return bool(self.patterns(flag)) and all(any(e.when == "now" for e in self.events(flag, i))
                                                 for i in self.patterns(flag))


def read(question: str) -> list[Event]:
    """How the question is read: every red-flag event in it, with who and when (see the module docstring)."""
    r = _Reading(normalize(question))
    return [e for flag in RED_FLAGS for i in r.patterns(flag) for e in r.events(flag, i, with_who=True)]


def explain(question: str) -> list[tuple[str, str, str]]:
    """(flag, matched text, why it is discounted or "affirmed") for every red-flag match: for reviewing rules."""
    return [(e.flag, e.said, "affirmed" if e.when == "now" else e.when) for e in read(question)]


def _named(pattern: str, t: _Text) -> bool:
    """True when some match of `pattern` (who it happens to) is not negated: "没有怀孕" is no pregnancy."""
    return any(not _NEGATION.search(t.text, _span(t.clauses, m.start(), len(t.text))[0], m.start())
               for m in re.finditer(pattern, t.text))


def _fired(text: str) -> list[RedFlag]:
    """The red flags of which every pattern has an event happening now."""
    reading = _Reading(text)
    return [flag for flag in RED_FLAGS if reading.fires(flag)]


# Bleeding from within (vomited, coughed up, in the stool or urine, from the vagina) is not pressed on: what to do
# while waiting is to lie on the side and take nothing by mouth.
_BLEEDING_WITHIN = re.compile(r"((吐|呕|咳|咯|拉|便|尿)(了|出)?[^，。,]{0,6}血|黑便|柏油|阴道|下身|下面|月经|例假|卫生巾|"
                              r"vomit|throwing up|coughing up|stool|urine|vagina)", re.I)
BLEEDING_WITHIN_ADVICE = "让病人侧躺或平躺、保持安静，不要吃喝东西；记下出血的量和颜色（可拍照），带上正在用的药。"


def _advice(flag: RedFlag, text: str) -> str:
    """What to do while waiting, for this flag as this message tells it (bleeding from within is not pressed on)."""
    if flag.name == "bleeding" and _BLEEDING_WITHIN.search(text):
        return BLEEDING_WITHIN_ADVICE
    return flag.advice


# The learned reader names the kinds of the red-flag words set; a fit is told under the flag that covers it.
_FLAG_OF_KIND = {"seizure": "unconscious"}
_BY_NAME = {f.name: f for f in RED_FLAGS}


def fired(question: str) -> list[str]:
    """The names of the red flags the rules raise for `question` (the learned reader not asked)."""
    return [f.name for f in _fired(normalize(question))]


def _read_by_model(text: str) -> list[RedFlag]:
    """The red flag the learned reader (chat.urgent_reader) reads in a message the rules let pass, if any."""
    reader = urgent_reader.load()
    kind = reader.urgent(text) if reader is not None else None
    flag = _BY_NAME.get(_FLAG_OF_KIND.get(kind, kind)) if kind else None
    return [flag] if flag is not None else []


def _learned_notice(flag: RedFlag, text: str) -> Triage:
    """What the learned reader's flag says: the same call to act now, said as a possibility (no rule read the
    event; the reader has read wording like it), with the crisis lines for self-harm and no first-aid advice (the
    kind it names may be wrong); the answer goes on below."""
    english = is_english(text)
    parts = [f"⚠️ This may need urgent care ({flag.label_en or flag.name}). If it is happening now or getting worse, "
             f"{EMERGENCY_CALL_EN[0].lower()}{EMERGENCY_CALL_EN[1:]}"] if english else []
    parts.append(("" if english else "⚠️ ") + f"提醒：您描述的情况可能需要紧急处理（{flag.label}）。如果情况正在发生或在加重，"
                 + EMERGENCY_CALL)
    if flag.kind == "crisis":
        parts += ([CRISIS_LINE_EN] if english else []) + [CRISIS_LINES]
    return Triage("emergency", [f"{flag.name} (learned)"], [flag.label], "\n".join(parts))


def triage(question: str) -> Triage:
    """Which red flags the question raises (the rules, then the learned reader for what they let pass), and the
    message to show before anything else."""
    text = normalize(question)
    fired = _fired(text)
    if not fired:
        learned = _read_by_model(text)
        return _learned_notice(learned[0], text) if learned else Triage(None, [], [])
    english = is_english(text)
    crisis = any(f.kind == "crisis" for f in fired)
    emergencies = [f for f in fired if f.kind == "emergency"]
    parts = []
    if emergencies:
        if english:
            labels_en = ", ".join(dict.fromkeys(f.label_en or f.name for f in emergencies))
            parts.append(f"⚠️ This may be an emergency ({labels_en}). {EMERGENCY_CALL_EN}")
        labels = "、".join(dict.fromkeys(f.label for f in emergencies))
        parts.append(("" if english else "⚠️ ") + f"紧急提醒：您描述的情况可能是急症（{labels}）。{EMERGENCY_CALL}")
        advice = [_advice(f, text) for f in emergencies if f.advice]
        if advice:
            parts.append("等待救助时：" + "".join(dict.fromkeys(advice)))
    if crisis:
        if english:
            parts.append(("⚠️ " if not emergencies else "") + CRISIS_LINE_EN)
        parts.append(("⚠️ " if not emergencies and not english else "") + CRISIS_LINES)
    return Triage("crisis" if crisis else "emergency", [f.name for f in fired], [f.label for f in fired],
                  "\n".join(parts))
