"""Retrieval benchmark: build throughput, index size, peak memory, query latency per channel and fused.

    python bench/bench_retriever.py                                  # measure the index at var/index
    python bench/bench_retriever.py --db sqlite:///var/full.sqlite --index var/full-index --build
    python bench/bench_retriever.py --json > bench.json

--build times a full build first (in a child process, so its peak memory is its own); without it the
build figures come from the manifest of the last build. Latency is wall time per `Retriever.search`
call, question encoding included, over templated questions (the same generator as `retriever eval`)
mixed with free-form ones, after a warm-up. The machine is shared, so p95 includes other people's load.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from kb.settings import DEFAULT_INDEX_DIR  # noqa: E402  (after the path is set)

FREE_FORM = [
    "发烧咳嗽流鼻涕是什么病", "孩子拉肚子吃什么药", "高血压不能吃什么", "头孢和酒一起会怎样", "胃疼挂什么科",
    "糖尿病的早期症状有哪些", "布洛芬一天最多吃几次", "孕妇感冒了可以吃什么药", "乙肝会传染吗", "失眠怎么办",
    "血常规白细胞高说明什么", "阿莫西林过敏的人能用头孢吗", "肺炎要住院多久", "痛风发作怎么缓解", "小儿咳嗽",
]


def timed_build(db: str | None, index: str, encoder: str) -> dict:
    """Run `retriever build` in a child and report its wall time, CPU time and peak RSS."""
    code = (
        "import json, resource, time, sys\n"
        "from retriever.index import build_index\n"
        f"m = build_index({db!r}, {index!r}, encoder={encoder!r}, progress=True)\n"
        "ru = resource.getrusage(resource.RUSAGE_SELF); rc = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "m['peak_rss_mb'] = round(max(ru.ru_maxrss, rc.ru_maxrss) / 1024, 1)\n"
        "m['cpu_seconds'] = round(ru.ru_utime + ru.ru_stime + rc.ru_utime + rc.ru_stime, 1)\n"
        "print(json.dumps(m))\n"
    )
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=False, stdout=subprocess.PIPE,
                         text=True, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    manifest = json.loads(out.stdout.strip().splitlines()[-1])
    manifest["wall_seconds"] = round(time.perf_counter() - t, 1)
    return manifest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default=None, help="KB URL (default: KB_DB_URL or the index's own)")
    ap.add_argument("--index", default=DEFAULT_INDEX_DIR)
    ap.add_argument("--build", action="store_true", help="time a full build first")
    ap.add_argument("--encoder", default="use")
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="print one JSON document")
    args = ap.parse_args()

    report: dict = {"machine": {"cpus": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2)}}
    if args.build:
        report["build"] = timed_build(args.db, args.index, args.encoder)

    from retriever.evaluation import templated_questions
    from retriever.search import Retriever, dir_size

    t = time.perf_counter()
    r = Retriever.load(args.index, db_url=args.db, on_stale="ignore")
    _ = r.encoder  # the encoder loads lazily; count it in the load time, not in the first query
    report["load_seconds"] = round(time.perf_counter() - t, 2)
    m = r.manifest
    report.setdefault("build", {k: m.get(k) for k in ("passages", "build_seconds", "passages_per_second", "stages")})
    gen = Path(args.index) / m["generation"]
    report["index"] = {
        "passages": m["passages"], "encoder": m["encoder"], "dimension": m["dimension"],
        "dense_index": m.get("dense_index"), "kb_revision": m["kb_revision"],
        "size_mb": round(dir_size(gen) / 1e6, 1),
        "size_by_part_mb": {p.name: round((dir_size(p) if p.is_dir() else p.stat().st_size) / 1e6, 1)
                            for p in sorted(gen.iterdir())},
        "embedding_cache_mb": round(dir_size(Path(args.index) / "embeddings") / 1e6, 1),
    }

    questions = [q.question for q in templated_questions(r, n=args.queries, seed=args.seed)] + FREE_FORM
    random.Random(args.seed).shuffle(questions)
    for q in questions[:20]:  # warm-up: caches, lazy imports, the encoder's first call
        r.search(q)
    latency: dict[str, dict] = {}
    for name, channels in (("entity", ("entity",)), ("bm25", ("bm25",)), ("dense", ("dense",)),
                           ("fused", ("entity", "bm25", "dense"))):
        times = []
        for q in questions:
            t = time.perf_counter()
            r.search(q, k=10, channels=channels)
            times.append((time.perf_counter() - t) * 1000)
        latency[name] = {"p50_ms": round(float(np.percentile(times, 50)), 2), "p95_ms": round(float(np.percentile(times, 95)), 2),
                         "max_ms": round(max(times), 2), "queries": len(times)}
    report["latency"] = latency
    report["query_process_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    report["machine"]["load_avg_1m_after"] = round(os.getloadavg()[0], 2)

    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return
    b = report["build"]
    print(f"index {args.index}: {report['index']['passages']} passages, encoder {report['index']['encoder']} "
          f"({report['index']['dimension']}-d, {report['index']['dense_index']}), KB revision {report['index']['kb_revision']}")
    if b.get("build_seconds"):
        print(f"build: {b['build_seconds']} s, {b.get('passages_per_second')} passages/s, stages {b.get('stages')}"
              + (f", peak RSS {b['peak_rss_mb']} MB, CPU {b['cpu_seconds']} s" if "peak_rss_mb" in b else ""))
    print(f"size on disk: {report['index']['size_mb']} MB {report['index']['size_by_part_mb']} "
          f"+ embedding cache {report['index']['embedding_cache_mb']} MB")
    print(f"load: {report['load_seconds']} s; query process peak RSS {report['query_process_peak_rss_mb']} MB")
    print(f"{'channel':8} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}  ({len(questions)} queries, "
          f"load avg {report['machine']['load_avg_1m']} -> {report['machine']['load_avg_1m_after']} on {os.cpu_count()} cores)")
    for name, lat in latency.items():
        print(f"{name:8} {lat['p50_ms']:8.2f} {lat['p95_ms']:8.2f} {lat['max_ms']:8.2f}")


if __name__ == "__main__":
    main()
