"""Ingest throughput (records/s) for the xywy crawl and CMeKG, on SQLite and on PostgreSQL.

    .venv/bin/python bench/bench_ingest.py [--repeat 3] [--pg postgresql+psycopg://postgres@127.0.0.1:5432/test]

For each source: parse time (median of --repeat reads); for each database: first ingest (every record
new) and a re-ingest of the same input (every record unchanged), each the median of --repeat runs into a
fresh database. Records/s counts parse + store, as `kb ingest` does. The machine this runs on is shared
and noisy: compare figures from one run only.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from kb.db import dispose_engines, migrate, session_scope
from kb.sources import read_files, read_package
from kb.store import ingest

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def fresh_db(kind: str, pg_url: str, tmp: Path) -> tuple[str, callable]:
    if kind == "sqlite":
        path = tmp / f"{uuid.uuid4().hex}.sqlite"
        return f"sqlite:///{path}", lambda: None
    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(pg_url)
    name = f"yiju_bench_{uuid.uuid4().hex[:8]}"
    conninfo = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop():
        dispose_engines()
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return admin.set(database=name).render_as_string(hide_password=False), drop


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    ap.add_argument("--sources", default="xywy,cmekg")
    ap.add_argument("--dbs", default="sqlite,postgresql")
    args = ap.parse_args()

    readers = {
        "xywy": lambda: read_files([SHARED / "xywy-disease-kb"]),
        "cmekg": lambda: [read_package("cmekg")],
    }
    print(f"{'source':8} {'db':10} {'records':>8} {'parse s':>8} {'ingest s':>9} {'rec/s':>8} {'reingest s':>10} {'rec/s':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        for source in args.sources.split(","):
            parses = []
            for _ in range(args.repeat):
                batches = None  # free the previous read outside the timer
                t0 = time.perf_counter()
                batches = readers[source]()
                parses.append(time.perf_counter() - t0)
            parse_s = statistics.median(parses)
            n = sum(len(b.records) for b in batches)
            for kind in args.dbs.split(","):
                first, again = [], []
                for _ in range(args.repeat):
                    url, drop = fresh_db(kind, args.pg, Path(tmp))
                    migrate(url)
                    t0 = time.perf_counter()
                    with session_scope(url) as s:
                        ingest(s, batches)
                    first.append(time.perf_counter() - t0)
                    t0 = time.perf_counter()
                    with session_scope(url) as s:
                        report = ingest(s, batches)
                    again.append(time.perf_counter() - t0)
                    assert report.changed == 0, "re-ingest changed something"
                    dispose_engines()
                    drop()
                f, a = statistics.median(first), statistics.median(again)
                print(f"{source:8} {kind:10} {n:8d} {parse_s:8.2f} {f:9.2f} {n / (parse_s + f):8.0f} "
                      f"{a:10.2f} {n / (parse_s + a):8.0f}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
