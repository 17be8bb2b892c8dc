"""How every command reports, decided once: one JSON document on stdout (`--json`), and a failure as one
line on stderr, "PROG: error: what is wrong and what to do", exit 1 (2 for usage).

And what text from outside is, decided once for every edge (CLI arguments, API bodies, files such as
`chat ask --history`): text that is not valid Unicode, half of a UTF-16 surrogate pair, is refused
(`not_text` says why; an invalid UTF-8 byte in an argument arrives as one, since Python decodes argv
with surrogateescape); NUL, other control characters and invisible formatting characters are removed
(`checked_text`). docs/security.md says why each.

kb is the package every other one may import, so the four CLIs (kb, retriever, chat, finetune) share
this module; it is not a CLI module itself.
"""

from __future__ import annotations

import json
import re
import sys
from typing import NoReturn

import typer
from typer.core import TyperGroup


def emit(data) -> None:
    """The one JSON document of a `--json` run."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def fail(program: str, message: str, code: int = 1) -> NoReturn:
    """One line on stderr, never wrapped by a terminal's width (scripts grep it), then exit `code`."""
    line = f"{program}: error: {' '.join(str(message).split())}\n"
    sys.stderr.write(line.encode("utf-8", "backslashreplace").decode("utf-8"))  # a message quoting bad input
    raise typer.Exit(code)


class NotText(ValueError):
    """Input that is not valid Unicode text; the message names where (`what`) and the character."""


_SURROGATE = re.compile("[\ud800-\udfff]")
# C0 controls but tab, newline and carriage return; DEL and C1 controls; zero-width and bidirectional
# formatting characters (they hide or reorder what a reader sees); the byte-order mark.
_CONTROL = re.compile("[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e"
                      "\u2066-\u2069\ufeff]")


def not_text(text: str, what: str, from_bytes: bool = False) -> str | None:
    """Why `text` is not valid Unicode text (None when it is): it holds half of a surrogate pair, which an
    invalid UTF-8 byte becomes in a command-line argument (`from_bytes`: say it so) and an escape such as
    \\ud800 alone in JSON."""
    found = _SURROGATE.search(text)
    if found is None:
        return None
    char = found.group()
    if from_bytes and "\udc80" <= char <= "\udcff":  # surrogateescape's stand-in for the byte 0x80-0xff
        cause = f"the byte 0x{ord(char) - 0xdc00:02x} is not UTF-8"
    else:
        cause = f"half of a UTF-16 surrogate pair (\\u{ord(char):04x} alone)"
    return f"{what}: not valid Unicode text: {cause} at character {found.start() + 1}; send UTF-8 text"


def not_text_in(value, what: str) -> str | None:
    """`not_text` for the first string in a decoded JSON value (keys included) that is not valid Unicode,
    named by its path below `what` ("" for the top: messages[0].content)."""
    if isinstance(value, str):
        return not_text(value, what)
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        name = f"{what}[{key}]" if isinstance(key, int) else f"{what}.{ascii(key)[1:-1]}".lstrip(".")
        problem = (not_text(key, f"{what or 'the object'}: a key") if isinstance(key, str) else None
                   ) or not_text_in(item, name)
        if problem:
            return problem
    return None


def checked_text(text: str, what: str) -> str:
    """`text` without NUL, control (but tab and newlines) and invisible formatting characters; NotText,
    naming `what`, when it is not valid Unicode. Used by every edge that takes text in."""
    problem = not_text(text, what)
    if problem:
        raise NotText(problem)
    return _CONTROL.sub("", text)


def checked_arguments(program: str) -> type[TyperGroup]:
    """A Typer group class (`typer.Typer(cls=...)`) that refuses, in one line (exit 2), any command-line
    argument that is not valid UTF-8, before any command sees it (a file name included)."""

    class CheckedGroup(TyperGroup):
        def parse_args(self, ctx, args: list[str]) -> list[str]:
            for i, arg in enumerate(args, start=1):
                problem = not_text(arg, f"argument {i} ({ascii(arg[:60])})", from_bytes=True)
                if problem:
                    fail(program, problem, 2)
            return super().parse_args(ctx, args)

    return CheckedGroup
