"""Which section a question asks about, read from its wording ("副作用" -> 不良反应, "挂什么科" -> 就诊科室).

One table of cues serves three uses: intent detection, BM25 document expansion (a 不良反应 passage
is also indexed under 副作用) and the dense "section phrase" every passage vector carries. A cue may
mean different sections for different entity types ("不能吃" is 禁忌 for a drug, 忌吃 for a disease),
so the table maps cue -> {entity type: sections}; "*" means any type.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from kb.records import ENTITY_TYPES
from retriever.words import COST_WORDS

# (sections, entity types, cues). The first section of a row is the main one; the others are
# acceptable answers too, in that order. Longer cues win over the shorter cues they contain.
CUES: list[tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = [
    # drugs
    (("适应症",), ("drug",), ("适应症", "适应证", "主治", "功能主治", "治什么", "治疗什么", "治啥", "能治", "可以治",
                             "治哪些", "治疗哪些", "用于治疗", "用于", "有什么用", "有啥用", "干什么用", "干什么的",
                             "干嘛用", "什么作用", "作用是", "是什么药", "管什么", "适用于", "适用", "治什么病",
                             "对什么病", "功效", "治疗作用")),
    (("用法用量",), ("drug",), ("用法", "用量", "剂量", "怎么吃", "怎么服", "怎么用", "如何服用", "如何使用", "如何用",
                               "吃多少", "服多少", "用多少", "一次几", "一次吃", "一天几次", "一日几次", "吃几次",
                               "几粒", "几片", "服用方法", "使用方法", "吃几", "怎么服用", "怎样服用", "多久吃一次",
                               "饭前", "饭后")),
    (("不良反应",), ("drug",), ("不良反应", "副作用", "副反应", "毒副", "伤身", "伤肝", "伤胃", "危害", "有害",
                               "反应")),
    (("禁忌",), ("drug",), ("禁忌", "禁用", "不能用", "不能吃", "不可以用", "不可以吃", "哪些人不能", "什么人不能",
                           "不宜", "不适合", "禁止")),
    (("注意事项",), ("drug", "exam"), ("注意事项", "注意什么", "要注意", "需要注意", "注意点", "警告", "慎用",
                                      "小心什么")),
    (("药物相互作用",), ("drug",), ("相互作用", "一起吃", "一起用", "一块吃", "同时吃", "同时服", "同时用", "同服",
                                   "合用", "联用", "配伍", "搭配", "混着吃", "和其他药")),
    (("孕妇及哺乳期妇女用药",), ("drug",), ("孕妇", "怀孕", "妊娠", "哺乳", "喂奶", "孕期", "备孕", "孕妈")),
    (("儿童用药",), ("drug",), ("儿童", "小孩", "孩子", "宝宝", "婴儿", "婴幼儿", "小朋友")),
    (("老年用药",), ("drug",), ("老人", "老年", "老年人")),
    (("成份",), ("drug",), ("成份", "成分", "组成", "含有", "含什么", "配方", "主要成分", "里面有什么")),
    (("规格",), ("drug",), ("规格", "一盒", "一片多少", "多少毫克", "包装规格")),
    (("贮藏",), ("drug",), ("贮藏", "储存", "存放", "保存", "储藏", "放冰箱", "怎么放")),
    (("药理毒理",), ("drug",), ("药理", "原理", "机制", "作用机制", "怎么起作用", "毒理")),
    (("药代动力学",), ("drug",), ("药代", "半衰期", "代谢", "吸收", "排泄")),
    (("药物过量",), ("drug",), ("过量", "吃多了", "超量", "吃太多")),
    (("性状",), ("drug",), ("性状", "什么颜色", "什么样子", "外观", "长什么样")),
    (("有效期",), ("drug",), ("有效期", "保质期", "过期")),
    (("分类", "用途分类", "药品监管分级"), ("drug",), ("什么类", "哪类药", "哪一类", "属于什么药", "分类", "处方药",
                                                 "非处方")),
    # diseases
    (("概述",), ("disease", "exam"), ("是什么病", "什么是", "是什么", "介绍", "概述", "简介", "怎么回事", "是啥")),
    (("症状", "临床症状及体征"), ("disease",), ("症状", "表现", "征兆", "症候", "前兆", "什么感觉", "会怎样",
                                             "会怎么样", "迹象", "特征", "体征", "不舒服", "有什么反应")),
    (("检查",), ("disease",), ("检查", "化验", "查什么", "做什么检查", "怎么诊断", "诊断", "确诊", "查出", "检测",
                              "检查什么", "查哪些")),
    (("常用药物", "相关药物"), ("disease",), ("用药", "吃什么药", "用什么药", "什么药", "药物", "哪些药", "吃药",
                                           "药物治疗", "买什么药", "用哪些药", "吃啥药", "哪种药",
                                           "药有哪些", "药有什么", "药都有哪些")),  # "治疗高血压的药有哪些"
    (("就诊科室",), ("disease",), ("科室", "挂什么科", "挂哪个科", "挂号", "哪个科", "什么科", "看什么科", "看哪个科",
                                  "去哪看", "哪科", "就诊", "哪家医院", "医院哪家", "哪个医院", "什么医院", "哪里治", "去哪里看", "哪里看",
                                  "哪家好", "哪一家", "哪家", "医院有哪些", "什么医院好")),
    (("并发症",), ("disease",), ("并发症", "并发", "引起什么", "导致什么", "会引起", "会导致", "后果", "危害",
                                "引发什么", "合并")),
    (("病因",), ("disease",), ("病因", "原因", "什么原因", "为什么会", "为什么得", "怎么引起", "怎么得的", "怎么会", "诱因",
                              "引起的", "导致的", "由什么", "怎么得", "成因", "什么引起", "发病机制")),
    (("预防",), ("disease",), ("预防", "怎么防", "如何防", "避免", "防止", "怎样防")),
    (("易感人群",), ("disease",), ("易感", "容易得", "什么人容易", "哪些人容易", "好发", "高发人群", "多发",
                                  "什么人会得", "哪些人会得", "人群")),
    (("传播途径", "传染性"), ("disease",), ("传染", "传播", "会传给", "传人")),
    (("治疗方式",), ("disease",), ("怎么治", "怎么治疗", "如何治疗", "治疗方法", "治疗方式", "怎么办", "疗法", "手术",
                                  "救治", "医治", "怎么调理", "如何调理", "缓解", "能好", "治好", "根治", "咋治",
                                  "咋办", "怎么弄",
                                  "怎样治疗", "如何治", "治疗手段", "治疗方案", "样的治疗")),
    (("治疗周期",), ("disease",), ("多久能好", "多长时间", "多久好", "治疗周期", "疗程", "要多久", "几天能好",
                                  "多久才能好")),
    (("治愈率",), ("disease",), ("治愈率", "能治好", "能治愈", "能根治", "治得好", "好治吗", "能好吗")),
    (("发病率",), ("disease",), ("发病率", "常见吗", "多见吗", "患病率")),
    (("医保",), ("disease",), ("医保", "报销")),
    (("治疗费用",), ("disease",), COST_WORDS + ("要花",)),
    (("护理",), ("disease",), ("护理", "照顾", "注意什么", "要注意", "需要注意", "日常注意", "注意的事",
                            "注意哪些")),
    (("饮食",), ("disease",), ("饮食", "食疗", "食谱", "吃什么", "怎么吃")),
    (("宜吃", "饮食"), ("disease",), ("宜吃", "吃什么好", "适合吃", "多吃什么", "能吃什么", "吃哪些", "补什么",
                                    "推荐吃")),
    (("忌吃", "饮食"), ("disease",), ("忌吃", "不能吃什么", "不能吃", "忌口", "少吃", "不宜吃", "忌食", "不要吃",
                                    "别吃")),
    (("常见发病部位",), ("disease",), ("部位", "长在", "长哪里", "哪里长")),  # (not "医院是哪里": where to go)
    (("ICD10",), ("disease",), ("ICD", "编码")),
    # exams
    (("临床意义", "相关疾病"), ("exam",), ("临床意义", "意义", "检查什么", "查什么", "用于检查", "用于", "能查出", "诊断什么",
                                        "偏高", "偏低", "升高", "降低", "异常", "说明什么", "用来", "查的是",
                                        "有什么用", "干什么的")),
    (("正常值",), ("exam",), ("正常值", "正常范围", "参考值", "参考范围", "多少正常", "正常是多少", "正常多少")),
    (("相关疾病", "临床意义"), ("exam",), ("相关疾病", "什么病", "哪些病", "哪些疾病", "什么疾病")),
    (("相关症状",), ("exam",), ("相关症状", "什么症状", "哪些症状")),
    (("检查过程",), ("exam",), ("过程", "怎么做", "流程", "步骤", "疼不疼", "痛不痛")),
]

# Ways of asking that read as a section but say nothing about the section's text: they are read in
# questions only, never added to what a passage is indexed under (BM25 expansion, dense section phrase).
QUESTION_ONLY_CUES: list[tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = [
    (("注意事项", "检查过程"), ("exam",), ("空腹", "禁食", "憋尿", "检查前", "抽血前", "能喝水", "能吃饭", "吃早饭", "吃早餐")),
    (("概述", "检查"), ("disease",), ("才算", "诊断标准", "标准是", "多少算", "怎么判断", "如何判断", "怎么确定")),
    (("适应症",), ("drug",), ("适应病症", "适应病", "什么情况下可以用", "什么情况下能用", "什么情况下用", "什么情况可以用")),
    (("症状", "检查"), ("disease",), ("怎么知道自己是不是", "怎么知道是不是", "如何知道自己是不是", "如何知道是不是",
                                    "怎样知道自己是不是", "怎么知道自己得了", "怎么知道得了")),
    (("临床意义", "相关疾病"), ("exam",), ("为什么要做", "为啥要做", "为什么做", "为什么要查", "为啥要查", "做的目的",
                                        "检查目的", "有什么必要")),
    # how to live with it: exercise, and salt ("高血压什么运动比较好", "有高血压不能够吃钠？"): where an entry says
    # it is its prevention, care and diet text, not its definition
    (("预防", "护理", "饮食"), ("disease",), ("运动", "锻炼", "什么活动", "活动最好", "健身", "跑步", "慢跑", "快走", "游泳", "散步", "太极")),
    (("饮食", "忌吃", "预防"), ("disease",), ("吃盐", "食盐", "盐分", "少盐", "钠", "咸")),
]

# Ways people ask about a drug that name no section ("甲硝唑吃了能喝酒吗", "布洛芬一次吃了6粒会怎么样"): read
# only when a drug is named and no cue above matched.
DRUG_QUESTIONS: tuple[tuple[tuple[str, ...], re.Pattern], ...] = (
    (("药物过量", "用法用量"), re.compile(r"(一次|一下子|一口气|一共|不小心|多)(吃|服|喝|用)了?\s*[0-9一二两三四五六七八九十几]+\s*"
                                       r"(粒|片|颗|袋|支|瓶|板|盒|包)|吃(多|过量)了|多吃了")),
    (("注意事项", "药物相互作用", "禁忌"), re.compile(r"(喝酒|饮酒|酒精|喝了酒|喝点酒|抽烟|吸烟|开车|驾驶)")),
    (("用法用量",), re.compile(r"(怎么冲|冲服|冲泡|怎么泡|泡水|怎么喷|怎么涂|怎么擦|用多久|吃多久|多长时间吃|空腹|饭前|饭后)")),
    (("不良反应",), re.compile(r"(会[^，。？?！!]{1,8}(吗|么|不)|犯困|嗜睡|掉头发|伤肾|伤肝|依赖|成瘾|上瘾|发胖|长胖)")),
    (("禁忌", "注意事项"), re.compile(r"(能|可以|可不可以|能不能)(吃|用|服|喝|打)")),
)


def drug_question_intents(text: str) -> list[str]:
    """The sections a drug question without a section cue asks for ([] when none of the ways above)."""
    for sections, pattern in DRUG_QUESTIONS:
        if pattern.search(text):
            return list(sections)
    return []
# Cues that only say "tell me about it": they count when the question names no other section, so
# "X是什么原因引起的" asks for 病因, not for 概述 and 病因.
WEAK_CUES = {"是什么", "什么是", "是啥", "怎么回事", "介绍", "是什么病"}

# cue -> {type: [sections]} (one cue may appear in several rows: "注意什么" for drugs and diseases)
_CUE_MAP: dict[str, dict[str, list[str]]] = {}
for _sections, _types, _cues in CUES + QUESTION_ONLY_CUES:
    for _cue in _cues:
        for _t in _types:
            found = _CUE_MAP.setdefault(_cue.lower(), {}).setdefault(_t, [])
            found += [s for s in _sections if s not in found]



@lru_cache(maxsize=16)
def _cue_pattern(types: tuple[str, ...]) -> re.Pattern:
    """The cues that mean something for `types`, longest first, so that at any position the longest
    cue that matters wins ("哪些症状" is an exam cue; asked about a disease, "症状" must match instead)."""
    cues = [c for c, by_type in _CUE_MAP.items() if any(t in by_type for t in types)]
    return re.compile("|".join(re.escape(c) for c in sorted(cues, key=len, reverse=True)))

def cue_pattern() -> re.Pattern:
    """Every cue of every type, longest first (to take cues out of a question's residue)."""
    return _cue_pattern(ENTITY_TYPES)


# The words a section goes by, for BM25 expansion and the dense section phrase ("不良反应 副作用 副反应").
SECTION_WORDS: dict[str, list[str]] = {}
for _sections, _types, _cues in CUES:
    words = SECTION_WORDS.setdefault(_sections[0], [_sections[0]])
    words += [c for c in _cues[:4] if c not in words]


def section_cues(section: str, limit: int = 12) -> list[str]:
    """The section's name and the ways questions ask for it (for the dense section embedding)."""
    cues = [section]
    for sections, _types, row_cues in CUES:
        if sections[0] == section:
            cues += [c for c in row_cues if c not in cues and c not in WEAK_CUES]
    return cues[:limit]


def section_phrase(section: str) -> str:
    """What a section is called in questions, for embedding: the kind itself and its first few cues."""
    return " ".join(SECTION_WORDS.get(section, [section])[:4])


def expansion_terms(section: str) -> list[str]:
    """Words to index a passage of `section` under besides its text (BM25 document expansion)."""
    return SECTION_WORDS.get(section, [section])[:4]


# "Which disease is it?": the question describes and asks us to name ("咳嗽、发热、气促是什么病？").
_WHICH_DISEASE = re.compile(r"(?:得了|患了|可能|会是|属于)?(?:是|得)?(?:什么|哪种|哪一种|哪类|啥)(?:病|疾病|毛病)")
# Words that frame such a question without describing anything.
_FILLER = re.compile(r"[我你他她还又也和与及、，,。.？?！!；;：:\s]|出现|总是|经常|老是|有点|有些|一直|最近|感觉|觉得|请问|"
                     r"医生|怎么|回事|了|的|是|有|会|得")


# ... unless the disease asked for is what a named drug treats or an exam finds ("能治什么病", "能查出什么病").
_ABOUT_SUBJECT = re.compile(r"(?:治|查|防|疗|诊断|用于|查出|检查|引起|导致|引发|并发)(?:哪些|什么|哪种|啥)(?:病|疾病)")


def asks_which_disease(masked_question: str, mentions: int) -> bool:
    """True when the question describes symptoms and asks which disease it is, rather than asking
    about a disease it names: "头痛恶心是什么病" (describes) vs "百日咳是什么病" (names). `masked_question`
    has the linked names blanked out; `mentions` is how many distinct entities were linked."""
    if not _WHICH_DISEASE.search(masked_question) or _ABOUT_SUBJECT.search(masked_question):
        return False
    rest = _FILLER.sub("", _WHICH_DISEASE.sub("", masked_question))
    return mentions != 1 or len(rest) >= 2


def detect_intent(question: str, entity_types: Iterable[str] | None = None, last_first: bool = False) -> list[str]:
    """Section kinds the question asks about, most likely first ([] when it names none).

    `entity_types` are the types of the entities linked in the question: cues are read for those
    types only ("不能吃" asked about a drug is 禁忌). Mask the entity names out of the question
    first, or "小儿感冒颗粒" would read as a question about 儿童用药. With `last_first` (one asking
    clause), the cue nearest the end of the clause comes first: a Chinese question ends in what it asks
    ("糖尿病引起的瘙痒用什么药" asks 常用药物, not 病因).
    """
    types = tuple(t for t in ENTITY_TYPES if t in set(entity_types or ())) or ENTITY_TYPES
    found: list[str] = []
    weak: list[str] = []
    matches = list(_cue_pattern(types).finditer(question.lower()))
    for m in reversed(matches) if last_first else matches:
        into = weak if m.group(0) in WEAK_CUES else found
        by_type = _CUE_MAP[m.group(0)]
        for t in types:
            for section in by_type.get(t, ()):
                if section not in into:
                    into.append(section)
    return found or weak
