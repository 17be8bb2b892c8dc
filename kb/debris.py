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
# An item of another kind than its list claims: a TCM action (功效: 活血, 清热解毒) among indications, a lab value
# or analyte (血糖升高, 单项ALT升高, γ—转肽酶) among the symptoms a person has (低血糖 and 高血糖 are states).
EFFICACY = "efficacy under indications"
LAB = "lab value under symptoms"
DISEASE = "disease under symptoms"
# What a person neither has nor reports, under the symptoms: a drug (利血平), a tissue change or mechanism
# (肝细胞脂肪性变, 胃黏膜充血水肿, 钙离子内流), a TCM pattern (胃阴虚), a cause told as a sentence ("主要由于…引起").
NOT_A_FINDING = "no finding under symptoms"
# Under 检查, a finding instead of a test ("皮疹", "皮损" under 尖锐湿疣's tests).
FINDING_AS_TEST = "finding under tests"
# A crawl's cure rate or course length ("乙肝的治愈率：0%", "高血压的治疗周期：1-3个月"): a number with no study, date
# or population behind it, which a person takes as their prognosis. Kept in the KB, never quoted.
STATISTIC = "unsourced statistic"
STATISTIC_SECTIONS = frozenset({"治愈率", "治疗周期"})
# A crawled page's promise ("中医整体治疗可以清除残存的癌细胞", "无毒副作用", "一次性治愈，永不复发"): advertising, which a
# person takes as a cure on offer. Never quoted from a source ranked below curated.
PROMOTION = "promotion"
_PROMOTION = re.compile(r"(可以根治|能根治|能够根治|彻底根治|根治率|彻底治愈|彻底治好|效果神奇|祖传|秘方|治愈率(高达|达到|可达)|"
                        r"我院|本院|无副作用|无毒副作用|一次性治愈|永不复发|不再复发|专家提醒|专家指出|专家表示|"
                        r"(中医|中药|偏方|秘方)[^。]{0,12}(可以|能够|能|可)(清除|根治|治愈|消除|杀灭|治好)|"
                        # a household remedy for a wound or a burn, and a promise of a quick cure ("小面积烫伤…立刻涂点
                        # 牙膏…1次即愈"): a burn covered in toothpaste keeps its heat and gets infected
                        r"涂(点|些|上|抹)?(牙膏|酱油|香油|麻油|醋|白酒|蛋清|蜂蜜|红药水|紫药水|草木灰)|"
                        r"[0-9一二两三]\s*次(即|就)(愈|好)|即可痊愈|药到病除|"
                        # the "acid body" claim ("平衡你的身体PH值…不管你得的是什么癌症都有转变和被治好")
                        r"(身体|体内|体液|血液)的?\s*(PH|pH|酸碱)值?|酸性体质|碱性体质|弱碱性(体质|身体)?|(什么|任何)癌症都)")
# A share of patients cured, told anywhere in a crawl's text ("可以有百分之六七拾的患者可以治疗痊愈"): a statistic too.
_CURE_SHARE = re.compile(r"(百分之|[0-9]\s*[%％])[^。]{0,12}(治愈|痊愈|根治|治好)")
# An organism under a drug's adverse reactions ("葡萄球菌", "金黄色葡萄球菌": CMeKG cut it out of "…所致感染").
ORGANISM = "organism under adverse reactions"
_ORGANISM = re.compile(r"(球菌|杆菌|螺旋体|支原体|衣原体|念珠菌|真菌|病毒)$")
# A 并发症 item that the entry's own 病因 names as its cause (病毒性肝炎 under 肝硬化's complications): the relation
# reversed. Judged where an entity's sections are read together (retriever/passages.py).
CAUSE_AS_COMPLICATION = "cause under complications"
CATEGORIES = (FRAGMENT, HEADING, CUT, ETC, HTML, EFFICACY, LAB, DISEASE, NOT_A_FINDING, FINDING_AS_TEST, STATISTIC,
              PROMOTION, ORGANISM, CAUSE_AS_COMPLICATION)

MIN_CHARS = 2

HEADING_WORDS = frozenset("""
剂量 用法 用量 用法用量 疗程 给药 剂型 规格 成份 成分 辅料 名称 适应症 适应证 禁忌 禁忌症 不良反应 副作用 注意事项
药物相互作用 相互作用 临床试验 药理 毒理 对照 对照组 治疗组 双盲 单盲 开放 随机 随机化 多中心 安慰剂 安慰剂对照
年龄 性别 患者性别 种族 体重 生命体征 用药种类 常规生化 报告频率 严重 严重的 很可能 可能有关 不需停药 其他 其它 等
一般 少见 罕见 偶见 常见 较少见 十分罕见 非常罕见 敏感 病因 症状 预防 概述 治疗 护理 诊断 检查 饮食
伴随症状 伴随症状体征 症状体征 临床表现 典型症状 早期症状 主要症状 其他症状
""".split())
# Words the xywy crawl lists among symptoms that are link texts of its page, not findings a person reports
# ("地点", "婚姻", "溺水" under 癫痫): a heading of the page wherever a finding is expected.
PAGE_WORDS = frozenset("感觉 紧张 外伤 脑外伤 婚姻 地点 溺水 烫伤 拍手 摸索 擦脸 吞咽 咀嚼 咂嘴 自主神经 智力 情绪 "
                       "压力 性格 行为 饮食 睡眠 运动 工作 学习 生活 心理 家庭 环境 季节 天气 年龄 性别 消化 吸收 营养 排便 大便 小便 "
                       "月经 怀孕 妊娠 遗传 感染 神经 血管 细胞 病毒 细菌 器官 组织 实验室 X线表现 呼吸 心跳 体温 血压 视力 听力 "
                       "食欲".split())
# Under symptoms, discomfort with no part of the body says nothing (an adverse reaction's 不适, malaise, stays).
_SITELESS = frozenset({"不适", "不适或疼痛", "不舒服"})
# Department names: the items of 就诊科室, a heading word anywhere else ("产科[1]。" as an indication).
DEPARTMENTS = frozenset("产科 妇科 外科 内科 儿科 妇产科 急诊科 皮肤科 眼科 口腔科 耳鼻喉科 骨科 神经科 精神科 中医科".split())
DEPARTMENT_SECTION = "就诊科室"
# Sections whose items and sentences are findings or prose a person is told: the only ones checked. Values
# (规格 5mg, 有效期 36个月, 治愈率 90%, 治疗周期 1-6周), names (成份, 就诊科室) and foods (宜吃: 梨) are not statements
# to check; they are kept as written.
CHECKED_SECTIONS = frozenset({"适应症", "不良反应", "禁忌", "药物相互作用", "注意事项", "功效", "症状", "并发症", "检查",
                              "常用药物", "病因", "治疗方式", "相关疾病", "相关症状", "概述", "预防", "护理", "临床意义",
                              "孕妇及哺乳期妇女用药", "儿童用药", "老年用药", "药物过量", "临床症状及体征"})
# Lists of findings, where an item with a predicate is a clause cut out of a sentence ("可的松为首选药物").
FINDING_LISTS = frozenset({"适应症", "不良反应", "禁忌", "症状", "并发症", "相关症状", "临床症状及体征"})
STRICT_BELOW = 30  # sources ranked below curated (kb.authority: CMeKG, crawls) are extraction: every test applies

_HTML = re.compile(r"<\s*/?\s*[a-zA-Z][^>]{0,80}>|&(?:[a-zA-Z]{2,8}|#\d{2,5});")
_NUMBERISH = re.compile(r"^[\d.,%％~～\-—/\s]*(?:mg|g|ml|μg|ug|iu|u|毫克|克|毫升|微克|单位|周|天|日|个月|月|年|岁|次|例)?的?$",
                        re.IGNORECASE)
_DURATION = re.compile(r"^为期[\d一二三四五六七八九十两半]+")
# starts with a word that continues a clause before it
_CUT_START = re.compile(r"^(?:的|之|等|及|或|和|与|并|且|而|也|亦|即|则|但|又|还|就|为|如|若|以及|以致|甚至|进而|从而|"
                        r"或者|并且|而且|尤其|特别是|其|一些|适当的|同时|然后)")
# ends with a word that needs what follows
_CUT_END = re.compile(r"(?:的|之|和|与|及|或|并|而|在|对|被|把|使|将|以|于|由|向|从|如|伴|较|更|不|、|，|,|：|:|\.\.\.|…|"
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
_NAMED_HEADING = re.compile(r"^[\u4e00-\u9fff]{0,8}(?:日常预防|发病原因|发病机制|临床表现|一般症状|治疗原则|鉴别诊断|日常护理|"
                            r"对症护理|一般护理|健康教育|X线表现|CT表现|影像学表现)[。]?$")
# A numbered line that only names a disease or a form of one, with no end mark: the heading of what follows
# ("1.急性小泡性脂肪肝", "2、慢性胃炎", "3.膀胱炎"); "1、高血压。" (an item of a list, ended) is kept, and so is advice
# ("3、适当运动", "3.减少癫痫的后遗症").
_NAMED_DISEASE_HEADING = re.compile(
    r"^[(（]?[一二三四五六七八九十\d]{1,2}[)）、.．]\s*(?!避免|减少|预防|防止|注意|加强|保持|控制|治疗|积极|及时|定期|"
    r"重视|多|少|勿|不|忌|宜|要|应|慎)[^，,。；;：:！？!?\s]{1,14}(?:炎|病|症|癌|瘤|肝|硬化|综合征|损伤|中毒|发作|"
    r"出血|畸形|耳聋|疝|结石|溃疡|梗死|梗塞|积液|衰竭)$")
# An item naming a part of an entry, not a thing of its list: "X线表现" under 检查, "抗病毒治疗的禁忌证" under 治疗方式.
_SECTION_ITEM = re.compile(r"(?:表现|禁忌证|禁忌症|适应证|注意事项|鉴别诊断|诊断标准|治疗原则)$")
NAME_LISTS = frozenset({"检查", "治疗方式", "相关疾病", "适应症", "禁忌", "不良反应"})  # lists of names, not of advice
# A TCM action (功效) as written in 功能主治: pairs of an action and what it acts on ("清热解毒", "活血化瘀", "止咳",
# "辛凉解表"), not a condition; conditions of the same shape are listed apart (消渴, 壮热, 燥咳).
_TCM_ACTION = "清活化祛除止补养健和安消散通利凉温益理行舒疏润生平熄息镇固收敛涩宣降燥渗泻滋宁开醒透软排明退杀驱截壮强纳升托解调缩摄逐破豁定涤肃"
_TCM_OBJECT = "热毒血瘀风湿痰气脾胃神肿痛咳喘火寒阴阳肝肾肺心津燥积滞结郁表经络窍目便水食虫精汗中元浊淋胎乳痹咽喉疹肌筋骨膈痞惊衄带泄泻悸渴脉痫"
_EFFICACY = re.compile(rf"^(?:辛凉|辛温|苦寒|甘温|[{_TCM_ACTION}][{_TCM_OBJECT}])(?:[{_TCM_ACTION}][{_TCM_OBJECT}]){{0,2}}$")
TCM_CONDITIONS = frozenset("消渴 壮热 燥咳 温热 渗血 排气 散脉 涩脉 生气 泄泻 行经 止血带".split())
INDICATIONS = "适应症"
# A lab value or an analyte named as a finding: what a test shows, not what a person has or reports. 低血糖 (felt),
# 蛋白尿 and 血尿 (seen) are findings a person is told of and stay.
_ANALYTE = (r"(?:ALT|AST|GPT|GOT|BUN|HBsAg|HBeAg|IgM|IgG|γ[—\-－]?(?:转肽酶|GT)|转氨酶|谷丙转氨酶|谷草转氨酶|转肽酶|胆红素|"
            r"胆碱酯酶|血糖|血脂|胆固醇|甘油三酯|肌酐|尿素氮|尿酸|白细胞|红细胞|血小板|血红蛋白|淋巴细胞|中性粒细胞|血沉|"
            r"尿糖|尿蛋白|管型|血钾|血钠|血钙|血氧饱和度|渗透压|抗体|抗原|肝功能?|肾功能?|大三阳|小三阳|两对半)")
_BARE_ANALYTE = re.compile(rf"^{_ANALYTE}$")  # "血糖" alone under 不良反应: cut out of "低血糖" or "血糖升高"
_ION_STATE = re.compile(r"^[高低][钾钠钙镁氯磷]血症$")  # 低钾血症: what a test shows
_LAB = re.compile(rf"^(?![高低])(?:血清|血|尿|单项|末梢血)?[^，,。；;]{{0,6}}?{_ANALYTE}(?:值|水平|浓度|计数|总数)?"
                  rf"(?:升高|增高|偏高|高|降低|减低|偏低|低|增多|减少|阳性|阴性|异常)?$")
# A sentence that starts in the middle of one: "是采取一切有效措施…", "而不是一个独立的疾病…", "并可同时伴有…"
_SENTENCE_CUT_START = re.compile(r"^(?:是(?!否)|而(?!且)|并(?!发|非)|且|另一些|另外一些|指(?![导南标数出甲端趾头尖定挥望示引]))")
# A lead-in whose list is not in the sentence: "主要临床表现大致可归纳为以下几类。"
_LEAD_IN = re.compile(r"(?:以下|如下)[几数]?[类种点个项条]?(?:方面|情况|类型)?[：:。]?$")
_ETC = re.compile(r"^(?:如|例如|比如|诸如|包括|像|譬如)[^。]*等(?:等)?[。；;]?$")
_CONTENT = re.compile(r"[\u4e00-\u9fffA-Za-z]")


def debris(text: str, *, sentence: bool = False, section: str = "", strict: bool = True, entity: str = "") -> str | None:
    """The category of `text` when it is debris, else None. `sentence`: a sentence of free text (then
    only what no statement is: headings, fragments, subjectless lists, cut ends, page remnants), else an
    item of a list `section` of the entry `entity`. Not `strict` (a label's or curated text, written by
    people): only page remnants and empty or one-character pieces."""
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
    if sentence and _PROMOTION.search(core):
        return PROMOTION
    if sentence and _CURE_SHARE.search(core):
        return STATISTIC
    if sentence and (_NAMED_DISEASE_HEADING.match(t) or _NAMED_HEADING.match(core) or len(core) <= 30 and _LEAD_IN.search(t.strip())):
        return HEADING
    if sentence and section in SYMPTOM_LISTS and _CAUSE_SENTENCE.match(core):
        return NOT_A_FINDING
    if (section in FINDING_LISTS or section == "检查") and core in PAGE_WORDS:
        return HEADING
    if not sentence and section in NAME_LISTS and _SECTION_ITEM.search(core):
        return HEADING
    if not sentence and section == INDICATIONS and efficacy_term(core):
        return EFFICACY
    if not sentence and section in SYMPTOM_LISTS and lab_value(core):
        return LAB
    if not sentence and section in SYMPTOM_LISTS and (disease_item(core) or _own_name(core, entity)):
        return DISEASE
    if not sentence and section in SYMPTOM_LISTS and core in _SITELESS:
        return FRAGMENT
    if not sentence and section in SYMPTOM_LISTS and not_a_finding(core):
        return NOT_A_FINDING
    if not sentence and section == "检查" and _FINDING_END.search(core) and not _TEST_WORD.search(core):
        return FINDING_AS_TEST
    if not sentence and section == "不良反应" and _BARE_ANALYTE.match(core):
        return FRAGMENT
    if not sentence and section == "不良反应" and _ORGANISM.search(core):
        return ORGANISM
    if not sentence and section == INDICATIONS and _ACTION.match(core):
        return EFFICACY
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
    if section in SYMPTOM_LISTS and _ION_STATE.match(core):
        return LAB
    if _CUT_START.match(core) or _CUT_END.search(core) or _POPULATION_ONLY.match(core):
        return CUT
    if section in FINDING_LISTS and _PREDICATE.search(core) and len(core) <= 20 and "，" not in core:
        return CUT
    if _PARTNERLESS.search(core) and not _PARTNER.search(core):
        return CUT
    return None


SYMPTOM_LISTS = frozenset({"症状", "相关症状", "临床症状及体征"})
# A disease named as a symptom of another ("复杂性尿路感染", "急性单纯性膀胱炎" under 尿路感染's symptoms, "酒精性肝硬化"
# under 酒精性肝病's): a kind or a consequence, not what a person has or reports. Short ones that are also what a
# person reports (皮炎? no: 4 characters or a qualifier at least) stay.
_DISEASE_ENDINGS = "炎|病|癌|瘤|综合征|综合症|感染|硬化|结核"  # how the name of a disease ends
_DISEASE_ITEM = re.compile(rf"^(?:[\u4e00-\u9fff]{{2,}}(?:{_DISEASE_ENDINGS})|"
                           r"(?:急性|慢性|复杂性|单纯性|特发性|继发性|原发性|严重性|假肥大型)[\u4e00-\u9fff]*[症病炎癌瘤])$")


def disease_item(item: str) -> bool:
    """Whether a symptom list's `item` names a disease (4 characters or more, or a qualifier; 溃疡病, 肝炎, 咽炎),
    not a finding."""
    core = item.replace(" ", "")
    return bool(_DISEASE_ITEM.match(core)) and len(core) >= 4 or len(core) == 3 and core.endswith("病") \
        or bool(_SHORT_INFLAMMATION.match(core))


_SHORT_INFLAMMATION = re.compile(r"^(?!发)[\u4e00-\u9fff]炎$")  # 肝炎, 咽炎, 胃炎 (not 发炎)
# Under symptoms: a drug by its ending, a tissue change or mechanism, a TCM pattern.
_DRUG_ITEM = re.compile(r"(?:片|胶囊|颗粒|注射液|口服液|霉素|西林|沙星|他汀|地平|西平|血平|洛尔|普利|沙坦|拉唑|替丁|咪唑)$")
_MECHANISM = re.compile(r"(?:细胞|黏膜|粘膜|变性|性变|沉积|浸润|离子|受体|递质|内流|外流|异常放电)")
_TCM_PATTERN = re.compile(r"^[\u4e00-\u9fff]{0,3}(?:阴虚|阳虚|气虚|血虚|气滞|血瘀|湿热|痰湿|虚寒|郁结)$")
_CAUSE_SENTENCE = re.compile(r"^(?:主要|多|常|大多|多数)?(?:由于|因为|是由|由|因|系由|多由|常由)[^。]{0,40}(?:引起|所致|导致|造成)"
                             r"(?![^。]*(?:表现|症状|出现|可见|伴有|发热|疼|痛))")  # not when it goes on to the symptoms
# Under 检查: how a finding ends (皮疹, 皮损, 疼痛, 瘙痒), unless it names a test or what a test shows.
_FINDING_END = re.compile(r"(?:疹|皮损|疼痛|瘙痒|发热|咳嗽|水肿|出血)$")
_TEST_WORD = re.compile(r"(?:检查|检测|试验|测定|造影|镜|片|超声|CT|MRI|活检|病理|培养|化验|计数|征)")
# Under 适应症, a drug's action, not a condition: "增加冠脉血流量", "扩张血管".
_ACTION = re.compile(r"^(?:增加|扩张|抑制|促进|降低|改善|增强|减少)[\u4e00-\u9fff]{1,8}(?:流量|血流|循环|血管|功能|代谢|活性|合成|分泌)$")


def not_a_finding(item: str) -> bool:
    """Whether a symptom list's `item` is a drug, a tissue change or mechanism, or a TCM pattern."""
    core = item.replace(" ", "")
    return bool(_DRUG_ITEM.search(core) or _MECHANISM.search(core) or _TCM_PATTERN.match(core))


def _own_name(item: str, entity: str) -> bool:
    """An entry's own name (or a name inside it, or a longer one holding it) listed as its own symptom: 咽炎
    under 慢性咽炎, 儿童抽动症 under 抽动症."""
    return bool(entity) and len(item) >= 2 and (item in entity or entity in item) and bool(_DISEASE_END.search(item))


_DISEASE_END = re.compile(rf"(?:{_DISEASE_ENDINGS}|症)$")


def efficacy_term(item: str) -> bool:
    """Whether `item` is a TCM action (清热解毒, 活血, 止咳, 辛凉解表): a 功效, never an indication."""
    return bool(_EFFICACY.match(item)) and item not in TCM_CONDITIONS


def lab_value(item: str) -> bool:
    """Whether `item` is a lab value or an analyte (血糖升高, 单项ALT升高, γ—转肽酶, 尿胆红素阳性), not a symptom."""
    return bool(_LAB.match(item.replace(" ", "")))


def strict_for(authority: int) -> bool:
    """Whether every test applies to a source of this rank (see STRICT_BELOW)."""
    return authority < STRICT_BELOW


def checked(section: str) -> bool:
    """Whether a section's items and sentences are checked at all (CHECKED_SECTIONS)."""
    return section in CHECKED_SECTIONS


def keep_items(items: list[str], section: str = "", strict: bool = True,
               entity: str = "") -> tuple[list[str], list[tuple[str, str]]]:
    """(the items that are statements, [(category, item) dropped])."""
    kept, dropped = [], []
    for item in items:
        sentence = len(item) > 20 or "，" in item  # CMeKG's 注意事项 items are sentences: checked as such
        why = debris(item, sentence=sentence, section=section, strict=strict, entity=entity)
        if why:
            dropped.append((why, item))
        else:
            kept.append(item)
    return kept, dropped


_SENTENCE = re.compile(r"(?<=[。！？!?；;\n])")


# A sentence that is only a list ("全面强直—阵挛发作、…、地点、婚姻、自主神经"): its items are checked as items.
_LIST_SENTENCE = re.compile(r"^[^，,。；;：:]+(?:、[^，,。；;：:、]+){2,}[。；;]?$")


# A numbered short line with no end mark ("1、慎重用药", "一、用药指导"): the heading of the sentences after it.
_NUMBERED_LINE = re.compile(r"^[(（]?[一二三四五六七八九十\d]{1,2}[)）、.．]\s*[^，,。；;：:！？!?\s]{2,12}$")


def keep_sentences(text: str, strict: bool = True, section: str = "",
                   entity: str = "") -> tuple[str, list[tuple[str, str]]]:
    """`text` without the sentences that are debris, and [(category, sentence or item) dropped]. In a list of
    findings (`section` in FINDING_LISTS), a sentence that is only a "、" list keeps only the items that are
    findings. A numbered short line followed by a sentence that is not numbered is that sentence's heading."""
    kept, dropped = [], []
    parts = _SENTENCE.split(text)
    for n, part in enumerate(parts):
        if not part.strip():
            kept.append(part)
            continue
        following = next((p.strip() for p in parts[n + 1:] if p.strip()), "")
        heading = strict and _NUMBERED_LINE.match(part.strip()) and following and not _NUMBERED_LINE.match(following) \
            and not re.match(r"^[(（]?[一二三四五六七八九十\d]{1,2}[)）、.．]", following)
        why = HEADING if heading else debris(part, sentence=True, strict=strict, section=section)
        if why:
            dropped.append((why, part.strip()))
            continue
        if strict and section in FINDING_LISTS and _LIST_SENTENCE.match(part.strip()):
            end = part.rstrip()[-1] if part.rstrip()[-1] in "。；;" else ""
            items, gone = keep_items(part.strip().rstrip("。；;").split("、"), section, strict, entity)
            dropped += gone
            if items:
                kept.append("、".join(items) + end + part[len(part.rstrip()):])
            continue
        kept.append(part)
    return "".join(kept).strip(), dropped
