"""`kb lint`: per source, what in the KB is not a statement and would be wrong as an answer.

Counts with examples, per origin:
- the kb.debris categories (fragments, heading words, cut clauses, subjectless 等 lists, HTML remnants): what
  the retriever leaves out of passages (`kb.authority.settle_held`, the same call), so each count is also
  what passages drop;
- superseded: items and texts a higher-ranked source holds for the same section (left out of passages; not
  debris, counted apart); of those, "differs from a higher source": sentences of a lower source's superseded text
  that the higher source's text does not say (where the answer should say a lower source differs);
- generic entity name: an entry named by a word of the page or a heading ("感染", "实验室"), which a question's
  every use of the word links to;
- drug under symptoms / symptom under drugs: a disease's 症状 item that is a drug of the KB, a 常用药物 item
  that is a symptom and no drug;
- uncorroborated drug link: a disease -> drug link no indication of the drug names the disease
  (kb.corroboration; never named in an answer).
Read-only: it never writes to the KB.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.authority import Held, authority_column, authority_name, settle_held
from kb.corroboration import DRUG_LINK, corroborated_links
from kb.debris import CATEGORIES, HEADING_WORDS, PAGE_WORDS
from kb.models import Alias, Contribution, Entity, Link, Section, Source
from kb.names import normalize_name

SUPERSEDED = "superseded"
DRUG_UNDER_SYMPTOMS = "drug under symptoms"
SYMPTOM_UNDER_DRUGS = "symptom under drugs"
UNCORROBORATED = "uncorroborated drug link"
GENERIC_NAME = "generic entity name"
DIFFERS = "differs from a higher source"
CHECKS = (*CATEGORIES, DRUG_UNDER_SYMPTOMS, SYMPTOM_UNDER_DRUGS, UNCORROBORATED, GENERIC_NAME)  # what --fail-on may name
REPORTED = (*CHECKS, SUPERSEDED, DIFFERS)
GENERIC_WORDS = PAGE_WORDS | HEADING_WORDS
EXAMPLES = 5


@dataclass
class OriginReport:
    origin: str
    authority: int
    sections: int = 0
    counts: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def add(self, check: str, example: str) -> None:
        self.counts[check] += 1
        if len(self.examples[check]) < EXAMPLES and example not in self.examples[check]:
            self.examples[check].append(example)

    @property
    def total(self) -> int:
        return sum(n for check, n in self.counts.items() if check in CHECKS)

    def to_json(self) -> dict:
        return {"origin": self.origin, "authority": self.authority, "authority_name": authority_name(self.authority),
                "sections": self.sections, "total": self.total,
                "counts": {check: self.counts.get(check, 0) for check in REPORTED},
                "examples": {check: self.examples[check] for check in REPORTED if self.examples.get(check)}}


def lint(session: Session) -> list[OriginReport]:
    """One report per origin, highest rank first."""
    reports: dict[str, OriginReport] = {}

    def report(origin: str, rank: int) -> OriginReport:
        if origin not in reports:
            reports[origin] = OriginReport(origin, rank)
        return reports[origin]

    drugs, symptoms = _names(session, "drug"), _names(session, "symptom")
    rows = session.execute(
        select(Section.entity_id, Entity.name, Section.kind, Section.text, Section.items, Contribution.origin,
               authority_column(session))
        .join(Entity, Entity.id == Section.entity_id)
        .join(Contribution, Contribution.id == Section.contribution_id)
        .join(Source, Source.id == Contribution.source_id)
        .order_by(Section.entity_id, Contribution.origin, Section.position)
        .execution_options(yield_per=5000))
    current: dict[tuple[str, str], Held] = {}
    last = None
    names: dict[int, str] = {}
    for eid, name, kind, text, items, origin, rank in rows:
        if eid != last:
            _settle(current, names.get(last, ""), report)
            current, last = {}, eid
            names = {eid: name}
        held = current.get((kind, origin))
        if held is None:
            if name in GENERIC_WORDS and not any(o == origin for _, o in current):
                report(origin, rank).add(GENERIC_NAME, name)
            held = current[(kind, origin)] = Held(origin, rank)
            report(origin, rank).sections += 1
        if text:
            held.texts.append(text)
        items = [i for i in (items or []) if isinstance(i, str)]
        held.items += items
        r = report(origin, rank)
        for item in items:
            norm = normalize_name(item)
            if kind == "症状" and norm in drugs:
                r.add(DRUG_UNDER_SYMPTOMS, f"{name} · 症状：{item}")
            elif kind == "常用药物" and norm in symptoms and norm not in drugs:
                r.add(SYMPTOM_UNDER_DRUGS, f"{name} · 常用药物：{item}")
    _settle(current, names.get(last, ""), report)
    _uncorroborated(session, report)
    return sorted(reports.values(), key=lambda r: (-r.authority, r.origin))


def _settle(current: dict[tuple[str, str], Held], name: str, report) -> None:
    """Count what settling one entity's sections leaves out, per origin."""
    by_kind: dict[str, list[Held]] = defaultdict(list)
    for (kind, _), held in current.items():
        by_kind[kind].append(held)
    for kind, held in by_kind.items():
        settle_held(kind, held, name)
        for h in held:
            r = report(h.origin, h.authority)
            for why, text in h.dropped:
                r.add(why, f"{name} · {kind}：{text[:60]}")
            for text in h.superseded:
                r.add(SUPERSEDED, f"{name} · {kind}：{text[:60]}")
            for text in h.differs:
                r.add(DIFFERS, f"{name} · {kind}：{text[:60]}")


def _names(session: Session, etype: str) -> set[str]:
    """Normalised names and aliases of the KB's entities of one type."""
    names = set(session.scalars(select(Entity.norm_name).where(Entity.type == etype)))
    names |= set(session.scalars(select(Alias.norm_alias).join(Entity, Entity.id == Alias.entity_id)
                                 .where(Entity.type == etype)))
    return names


def _uncorroborated(session: Session, report) -> None:
    ok = corroborated_links(session)
    rank = authority_column(session)
    rows = session.execute(
        select(Link.from_id, Entity.name, Link.target_name, Contribution.origin, rank)
        .join(Entity, Entity.id == Link.from_id)
        .join(Contribution, Contribution.id == Link.contribution_id)
        .join(Source, Source.id == Contribution.source_id)
        .where(Link.relation == DRUG_LINK, Entity.type == "disease"))
    for disease_id, disease, drug, origin, authority in rows:
        if not ok.get(disease_id, {}).get(drug, False):
            report(origin, authority).add(UNCORROBORATED, f"{disease} → {drug}")
