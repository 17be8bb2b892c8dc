"""Where to go first: the department the KB's own entries point to for what a message describes.

A person who writes "白带发黄，多，有时痒" or "大牙后面长了一颗牙…被肉包了一大半" wants to know where to go
even when the KB cannot say which condition it is. The KB can answer that much: the diseases whose symptom
lists hold the message's findings, or a finding at the body site the message names ("牙", "白带", "膝"),
list their departments (就诊科室). When one department holds a clear share of them, that is where to go
first; when none does (a word every department lists), nothing is said.

Departments come in two layers in the crawled KBs ("内科" and "消化内科", "五官科" and "口腔科"): a specific
department is preferred to its umbrella when it holds enough of the entries on its own. A child goes to
儿科, and a pregnancy (or a pregnancy test) to 妇产科, unless the KB points to a specific department (眼科,
口腔科…) for the complaint.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from retriever.symptoms import InquiryState, SymptomIndex, fits
from retriever.words import body_sites

# Umbrella departments: true of too much to be advice on their own, said only when no specific one fits.
UMBRELLA = frozenset("内科 外科 五官科 儿科 儿科综合 皮肤性病科".split())
# Never a first direction: where a doctor refers a person after a diagnosis (肿瘤…), or what triage says (急诊)
NOT_FIRST = frozenset("肿瘤科 肿瘤内科 肿瘤外科 传染科 感染科 急诊科 中医科 中医综合 其他科室 其他综合 康复科 营养科".split())
MIN_SHARE = 0.3  # an umbrella named for fewer of the matching entries than this is not a direction
MIN_SPECIFIC_SHARE = 0.25  # a specific department (消化内科, 乳腺外科) needs less
MIN_SITE_SHARE = 0.4  # a direction read off the body site alone needs more, and one site named
MIN_ENTRIES = 3
MIN_LONE_ENTRIES = 10  # entries a single finding said without a site must match to point anywhere
# A pregnancy, or a test for one, goes to 妇产科 first unless the KB points to a specific department.
_PREGNANCY = re.compile(r"(怀孕|孕妇|孕期|孕[0-9一二三四五六七八九十]+周|早孕|验孕|测孕|试纸|验孕棒|hcg|孕酮|两道杠|一深一浅|一道深一道浅|弱阳|产后|坐月子|备孕|要孩子|要个孩子|要宝宝|怀上)", re.I)  # fewer matching entries than this: no direction from the KB


@dataclass(frozen=True)
class Direction:
    department: str
    share: float  # of the matching KB entries that list it
    entries: int  # matching KB entries


class DepartmentGuide:
    """Departments per disease (from the passages' 就诊科室) and the findings index's symptom lists."""

    def __init__(self, departments: dict[int, set[str]], symptoms: SymptomIndex):
        self.departments = departments
        self.symptoms = symptoms
        self._at_site: dict[str, list[str]] = {}  # site -> symptom terms that name it (cached per site)

    @classmethod
    def from_store(cls, store, symptoms: SymptomIndex) -> "DepartmentGuide":
        """The findings index's departments (for an index saved before it kept them: read again from `store`,
        the way the findings index reads them)."""
        departments = getattr(symptoms, "departments", None) or SymptomIndex.from_store(store).departments
        return cls(departments, symptoms)

    def direction(self, text: str, state: InquiryState) -> Direction | None:
        """The department most of the matching KB entries list, or None when no department stands out."""
        entries, by_site = self._matching(text, state)
        fallback = "儿科" if state.child else "妇产科" if (state.pregnant or _PREGNANCY.search(text)) else ""
        if len(entries) < MIN_ENTRIES:
            return Direction(fallback, 1.0, len(entries)) if fallback else None
        counts = Counter(d for e in entries for d in self.departments[e] if d not in NOT_FIRST)
        # by count, then by name: departments come from sets, and a tie must not depend on the process's hash seed
        shares = [(d, n / len(entries)) for d, n in sorted(counts.items(), key=lambda dn: (-dn[1], dn[0]))]
        if by_site:  # a site alone points weakly: only a clear majority
            shares = [(d, s) for d, s in shares if s >= MIN_SITE_SHARE]
        specific = [(d, s) for d, s in shares if d not in UMBRELLA and s >= MIN_SPECIFIC_SHARE]
        if specific:
            return Direction(specific[0][0], round(specific[0][1], 2), len(entries))
        if fallback:
            return Direction(fallback, 1.0, len(entries))
        umbrella = [(d, s) for d, s in shares if s >= MIN_SHARE]
        return Direction(umbrella[0][0], round(umbrella[0][1], 2), len(entries)) if umbrella else None

    def _matching(self, text: str, state: InquiryState) -> tuple[list[int], bool]:
        """Diseases (with a department, fitting the patient) that list a specific present finding and a finding at
        the body site the text names; failing enough of those, the site alone, then the findings alone (and
        whether it is the site alone)."""
        groups = getattr(self.symptoms, "groups", {})
        usable = lambda d: d in self.departments and fits(groups.get(d, frozenset()), state)  # noqa: E731
        found = {d for s in state.present if self.symptoms.weight(s) > 0
                 for d in self.symptoms.by_symptom.get(s, ()) if usable(d)}
        sites = body_sites(text)
        longest = max(map(len, sites), default=0)  # "头皮" says more than the "头" of "白头"
        sites = {site for site in sites if len(site) == longest}
        at_site = {d for site in sites for t in self._terms_at(site)
                   for d in self.symptoms.by_symptom.get(t, ()) if usable(d)}
        specific = sum(self.symptoms.weight(s) > 0 for s in state.present)
        # a named site outranks a lone finding ("咽喉" + "肿痛", which crawled 肛瘘 entries also list); a lone finding
        # points somewhere only when many entries list it
        options = ((found & at_site, False), (at_site if len(sites) == 1 else set(), True),
                   (found if specific >= 2 or len(found) >= MIN_LONE_ENTRIES else set(), False))
        for entries, by_site in options:
            if len(entries) >= MIN_ENTRIES:
                return sorted(entries), by_site
        return [], False

    def _terms_at(self, site: str) -> list[str]:
        if site not in self._at_site:
            self._at_site[site] = [t for t in self.symptoms.frequency if site in t]
        return self._at_site[site]
