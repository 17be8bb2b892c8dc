"""Word lists about how people ask, in one place: asking words, BM25's stopwords, words that are never
part of a name, and the words that deny.

The query analysis reads them (asking clauses, glued names, the residue of a question), the support
score reads the residue, the BM25 tokenizer drops the stopwords, and nothing else keeps its own copy.
"""

from __future__ import annotations

import re
from functools import lru_cache

HAN = re.compile(r"[\u4e00-\u9fff]+")
WORD_CHAR = re.compile(r"[\w\u4e00-\u9fff]")

# Words that say how a question is asked, not what it is about (removed to get a question's residue).
ASKING = (
    "请问", "请", "一下", "我想", "想知道", "想问", "问一下", "告诉我", "知道", "了解", "是什么", "是啥", "有哪些", "有什么",
    "哪些", "什么", "怎么样", "怎么", "如何", "得了", "患了", "患有", "去医院", "医院", "服用", "吃了", "用了", "怀疑",
    "早期", "大吗", "好吗", "好", "治疗", "做", "查", "看", "挂", "怎样", "为什么", "可以", "能不能", "能否", "能",
    "会不会", "会", "是否", "吗", "呢", "吧", "啊", "呀", "的", "了", "是", "有", "和", "与", "及", "我", "你", "他",
    "她", "它", "谁", "多少", "多久", "几", "哪", "要", "需要", "应该", "不", "没", "就", "都", "还", "也", "又", "这",
    "那", "个", "种", "些", "给", "对", "在", "用", "吃",
)
ASKING_WORDS = frozenset(ASKING) | {"一起", "什么样", "多长时间", "还是", "需不需要", "怎样才能", "如何才能", "才能"}

# Function words and question words that BM25 drops from passages and questions alike (jieba tokens; a
# change here needs `retriever build`). Content verbs of ASKING ("治疗", "查", "看") stay: passages use them.
BM25_STOPWORDS = frozenset(
    "的 了 是 吗 呢 吧 啊 呀 么 嘛 哦 和 与 及 或 在 对 把 被 给 从 向 也 都 就 还 又 而 但 并 着 过 得 地 之 其 该 此 "
    "这 那 这个 那个 这些 那些 什么 怎么 怎样 如何 哪些 哪个 哪 多少 几 有 没有 会 能 可以 可 要 需要 应该 请问 请 "
    "一下 我 你 他 她 它 我们 你们 他们 吃 用 是否 一个 一些 等 为 以 于 所 者 啥 咋 呗 不".split()
)

# A clause asks something when it has a question mark or one of these ("几年了" tells how long: "胃病几年了").
_QUESTION = re.compile(r"[？?]|吗|呢|什么|怎么|怎样|如何|哪|多少|多久|多长|(?<![这那前后好头近十])几[次天个粒片岁年月周](?!了)|是否|能否|可否|能不能|"
                       r"可不可以|会不会|要不要|需不需要|有没有|好不好|严不严重|咋|啥|为何|为什么|请问|请教|咨询")

# Never part of a drug or disease name: asking words, verbs of taking and doing, numbers and measure
# words, times, people. Characters glued to a name are cut at the first of these.
NON_NAME_GLUE = re.compile(
    r"[0-9０-９]|[一二三四五六七八九十两几半]+(个|次|粒|颗|袋|天|周|月|年|岁|片|小时)|[两几半]|岁|小时|时候|星期|"
    r"(月|天|年|周|星期)(前|后|来|多|以来)|"
    r"的|了|是|有|和|与|跟|及|或|能|会|怎|吃|喝|用|要|在|不|没|吗|呢|么|啥|什|哪|也|都|还|我|你|他|她|它|这|请|问|想|"
    r"咨询|控制|造成|引起|导致|证明|传染|感染|传给|染上|得了|患了|容易|部|男|女|孩子|宝宝|儿子|女儿|老公|老婆|妈妈|爸爸|父亲|母亲|爷爷|奶奶|患者|病人|医生|"
    r"最近|现在|今天|昨天|以前|之前|后来|期间|以后|以来|一直|经常|总是|老是|偶尔|有时|非常|特别")


@lru_cache(maxsize=1)
def asking_pattern() -> re.Pattern:
    return re.compile("|".join(re.escape(w) for w in sorted(ASKING, key=len, reverse=True)))


def is_asking_clause(clause: str) -> bool:
    """True when a clause asks something ("…能吃吗？", "怎么治疗") rather than tells the story."""
    return bool(_QUESTION.search(clause))

# Words that end whatever stands before a name ("得了", "孕妇", "吃"): what is left between them and the
# name, glued to it, is a modifier of a longer name ("嗜酸性" + 食管炎, "自身免疫性" + 脑炎).
BEFORE_NAME_STOP = re.compile(
    r"[0-9０-９]|的|了|是|得|患|有|我|你|他|她|和|与|跟|及|或|在|对|吃|用|服|喝|做|查|治|防|因|为|说|问|请|想|把|被|给|从|"
    r"孕妇|老人|小孩|孩子|宝宝|儿童|婴儿|老年人|病人|患者|男性|女性|妈妈|爸爸|老公|老婆|朋友|家人|最近|一直|经常|"
    r"这种|这个|那种|一种|常见|普通|轻微|轻度|严重|什么|怎么|如何|哪些|哪种|为什么|怀疑|诊断|确诊|禁用|慎用|避免|预防|"
    r"服用|使用|注射|口服|外用|治疗|检查|得了|患了|患有|咨询|您好|你好|医生|请问|知道|了解|包含|伴随|伴有|合并|阳性|阴性|"
    r"属于|关于|买|许多|西药|中药|还是|或者|以及|而且|并且|导致|引起|造成|控制|预防|证明|判断|"
    r"像|出现|发生|复发|发作|确诊为|诊断为|查出|检查出|引发|[才算就都还又再也会能要让使把到过着留下看]")

# Words of asking that say nothing about the content to look for ("效果", "方法", "严重").
GENERAL_FOCUS = re.compile(r"效果|方法|办法|情况|问题|医生|患者|病人|严重|影响|危害|好处|东西|时间|时候|现在|平时|一般|我家|想问|"
                           r"大概|比较|注意|治疗|救治|医治|恢复|能否|是否|应该|需要|可以|有效|见效|最好|正常|身体")
# "我在吃华法林": what follows names drugs the patient takes (context for safety, not the question's topic).
TAKING = re.compile(r"(?:在吃|正在吃|在服用|正在服用|一直吃|一直在吃|长期服用|长期吃|每天吃|在用|正在用|服用着|吃着|在打|吃了)"
                    r"([^，。,；;？?！!]{1,30})")

# Parts of the body and what it passes, said alone: where a complaint is, not a finding. "皮肤" or "白带" in a
# crawled symptom list names no condition (the findings index gives them no weight and never asks them), and a
# pain said with one of these has its site (chat.concern does not ask "where").
BODY_SITES = frozenset(
    "下巴 腋 腋下 腋窝 胳肢窝 头皮 头发 毛发 指甲 嘴唇 舌 舌头 龟头 包皮 阴茎 睾丸 阴囊 头 头部 额 额头 眼 眼睛 眼皮 耳 耳朵 鼻 鼻子 嘴 "
    "口腔 牙 牙齿 牙龈 喉 喉咙 咽 咽喉 颈 颈部 脖子 肩 肩膀 胸 胸部 胸口 乳 乳房 乳头 背 背部 后背 腰 腰部 腹 腹部 小腹 下腹 肚子 肚脐 面颊 脸颊 颊 子宫 宫颈 卵巢 输卵管 前列腺 "
    "胃 肋 手 手臂 手指 臂 肘 腕 指 腿 大腿 小腿 膝 膝盖 脚 足 踝 脚踝 臀 臀部 屁股 肛 肛门 阴 阴道 外阴 会阴 尿道 皮肤 脸 面部 "
    "面 关节 骨 骨头 肌肉 心 心脏 肝 肝脏 肾 肾脏 肺 嗓子 下身 私处 全身 四肢 躯干 淋巴结 血管 神经 "
    "白带 分泌物 血 血液 汗 汗液 尿 尿液 大便 小便 粪便 痰 唾液 口水 精液 乳汁".split())
BODY_SITE = re.compile("|".join(sorted(BODY_SITES, key=len, reverse=True)))
# Organs a person names as where a finding is ("甲状腺外科", "乳腺增生"): never a product's name stripped of its form
# (甲状腺片 is not what "甲状腺" names).
ORGANS = BODY_SITES | frozenset("甲状腺 甲状旁腺 乳腺 胆囊 胆 胰腺 胰 脾 脾脏 肠 肠道 大肠 小肠 结肠 直肠 膀胱 扁桃体 气管 支气管 "
                                "食管 食道 脑 大脑 小脑 骨髓 淋巴 肾上腺 垂体 胸腺 心肌 血液 眼球 视网膜 角膜 声带 鼻窦".split())
# A site said with a side or a part ("左侧大腿内侧", "面颊部", "腋下周围"): still only where.
_SITE_ONLY = re.compile(rf"^(左|右|双|两|左侧|右侧|双侧|两侧|一侧)?({BODY_SITE.pattern})+(内侧|外侧|两侧|部|处|周围|周|上|下|部位)?$")


def is_body_site(term: str) -> bool:
    """Whether `term` names only where (a part of the body, with a side or a part), not what."""
    return term in BODY_SITES or bool(_SITE_ONLY.match(term))
_AMBIGUOUS_SITES = frozenset("心 血 面 指 阴 头 胸 背 手 腹".split())  # (恶心, 出血, 面对, 指出, 阴性, 里头…) when alone


def body_sites(text: str) -> set[str]:
    """The body sites `text` names (a single character that is mostly part of other words left out)."""
    return {m.group(0) for m in BODY_SITE.finditer(text)} - _AMBIGUOUS_SITES


# "是不是糖尿病", "会不会是胃炎", "有没有发烧": the words before a name ask about it; a "不" or "没" inside them
# denies nothing (every reader of denials asks this first).
# After a name, what says tests ruled it out ("心脏、甲亢都没问题", "乙肝排除了"): a denied finding, not a topic.
RULED_OUT_AFTER = re.compile(r"[^，。,；;？?]{0,3}?(都|也)?(没问题|没有问题|没什么问题|正常|排除)(?![吗么嘛呢？?不]|了吗)")
# Ways of saying exercise ("慢跑还是快走", "什么活动最好"): a text says it as 运动 ("规律进行中等强度有氧运动").
EXERCISE = re.compile(r"(运动|锻炼|活动|健身|跑步|慢跑|快走|游泳|散步|太极|爬山|骑车|瑜伽)")
# Right before a name: the person wonders whether it is that ("是不是得了胃炎", "会不会是乙肝", "怀疑是"), not tells it.
WONDERED = r"(是不是|会不会|怀疑|是否|可能是|难道是)"
WONDERED_BEFORE = re.compile(rf"{WONDERED}(得了|是|患了|有)?$")
# Words that tell a disease was diagnosed or is being treated ("确诊为脑瘤", "医生说是宫腔粘连", "胃癌晚期"), as the
# complaint kinds (chat.complaints) read them.
DIAGNOSIS_TOLD = re.compile(r"(确诊|诊断(为|是|出)|查出|检查出|医生说(是|我|她|他|可能)|得了|患有|患了|患上|晚期|早期|术后|化疗|放疗|"
                            r"复查|在治疗|治疗当中)")
ASKING_BEFORE = re.compile(r"(是不是|会不会|有没有|是否|能不能|要不要|可不可能)[^，。,；;、？?]{0,4}$")

# Words that ask what care costs ("手术要多少钱", "医保能报销吗"): the concern (chat.concern), the line on what the KB
# does not hold (chat.support), a general question that is no emergency (chat.triage) and the 治疗费用 cue
# (retriever.intent) read the same words.
COST_WORDS = ("多少钱", "费用", "花费", "花多少", "贵不贵", "医保", "报销")


# Words for a child the message is about ("孩子", "宝宝", "娃"): chat.patient (who the patient is) and chat.triage
# (who an emergency happens to) build from this one list.
CHILD_WORDS = ("宝宝", "孩子", "婴儿", "小孩", "儿子", "女儿", "娃")


def sentence_before(text: str, at: int) -> str:
    """The part of `at`'s sentence before it (sentences end at 。！？ and a line break)."""
    return re.split(r"[。！？!?\n]", text[:at])[-1]


def alternation(words: tuple[str, ...]) -> str:
    """The regex group "(a|b|…)" of `words`, as written."""
    return "(" + "|".join(words) + ")"


# Words that deny what follows ("没有发烧", "不咳嗽", "无肿胀", "未发热", "否认胸痛", "并无不适"): the one list every
# reader of denials builds from (retriever.analysis, retriever.symptoms, chat.triage, chat.citations,
# chat.inquiry). Each keeps its own context (how far back it looks, what may stand between) and its own
# extras, added with `denial_alternation`. The spoken ones are those a plain reply starts with ("没有", "不").
DENIAL_SPOKEN = ("没有", "没", "不", "无")
DENIAL_WORDS = DENIAL_SPOKEN + ("未", "否认", "并无")
# The one-character denials, for a character class ("[没不无未]").
DENIAL_CHARS = "".join(w for w in DENIAL_WORDS if len(w) == 1)


def denial_alternation(extra: tuple[str, ...] = (), guards: dict[str, str] | None = None,
                       words: tuple[str, ...] = DENIAL_WORDS) -> str:
    """The regex group "(没有|没|不|…)": `words`, then a module's own `extra`, each after its lookbehind in
    `guards` ({"不": "(?<![是时])"} keeps "是不是", "时不时" out)."""
    guards = guards or {}
    return alternation(tuple(guards.get(w, "") + w for w in (*words, *extra)))
