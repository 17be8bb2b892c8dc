"""Red-flag triage: the first thing the pipeline does with a question, before any retrieval.

An emergency described in the present ("胸口压着痛、一直出冷汗", "嘴歪了说话不清楚", "孩子误吞了
药") gets "call 120 now" before anything else, whatever the KB says; talk of self-harm gets a crisis
line. The rules are plain regular expressions, because a triage that a reviewer cannot read line by
line cannot be trusted, and because it must work with no model and in microseconds.

A red-flag word alone is not an emergency: "去年运动后胸痛过一次", "没有胸痛", "胸痛的常见原因有
哪些" mention the same words. A match is discounted when it is negated right before it, when its
clause places it in the past or says it is over, or when the question asks about the condition in
general (what it is, its causes, prevention) with nothing saying it is happening now.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

EMERGENCY_CALL = "请立即拨打 120 急救电话，或马上去最近医院的急诊，不要等待线上答复。"
CRISIS_LINES = (
    "如果你正在想伤害自己，请现在就联系能帮助你的人：\n"
    "- 全国心理援助热线（希望24热线）：400-161-9995（24 小时）\n"
    "- 北京心理危机研究与干预中心：010-82951332（24 小时）\n"
    "- 有生命危险时请立即拨打 120 或 110。\n"
    "你并不孤单，也可以马上告诉身边一个信任的人，让他陪着你。"
)


@dataclass(frozen=True)
class RedFlag:
    name: str
    label: str  # what it may be, in the words shown to the user
    patterns: tuple[str, ...]  # every pattern must match (affirmed), in any order
    advice: str = ""  # one safe thing to do while waiting for help
    kind: str = "emergency"  # "emergency" | "crisis"
    chronic_ok: bool = False  # True: "for months" does not discount it (e.g. suicidal thoughts)


_CHEST = r"(胸痛|胸口.{0,4}(痛|疼|闷|压|发紧)|胸疼|心口(痛|疼)|心前区(痛|疼)|胸闷|胸部(剧痛|压榨))"
_CHEST_COMPANION = (r"(出汗|大汗|冷汗|冒汗|汗|左(臂|肩|胳膊)|下巴|后背|肩背|呼吸困难|喘不|濒死|恶心|呕吐|头晕|晕|"
                    r"剧烈|突然|撕裂|压榨|压着|石头|喘不上|持续|一直|超过|半小时|[0-9一二三四五六七八九十几]+分钟|不缓解|面色苍白)")
_MONTHS = r"([0-9]{1,2}|[一二两三四五六七八九十]{1,2})个(多)?月"
_KID = r"(宝宝|孩子|婴儿|小孩|儿子|女儿|娃)"
_INFANT = rf"(婴儿|新生儿|宝宝|小宝|婴幼儿|满月|奶娃|{_MONTHS}(大|的{_KID})|{_KID}(才|刚)?{_MONTHS})"
_YOUNG_INFANT = rf"(新生儿|满月|出生.{{0,6}}天|([0-3]|[一二两三])个(多)?月(大|的{_KID})|{_KID}(才|刚)?([0-3]|[一二两三])个(多)?月)"
_FEVER = r"(发烧|发热|高烧|高热|烧到|体温|烧了|烧得)"
_HIGH = r"(3[89](\.[0-9])?|4[0-2](\.[0-9])?|三十[八九]|四十|高烧|高热|烧得厉害|抽|惊厥|精神(很)?差|嗜睡|叫不醒|不吃奶|哭闹不止|烧.{0,4}不退)"

RED_FLAGS: tuple[RedFlag, ...] = (
    RedFlag("self_harm", "有伤害自己的想法", (
        r"(想死|不想活|自杀|轻生|寻死|结束(自己的?)?生命|了结自己|割腕|跳楼|跳河|上吊|一了百了|活着没(意思|意义)|"
        r"活不下去|伤害自己|自残|自伤|去死|不想再活|死了算了|离开这个世界|(安眠药|药).{0,8}(全吃|全部吃|一次吃|攒)|"
        r"吃多少.{0,10}(会死|能死|致死|致命|死人)|怎么死|(死|自杀).{0,4}(方法|不痛))",
    ), kind="crisis", chronic_ok=True),
    RedFlag("chest_pain", "胸痛伴出汗等，可能是急性心肌梗死等心脏急症", (_CHEST, _CHEST_COMPANION),
            "立即停止活动，坐下或半躺休息，不要自己开车去医院。"),
    RedFlag("heart_attack", "疑似急性心肌梗死", (r"(心梗|心肌梗|心脏病(犯|发作)|心绞痛.{0,4}(发作|不缓解))",),
            "立即停止活动，坐下或半躺休息，不要自己开车去医院。"),
    RedFlag("stroke", "疑似脑卒中（中风）", (
        r"(口角歪|嘴(巴)?(角)?歪|口眼歪|脸(突然)?.{0,3}歪|面瘫|(一侧|半边|半身|单侧|左侧|右侧|左边|右边)(的)?"
        r"(肢体|手|腿|胳膊|身体|脸|身子)?.{0,4}(无力|麻|不能动|动不了|没(有)?力|没劲|抬不起)|半身不遂|偏瘫|"
        r"说话.{0,4}(不清|含糊|不利索|大舌头)|口齿不清|言语不清|说不出话|突然(看不清|看不见|失明|眼前发黑|听不见)|"
        r"突然.{0,6}(走路不稳|站不稳|天旋地转)|中风|脑卒中|脑梗|脑出血|脑溢血)",
    ), "记下发病时间，让病人平躺、头偏向一侧，不要喂水喂药。"),
    RedFlag("breathing", "呼吸困难", (
        r"(呼吸困难|喘不(上|过)气|透不过气|上不来气|喘不动|憋气|憋得|憋死|窒息|(嘴唇|口唇|脸|嘴|指甲)(发)?(紫|青紫|发绀)|"
        r"呼吸(很)?(急促|费力|停止|不了)|不能呼吸|无法呼吸|喉咙(肿|堵|卡)|噎住|卡住.{0,6}(喉咙|气管|嗓子)|"
        r"(鱼刺|异物|东西|糖|果冻|硬币).{0,6}卡|哮喘.{0,8}(发作|不缓解|没用|喘不))",
    ), "让病人坐起、解开紧身衣物；有异物卡喉可用海姆立克法。"),
    RedFlag("bleeding", "大出血", (
        r"(大出血|出血不止|血流不止|止不住血|血止不住|流血不止|血(一直|还在|不停).{0,3}(流|出|冒)|"
        r"大量(的)?(出血|流血|呕血|吐血|便血|咯血|鲜血)|吐血|呕血|咯血|喷血|血.{0,2}喷|"
        r"(便血|拉血|尿血|黑便).{0,8}(很多|大量|一直|头晕|晕|心慌)|(阴道|下身|下面).{0,6}(大量|很多|不停).{0,3}(出血|流血)|"
        r"(流血|出血|血).{0,8}(很多|好多|一大摊|湿透|止不住|不止))",
    ), "用干净的布用力持续按压出血处，不要松开查看。"),
    RedFlag("poisoning", "中毒或误服", (
        r"(误服|误食|误吞|误喝|吞(下|了)|喝(了|下).{0,8}(农药|百草枯|敌敌畏|消毒|洗洁精|漂白|84|洁厕|酒精|甲醇|老鼠药|杀虫)|"
        r"(吃|服)(了|下).{0,10}(一整瓶|一瓶|整瓶|一板|整板|一盒|整盒|很多片|一把|[0-9十几二三四五六七八九]+片.{0,4}(安眠|降压|退烧))|"
        r"(吃|服)(错|多)(了)?药|过量服用|服药过量|吃药过量|(被|让).{0,3}(毒)?蛇咬|毒蘑菇|野蘑菇|煤气中毒|一氧化碳中毒|"
        r"(食物|农药|药物|酒精|药)?中毒了|中毒.{0,4}(怎么办|急救)|(煤气|燃气|天然气).{0,4}(泄漏|漏了).{0,10}(晕|恶心|头疼|头痛|昏))",
    ), "保留药瓶或毒物包装带去医院；不要自行催吐或喂东西，除非医生指导。"),
    RedFlag("infant_fever", "婴幼儿高热", (_INFANT, _FEVER, _HIGH), "尽快带孩子去医院急诊；不要捂汗。"),
    RedFlag("young_infant_fever", "三个月内婴儿发热", (_YOUNG_INFANT, _FEVER), "尽快带孩子去医院急诊；不要捂汗。"),
    RedFlag("very_high_fever", "高热", (r"(4[0-2](\.[0-9])?|四十(一|二)?)\s*(度|℃|°)",), ""),
    RedFlag("unconscious", "意识障碍或抽搐", (
        r"(昏迷|昏倒|晕倒|晕过去|不省人事|叫不醒|叫不应|意识(不清|模糊|丧失)|神志不清|没(有)?了?意识|抽搐|抽风|惊厥|"
        r"癫痫发作|口吐白沫|没(有)?(了)?(呼吸|心跳)|心跳停|没反应|休克|倒地)",
    ), "让病人侧躺、保持呼吸道通畅，不要往嘴里塞东西；没有呼吸心跳时立即胸外按压。"),
    RedFlag("anaphylaxis", "严重过敏反应", (
        r"(过敏.{0,14}(喉咙|呼吸|喘|憋|全身.{0,3}(肿|疹|红)|嘴唇肿|舌头肿|脸.{0,2}肿|眼睛肿|休克|头晕|晕)|喉头水肿|过敏性休克)",
    ), "立即停用可疑的药物或食物；有医生开的肾上腺素笔时按说明使用。"),
    RedFlag("trauma", "严重外伤", (
        r"(车祸|高处(坠落|摔)|从.{0,8}(摔下|掉下|坠落|跌落)|骨头.{0,3}(露|戳)|大面积(烧伤|烫伤)|严重(烧伤|烫伤)|"
        r"(头|脑袋).{0,6}(撞|摔|磕).{0,12}(吐|呕|昏|晕|意识|出血)|触电|溺水|被.{0,4}(砍|捅)|刀.{0,4}(很深|扎))",
    ), "不要随意搬动伤者（怀疑颈椎或脊柱受伤时尤其如此），按压止血。"),
    RedFlag("thunderclap_headache", "突发剧烈头痛", (
        r"((突然|剧烈|炸裂|撕裂|这辈子最|从来没(有)?这么|从未).{0,6}(头痛|头疼)|(头痛|头疼).{0,8}(剧烈|炸|喷射|脖子(僵|硬)|呕吐))",
    ), ""),
    RedFlag("acute_abdomen", "急腹症", (
        r"((剧烈|绞痛|疼得打滚|痛得打滚|难忍|受不了|刀割).{0,6}(腹痛|肚子(痛|疼))|(腹痛|肚子(痛|疼)).{0,8}(剧烈|打滚|难忍|受不了|硬|板)|"
        r"宫外孕)",
    ), "暂时不要吃东西喝水，不要自行服止痛药掩盖病情。"),
    RedFlag("pregnancy", "孕期急症", (
        r"(怀孕|孕妇|孕期|孕[0-9一二三四五六七八九十]+周|孕晚期|孕早期|孕中期)",
        r"(出血|流血|破水|羊水|胎动(消失|减少|没了)|抽搐|剧烈.{0,2}(腹痛|头痛)|肚子.{0,2}(剧痛|疼得))",
    ), "立即去有产科的医院急诊。"),
)

# Words that discount a red-flag match (see the module docstring).
_NEGATION = re.compile(r"((?<!有)没有|(?<!有)没|无|(?<!是)不|未|否认|并非)[^，。,；;！？!?]{0,2}$")  # not "是不是", "有没有"
_PAST = re.compile(r"(去年|前年|几年前|多年前|年前|小时候|以前|曾经|上个月|上月|上次|那次|当年|早年|月前|"
                   r"已经好了|现在好了|早就好了|已经好转|已经恢复|已痊愈|已经不|现在没事|后来好了|早就没事)")
_CHRONIC = re.compile(r"(好几个月|几个月了|好几年|多年|几年了|很多年|长期|经常|反复|偶尔|一直都|老毛病|[0-9一两三四五六七八九十]+年了)")
_INFO = re.compile(r"(是什么|什么是|有哪些|哪些|原因|为什么|为何|怎么预防|如何预防|预防|区别|的症状|表现|科普|机制|"
                   r"病因|概率|发病率|死亡率|能治好|后遗症|康复|护理|饮食|怎么检查|做什么检查|多久能好|"
                   r"影响|会不会|会引起|能引起|遗传|传染|急救知识|怎么急救|如何急救|常识|知识|了解|介绍|定义|统计|电影|小说|新闻|"
                   r"哪个|哪国|率)")
_NOW = re.compile(r"(现在|正在|突然|刚才|刚刚|此刻|马上|赶紧|快|一直|越来越|止不住|救命|急(?![救性诊])|怎么办|在医院|送医|打120|"
                  r"[0-9一二两三四五六七八九十半几]+(分钟|小时|个小时)|今天|今晚|今早|昨晚|昨天)")
_CLAUSE = re.compile(r"[^。！？!?；;，,\n]+")


@dataclass
class Triage:
    level: str | None  # "emergency" | "crisis" | None
    flags: list[str]  # RedFlag names that fired
    labels: list[str]
    message: str = ""

    @property
    def urgent(self) -> bool:
        return self.level is not None


def normalize(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "").lower()


def _affirmed(pattern: str, text: str, clauses: list[tuple[int, int]], chronic_ok: bool) -> bool:
    """True when some match of `pattern` is not negated, not in the past and (unless chronic_ok) not chronic."""
    for m in re.finditer(pattern, text):
        start, end = next(((a, b) for a, b in clauses if a <= m.start() < b), (0, len(text)))
        before = text[start:m.start()]
        clause = text[start:end]
        if _NEGATION.search(before):
            continue
        if _PAST.search(clause):
            continue
        if not chronic_ok and _CHRONIC.search(clause) and not re.search(r"(突然|剧烈|越来越|加重)", clause):
            continue
        return True
    return False


def triage(question: str) -> Triage:
    """Which red flags the question raises, and the message to show before anything else."""
    text = normalize(question)
    clauses = [(m.start(), m.end()) for m in _CLAUSE.finditer(text)]
    generic = bool(_INFO.search(text)) and not _NOW.search(text)
    fired = []
    for flag in RED_FLAGS:
        if generic and flag.kind == "emergency":
            continue
        if generic and flag.kind == "crisis" and not re.search(r"(我|自己|活着)", text):
            continue
        if all(_affirmed(p, text, clauses, flag.chronic_ok) for p in flag.patterns):
            fired.append(flag)
    if not fired:
        return Triage(None, [], [])
    crisis = any(f.kind == "crisis" for f in fired)
    emergencies = [f for f in fired if f.kind == "emergency"]
    parts = []
    if emergencies:
        labels = "、".join(dict.fromkeys(f.label for f in emergencies))
        parts.append(f"⚠️ 紧急提醒：您描述的情况可能是急症（{labels}）。{EMERGENCY_CALL}")
        advice = [f.advice for f in emergencies if f.advice]
        if advice:
            parts.append("等待救助时：" + "".join(dict.fromkeys(advice)))
    if crisis:
        parts.append(("⚠️ " if not emergencies else "") + CRISIS_LINES)
    return Triage("crisis" if crisis else "emergency", [f.name for f in fired], [f.label for f in fired],
                  "\n".join(parts))
