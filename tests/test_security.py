"""Issue #12, the chat side: the answer log's privacy (off, a database of its own, retention, purge), the API's
exposure (API key, binding, CORS, docs), the audited KB revision after an index reload, and hostile or wrong
request bodies (deep nesting, unknown model, bad top_k).

Runs on the tiny KB of test_chat (its own copy, built once for this module); the API through FastAPI's
TestClient, `chat serve` through typer's CliRunner with uvicorn.run replaced by a function that keeps the app.
Commands and reloads read the real index.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import types
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from chat.api import create_app
from chat.cli import app
from kb.db import session_scope
from kb.models import AnswerLog
from tests.test_chat import build_tiny_kb

QUESTION = {"messages": [{"role": "user", "content": "流感挂什么科？"}]}


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


def log_rows(url: str) -> int:
    with session_scope(url) as session:
        return session.scalar(select(func.count(AnswerLog.id)))


def serve(monkeypatch, *args: str, env: dict | None = None):
    """Run `chat serve ARGS`; returns (CliRunner result, the app it would have served or None, uvicorn kwargs)."""
    started: dict = {}
    monkeypatch.setattr("uvicorn.run", lambda app_, **kw: started.update(app=app_, **kw))
    result = CliRunner(env=env).invoke(app, ["serve", *args])
    return result, started.pop("app", None), started


def one_line_error(result, code: int = 2) -> str:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output and len(result.stderr.strip().splitlines()) == 1, result.stderr
    return result.stderr


# --------------------------------------------------------------------------- 4. privacy of the answer log

def test_serve_and_ui_log_nothing_with_no_log(kb, monkeypatch):
    url, index = kb
    before = log_rows(url)
    result, api, _ = serve(monkeypatch, "--db", url, "--index", index, "--no-log")
    assert result.exit_code == 0, result.output
    assert "answer log off" in result.stderr
    assert TestClient(api, base_url="http://127.0.0.1:8000").post("/v1/chat/completions", json=QUESTION).status_code == 200
    assert log_rows(url) == before

    seen = {}  # the UI: build_ui gets the pipeline; gradio itself is not needed to see what it logs
    monkeypatch.setitem(__import__("sys").modules, "chat.ui", types.SimpleNamespace(
        build_ui=lambda p: seen.setdefault("pipeline", p), launch=lambda *a, **kw: None))
    result = CliRunner().invoke(app, ["ui", "--db", url, "--index", index, "--no-log"])
    assert result.exit_code == 0, result.output
    assert seen["pipeline"].answer_log is None
    seen["pipeline"].answer("流感挂什么科？")
    assert log_rows(url) == before


def test_log_db_keeps_the_log_apart_and_the_kb_untouched(kb, tmp_path, monkeypatch):
    url, index = kb
    log_url = f"sqlite:///{tmp_path / 'logs' / 'answers.sqlite'}"
    before = log_rows(url)
    result, api, _ = serve(monkeypatch, "--db", url, "--index", index, "--log-db", log_url)
    assert result.exit_code == 0, result.output
    assert "answer log in its own database" in result.stderr and "answers.sqlite" in result.stderr
    body = TestClient(api, base_url="http://127.0.0.1:8000").post("/v1/chat/completions", json=QUESTION).json()
    assert log_rows(url) == before  # the KB got no row
    with session_scope(log_url) as session:  # the log database was created, migrated and written
        row = session.scalar(select(AnswerLog).where(AnswerLog.id == body["yiju"]["log_id"]))
        assert row.question == "流感挂什么科？" and row.cited_passage_ids == [s["passage_id"] for s in body["sources"]]
    bad = CliRunner().invoke(app, ["ask", "流感挂什么科？", "--db", url, "--index", index,
                                   "--log-db", "postgresql+psycopg://nobody@127.0.0.1:1/none"])
    assert "answer log: cannot open database" in one_line_error(bad, 1)


def test_retention_deletes_old_rows_on_start_and_purge_deletes_by_date(kb, db_url, monkeypatch):
    """On SQLite and PostgreSQL: times are stored in UTC either way, and compared so."""
    from chat.answer_log import AnswerLogger

    url, index = kb
    log_url = db_url  # an empty database: the log's own
    now = datetime.now(timezone.utc)
    AnswerLogger(log_url, own_database=True).prepare()
    with session_scope(log_url) as session:
        for days in (400, 40, 10, 0):
            session.add(AnswerLog(created_at=now - timedelta(days=days), question=f"{days} 天前：我对青霉素过敏",
                                  answer="…", cited_passage_ids=[], kb_revision=1, generator="extractive",
                                  latency_ms=1.0, refused=False, extra={}))
    result, _, _ = serve(monkeypatch, "--db", url, "--index", index, "--log-db", log_url, "--log-retention-days", "30")
    assert result.exit_code == 0, result.output
    assert "2 rows older than 30 days deleted" in result.stderr and "kept 30 days" in result.stderr
    assert log_rows(log_url) == 2

    shown = CliRunner().invoke(app, ["log", "show", "--db", url, "--log-db", log_url, "--json"])
    assert shown.exit_code == 0 and json.loads(shown.stdout)["rows"] == 2
    cutoff = (now - timedelta(days=5)).date().isoformat()
    purged = CliRunner().invoke(app, ["log", "purge", "--before", cutoff, "--db", url, "--log-db", log_url])
    assert purged.exit_code == 0, purged.output
    assert purged.stdout.startswith("deleted 1 answer-log rows") and log_rows(log_url) == 1
    assert "--before takes a date" in one_line_error(
        CliRunner().invoke(app, ["log", "purge", "--before", "last tuesday", "--log-db", log_url]))


# --------------------------------------------------------------------------- 5. exposing the API

def test_api_key_is_required_when_set_and_health_stays_open(pipeline):
    client = TestClient(create_app(pipeline, api_key="s3cret-key"))
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic czNjcmV0LWtleQ=="}):
        r = client.post("/v1/chat/completions", json=QUESTION, headers=headers)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert r.json()["error"]["code"] == "invalid_api_key" and r.json()["error"]["type"] == "invalid_request_error"
    assert client.get("/v1/models").status_code == 401
    ok = client.post("/v1/chat/completions", json=QUESTION, headers={"Authorization": "Bearer s3cret-key"})
    assert ok.status_code == 200 and ok.json()["sources"]
    assert client.get("/health").status_code == 200


def test_serve_beyond_loopback_needs_an_api_key_from_option_or_env(kb, monkeypatch):
    url, index = kb
    for host in ("0.0.0.0", "192.168.1.20", "::", "example.org"):
        refused, api, _ = serve(monkeypatch, "--db", url, "--index", index, "--host", host)
        assert "refusing to listen on" in one_line_error(refused) and api is None
    result, api, kwargs = serve(monkeypatch, "--db", url, "--index", index, "--host", "0.0.0.0", "--no-log",
                                env={"YIJU_API_KEY": "from-env"})
    assert result.exit_code == 0 and kwargs["host"] == "0.0.0.0" and "API key required" in result.stderr
    assert "from-env" not in result.output
    client = TestClient(api, base_url="http://127.0.0.1:8000")
    assert client.post("/v1/chat/completions", json=QUESTION).status_code == 401
    assert client.post("/v1/chat/completions", json=QUESTION,
                       headers={"Authorization": "Bearer from-env"}).status_code == 200
    local, _, _ = serve(monkeypatch, "--db", url, "--index", index, "--host", "localhost", "--no-log")
    assert local.exit_code == 0, local.output


def test_the_ui_beyond_loopback_needs_a_login_and_gradio_asks_for_it(kb, pipeline, monkeypatch):
    url, index = kb
    launched = {}
    monkeypatch.setitem(__import__("sys").modules, "chat.ui", types.SimpleNamespace(
        build_ui=lambda p: "ui", launch=lambda ui, host, port, auth=None: launched.update(host=host, auth=auth)))
    for host in ("0.0.0.0", "192.168.1.20"):
        refused = CliRunner().invoke(app, ["ui", "--db", url, "--index", index, "--host", host, "--no-log"])
        assert "refusing to listen on" in one_line_error(refused) and not launched
    bad = CliRunner().invoke(app, ["ui", "--db", url, "--index", index, "--auth", "nopassword", "--no-log"])
    assert "USER:PASSWORD" in one_line_error(bad)
    ok = CliRunner(env={"YIJU_UI_AUTH": "nurse:s3cret"}).invoke(
        app, ["ui", "--db", url, "--index", index, "--host", "0.0.0.0", "--no-log"])
    assert ok.exit_code == 0, ok.output
    assert launched == {"host": "0.0.0.0", "auth": ("nurse", "s3cret")} and "s3cret" not in ok.output
    monkeypatch.undo()

    import socket

    import httpx

    from chat.ui import build_ui, launch

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    demo = build_ui(pipeline)
    launch(demo, "127.0.0.1", port, block=False, auth=("nurse", "s3cret"))
    try:
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/config").status_code == 401  # nothing without logging in
        login = httpx.post(f"{base}/login", data={"username": "nurse", "password": "s3cret"})
        assert login.status_code == 200 and httpx.get(f"{base}/config", cookies=login.cookies).status_code == 200
        assert httpx.post(f"{base}/login", data={"username": "nurse", "password": "guess"}).status_code >= 400
    finally:
        demo.close()


def test_cross_origin_calls_are_refused_unless_the_origin_is_allowed(pipeline):
    closed = TestClient(create_app(pipeline))
    post = closed.post("/v1/chat/completions", json=QUESTION, headers={"Origin": "https://evil.example"})
    assert post.status_code == 403 and post.json()["error"]["code"] == "origin_not_allowed"
    preflight = closed.options("/v1/chat/completions", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert not any(h.startswith("access-control-") for h in preflight.headers)
    assert closed.post("/v1/chat/completions", json=QUESTION).status_code == 200  # no Origin: not a browser page

    opened = TestClient(create_app(pipeline, allow_origins=["https://app.example.org/"]))
    preflight = opened.options("/v1/chat/completions", headers={
        "Origin": "https://app.example.org", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type"})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://app.example.org"
    post = opened.post("/v1/chat/completions", json=QUESTION, headers={"Origin": "https://app.example.org"})
    assert post.status_code == 200 and post.headers["access-control-allow-origin"] == "https://app.example.org"
    assert opened.post("/v1/chat/completions", json=QUESTION,
                       headers={"Origin": "https://evil.example"}).status_code == 403


def test_docs_are_off_unless_asked_for_and_the_start_line_says_so(pipeline, kb, monkeypatch):
    closed = TestClient(create_app(pipeline))
    assert [closed.get(p).status_code for p in ("/docs", "/redoc", "/openapi.json")] == [404, 404, 404]
    opened = TestClient(create_app(pipeline, docs=True))
    assert [opened.get(p).status_code for p in ("/docs", "/redoc", "/openapi.json")] == [200, 200, 200]
    off, _, _ = serve(monkeypatch, "--db", kb[0], "--index", kb[1], "--no-log")
    assert "/docs" not in off.stderr and "docs off" in off.stderr
    on, _, _ = serve(monkeypatch, "--db", kb[0], "--index", kb[1], "--no-log", "--docs")
    assert "docs at http://127.0.0.1:8000/docs" in on.stderr
    bad = serve(monkeypatch, "--db", kb[0], "--index", kb[1], "--allow-origin", "evil.example/path")[0]
    assert "--allow-origin takes an origin" in one_line_error(bad)


# --------------------------------------------------------------------------- 6. audit after an index reload

def test_the_logged_revision_is_the_one_of_the_passages_cited_after_a_reload(kb, tmp_path):
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


# --------------------------------------------------------------------------- 7, 10. hostile and wrong bodies

def test_a_deeply_nested_body_is_a_400_in_openai_shape(pipeline):
    client = TestClient(create_app(pipeline), raise_server_exceptions=False)
    for body in (b"[" * 100_000, b'{"messages": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"):
        r = client.post("/v1/chat/completions", content=body, headers={"content-type": "application/json"})
        assert r.status_code == 400
        assert r.json()["error"] == {"message": "body: JSON nested too deeply", "type": "invalid_request_error",
                                     "param": None, "code": None}
    assert client.get("/health").json()["status"] == "ok"


def test_a_body_over_the_limit_is_a_413_also_when_it_comes_chunked(pipeline):
    from chat.api import MAX_BODY_BYTES

    client = TestClient(create_app(pipeline), raise_server_exceptions=False)
    big = json.dumps({**QUESTION, "padding": "x" * (MAX_BODY_BYTES + 10)}).encode()

    def chunks():  # a generator body is sent chunked: no Content-Length to check beforehand
        for i in range(0, len(big), 65536):
            yield big[i:i + 65536]

    declared = client.post("/v1/chat/completions", content=big, headers={"content-type": "application/json"})
    assert declared.status_code == 413 and "Too Large" in declared.text  # refused before anything reads it
    chunked = client.post("/v1/chat/completions", content=chunks(), headers={"content-type": "application/json"})
    error = chunked.json()["error"]  # stopped as it arrives, in OpenAI's error shape
    assert chunked.status_code == 413 and error["type"] == "invalid_request_error" and "Too Large" in error["message"]
    small = json.dumps(QUESTION).encode()
    assert client.post("/v1/chat/completions", content=iter([small[:10], small[10:]]),
                       headers={"content-type": "application/json"}).status_code == 200


def test_an_unknown_model_or_a_bad_top_k_is_a_400_naming_the_field(pipeline):
    client = TestClient(create_app(pipeline))
    served = [m["id"] for m in client.get("/v1/models").json()["data"]]
    assert served == ["extractive", "yiju"]
    for name in (*served, None):
        assert client.post("/v1/chat/completions", json={**QUESTION, "model": name}).status_code == 200
    wrong = client.post("/v1/chat/completions", json={**QUESTION, "model": "gpt-4o"})
    assert wrong.status_code == 400 and wrong.json()["error"]["param"] == "model"
    assert wrong.json()["error"]["message"] == "model: 'gpt-4o' is not served here; use one of: extractive, yiju"
    for top_k in ("5", 2.5, 3.0, True, 0, -1, 51, 10**30, [5]):
        r = client.post("/v1/chat/completions", json={**QUESTION, "top_k": top_k})
        assert r.status_code == 400 and r.json()["error"]["param"] == "top_k", (top_k, r.text)
        assert r.json()["error"]["message"].startswith("top_k: ")
    assert client.post("/v1/chat/completions", json={**QUESTION, "top_k": 3}).status_code == 200
