"""The real-question targets on the full KB (demo + xywy + CMeKG + everyday names), as `make eval-real`
builds it: slow (the full index takes ~5 minutes to build), so behind the `slow` marker, and skipped
when var/full-index is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import shared_data

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def test_real_questions_are_answered_not_refused_and_emergencies_are_rare():
    from chat.pipeline import Pipeline
    from chat.real_questions import evaluate_real, read_questions, sample

    index = ROOT / "var" / "full-index"
    if not (index / "manifest.json").exists():
        pytest.skip("no var/full-index: run `make full-kb` first")
    csv = shared_data("toyhom-im-sample", "内科5000-6000.csv")
    pipeline = Pipeline.load(f"sqlite:///{ROOT / 'var' / 'full.sqlite'}", str(index), log_answers=False,
                             on_stale="ignore")
    report, rows = evaluate_real(pipeline, sample(read_questions(csv), 300, seed=7))
    assert report["refused_rate"] <= 0.20, [r["question"][:40] for r in rows if r["outcome"] == "refused"][:10]
    assert report["emergency_rate"] <= 0.01
    assert report["reference_overlap_of_all"] >= 0.5
    assert report["latency_ms_p95"] <= 300
