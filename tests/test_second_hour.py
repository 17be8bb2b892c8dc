"""What a new user meets in their second hour (issue 22): the messages of commands run again or from another
folder, long steps that say how long they take, usage errors that come at once."""

from __future__ import annotations

from typer.testing import CliRunner

LABEL = """布洛芬缓释胶囊说明书
【药品名称】通用名称：布洛芬缓释胶囊
【适应症】用于缓解轻至中度疼痛如头痛、关节痛。
【用法用量】口服。成人，一次1粒，一日2次。
"""


def test_ingesting_unchanged_input_says_the_revision_is_unchanged(sqlite_url, tmp_path):
    from kb.cli import app

    label = tmp_path / "ibuprofen.txt"
    label.write_text(LABEL, encoding="utf-8")
    first = CliRunner().invoke(app, ["ingest", str(label), "--db", sqlite_url, "--no-update-index"])
    assert first.exit_code == 0 and "changed KB revision 0 -> 1" in " ".join(first.stdout.split())
    again = CliRunner().invoke(app, ["ingest", str(label), "--db", sqlite_url, "--no-update-index"])
    text = " ".join(again.stdout.split())
    assert again.exit_code == 0 and "KB revision 1 unchanged" in text and "->" not in text


def test_retriever_build_with_the_default_relative_index_path_prints_no_traceback(tmp_path):
    """Issue 22: jieba joined the relative var/index/jieba.cache to $TMPDIR and printed "Dump cache file failed"
    with a traceback on every build. From a fresh folder, the README's defaults: the cache lands in var/index."""
    import os
    import subprocess
    import sysconfig

    bin_dir = sysconfig.get_path("scripts")
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("KB_DB_URL", "YIJU_INDEX", "YIJU_LOG_DB")}
    env.update(TMPDIR=str(tmpdir), PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}")
    (tmp_path / "label.txt").write_text(LABEL, encoding="utf-8")
    for argv in (["kb", "ingest", "label.txt"], ["retriever", "build", "--encoder", "hash", "--workers", "1"]):
        done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr and "failed" not in done.stderr.lower(), done.stderr
    assert (tmp_path / "var" / "index" / "jieba.cache").stat().st_size > 1_000_000
    assert list(tmpdir.iterdir()) == []  # nothing left in $TMPDIR


def test_a_long_step_says_how_far_it_is_and_the_time_left(capsys):
    from rich.console import Console

    from finetune.progress import StepProgress, duration

    assert [duration(s) for s in (45, 720, 3 * 3600, 6.5 * 86400)] == ["45 s", "12 min", "3.0 h", "6.5 days"]
    console = Console(stderr=True, force_terminal=False, width=200)
    with StepProgress("finetune data", 4, "facts", every=0, console=console) as progress:
        progress.advance(1, note="3 examples made")
    line = capsys.readouterr().err
    assert "finetune data: 1/4 facts, 3 examples made" in line and "left" in line


def test_a_training_run_without_a_budget_says_what_it_will_take_and_how_to_bound_it():
    from finetune.train import plan

    unbounded = plan(3, 255.0, 6_580, None, None)  # the README's command on a CPU: 85 s a step
    assert "85.0 s/step" in unbounded and "6.5 days" in unbounded
    assert "--max-minutes" in unbounded and "--max-steps 42 is about an hour" in unbounded
    assert "stops it after about 21 steps" in plan(3, 255.0, 6_580, None, 30)
    assert "--max-" not in plan(3, 3.0, 100, None, None)  # 100 s: nothing to bound


def test_finetune_starts_without_torch_so_a_usage_error_comes_at_once():
    import subprocess
    import sys

    code = "import sys, finetune.cli; print(sorted(m for m in ('torch', 'transformers', 'peft') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "[]", done.stderr
    bare = subprocess.run([sys.executable, "-m", "finetune.cli", "merge"], capture_output=True, text=True, timeout=120)
    assert bare.returncode == 2 and "--base" in bare.stderr
