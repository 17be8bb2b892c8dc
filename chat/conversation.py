"""The conversation as the pipeline reads it: cleaned input, the topic so far, follow-ups made whole.

"它的副作用呢？" after a question about 阿莫西林 is retrieved as "阿莫西林胶囊的副作用呢？": the topic is the
last KB entity the user named, and a follow-up that names none gets it back (in place of its pronoun,
or in front). Conversations arrive as OpenAI-style messages from every interface, so there is no
server-side session to lose.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Callable

from kb.injection import DROP_INSTRUCTIONS
from kb.records import ENTITY_TYPES
from kb.terminal import checked_text
from retriever.hits import EntityMention

MAX_QUESTION_CHARS = 500  # longer input is cut: nobody asks a 10k-character question, attackers do
MAX_HISTORY_MESSAGES = 20
_PRONOUN = re.compile(r"(它们|它|这个药|这种药|这药|该药|此药|那个药|这个病|这种病|这病|该病|此病|那个病|这个检查|该检查|"
                      r"这项检查|这个|那个|这种|那种|其)")
_FOLLOWUP_CUE = re.compile(r"^(那|那么|还有|另外|再问|再|并且|而且|它|其|这|那)|(呢|吗)[？?。!！]*$")
# Asking the assistant to drop its rules changes nothing, but it is said back to the user. The words that
# mean it, and the instruction-like text a passage is quarantined for, are defined once in kb.injection.
_OVERRIDE = re.compile(DROP_INSTRUCTIONS + r"|(用|凭|根据)你(自己)?的(知识|记忆|常识|训练)", re.IGNORECASE)


def clean_text(text: str, what: str = "the question") -> str:
    """Width-folded, control and zero-width characters removed, whitespace collapsed, length capped;
    kb.terminal.NotText (a ValueError naming `what`) when it is not valid Unicode text."""
    text = unicodedata.normalize("NFKC", checked_text(text or "", what))
    text = re.sub(r"\s+", " ", text).strip()
    return text[:MAX_QUESTION_CHARS]


def asks_to_override(text: str) -> bool:
    return bool(_OVERRIDE.search(text or ""))


def normalize_messages(history) -> list[dict]:
    """[{"role", "content"}] from OpenAI-style dicts, Gradio message dicts or (user, assistant) pairs, each
    content through kb.terminal.checked_text (NotText, a ValueError, for text that is not Unicode)."""
    out = []
    for item in history or []:
        if isinstance(item, dict):
            role, content = item.get("role"), item.get("content")
            if isinstance(content, list):  # OpenAI content parts / Gradio 6 message parts
                content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
            if role in ("user", "assistant") and isinstance(content, str):
                out.append({"role": role, "content": checked_text(content, f"message {len(out) + 1}")})
        elif isinstance(item, (list, tuple)) and len(item) == 2:
            if item[0]:
                out.append({"role": "user", "content": checked_text(str(item[0]), f"message {len(out) + 1}")})
            if item[1]:
                out.append({"role": "assistant", "content": checked_text(str(item[1]), f"message {len(out) + 1}")})
    return out[-MAX_HISTORY_MESSAGES:]


def topic(history: list[dict], link: Callable[[str], list[EntityMention]]) -> EntityMention | None:
    """The entity the conversation is about: the last one named by the user, else by the last answer."""
    for m in reversed(history):
        if m["role"] == "user":
            found = [e for e in link(clean_text(m["content"])) if e.entity_type in ENTITY_TYPES]
            if found:
                return found[-1]
    for m in reversed(history):
        if m["role"] == "assistant":
            found = [e for e in link(m["content"][:400]) if e.entity_type in ENTITY_TYPES]
            return found[0] if found else None
    return None


def rewrite_followup(question: str, mentions: list[EntityMention], subject: EntityMention | None,
                     asks_section: bool) -> str | None:
    """The follow-up with the topic put back, or None when the question stands on its own.

    Only a question that points back ("它", "这个药") or asks for a section ("副作用呢") is a follow-up;
    "今天天气怎么样" after a drug question is not about the drug."""
    if subject is None or any(m.entity_type in ENTITY_TYPES for m in mentions):
        return None
    name = subject.entity_name
    if _PRONOUN.search(question):
        return _PRONOUN.sub(name, question, count=1)
    if asks_section and (len(question) <= 24 or _FOLLOWUP_CUE.search(question)):
        return f"{name}{'' if question[:1] in '的' else '的'}{question.lstrip('那么还有另外再')}"
    return None
