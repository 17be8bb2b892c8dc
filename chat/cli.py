"""`chat`: ask the KB, in a browser (default), one-shot, or through an OpenAI-compatible API.

    chat                               Gradio UI on http://127.0.0.1:7860
    chat ask "阿莫西林的副作用有哪些？" [--json]
    chat serve --port 8000             POST /v1/chat/completions (streaming and not), sources attached
    chat eval [--json]                 triage, refusal and citation rates on the evaluation sets
    chat calibrate                     support thresholds per intent, from the retriever's templated questions
    chat log show | purge --before DATE   the answer log: what is in it; delete what is older than DATE

Every command takes --db (env KB_DB_URL; default sqlite:///var/kb.sqlite), --index (env YIJU_INDEX; default var/index),
--generator (extractive, gemma-270m, tuned, hf:PATH[+ADAPTER], llamacpp:PATH.gguf, openai:URL, or one a package
adds: --help lists the registry's) and --k. ask, ui and serve log each answer unless --no-log: in the KB, or in --log-db URL, for --log-retention-days N (docs/security.md). serve needs
--api-key (env YIJU_API_KEY) to listen beyond this machine. Exit codes: 0 ok, 1 failure (one line saying what
and what to do), 2 usage.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from pathlib import Path
from typing import Annotated, NoReturn, Optional

import typer

from chat.generators import generator_usage
from kb import terminal
from kb.terminal import emit
from kb.options import DbOpt, IndexOpt, JsonOpt, OnStale, StaleOpt
from kb.settings import DEFAULT_INDEX_DIR, env_name

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # models come from local paths or packages, never a hub
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

app = typer.Typer(help="依据 yiju chat: answers that cite the knowledge base.", invoke_without_command=True,
                  cls=terminal.checked_arguments("chat"),
                  add_completion=False, pretty_exceptions_enable=False)

GenOpt = Annotated[str, typer.Option("--generator", "-g", help=generator_usage())]
KOpt = Annotated[int, typer.Option("--k", min=1, max=50, help="Passages to retrieve")]
LogOpt = Annotated[bool, typer.Option("--log/--no-log", help="Log each answer (question, answer, cited passages, "
                                      "KB revision); --no-log writes nothing")]
LogDbOpt = Annotated[Optional[str], typer.Option(
    "--log-db", envvar=env_name("log_db"), help="Keep the answer log in this database, not the KB's (env YIJU_LOG_DB; "
    "created on first use)")]
RetentionOpt = Annotated[Optional[int], typer.Option(
    "--log-retention-days", min=1, envvar=env_name("log_retention_days"),
    help="Delete answer-log rows older than N days, on start and hourly while answering (env YIJU_LOG_RETENTION_DAYS)")]


def fail(message: str, code: int = 1) -> NoReturn:
    terminal.fail("chat", message, code)


def warn(message: str, said: set[str] | None = None) -> None:
    """A warning as one line on stderr ("warning: ..."), unless it is in `said` (then it was told already:
    a stale index is found on load and again in each answer); added to `said`."""
    text = " ".join(str(message).split())
    if said is not None and text in said:
        return
    if said is not None:
        said.add(text)
    sys.stderr.write(f"warning: {text}\n".encode("utf-8", "backslashreplace").decode("utf-8"))


def load_pipeline(db: str | None, index: str | Path, generator: str, k: int, log_answers: bool = True,
                  on_stale: str = "warn", log_db: str | None = None, log_retention_days: int | None = None,
                  said: set[str] | None = None):
    """The pipeline, or a one-line failure naming what is missing (no index, no KB, no model). Warnings
    raised while loading (a stale index) are each one line (`warn`, once with `said`).

    on_stale: what to do when the KB has moved past the index, an `OnStale` value (kb/options.py): warn
    (answers say so, dose questions are not answered), fail (exit 1), or update (bring the index up to the KB
    first); not ignore, which would skip the check those answers rely on.
    log_db, log_retention_days: where answers are logged and for how long (with log_answers); the log is
    opened here, so an unusable log database stops the start and old rows go now."""
    from kb.db import DatabaseError

    from chat.generators import GeneratorError
    from chat.pipeline import Pipeline

    from retriever.store import RetrieverError
    if on_stale not in (OnStale.warn, OnStale.fail, OnStale.update):  # ignore would skip the check answers need
        fail(f"--on-stale must be warn, fail or update here, not {on_stale!r}: answers from a stale index say so "
             "and give no dose", 2)
    on_stale = OnStale(on_stale)
    try:
        if on_stale is OnStale.update:
            from retriever.index import update_index

            report = update_index(db, index)
            sys.stderr.write(f"index {index} at KB revision {report['kb_revision']} "
                             f"({report['entities']} entities re-read)\n")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            pipeline = Pipeline.load(db, index, generator, k, log_answers=log_answers,
                                     on_stale=on_stale.on_load(), log_db=log_db,
                                     log_retention_days=log_retention_days)
        for w in caught:
            warn(str(w.message), said if said is not None else set())
    except (RetrieverError, DatabaseError, GeneratorError, FileNotFoundError, ValueError) as exc:
        fail(f"{str(exc).splitlines()[0]}")
    except Exception as exc:  # one line, never a traceback
        fail(f"cannot start the pipeline: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    if pipeline.answer_log is not None and (log_db or log_retention_days):
        try:
            deleted = pipeline.answer_log.prepare()
        except Exception as exc:  # unreachable, or a schema this code cannot migrate: one line
            _log_failed(pipeline.answer_log, exc)
        if deleted:
            sys.stderr.write(f"answer log: {deleted} rows older than {log_retention_days} days deleted\n")
    return pipeline


@app.callback()
def main(ctx: typer.Context, db: DbOpt = None, index: IndexOpt = DEFAULT_INDEX_DIR, generator: GenOpt = "extractive",
         k: KOpt = 5) -> None:
    """With no command: the Gradio UI on 127.0.0.1."""
    if ctx.invoked_subcommand is None:
        ui(db=db, index=index, generator=generator, k=k)


def sources_text(answer) -> str:
    """The cited passages as plain lines (entity · section, source, passage id) and each source's licence note once."""
    if not answer.citations:
        return ""
    lines = ["", "来源："]
    lines += [f"[{c.n}] {c.entity} · {c.section} — {c.source}（{c.passage_id}）" for c in answer.citations]
    notes = dict.fromkeys((c.source, c.license) for c in answer.citations if c.license)
    lines += [f"许可与用途（{source}）：{note}" for source, note in notes]
    return "\n".join(lines) + "\n"


HISTORY_SHAPE = '[{"role": "user" | "assistant", "content": "text"}, ...]'


def read_history(path: Path) -> list[dict]:
    """The messages of a `--history` file, checked: a JSON list of {"role": "user" | "assistant", "content":
    text} (other keys ignored), each content valid Unicode. Anything else is one line naming the file and
    the item (`item 3: role: ...`), never a conversation read silently as another."""
    from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError
    from typing import Literal

    class Message(BaseModel):
        model_config = ConfigDict(extra="ignore")
        role: Literal["user", "assistant"]
        content: str

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        fail(f"{path}: not a readable JSON list of messages ({exc})")
    try:
        messages = TypeAdapter(list[Message]).validate_python(data, strict=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "".join(f"item {x + 1}" if i == 0 else f": {x}" for i, x in enumerate(first["loc"])) or "the file"
        given = json.dumps(first.get("input"), ensure_ascii=False, default=str)
        fail(f"{path}: {where}: {first['msg']} (given {given[:60]}{'…' if len(given) > 60 else ''}); "
             f"--history takes {HISTORY_SHAPE}")
    for i, m in enumerate(messages, start=1):
        problem = terminal.not_text(m.content, f"{path}: item {i}: content")
        if problem:
            fail(problem)
    return [m.model_dump() for m in messages]


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question, in Chinese")],
    db: DbOpt = None, index: IndexOpt = DEFAULT_INDEX_DIR, generator: GenOpt = "extractive", k: KOpt = 5,
    json_out: JsonOpt = False,
    history: Annotated[Optional[Path], typer.Option(help="JSON file of earlier messages [{role, content}]")] = None,
    debug: Annotated[bool, typer.Option(help="Include retrieval and support details in --json")] = False,
    on_stale: StaleOpt = OnStale.warn, log: LogOpt = True, log_db: LogDbOpt = None, log_retention_days: RetentionOpt = None,
) -> None:
    """Answer one question from the KB, with citations."""
    if not question.strip():
        fail("the question is empty; usage: chat ask \"阿莫西林的副作用有哪些？\"", 2)
    messages = read_history(history) if history else []
    said: set[str] = set()  # each warning once: the answer repeats what loading found (a stale index)
    pipeline = load_pipeline(db, index, generator, k, log_answers=log, on_stale=on_stale, log_db=log_db,
                             log_retention_days=log_retention_days, said=said)
    try:
        answer = pipeline.answer(question, messages)
    except Exception as exc:
        fail(f"could not answer: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    if json_out:
        emit(answer.to_json(debug=debug))
        return
    from rich.console import Console

    sys.stdout.write(answer.text + "\n")  # plain text: a terminal wraps it, never inside a dose or a [n]
    sys.stdout.write(sources_text(answer))
    sys.stdout.flush()
    err = Console(stderr=True)
    if "您是否有「" in answer.text:
        err.print("[dim]to answer the question above, save this turn and pass it back: chat ask \"有\" --history "
                  "FILE.json (a JSON list of {role, content}; see the README)[/dim]", highlight=False)
    for w in answer.warnings:
        warn(w, said)
    err.print(f"[dim]{answer.generator} · KB revision {answer.kb_revision} · "
              f"{answer.timings_ms.get('total', 0):.0f} ms[/dim]", highlight=False)


def _loopback_unless(guard, host: str, what: str, how: str) -> None:
    """The one rule for `ui` and `serve`: an address other machines can reach only behind a login or a key."""
    from chat.api import is_loopback

    if not guard and not is_loopback(host):
        fail(f"refusing to listen on {host} without {what}: anyone who can reach it could use it and read its "
             f"answers; pass {how}, or keep --host 127.0.0.1", 2)


@app.command()
def ui(db: DbOpt = None, index: IndexOpt = DEFAULT_INDEX_DIR, generator: GenOpt = "extractive", k: KOpt = 5,
       on_stale: StaleOpt = OnStale.warn,
       host: Annotated[str, typer.Option(help="Address to bind (beyond 127.0.0.1 only with --auth)")] = "127.0.0.1",
       port: Annotated[int, typer.Option(help="Port")] = 7860,
       auth: Annotated[Optional[str], typer.Option(
           "--auth", envvar=env_name("ui_auth"), show_default=False,
           help="USER:PASSWORD a visitor must log in with (env YIJU_UI_AUTH, which keeps it out of `ps`)")] = None,
       log: LogOpt = True, log_db: LogDbOpt = None, log_retention_days: RetentionOpt = None) -> None:
    """The Gradio chat: streaming answers, a sources panel, retrieval debugging, settings."""
    login = None
    if auth is not None:
        user, _, password = auth.partition(":")
        if not user.strip() or not password:
            fail("--auth (or YIJU_UI_AUTH) must be USER:PASSWORD with both parts", 2)
        login = (user.strip(), password)
    _loopback_unless(login, host, "a login", "--auth USER:PASSWORD (or set YIJU_UI_AUTH)")
    pipeline = load_pipeline(db, index, generator, k, log_answers=log, on_stale=on_stale, log_db=log_db,
                             log_retention_days=log_retention_days)
    sys.stderr.write(f"{_log_line(pipeline)}\n")
    from chat.ui import build_ui, launch

    try:
        launch(build_ui(pipeline), host, port, auth=login)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc}")


@app.command()
def serve(db: DbOpt = None, index: IndexOpt = DEFAULT_INDEX_DIR, generator: GenOpt = "extractive", k: KOpt = 5,
          on_stale: StaleOpt = OnStale.warn,
          host: Annotated[str, typer.Option(help="Address to bind (beyond 127.0.0.1 only with --api-key)")] = "127.0.0.1",
          port: Annotated[int, typer.Option(help="Port")] = 8000,
          api_key: Annotated[Optional[str], typer.Option(
              "--api-key", envvar=env_name("api_key"), show_default=False,
              help="Require Authorization: Bearer KEY on /v1 (env YIJU_API_KEY, which keeps it out of `ps`)")] = None,
          allow_origin: Annotated[Optional[list[str]], typer.Option(
              "--allow-origin", help="A web origin (https://app.example.org) whose pages may call the API (CORS); "
              "repeatable; none by default")] = None,
          docs: Annotated[bool, typer.Option("--docs", help="Serve /docs, /redoc and /openapi.json")] = False,
          allowed_host: Annotated[Optional[list[str]], typer.Option(
              "--allowed-host", envvar=env_name("allowed_hosts"), show_default=False,
              help="A name clients reach the server by (api.example.org, *.example.org), answered beside "
              "127.0.0.1, localhost, [::1] and the --host address; repeatable (env YIJU_ALLOWED_HOSTS, "
              "space- or comma-separated); any other Host header gets a 400")] = None,
          log: LogOpt = True, log_db: LogDbOpt = None, log_retention_days: RetentionOpt = None) -> None:
    """OpenAI-compatible API: POST /v1/chat/completions (stream or not), sources in the response."""
    from chat.api import allowed_hosts, check_origin, create_app

    if api_key is not None and not api_key.strip():
        fail("--api-key (or YIJU_API_KEY) is empty: give a key, or leave it out to serve this machine only", 2)
    if terminal.not_text(api_key or "", "--api-key (or YIJU_API_KEY)", from_bytes=True):  # never echo the key
        fail("--api-key (or YIJU_API_KEY) is not valid UTF-8 text; give the key as plain text", 2)
    _loopback_unless(api_key, host, "an API key", "--api-key KEY (or set YIJU_API_KEY)")
    try:
        origins = [check_origin(o) for o in allow_origin or []]
        hosts = allowed_hosts(host, [n for value in allowed_host or [] for n in value.replace(",", " ").split()])
    except ValueError as exc:
        fail(str(exc), 2)
    pipeline = load_pipeline(db, index, generator, k, log_answers=log, on_stale=on_stale, log_db=log_db,
                             log_retention_days=log_retention_days)
    import uvicorn

    base = f"http://{host}:{port}"
    sys.stderr.write(
        f"yiju chat API on {base}/v1/chat/completions (OpenAI-compatible; "
        f"{'API key required' if api_key else 'no API key: this machine only'}; "
        f"{f'docs at {base}/docs' if docs else 'docs off (--docs)'}"
        f"{'; browser origins ' + ', '.join(origins) if origins else ''}; "
        f"{'any Host' if hosts == ['*'] else 'Host ' + ', '.join(hosts)}) · generator {pipeline.generator.name} · "
        f"KB revision {pipeline.kb_revision} · {_log_line(pipeline)}\n")
    try:
        uvicorn.run(create_app(pipeline, api_key=api_key, allow_origins=origins, docs=docs, hosts=hosts), host=host, port=port,
                    log_level="warning")
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc}")


def _log_line(pipeline) -> str:
    return pipeline.answer_log.describe() if pipeline.answer_log is not None else "answer log off"


@app.command("eval")
def eval_cmd(
    db: DbOpt = None, index: IndexOpt = DEFAULT_INDEX_DIR, generator: GenOpt = "extractive", k: KOpt = 5,
    json_out: JsonOpt = False,
    templated: Annotated[int, typer.Option(help="Templated in-KB questions to sample (0: none)")] = 300,
    seed: Annotated[int, typer.Option(help="Sampling seed")] = 0,
    real: Annotated[Optional[Path], typer.Option(
        help="Real questions instead: a Toyhom CSV (department,title,ask,answer) or JSONL {question, reference}")] = None,
    n: Annotated[Optional[int], typer.Option("--n", min=1, help="With --real: questions to sample (default all)")] = None,
    half_name: Annotated[Optional[str], typer.Option(
        "--half", help="With --real: only the 'tune' or the 'check' half of the file (split by --seed), before --n")] = None,
    report_path: Annotated[Optional[Path], typer.Option(
        "--report", help="With --real: write N sampled answers beside the references to this markdown file")] = None,
    report_n: Annotated[int, typer.Option("--report-n", min=1, help="With --report: answers in it")] = 30,
    rows_path: Annotated[Optional[Path], typer.Option(
        "--rows", help="With --real: write every question's outcome, answer and reference to this JSONL file")] = None,
) -> None:
    """Rates on the evaluation sets (triage, refusal, citations), or with --real on real questions:
    refused / asked back / emergency / answered, reference overlap, latency."""
    if real is not None:
        return _eval_real(real, db, index, generator, k, json_out, n, seed, report_path, report_n, rows_path, half_name)
    from chat.evaluation import evaluate, print_report

    pipeline = load_pipeline(db, index, generator, k, log_answers=False)
    try:
        report = evaluate(pipeline, templated=templated, seed=seed)
    except Exception as exc:
        fail(f"evaluation failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    if json_out:
        emit(report)
    else:
        print_report(report)
    if not report.get("passed", True):
        raise typer.Exit(1)


def _eval_real(path: Path, db, index, generator, k, json_out, n, seed, report_path, report_n, rows_path,
               half_name: str | None = None) -> None:
    from chat.real_questions import (RealQuestionsError, evaluate_real, half, print_summary, read_questions, sample,
                                     write_report)

    try:
        questions = read_questions(path)
        questions = sample(half(questions, half_name, seed) if half_name else questions, n, seed)
    except RealQuestionsError as exc:
        fail(str(exc))
    if not questions:
        fail(f"{path}: no questions in it")
    pipeline = load_pipeline(db, index, generator, k, log_answers=False)
    from rich.console import Console
    from rich.progress import Progress

    try:
        with Progress(transient=True, console=Console(stderr=True)) as bar:
            task = bar.add_task("answering", total=len(questions))
            report, rows = evaluate_real(pipeline, questions, progress=lambda: bar.advance(task))
    except Exception as exc:
        fail(f"evaluation failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    report |= {"source": str(path), "seed": seed, "half": half_name, "kb_revision": pipeline.kb_revision,
               "generator": pipeline.generator.name}
    if report_path:
        report["report"] = str(write_report(report_path, report, rows, report_n, seed, str(path)))
    if rows_path:
        rows_path.parent.mkdir(parents=True, exist_ok=True)
        rows_path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        report["rows"] = str(rows_path)
    if json_out:
        emit(report)
    else:
        print_summary(report, str(path))
        if report_path:
            sys.stderr.write(f"report written to {report_path}\n")


@app.command()
def calibrate(
    db: DbOpt = None, index: IndexOpt = DEFAULT_INDEX_DIR, k: KOpt = 5, json_out: JsonOpt = False,
    per_intent: Annotated[int, typer.Option(help="Templated questions per intent")] = 60,
    seed: Annotated[int, typer.Option(help="Sampling seed")] = 0,
    write: Annotated[bool, typer.Option("--write/--dry-run", help="Save the thresholds next to the index")] = True,
) -> None:
    """Support thresholds per intent from templated in-KB and out-of-KB questions; saved in the index folder."""
    from chat.evaluation import calibrate_thresholds

    pipeline = load_pipeline(db, index, "extractive", k, log_answers=False)
    try:
        thresholds, report = calibrate_thresholds(pipeline, per_intent=per_intent, seed=seed)
    except Exception as exc:
        fail(f"calibration failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    if write:
        report["written"] = str(thresholds.save(index))
    if json_out:
        emit(report)
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(title="support thresholds")
        for col in ("intent", "threshold", "in-KB questions", "in-KB below", "out-of-KB above"):
            table.add_column(col)
        for intent, row in report["by_intent"].items():
            table.add_row(intent, f"{row['threshold']:.2f}", str(row["n"]), f"{row['in_kb_below']:.1%}",
                          f"{row['out_of_kb_above']:.1%}")
        Console().print(table)
        if write:
            Console(stderr=True).print(f"written to {report['written']}")


# --------------------------------------------------------------------------- chat log

log_app = typer.Typer(help="The answer log: what it holds, and deleting old rows.", no_args_is_help=True)
app.add_typer(log_app, name="log")


def _answer_log(db: str | None, log_db: str | None):
    from chat.answer_log import AnswerLogger

    return AnswerLogger.open(db, log_db)


def _log_failed(answer_log, exc: Exception) -> NoReturn:
    """One line: a DatabaseError names the URL itself; anything else (a schema newer than this code) gets it."""
    from kb.db import DatabaseError

    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    fail(f"answer log: {text}" if isinstance(exc, DatabaseError)
         else f"answer log at {answer_log.url_shown}: {type(exc).__name__}: {text}")


@log_app.command("show")
def log_show(db: DbOpt = None, log_db: LogDbOpt = None, json_out: JsonOpt = False,
             last: Annotated[int, typer.Option("--last", min=0, help="Newest rows to list")] = 10) -> None:
    """How many answers are logged, the oldest and newest, and the last few questions."""
    answer_log = _answer_log(db, log_db)
    try:
        summary = answer_log.summary(last)
    except Exception as exc:
        _log_failed(answer_log, exc)
    if json_out:
        emit(summary)
        return
    sys.stdout.write(f"{summary['rows']} answers logged in {summary['database']}"
                     + (f", {summary['oldest']:%Y-%m-%d %H:%M} to {summary['newest']:%Y-%m-%d %H:%M} UTC"
                        if summary["rows"] else "") + "\n")
    for row in summary["last"]:
        flags = " ".join(f for f in ("refused" if row["refused"] else "", row["triage"] or "") if f)
        sys.stdout.write(f"{row['id']:>6}  {row['created_at']:%Y-%m-%d %H:%M}  rev {row['kb_revision']}  "
                         f"{row['question']}{'  [' + flags + ']' if flags else ''}\n")


@log_app.command("purge")
def log_purge(
    before: Annotated[str, typer.Option("--before", help="Delete rows logged before this date (2026-01-31, UTC) "
                                        "or ISO date and time")],
    db: DbOpt = None, log_db: LogDbOpt = None, json_out: JsonOpt = False,
) -> None:
    """Delete the answer-log rows older than a date; says how many went."""
    from datetime import datetime

    from chat.answer_log import as_utc

    try:
        cutoff = as_utc(datetime.fromisoformat(before.strip()))
    except ValueError:
        fail(f"--before takes a date like 2026-01-31 or 2026-01-31T08:00+08:00, not {before!r}", 2)
    answer_log = _answer_log(db, log_db)
    try:
        deleted = answer_log.purge(cutoff)
    except Exception as exc:
        _log_failed(answer_log, exc)
    if json_out:
        emit({"deleted": deleted, "before": cutoff.isoformat(), "database": answer_log.url_shown})
    else:
        sys.stdout.write(f"deleted {deleted} answer-log rows logged before {cutoff:%Y-%m-%d %H:%M} UTC "
                         f"from {answer_log.url_shown}\n")


if __name__ == "__main__":  # pragma: no cover
    app()
