"""OpenAI-compatible HTTP API: POST /v1/chat/completions, streaming (SSE) or not, GET /v1/models.

Any OpenAI client can talk to it; what the KB adds rides along without breaking the schema:
`sources` (the cited passages: n, passage id, entity, section, source, KB revision, text) and `yiju`
(the whole Answer document: refused, triage, intents, timings, ...) on the response, or on the last
chunk of a stream. The conversation is the request's `messages`, so the server keeps no sessions.
Requests are answered in a thread pool; a failed request is a JSON error, never a dead server.

Exposure is closed unless opened on purpose (docs/security.md): with an API key every /v1 route needs
`Authorization: Bearer KEY` (/health stays open); a request that carries an `Origin` header (a browser
page) is refused unless that origin was allowed, and only allowed origins get CORS headers; /docs,
/redoc and /openapi.json exist only with `docs=True`. Every error has OpenAI's shape
{"error": {"message", "type", "param", "code"}}.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import re
import secrets
import time
import uuid
from collections.abc import Sequence
from typing import Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.concurrency import iterate_in_threadpool, run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.trustedhost import TrustedHostMiddleware
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sse_starlette import EventSourceResponse
from starlette.exceptions import HTTPException

from chat.answer import Answer
from chat.conversation import MAX_QUESTION_CHARS, normalize_messages
from chat.generators import GenerationRequest, Generator
from chat.pipeline import Delta, Pipeline
from kb.terminal import not_text_in

MAX_BODY_BYTES = 1_000_000
MAX_MESSAGES = 100
MAX_TOP_K = 50
SERVER_MODEL = "yiju"  # accepted as `model` whatever the generator, beside the generator's own name


class APIError(HTTPException):
    """An HTTP error that names the request field at fault (`param`) and a machine-readable `code`."""

    def __init__(self, status: int, message: str, *, param: str | None = None, code: str | None = None,
                 headers: dict | None = None):
        super().__init__(status, message, headers)
        self.param, self.code = param, code


def error_body(status: int, message: str, param: str | None = None, code: str | None = None) -> dict:
    """OpenAI's error object."""
    kind = "server_error" if status >= 500 else "invalid_request_error"
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


class ContentPart(BaseModel):
    """One part of an OpenAI content list; only text parts carry a question."""

    model_config = ConfigDict(extra="allow")
    type: str = "text"
    text: str = ""


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return " ".join(p.text for p in self.content if p.type == "text")
        return self.content or ""


class StreamOptions(BaseModel):
    include_usage: bool = False


# Parts of OpenAI's API that yiju does not do: a request that uses them is a 400 rather than an answer that
# silently ignores them. Other fields an OpenAI client sends (user, seed, stop, ...) are accepted and ignored.
UNSUPPORTED = {"tools": "calls no tools", "tool_choice": "calls no tools", "functions": "calls no functions",
               "function_call": "calls no functions"}


class ChatCompletionRequest(BaseModel):
    """The OpenAI chat-completions body as yiju reads it (docs/security.md, README "Answers"): `model` is echoed;
    `max_tokens` (or `max_completion_tokens`) caps a model generator's answer, and the extractive generator, which
    quotes whole KB sentences, ignores it; `temperature` is accepted and ignored: every generator decodes greedily,
    so that an answer can be checked against its sources and asked again; `n` > 1 and tools are a 400."""

    model_config = ConfigDict(extra="allow")
    messages: list[ChatMessage] = Field(min_length=1)
    model: str | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int | None = Field(default=None, ge=1, le=128)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    # strict: "5", 5.0 and true are refused rather than read as 5 or 1
    top_k: int | None = Field(default=None, ge=1, le=MAX_TOP_K, strict=True,
                              description="passages to retrieve (yiju extension)")

    @model_validator(mode="before")
    @classmethod
    def is_text(cls, body):
        """Half a surrogate pair anywhere in the body ("\\ud800" alone) is a 400 naming where, before any
        field is read: it is not text, and nothing past this point could encode it."""
        problem = not_text_in(body, "") if isinstance(body, dict) else None
        if problem:
            raise ValueError(problem)
        return body

    @field_validator("messages")
    @classmethod
    def ends_with_a_question(cls, messages: list[ChatMessage]) -> list[ChatMessage]:
        if messages[-1].role != "user" or not messages[-1].text().strip():
            raise ValueError("the last message must be a user message with text content")
        return messages[-MAX_MESSAGES:]

    def question_and_history(self) -> tuple[str, list[dict]]:
        messages = normalize_messages([{"role": m.role, "content": m.text()} for m in self.messages])
        return messages[-1]["content"][: MAX_QUESTION_CHARS * 4], messages[:-1]


def sources(answer: Answer) -> list[dict]:
    return [{"n": c.n, "passage_id": c.passage_id, "entity": c.entity, "entity_type": c.entity_type,
             "section": c.section, "source": c.source, "license": c.license, "kb_revision": c.kb_revision,
             "text": c.text}
            for c in answer.citations]


def served_models(pipeline: Pipeline) -> list[str]:
    """The `model` names a request may send: the generator's (what /v1/models lists first) and "yiju"."""
    return list(dict.fromkeys([pipeline.generator.name, SERVER_MODEL]))


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach: localhost, 127.0.0.0/8, ::1."""
    host = host.strip().strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
_HOST_NAME = re.compile(r"(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?")


def allowed_hosts(bind: str, names: Sequence[str] = ()) -> list[str]:
    """The `Host` header values the API answers (any port): the loopback names, the address it binds
    (`bind`) when that is a particular one, and `names` (--allowed-host, "api.example.org" or
    "*.example.org"). A wildcard bind (0.0.0.0, ::) with no `names` answers any Host: the API key it
    requires then is the guard. Any other Host is refused, so a web page cannot reach a server on
    this machine by DNS rebinding (its own name resolving to 127.0.0.1). ValueError for a bad name."""
    hosts = list(LOOPBACK_HOSTS)
    for name in names:
        name = name.strip().lower()
        if not (_HOST_NAME.fullmatch(name) or _ip(name.strip("[]"))):
            raise ValueError(f"--allowed-host takes a host name or address as a browser sends it in Host "
                             f"(api.example.org, *.example.org, 192.0.2.7; no scheme, port or path), not {name!r}")
        hosts.append(_as_in_host(name))
    wildcard = bind.strip("[]") in ("0.0.0.0", "::", "")
    if wildcard and not names:
        return ["*"]
    if not wildcard:
        hosts.append(_as_in_host(bind))
    return list(dict.fromkeys(hosts))


def _as_in_host(name: str) -> str:
    """A host as the Host header carries it: lower case, an IPv6 address in brackets."""
    name = name.strip().lower()
    return f"[{name.strip('[]')}]" if ":" in name else name


def _ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def check_origin(origin: str) -> str:
    """`origin` when it is one ("https://app.example.org", "http://127.0.0.1:3000" or "*"), else ValueError."""
    if origin == "*":
        return origin
    origin = origin.strip().rstrip("/")
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query or parts.fragment:
        raise ValueError(f"--allow-origin takes an origin like https://app.example.org (scheme, host, optional "
                         f"port; no path), not {origin!r}")
    return origin.lower()


def create_app(pipeline: Pipeline, *, api_key: str | None = None, allow_origins: Sequence[str] = (),
               docs: bool = False, hosts: Sequence[str] | None = None) -> FastAPI:
    """The API over `pipeline`. api_key: required as a bearer token on /v1 (None: no key, for loopback);
    allow_origins: browser origins that may call it (CORS); docs: serve /docs, /redoc and /openapi.json;
    hosts: the Host headers it answers, every route included, anything else a 400 (`allowed_hosts`; `chat
    serve` always passes them; None: any, for an app mounted behind something that checks)."""
    app = FastAPI(title="依据 yiju chat API", version="1", docs_url="/docs" if docs else None,
                  redoc_url="/redoc" if docs else None, openapi_url="/openapi.json" if docs else None,
                  # counted as the body arrives, so a chunked upload (no Content-Length) is stopped too
                  max_body_size=MAX_BODY_BYTES)
    if api_key is not None and not api_key.strip():
        raise ValueError("the API key is empty")
    origins = [check_origin(o) for o in allow_origins]
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _bad_request)
    app.add_exception_handler(Exception, _any_error)
    app.get("/health")(_health(pipeline))
    app.include_router(_v1(pipeline, _authorization(api_key)))
    # middleware: the last added runs first, so CORS (when opened) answers preflights before the origin check
    app.middleware("http")(_origins_only(origins))
    if origins:
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"])
    if hosts is not None:  # outermost: a request for another Host gets no further
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(hosts), www_redirect=False)
    return app


# --------------------------------------------------------------------------- errors in OpenAI's shape

async def _http_error(_request: Request, exc: HTTPException) -> JSONResponse:
    message = str(exc.detail)
    if isinstance(exc.__cause__, RecursionError):  # FastAPI's JSON parsing gave up on deep nesting
        message = "body: JSON nested too deeply"
    return JSONResponse(error_body(exc.status_code, message, getattr(exc, "param", None), getattr(exc, "code", None)),
                        exc.status_code, headers=exc.headers)


async def _bad_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
    # pydantic says what is wrong; OpenAI clients expect a 400 with {"error": {"message", "type", "param"}}
    first = exc.errors()[0] if exc.errors() else {}
    if first.get("type") == "json_invalid":
        return JSONResponse(error_body(400, f"body: not valid JSON ({first.get('ctx', {}).get('error')} at "
                                            f"character {first['loc'][-1]})"), 400)
    where = ".".join(str(x) for x in first.get("loc", ())[1:]) or "body"
    message = f"{where}: {first.get('msg', 'invalid request')}".replace("Value error, ", "")
    return JSONResponse(error_body(400, message, where), 400)


async def _any_error(_request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(error_body(500, f"{type(exc).__name__}: {exc}"), 500)


# --------------------------------------------------------------------------- who may ask

def _authorization(api_key: str | None):
    """The /v1 routes' dependency: with an API key, a request must send it as a bearer token (else a 401)."""
    bearer = HTTPBearer(auto_error=False)

    def authorized(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
        if api_key is None:
            return
        given = credentials.credentials if credentials else ""
        if not secrets.compare_digest(given.encode(), api_key.encode()):
            raise APIError(401, "missing or wrong API key: send the header Authorization: Bearer KEY",
                           code="invalid_api_key", headers={"WWW-Authenticate": "Bearer"})

    return authorized


def _origins_only(origins: list[str]):
    """Middleware refusing (403) a request whose `Origin` (a browser page names its origin) is not in `origins`:
    without it, a page on any site could post questions here."""

    async def allowed_origins_only(request: Request, call_next):
        origin = request.headers.get("origin")
        if origin is not None and "*" not in origins and origin.lower() not in origins:
            return JSONResponse(error_body(403, f"requests from the web page at {origin} are not allowed here",
                                           code="origin_not_allowed"), 403)
        return await call_next(request)

    return allowed_origins_only


# --------------------------------------------------------------------------- routes

def _health(pipeline: Pipeline):
    def health() -> dict:
        stale = pipeline.retriever.stale() if hasattr(pipeline.retriever, "stale") else None
        return {"status": "stale" if stale else "ok", "kb_revision": pipeline.kb_revision,
                "generator": pipeline.generator.name, **({"stale": stale} if stale else {})}

    return health


def _v1(pipeline: Pipeline, authorized) -> APIRouter:
    """/v1/models and /v1/chat/completions, each behind `authorized`."""
    v1 = APIRouter(prefix="/v1", dependencies=[Depends(authorized)])

    @v1.get("/models")
    def models() -> dict:
        return {"object": "list", "data": [{"id": name, "object": "model", "owned_by": "yiju"}
                                           for name in served_models(pipeline)]}

    @v1.post("/chat/completions")
    async def completions(body: ChatCompletionRequest):
        return await _complete(pipeline, body)

    return v1


async def _complete(pipeline: Pipeline, body: ChatCompletionRequest):
    """One chat completion: the request checked, then the answer streamed as events or whole as one document."""
    check_model(body, served_models(pipeline))
    refuse_unsupported(body)
    question, history = body.question_and_history()
    top_k = body.top_k
    cid = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    created = int(time.time())
    model = body.model or pipeline.generator.name  # OpenAI echoes the model asked for
    generator = capped(pipeline.generator, body.max_completion_tokens or body.max_tokens)
    if body.stream:
        events = pipeline.stream(question, history, top_k, generator)
        usage = question if body.stream_options and body.stream_options.include_usage else None
        return _stream_response(events, cid, created, model, usage)
    try:
        answer = await run_in_threadpool(pipeline.answer, question, history, top_k, generator)
    except ValueError as exc:
        raise APIError(400, str(exc)) from None
    return _completion(answer, question, cid, created, model)


def _completion(answer: Answer, question: str, cid: str, created: int, model: str) -> dict:
    """A whole answer as OpenAI's chat.completion, with the cited `sources` and the Answer document (`yiju`)."""
    return {
        "id": cid, "object": "chat.completion", "created": created, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.text},
                     "finish_reason": "stop"}],
        "usage": _usage(question, answer.text),
        "sources": sources(answer),
        "yiju": answer.to_json(),
    }


def _stream_response(events, cid: str, created: int, model: str, usage_of: str | None = None) -> EventSourceResponse:
    """Server-sent events framed as OpenAI frames them: "data: JSON" lines ended by "\n\n" (sse-starlette's
    default is "\r\n"), no keep-alive comments (OpenAI sends none; ping=0), and "Cache-Control: no-cache"."""
    return EventSourceResponse(_sse(events, cid, created, model, usage_of), sep="\n", ping=0,
                               headers={"Cache-Control": "no-cache"})


async def _sse(events, cid: str, created: int, model: str, usage_of: str | None = None):
    """The stream's events as OpenAI sends them; with `usage_of` (the question: stream_options.include_usage)
    every chunk has "usage": null and a last chunk with no choices carries the usage."""
    def chunk(delta: dict | None, finish: str | None = None, **extra) -> dict:
        data = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                "choices": [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}],
                **({"usage": None} if usage_of is not None else {}), **extra}
        return {"data": json.dumps(data, ensure_ascii=False)}  # JSON escapes line breaks: one data line

    yield chunk({"role": "assistant"})
    text = ""
    try:
        async for event in iterate_in_threadpool(events):
            if isinstance(event, Delta):
                text += event.text
                yield chunk({"content": event.text})
            elif isinstance(event, Answer):
                yield chunk({}, "stop", sources=sources(event), yiju=event.to_json())
    except Exception as exc:  # the stream ends with an error chunk; the server keeps serving
        yield chunk({"content": f"\n\n（出错：{type(exc).__name__}）"}, "error",
                    error={"message": f"{type(exc).__name__}: {exc}", "type": "server_error"})
    if usage_of is not None:
        yield chunk(None, usage=_usage(usage_of, text))
    yield {"data": "[DONE]"}


def check_model(body: ChatCompletionRequest, served: list[str]) -> None:
    """A 400 naming the served models for a request that asks for another (no `model`: any is fine)."""
    if body.model is not None and body.model not in served:
        raise APIError(400, f"model: {body.model!r} is not served here; use one of: {', '.join(served)}",
                       param="model", code="model_not_found")


def refuse_unsupported(body: ChatCompletionRequest) -> None:
    """A 400 in OpenAI's shape for what yiju does not do: more than one choice, tools and functions, usage
    options on an answer that is not streamed."""
    if body.n is not None and body.n > 1:
        raise APIError(400, "n: yiju gives one answer per request (n=1)", param="n", code="unsupported_value")
    for name, why in UNSUPPORTED.items():
        value = (body.model_extra or {}).get(name)
        if value not in (None, [], "none"):
            raise APIError(400, f"{name}: yiju answers from its knowledge base and {why}", param=name,
                           code="unsupported_parameter")
    if body.stream_options is not None and not body.stream:
        raise APIError(400, "stream_options: only allowed when stream is true", param="stream_options",
                       code="invalid_value")


class _TokenCap(Generator):
    """A model generator whose answers stop after `cap` tokens (the request's max_tokens)."""

    def __init__(self, generator: Generator, cap: int):
        self.generator, self.cap, self.name = generator, cap, generator.name

    def stream(self, request: GenerationRequest):
        return self.generator.stream(dataclasses.replace(request, max_new_tokens=min(request.max_new_tokens, self.cap)))


def capped(generator: Generator, max_tokens: int | None) -> Generator:
    """The generator for one request: a model's capped at `max_tokens`; one that quotes (the extractive one) as it
    is (it quotes whole KB sentences and has no tokens to count)."""
    if max_tokens is None or generator.quotes:
        return generator
    return _TokenCap(generator, max_tokens)


def _usage(question: str, text: str) -> dict:
    # characters, not tokens: the extractive generator has no tokenizer; clients only need the shape
    return {"prompt_tokens": len(question), "completion_tokens": len(text),
            "total_tokens": len(question) + len(text)}
