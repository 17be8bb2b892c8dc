"""`chat serve` as OpenAI's chat completions, through the `openai` client against a real server on 127.0.0.1
(uvicorn in a thread), streamed and not: the model asked for is echoed, stream_options.include_usage ends the
stream with a usage chunk, what yiju does not do (n > 1, tools, functions) is a 400 in OpenAI's error shape, and
max_tokens caps a model generator's answer (the extractive one quotes whole sentences and ignores it)."""

from __future__ import annotations

import socket
import threading
import time

import openai
import pytest

from chat.generators import ExtractiveGenerator, Generator
from tests.test_chat import build_tiny_kb

QUESTION = "阿莫西林有哪些不良反应？"


class RecordingModel(Generator):
    """A stand-in for a model generator (not the extractive one): quotes as extractive does and records the
    token budget each request gave it."""

    name = "recording-model"

    def __init__(self):
        self.budgets: list[int] = []

    def stream(self, request):
        self.budgets.append(request.max_new_tokens)
        yield from ExtractiveGenerator().stream(request)


def serve(app) -> tuple[str, callable]:
    """The app on a free port of 127.0.0.1; returns its /v1 URL and a function that stops it."""
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"

    def stop():
        server.should_exit = True
        thread.join(10)

    return f"http://127.0.0.1:{port}/v1", stop


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(client, the recording model) for a server whose generator is a model, and a client of one that quotes."""
    from chat.api import create_app
    from chat.pipeline import Pipeline

    url, index = build_tiny_kb(tmp_path_factory.mktemp("api-kb"))
    model = RecordingModel()
    quoting = Pipeline.load(url, index, "extractive", k=5, on_stale="ignore", log_answers=False)
    writing = Pipeline.load(url, index, model, k=5, on_stale="ignore", log_answers=False)
    (quoting_url, stop_quoting), (writing_url, stop_writing) = serve(create_app(quoting)), serve(create_app(writing))
    yield (openai.OpenAI(base_url=quoting_url, api_key="unused", max_retries=0),
           openai.OpenAI(base_url=writing_url, api_key="unused", max_retries=0), model)
    stop_quoting()
    stop_writing()


def ask(**extra) -> dict:
    return {"messages": [{"role": "user", "content": QUESTION}], "model": "yiju", **extra}


def test_the_model_asked_for_is_echoed_streamed_and_not(served):
    client, _, _ = served
    whole = client.chat.completions.create(**ask(model="yiju"))
    assert whole.model == "yiju" and whole.choices[0].finish_reason == "stop" and "[1]" in whole.choices[0].message.content
    assert whole.usage.total_tokens == whole.usage.prompt_tokens + whole.usage.completion_tokens > 0
    chunks = list(client.chat.completions.create(**ask(model="yiju", stream=True)))
    assert {c.model for c in chunks} == {"yiju"} and all(c.usage is None for c in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == whole.choices[0].message.content
    assert client.chat.completions.create(**ask(model="extractive")).model == "extractive"


def test_include_usage_ends_the_stream_with_a_usage_chunk(served):
    client, _, _ = served
    chunks = list(client.chat.completions.create(**ask(model="yiju", stream=True,
                                                       stream_options={"include_usage": True})))
    *answer, last = chunks
    assert last.choices == [] and last.usage is not None and all(c.usage is None for c in answer)
    text = "".join(c.choices[0].delta.content or "" for c in answer)
    assert last.usage.completion_tokens == len(text) and last.usage.prompt_tokens == len(QUESTION)
    assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens


@pytest.mark.parametrize("extra, param", [
    ({"n": 2}, "n"),
    ({"tools": [{"type": "function", "function": {"name": "dose", "parameters": {"type": "object"}}}]}, "tools"),
    ({"tool_choice": "required"}, "tool_choice"),
    ({"functions": [{"name": "dose", "parameters": {"type": "object"}}]}, "functions"),
    ({"stream_options": {"include_usage": True}}, "stream_options"),  # without stream
])
def test_what_yiju_does_not_do_is_a_400_in_openais_shape(served, extra, param):
    client, _, _ = served
    for stream in (False, True) if param != "stream_options" else (False,):
        with pytest.raises(openai.BadRequestError) as caught:
            client.chat.completions.create(**ask(stream=stream, **extra))
        error = caught.value.body
        assert caught.value.status_code == 400 and error["param"] == param and error["type"] == "invalid_request_error"
        assert error["message"].startswith(f"{param}: ")


def test_n_1_and_no_tools_are_fine(served):
    client, _, _ = served
    answer = client.chat.completions.create(**ask(n=1, tools=[], tool_choice="none", temperature=0.7))
    assert len(answer.choices) == 1 and "[1]" in answer.choices[0].message.content


def test_max_tokens_caps_a_model_generator_and_the_extractive_one_ignores_it(served):
    quoting, writing, model = served
    model.budgets.clear()
    writing.chat.completions.create(**ask(max_tokens=12))
    list(writing.chat.completions.create(**ask(max_completion_tokens=7, stream=True)))
    writing.chat.completions.create(**ask())
    assert model.budgets == [12, 7, 200]  # 200: the pipeline's own budget when the request names none
    whole = quoting.chat.completions.create(**ask())
    assert quoting.chat.completions.create(**ask(max_tokens=1)).choices[0].message.content == whole.choices[0].message.content
    with pytest.raises(openai.BadRequestError):
        quoting.chat.completions.create(**ask(max_tokens=0))
