"""The README's first hour, as a user runs it: `make demo-ask`, then its `kb stats`, `kb show`, `retriever debug`
and `chat ask` commands exactly as the README writes them (read from its shell blocks, so this test breaks when
the README changes), with the venv's commands on PATH as the README tells users (`source .venv/bin/activate`).

On a fresh clone `make demo-ask` builds the demo KB and its index (var/kb.sqlite, var/index: 1-3 minutes);
afterwards it only asks its two questions. Those tests are marked `readme`: the default run leaves them out (it
only checks that the README still has the commands), `make test` (CI) runs them; alone: `make test-readme`.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
NOT_CLINICAL = "NOT for clinical use"
FIRST_HOUR = [("kb", "stats"), ("kb", "show"), ("retriever", "debug"), ("chat", "ask")]


def shell_commands(markdown: str, optional: bool = False) -> list[list[str]]:
    """Every command line of the ```bash blocks as argv, comments dropped. `[--json]` marks an option a user may
    leave out: left out, or with `optional` put in."""
    commands = []
    for block in re.findall(r"^```(?:bash|sh)\n(.*?)^```", markdown, re.M | re.S):
        for line in block.splitlines():
            argv = []
            for arg in shlex.split(line, comments=True):
                if re.fullmatch(r"\[.*\]", arg):
                    argv += shlex.split(arg[1:-1]) if optional else []
                else:
                    argv.append(arg)
            if argv:
                commands.append(argv)
    return commands


def readme_command(*prefix: str, optional: bool = False) -> list[str]:
    """The README's first command that starts with `prefix`, as written there."""
    commands = shell_commands(README.read_text(encoding="utf-8"), optional)
    found = [argv for argv in commands if argv[:len(prefix)] == list(prefix)]
    assert found, f"README.md has no `{' '.join(prefix)} ...` command in a ```bash block"
    return found[0]


def test_shell_commands_are_read_as_a_user_would_type_them():
    md = "```bash\nkb show 阿莫西林   # sections\nchat ask \"有 吗？\" [--json]\n\n```\n```python\nnot = 'shell'\n```\n"
    assert shell_commands(md) == [["kb", "show", "阿莫西林"], ["chat", "ask", "有 吗？"]]
    assert shell_commands(md, optional=True)[1] == ["chat", "ask", "有 吗？", "--json"]
    for prefix in FIRST_HOUR:
        readme_command(*prefix)


@pytest.fixture(scope="module")
def user_env():
    """A user's shell after `make demo-ask` and `source .venv/bin/activate`: the venv's commands first on PATH, no
    offline switches (the README promises that nothing is fetched from a hub at run time)."""
    assert "source .venv/bin/activate" in README.read_text(encoding="utf-8")  # what the README tells users to do
    venv = Path(sys.prefix)
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "COLUMNS")}
    env.update(PATH=f"{sysconfig.get_path('scripts')}{os.pathsep}{env.get('PATH', '')}", VIRTUAL_ENV=str(venv))
    # The venv that runs these tests is the one `make` set up (on CI: ./.venv, just installed by `make test`);
    # --assume-old keeps make from reinstalling it when pyproject.toml is newer than its stamp.
    made = subprocess.run(["make", "demo-ask", f"VENV={venv}", f"--assume-old={venv / '.installed'}"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=1200)
    assert made.returncode == 0, f"make demo-ask failed:\n{made.stdout[-3000:]}\n{made.stderr[-3000:]}"
    assert made.stdout.count("[1]") >= 2 and (ROOT / "var" / "kb.sqlite").exists() and (ROOT / "var" / "index").is_dir()
    return env


def run(argv: list[str], env: dict) -> str:
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"`{shlex.join(argv)}` exited {done.returncode}:\n{done.stderr[-3000:]}"
    assert "Traceback" not in done.stderr, done.stderr
    return done.stdout


@pytest.mark.readme
def test_kb_stats_counts_the_demo_kb(user_env):
    argv = readme_command("kb", "stats")
    assert "--json" in argv, f"the README's `{shlex.join(argv)}` no longer asks for JSON: read its text output here"
    stats = json.loads(run(argv, user_env))
    assert stats["kb_revision"] >= 1 and stats["drugs"] >= 50 and stats["diseases"] >= 40 and stats["exams"] >= 40
    assert stats["contributions_by_origin"]["demo"] >= 100


@pytest.mark.readme
def test_kb_show_prints_the_drugs_sections_and_its_licence(user_env):
    argv = readme_command("kb", "show")
    out = run(argv, user_env)
    assert argv[2] in out and "【用法用量】" in out and "【不良反应】" in out and "别名" in out
    assert NOT_CLINICAL in " ".join(out.split())  # the provenance line says what the demo data is for


@pytest.mark.readme
def test_retriever_debug_shows_the_question_analysed_and_ranked_passages(user_env):
    argv = readme_command("retriever", "debug")
    out = run(argv, user_env)
    assert re.search(r"^entities .*→阿莫西林胶囊 \(drug \d+\)", out, re.M) and re.search(r"^intent +不良反应", out, re.M)
    assert all(re.search(rf"^{channel} \(alone\)$", out, re.M) for channel in ("entity", "bm25", "dense"))
    fused = out.split("\nfused\n", 1)[1].splitlines()
    assert re.match(r" *1 +\d\.\d{4} 阿莫西林胶囊 · 不良反应  e\d+:不良反应:demo:0", fused[0])
    assert re.match(r" *entity:1 ", fused[1])  # why it ranks first: each channel's rank
    assert re.search(r"^time analyze:[\d.]+ms .*total:[\d.]+ms", out, re.M | re.S)


@pytest.mark.readme
def test_chat_ask_answers_with_citations_sources_and_the_disclaimer(user_env):
    from chat.answer import DISCLAIMER

    argv = readme_command("chat", "ask")
    out = run(argv, user_env)
    assert re.search(r"恶心.*\[1\]", out) and DISCLAIMER in out
    assert re.search(r"^来源：\n\[1\] 阿莫西林胶囊 · 不良反应 — demo · \S+（e\d+:不良反应:demo:0）$", out, re.M)
    assert re.search(rf"^许可与用途（demo · \S+）：.*{NOT_CLINICAL}$", out, re.M)
    answer = json.loads(run(readme_command("chat", "ask", optional=True), user_env))  # with the README's [--json]
    assert answer["citations"][0]["section"] == "不良反应" and NOT_CLINICAL in answer["citations"][0]["license"]
