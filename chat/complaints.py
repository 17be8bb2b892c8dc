"""Kinds of complaint: what a doctor would ask first and when not to wait, by the part of the body a message is about.

A person who writes "双膝盖蹲不下伸不直" or "白带发黄，有时痒" needs the questions that decide (was there an
injury; the colour and smell, a possible pregnancy), the department to see first, and the signs that mean going
now for *that* complaint, not a generic list of fevers and chest pain. These are the product's own triage
content (like `chat.triage`'s "等待救助时" lines), not KB facts: they name no disease, drug, dose or population,
and they are said as questions and warning signs, never as a diagnosis.

`of(text)` reads which kind a message is about: the kind with the most of its words in the message, the first in
`KINDS` on a tie (so a discharge with 痒 is gynaecology, not skin). Everything else (`chat.concern`, the
pipeline) reads the `Complaint` it returns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from retriever.words import DENIAL_CHARS, DIAGNOSIS_TOLD, RULED_OUT_AFTER, WONDERED

from chat import values


@dataclass(frozen=True)
class Complaint:
    kind: str
    words: re.Pattern
    department: str  # where such a complaint is usually seen first, when the KB points nowhere more specific
    asks: tuple[str, ...]  # the questions that decide, most useful first
    signs: str  # when not to wait
    # per question: words that show the message already answers it, or per part of it (its clauses, "，")
    told: tuple[re.Pattern | tuple[re.Pattern | None, ...] | None, ...] = ()
    condition: bool = False  # a long-standing condition named by the person (癫痫, 高血压): its own questions
    lead: str = ""  # what decides it, said first when the KB has no entry to answer from

    def questions(self, text: str, child: bool = False) -> tuple[str, ...]:
        """The questions `text` does not already answer, most useful first; for a child, not the parts that are
        an adult's (smoking, drinking, sex)."""
        told_values = [r.test for r in values.read(text)]  # a result given with its value ("HBV-DNA 2.3*10^7")

        def moot(part: str) -> bool:
            return bool(child and _ADULT_PARTS.search(part)) or any(re.search(t.said, part, re.I) for t in told_values)

        # "牙不疼" tells how it hurts; a question that takes a pain as told is not asked of "恶心没食欲"
        return tuple(asked for q, told in zip(self.asks, self.told) if (asked := _without(_untold(q, told, text), moot))
                     and not ("疼" in q and _NO_PAIN.search(text))
                     and not (_HOW_IT_HURTS.search(q) and not _PAIN.search(text)))


# Parts of a question only an adult is asked ("是否吸烟" of an infant's cough, as a blind read found).
_ADULT_PARTS = re.compile(r"(吸烟|抽烟|喝酒|饮酒|同房|性生活|性伴)")


def _without(question: str, moot) -> str:
    """`question` less its parts (its "，" clauses, and a part's "或"/"、" items) that `moot` says need not be asked."""
    if not question:
        return question
    parts = []
    for part in question.rstrip("？").split("，"):
        if not moot(part):
            parts.append(part)
            continue
        # ("最近有没有感冒、接触过敏原或吸烟": the smoking item alone, each kept item with the word before it)
        tokens = re.split(r"([、或])", part)
        kept = [(tokens[i - 1] if i else "", tokens[i]) for i in range(0, len(tokens), 2)
                if not (tokens[i] and moot(tokens[i]))]
        if kept and tokens[0] and kept[0][0]:
            kept[0] = ("", kept[0][1])  # the first item went: no word before the new first
        if any(item for _, item in kept) and len(kept) < len(tokens[::2]):
            parts.append("".join(sep + item for sep, item in kept))
    return "，".join(parts) + "？" if parts else ""


def _untold(question: str, told, text: str) -> str:
    """`question` less what `text` already tells: all of it ("" when told), or the parts of it not told
    ("什么时候被咬的，伤口破皮、出血了吗，在哪个部位？" of "被狗咬出血了": "什么时候被咬的，在哪个部位？")."""
    if told is None:
        return question
    if not isinstance(told, tuple):
        return "" if told.search(text) else question
    parts = question.rstrip("？").split("，")
    kept = [p for p, t in zip(parts, told + (None,) * len(parts)) if t is None or not t.search(text)]
    return "，".join(kept) + "？" if kept else ""


_HOW_IT_HURTS = re.compile(r"^疼|疼痛是")  # a question that takes a pain as told ("疼在肚子哪个位置")
_PAIN = re.compile(r"疼|痛")
_NO_PAIN = re.compile(r"(不疼|不痛|没疼|没有疼|没有痛|无痛|不怎么疼|没什么疼|也不疼|也不痛)")


def _kind(kind: str, words: str, department: str, asks: tuple[str, ...], signs: str,
          told: tuple[str | None, ...] = (), condition: bool = False, lead: str = "") -> Complaint:
    """`told`: for each of `asks`, what a message says that already answers it ("肝功能正常", "豆腐渣样"): the
    question is not asked again of a person who told it (None: always asked)."""
    told = tuple(told) + (None,) * (len(asks) - len(told))
    return Complaint(kind, re.compile(words), department, asks, signs, tuple(_compiled(t) for t in told), condition,
                     lead)


def _compiled(told):
    if isinstance(told, tuple):
        return tuple(re.compile(t) if t else None for t in told)
    return re.compile(told) if told else None


# Long-standing conditions a person says they have: what decides the next step is how it is treated and
# measured now (a missed dose, the latest values), and each has its own emergency. Read before the body's parts:
# "癫痫…四肢麻木" is about the epilepsy.
CONDITIONS: tuple[Complaint, ...] = (
    _kind("epilepsy", r"(癫痫|羊癫疯|羊羔疯|羊角疯|羊角风|羊痫风|羊癫风|抽风)", "神经内科",
          ("最近有没有漏服、自行减量或换药，或熬夜、饮酒、发热？",
           "现在吃的是什么抗癫痫药，平时多久发作一次？"),
          "如一次抽搐超过5分钟，或接连发作、两次发作之间意识不恢复，或发作时摔伤头部、呼吸困难，请立即拨打120；"
          "发作时让患者侧躺，不要往嘴里塞东西。",
          (None, r"(丙戊酸|卡马西平|奥卡西平|左乙拉西坦|拉莫三嗪|苯妥英|托吡酯|德巴金|开浦兰|妥泰|苯巴比妥)"), condition=True),
    # a stroke had: a new or worse weakness, droop or slurring is another stroke until shown otherwise
    _kind("stroke", r"(中风|脑梗|脑卒中|脑血栓|脑出血|脑溢血|腔梗|腔隙性梗)", "神经内科",
          ("中风（脑梗、脑出血）是多久以前的事？这次的不适是突然出现或加重的吗，从什么时候开始？",
           "现在血压怎样，在吃哪些药（降压、降脂、抗血小板或抗凝药），有没有按时吃？"),
          "如突然出现新的或加重的一侧手脚无力或麻木、口角歪斜、说话不清、看不清东西、剧烈头痛或意识不清，请立即拨打120，"
          "记下发病时间（越早救治越好）。",
          (r"(刚刚|刚才|今天|昨天|前天|[0-9一二两三四五六七八九十几半]+\s*(个)?(小时|天|周|星期|个月|月|年)(前|了|多))",),
          condition=True),
    _kind("hypertension", r"(高血压|血压高|血压偏高|血压升高)", "心内科",
          ("最近量的血压是多少（高压/低压），多久量一次？", "现在吃什么降压药，有没有按时吃？"),
          "如血压突然很高（如180/120mmHg以上）并伴剧烈头痛、胸痛、呼吸困难、看东西模糊、一侧肢体无力或说话不清，请立即拨打120。",
          (r"\d{2,3}\s*[/／]\s*\d{2,3}|(高压|收缩压)[^，。]{0,4}\d", r"(地平|沙坦|普利|洛尔|噻嗪|吲达帕胺|降压0号|利血平)"), condition=True),
    _kind("diabetes", r"(糖尿病|血糖高|血糖偏高|高血糖)", "内分泌科",
          ("空腹和餐后血糖、糖化血红蛋白是多少？", "现在用什么降糖药或胰岛素，是否按时用？"),
          "如出现心慌、手抖、出冷汗、意识模糊（可能是低血糖，能吞咽时先吃糖），或极度口渴、呕吐、呼吸深快、嗜睡，请立即就医或拨打120。",
          (r"(血糖|空腹|餐后)[^，。]{0,6}\d", r"(二甲双胍|格列|胰岛素|阿卡波糖|拜糖平|西格列汀|达格列净|诺和|吡格列酮|瑞格列奈)"), condition=True),
    _kind("fatty_liver", r"(脂肪肝|酒精肝|酒精性肝)", "消化内科",
          ("平时喝酒吗，每天大概喝多少，体重、腰围最近有没有增加？",
           "最近一次转氨酶、血脂、血糖和肝脏B超结果怎样？"),
          "如出现眼睛或皮肤发黄、尿色像浓茶、极度乏力不想吃饭、肚子胀大，或呕血、解黑便、神志改变，请尽快就医。",
          # whether one drinks is told by any drink named ("我经常喝啤酒") or by 酒精肝 itself; how much by an amount
          ((r"(喝[^，。,]{0,4}酒|饮酒|酗酒|戒酒|酒量|酒精肝|酒精性|不喝酒|不饮酒)",
            r"(\d+|[一二两三四五六七八九十半几])\s*(瓶|两|斤|杯|听|罐|升|毫升|ml|克)|不喝酒|不饮酒|滴酒不沾", None),),
          condition=True),
    _kind("liver", r"(乙肝|丙肝|甲肝|戊肝|肝炎|大三阳|小三阳|肝硬化|肝病|转氨酶|肝功|病毒携带|乙型肝炎)", "感染科或消化内科（肝病门诊）",
          ("最近一次肝功能（转氨酶）和肝脏B超结果怎样？如是乙肝，HBV-DNA（病毒量）是多少？",
           "现在有没有在用药（包括抗病毒药、保健品），是否规律？"),
          "如出现眼睛或皮肤发黄、尿色像浓茶、极度乏力不想吃饭、肚子胀大，或呕血、解黑便、神志改变，请尽快就医。",
          (r"(ALT|AST|转氨酶|谷丙|谷草|DNA|病毒量)[^，。]{0,10}\d|(肝功能?|转氨酶)[^，。？?]{0,4}(正常|异常|不正常|偏高|升高|高)",
           r"(没(再)?吃了|没再吃|停药|停了药|药停了|自行停|不吃了|没有?(吃|用)药)"),  # (taking it: whether regularly is asked)
          condition=True),
    _kind("heart", r"(冠心病|心绞痛|心梗|心肌梗|心衰|心力衰竭|心脏病|房颤|心律不齐|早搏|心肌缺血|供血不足)", "心内科",
          ("胸闷、胸痛多在什么时候发作，每次多久，休息后能否缓解？", "现在吃什么药，有没有高血压、糖尿病？"),
          "如胸口压榨样疼痛超过15分钟、休息或含药不缓解，或伴大汗、呼吸困难、晕厥，或夜里憋醒不能平躺，请立即拨打120。",
          condition=True),
    _kind("airways", r"(哮喘|慢阻肺|慢性阻塞性肺|肺气肿|支气管扩张)", "呼吸内科",
          ("现在用什么吸入药，最近发作是否更频繁、夜里会不会憋醒？", "最近有没有感冒、接触过敏原或吸烟？"),
          "如说话不成句、口唇发紫、用了急救吸入药仍不缓解，或咳大量鲜血，请立即拨打120。", condition=True),
    _kind("thyroid", r"(甲亢|甲状腺功能亢进|甲状腺机能亢进|格雷夫斯|Graves)", "内分泌科",
          ("最近一次甲状腺功能（FT3、FT4、TSH）是多少？", "现在吃什么药、剂量多少，多久复查一次？"),
          "如出现高热、心跳很快、大汗、烦躁或神志不清，或服抗甲状腺药期间发热、咽痛，请立即就医。",
          (r"(FT3|FT4|TSH|T3|T4)[^，。]{0,6}\d",), condition=True),
    # an underactive thyroid has other dangers than an overactive one (not a thyroid storm, not the antithyroid
    # drugs' fever and sore throat)
    _kind("hypothyroid", r"(甲减|甲状腺功能减退|甲状腺机能减退|桥本)", "内分泌科",
          ("最近一次甲状腺功能（TSH、FT4）是多少？", "现在吃什么药、剂量多少，是否规律服用，多久复查一次？"),
          "如出现极度乏力嗜睡、明显怕冷、全身浮肿、反应迟钝或意识模糊、心跳很慢，请尽快就医。",
          (r"(FT3|FT4|TSH|T3|T4)[^，。]{0,6}\d",), condition=True),
    # a course of rabies vaccine under way: the dates are the clinic's schedule, kept without delay
    _kind("rabies_vaccine", r"(狂犬疫苗|狂犬病疫苗|狂犬针|狂犬病针|狂犬免疫球蛋白)", "狂犬病预防门诊（犬伤门诊）",
          ("第一针是哪天打的，接种本上写的是哪种程序（如5针法或4针法）？",
           "被咬（抓）的伤口现在怎样，有没有红肿、流脓？"),
          "请按接种本上的日期按时接种，不要推迟或漏打；具体日期以给您打第一针的接种门诊为准，如已错过请尽快联系该门诊补种。",
          (r"(第一针|首针)[^，。]{0,8}(号|日|天|昨天|今天)|(号|日|昨天|今天)[^，。]{0,8}(第一针|首针)",), condition=True),
    _kind("kidney", r"(肾炎|肾病|尿毒症|肾衰|肾功能不全|蛋白尿|肌酐高|肌酐偏高)", "肾内科",
          ("最近的肾功能（肌酐）和尿常规（尿蛋白）结果是多少？", "有没有浮肿、尿量变化，血压多少？"),
          "如尿量明显减少或没有尿、全身明显浮肿、气短不能平躺，或心慌乏力明显，请立即就医。", condition=True),
)


# Order breaks ties: the more specific kind first (a discharge that itches is gynaecology; a bleeding anus is not
# digestion in general).
KINDS: tuple[Complaint, ...] = (
    # a baby in its first months: how it feeds and behaves, and where the temperature was taken, decide
    _kind("baby", r"(新生儿|婴儿|出生(后)?[0-9一二两三四五六七八九十几]+\s*(天|周)|满月|[0-9一二两三四五六七八九十几]+\s*(天|周)大?的?(宝宝|婴儿|孩子))",
          "儿科（新生儿科）",
          ("吃奶、精神、哭声和大小便怎么样，和平时比有没有变化？",
           "体温是在哪里量的（腋下、额头、耳朵），隔一会儿复测是多少？有没有包得太厚？"),
          "三个月内的宝宝如腋温达到37.5℃以上、吃奶明显减少、精神差或嗜睡、呼吸急促、皮肤发黄加重或反复呕吐，请立即去医院急诊。"),
    # after a birth or a pregnancy that ended (流产, 人流, 药流, 清宫): what is left in the womb and infection decide
    _kind("postpartum", r"(产后|剖腹产|剖宫产|剖妇产|顺产|生完孩子|生孩子后|坐月子|月子里|月子期|恶露|流产|人流|药流|清宫|刮宫)",
          "妇产科",
          ("出血的量和颜色怎样，有没有血块、异味，有没有发热或腹痛？",
           "是产后还是流产后，过去多久了，复查过B超吗？"),
          "如出血突然增多（1小时湿透一片卫生巾）、有大血块、发热、腹痛加剧、分泌物有臭味，或伤口红肿流脓，请尽快到妇产科就诊。",
          (r"(血块|鲜红|暗红|褐色|咖啡色|量(很|挺|比较|特别)?(多|少|大))",
           r"(产后|流产|人流|药流|剖).{0,12}([0-9一二两三四五六七八九十几半]+\s*(个月|周|星期|天))|"
           r"([0-9一二两三四五六七八九十几半]+\s*(个月|周|星期|天)).{0,12}(产后|流产|人流|药流)|B超")),
    # a bite or scratch of an animal: the wound is washed at once and rabies prevention decided the same day
    _kind("bite", r"((狗|猫|鼠|老鼠|动物|宠物|狗狗|猫咪|蝙蝠|猴)[^，。,]{0,6}(咬|抓|挠)|被咬|咬(伤|破|出血|了一口)|抓伤|抓破)",
          "狂犬病预防门诊（犬伤门诊）或急诊外科",
          ("什么时候被咬（抓）的，伤口破皮、出血了吗，在哪个部位？",
           "咬人的动物打过狂犬病疫苗吗，现在状况如何？您以前打过狂犬病疫苗吗？"),
          "被狗、猫等动物咬伤或抓伤且破皮、出血的，请尽快用肥皂水和流动清水交替冲洗伤口约15分钟，"
          "当天到狂犬病预防门诊（犬伤门诊）处理伤口，由医生评估是否需要接种狂犬病疫苗和免疫球蛋白，不要等待观察。",
          ((r"(小时|天|周|刚才|刚刚|昨天|今天|前天|早上|晚上|上午|下午)", r"(出血|流血|破皮|破了|见血|没破|冒血|渗血)",
            r"(手|脚|腿|胳膊|脸|头|指|臂|背|屁股|腰|肚子|鼻|耳|嘴|脖子)"),),
          lead="被动物咬伤或抓伤，要不要紧主要看伤口是否破皮出血和动物情况；破皮出血的，要尽快冲洗伤口并当天到狂犬病预防门诊评估。"),
    # a surgical wound (an incision, its stitches): how it heals after the operation, seen by the surgeons who did it
    _kind("surgical_wound", r"(缝合|清创|拆线|刀口|切口|术后伤口|手术伤口|手术的伤口)", "做手术的医院的外科（或手术科室）",
          ("做的是什么手术，术后多久了？刀口现在有没有红肿、渗液、裂开，有没有发热？",
           "有没有糖尿病，或在用激素、免疫抑制剂（如器官移植后）？"),
          "如刀口红肿热痛加重、渗液或流脓、裂开，或发热，请尽快回做手术的医院就诊；器官移植后或正在用免疫抑制剂的人更不要拖。",
          lead="手术刀口的护理（换药、拆线、洗澡、活动）要按做手术的医生交代的来；刀口红肿、渗液、裂开或发热，要回做手术的医院看。"),
    _kind("wound", r"(划伤|割伤|擦伤|刮伤|撞伤|碰伤|磕伤|扎伤|咬伤|伤口|外伤|破了|流血了|缝针|结痂)", "外科",
          ("伤口多深、多长，在哪个部位，出血止住了吗，现在有没有红肿、流脓？",
           "近5～10年打过破伤风疫苗吗？是被什么弄伤的（生锈或脏的东西、动物）？"),
          "如伤口出血压迫10分钟仍止不住、伤口深或有异物、红肿化脓伴发热，请尽快就医；被动物咬伤要尽快处理伤口并咨询狂犬病疫苗；"
          "头部受伤后如头痛加重、反复呕吐、嗜睡或一侧肢体无力，请立即拨打120。",
          (r"(厘米|cm|缝了|缝针|止住|红肿|流脓|结痂)",),
          lead="伤口要不要紧，主要看多深、多大、血止没止住、是被什么弄伤的；深的、止不住血的、被生锈或脏东西或动物弄伤的，要当天到外科处理。"),
    # a pregnancy just found (a test turned positive): how far along, and the signs of one outside the womb
    _kind("pregnancy", r"(怀孕了|显示怀孕|测出怀孕|查出怀孕|确认怀孕|两道杠|早孕|孕早期|怀孕.{0,3}(周|天|个月)|孕\d+周|"
                       r"一道?深一道?浅|(?<!TP)(?<!PR)(?<!PA)(?<!抗原)(?<!抗体)弱阳)", "妇产科",  # (TP弱阳性: syphilis)
          ("末次月经第一天是哪天，停经多少天了？做过抽血HCG或B超吗？",
           "有没有腹痛、阴道出血？以前有没有宫外孕、流产或剖宫产？"),
          "停经后如出现腹痛（尤其一侧下腹剧痛）、阴道出血、头晕或晕倒，请立即去急诊，须排除宫外孕。",
          (r"(\d+|[一二两三四五六七八九十]+)\s*号来|末次月经|停经[0-9一二两三四五六七八九十几多]+|"
           r"推迟(了)?[0-9一二两三四五六七八九十几]+\s*(天|周)",
           r"(腹痛|肚子(疼|痛)|小腹(疼|痛)|出血|流血|见红)"),
          lead="是否怀孕、是不是怀在子宫里，要靠抽血HCG和B超确认，建议到妇产科检查；在此之前注意休息，不要自行用药。"),
    _kind("gynaecology", r"(白带|阴道|外阴|月经|例假|姨妈|经期|痛经|下身|私处|宫颈|子宫|卵巢|附件|盆腔|排卵|同房后出血|经血|验孕|试纸|测孕|HCG|hcg|孕酮)",
          "妇科",
          # (a possible pregnancy is asked by chat.concern, which knows when it is already told)
          ("出血或分泌物的颜色、量和气味怎样，有没有下腹痛、外阴瘙痒或发热？",
           "月经规律吗，最近一次月经是哪天？"),
          "如阴道大量出血（1小时湿透一片卫生巾）、剧烈下腹痛、头晕眼前发黑，或停经后腹痛、出血，请立即去急诊（须排除宫外孕等急症）。",
          (r"(豆腐渣|黄绿|灰白|泡沫|异味|臭味|腥味|鱼腥|血块|褐色|咖啡色)",
           r"(\d+|[一二两三四五六七八九十]+)\s*号来|末次月经|上次月经|月经(很|一直|挺|比较)?(规律|不规律|正常|不正常)")),
    _kind("breast", r"(乳房|乳头|乳腺|乳晕|奶水|涨奶|胀奶)", "乳腺外科",
          ("疼痛和月经周期有没有关系（经前加重、经后减轻）？",
           "能不能摸到肿块，乳头有没有溢液，皮肤有没有凹陷或红肿？"),
          "如乳房红肿热痛伴发热（尤其哺乳期），或摸到质硬、推不动的肿块、乳头溢血，请尽快到乳腺外科就诊。"),
    _kind("urology", r"(尿频|尿急|尿痛|小便|排尿|尿血|血尿|尿不出|憋尿|龟头|包皮|阴茎|睾丸|阴囊|早泄|阳痿|勃起|前列腺|遗精|尿道)",
          "泌尿外科",
          ("小便时有没有尿频、尿急、尿痛、尿里带血？有没有发热、腰痛？",
           "症状出现前有没有不洁性接触，或刚用过什么药？"),
          "如完全尿不出来、小腹胀痛，肉眼血尿带血块，高热寒战伴腰痛，或阴囊突然剧痛肿胀，请立即就医。",
          (r"(尿频|尿急|尿痛|血尿|尿血)",)),
    _kind("anorectal", r"(肛门|肛周|屁股眼|痔疮|痔|便后出血|便后滴血|大便带血|便血|脱肛)", "肛肠科",
          ("出血是鲜红色、便后滴下，还是混在大便里或发黑？",
           "肛门疼不疼，有没有肿物脱出，大便习惯（次数、粗细）最近有没有改变？"),
          "如大量便血、头晕心慌，或肛门周围剧痛肿胀伴发热，请尽快就医。",
          (r"(鲜红|滴血|便后|发黑|混在)",)),
    _kind("eye", r"(眼睛|眼皮|眼睑|视力|看东西|看不清|眼屎|红眼|眼角|眼珠|眼白|眼球|视物|飞蚊|流泪|近视|散光)", "眼科",
          ("是一只眼还是两只眼？视力有没有下降，眼睛红不红、疼不疼、怕不怕光？",
           "有没有戴隐形眼镜、揉眼，或眼部受过伤、溅入东西？"),
          "如视力突然下降或看不见、眼睛剧痛伴头痛呕吐、眼外伤，或化学物质溅入眼内（先用大量清水冲洗），请立即到眼科急诊。",
          (r"(一只眼|两只眼|双眼|左眼|右眼|单眼)",)),
    _kind("mouth", r"(牙|牙龈|口腔|口腔溃疡|口疮|嘴里|舌头|舌苔|嘴唇|口臭|智齿)", "口腔科",
          ("是哪颗牙或口腔哪个位置，疼痛是冷热刺激时才疼还是一直疼、夜里加重？",
           "牙龈或面部有没有肿，有没有发热？溃疡多久了，是否反复出现？"),
          "如面部或颈部迅速肿胀、张口或吞咽困难、呼吸不畅并发热，或口腔溃疡超过两周不愈，请尽快就医。"),
    # the throat (and the palate behind the mouth): a fever, how long, what the tonsils look like and whose throat it is
    _kind("throat", r"(嗓子|喉咙|咽喉|咽痛|咽部|咽炎|扁桃体|上颚|上腭|声音嘶哑|嗓音|吞咽)", "耳鼻喉科（孩子可先看儿科）",
          ("有没有发烧，多少度，嗓子不舒服几天了？", "扁桃体或上颚有没有白点、脓点或小疱，是孩子还是大人，多大了？"),
          "如呼吸费力、吞咽困难、流口水咽不下、张不开口，或高热不退、精神很差，请立即就医或拨打 120。",
          ((r"(发烧|发热|烧到|不烧|没烧|体温)", r"(\d+(\.\d)?\s*(度|℃)|不烧|没烧)", r"([0-9一二两三四五六七八九十几半]+\s*(天|周|星期|个月|月|年)|昨天|今天|前天)"),
           (None, r"(孩子|宝宝|儿子|女儿|小孩|我|本人|大人|老人|岁)", r"(\d+|[一二两三四五六七八九十]+)\s*(岁|个月)"))),
    _kind("ent", r"(耳朵|耳鸣|耳痛|听力|听不清|鼻子|鼻塞|流鼻涕|流鼻血|鼻出血|打喷嚏)",
          "耳鼻喉科",
          ("是哪一侧，多久了？有没有发热、流脓、出血或听力下降？",
           "有没有感冒、过敏（打喷嚏、流清涕），或耳朵进水、掏耳朵？"),
          "如呼吸或吞咽困难、流口水咽不下、突然听不见，或鼻出血压迫10分钟仍止不住，请立即就医或拨打 120。",
          (r"(左|右|一侧|两侧|双侧)[^，。]{0,3}(耳|鼻|边)",)),
    _kind("skin", r"(皮肤|皮疹|疹子|起包|红疹|痘痘|痘|红斑|脱皮|脱屑|湿疹|癣|疙瘩|水泡|水疱|色斑|头皮|脱发|掉头发|白发|白头发|瘙痒|痒|"
                  r"风团|荨麻疹|疤|痣|长斑|红点|小点|鸡皮|白斑|白点|白色的?(斑|点|块|片)|一片一片)", "皮肤科",
          ("皮疹（或包）是什么样子：颜色、大小，有没有水疱、渗液或脱屑？主要长在哪些部位？",
           "出现前有没有新用的药物、护肤品，吃过特别的食物，或接触过什么东西？"),
          "如皮疹迅速扩散、起大片水疱或皮肤剥脱、口唇眼睛红肿溃烂，或伴发热、呼吸困难、喉咙发紧，请立即就医或拨打 120。",
          (r"(红点|红疹|水泡|水疱|脱皮|脱屑|渗液|疙瘩|白头|丘疹|红斑|白斑)", r"(吃了|用了|涂了|擦了|接触|换了|新买)")),
    _kind("lump", r"(肿块|硬块|包块|淋巴结|结节|肿物|囊肿|鼓包)", "普外科",
          ("包块多大，摸起来软还是硬，能不能推动，最近有没有变大？",
           "有没有发热、局部红肿疼痛，附近最近有没有伤口或感染？"),
          "如包块短期内迅速增大、红肿热痛伴发热，或伴不明原因的消瘦、夜间出汗，请尽快就医检查。",
          (r"(大小|花生|黄豆|鸡蛋|蚕豆|硬硬|很硬|发硬|软软|推不动|能推动|\d+\s*(cm|mm|厘米|毫米))",)),
    _kind("oedema", r"(脚肿|腿肿|脚踝肿|脚面肿|下肢肿|水肿|浮肿|脚有点肿|腿有点肿|腿沉|腿发沉)", "内科（心内科或肾内科）",
          ("是一侧还是两侧肿，按下去有没有坑，早上起来能不能消？",
           "有没有气短、夜里不能平躺、尿少或尿里泡沫多？在吃什么药（如降压药）？"),
          "如一侧腿突然肿痛、发红发热，或伴胸痛、气短、咳血，请立即就医；气短不能平躺或尿量明显减少也要尽快就医。"),
    _kind("joint", r"(膝|关节|腰疼|腰痛|腰酸|腰椎|颈椎|脖子疼|脖子痛|落枕|肩|脚踝|手腕|骨折|扭伤|崴|腿疼|腿痛|脚后跟|后脚跟|脚跟|足跟|肋骨|肋子|骨头|"
                   r"摔|跌|蹲|抽筋|腱鞘|手指|脚趾|屈伸|伸不直)", "骨科",
          ("有没有扭伤、摔伤等外伤，或最近运动量、劳动量突然增加？",
           "疼的地方有没有红肿、发热，活动时有没有卡住、弹响，能不能负重？"),
          "如外伤后肢体变形、剧痛肿胀、不能活动或负重，肢体麻木无力、发凉发紫，或关节红肿热痛伴发热，请尽快就医。",
          (r"(摔|跌|扭|崴|撞|砸|外伤|受伤|运动|打球|跑步|骑车|搬|用力过度|劳累)", r"(站不起来|不能走|走不了|一站起来|不能着地|能走路|可以走路|红肿|肿了)")),
    _kind("chest", r"(心慌|心悸|胸痛|胸口|胸闷|胸背|前胸后背|心跳|心脏|心前区|早搏|心绞痛)", "心内科",
          ("胸口不适是什么感觉（压着、刺痛、闷），每次多久，和活动、情绪、呼吸有没有关系？",
           "有没有高血压、糖尿病、血脂高，是否吸烟？"),
          "如胸口压榨样疼痛超过15分钟，或向左肩臂、下巴放射，伴出汗、呼吸困难、晕厥，请立即拨打120。"),
    _kind("breathing", r"(咳嗽|咳痰|有痰|痰|气喘|喘|气短|气促|呼吸|感冒|流感|肺)", "呼吸内科",
          ("发不发烧，最高多少度？痰是什么颜色，有没有带血？",
           "咳嗽、气短多久了，活动后是否加重，是否吸烟？"),
          "如呼吸困难、口唇发紫、胸痛、咳血，高热不退或精神明显变差，请立即就医或拨打 120。",
          (r"(发烧|发热|烧到|\d+(\.\d)?\s*度|不烧|没烧|体温)",)),
    _kind("digestion", r"(肚子|腹痛|腹泻|拉肚子|拉稀|大便|粑粑|便便|便秘|胃|恶心|呕吐|想吐|反酸|烧心|腹胀|打嗝|消化|食欲|肝|胆)", "消化内科",
          ("疼在肚子哪个位置（上腹、肚脐周围、右下腹……），是一直疼还是一阵一阵，和吃饭有没有关系？",
           "大便怎样：次数、性状，有没有带血或发黑？"),
          "如腹痛剧烈或持续加重、肚子发硬，呕血、解黑便或大量便血，持续呕吐不能进食进水，或伴高热，请立即就医或拨打 120。",
          # where it hurts is told only by a region a doctor would name ("右腹" leaves upper or lower open, and "胃疼"
          # can be an appendix beginning: both are asked)
          ((r"(上腹|下腹|小腹|右下腹|左下腹|右上腹|左上腹|肚脐)",
            r"(一阵一阵|阵发|一直(疼|痛)|持续|隐隐|时好时坏|时不时)",
            r"(饭后|餐后|吃完饭|吃东西后|吃了东西|空腹|饿的时候)[^，。]{0,6}(疼|痛|胀|难受|严重|加重|不舒服)"),
           r"(大便|拉肚子|腹泻|便秘|黑便|便血)[^，。]{0,6}(正常|稀|干|次|黑|血|不成形|还好|没问题)|(没有?|无)(便血|带血|血便|黑便)")),
    # a fit told when it is over (a fit happening now is triage's): what it was like decides, and a first one is
    # seen the same day; the first aid is the line not to wait for
    _kind("fit", r"(抽搐|抽动|抽筋了|抽了|在抽|惊厥|抽风|翻白眼|上翻|往上翻|眼睛发直|两眼发直|愣神|口吐白沫|牙关紧闭|四肢僵硬|全身僵硬|一抽一抽)",
          "神经内科（孩子看儿科或小儿神经科）",
          ("这次抽了多久，当时有没有发烧？以前有没有这样抽过？",
           "抽的时候是全身还是一侧，叫得应吗，之后多久清醒，有没有咬到舌头或尿裤子？"),
          "如抽搐超过5分钟、接连发作、抽完一直叫不醒或呼吸困难，请立即拨打120；第一次抽搐请当天就医。抽的时候让人侧躺、移开"
          "周围硬物，不要往嘴里塞东西，不要按压肢体。",
          (r"[0-9一二两三四五六七八九十几半]+\s*(分钟|秒)|发烧|发热|烧到",)),
    _kind("head", r"(头疼|头痛|头晕|头昏|头(的)?(左边|右边|左侧|右侧|两侧|一侧|顶)|眩晕|偏头痛|失眠|睡不着|多梦|手麻|脚麻|麻木|记忆力|健忘|晕倒)", "神经内科",
          ("头痛（头晕）是什么样的：哪个部位，每次多久，有没有恶心呕吐、看东西模糊或天旋地转？",
           "有没有高血压，最近有没有头部外伤、熬夜或精神压力大？"),
          "如突然剧烈头痛、一侧肢体无力或麻木、口角歪斜、说话不清、意识模糊或抽搐，请立即拨打120。",
          (None, r"(高血压|血压|外伤|撞到|摔)")),
)


# A disease already diagnosed ("确诊为脑瘤", "医生说是宫腔粘连", "胃癌晚期"): the part of the body's first questions
# (where it hurts, a possible pregnancy) are not what decides now; the treatment under way and the latest results are.
DIAGNOSED = _kind("diagnosed", r"(?!)", "",
                  ("医生目前给的治疗方案是什么，正在用哪些药或做什么治疗？",
                   "最近一次复查（检查报告）的结论和主要数值是什么？"), "")
# A bite or a wound of years ago ("十年前被小猫咬透嘴唇…现在会不会有事"): the time for washing it and for the
# vaccines has passed; what is asked is whether it left something, not what to do today.
LONG_AGO = _kind("long_ago", r"(?!)", "外科（动物咬伤可到狂犬病预防门诊）",
                 ("现在那个部位有没有不舒服：疼、麻、肿、硬块或活动受限？",
                  "当时的伤口多深、是怎么处理的，打过狂犬病疫苗或破伤风疫苗吗？"), "",
                 lead="您说的是多年前的伤：当时冲洗伤口、打疫苗的时机已经过去，现在要看的是那里有没有留下问题；"
                      "如果一直放心不下，可以到外科（动物咬伤可到狂犬病预防门诊）当面咨询，说明当时的情况。")
_ACUTE = ("bite", "wound")  # kinds whose advice is for the hours and days after it happened
_LONG_AGO = re.compile(r"([0-9一二两三四五六七八九十几多]+|好几|十几|二十多)年(前|以前|了)|多年前|小时候|年轻时")


def diagnosed(text: str) -> bool:
    """Whether the message tells of a disease already diagnosed (or treated); "是不是得了胃炎" asks whether."""
    return any(not _WONDERED_BEFORE.search(text[max(0, m.start() - 5):m.start()]) for m in DIAGNOSIS_TOLD.finditer(text))


def of(text: str) -> Complaint | None:
    """The kind of complaint `text` is about: a long-standing condition it names first, else the part of the
    body with most words in it (None when no kind's words are in it)."""
    for kinds in (CONDITIONS, (BABY, REPRODUCTION), KINDS):
        best, most = None, 0
        for kind in kinds:
            n = _said(kind, text)
            if n > most:
                best, most = kind, n
        if best is not None:
            return LONG_AGO if best.kind in _ACUTE and _LONG_AGO.search(text) else best
    return None


# After egg retrieval or an embryo transfer the belly's complaints are the procedure's first (ovarian
# hyperstimulation), whatever part of the body they are told in ("取卵后胃胀肚子变大").
REPRODUCTION = _kind("reproduction", r"(取卵|促排卵?|打促排|降调|试管婴儿|做试管|胚胎移植|移植后|移植完)",
                     "生殖医学科（做试管的生殖中心）或妇科",
                     ("取卵（或移植）是哪天做的，取了多少个卵，用过哪些促排卵的针或药？",
                      "这两天小便量和体重有没有明显变化，有没有气短、胸闷或腹痛加重？"),
                     "取卵或移植后如腹胀越来越重、尿量明显减少、几天内体重增加很快、气短或不能平躺，请立即去医院急诊。")
# A young baby's questions come before those of the part of the body ("出生三天…眼皮肿" is not asked about
# contact lenses).
BABY = next(k for k in KINDS if k.kind == "baby")


def _said(kind: Complaint, text: str) -> int:
    """How many of the kind's words `text` says, a denied one left out ("眼睛不太干" is not about the eyes); a
    condition only where the person has it, not where they ask whether it is one ("是癫痫还是缺钙", "非癫痫性")."""
    if kind.kind == "postpartum" and _LONG_AGO.search(text):
        return 0  # "生孩子已经七年了…后脚跟疼": the heel, not what a birth leaves
    said = [m for m in kind.words.finditer(text)
            if (m.group() in _LACKED or not _DENIED.search(text[max(0, m.start() - 4):m.start()]))
            and not _DENIED_AFTER.match(text, m.end())
            and not _LOCATES.match(text, m.end())  # "耳朵上方7-10cm的地方": where on the head, not the ear
               and not RULED_OUT_AFTER.match(text, m.end())  # "心脏、甲亢都没问题"
               and not (kind.condition and (_WONDERED_BEFORE.search(text[max(0, m.start() - 5):m.start()])
                                            or _WONDERED_AFTER.match(text, m.end())))]
    # feeling sick is told in several words ("恶心想呕吐") and by many kinds of complaint: it counts once
    return len(said) - max(0, sum(1 for m in said if _NAUSEA.fullmatch(m.group())) - 1)


_LACKED = ("食欲",)  # "没食欲" is the complaint, not a denial of one
_LOCATES = re.compile(r"(的)?(上方|上面|上边|以上)")
_NAUSEA = re.compile(r"(恶心|呕吐|想吐|恶心想吐)")


# Asking whether it is the condition: "是不是癫痫", "会不会是乙肝", "是癫痫还是…", "癫痫吗", "非癫痫性".
_WONDERED_BEFORE = re.compile(rf"({WONDERED}是?|非|不是)$")  # (or denied: "非癫痫性"; "是不是有乙肝" keeps the liver's questions)
_WONDERED_AFTER = re.compile(r"[病性症]?(吗|么|嘛|还是|[？?]|的(症状|表现|前兆)吗)")


_DENIED = re.compile(rf"([{DENIAL_CHARS}]|没有)(太|怎么|是很|很|大)?$")
_DENIED_AFTER = re.compile(r"(不|没)(太|怎么)?[^，。,；;]{0,2}(干|痛|疼|痒|肿|红|难受)")  # not "胃不舒服": a complaint


# Chest pain said beside another complaint ("吃完饭胃胀…心脏有点点痛"): its emergency is said too.
_CHEST_PAIN = re.compile(r"(胸痛|胸口痛|胸口疼|胸背(痛|疼)|前胸后背|心脏[^，。,]{0,3}(痛|疼)|心口(痛|疼)|心前区|胸闷|"
                         # a pain told by what it is like ("胸口发锥，疼", "胸口像针扎")
                         r"(胸口|胸骨|心口)(后)?[^，。,？?]{0,3}(锥|刺|扎|绞|撕|烧)|"
                         # a weight on the chest ("胸下部中间那块地方有东西压着一样有点喘不过气")
                         r"胸[^，。,？?]{0,14}(压着|压迫|压得|发紧|憋)|"
                         # relieved by a heart drug: what it relieved may be angina, whatever it was called
                         r"(救心丸|硝酸甘油|消心痛)[^。？?]{0,10}(就好|好了|缓解|管用|好一些|好点))")


# What does not wait in a child with such a complaint, said after the kind's own signs.
CHILD_SIGNS = {"digestion": "孩子如尿明显减少、哭时没有眼泪、精神差或嗜睡、反复呕吐喝不进水，或大便带血，请立即就医。"}


def signs(kind: Complaint, text: str, child: bool = False) -> str:
    """When not to wait for `kind`, with chest pain's own signs when the message also says it, and a child's
    own (dehydration for vomiting and diarrhoea)."""
    chest = next(c for c in KINDS if c.kind == "chest")
    pain = _CHEST_PAIN.search(text)
    also = pain and kind.kind not in ("chest", "heart") and not _DENIED.search(text[max(0, pain.start() - 4):pain.start()])
    return kind.signs + (chest.signs if also else "") + (CHILD_SIGNS.get(kind.kind, "") if child else "")


def named(kind: str) -> Complaint | None:
    """The kind called `kind` (None for "" or an unknown name)."""
    return next((c for c in CONDITIONS + KINDS + (REPRODUCTION, DIAGNOSED, LONG_AGO) if c.kind == kind), None)
