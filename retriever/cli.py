"""`retriever`: build, update, debug, eval and stats for the retrieval index.

Every reporting command takes --json (one JSON document on stdout; logs and progress on stderr),
--db URL and --index DIR. Exit codes: 0 ok, 1 the command failed (one line on stderr says why), 2 usage.
"""

from __future__ import annotations

import logging
import re
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.cells import cell_len, set_cell_size
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from kb.db import DatabaseError, resolve_url
from kb import terminal
from kb.options import DbOpt, IndexOpt, JsonOpt, OnStale, StaleOpt
from kb.settings import DEFAULT_INDEX_DIR
from kb.terminal import emit
from retriever.index import build_index, update_index
from retriever.hits import Passage
from retriever.search import CHANNELS, Retriever
from retriever.store import RetrieverError
from retriever.report import result_to_dict

app = typer.Typer(add_completion=False, no_args_is_help=True, cls=terminal.checked_arguments("retriever"),
                  help="Build, update, inspect and evaluate the retrieval index over the KB.")
out = Console()
err = Console(stderr=True)



@contextmanager
def _failures():
    """Known failures become one line on stderr and exit 1; anything else is a bug and keeps its traceback."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    warnings.simplefilter("ignore")  # stale-index warnings are reported in the output instead
    try:
        yield
    except (RetrieverError, DatabaseError, ValueError, FileNotFoundError) as exc:
        terminal.fail("retriever", str(exc))


# Characters of one token ("0.5g", "20～40mg/kg", "e56:不良反应:demo:0"): a clipped snippet never ends inside one.
_TOKEN = re.compile(r"[0-9A-Za-z.～~%/×^:+-]")


def _clip(text: str, width: int) -> str:
    """The text on one line of at most `width` cells, cut between tokens and marked "…" when cut."""
    text = " ".join(text.split())
    if cell_len(text) <= width:
        return text
    end = len(set_cell_size(text, width - 1).rstrip())
    while end > 0 and _TOKEN.match(text[end - 1]) and _TOKEN.match(text[end]):
        end -= 1
    return text[:end].rstrip() + "…"


def _hits(rows: list[tuple[int, float, Passage, str]], width: int) -> Table:
    """Hits (rank, score, passage, why) as lines that fit `width` cells, whatever the terminal or pipe: rank and
    score, then entity · section and passage id (wrapped between words, never inside one), why it ranks there
    (fused: each channel's rank and the boosts), and one line of the passage's text, clipped."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(justify="right", no_wrap=True)
    grid.add_column(justify="right", no_wrap=True)
    grid.add_column(overflow="fold")
    ranks = [str(rank) for rank, *_ in rows]
    scores = [f"{score:.4f}" for _, score, *_ in rows]
    body = width - max(map(len, ranks), default=0) - max(map(len, scores), default=0) - 2
    for rank, score, (_, _, p, why) in zip(ranks, scores, rows):
        lines = [Text(f"{p.entity_name} · {p.section}  {p.id}")]
        if why:
            lines.append(Text(why, style="cyan"))
        lines.append(Text(_clip(p.body, body), style="dim", no_wrap=True, overflow="ellipsis"))
        grid.add_row(rank, score, Group(*lines))
    return grid


def _load(index: Path, db: str | None, on_stale: OnStale) -> Retriever:
    if on_stale is OnStale.update:
        report = update_index(db, index)
        sys.stderr.write(f"index {index} at KB revision {report['kb_revision']} ({report['entities']} entities re-read)\n")
    return Retriever.load(index, db_url=db, on_stale=on_stale.on_load())


def _overall_table(title: str, channels: dict) -> Table:
    """Recall@1/5/10 and MRR@10 of each channel, one row a channel."""
    table = Table(title=title)
    for col in ("channel", "R@1", "R@5", "R@10", "MRR@10"):
        table.add_column(col, justify="right")
    for c, m in channels.items():
        o = m["overall"]
        table.add_row(c, *(f"{o[x]:.3f}" for x in ("recall@1", "recall@5", "recall@10", "mrr@10")))
    return table


def _breakdown_table(title: str, label: str, report: dict, group: str, metric: str) -> Table:
    """One metric of each channel per group of questions (report[f"{group}_count"] holds the groups)."""
    table = Table(title=title)
    table.add_column(label)
    table.add_column("n", justify="right")
    for c in report["channels"]:
        table.add_column(c, justify="right")
    for name, count in report[f"{group}_count"].items():
        table.add_row(name, str(count), *(f"{m[group][name][metric]:.3f}" for m in report["channels"].values()))
    return table


@app.command()
def build(
    db: DbOpt = None,
    index: IndexOpt = Path(DEFAULT_INDEX_DIR),
    encoder: str = typer.Option("use", help="use | hash | path of a local sentence-transformers model"),
    resume: bool = typer.Option(True, "--resume/--no-resume", help="reuse an interrupted build of the same KB revision"),
    workers: int = typer.Option(0, help="processes for tokenising and embedding (0: 2, or 1 on one core)"),
    as_json: JsonOpt = False,
) -> None:
    """Build the whole index from the KB (passages, BM25, dense vectors) and print its manifest."""
    with _failures():
        manifest = build_index(db, index, encoder=encoder, resume=resume, progress=True, workers=workers or None)
        if as_json:
            emit(manifest)
            return
        table = Table(title=f"index {index}", show_header=False)
        for key in ("passages", "kb_revision", "encoder", "dimension", "dense_index", "build_seconds",
                    "passages_per_second", "stages", "generation", "built_at"):
            table.add_row(key, str(manifest.get(key)))
        out.print(table)


@app.command()
def update(db: DbOpt = None, index: IndexOpt = Path(DEFAULT_INDEX_DIR), as_json: JsonOpt = False,
           moved: bool = typer.Option(False, "--kb-moved", help="the KB at --db is the one the index was built "
                                      "from, moved or restored with it (same KB id): take its URL")) -> None:
    """Bring the index up to the KB's revision, touching only the passages of entities that changed.
    An index built from another database (a copy of the KB included) is refused, as `kb ingest` refuses it."""
    with _failures():
        report = update_index(db, index, moved=moved)
        if as_json:
            emit(report)
            return
        touched = report["added"] + report["replaced"] + report["removed"]
        out.print(f"KB revision {report['kb_revision_before']} -> {report['kb_revision']}: "
                  f"{report['entities']} entities re-read, {touched} passages touched "
                  f"(added {report['added']}, replaced {report['replaced']}, removed {report['removed']}), "
                  f"{report['unchanged']} unchanged, {report['seconds']} s")


@app.command()
def debug(
    question: str = typer.Argument(..., help="the question to retrieve for"),
    k: int = typer.Option(10, "--k", help="hits to show per channel and fused"),
    db: DbOpt = None,
    index: IndexOpt = Path(DEFAULT_INDEX_DIR),
    on_stale: StaleOpt = OnStale.warn,
    as_json: JsonOpt = False,
) -> None:
    """Show how a question is retrieved, stage by stage.

    The query analysis (topics, asked sections, findings reported and denied, names the KB lacks and
    why), each channel's top hits with rank and raw score, the fused ranking with its boosts, passage
    texts and the time per stage.
    """
    with _failures():
        r = _load(index, db, on_stale)
        r.warm()  # load the encoder first, so the timings below are a query's, not start-up's
        result = r.rank(question, CHANNELS, keep_rankings=True)
        channel_hits = {}  # channel -> [(rank, score, passage)]
        for channel, ranking in result.rankings.items():
            passages = r.store.by_rows([row for row, _ in ranking[:k]])
            channel_hits[channel] = [(i, score, passages[row]) for i, (row, score) in enumerate(ranking[:k], start=1)
                                     if row in passages]
        doc = result_to_dict(result, k)
        doc["channels"] = {channel: [{"rank": i, "score": round(score, 4), "id": p.id, "text": p.text}
                                     for i, score, p in hits] for channel, hits in channel_hits.items()}
        doc["analysis"] = result.analysis.to_json()
        if as_json:
            emit(doc)
            return
        out.print(f"[bold]question[/bold] {question[:200]!r}")
        ents = ", ".join(f"{m.surface}→{m.entity_name} ({m.entity_type} {m.entity_id})" for m in result.entities)
        out.print(f"[bold]entities[/bold] {ents or '—'}")
        out.print(f"[bold]intent[/bold]   {', '.join(result.intents) or '—'}")
        a = result.analysis
        out.print(f"[bold]analysis[/bold] {a.kind}; findings {'、'.join(a.present) or '—'}"
                  + (f", denied {'、'.join(a.absent)}" if a.absent else "")
                  + (f"; not in the KB {'、'.join(a.unknown)}" if a.unknown else "")
                  + (f"; broader {'、'.join(f'{n}→{b}' for n, b in a.broader)}" if a.broader else "")
                  + (f"; did you mean {'、'.join(f'{w}→{n}' for w, n in a.corrected)}" if a.corrected else "")
                  + (f"; focus {'、'.join(a.focus)}" if a.focus else ""), highlight=False)
        for note in a.notes:
            out.print(f"[dim]  {note}[/dim]", highlight=False)
        for w in result.warnings:
            out.print(f"[yellow]warning:[/yellow] {w}")
        for channel, hits in channel_hits.items():
            out.print(f"[bold]{channel}[/bold] (alone)")
            out.print(_hits([(i, score, p, "") for i, score, p in hits], out.width))
        out.print("[bold]fused[/bold]")
        out.print(_hits([(h.rank, h.score, h.passage, " ".join(f"{c}:{n}" for c, n in h.channel_ranks.items())
                          + ("  boosts " + " ".join(f"{b}+{v:.3f}" for b, v in h.boosts.items()) if h.boosts else ""))
                         for h in result.hits[:k]], out.width))
        out.print("[bold]time[/bold] " + "  ".join(f"{s}:{ms:.1f}ms" for s, ms in result.timings_ms.items()))


@app.command(name="eval")
def eval_(
    n: int = typer.Option(2000, "--n", help="templated questions to generate"),
    symptoms: int = typer.Option(300, "--symptoms", help="extra questions that describe a disease by its symptoms "
                                 "and name no entity (reported apart; 0 to skip)"),
    seed: int = typer.Option(0, help="sampling seed"),
    db: DbOpt = None,
    index: IndexOpt = Path(DEFAULT_INDEX_DIR),
    on_stale: StaleOpt = OnStale.warn,
    as_json: JsonOpt = False,
) -> None:
    """Recall@1/5/10 and MRR@10 of every channel and of fusion, on questions generated from the KB.

    Templated questions (per intent, some naming the entity by an alias or bare drug name) and,
    reported apart, questions that describe a disease by its symptoms and name nothing.
    """
    from rich.progress import Progress

    from retriever.evaluation import evaluate, symptom_questions, templated_questions

    with _failures():
        r = _load(index, db, on_stale)
        r.warm()
        questions = templated_questions(r, n=n, seed=seed)
        if not questions:
            raise RetrieverError(f"the index at {index} has no passages to ask about")
        by_symptoms = symptom_questions(r, n=symptoms, seed=seed) if symptoms else []
        with Progress(console=err, transient=True) as bar:
            task = bar.add_task("questions", total=len(questions) + len(by_symptoms))
            report = evaluate(r, questions, progress=lambda i: bar.advance(task, i))
            if by_symptoms:
                report["symptom_questions"] = evaluate(r, by_symptoms, progress=lambda i: bar.advance(task, i))
        report.update(index=str(index), kb_revision=r.kb_revision, encoder=r.manifest["encoder"], seed=seed,
                      examples=[{"question": q.question, "intent": q.intent, "gold": list(q.gold_passage_ids[:3])}
                                for q in questions[:5]])
        if as_json:
            emit(report)
            return
        out.print(_overall_table(f"{report['questions']} templated questions, KB revision {r.kb_revision}",
                                 report["channels"]))
        out.print(_breakdown_table("Recall@5 by intent", "intent", report, "by_intent", "recall@5"))
        if "symptom_questions" in report:
            sq = report["symptom_questions"]
            out.print(_overall_table(
                f"{sq['questions']} questions naming 3 symptoms and no entity (\"咳嗽、发热、气促是什么病？\")",
                sq["channels"]))
        out.print(_breakdown_table("MRR@10 by how the question names the entity", "named by", report,
                                   "by_name_form", "mrr@10"))


@app.command()
def stats(db: DbOpt = None, index: IndexOpt = Path(DEFAULT_INDEX_DIR), on_stale: StaleOpt = OnStale.warn, as_json: JsonOpt = False) -> None:
    """What the index holds: manifest, passages by type, origin and section, sizes, staleness."""
    with _failures():
        s = _load(index, db, on_stale).stats()
        if as_json:
            emit(s)
            return
        table = Table(title=f"index {index} ({resolve_url(db) if db else s['manifest'].get('db_url')})", show_header=False)
        m = s["manifest"]
        for key in ("passages", "entities", "linker_keys", "bm25_vocabulary", "dense_vectors"):
            table.add_row(key, str(s[key]))
        for key in ("kb_revision", "encoder", "dimension", "dense_index", "built_at", "updated_at", "build_seconds"):
            table.add_row(key, str(m.get(key)))
        table.add_row("size", f"{s['size_bytes'] / 1e6:.1f} MB")
        table.add_row("by type", ", ".join(f"{k} {v}" for k, v in s["by_type"].items()))
        table.add_row("by origin", ", ".join(f"{k} {v}" for k, v in s["by_origin"].items()))
        table.add_row("stale", s["kb_stale"] or "no")
        out.print(table)


if __name__ == "__main__":
    app()
