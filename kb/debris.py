"""Debris: an item or sentence a source holds that is not a statement, so never a claim or a list item.

CMeKG's items are phrases a model cut out of label text ("剂量", "双盲", "安慰剂对照", "4.4%", "减轻成人",
"可的松为首选药物"); the xywy crawl truncates ("腓肠肌强直收缩...") and leaves clauses ("为黄色或黄绿色",
"如不规则低热或高热等"). `debris()` says what a piece is, or None for a statement; it is the one test,
used by the readers (kb/formats: fixable at ingest), when passages are built (retriever/passages.py:
the rest), and by `kb lint` (to count and show it).
"""

from __future__ import annotations

import re

# Categories, in the order lint reports them.
FRAGMENT = "fragment"  # under MIN_CHARS characters of content, or a bare number, dose or percentage
HEADING = "heading"  # a heading or study-design word, not a finding (剂量, 用法, 双盲, 安慰剂对照, 年龄)
CUT = "cut clause"  # starts or ends mid-clause (为…, 也…, …的, …和, "…", "减轻成人"), or a truncated crawl item
ETC = "subjectless 等 list"  # "如不规则低热或高热等": examples with nothing they are examples of
HTML = "html remnant"  # tags and entities of the crawled page
CATEGORIES = (FRAGMENT, HEADING, CUT, ETC, HTML)

MIN_CHARS = 2

HEADING_WORDS = frozenset("""
剂量 用法 用量 用法用量 疗程 给药 剂型 规格 成份 成分 辅料 名称 适应症 适应证 禁忌 禁忌症 不良反应 副作用 注意事项
药物相互作用 相互作用 临床试验 药理 毒理 对照 对照组 治疗组 双盲 单盲 开放 随机 随机化 多中心 安慰剂 安慰剂对照
年龄 性别 患者性别 种族 体重 生命体征 用药种类 常规生化 报告频率 严重 严重的 很可能 可能有关 不需停药 其他 其它 等
一般 少见 罕见 偶见 常见 较少见 十分罕见 非常罕见 敏感 病因 症状 预防 概述 治疗 护理 诊断 检查 饮食
""".split())
# Words the xywy crawl lists among symptoms that are link texts of its page, not findings a person reports
# ("地点", "婚姻", "溺水" under 癫痫): a heading of the page wherever a finding is expected.
PAGE_WORDS = frozenset("感觉 紧张 外伤 脑外伤 婚姻 地点 溺水 烫伤 拍手 摸索 擦脸 吞咽 咀嚼 咂嘴 自主神经 智力 情绪 "
                       "压力 性格 行为 饮食 睡眠 运动 工作 学习 生活 心理 家庭 环境 季节 天气 年龄 性别 消化 吸收 营养 排便 大便 小便 "
                       "月经 怀孕 妊娠 遗传 感染 神经 血管 细胞 病毒 细菌 器官 组织 实验室 X线表现".split())
# Department names: the items of 就诊科室, a heading word anywhere else ("产科[1]。" as an indication).
DEPARTMENTS = frozenset("产科 妇科 外科 内科 儿科 妇产科 急诊科 皮肤科 眼科 口腔科 耳鼻喉科 骨科 神经科 精神科".split())
DEPARTMENT_SECTION = "就诊科室"
# Sections whose items and sentences are findings or prose a person is told: the only ones checked. Values
# (规格 5mg, 有效期 36个月, 治愈率 90%, 治疗周期 1-6周), names (成份, 就诊科室) and foods (宜吃: 梨) are not statements
# to check; they are kept as written.
CHECKED_SECTIONS = frozenset({"适应症", "不良反应", "禁忌", "药物相互作用", "注意事项", "功效", "症状", "并发症", "检查",
                              "常用药物", "病因", "治疗方式", "相关疾病", "相关症状", "概述", "预防", "护理", "临床意义",
                              "孕妇及哺乳期妇女用药", "儿童用药", "老年用药", "药物过量"})
# Lists of findings, where an item with a predicate is a clause cut out of a sentence ("可的松为首选药物").
FINDING_LISTS = frozenset({"适应症", "不良反应", "禁忌", "症状", "并发症", "相关症状"})
STRICT_BELOW = 30  # sources ranked below curated (kb.authority: CMeKG, crawls) are extraction: every test applies

_HTML = re.compile(r"<\s*/?\s*[a-zA-Z][^>]{0,80}>|&(?:[a-zA-Z]{2,8}|#\d{2,5});")
_NUMBERISH = re.compile(r"^[\d.,%％~～\-—/\s]*(?:mg|g|ml|μg|ug|iu|u|毫克|克|毫升|微克|单位|周|天|日|个月|月|年|岁|次|例)?的?$",
                        re.IGNORECASE)
_DURATION = re.compile(r"^为期[\d一二三四五六七八九十两半]+")
# starts with a word that continues a clause before it
_CUT_START = re.compile(r"^(?:的|之|等|及|或|和|与|并|且|而|也|亦|即|则|但|又|还|就|为|如|若|以及|以致|甚至|进而|从而|"
                        r"或者|并且|而且|尤其|特别是|其|一些|适当的|同时|然后)")
# ends with a word that needs what follows
_CUT_END = re.compile(r"(?:的|之|和|与|及|或|并|而|在|对|被|把|使|将|以|于|由|向|从|如|伴|较|更|、|，|,|：|:|\.\.\.|…|"
                      r"引起|导致|出现|伴有|减轻|用于|适用于|包括)$")
_POPULATION_ONLY = re.compile(r"^[\u4e00-\u9fff]{1,3}(?:成人|儿童|小儿|患者|病人)$")  # "减轻成人"
_PARTNERLESS = re.compile(r"(?:合用|并用|联用|同用)$")  # "适当的抗结核化疗法合用": with what?
_PARTNER = re.compile(r"[与和同跟及]")
_INTERACTION = re.compile(r"^与.+(?:合用|同用|并用|联用)")  # "与华法林合用": an interaction item as labels write it
# a list item with a predicate is a clause cut out of a sentence ("可的松为首选药物", "常伴有其他不良症状",
# "呈持续性进行性加重趋势", "寒战等感染症状"), not a finding
_PREDICATE = re.compile(r"(?<=[\u4e00-\u9fff])(?:为首选|为主要|是|必须|应当|应予)|^(?:常伴有|伴有|均有|呈|每天|每次)|"
                        r"(?<=[\u4e00-\u9fff])等(?=[\u4e00-\u9fff])")
# A sentence that is a heading: a numbered short line naming a kind, a stage or a part of the entry ("(一)发病原因",
# "1、一般症状", "一、缓进型高血压", "(2)进展期胃癌"; not a numbered item: "1、宜吃含酪氨酸的食物") or a
# section's name as a line ("乙肝日常预防").
_NUMBERED_HEADING = re.compile(r"^[(（]?[一二三四五六七八九十\d]{1,2}[)）、.．]\s*(?=[^，,。；;：:的]*(?:型|期|症状|原因|机制|"
                               r"表现|分类|类型|诊断|治疗|预防|病因))[^，,。；;：:的]{1,14}[。]?$")
_NAMED_HEADING = re.compile(r"^[\u4e00-\u9fff]{0,8}(?:日常预防|发病原因|发病机制|临床表现|一般症状|治疗原则|鉴别诊断)[。]?$")
# A sentence that starts in the middle of one: "是采取一切有效措施…", "而不是一个独立的疾病…", "并可同时伴有…"
_SENTENCE_CUT_START = re.compile(r"^(?:是(?!否)|而(?!且)|并(?!发|非)|且)")
_ETC = re.compile(r"^(?:如|例如|比如|诸如|包括|像|譬如)[^。]*等(?:等)?[。；;]?$")
_CONTENT = re.compile(r"[\u4e00-\u9fffA-Za-z]")


def debris(text: str, *, sentence: bool = False, section: str = "", strict: bool = True) -> str | None:
    """The category of `text` when it is debris, else None. `sentence`: a sentence of free text (then
    only what no statement is: headings, fragments, subjectless lists, cut ends, page remnants), else an
    item of a list `section`. Not `strict` (a label's or curated text, written by people): only page
    remnants and empty or one-character pieces."""
    t = (text or "").strip()
    if _HTML.search(t):
        return HTML
    core = t.strip(" 。；;，,、：:.!！?？\"'“”‘’（）()[]【】")
    if not core or not strict and len(_CONTENT.findall(core)) < MIN_CHARS and not sentence and not core.isdigit():
        return FRAGMENT
    if not strict:
        return None
    if core in HEADING_WORDS or core in DEPARTMENTS and section != DEPARTMENT_SECTION:
        return HEADING
    if sentence and (_NUMBERED_HEADING.match(t) or _NAMED_HEADING.match(t)):
        return HEADING
    if section in FINDING_LISTS and core in PAGE_WORDS:
        return HEADING
    if _NUMBERISH.match(core) or _DURATION.match(core):
        return FRAGMENT
    if len(_CONTENT.findall(core)) < MIN_CHARS:
        return FRAGMENT
    if _ETC.match(core):
        return ETC
    if t.endswith(("...", "…")) or core.endswith(("...", "…")):
        return CUT
    if sentence:  # a lead-in ending in a colon is a sentence's start, not a cut
        end = t.rstrip()
        if _SENTENCE_CUT_START.match(core):
            return CUT
        return CUT if _CUT_END.search(end) and not end.endswith(("。", "！", "？", "；", "：", ":")) else None
    if _INTERACTION.match(core):
        return None
    if _CUT_START.match(core) or _CUT_END.search(core) or _POPULATION_ONLY.match(core):
        return CUT
    if section in FINDING_LISTS and _PREDICATE.search(core) and len(core) <= 20 and "，" not in core:
        return CUT
    if _PARTNERLESS.search(core) and not _PARTNER.search(core):
        return CUT
    return None


def strict_for(authority: int) -> bool:
    """Whether every test applies to a source of this rank (see STRICT_BELOW)."""
    return authority < STRICT_BELOW


def checked(section: str) -> bool:
    """Whether a section's items and sentences are checked at all (CHECKED_SECTIONS)."""
    return section in CHECKED_SECTIONS


def keep_items(items: list[str], section: str = "", strict: bool = True) -> tuple[list[str], list[tuple[str, str]]]:
    """(the items that are statements, [(category, item) dropped])."""
    kept, dropped = [], []
    for item in items:
        sentence = len(item) > 20 or "，" in item  # CMeKG's 注意事项 items are sentences: checked as such
        why = debris(item, sentence=sentence, section=section, strict=strict)
        if why:
            dropped.append((why, item))
        else:
            kept.append(item)
    return kept, dropped


_SENTENCE = re.compile(r"(?<=[。！？!?；;\n])")


# A sentence that is only a list ("全面强直—阵挛发作、…、地点、婚姻、自主神经"): its items are checked as items.
_LIST_SENTENCE = re.compile(r"^[^，,。；;：:]+(?:、[^，,。；;：:、]+){2,}[。；;]?$")


def keep_sentences(text: str, strict: bool = True, section: str = "") -> tuple[str, list[tuple[str, str]]]:
    """`text` without the sentences that are debris, and [(category, sentence or item) dropped]. In a list of
    findings (`section` in FINDING_LISTS), a sentence that is only a "、" list keeps only the items that are
    findings."""
    kept, dropped = [], []
    for part in _SENTENCE.split(text):
        if not part.strip():
            kept.append(part)
            continue
        why = debris(part, sentence=True, strict=strict)
        if why:
            dropped.append((why, part.strip()))
            continue
        if strict and section in FINDING_LISTS and _LIST_SENTENCE.match(part.strip()):
            end = part.rstrip()[-1] if part.rstrip()[-1] in "。；;" else ""
            items, gone = keep_items(part.strip().rstrip("。；;").split("、"), section, strict)
            dropped += gone
            if items:
                kept.append("、".join(items) + end + part[len(part.rstrip()):])
            continue
        kept.append(part)
    return "".join(kept).strip(), dropped
