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
