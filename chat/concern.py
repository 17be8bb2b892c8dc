"""What the person wants to know, and what the answer must ask back.

A real message tells a story and then asks one thing: is it serious (要紧吗), is it normal (正常吗), can I do X
(能不能同房), what should I do (怎么办), which drug, what a result means, where to go or what it costs. The
answer's first sentence answers that concern: from the KB when the KB says it, or plainly that the KB cannot
judge it for this person and what would decide it. The answer ends with at most two questions for the facts
that would change it (age, how long, where exactly, a possible pregnancy) when the message does not give them.

Everything here is read from the message and the patient facts; the KB is not consulted. The pipeline asks
`read` once and uses the `Concern` in every path (answer, possible conditions, refusal).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from retriever.words import BODY_SITE, COST_WORDS, DENIAL_CHARS, is_asking_clause, sentence_before

from chat import complaints, values

MAX_QUESTIONS = 2

# (kind, pattern): the first kind whose pattern matches the asking part of the message wins.
_KINDS = (
    ("hospital", r"(哪家医院|哪个医院|什么医院|医院推荐|推荐.{0,4}医院|挂什么科|挂哪个科|看什么科|哪个科|" + "|".join(COST_WORDS) + ")"),
    ("result", r"((化验|检查|体检|报告|彩超|B超|CT|核磁|血常规|尿常规|肝功|指标|结果|筛查|唐筛|化验单|报告单).{0,20}(偏高|偏低|升高|降低|高|低|阳性|阴性|异常|"
               r"什么意思|说明什么|怎么回事|正常吗|正常不|正不正常|严重吗)|[↑↓]|\d+(\.\d+)?\s*(mmol|umol|μmol|U/L|g/L|mg|×10)|"
               # an imaging report copied in: sizes and the words such reports are written in
               r"\d+(\.\d+)?\s*[×xX*]\s*\d+(\.\d+)?|回声|血流信号|液性暗区|边界(清|欠清|不清)|包膜)"),
    # "能吃什么", "吃点什么对胃好": what to eat or do, not "can I X" and not which drug
    ("what_to_do", r"((能|可以|应该|要)(吃|喝|用|做)(点|些)?什么(?!药)|"
                   r"(吃|喝)(点|些)?什么(?!药)[^，,。？?]{0,4}(好|有好处|对|食物|东西))"),
    # "X会不会引起Y", "X会导致Y吗": whether the KB's entry for X names Y (`about`)
    ("causes", r"(会不会|会|能不能|能|可能|是否会|容易)?(引起|导致|诱发|造成|引发|并发)(?P<what>(?![的了])[^，,。？?！!；;\s]{1,10}?)(吗|么|嘛|呢|[？?]|$)"),
    ("can_i", r"(能不能|能否|可不可以|可否|可以.{1,10}(吗|(?<![什怎这那多])么|嘛)|[^，,。？?！!\s]{1,10}(可以|行)(吗|么|嘛)|"
              r"能.{1,10}(吗|(?<![什怎这那多])么|嘛)|要不要(?!紧)|需不需要|需要.{1,8}(吗|(?<![什怎这那多])么)|会不会影响|"
              r"影响.{1,8}(吗|(?<![什怎这那多])么)|还能.{1,8}(吗|(?<![什怎这那多])么)|行不行|"
              r"(必须|一定|非得)要?.{1,8}(吗|(?<![什怎这那多])么|嘛)|(有没有|有)必要.{1,8}(吗|(?<![什怎这那多])么|嘛))"),
    ("serious", r"(要紧|要不要紧|严重吗|严不严重|严重不|危险吗|有危险|有没有事|有事吗|有事情吗|有没有事情|会不会有事|没事吧|问题大|大问题|会死|是癌|癌症吗|"
                r"恶化|会不会.{0,6}(癌|死|瘫|风险|危险|有事|后遗症)|有(什么|没有)?(风险|危害|后遗症))"),
    ("normal", r"(正常吗|正不正常|正常不|是否正常|正常么|算正常|属于正常)"),
    # "癫痫药物有哪些副作用", "常年吃一种药会有副作用吗": what a medicine may do to the person taking it
    ("side_effects", r"(副作用|不良反应|伤肝|伤肾|伤胃|毒副)"),
    ("drug", r"(吃什么药|用什么药|什么药|哪种药|哪些药|用药|药膏)"),
    ("what_to_do", r"(怎么办|咋办|怎么治|如何治|怎样治|怎么处理|如何处理|怎么调理|如何调理|怎么弄|治疗方法|怎么解决|有什么办法|"
                   r"如何是好|该怎么|需要注意|注意什么|怎么缓解|如何缓解|能治好|治得好|多久能好|多久才能)"),
    ("what_is", r"(怎么回事|什么原因|为什么|是什么病|什么病|什么情况|是不是|是什么|咋回事|怎么了|是否是|属于什么|是.{1,12}(吗|么))"),
)
_COMPILED = tuple((kind, re.compile(p, re.I)) for kind, p in _KINDS)
# Out of the KB's scope: what it holds are drug labels, diseases and exams.
_SCOPE = re.compile(r"(化妆品|护肤品|面膜|口红|粉底|防晒霜|洗面奶|染发|烫发|美白|祛斑霜|保健品|减肥茶|减肥药|酵素|代餐|胶原蛋白|"
                    r"吸脂|抽脂|整形|隆胸|隆鼻|双眼皮|玻尿酸|瘦脸针|医美|纹身|文身|纹眉|脱毛)")
# Products taken by mouth (whom to ask is a doctor or pharmacist, not a dermatologist).
_SUPPLEMENT = re.compile(r"(保健品|减肥茶|减肥药|酵素|代餐|胶原蛋白)")
# A duration or a time said ("三天", "两个月了", "从小", "昨天").
_DURATION = re.compile(r"([0-9一二两三四五六七八九十几半多]+\s*(个)?(分钟|小时|天|日|周|星期|礼拜|个月|月|年)|昨天|前天|今天|今早|"
                       r"刚才|最近|这几天|这两天|一直|从小|多年|长期|好久|很久|以来|开始)")
_AGE = re.compile(r"([0-9一二两三四五六七八九十几]+\s*(多|来)?\s*(岁|周岁|个月大|个月的|天大)|宝宝|婴儿|孩子|儿子|女儿|小孩|老人|老年|"
                  r"学生|初中|高中|大学|小学|奶奶|爷爷|爸|妈|父亲|母亲|新生儿)")
# A medicine taken, told without its name ("吃了一粒", "吃了药以后", "打了一针"): which one decides the answer.
_TOOK_MEDICINE = re.compile(r"((吃|服|用)(了)?(这个|那个|一种|一些|几天|几次)?(药|药物|一粒|一片|两粒|两片|几粒|几片)|"
                            r"(打|输)(了)?(一针|针|吊瓶|点滴)|用药(后|以后|之后))")
# ... said as asked, not done ("需要吃药吗", "要不要打针", "能不能用药"): no medicine was taken
_MEDICINE_ASKED_BEFORE = re.compile(r"(需要|要不要|需不需要|能不能|能否|可不可以|可以|该不该|应该|用不用|必须|想|准备|打算|不想)$")
_MEDICINE_ASKED_AFTER = re.compile(r"^\s*(吗|么|嘛|呢|好|比较好|才)")


def _took_medicine(question: str) -> bool:
    """Whether the message tells a medicine taken or given (which one then decides), not one asked about."""
    return any(not _MEDICINE_ASKED_BEFORE.search(question[max(0, m.start() - 4):m.start()])
               and not _MEDICINE_ASKED_AFTER.match(question[m.end():]) for m in _TOOK_MEDICINE.finditer(question))


STORY_CHARS = 30  # a message longer than this tells a story rather than asks the KB
# Asking whether a medicine may be stopped, skipped or cut ("不喝药行吗", "可以停药吗", "能不能减药").
_STOPPING = re.compile(r"(不吃药|不喝药|不用药|不服药|停药|停掉|减药|减量|断药|不用吃药|不吃西药|不再吃药|少吃点药|药停了|不想吃药)")
STOPPING_LINE = ("不要自行停药或减量：能不能停、怎样减，要由医生根据病情和复查结果决定；自行停药可能使病情反复或加重。"
                 "有顾虑（副作用、费用）请直接和开药的医生说。")
# The message is about the person or someone of theirs ("我", "我妈", "孩子"), not a question put to the KB.
_PERSONAL = re.compile(r"(我|俺|本人|自己|孩子|宝宝|儿子|女儿|老公|老婆|爱人|丈夫|妻子|爸|妈|父亲|母亲|家人|奶奶|爷爷|朋友|邻居|亲戚)|"
                       r"被[^，。,；;]{0,6}(咬|抓|挠|扎|刺|烫|烧|砸|撞|割|划|蛰|叮)|(昨天|昨晚|前天|今早|刚才|刚刚)")  # (what happened)
_BODY_PAIN = re.compile(r"(疼|痛|酸|胀|麻|痒|肿)")
_FEMALE_COMPLAINT = re.compile(r"(月经|例假|姨妈|白带|阴道|下身出血|小腹|下腹|停经|同房|怀孕|验孕|试纸|早孕|乳房|恶心想吐)")


@dataclass(frozen=True)
class Concern:
    """What the message asks (`kind`), what about (`about`: the X of 能不能X), and what it leaves unsaid."""

    kind: str  # one of _KINDS' kinds, or "tell" (no question: a description, or a bare name)
    about: str = ""
    out_of_scope: str = ""  # a product the KB does not cover (化妆品, 保健品, 整形…)
    missing: tuple[str, ...] = field(default_factory=tuple)  # facts that would change the answer, most useful first
    complaint: str = ""  # the kind of complaint described (chat.complaints): its questions, department and signs
    stopping: bool = False  # asks whether a medicine may be stopped or skipped ("不吃药行吗", "能停药吗")
    personal: bool = False  # about the person or someone of theirs, not a question put to the KB
    signs: str = ""  # when not to wait, for the kind of complaint (chat.complaints.signs)
    today: str = ""  # what the message itself tells that should not wait (`not_waiting`): said first
    must: bool = False  # can_i asked as "must I X" (必须/一定要/非得…吗), not "may I X"
    child: bool = False  # the patient is a child: seen by paediatrics, whatever the kind of complaint


# A number with a unit or a reference mark: the message gives the report's values.
_VALUE = re.compile(r"(\d+(\.\d+)?\s*(mmol|umol|μmol|U/L|IU|g/L|mg|ng|pg|×10|x10|%|mmHg|cm|mm)|\d+\.\d+|[↑↓]|"
                    r"1\s*[:：/]\s*\d{2,})", re.I)
# An imaging report (it ends in a conclusion; a lab report's numbers and ranges are the whole of it).
_IMAGING = re.compile(r"(B超|彩超|超声|CT|核磁|MRI|X光|片子|钼靶|胃镜|肠镜|回声|血流|包块|结节|囊肿|暗区|阴影)", re.I)
# A report's own conclusion, told ("提示", "考虑", "诊断", a grade).
_CONCLUSION = re.compile(r"(结论|提示|诊断|考虑|印象|分级|级|BI-?RADS|TI-?RADS|意见)", re.I)
# Words that leave the X of 能不能X unfinished ("能否「吃什」", "能否「如何处理」"): then the concern is said generally.
_NOT_A_PHRASE = re.compile(r"(什|怎|如何|哪|吗|呢|多少|多久|几|是否|还是|之类|等)")


COMPLAINT = "complaint:"  # a missing fact that is one of the complaint's own questions ("complaint:" + its text)
_ASKS_PREGNANCY = ("postpartum", "diagnosed")  # their own questions cover what a pregnancy question would
_DECIDES = {"can_i": ("pregnancy", "drug"), "drug": ("drug", "pregnancy", "age"), "causes": ("drug",),
            "side_effects": ("drug",)}


def _phrase(text: str) -> str:
    """The X of 能不能X when it is a whole short phrase, else "" (the answer then says "这样做")."""
    text = text.strip()
    if not 2 <= len(text) <= 8 or _NOT_A_PHRASE.search(text) or text.endswith(("了", "的", "着", "到")):
        return ""
    return text


_ASKS = re.compile(r"[？?吗么呢]|怎么|如何|能不能|可不可以|是不是|要不要")


def _asking_part(text: str) -> str:
    """The end of the last sentence that asks something (its last two clauses), or the whole text:
    "…三天了。能吃辣吗？" asks about the last; "…大夫说血压太高了，…，我想知道高血压可以吃红枣吗？" asks about
    红枣, not about the measurement told before it."""
    parts = [p for p in re.split(r"(?<=[。！!？?\n])", text) if p.strip(" 。！!？?\n")]
    asking = [p for p in parts if _ASKS.search(p)]
    if not asking:
        return text.strip()
    clauses = [c for c in re.split(r"(?<=[，,；;])", asking[-1]) if c.strip(" ，,；;")]
    return "".join(clauses[-2:]).strip()


def _can_i_about(m: re.Match) -> str:
    """The X of 能不能X / 可以X吗: what follows the asking word, up to the end of the clause."""
    rest = m.string[m.end():] if re.match(r"(能不能|能否|可不可以|可否|要不要|需不需要|行不行)$", m.group(0)) else m.group(0)
    rest = re.sub(r"^(能不能|能否|可不可以|可否|可以|能|要不要|需不需要|需要|还能|必须要|必须|一定要|非得要|非得)", "", rest)
    rest = re.sub(r"^够", "", rest)  # "能不能够治疗高血压"
    rest = re.sub(r"^(有没有|有)必要", "", rest)
    rest = re.sub(r"(可以|行)(吗|么|嘛)$", "", rest)
    return _phrase(re.split(r"[，,。？?！!；;\s]|吗|么|嘛|呢", rest)[0])


def read(question: str, *, child: bool | None = None, sex: str | None = None, pregnant: bool | None = None,
         age_years: float | None = None, describes_symptoms: bool = False, drug_named: bool = False,
         disease_named: bool = False) -> Concern:
    """The concern of a message; `missing` only when the message describes the person's own complaint.
    `drug_named`: the message names a drug the KB knows (else a medicine taken unnamed is asked for);
    `disease_named`: it names a disease the KB knows (told as diagnosed, its treatment and results decide)."""
    asking = _asking_part(question)
    kind, about = "tell", ""
    for name, pattern in _COMPILED:
        m = pattern.search(asking) or (name in ("causes", "what_to_do", "serious", "can_i") and pattern.search(question))
        if m:
            kind = name
            if name == "causes":
                about = _phrase(m.group("what"))
            if name == "can_i":
                about = _can_i_about(m)
            break
    if kind == "side_effects" and drug_named:
        kind = "tell"  # a named drug's reactions are its label's to say; no line on drugs in general before them
    scope = _SCOPE.search(question)
    missing: list[str] = []
    # a description is the person's own when it says whose, tells a story, or asks what a person asks of their own
    # ("肚子疼要紧吗"); "怎样才能避免便秘" and "失眠需要做哪些检查" are questions put to the KB
    # ... and a description that asks nothing ("主要就是头皮痒，有时候还疼，出白头") is one's own too
    personal = bool(_PERSONAL.search(question)) or len(question) > STORY_CHARS \
        or kind in ("serious", "normal") or describes_symptoms and kind in ("what_to_do", "can_i", "what_is", "result", "drug") \
        or describes_symptoms and not is_asking_clause(question)
    complaint = complaints.of(question) if kind != "hospital" else None
    if complaint is not None and not complaint.condition and disease_named and complaints.diagnosed(question):
        complaint = complaints.DIAGNOSED  # a named disease already diagnosed: its treatment and results decide
    # a story of one's own about a part of the body describes a complaint even when no finding is recognised
    # ("例假推迟15天了，测了两次都是一道深一道浅")
    describes_symptoms = personal and (describes_symptoms or complaint is not None and not complaint.condition)
    if complaint and not (complaint.condition and personal
                          or describes_symptoms or kind == "result"):
        # a part of the body is what a description (or a report) is about; a long-standing condition the person
        # says they (or theirs) have decides the questions whatever they ask about it (a report's part of the
        # body gives its signs; its values and conclusion are what is asked)
        complaint = None
    if kind == "result" and not _VALUE.search(question):
        missing.append("values")  # a report is read from its numbers and reference ranges, not its name
    elif kind == "result" and _IMAGING.search(question) and not _CONCLUSION.search(question):
        missing.append("conclusion")  # numbers without the report's own conclusion: what it concluded decides
    elif describes_symptoms and kind not in ("hospital", "result"):
        if age_years is None and child is None and not _AGE.search(question):
            missing.append("age")
        if not _DURATION.search(question):
            missing.append("duration")
        if _BODY_PAIN.search(question) and not BODY_SITE.search(question):
            missing.append("site")
        if _took_medicine(question) and not drug_named:
            missing.append("drug")  # "吃了一粒…皮肤红痒，是过敏吗": which medicine decides it
        if sex != "男" and pregnant is None and child is not True and _FEMALE_COMPLAINT.search(question) \
                and not re.search(r"(怀孕|孕|没有同房|未同房|没同房|绝经|试纸|一道?深一道?浅|两道杠|一道杠)", question):
            missing.append("pregnancy")
        # only what decides this kind of answer: whether one may do X turns on a pregnancy, which drug also on age
        missing = [m for m in missing if m in _DECIDES.get(kind, ("drug", "pregnancy", "site", "age", "duration"))]
    if complaint and (complaint.condition or kind not in _DECIDES and kind != "result"):
        # the questions a doctor asks first about this kind of complaint (or about the condition the person has)
        # decide more than age or how long (which follow when they leave room) and say where; after birth a
        # pregnancy is not asked
        covered = {"site"} | ({"pregnancy"} if complaint.kind in _ASKS_PREGNANCY else set()) \
            | ({"age", "duration"} if complaint.condition else set())  # a condition's treatment and values decide
        missing = [m for m in missing if m not in covered] \
            + [f"{COMPLAINT}{q}" for q in complaint.questions(question, child is True)]
    # a report's values, a possible pregnancy and the age decide most; the site before the duration when pain has none
    order = {"values": -1, "conclusion": -1, "drug": 0, "pregnancy": 1, "site": 2, "age": 3, "duration": 4}
    missing.sort(key=lambda m: order.get(m, 1.5))  # (a complaint's questions after a pregnancy, in their order)
    stopping = kind in ("can_i", "what_to_do", "tell") and bool(_STOPPING.search(asking))
    return Concern(kind, about, scope.group(0) if scope else "", tuple(missing[:MAX_QUESTIONS]),
                   complaint.kind if complaint else "", stopping, personal,
                   complaints.signs(complaint, question, child is True) if complaint else "",
                   not_waiting(question, age_years, pregnant) if personal else "",
                   kind == "can_i" and bool(_MUST.search(asking)), child is True)


# What a message itself tells that is not for waiting and watching, though not a 120 emergency (chat.triage
# decides those first): (what it tells, what to do). Each is read in its sentence; a negation or a worry right
# before it ("不是很疼", "怕会疼得厉害") discounts it.
_TODAY = (
    # (a pain only on a trigger, "用力过度就疼痛难忍", "蹲下的时候疼得厉害", is not this: how it is brought on decides)
    ("疼得很厉害", r"(?<![就时候才])((疼|痛)得(很|非常|特别)?(厉害|要命|受不了|睡不着|直不起腰|打滚|不行)|剧痛|剧烈(的)?(疼|痛)|"
                 r"疼痛难忍|(疼|痛)死了|(疼|痛)得(哭|叫))"),
    ("受伤后站不起来、不能走或动不了", r"(摔|跌|扭|崴|撞|砸|车祸|绊)[^？?]{0,60}?(站不起来|站不住|不能站|不能走|走不了|"
                                  r"走不动|不能行走|动不了|不能动|抬不起|不能弯|不敢动|不能着地|变形|一站(起来)?就[^。，,]{0,4}(疼|痛))"),
    # one leg swollen after sitting long, a journey, an operation or bed rest: a clot in the leg until shown otherwise
    ("久坐、长途旅行、手术或卧床后一条腿肿", r"(久坐|坐了[^。，,]{0,6}(小时|天)|长途|飞机|火车|大巴|手术(后|以后|之后)|做完手术|术后|卧床|打石膏|骨折后)"
                                    r"[^。？?]{0,30}(一条|一侧|一边|左|右)(腿|小腿|下肢|脚)[^。，,？?]{0,6}(肿|粗|胀)|"
                                    r"(一条|一侧|一边|左|右)(腿|小腿|下肢)[^。，,？?]{0,6}(肿|粗|胀)[^。？?]{0,30}"
                                    r"(久坐|坐了[^。，,]{0,6}(小时|天)|长途|飞机|火车|大巴|手术(后|以后|之后)|做完手术|术后|卧床|打石膏)"),
    # the hip after a fall ("摔了一跤，大腿内侧的筋疼…不能用力"): a fracture until an X-ray says otherwise
    ("摔倒后大腿根或胯部疼、使不上力", r"(摔|跌|绊)[^？?]{0,40}?(大腿根|胯|髋|腹股沟|大腿内侧)[^。？?]{0,30}"
                                   r"(不能用力|使不上劲|用不上力|没法用力|不敢用力)"),
    ("伤口较深或血止不住", r"(伤口|口子|刀口)[^。，,？?]{0,3}(很|挺|比较|特别|太|那么)深|割(得)?(很|挺|太)深|深可见骨|"
                        r"血(止不住|流不止|一直止不住)|按(了|着)?[^。，,]{0,6}(还|仍|也)?(止不住|在流)"),
    ("新生儿黄疸在加重", r"(新生儿|出生(后)?(第)?[0-9一二两三四五六七八九十几]+\s*(天|周)|[0-9一二两三四五六七八九十几]+\s*(天|周)大?的?(宝宝|婴儿|孩子)|"
                       r"满月|未满月)[^？?]{0,60}(黄疸|发黄|黄)[^。？?]{0,12}(升高|加重|越来越|还在涨|涨到|上升|反升|变高|没退|不退|更黄)"),
    ("烧烫伤面积较大", r"(烧伤|烫伤|烧烫伤|烫到|烧到)[^。？?]{0,16}(面积(很|较|比较|特别|挺|太)?大|大面积|一大片)|"
                     r"大面积[^。，,]{0,2}(烧伤|烫伤|烧烫伤)"),
    ("起不了床、走不了路", r"(起不来床|下不了床|起不了床|走不了路|不能走路|路都走不了)"),
    ("老人或糖尿病患者发烧", r"(老人|老年|爷爷|奶奶|外公|外婆|姥姥|姥爷|老爸|老妈|[6-9]\d岁|糖尿病)[^。！？!?]{0,30}"
                        r"(发烧|(?<![肚胃手脚脸心背腰胸口皮子])(?<!长期)(?<!一直)发热|高烧|烧到|体温3[89])"),  # (肚子发热: a feeling, not a fever)
    ("手术或操作后出现新的不适", r"(取卵|移植|人流|流产|清宫|手术|开刀|拔牙|上环|放环|取环|穿刺|活检|胃镜|肠镜|介入|支架)"
                             r"(后|以后|之后|完)[^。！？!?]{0,30}(腹胀|肚子(越来越)?大|疼|痛|出血|流血|发烧|发热|尿少|"
                             r"气短|喘|呼吸困难|吐)"),
    ("出血多天还伴头晕、乏力或手脚发凉", r"(出血|流血)[^。！？!?]{0,16}([0-9一二两三四五六七八九十几]+|好几|半个月)(天|日)"
                                   r"[^。]{0,40}(头晕|乏力|没力气|手脚(冰凉|发凉|冰冷)|心慌|脸色(苍白|发白))"),
)
_TODAY_COMPILED = tuple((what, re.compile(p)) for what, p in _TODAY)
_SOON = (
    ("越来越大或一直不愈合的包块、溃疡或痣", r"(包块|肿块|疙瘩|溃疡|疮|痣|结节|硬块)[^。！？!?]{0,20}"
                                              r"(越来越大|变大了|长大了|不愈合|一直不好|长期不好|总不好|都没好|溃烂|越来越严重)"),
)
_SOON_COMPILED = tuple((what, re.compile(p)) for what, p in _SOON)
_DISCOUNT_BEFORE = re.compile(rf"([{DENIAL_CHARS}]|别|如果|万一|会不会|怕|担心|以免|防止)[^，,。！？!?]{{0,3}}$")
# A blood pressure told in numbers: 收缩压 ≥ 180 or 舒张压 ≥ 110 mmHg is a severe rise, for today.
_BP = re.compile(r"(?:血压|高压|mmHg|压)[^。，,；;]{0,8}?(\d{2,3})\s*[/／]\s*(\d{2,3})|(\d{2,3})\s*[/／]\s*(\d{2,3})\s*(?:mmHg|毫米汞柱)|"
                 r"高压\s*(?:是|有|到|达)?\s*(\d{2,3})[^。]{0,8}低压\s*(?:是|有|到|达)?\s*(\d{2,3})", re.I)
_MUST = re.compile(r"(必须|一定要|非得|必要)")
_SEEING_A_DOCTOR = re.compile(r"(医院|就医|就诊|看医生|看病|看一下医生|看看医生|看急诊|去急诊)")
_READING = re.compile(r"(?<![\d.])(\d{2,3})\s*[/／]\s*(\d{2,3})(?![\d.])")
TODAY_LINE = "您提到{what}：这种情况建议今天就到医院就诊（夜间或加重时去急诊），不要在家观察等待。"
SOON_LINE = "您提到{what}：建议尽快（一两周内）到医院就诊，必要时做病理等检查明确性质，不要自行处理。"
PREGNANCY_BP_LINE = ("您提到怀孕期间血压{bp}mmHg：孕期血压达到140/90mmHg就要警惕妊娠期高血压、子痫前期，建议今天到产科复测血压、查尿蛋白（达到160/110mmHg请立即就医）；"
                     "如出现头痛、看东西模糊、上腹痛、气短或明显浮肿，请立即就医或拨打120。")
BP_LINE = "您提到血压{bp}mmHg：已明显高于正常（正常应低于140/90mmHg），建议今天就医复测并处理；如伴剧烈头痛、胸痛、说话不清或肢体无力，请立即拨打120。"


def not_waiting(question: str, age_years: float | None = None, pregnant: bool | None = None) -> str:
    """One line when the message itself tells what should not wait for days (a severe pain, an injury that
    stops walking, fever in an old person or a diabetic, a new complaint after a procedure, a severe blood
    pressure reading, 140/90 in a pregnancy; soon: a growing lump, new stomach trouble past 45), else "".
    `pregnant` is what chat.patient read (a denied or planned pregnancy is not one)."""
    readings = [[int(g) for g in m.groups() if g][:2] for m in _BP.finditer(question)]
    if readings:  # once a pressure is told, a bare reading after it is one too ("现在控制在130/80")
        readings = [[int(m.group(1)), int(m.group(2))] for m in _READING.finditer(question)] or readings
    if readings:  # the last reading told is the one now ("以前180/120，现在130/80")
        high, low = readings[-1]
        plausible = 60 <= high <= 300 and 30 <= low <= 200 and high > low
        if plausible and (high >= 140 or low >= 90) and pregnant:
            return PREGNANCY_BP_LINE.format(bp=f"{high}/{low}")  # in pregnancy 140/90 is already a warning
        if plausible and (high >= 180 or low >= 110):
            return BP_LINE.format(bp=f"{high}/{low}")
    exposure = _told(question, _EXPOSURE_COMPILED, EXPOSURE_LINE) or _told(question, _INTACT_SKIN, INTACT_SKIN_LINE) \
        or _told(question, _WRONG_MEDICINE, WRONG_MEDICINE_LINE) \
        or _told(question, _DRUG_RASH, DRUG_RASH_LINE)
    if exposure:
        return exposure
    if not _PLANNED.search(question):
        unprotected = _told(question, _UNPROTECTED, UNPROTECTED_LINE, dated=True)
        if unprotected:
            return unprotected  # (a window of days: before a late period's lines)
    positive = _TEST_POSITIVE.search(question)
    if (positive or _LATE_PERIOD.search(question)) and _BLEEDING_OR_PAIN.search(question) \
            and not _NO_PREGNANCY_POSSIBLE.search(question):
        # a late period or a positive test, with bleeding or pain: an ectopic pregnancy is ruled out first, today
        return ECTOPIC_LINE.format(what="验孕阳性（或弱阳）" if positive else "月经推迟")
    today = _told(question, _OHSS, OHSS_LINE) or _told(question, _TODAY_COMPILED, TODAY_LINE)
    if today:
        return today
    relapse = _told(question, _STOPPED_RELAPSE, STOPPED_RELAPSE_LINE, better_before=True)
    if relapse:
        return relapse
    if age_years is not None and age_years >= 45 and _STOMACH.search(question) and not _LONG_STANDING.search(question):
        return STOMACH_LINE  # new stomach trouble past 45: a gastroscopy is the doctor's to decide, soon
    return _told(question, _SOON_COMPILED, SOON_LINE)


def _told(question: str, compiled, line: str, better_before: bool = False, dated: bool = False) -> str:
    """The line for the first of `compiled` the message tells now (not negated, past or a habit), else "".
    `better_before`: what it tells comes after a time it was better ("后来好了，就没吃了，现在又…"); `dated`: a
    date told before it (a last period's, "上个月20号来的月经") does not put it in the past."""
    for what, pattern in compiled:
        for m in pattern.finditer(question):
            sentence = sentence_before(question, m.start())
            whole = sentence + re.split(r"[。！？!?\n]", question[m.start():])[0]
            if _DISCOUNT_BEFORE.search(question[max(0, m.start() - 6):m.start()]) \
                    or (_OVER.search(sentence) and not (better_before or dated)) \
                    or _SUPPOSED.search(whole):
                continue
            told = m.group(0)
            return line.format(what=f"「{told}」" if len(told) <= 5 else what)
    return ""


# Someone else's blood into a wound, an eye or the mouth, or a needle-stick: prevention works best within hours.
_EXPOSURE_COMPILED = (("被针扎伤或他人的血液接触到伤口、眼睛或口腔",
                       re.compile(r"(针扎伤|针刺伤|被[^。，,]{0,6}针头?(扎|刺)|用过的针头?[^。，,]{0,4}(扎|刺)|"
                                  r"(血|血液)[^。]{0,10}(溅|滴|沾|弄|流)到[^。]{0,16}(伤口|口子|眼睛|眼里|嘴里|口里|嘴巴|破了|破皮|倒刺)|"
                                  r"(伤口|破皮|倒刺)[^。]{0,10}(沾|碰|接触)[^。]{0,6}(血|血液))")),)
EXPOSURE_LINE = ("您提到{what}：请先用流动水冲洗（伤口轻轻挤出血后冲洗消毒），并尽快（最好在2小时内）到医院急诊或感染科，评估是否需要"
                 "乙肝免疫球蛋白、疫苗或艾滋病暴露后预防用药；并尽量了解对方的乙肝、丙肝、艾滋病和梅毒情况。")
# Sex without protection, or a method that failed, and a pregnancy not wanted: emergency contraception works only
# within days ("套套破了，会怀孕吗", "没戴套，怕怀孕"); a pregnancy planned is no such worry.
_UNPROTECTED = (("同房时没有避孕或避孕失败",
                 re.compile(r"(没戴套|没带套|不戴套|没有戴套|没有?(做|采取)?(任何)?(避孕)?措施|无保护|套(套|子)?[^，。,]{0,4}(破|漏|掉|滑)|"
                            r"精液|体外射精|安全期|避孕失败|忘(了|记)吃(避孕)?药)[^。]{0,40}"
                            r"(会不会怀孕|会怀孕|能怀孕|怀上|中招|怕怀孕|担心怀孕|有没有可能怀孕)")),)
_PLANNED = re.compile(r"(备孕|想要(个)?(孩子|宝宝)|准备要孩子|试孕|求子|不孕)")
UNPROTECTED_LINE = ("您提到{what}：如果不想怀孕，紧急避孕药要在同房后72小时内服用，越早越有效，可到药店或医院妇科、计划生育科咨询；"
                    "已超过72小时，请尽快问医生还有什么办法。紧急避孕不能代替常规避孕；如月经推迟一周以上，请验孕。")
# Someone else's blood on skin the person says is whole ("掉在我的手指上…手没伤口"): washing is the whole of it.
_INTACT_SKIN = (("他人的血液沾到完好的皮肤上",
                 re.compile(r"(血|血液|液体|分泌物)[^。]{0,12}(溅|滴|沾|掉|弄|流|碰)(到|在)[^。]{0,10}(手|皮肤|胳膊|手指|脸)"
                            r"(?=[^。]{0,30}(没(有)?(伤口|破|破口|破皮)|完好|无伤口))")),)
INTACT_SKIN_LINE = ("您提到{what}：完好的皮肤能挡住乙肝、丙肝和艾滋病病毒，及时用肥皂和流动水洗净即可，一般不会因此感染；"
                    "如果当时皮肤有伤口、倒刺，或溅进了眼睛、口腔，请尽快（最好在2小时内）到医院急诊或感染科评估。")
# A medicine taken by mistake (someone else's, the wrong one, twice): a 120 emergency when much was taken or a
# child took it (chat.triage); otherwise what to watch for depends on the kind of medicine.
_WRONG_MEDICINE = (("误服或吃错了药",
                    re.compile(r"(吃错(了)?药|误服|误吃|拿错(了)?药|吃了别人的[^。，,]{0,6}药|把[^。，,]{0,10}的[^。，,]{0,6}药[^。，,]{0,4}吃了|"
                               r"吃了[^。，,]{0,6}(爸|妈|爷爷|奶奶|老公|老婆|别人|家人|邻居)[^。，,]{0,3}的[^。，,]{0,6}药|药吃重了|重复吃了|多吃了一次)")),)
WRONG_MEDICINE_LINE = ("您提到{what}：请记下药名、剂量和时间，尽快打电话问医生或药师；误服降压药要留意头晕、乏力、站起来眼前发黑（血压"
                       "过低，先躺下、起身要慢），误服降糖药要留意心慌、出冷汗、手抖（低血糖，能吞咽时先吃糖）；出现这些加重、"
                       "胸闷或意识不清，请立即就医或拨打120。")
# A rash or itch after a medicine, or the person asks whether it is the medicine: a drug allergy is stopped first.
_DRUG_RASH = (("用药后皮肤起疹、发痒",
               re.compile(r"((吃|服|用|打|输|涂|抹|擦|喝)(了)?[^。，,？?]{0,12}(药|粒|片|针|膏|胶囊|颗粒|口服液|吊瓶|点滴|素|西林|头孢|沙星|洛芬|霉素)"
                          r"[^。？?没不无停完]{0,24}(皮疹|疹子|红疹|疙瘩|起包|风团|荨麻疹|(皮肤|身上|全身|浑身|脸上|手上|脖子)[^，。,]{0,3}(红|痒))|"
                          # (not "没有起疹子", not after the medicine was stopped or finished, not an itch elsewhere)
                          r"(是不是|是否|会不会)[^。，,]{0,6}药(物)?过敏|药(物)?过敏(导致|引起|导制|造成)?的吗)")),)
DRUG_RASH_LINE = ("您提到{what}：如果怀疑是药物过敏，先停用这个药，尽快问开药的医生或药师；降压、抗凝、抗癫痫等长期用的药，"
                  "当天就联系医生，由医生决定怎么停或换；出现嘴唇或眼睑肿、喉咙发紧、呼吸困难、起大片水疱或皮肤剥脱，请立即就医或拨打120。")
# After egg retrieval or an embryo transfer, a belly that swells, less urine or breathlessness: ovarian
# hyperstimulation is ruled out the same day, at the clinic that did it.
_OHSS = (("取卵或移植后腹胀、肚子变大等不适", re.compile(r"(取卵|促排卵?|移植)(后|以后|之后|完)?[^。！？!?]{0,30}(腹胀|胃胀|肚子[^，。,]{0,3}(胀|大)|"
                                          r"腹水|尿(量)?(少|减少)|体重[^，。,]{0,4}(增|涨|长)|气短|喘不)")),)
OHSS_LINE = ("您提到{what}：要警惕卵巢过度刺激综合征，建议今天就联系给您做的生殖中心或到医院妇科就诊；"
             "如尿量明显减少、几天内体重增加很快、气短或腹痛加剧，请立即去急诊。")
# A period that is late, then bleeding or lower belly pain: a pregnancy outside the womb is ruled out the same day.
_LATE_PERIOD = re.compile(r"(月经|例假|大姨妈|姨妈|经期)[^。，,；;？?]{0,6}(推迟|延迟|晚了|迟了|没来|不来|过了|超过|迟迟)|"
                          r"停经[0-9一二两三四五六七八九十几多]+(天|周|个?星期|个月)")
_TEST_POSITIVE = re.compile(r"(早孕|验孕|试纸|测孕|孕检)[^。？?]{0,12}(弱阳|阳性|两道杠|两条杠|一深一浅|一道深一道浅|一浅一深)|"
                            r"(HCG|hcg|绒毛膜促性腺激素)[^。？?]{0,8}(阳性|升高|偏高)")
_BLEEDING_OR_PAIN = re.compile(r"出血|流血|见红|褐色|咖啡色|(小腹|下腹|小肚子|肚子|腹部?)[^。，,；;]{0,3}(疼|痛|坠|绞)")
_NO_PREGNANCY_POSSIBLE = re.compile(r"(没有|无|未|没)(过)?(性生活|同房|性行为)|绝经|处女")
ECTOPIC_LINE = ("您提到{what}后又有出血或腹痛：建议今天就到医院妇科（夜间去急诊）查血或尿HCG和B超，先排除宫外孕；如腹痛加剧、"
                "头晕心慌、出冷汗或肛门坠胀，请立即拨打120。")
_STOMACH = re.compile(r"(胃|上腹|心口|反酸|烧心|嗳气|打嗝|消化不良|吞咽|咽东西)")
_LONG_STANDING = re.compile(r"(多年|好几年|几年了|十几年|从小|一直都|老毛病|年轻时)")
# A medicine stopped by the person, then the illness back: the specialist decides how to treat again, soon.
_STOPPED_RELAPSE = (("停药后又复发",
                     re.compile(r"(停药|停了药|药停了|自己停|自行停|就没(再)?吃了?|没再吃|不吃了|没有再吃)[^。？?]{0,20}"
                                r"(又(复发|病发|发作|犯|加重|反弹|严重|高|升|不正常|异常|不好)|复发了|反弹了)")),)
STOPPED_RELAPSE_LINE = ("您提到{what}：请尽快回开药的专科复诊，带上以前的化验单和用药记录，由医生决定是否、怎样重新用药；不要自己恢复以前的药或换药。"
                        "有的病停药后复发来势较重（如乙肝停用抗病毒药后），出现明显乏力、眼黄尿黄或症状迅速加重，请当天就医。")
STOMACH_LINE = ("45岁以上新出现的胃部不适，建议尽快（一两周内）到消化内科就诊，由医生决定是否需要做胃镜；如有黑便、呕血、吞咽困难、"
                "明显消瘦或贫血，应更早就医。")


_SUPPOSED = re.compile(r"(如果|假如|万一|要是|或者说|比如说|假设)")  # a question about a case, not one told
_OVER = re.compile(r"(去年|前年|以前|曾经|那时|当时|小时候|年轻时|几年前|上周末|上个?月|上次|[0-9一二两三四五六七八九十多]+年前|好了|已经好|每次|每回|每当|一到)")  # or a habit


# Words a quoted sentence that answers this kind of concern holds (chosen first among a passage's sentences):
# how it is treated or controlled, how serious it is.
_ANSWERING_WORDS = {
    "what_to_do": ("治疗", "控制", "缓解", "好转", "痊愈", "治愈", "减轻", "复查"),
    "drug": ("治疗", "控制", "用药"),
    "serious": ("严重", "危险", "预后", "恶化", "死亡", "并发症", "致残", "癌变"),
    "can_i": ("治疗", "治愈", "控制", "预后", "复发"),  # (only reorders: "能吃X吗" quotes what names X first)
}


URGENT_SIGNS = "如出现高热不退、剧烈疼痛、呼吸困难、胸痛、意识不清、呕血或黑便等情况，请立即就医或拨打 120。"
CHILD_URGENT_SIGNS = ("孩子如出现精神差或嗜睡、吃奶（进食）明显减少、呼吸急促或费力、抽搐、高热不退、反复呕吐或尿明显减少，"
                      "请立即就医或拨打 120。")
# In pregnancy what must not wait is different: said to every pregnant person the answer is about.
PREGNANCY_SIGNS = "怀孕期间如出现阴道出血、腹痛加重、流水、胎动明显减少、头痛眼花或头晕乏力，请立即到有产科的医院就诊。"


def when_not_to_wait(concern: Concern | None, pregnant: bool | None, describes: bool, entries: str = "") -> str:
    """The signs that mean going now: a pregnancy's own, else those of the kind of complaint described
    (chat.complaints), else those of the kind the answered `entries` are about ("胃癌": the digestive ones), else the
    general ones for a complaint ("" otherwise)."""
    if pregnant:
        return PREGNANCY_SIGNS
    if concern is not None and concern.signs:
        return concern.signs
    general = CHILD_URGENT_SIGNS if concern is not None and concern.child else URGENT_SIGNS  # not 胸痛, 呕血 for a baby
    return (signs_of_entries(entries) or general) if describes else ""


def signs_of_entries(names: str) -> str:
    """When not to wait for the kind of complaint the answered entries are about ("胃癌" -> the digestive signs), or
    "" when their names say no kind: said instead of the general line when the message named no complaint."""
    kind = complaints.of(names) if names else None
    return complaints.signs(kind, names) if kind is not None else ""


def answering_words(concern: Concern) -> tuple[str, ...]:
    """What a sentence that answers this concern mentions (`_ANSWERING_WORDS`), for choosing sentences."""
    return _ANSWERING_WORDS.get(concern.kind, ())


_QUESTIONS = {
    "age": "请问患者（是您本人还是家人）今年多大年龄？",
    "duration": "这种情况持续多久了，是越来越重还是时好时坏？",
    "site": "具体是哪个部位不舒服？",
    "pregnancy": "有没有怀孕的可能（近期有没有同房，测过早孕试纸吗）？",
    "values": "报告上的具体数值、单位和参考范围分别是多少？",
    "conclusion": "报告最后的结论（诊断意见或分级）写的是什么？是因为什么不舒服去做的检查？",
    "drug": "吃（用）的是什么药？药名、剂量和开始用药的时间是？",
}


def follow_up(concern: Concern) -> str:
    """At most two questions for the facts that would change the answer (empty when nothing is missing)."""
    asks = [m[len(COMPLAINT):] if m.startswith(COMPLAINT) else _QUESTIONS[m] for m in concern.missing]
    if not asks:
        return ""
    return "为了更准确，请补充：" + "".join(f"\n- {a}" for a in asks)


def scope_line(concern: Concern) -> str:
    """One line for a product the KB does not cover, and whom to ask instead."""
    if not concern.out_of_scope:
        return ""
    whom = ("医生或药师（正在用药或有慢性病时尤其要先问）" if _SUPPLEMENT.search(concern.out_of_scope)
            else "正规医院的皮肤科、整形外科医生")
    return (f"知识库收录的是药品说明书、疾病和检查，不包括「{concern.out_of_scope}」这类产品或美容项目的效果和风险；"
            f"这类问题请咨询{whom}，或看产品说明与监管部门的备案信息。")


def lead_line(concern: Concern) -> str:
    """What decides the kind of complaint, said first when the KB has no entry to answer from ("" for most)."""
    kind = complaints.named(concern.complaint)
    return kind.lead if kind else ""


def usual_department(concern: Concern) -> str:
    """Where the kind of complaint described is usually seen first ("" when no kind was read); a child's medical
    complaint in paediatrics (a baby's stomach trouble was sent to 消化内科)."""
    kind = complaints.named(concern.complaint)
    if not kind:
        return ""
    if concern.child and ("内科" in kind.department or kind.department == "内分泌科") and "儿" not in kind.department:
        # a child's medical complaint (eyes, teeth, skin and injuries keep their own department): 消化内科 -> 小儿消化科
        plain = re.fullmatch(r"(消化|呼吸|神经|心|肾|内分泌)(内)?科", kind.department)
        return f"儿科（小儿{plain.group(1).replace('心', '心血管')}科）" if plain else "儿科"
    return kind.department


_CARED_FOR_WHERE_DONE = ("reproduction",)  # kinds of complaint that belong to the procedure that caused them


def where_to_go(concern: Concern, kb_department: str) -> str:
    """The department to name first: the KB's for what is answered, else the kind of complaint's; a child's
    paediatrics where the KB's names none (its 就诊科室 lists are written for adults)."""
    usual = usual_department(concern)
    if concern.complaint in _CARED_FOR_WHERE_DONE and usual:
        return usual  # after egg retrieval the clinic that did it, not where the KB's 腹水 is seen
    if concern.child and kb_department and "儿" not in kb_department:
        return usual if "儿" in usual else "儿科"
    return kb_department or usual


def direction_line(department: str, concern: Concern | None = None) -> str:
    """Where to go first: the department the KB's entries for what the message describes point to, else where
    the kind of complaint is usually seen first."""
    if department:
        return f"可以先到{department}就诊：知识库中有这类表现的疾病多在{department}诊治。"
    usual = usual_department(concern) if concern is not None else ""
    return f"这类情况一般可以先到{usual}就诊。" if usual else ""


def link_line(x: str, y: str, section: str = "") -> str:
    """Whether the KB's entry for `x` names `y` (the person asked "X会引起Y吗"): said before the cited facts;
    `section`: where the entry names it ("" when it does not)."""
    if section:
        return f"知识库中「{x}」的{section}写到了「{y}」，见下文；会不会发生在您身上，要由医生结合您的病情和检查判断。"
    return (f"知识库中「{x}」的条目没有写到「{y}」，这不等于不会发生；如出现「{y}」或原有症状加重，请及时就医。"
            f"下面是知识库中「{x}」的相关内容。")


_VERB = re.compile(r"^(吃|喝|用|服用|抽|吸|饮|食用|进食|做|去|打|喂|涂|擦|泡)")
# A food or habit said through its kind ("牛奶" is in "低脂奶制品", "喝酒" in "限制饮酒"): the morpheme looked for
# when the whole word is not in the text ("蛋" is not one: it is in 蛋白).
_KIND_OF = re.compile(r"(奶|酒|茶|咖啡|辣|糖|盐|烟|醋|海鲜|豆浆)$")


def can_words(about: str) -> tuple[str, ...]:
    """What to look for in an entry's text for "能不能X": X without its verb, then its kind ("喝牛奶" -> 牛奶, 奶)."""
    thing = _VERB.sub("", about) or about
    kind = _KIND_OF.search(thing)
    return tuple(dict.fromkeys(w for w in (thing, kind.group(1) if kind else "") if len(w) >= 1 and w != about)) \
        or (thing,)


def is_diet(about: str) -> bool:
    """Whether "能不能X" asks about eating or drinking something."""
    return bool(re.match(r"(吃|喝|饮|食用|进食)", about) or _KIND_OF.search(about))


def can_line(x: str, about: str, section: str = "", diet: bool = False) -> str:
    """What the KB's entry for `x` says about "能不能「about」": the section that mentions it (said before the
    cited sentences), else that its diet advice does not name it; never a yes or no of the KB's own."""
    if section:
        return (f"关于「{about}」：知识库中「{x}」的{section}部分有相关内容（见下文「{x}的{section}」）；"
                "是否适合您，还要结合您的具体情况和医生的意见。")
    if diet:
        return f"知识库中「{x}」的饮食建议没有直接提到「{about}」；下面是它的饮食建议，可对照参考，拿不准时请问医生。"
    return ""


def purpose_line(drug: str, wanted: str, listed: bool, child_unsaid: bool = False) -> str:
    """Whether a drug's label lists, among its indications, what the person would use it for ("X能治Y吗", "Y可以吃X
    吗"): said before its 适应症; never a yes of the KB's own. `child_unsaid`: the patient is a child and nothing
    the KB holds of the drug speaks of children: that is the answer, whatever its indications list (they are not shown)."""
    if child_unsaid:
        return (f"知识库中「{drug}」的内容没有写到儿童（婴幼儿）能不能用、怎么用，所以不能说可以给孩子用；"
                "给孩子用药请先问儿科医生或药师，不要自行给药。")
    if listed:
        return (f"知识库中「{drug}」的适应症写到了「{wanted}」（见下文）；是否适合您、怎么用，请按医嘱或说明书，拿不准时问医生或药师。")
    return (f"知识库中「{drug}」的适应症没有写到「{wanted}」（下文是它写明的用途）；用它来治「{wanted}」是否合适，请先问医生或药师，"
            "不要自行服用。")


def reaction_line(drug: str, told: list[str], listed: list[str]) -> str:
    """Whether the label of a drug the person took lists what they tell ("吃了X以后起皮疹，是过敏吗"): said before
    the label's sentences; whether the drug caused it is the doctor's to judge."""
    said = (f"知识库中「{drug}」的不良反应写到了「{'、'.join(listed)}」（见下文）" if listed
            else f"知识库中「{drug}」的不良反应没有写到「{'、'.join(told)}」，这不等于不会发生")
    return (said + "；是不是这个药引起的，要由医生判断，是否需要停药或换药请尽快问开药的医生或药师。"
            "如出现全身皮疹、嘴唇或眼睑肿胀、呼吸困难、胸闷或头晕，请立即就医。")


def diet_line(x: str) -> str:
    """The first line for "X吃什么好" when X's entry has diet advice: that it follows, and what it cannot know."""
    return (f"吃什么，知识库中「{x}」的饮食建议见下文；这是一般的建议，具体还要结合病因、病情和医生的嘱咐，"
            "饮食调整不能代替检查和治疗。")


def cure_line(x: str) -> str:
    """The first line for "X能治好吗" when X's entry says whether and how it is cured or controlled."""
    return (f"能不能治好，知识库中「{x}」的说法见下文（是总体情况，不是对您的预测）；具体到您，要看病情轻重、治疗是否规范，"
            "由医生结合检查和治疗反应判断，按时复诊、规范治疗最要紧。")


def course_line(x: str) -> str:
    """The first line for "X要紧吗" when X's entry says how it goes (cured, controlled, benign): that it follows."""
    return (f"是否严重，要看病情轻重，由医生结合检查判断；知识库中「{x}」关于病程和预后的说法见下文（是总体情况，"
            "不是对您的判断），按医生的安排复查最要紧。")


def serious_line(x: str) -> str:
    """The first line for "X要紧吗" when the KB lists what X can lead to: what decides it, and that list."""
    return (f"是否严重，要看病情轻重和有没有并发症，由医生结合检查判断，知识库不能替您下结论；"
            f"知识库中「{x}」可能引起的并发症见下文，定期复查、及时治疗就是为了防止这些情况。")


# A result told with its reference range: "FT3是13.85正常值是3.67-5.6", "谷丙转氨酶结果是74.0参考值是0-40",
# "ALT 74（0-40）". The range must be said (正常值/参考值… or brackets): "38-39度" is no result.
_MEASURED = re.compile(
    r"(?P<name>[A-Za-z][A-Za-z0-9\-]{0,9}|[\u4e00-\u9fff]{2,8}?)\s*(结果)?(是|为|:|：)?\s*(?P<value>\d+(\.\d+)?)\s*"
    r"([A-Za-zμ/%]+)?\s*[，,]?\s*(([（(]\s*)?(正常值|参考值|参考范围|正常范围)(是|为|:|：)?|[（(])\s*"
    r"(?P<low>\d+(\.\d+)?)\s*(-|~|～|—|至|到)\s*(?P<high>\d+(\.\d+)?)")


def measures_line(question: str) -> str:
    """The person's own results set against the ranges they wrote ("FT3 13.85，高于参考范围上限5.6"): arithmetic on
    what they told, no KB fact; "" when no result is told with its range."""
    said, outside = [], False
    for m in _MEASURED.finditer(question):
        name, value, low, high = m.group("name"), float(m.group("value")), float(m.group("low")), float(m.group("high"))
        named = next((n for t in values.TESTS if (n := re.search(t.said, name, re.I))), None)
        name = named.group() if named else name  # "查出来谷丙转氨酶" -> "谷丙转氨酶"
        if low >= high:
            continue
        where = (f"高于上限{m.group('high')}" if value > high else f"低于下限{m.group('low')}" if value < low
                 else "在范围内")
        said.append(f"{name} {m.group('value')}，{where}")
        outside = outside or not low <= value <= high
    if not said:
        return ""
    return ("按您写的参考范围：" + "；".join(dict.fromkeys(said)) + "。"
            + ("超出范围的程度和意义，要由医生结合症状和其他检查判断。" if outside else ""))


# "血清ALT能查出乙肝吗", "B超能看出胆结石吗": whether a test the person names finds a disease.
DETECTS = re.compile(r"(查出|查到|检查出|测出|查得出|看出|查出来|诊断出|筛查出)")
TESTS_NAMED = re.compile(r"(血常规|尿常规|便常规|大便常规|肝功能?|肾功能?|血脂|血糖|B超|彩超|超声|CT|核磁|磁共振|胃镜|肠镜|心电图|"
                         r"X光|胸片|两对半|五项|抽血|验血|[A-Z]{2,6})")


def test_line(disease: str, named: list[str], listed: list[str]) -> str:
    """Which of the tests the person named the KB's entry for `disease` lists (they asked "X能查出Y吗"). A test not
    found is not said to be missing: the entry may write it another way (乙肝表面抗体, 乙型肝炎表面抗体)."""
    said = (f"知识库中「{disease}」的检查写到了「{'、'.join(listed)}」；" if listed else
            f"您问的检查能不能查出{disease}，请对照下面知识库中「{disease}」列出的检查；")
    return said + f"{disease}要靠哪些检查确定、具体做哪项，由医生决定。"


def hypothesis_line(x: str, told: list[str], listed: list[str], exams: bool) -> str:
    """Whether the KB's entry for `x` lists what the person told (they asked "这是X吗"): said before the cited
    symptoms (and exams, when `exams`); never a yes: findings many conditions share decide nothing alone."""
    check = f"；是不是{x}，要由医生结合检查确定（知识库中{x}的检查见下文）" if exams else f"；是不是{x}，要由医生面诊、检查后确定"
    if listed:
        rest = [t for t in told if t not in listed]
        return (f"知识库中「{x}」的症状写到了您说的「{'、'.join(listed)}」" +
                (f"，没有写到「{'、'.join(rest)}」" if rest else "") +
                "，但这些表现不少疾病都会有，不能据此断定" + check + "。")
    return f"知识库中「{x}」的症状没有写到您说的「{'、'.join(told)}」" + check + "。"


def first_line(concern: Concern, *, named: str = "", department: str = "", supported: bool = True) -> str:
    """The sentence that answers the concern before the cited facts. `named`: the KB entry the answer is
    about (empty for possible conditions); `department`: where to go, as the KB says; `supported`: whether the
    KB has cited facts to follow. Never a judgement the KB does not make: what cannot be judged is said so."""
    go = f"建议到{department}就诊" if department else "建议到正规医院就诊"
    about = f"「{named}」" if named else "这种情况"
    if concern.today and concern.kind in ("serious", "normal"):
        return f"{go}。" + ("下面是知识库中与您描述相关的内容。" if supported else "")  # (said: not for waiting)
    if concern.kind == "serious":
        return (f"是否严重，要由医生面诊、必要时检查后才能判断，知识库不能替您下结论；{go}。"
                + ("下面是知识库中与您描述相关的内容，以及哪些情况需要马上就医。" if supported else ""))
    if concern.kind == "normal":
        return f"是否正常要结合年龄、持续时间和检查结果判断，知识库不能替您下结论；如持续或加重，{go}。"
    if concern.stopping:
        return STOPPING_LINE + (f"以下是知识库中{about}的相关内容。" if supported else "")
    if concern.kind == "can_i" and _SEEING_A_DOCTOR.search(concern.about or ""):
        # "要不要去医院", "有必要去医院医治吗": the safe answer is yes, not "the KB has no clear conclusion"
        return (f"需要。{go}，请医生当面检查后判断；不要只在家观察。"
                + (f"以下是知识库中{about}的相关内容，供您和医生沟通时参考。" if supported else ""))
    if concern.kind == "can_i":
        x = f"「{concern.about}」" if concern.about else "这样做"
        second = "如有疑虑，可以带上检查结果（片子、报告）再请另一位医生看看。" if concern.must else ""
        return (f"{'是否需要' if concern.must else '能否'}{x}，知识库中没有针对您情况的明确结论，需要医生结合您的具体情况判断"
                + (f"；以下是知识库中{about}的相关内容，供您和医生沟通时参考。" if supported else "。") + second)
    if concern.kind == "side_effects":
        return ("副作用因药而异，要看具体是哪种药、吃多大量、吃了多久；担心副作用时不要自行停药、减量或换药，请和开药的医生商量、"
                "按时复查" + ("；以下是知识库中的相关内容。" if supported else "。"))
    if concern.kind == "drug":
        return ("用什么药要由医生检查、明确原因后决定，不要自行用药；" +
                ("以下药物只是知识库中写明用于该病的药，不是处方。" if supported else f"{go}。"))
    if concern.kind == "result":
        return f"单项检查结果要结合症状、其他检查和参考范围由医生解读，知识库不能替您下结论；{go}，带上完整报告。"
    if concern.kind == "hospital":
        return "知识库不收录医院排名、医生和费用信息；" + ("下面是该病通常就诊的科室和检查，可据此挂号。" if supported else f"{go}。")
    if concern.kind == "what_to_do":
        return f"{go}，由医生明确原因后处理" + (f"；在此之前，下面是知识库中{about}的相关内容。" if supported else "。")
    return ""
