"""The README as a user runs it: `make demo-ask`, then its `kb stats`, `kb show`, `retriever debug` and `chat ask`
commands, its whole KB section, and then every other command, exactly as the README writes them (read from its
shell blocks, so this test breaks when the README changes), with the venv's commands on PATH as the README tells
users (`source .venv/bin/activate`). A command it does not run is one that serves or trains until stopped
(NOT_RUN says why) or one whose README comment says which step it needs first.

All of it runs in a checkout of the test's own (pytest's temp folder: links to this checkout's Makefile,
pyproject.toml and kb/, and to ../shared; a var/ of its own), so the user's var/ is never read or written: the
last test checks that it is byte-identical. `make demo-ask` builds the demo KB and its index there (seconds with a
warm embedding cache, 1-3 minutes on a fresh clone). Those tests are marked `readme`: the default run leaves them
out (it only checks that the README still has the commands), `make test` (CI) runs them; alone: `make test-readme`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SHARED = ROOT.parent / "shared"
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


def tree_digest(folder: Path) -> str:
    """A hash of every file's path and bytes (and every link's target) under `folder`: equal when nothing in it
    changed. "absent" when there is no such folder."""
    if not folder.is_dir():
        return "absent"
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        digest.update(str(path.relative_to(folder)).encode() + b"\0")
        if path.is_symlink():
            digest.update(os.readlink(path).encode())
        elif path.is_file():
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


@dataclass
class User:
    """A user's shell in a checkout of their own: `home` holds the checkout's data folders (links to this one's)
    and its own var/, so the README's relative paths (var/..., kb/demo, ../shared/data) mean what they say there."""

    home: Path
    env: dict


def make_checkout(base: Path) -> Path:
    """base/yiju: the Makefile, pyproject.toml and kb/ of this checkout (links), no var/; base/shared links to
    ../shared beside this checkout when there is one."""
    home = base / "yiju"
    home.mkdir()
    for name in ("Makefile", "pyproject.toml", "kb"):
        (home / name).symlink_to(ROOT / name)
    if SHARED.is_dir():
        (base / "shared").symlink_to(SHARED)
    return home


@pytest.fixture(scope="module")
def users_var() -> str:
    """The digest of this checkout's var/ (the user's demo KB, index, answer log) before the README test."""
    return tree_digest(ROOT / "var")


@pytest.fixture(scope="module")
def user(tmp_path_factory, users_var) -> User:
    """A user's shell after `make demo-ask` and `source .venv/bin/activate`, in a checkout of the test's own: the
    venv's commands first on PATH, no offline switches (the README promises that nothing is fetched from a hub at
    run time), none of the settings the test suite points at its own folder."""
    assert "source .venv/bin/activate" in README.read_text(encoding="utf-8")  # what the README tells users to do
    venv = Path(sys.prefix)
    home = make_checkout(tmp_path_factory.mktemp("readme"))
    dropped = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "COLUMNS", "KB_DB_URL", "YIJU_INDEX", "YIJU_LOG_DB")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(PATH=f"{sysconfig.get_path('scripts')}{os.pathsep}{env.get('PATH', '')}", VIRTUAL_ENV=str(venv))
    # The venv that runs these tests is the one `make` set up (on CI: ./.venv, just installed by `make test`);
    # --assume-old keeps make from reinstalling it when pyproject.toml is newer than its stamp.
    made = subprocess.run(["make", "demo-ask", f"VENV={venv}", f"--assume-old={venv / '.installed'}"], cwd=home,
                          env=env, capture_output=True, text=True, timeout=1200)
    assert made.returncode == 0, f"make demo-ask failed:\n{made.stdout[-3000:]}\n{made.stderr[-3000:]}"
    assert made.stdout.count("[1]") >= 2 and (home / "var" / "kb.sqlite").exists() and (home / "var" / "index").is_dir()
    return User(home, env)


def run(argv: list[str], user: User) -> str:
    done = subprocess.run(argv, cwd=user.home, env=user.env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"`{shlex.join(argv)}` exited {done.returncode}:\n{done.stderr[-3000:]}"
    assert "Traceback" not in done.stderr, done.stderr
    return done.stdout


@pytest.mark.readme
def test_kb_stats_counts_the_demo_kb(user):
    argv = readme_command("kb", "stats")
    assert "--json" in argv, f"the README's `{shlex.join(argv)}` no longer asks for JSON: read its text output here"
    stats = json.loads(run(argv, user))
    assert stats["kb_revision"] >= 1 and stats["drugs"] >= 50 and stats["diseases"] >= 40 and stats["exams"] >= 40
    assert stats["contributions_by_origin"]["demo"] >= 100


@pytest.mark.readme
def test_kb_show_prints_the_drugs_sections_and_its_licence(user):
    argv = readme_command("kb", "show")
    out = run(argv, user)
    assert argv[2] in out and "【用法用量】" in out and "【不良反应】" in out and "别名" in out
    assert NOT_CLINICAL in " ".join(out.split())  # the provenance line says what the demo data is for


@pytest.mark.readme
def test_retriever_debug_shows_the_question_analysed_and_ranked_passages(user):
    argv = readme_command("retriever", "debug")
    out = run(argv, user)
    assert re.search(r"^entities .*→阿莫西林胶囊 \(drug \d+\)", out, re.M) and re.search(r"^intent +不良反应", out, re.M)
    assert all(re.search(rf"^{channel} \(alone\)$", out, re.M) for channel in ("entity", "bm25", "dense"))
    fused = out.split("\nfused\n", 1)[1].splitlines()
    assert re.match(r" *1 +\d\.\d{4} 阿莫西林胶囊 · 不良反应  e\d+:不良反应:demo:0", fused[0])
    assert re.match(r" *entity:1 ", fused[1])  # why it ranks first: each channel's rank
    assert re.search(r"^time analyze:[\d.]+ms .*total:[\d.]+ms", out, re.M | re.S)


@pytest.mark.readme
def test_chat_ask_answers_with_citations_sources_and_the_disclaimer(user):
    from chat.answer import DISCLAIMER

    argv = readme_command("chat", "ask")
    out = run(argv, user)
    assert re.search(r"恶心.*\[1\]", out) and DISCLAIMER in out
    assert re.search(r"^来源：\n\[1\] 阿莫西林胶囊 · 不良反应 — demo · \S+（e\d+:不良反应:demo:0）$", out, re.M)
    assert re.search(rf"^许可与用途（demo · \S+）：.*{NOT_CLINICAL}$", out, re.M)
    answer = json.loads(run(readme_command("chat", "ask", optional=True), user))  # with the README's [--json]
    assert answer["citations"][0]["section"] == "不良反应" and NOT_CLINICAL in answer["citations"][0]["license"]


# The README commands this test does not run, and why: each serves until stopped, trains, or compiles. Those that
# need a step first say so in their README comment ("needs make model") and are not run either.
NOT_RUN = [
    (r"make demo$", "serves the chat UI until stopped (the test runs `make demo-ask`: all of it but the UI)"),
    (r"make test$", "is this test suite"),
    (r"chat$", "serves the chat UI until stopped (tests/test_chat_browser.py drives it)"),
    (r"chat serve\b", "serves the API until stopped (tests/test_api_openai.py serves it to the openai client)"),
    (r"make setup-llama$", "compiles llama.cpp for 7-17 minutes (CI runs it before `make test`)"),
    (r"make model\b", "trains a model for up to MINUTES (54 minutes measured; tests/test_finetune.py runs the recipe "
                      "on a tiny model)"),
    (r"finetune gemma-export\b", "converts the 270M model to a checkpoint: 1-3 minutes (tests/test_llamacpp.py runs it)"),
    (r"finetune train\b", "trains for --max-minutes (tests/test_finetune.py trains a tiny model)"),
    (r"chat ask .*--generator gemma-270m$", "a model's answer: 1-2 minutes to load through transformers when "
                                           "llama.cpp is not installed (tests/test_chat_gemma.py)"),
]
NEEDS = re.compile(r"\bneeds (make [\w-]+|finetune [\w-]+ above|finetune [\w-]+ below|the [\w ]+ above|a [\w ]+ of yours)")


def readme_lines() -> list[tuple[str, str]]:
    """(section heading, line) for every command line of the README's ```bash blocks, in order."""
    lines, heading = [], ""
    in_block = False
    for line in README.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_block = not in_block and line.strip("`") in ("bash", "sh")
        elif in_block and line.strip() and not line.lstrip().startswith("#"):
            lines.append((heading, line))
        elif not in_block and line.startswith("## "):
            heading = line[3:]
    return lines


def words(line: str) -> str:
    """The command of a README line: comment, optional `[--json]` marks and `VAR=value` prefixes dropped."""
    argv = [a for a in shlex.split(line, comments=True) if not re.fullmatch(r"\[.*\]|[A-Z_]+=.*", a)]
    return " ".join(argv)


def why_not_run(line: str) -> str | None:
    """Why the README test leaves this line alone, or None: it runs it."""
    comment = line.split(" #", 1)[1] if " #" in line else ""
    if "needs" in comment:
        named = NEEDS.search(comment)
        assert named, f"README: `{line.strip()}` says it needs something but not which step makes it"
        return named.group(0)
    return next((why for pattern, why in NOT_RUN if re.match(pattern, words(line))), None)


def run_line(line: str, user: User) -> str:
    """The README line as a user's shell runs it (redirections, `python -c`), the optional marks left out."""
    command = re.sub(r"\s\[--[^\]]*\]", "", line.split(" #", 1)[0])
    done = subprocess.run(["bash", "-c", command], cwd=user.home, env=user.env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, f"README: `{command.strip()}` exited {done.returncode}:\n{done.stderr[-3000:]}"
    assert "Traceback" not in done.stderr, f"README: `{command.strip()}`:\n{done.stderr[-3000:]}"
    return done.stdout


def test_every_readme_command_is_run_or_says_why_not():
    lines = readme_lines()
    assert len(lines) > 30 and any(heading.startswith("Knowledge base") for heading, _ in lines)
    assert why_not_run("finetune merge --base b  # needs finetune train above") == "needs finetune train above"
    assert why_not_run('chat ask "有" --history var/history.json') is None
    assert why_not_run("YIJU_LLAMA_THREADS=4 chat serve --generator tuned") is not None
    with pytest.raises(AssertionError):
        why_not_run("chat ask x  # needs a bigger machine")


@pytest.mark.readme
def test_the_kb_section_as_written_leaves_the_demo_kb_and_its_answers_alone(user):
    """Issue 22: `kb ingest --source cmekg` as the README listed it went into the demo KB and changed its
    answers. The README's KB section, every line of it, run in order: the demo KB keeps its entities and its
    answers; xywy and CMeKG land in var/full.sqlite."""
    ask = ["chat", "ask", "最近拉肚子怎么办", "--json", "--no-log"]
    stats_before, answer_before = json.loads(run(["kb", "stats", "--json"], user)), json.loads(run(ask, user))
    kb_lines = [line for heading, line in readme_lines() if heading.startswith("Knowledge base")]
    assert any("--source cmekg" in line for line in kb_lines) and any("xywy" in line for line in kb_lines)
    outputs = {line: run_line(line, user) for line in kb_lines if why_not_run(line) is None}
    assert len(outputs) == len(kb_lines)
    stats_after = json.loads(run(["kb", "stats", "--json"], user))
    assert {k: v for k, v in stats_after.items() if k != "answer_log"} == \
           {k: v for k, v in stats_before.items() if k != "answer_log"}
    assert json.loads(run(ask, user))["answer"] == answer_before["answer"]
    full = json.loads(run(["kb", "stats", "--json", "--db", "sqlite:///var/full.sqlite"], user))
    assert full["contributions_by_origin"]["xywy"] > 8000 and full["contributions_by_origin"]["cmekg"] > 20000
    shown = next(out for line, out in outputs.items() if line.startswith("kb show 癫痫"))
    assert "羊羔疯" in shown


@pytest.mark.readme
def test_every_other_readme_command_works_in_order_after_make_demo(user):
    """Every command of the README after the KB section, in order, in the user's checkout: each exits 0 without a
    traceback, or is one NOT_RUN names or one that says which step it needs."""
    ran, left = [], []
    for heading, line in readme_lines():
        if heading.startswith(("The two commands", "Knowledge base")):
            continue
        why = why_not_run(line)
        if why:
            left.append(f"{words(line)}: {why}")
            continue
        run_line(line, user)
        ran.append(words(line))
    assert any(c.startswith("retriever build") for c in ran) and any(c.startswith("finetune data") for c in ran)
    assert (user.home / "var" / "history.json").exists() and (user.home / "var" / "ft-data" / "train.jsonl").exists()
    print("not run:\n" + "\n".join(left))


@pytest.mark.readme
def test_the_readme_test_leaves_the_users_var_byte_identical(user, users_var):
    """Last in this module: everything above ran in the test's own checkout; this checkout's var/ (the user's KB,
    index and answer log) is as it was before."""
    assert tree_digest(ROOT / "var") == users_var
