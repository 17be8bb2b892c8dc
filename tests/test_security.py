"""Issue #12, the chat side: safety and security of answering, logging and serving.

Runs on the tiny KB of test_chat (its own copy, built once for this module). Reloads read the real index,
except that its jieba dictionary (the same words each time, 2 s to unmarshal on the shared machine) is the
one already loaded (`fast_loading`).
"""

from __future__ import annotations

import shutil
import sqlite3

import pytest
from sqlalchemy import select

from kb.db import session_scope
from kb.models import AnswerLog
from tests.test_chat import build_tiny_kb


@pytest.fixture(scope="module")
def kb(tmp_path_factory):
    url, index = build_tiny_kb(tmp_path_factory.mktemp("security-kb"))
    yield url, index
    from kb.db import dispose_engines

    dispose_engines()


@pytest.fixture(scope="module")
def pipeline(kb):
    from chat.pipeline import Pipeline

    return Pipeline.load(kb[0], kb[1], "extractive", log_answers=False, on_stale="ignore")


@pytest.fixture
def fast_loading(monkeypatch, pipeline):
    from retriever.tokenizer import Tokenizer

    monkeypatch.setattr(Tokenizer, "load", classmethod(lambda cls, path: pipeline.retriever.tokenizer))


# --------------------------------------------------------------------------- 6. audit after an index reload

def test_the_logged_revision_is_the_one_of_the_passages_cited_after_a_reload(kb, tmp_path, fast_loading):
    from kb.records import Record, Section
    from kb.store import SourceBatch, ingest
    from retriever.index import update_index

    from chat.pipeline import Pipeline

    url = f"sqlite:///{tmp_path / 'kb.sqlite'}"  # a copy: this test moves the KB and the index on
    with sqlite3.connect(kb[0].split("///", 1)[1]) as src, sqlite3.connect(url.split("///", 1)[1]) as dst:
        src.backup(dst)
    index = str(tmp_path / "index")
    shutil.copytree(kb[1], index)
    pipeline = Pipeline.load(url, index, "extractive", on_stale="ignore")
    assert pipeline.kb_revision == 1
    with session_scope(url) as session:  # a label changes; the index is updated while the server runs
        ingest(session, [SourceBatch("v2", "json", "test", "v2", [Record("drug", "阿莫西林胶囊", sections=[
            Section("不良反应", "偶见皮疹和腹泻，停药后可消失。")])])])
    assert update_index(url, index)["kb_revision"] == 2

    answer = pipeline.answer("阿莫西林胶囊有哪些不良反应？")  # the first answer after the reload
    assert "偶见皮疹" in answer.text and answer.citations
    assert answer.kb_revision == 2 == pipeline.kb_revision
    with session_scope(url) as session:
        row = session.scalar(select(AnswerLog).where(AnswerLog.id == answer.log_id))
        assert row.kb_revision == 2 and row.cited_passage_ids == answer.cited_passage_ids
