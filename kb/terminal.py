"""How every command reports, decided once: one JSON document on stdout (`--json`), and a failure as one
line on stderr, "PROG: error: what is wrong and what to do", exit 1 (2 for usage).

kb is the package every other one may import, so the four CLIs (kb, retriever, chat, finetune) share
this module; it is not a CLI module itself.
"""

from __future__ import annotations

import json
import sys
from typing import NoReturn

import typer


def emit(data) -> None:
    """The one JSON document of a `--json` run."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def fail(program: str, message: str, code: int = 1) -> NoReturn:
    """One line on stderr, never wrapped by a terminal's width (scripts grep it), then exit `code`."""
    sys.stderr.write(f"{program}: error: {' '.join(str(message).split())}\n")
    raise typer.Exit(code)
