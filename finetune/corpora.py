"""Dialogue corpora converted into the chat-messages format that `finetune data` writes.

    FORMATS: med2023  Med2023 / ADGEN style JSON lines (or a JSON array) of {"content", "summary"}
             bianque  BianQue "病人：…\\n医生：…" multi-turn text: JSON lines {"input", "target"},
                      or plain text with one dialogue per blank-line-separated block
             qa       Huatuo-26M / cMedQA2 question-answer pairs: JSON lines with question/answer keys
                      (also "questions"/"answers" lists), or a cMedQA2 folder (question.csv + answer.csv)
             toyhom   Toyhom Chinese-medical-dialogue-data CSV: department,title,ask,answer (GB18030)

`convert(path, fmt)` yields examples and fills a `ConvertReport`; a bad row (broken JSON, a missing or
empty field, a wrong column count, a dialogue that does not alternate) is counted under its reason,
and the first few are kept with their line numbers so they can be found in the file.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from kb.formats.common import FormatError, decode

FORMATS = ("med2023", "bianque", "qa", "toyhom")
MAX_TURN_CHARS = 2000  # longer turns are mostly scraped pages, not dialogue
SHOWN_BAD = 10


@dataclass
class ConvertReport:
    path: str
    format: str
    rows: int = 0
    converted: int = 0
    bad: Counter = field(default_factory=Counter)
    bad_examples: list[str] = field(default_factory=list)  # "file:line: reason"

    def reject(self, line: int | str, reason: str) -> None:
        self.bad[reason] += 1
        if len(self.bad_examples) < SHOWN_BAD:
            self.bad_examples.append(f"{self.path}:{line}: {reason}")

    def to_json(self) -> dict:
        return {"path": self.path, "format": self.format, "rows": self.rows, "converted": self.converted,
                "bad": sum(self.bad.values()), "bad_by_reason": dict(self.bad), "bad_examples": self.bad_examples}


class CorpusError(ValueError):
    """The file as a whole cannot be read in the asked format; the message names it."""


def split_of_text(text: str, dev: float = 0.02, test: float = 0.02) -> str:
    h = int(hashlib.sha1(text.encode("utf-8")).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "test" if h < test else "dev" if h < test + dev else "train"


def convert(path: Path, fmt: str, report: ConvertReport | None = None) -> Iterator[dict]:
    """Examples from one corpus file (or cMedQA2 folder); bad rows go to `report`."""
    path = Path(path)
    if fmt not in FORMATS:
        raise CorpusError(f"unknown corpus format {fmt!r} (expected one of {', '.join(FORMATS)})")
    if not path.exists():
        raise CorpusError(f"{path}: no such file or folder")
    report = report if report is not None else ConvertReport(str(path), fmt)
    rows = {"med2023": _med2023, "bianque": _bianque, "qa": _qa, "toyhom": _toyhom}[fmt](path, report)
    for line, messages in rows:
        report.rows += 1
        problem = _check(messages)
        if problem:
            report.reject(line, problem)
            continue
        report.converted += 1
        yield {"split": split_of_text(messages[0]["content"]), "kind": "dialogue", "source": fmt,
               "where": f"{path.name}:{line}", "messages": messages}


def _check(messages: list[dict] | str) -> str | None:
    if isinstance(messages, str):
        return messages  # the reader already knew what was wrong
    if len(messages) < 2:
        return "no question-answer pair"
    for m in messages:
        if not m["content"].strip():
            return f"empty {m['role']} turn"
        if len(m["content"]) > MAX_TURN_CHARS:
            return f"turn longer than {MAX_TURN_CHARS} characters"
    if messages[-1]["role"] != "assistant":
        return "dialogue does not end with the doctor's answer"
    return None


def _text(path: Path, gb18030_ok: bool = False) -> str:
    """The file's text: UTF-8, or GB18030 where `gb18030_ok` (Toyhom's CSVs are saved in it)."""
    try:
        return decode(path, path.read_bytes(), gb18030_ok)[0]
    except FormatError as exc:
        raise CorpusError(str(exc)) from None


def _json_rows(path: Path, report: ConvertReport) -> Iterator[tuple[int, object]]:
    """JSON lines, or one JSON array / object of rows: (line number or index, value)."""
    text = _text(path)
    head = text.lstrip()[:1]
    if head == "[":
        try:
            values = json.loads(text)
        except json.JSONDecodeError as e:
            raise CorpusError(f"{path}: not valid JSON (line {e.lineno}: {e.msg})") from None
        yield from ((f"#{i}", v) for i, v in enumerate(values))
        return
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield n, json.loads(line)
        except json.JSONDecodeError:
            report.rows += 1
            report.reject(n, "broken JSON line")


def _pair(question: object, answer: object) -> list[dict] | str:
    if not isinstance(question, str) or not isinstance(answer, str):
        return "question or answer missing or not a string"
    return [{"role": "user", "content": question.strip()}, {"role": "assistant", "content": answer.strip()}]


def _med2023(path: Path, report: ConvertReport):
    for line, row in _json_rows(path, report):
        if not isinstance(row, dict):
            yield line, "row is not a JSON object"
            continue
        yield line, _pair(row.get("content"), row.get("summary"))


_SPEAKER = re.compile(r"(病人|患者|用户|医生|大夫)[：:]")
_DOCTOR = {"医生", "大夫"}


def parse_bianque(text: str) -> list[dict] | str:
    """ "病人：…\\n医生：…\\n病人：…" -> alternating user/assistant messages, or a reason it is bad."""
    marks = list(_SPEAKER.finditer(text))
    if not marks:
        return "no 病人：/医生： speaker marks"
    messages = []
    for m, nxt in zip(marks, marks[1:] + [None]):
        role = "assistant" if m.group(1) in _DOCTOR else "user"
        content = text[m.end(): nxt.start() if nxt else len(text)].strip()
        if messages and messages[-1]["role"] == role:
            messages[-1]["content"] += "\n" + content  # one speaker over two lines
        else:
            messages.append({"role": role, "content": content})
    if messages[0]["role"] != "user":
        return "dialogue starts with the doctor"
    if messages[-1]["role"] == "assistant" and not messages[-1]["content"]:
        messages.pop()  # "...\n医生：" waiting for the target
    return messages


def _bianque(path: Path, report: ConvertReport):
    text = _text(path)
    if text.lstrip()[:1] in "{[":
        for line, row in _json_rows(path, report):
            if not isinstance(row, dict) or not isinstance(row.get("input"), str):
                yield line, "row has no \"input\" text"
                continue
            messages = parse_bianque(row["input"])
            target = row.get("target")
            if isinstance(messages, list) and isinstance(target, str) and target.strip():
                if messages[-1]["role"] == "assistant":
                    yield line, "input already ends with the doctor's turn and a target is given"
                    continue
                messages.append({"role": "assistant", "content": target.strip()})
            yield line, messages
        return
    line = 1
    for block in re.split(r"\n\s*\n", text):
        if block.strip():
            yield line, parse_bianque(block)
        line += block.count("\n") + 2


_Q_KEYS = ("question", "questions", "query", "ask", "content")
_A_KEYS = ("answer", "answers", "response", "reply", "summary")


def _first(value: object) -> object:
    return value[0] if isinstance(value, list) and value else value


def _qa(path: Path, report: ConvertReport):
    if path.is_dir():  # cMedQA2: question.csv (question_id,content), answer.csv (ans_id,question_id,content)
        yield from _cmedqa2(path, report)
        return
    for line, row in _json_rows(path, report):
        if not isinstance(row, dict):
            yield line, "row is not a JSON object"
            continue
        q = next((_first(row[k]) for k in _Q_KEYS if k in row), None)
        a = next((_first(row[k]) for k in _A_KEYS if k in row), None)
        yield line, _pair(q, a)


def _cmedqa2(folder: Path, report: ConvertReport):
    qfile, afile = folder / "question.csv", folder / "answer.csv"
    for f in (qfile, afile):
        if not f.exists():
            raise CorpusError(f"{folder}: a cMedQA2 folder needs question.csv and answer.csv ({f.name} is missing)")
    questions = {}
    for n, row in enumerate(csv.reader(io.StringIO(_text(qfile, gb18030_ok=True))), 1):
        if n == 1 and row and not row[0].strip().isdigit():
            continue
        if len(row) >= 2:
            questions[row[0].strip()] = row[1]
    for n, row in enumerate(csv.reader(io.StringIO(_text(afile, gb18030_ok=True))), 1):
        if n == 1 and row and not row[0].strip().isdigit():
            continue
        where = f"answer.csv:{n}"
        if len(row) < 3:
            yield where, f"expected 3 columns (ans_id,question_id,content), found {len(row)}"
        elif row[1].strip() not in questions:
            yield where, "answer to an unknown question_id"
        else:
            yield where, _pair(questions[row[1].strip()], row[2])


def _toyhom(path: Path, report: ConvertReport):
    text = _text(path, gb18030_ok=True)
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        raise CorpusError(f"{path}: empty CSV")
    cols = [h.strip().lower() for h in header]
    if cols[:4] != ["department", "title", "ask", "answer"]:
        raise CorpusError(f"{path}: expected the header department,title,ask,answer (Toyhom), found {','.join(header)}")
    for n, row in enumerate(reader, 2):
        if len(row) != 4:
            yield n, f"expected 4 columns, found {len(row)}"
            continue
        _dept, title, ask, answer = (c.strip() for c in row)
        question = ask if not title or title in ask else f"{title}\n{ask}" if ask and ask != "无" else title
        yield n, _pair(question, answer)
