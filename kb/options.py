"""The options the four CLIs (kb, retriever, chat, finetune) share, each defined once with one meaning.

    --db URL          the KB (env KB_DB_URL; default sqlite:///var/kb.sqlite): read by kb.db.resolve_url
    --index DIR       the retrieval index (env YIJU_INDEX; default var/index)
    --json            print one JSON document on stdout (kb.terminal.emit); logs and progress go to stderr
    --on-stale WHAT   what a command that reads the index does when the KB has moved past it (`OnStale`)

A flag beats its environment variable, which beats the default; the variables are named by kb/settings.py.
kb is the package every other one may import, so the options live here, beside kb/terminal.py.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Optional

import typer

from kb.settings import DEFAULT_DB_URL, DEFAULT_INDEX_DIR, env_name


class OnStale(StrEnum):
    """What to do when the KB has moved past the index (the same in `retriever` and `chat`). chat's answers
    from a stale index say so and give no dose answers (chat/pipeline.py), so chat refuses `ignore`, which
    would skip the check those answers rely on."""

    warn = "warn"  # use the index and say that it is stale
    fail = "fail"  # exit 1, saying so
    update = "update"  # bring the index up to the KB first (retriever.update_index), then use it
    ignore = "ignore"  # retriever's commands only: use the index without checking

    def on_load(self) -> str:
        """What `Retriever.load` / `Pipeline.load` are told (warn, fail or ignore) once `update` has run."""
        return "warn" if self is OnStale.update else self.value


DbOpt = Annotated[Optional[str], typer.Option(
    "--db", show_default=False, help=f"KB database URL (env {env_name('db_url')}; default {DEFAULT_DB_URL})")]
IndexOpt = Annotated[Optional[Path], typer.Option(
    "--index", envvar=env_name("index"),
    help=f"Retrieval index folder (env {env_name('index')}; default {DEFAULT_INDEX_DIR})")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout")]
StaleOpt = Annotated[OnStale, typer.Option(
    "--on-stale", help="When the KB has moved past the index: warn (say so), fail (exit 1), update (update the "
    "index first) or ignore (retriever only: no check; chat's answers from a stale index always say so and give "
    "no dose)")]
