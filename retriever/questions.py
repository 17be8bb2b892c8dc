"""The one table of templated questions: what each (entity type, intent) is asked as, and which sections answer it.

`retriever eval` and `chat eval` ask these questions with known gold passages; `finetune` builds its
training questions from the same table. The first template of each intent is the canonical one
(QiZhenGPT's wording where it has one) that `finetune eval` asks; the others are the ways people ask.
{name} is the entity's name (or an alias, or a drug's bare name).
"""

from __future__ import annotations

# (entity type, intent) -> (gold sections, templates); the intent is the first gold section.
TEMPLATES: dict[tuple[str, str], tuple[tuple[str, ...], tuple[str, ...]]] = {
    ("drug", "适应症"): (("适应症",), (
        "{name}的适应病症是什么？", "{name}的适应症是什么？", "{name}能治什么病？", "{name}是治什么的",
        "{name}有什么用？", "{name}主治什么", "{name}主要治什么病？", "{name}能用来治疗哪些疾病？",
        "{name}适用于什么情况？", "什么情况下可以用{name}？")),
    ("drug", "不良反应"): (("不良反应",), (
        "{name}有哪些不良反应？", "吃{name}有什么副作用？", "{name}的副作用大吗", "用了{name}会有什么不良反应",
        "{name}有什么副作用？", "吃{name}会有哪些不良反应？", "使用{name}可能出现什么副作用？")),
    ("drug", "用法用量"): (("用法用量",), (
        "{name}怎么用？", "{name}的用法用量是什么？", "{name}怎么吃？", "{name}一次吃多少", "{name}一天吃几次",
        "{name}应该怎么服用？")),
    ("drug", "禁忌"): (("禁忌",), (
        "{name}的禁忌是什么？", "{name}有哪些禁忌？", "哪些人不能用{name}？", "什么人禁用{name}",
        "{name}有什么禁忌？", "什么情况下禁用{name}？")),
    ("drug", "注意事项"): (("注意事项",), (
        "{name}有哪些注意事项？", "服用{name}要注意什么？", "用{name}需要注意什么")),
    ("drug", "药物相互作用"): (("药物相互作用",), (
        "{name}有哪些药物相互作用？", "{name}能和其他药一起吃吗？", "{name}不能和什么药同服")),
    ("drug", "成份"): (("成份",), ("{name}的成份是什么？", "{name}里面有什么成分", "{name}含有什么")),
    ("disease", "症状"): (("症状", "临床症状及体征"), (
        "{name}的典型症状是什么？", "{name}有哪些症状？", "{name}有什么表现？", "得了{name}会有什么症状",
        "{name}的早期征兆是什么", "得了{name}会有什么表现？", "{name}的常见症状有哪些？",
        "怎么知道自己是不是得了{name}？")),
    ("disease", "检查"): (("检查",), (
        "{name}需要做哪些检查？", "怀疑{name}要查什么？", "{name}怎么诊断", "{name}要做什么检查",
        "{name}要查什么项目？", "怀疑{name}应该做什么检查？", "确诊{name}需要哪些检查？")),
    ("disease", "就诊科室"): (("就诊科室",), (
        "{name}挂什么科？", "{name}看哪个科", "得了{name}去医院挂哪个科", "{name}应该去哪个科室看？",
        "得了{name}看什么科？", "{name}属于哪个科？")),
    ("disease", "常用药物"): (("常用药物", "相关药物"), (
        "哪些药物能治疗{name}？", "{name}常用什么药？", "{name}吃什么药好？", "{name}用什么药治疗",
        "{name}吃什么药？", "治疗{name}可以用哪些药？")),
    ("disease", "并发症"): (("并发症",), ("{name}有哪些并发症？", "{name}会引起什么并发症", "{name}会导致什么后果")),
    ("disease", "病因"): (("病因",), ("{name}的病因是什么？", "{name}是什么原因引起的？", "为什么会得{name}")),
    ("disease", "预防"): (("预防",), ("如何预防{name}？", "{name}怎么预防", "怎样才能避免{name}")),
    ("exam", "临床意义"): (("临床意义", "相关疾病"), (
        "{name}用于检查什么？", "{name}能查出什么病？", "做{name}有什么意义", "{name}查的是什么",
        "为什么要做{name}？", "{name}主要检查哪些疾病？", "{name}有什么临床意义？", "{name}结果异常说明什么？")),
}


def templates_for(entity_type: str, section: str) -> tuple[str, ...] | None:
    """The templates of the intent that `section` answers for this entity type (None if no intent asks it)."""
    for (etype, _intent), (sections, templates) in TEMPLATES.items():
        if etype == entity_type and section in sections:
            return templates
    return None
