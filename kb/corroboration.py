"""Which disease -> drug links a drug's own text corroborates.

A disease's "常用药物" (xywy's common_drug, CMeKG's 药物治疗, medical.json's drug lists) is a crawled list:
morphine is listed for myocardial ischaemia, a cytotoxic injection for an infant's haemangioma, an
antithyroid drug for irregular periods. Such a list is never an answer by itself. A drug is named for a
disease only when the drug's own KB text says what it treats and names that disease (or an alias, or the
disease without a qualifier such as 急性/慢性/原发性): its label's 适应症, or CMeKG's 适应症/功能主治.

This is decided here, once, from KB data alone: the retriever keeps only corroborated drugs in the
passages it builds (so no answer can cite the rest), and `kb show` marks each link.
"""

from __future__ import annotations

import re
from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.models import Alias, Entity, Link, Section
from kb.names import fold
from kb.records import LINK_KINDS

DRUG_SECTION = "常用药物"  # a disease's drug list; its items are the links below
DRUG_LINK = LINK_KINDS[DRUG_SECTION][0]  # "disease_drug"
# The sections where a drug says what it is for.
INDICATION_SECTIONS = ("适应症", "功能主治")
# Qualifiers that a label often leaves out ("原发性高血压" is treated by a drug "用于高血压").
_QUALIFIER = re.compile(r"^(急性|慢性|原发性|继发性|成人|老年|老年性|轻度|中度|重度|复发性|难治性|单纯性|普通)")
MIN_NAME = 2  # a one-character remainder ("炎") corroborates nothing


def disease_names(name: str, aliases: list[str]) -> set[str]:
    """The spellings under which a label may name the disease: its name, its aliases, each without a
    leading qualifier; folded, at least MIN_NAME characters."""
    out = set()
    for n in [name, *aliases]:
        n = fold(n or "").strip()
        for variant in (n, _QUALIFIER.sub("", n)):
            if len(variant) >= MIN_NAME:
                out.add(variant)
    return out


def corroborates(indications: str, names: set[str]) -> bool:
    """True when a drug's indication text names one of the disease's spellings."""
    text = fold(indications or "")
    return any(n in text for n in names)


def indications_by_drug(session: Session, drug_ids=None) -> dict[int, str]:
    """Each drug's indication text (every origin's, joined)."""
    q = (select(Section.entity_id, Section.text, Section.items)
         .join(Entity, Entity.id == Section.entity_id)
         .where(Entity.type == "drug", Section.kind.in_(INDICATION_SECTIONS)))
    if drug_ids is not None:
        q = q.where(Section.entity_id.in_(list(drug_ids)))
    texts: dict[int, list[str]] = defaultdict(list)
    for eid, text, items in session.execute(q):
        texts[eid].append(text or "")
        texts[eid].extend(i for i in (items or []) if isinstance(i, str))
    return {eid: "\n".join(parts) for eid, parts in texts.items()}


def corroborated_links(session: Session, disease_ids=None) -> dict[int, dict[str, bool]]:
    """disease id -> {drug name as the link wrote it: corroborated?} for every disease -> drug link."""
    q = (select(Link.from_id, Link.target_name, Link.target_id)
         .join(Entity, Entity.id == Link.from_id)
         .where(Link.relation == DRUG_LINK, Entity.type == "disease"))
    if disease_ids is not None:
        q = q.where(Link.from_id.in_(list(disease_ids)))
    links = list(session.execute(q))
    if not links:
        return {}
    sources = {d for d, _, _ in links}
    names = {eid: name for eid, name in session.execute(select(Entity.id, Entity.name).where(Entity.id.in_(sources)))}
    aliases: dict[int, list[str]] = defaultdict(list)
    for eid, alias in session.execute(select(Alias.entity_id, Alias.alias).where(Alias.entity_id.in_(sources))):
        aliases[eid].append(alias)
    indications = indications_by_drug(session, {t for _, _, t in links if t is not None})
    spellings = {d: disease_names(names.get(d, ""), aliases[d]) for d in sources}
    out: dict[int, dict[str, bool]] = defaultdict(dict)
    for disease_id, drug_name, drug_id in links:
        ok = drug_id is not None and corroborates(indications.get(drug_id, ""), spellings[disease_id])
        out[disease_id][drug_name] = out[disease_id].get(drug_name, False) or ok
    return dict(out)
