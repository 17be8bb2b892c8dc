"""`kb`: create, fill and inspect the knowledge base.

Every command takes --db (or env KB_DB_URL; default sqlite:///var/kb.sqlite); reporting commands take
--json and then print exactly one JSON document on stdout. Exit codes: 0 ok, 1 failure (the message
names the file/record), 2 usage.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import sys
import tempfile
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated, NoReturn, Optional

import typer
from rich.markup import escape

from kb import terminal
from kb.options import DbOpt, IndexOpt, JsonOpt
from kb.terminal import emit
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from kb import db as kbdb
from kb.authority import authority_name, parse_authority
from kb.queries import export_records, find_entities, kb_stats
from kb.sources import read_files, read_package
from kb.store import IngestError, ingest

app = typer.Typer(help="依据 yiju knowledge base: init, ingest, stats, show, lint, export.", no_args_is_help=True,
                  cls=terminal.checked_arguments("kb"),
                  pretty_exceptions_enable=False)
out = Console()
err = Console(stderr=True)


def fail(message: str, code: int = 1) -> NoReturn:
    terminal.fail("kb", message, code)


@app.command()
def init(db: DbOpt = None, json_out: JsonOpt = False) -> None:
    """Create the KB schema, or migrate an existing KB to the newest schema."""
    try:
        version = kbdb.migrate(db)
        with kbdb.session_scope(db) as session:
            revision, ident = kbdb.kb_revision(session), kbdb.kb_id(session)
    except kbdb.DatabaseError as exc:
        fail(str(exc))
    url = kbdb.redact(kbdb.resolve_url(db))
    if json_out:
        emit({"db": url, "schema": version, "kb_revision": revision, "kb_id": ident})
    else:
        out.print(f"KB {ident} ready at {url} (schema {version}, revision {revision})")


def _run_after_ingest_hooks(db: str | None, index: Path | None) -> dict:
    """Let other packages react to a changed KB (the retriever updates the index at `index`) without kb
    importing them."""
    results = {}
    for ep in entry_points(group="yiju.after_ingest"):
        try:
            results[ep.name] = ep.load()(kbdb.resolve_url(db), index)
        except Exception as exc:  # the KB change has landed; a failed index update must not hide that
            err.print(f"[yellow]warning:[/yellow] after-ingest hook {ep.name} failed: {exc}")
            results[ep.name] = {"error": str(exc)}
    return results


@app.command("ingest")
def ingest_cmd(
    paths: Annotated[Optional[list[Path]], typer.Argument(help="Files or folders to ingest")] = None,
    format: Annotated[Optional[str], typer.Option("--format", "-f", help="label | json | medical-json | xywy (default: detect per file)")] = None,
    source: Annotated[Optional[str], typer.Option("--source", help="Ingest a packaged source: cmekg")] = None,
    origin: Annotated[Optional[str], typer.Option("--origin", help="Name this source's contributions (default: the format). Re-ingesting an origin replaces what it said.")] = None,
    license_note: Annotated[Optional[str], typer.Option("--license", help="License/provenance note stored with the source")] = None,
    authority: Annotated[Optional[str], typer.Option("--authority", help="How far the source is trusted where sources hold the same section: label (说明书, 40) | curated (30) | graph (20) | crawl (10) | 0-100 (default: by origin, then format)")] = None,
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid", help="Write the valid records and report the rejected ones")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report what would change; write nothing")] = False,
    update_index: Annotated[bool, typer.Option("--update-index/--no-update-index", help="Update an existing retrieval index afterwards")] = True,
    index: IndexOpt = None,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Ingest drug labels, JSON/JSONL records, medical.json, the xywy crawl or CMeKG, idempotently."""
    from kb.formats import FormatError
    from kb.records import RecordError

    if not paths and not source:
        err.print("nothing to ingest: give PATH... or --source cmekg")
        raise typer.Exit(2)
    try:
        rank = parse_authority(authority) if authority is not None else None
    except ValueError as exc:
        fail(f"--authority: {exc}", 2)
    try:
        kbdb.migrate(db)
        batches = read_files(paths or [], format, origin, license_note, rank)
        if source:
            batches.insert(0, read_package(source, origin, license_note, rank))
        total = sum(len(b.records) for b in batches)
        with Progress(TextColumn("ingest"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=err, disable=json_out or total < 2000, transient=True) as bar:
            task = bar.add_task("records", total=total)
            with kbdb.session_scope(db) as session:
                report = ingest(session, batches, skip_invalid=skip_invalid, dry_run=dry_run,
                                progress=lambda n: bar.advance(task, n))
    except (FormatError, RecordError, IngestError, kbdb.DatabaseError, OSError, UnicodeDecodeError) as exc:
        fail(str(exc))
    hooks = _run_after_ingest_hooks(db, index) if report.changed and update_index and not dry_run else {}
    result = report.to_json() | {"files": len([b for b in batches if b.format != "cmekg"]), "records": total,
                                 "after_ingest": hooks}
    if json_out:
        emit(result)
        return
    if report.changed:
        revision = f"{'would change' if dry_run else 'changed'} KB revision {report.revision_before} -> {report.revision}"
    else:
        revision = f"KB revision {report.revision} unchanged"
    table = Table(title=f"kb ingest ({'dry run' if dry_run else 'done'})")
    for col in ("type", "added", "updated", "unchanged"):
        table.add_column(col, justify="right" if col != "type" else "left")
    for etype, counts in sorted(report.by_type.items()):
        table.add_row(etype, str(counts["added"]), str(counts["updated"]), str(counts["unchanged"]))
    out.print(table)
    for problem in report.rejected[:20]:
        err.print(f"[yellow]rejected:[/yellow] {escape(problem)}", highlight=False, soft_wrap=True)
    if len(report.rejected) > 20:
        err.print(f"... and {len(report.rejected) - 20} more rejected")
    for warning in report.flagged[:20]:
        err.print(f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False, soft_wrap=True)
    if len(report.flagged) > 20:
        err.print(f"... and {len(report.flagged) - 20} more sections flagged (--json lists them)")
    if report.skipped:
        err.print(f"[dim]{len(report.skipped)} alias-only record(s) skipped: their entity is not in this KB "
                  f"(e.g. {report.skipped[0].split(': ', 1)[-1]})[/dim]", highlight=False)
    out.print(f"{total} records from {len(batches)} source(s): {report.added} added, {report.updated} updated, "
              f"{report.unchanged} unchanged, {len(report.rejected)} rejected"
              + (f", {len(report.skipped)} skipped" if report.skipped else "") + f"; {revision}")
    for name, res in hooks.items():
        if isinstance(res, dict) and res.get("updated"):
            out.print(f"{name}: index {res['index']} updated to KB revision {res.get('kb_revision')} "
                      f"({res.get('entities', 0)} entities re-read)")
        elif isinstance(res, dict) and "reason" in res:
            out.print(f"{name}: no index updated: {res['reason']}")
        elif isinstance(res, dict) and "error" in res:
            out.print(f"{name}: index update failed: {res['error']}")


@app.command()
def stats(db: DbOpt = None, json_out: JsonOpt = False) -> None:
    """Counts of entities, sections, links and sources, and the KB revision."""
    try:
        with kbdb.session_scope(db) as session:
            data = kb_stats(session)
    except kbdb.DatabaseError as exc:
        fail(str(exc))
    if json_out:
        emit(data)
        return
    table = Table(title=f"KB revision {data['kb_revision']} (KB id {data['kb_id']})")
    table.add_column("what")
    table.add_column("count", justify="right")
    for key, value in data["entities"].items():
        table.add_row(f"{key}s", str(value))
    for key in ("sections", "aliases", "links", "links_resolved", "sources"):
        table.add_row(key, str(data[key]))
    out.print(table)
    for origin, n in data["contributions_by_origin"].items():
        out.print(f"origin {origin}: {n} entities")


@app.command()
def show(
    name: Annotated[str, typer.Argument(help="Entity name or alias")],
    type: Annotated[Optional[str], typer.Option("--type", help="drug | disease | exam | symptom")] = None,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Show an entity: sections, aliases, links (both ways) and provenance."""
    try:
        with kbdb.session_scope(db) as session:
            found = find_entities(session, name, type)
    except kbdb.DatabaseError as exc:
        fail(str(exc))
    if not found:
        fail(f"no entity named {name!r} in the KB (try `kb stats` or another spelling)")
    if json_out:
        emit({"matches": found})
        return
    for ent in found:
        out.rule(f"{ent['name']} ({ent['type']} #{ent['id']})")
        if ent["aliases"]:
            out.print("别名: " + "、".join(ent["aliases"]))
        for s in ent["sections"]:
            out.print(f"[bold]【{escape(s['kind'])}】[/bold] [dim]({escape(str(s['origin']))} · "
                      f"{escape(authority_name(s.get('authority')))})[/dim]", highlight=False)
            if s["instruction_like"]:
                out.print(f"[bold red]⚠ flagged: reads like an instruction to an assistant "
                          f"({escape(repr(s['instruction_like']))}); chat leaves such sentences out[/bold red]",
                          highlight=False)
            out.print(s["text"], highlight=False, markup=False)
        corroborated = ent.get("drugs_corroborated") or {}
        for rel, names in ent["links"].items():
            if rel == "disease_drug" and corroborated:
                names = [n + (" ✓" if corroborated.get(n) else " ✗") for n in names]
            out.print(f"[bold]{rel}[/bold]: " + escape("、".join(names)), highlight=False)
        if corroborated:
            out.print("[dim]disease_drug: ✓ the drug's own indications name this disease; ✗ not corroborated, "
                      "never named in an answer[/dim]", highlight=False)
        for src in ent["sources"]:
            licence = f" · {escape(src['license_note'])}" if src.get("license_note") else ""
            out.print(f"[dim]source: {src['origin']} {src['uri']} ({src['format']}, "
                      f"{escape(authority_name(src.get('authority')))}, revision {src['revision']}){licence}[/dim]",
                      highlight=False, markup=True)


@app.command("lint")
def lint_cmd(
    fail_on: Annotated[Optional[list[str]], typer.Option("--fail-on", help="Exit 1 when any source has one of these (repeatable; 'any' for every check): fragment, heading, cut clause, subjectless 等 list, html remnant, drug under symptoms, symptom under drugs, uncorroborated drug link")] = None,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Report, per source, what is not a statement (fragments, heading words, cut clauses, HTML remnants), drug
    names under symptoms and the reverse, and drug links no label corroborates; read-only."""
    from kb.lint import CHECKS, REPORTED, lint

    wanted = list(CHECKS) if fail_on and "any" in fail_on else list(fail_on or [])
    unknown = [c for c in wanted if c not in CHECKS]
    if unknown:
        fail(f"--fail-on {unknown[0]!r} is not a check (one of: {', '.join(CHECKS)}, any)", 2)
    try:
        with kbdb.session_scope(db) as session:
            reports = lint(session)
    except kbdb.DatabaseError as exc:
        fail(str(exc))
    failing = {c: sum(r.counts.get(c, 0) for r in reports) for c in wanted}
    failing = {c: n for c, n in failing.items() if n}
    if json_out:
        emit({"db": kbdb.redact(kbdb.resolve_url(db)), "sources": [r.to_json() for r in reports],
              "checks": list(CHECKS), "failed": failing})
    else:
        table = Table(title="kb lint (superseded: held by a higher-ranked source, left out of passages; not in total)")
        table.add_column("check")
        for r in reports:
            table.add_column(f"{r.origin}\n{authority_name(r.authority)}", justify="right")
        for check in REPORTED:
            table.add_row(check, *(str(r.counts.get(check, 0)) for r in reports))
        table.add_row("total", *(str(r.total) for r in reports))
        table.add_row("sections", *(str(r.sections) for r in reports))
        out.print(table)
        for r in reports:
            for check, examples in r.examples.items():
                out.print(f"[dim]{escape(r.origin)} · {escape(check)}:[/dim] " + escape(" | ".join(examples)),
                          highlight=False)
    if failing:
        err.print("kb lint: " + ", ".join(f"{n} {c}" for c, n in failing.items()) + " (--fail-on)")
        raise typer.Exit(1)


@app.command()
def export(
    output: Annotated[Optional[Path], typer.Option("--out", "-o", help="File to write (default stdout)")] = None,
    type: Annotated[Optional[str], typer.Option("--type", help="Only this entity type")] = None,
    origin: Annotated[Optional[str], typer.Option("--origin", help="Only this origin's contributions")] = None,
    force: Annotated[bool, typer.Option("--force", help="Write through a symlink, or into a device or fifo, at "
                                        "--out (refused without it)")] = False,
    db: DbOpt = None,
) -> None:
    """Export the KB as JSONL in the project's record format (re-ingestable with `kb ingest`).
    `-o` makes the file's folder when it is missing, and replaces only a regular file."""
    if output and output.is_dir():
        fail(f"--out {output} is a folder; give the file to write, e.g. -o {output / 'kb.jsonl'}")
    target = writable_target(output, force) if output else None  # refused before the KB is read
    try:
        with kbdb.session_scope(db) as session:
            lines = [json.dumps(r, ensure_ascii=False) for r in export_records(session, type, origin)]
    except kbdb.DatabaseError as exc:
        fail(str(exc))
    text = "\n".join(lines) + ("\n" if lines else "")
    if not output:
        sys.stdout.write(text)
        return
    write_file(*target, text)
    err.print(f"wrote {len(lines)} records to {output}")


_KINDS = ((stat.S_ISLNK, "a symlink"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISFIFO, "a fifo"), (stat.S_ISSOCK, "a socket"))


def writable_target(path: Path, force: bool = False) -> tuple[Path, int | None, str | None]:
    """(path, its mode or None when new, what it is when not a regular file) for `write_file`. A symlink,
    device, fifo or socket at `path` is one line unless `force`: then a link is followed, and a device or
    fifo is written into, never replaced."""
    if force:
        path = Path(os.path.realpath(path))
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return path, None, None
    except OSError as exc:
        fail(f"cannot write --out {path} ({exc.strerror})")
    kind = next((name for test, name in _KINDS if test(mode)), None)
    if kind and not force:
        fail(f"--out {path} is {kind}, not a regular file; kb export replaces only a regular file or writes a new "
             f"one (pass --force to write {'through it' if kind == 'a symlink' else 'into it'})")
    return path, mode, kind


def write_file(path: Path, mode: int | None, kind: str | None, text: str) -> None:
    """Write `text` to `path` (as `writable_target` found it) so that a reader never sees half of it and
    nothing else is touched: into a temporary file created exclusively (O_EXCL, a random name; a link
    planted at a guessable name is never followed) in `path`'s folder, then renamed onto `path`, new or
    a regular file; a device or fifo (`kind`, with --force) is written into."""
    tmp = None
    try:
        if kind:  # with --force: a device or fifo takes the text in place
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.",
                                         suffix=".tmp", delete=False) as f:
            tmp = Path(f.name)
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, stat.S_IMODE(mode) if mode is not None else 0o666 & ~_umask())  # not mkstemp's 0600
        os.replace(tmp, path)  # never leave a half-written export behind
    except OSError as exc:
        if tmp is not None:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
        fail(f"cannot write --out {path} ({exc.filename or path}: {exc.strerror or exc})")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


if __name__ == "__main__":
    app()
