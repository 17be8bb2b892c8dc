"""OpenAI-compatible HTTP API: POST /v1/chat/completions, streaming (SSE) or not, GET /v1/models.

Any OpenAI client can talk to it; what the KB adds rides along without breaking the schema:
`sources` (the cited passages: n, passage id, entity, section, source, KB revision, text) and `yiju`
(the whole Answer document: refused, triage, intents, timings, ...) on the response, or on the last
chunk of a stream. The conversation is the request's `messages`, so the server keeps no sessions.
Requests are answered in a thread pool; a failed request is a JSON error, never a dead server.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.concurrency import iterate_in_threadpool, run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse

from chat.answer import Answer
from chat.conversation import MAX_QUESTION_CHARS, normalize_messages
from chat.pipeline import Delta, Pipeline

MAX_BODY_BYTES = 1_000_000
MAX_MESSAGES = 100


def sources(answer: Answer) -> list[dict]:
    return [{"n": c.n, "passage_id": c.passage_id, "entity": c.entity, "entity_type": c.entity_type,
             "section": c.section, "source": c.source, "kb_revision": c.kb_revision, "text": c.text}
            for c in answer.citations]


def _question_and_history(body: Any) -> tuple[str, list[dict]]:
    """The last user message and the messages before it, or a 400 saying what is wrong with the body."""
    if not isinstance(body, dict):
        raise HTTPException(400, "the body must be a JSON object with a `messages` list")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise HTTPException(400, "`messages` must be a non-empty list of {role, content}")
    messages = normalize_messages(messages[-MAX_MESSAGES:])
    if not messages or messages[-1]["role"] != "user":
        raise HTTPException(400, "the last message must be a user message with text content")
    question = messages[-1]["content"]
    if not question.strip():
        raise HTTPException(400, "the last user message is empty")
    return question[: MAX_QUESTION_CHARS * 4], messages[:-1]


def create_app(pipeline: Pipeline) -> FastAPI:
    app = FastAPI(title="依据 yiju chat API", version="1", docs_url="/docs")

    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, exc: HTTPException):
        return JSONResponse({"error": {"message": exc.detail, "type": "invalid_request_error"}}, exc.status_code)

    @app.exception_handler(Exception)
    async def any_error(_request: Request, exc: Exception):
        return JSONResponse({"error": {"message": f"{type(exc).__name__}: {exc}", "type": "server_error"}}, 500)

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "kb_revision": pipeline.kb_revision, "generator": pipeline.generator.name}

    @app.get("/v1/models")
    def models() -> dict:
        return {"object": "list", "data": [{"id": pipeline.generator.name, "object": "model", "owned_by": "yiju"}]}

    @app.post("/v1/chat/completions")
    async def completions(request: Request):
        raw = await request.body()
        if len(raw) > MAX_BODY_BYTES:
            raise HTTPException(413, f"request body over {MAX_BODY_BYTES} bytes")
        try:
            body = json.loads(raw or b"null")
        except ValueError as exc:
            raise HTTPException(400, f"the body is not JSON: {exc}") from None
        question, history = _question_and_history(body)
        top_k = body.get("top_k") if isinstance(body.get("top_k"), int) and 0 < body["top_k"] <= 50 else None
        cid = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())
        model = pipeline.generator.name
        if body.get("stream"):
            events = pipeline.stream(question, history, top_k)
            return StreamingResponse(_sse(events, cid, created, model), media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        try:
            answer = await run_in_threadpool(pipeline.answer, question, history, top_k)
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        return {
            "id": cid, "object": "chat.completion", "created": created, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.text},
                         "finish_reason": "stop"}],
            "usage": _usage(question, answer.text),
            "sources": sources(answer),
            "yiju": answer.to_json(),
        }

    return app


async def _sse(events, cid: str, created: int, model: str):
    def chunk(delta: dict, finish: str | None = None, **extra) -> str:
        data = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
        return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

    yield chunk({"role": "assistant"})
    try:
        async for event in iterate_in_threadpool(events):
            if isinstance(event, Delta):
                yield chunk({"content": event.text})
            elif isinstance(event, Answer):
                yield chunk({}, "stop", sources=sources(event), yiju=event.to_json())
    except Exception as exc:  # the stream ends with an error chunk; the server keeps serving
        yield chunk({"content": f"\n\n（出错：{type(exc).__name__}）"}, "error",
                    error={"message": f"{type(exc).__name__}: {exc}", "type": "server_error"})
    yield "data: [DONE]\n\n"


def _usage(question: str, text: str) -> dict:
    # characters, not tokens: the extractive generator has no tokenizer; clients only need the shape
    return {"prompt_tokens": len(question), "completion_tokens": len(text),
            "total_tokens": len(question) + len(text)}
