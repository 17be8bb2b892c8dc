"""Cold start of `chat ask`: a new process answering one question, as a KB maintainer checks an answer after an ingest.

    python bench/bench_cold_start.py --db sqlite:///var/full.sqlite --index var/full-index --repeat 5
    python bench/bench_cold_start.py ... --code /path/to/other/checkout   # the same, alternating with another tree

Prints the median wall and CPU seconds (user + system, which a busy machine inflates less than wall time) of
the whole command, then one in-process breakdown: imports, each part of loading the index (passages, jieba,
linker, findings, BM25, dense, the KB revision check), the encoder, the first answer.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from kb.settings import DEFAULT_INDEX_DIR  # noqa: E402
QUESTION = "阿莫西林的用法用量是什么？"


def one_run(code: Path, db: str, index: str, question: str) -> tuple[float, float]:
    """(wall s, cpu s) of one `chat ask` in a fresh interpreter with `code` first on the path."""
    env = {**os.environ, "PYTHONPATH": str(code), "HF_HUB_OFFLINE": "1"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", "from chat.cli import app; app()", "ask", question, "--db", db,
                           "--index", index, "--no-log"], env=env, capture_output=True, text=True, cwd=code)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"bench_cold_start: chat ask failed in {code}: {done.stderr.strip().splitlines()[-1:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


BREAKDOWN = r"""
import json, sys, time
t0 = time.perf_counter()
import chat.cli
from chat.pipeline import Pipeline
t1 = time.perf_counter()
p = Pipeline.load(sys.argv[1], sys.argv[2], "extractive", 5, log_answers=False)
t2 = time.perf_counter()
p.answer(sys.argv[3])
t3 = time.perf_counter()
r = p.retriever
print(json.dumps({"imports": (t1 - t0) * 1000, "load": (t2 - t1) * 1000, "parts": getattr(r, "load_ms", {}),
                  "first_answer_incl_encoder": (t3 - t2) * 1000}))
"""


def breakdown(code: Path, db: str, index: str, question: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(code), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", BREAKDOWN, db, index, question], env=env, capture_output=True,
                          text=True, cwd=code)
    if done.returncode != 0:
        sys.exit(f"bench_cold_start: breakdown failed in {code}: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", default="sqlite:///var/kb.sqlite")
    ap.add_argument("--index", default=DEFAULT_INDEX_DIR)
    ap.add_argument("--question", default=QUESTION)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--code", type=Path, action="append", default=[],
                    help="another checkout to measure alternately with this one (repeatable)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    db = args.db if "://" in args.db else f"sqlite:///{Path(args.db).resolve()}"
    if db.startswith("sqlite:///") and not db.startswith("sqlite:////"):
        db = f"sqlite:///{(Path.cwd() / db[len('sqlite:///'):]).resolve()}"
    index = str(Path(args.index).resolve())
    trees = [ROOT, *[c.resolve() for c in args.code]]
    one_run(trees[0], db, index, args.question)  # warm the page cache and the user's USE weights cache
    runs: dict[Path, list[tuple[float, float]]] = {t: [] for t in trees}
    for _ in range(args.repeat):
        for tree in trees:  # alternate, so that load on a shared machine falls on both alike
            runs[tree].append(one_run(tree, db, index, args.question))
    report = {}
    for tree, rs in runs.items():
        report[str(tree)] = {
            "wall_s_median": round(statistics.median(w for w, _ in rs), 2),
            "cpu_s_median": round(statistics.median(c for _, c in rs), 2),
            "wall_s": [round(w, 2) for w, _ in rs],
            "breakdown_ms": {k: (round(v) if not isinstance(v, dict) else {kk: round(vv) for kk, vv in v.items()})
                             for k, v in breakdown(tree, db, index, args.question).items()},
        }
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return
    print(f"cold `chat ask {args.question!r}` on {index}, {args.repeat} runs each, alternating")
    for tree, r in report.items():
        print(f"{tree}: wall median {r['wall_s_median']} s, cpu median {r['cpu_s_median']} s  (walls {r['wall_s']})")
        b = r["breakdown_ms"]
        parts = ", ".join(f"{k} {v}" for k, v in b.get("parts", {}).items())
        print(f"    imports {b['imports']} ms, load {b['load']} ms ({parts}), first answer "
              f"{b['first_answer_incl_encoder']} ms")


if __name__ == "__main__":
    main()
