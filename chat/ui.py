"""The Gradio app: a streaming chat, a sources panel with every cited passage, a retrieval-debug tab and
settings (generator, top-k). Bound to 127.0.0.1 unless told otherwise: it is a local tool, not a
public service.
"""

from __future__ import annotations

import html
import threading

import gradio as gr

from chat.answer import Answer
from chat.generators import GeneratorError, load_generator, offered_generators
from chat.pipeline import Delta, Pipeline

# Each works on its own, in any order (a follow-up like "它孕妇能用吗？" needs the question before it).
EXAMPLES = ["阿莫西林的副作用有哪些？", "布洛芬缓释胶囊怎么吃？", "孕妇能吃布洛芬缓释胶囊吗？", "高血压挂什么科？",
            "最近三天拉肚子、肚子疼，没有发烧，怎么办？", "我对青霉素过敏，能吃阿莫西林吗？"]
CSS = """
#sources .source {border-left: 3px solid #3b82f6; padding: 4px 10px; margin: 8px 0; background: #f8fafc;}
#sources .source .head {font-weight: 600;}
#sources .source .meta {color: #475569; font-size: 0.85em;}
#sources .source .license {color: #b45309; font-size: 0.85em;}
#sources .source blockquote {margin: 4px 0; white-space: pre-wrap;}
#chatbot h3 {color: #b91c1c; background: #fef2f2; border-left: 6px solid #dc2626; padding: 8px 12px; margin: 0 0 8px;}
"""  # the chat's only h3 is an emergency or crisis notice (shown_text): red, whatever fonts the reader has
EMPTY_SOURCES = "<div class='placeholder'>回答引用的知识库资料会显示在这里（实体、章节与来源）。</div>"


def sources_html(answer: Answer | None) -> str:
    if answer is None:
        return EMPTY_SOURCES
    if not answer.citations:
        why = "（急症提醒：请先就医，不从知识库作答）" if answer.triage else "（知识库中没有依据，已拒答）" if answer.refused else ""
        note = f"本次回答没有引用资料{why}。"
        return f"<div class='placeholder'>{note}</div>"
    parts = [f"<div class='count'>引用 {len(answer.citations)} 段资料 · KB 修订 {answer.kb_revision}</div>"]
    for c in answer.citations:
        parts.append(
            f"<div class='source' data-n='{c.n}' data-passage='{html.escape(c.passage_id)}'>"
            f"<div class='head'>[{c.n}] {html.escape(c.entity)} · {html.escape(c.section)}</div>"
            f"<div class='meta'>来源：{html.escape(c.source)}（知识库修订 {c.kb_revision}）</div>"
            + (f"<div class='license'>许可与用途：{html.escape(c.license)}</div>" if c.license else "")
            + f"<blockquote>{html.escape(c.text)}</blockquote></div>")
    return "\n".join(parts)


def shown_text(answer: Answer) -> str:
    """The answer as the chat shows it: an emergency or crisis notice cannot look like any other reply."""
    if not answer.triage:
        return answer.text
    first, _, rest = answer.text.partition("\n")
    return f"### 🚨 {first.lstrip('⚠️ ').strip()}\n\n{rest}"


def debug_rows(answer: Answer | None) -> list[list]:
    if answer is None:
        return []
    return [[h["rank"], h["entity"], h["section"], h["score"], str(h["channels"]), h["passage_id"], h["text"]]
            for h in answer.debug.get("retrieval", [])]


def debug_info(answer: Answer | None) -> dict:
    if answer is None:
        return {}
    return {"rewritten": answer.rewritten, "intents": answer.intents, "entities": answer.entities,
            "mode": answer.mode, "refused": answer.refused, "triage": answer.triage,
            "support": answer.debug.get("support"), "inquiry": answer.debug.get("inquiry"),
            "patient": answer.debug.get("patient"), "removed_claims": answer.removed_claims,
            "warnings": answer.warnings, "timings_ms": answer.timings_ms, "generator": answer.generator}


class GeneratorChoice:
    """The generators a visitor may pick: the one the operator started with and the local ones, by name.
    A URL or a path (where questions, passages and keys would be sent, or what code would be loaded) never
    comes from the page."""

    def __init__(self, pipeline: Pipeline):
        # the registry's local ones (`tuned` once `make model` has registered it)
        self.allowed = list(dict.fromkeys([pipeline.generator.name, *offered_generators()]))
        self.loaded = {pipeline.generator.name: pipeline.generator}
        self.lock = threading.Lock()

    def pending(self, spec: str) -> bool:
        """Whether picking `spec` would load a model first (gemma-270m on a CPU: about a second through llama.cpp,
        1-2 minutes through transformers)."""
        return spec in self.allowed and spec not in self.loaded

    def get(self, spec: str):
        if spec not in self.allowed:
            raise GeneratorError(f"{spec!r} is not one of this server's generators ({', '.join(self.allowed)})")
        with self.lock:  # gemma-270m takes up to 1-2 minutes to load; load it once, on first use
            if spec not in self.loaded:
                self.loaded[spec] = load_generator(spec)
            return self.loaded[spec]


def build_ui(pipeline: Pipeline) -> gr.Blocks:
    choice = GeneratorChoice(pipeline)
    allowed = choice.allowed

    def respond(message: str, history: list, spec: str, k: float):
        message = (message or "").strip()
        if not message:
            yield gr.update(), history, gr.update(), gr.update(), gr.update()
            return
        prior = list(history or [])
        shown = prior + [{"role": "user", "content": message}, {"role": "assistant", "content": "…"}]
        yield "", shown, gr.update(), gr.update(), gr.update()
        if choice.pending(spec):
            shown[-1] = {"role": "assistant", "content": f"正在加载生成器 {spec}：在 CPU 上首次加载，llama.cpp 约需一秒，"
                                                         "transformers 约需 1–2 分钟；之后每个回答数秒到 1 分钟……"}
            yield "", shown, gr.update(), gr.update(), gr.update()
        try:
            generator = choice.get(spec)
        except GeneratorError as exc:
            shown[-1] = {"role": "assistant", "content": f"无法加载生成器 {spec}：{exc}"}
            yield "", shown, gr.update(), gr.update(), gr.update()
            return
        text = ""
        try:
            for event in pipeline.stream(message, prior, int(k), generator):
                if isinstance(event, Delta):
                    text += event.text
                    shown[-1] = {"role": "assistant", "content": text}
                    yield "", shown, gr.update(), gr.update(), gr.update()
                else:
                    shown[-1] = {"role": "assistant", "content": shown_text(event)}
                    yield "", shown, sources_html(event), debug_info(event), debug_rows(event)
        except Exception as exc:  # the UI keeps working; the message says what went wrong
            shown[-1] = {"role": "assistant", "content": f"出错了：{type(exc).__name__}: {exc}"}
            yield "", shown, gr.update(), gr.update(), gr.update()

    with gr.Blocks(title="依据 yiju · 有出处的医药问答") as demo:
        gr.Markdown("## 依据 yiju · 有出处的医药问答\n"
                    "回答只来自知识库，每句话标注出处 [n]；知识库没有依据时直接说明。"
                    "急症请立即拨打 **120**。内容仅供参考，不能替代医生。")
        with gr.Tabs():
            with gr.Tab("问答"):
                with gr.Row():
                    with gr.Column(scale=3):
                        chatbot = gr.Chatbot(label="对话", height=480, elem_id="chatbot", buttons=["copy"])
                        question = gr.Textbox(placeholder="例如：阿莫西林的副作用有哪些？（Enter 发送）",
                                              show_label=False, elem_id="question", lines=1, max_lines=4)
                        with gr.Row():
                            send = gr.Button("提问", variant="primary", elem_id="send")
                            clear = gr.Button("清空对话", elem_id="clear")
                        gr.Examples(EXAMPLES, inputs=question, label="示例问题")
                    with gr.Column(scale=2):
                        gr.Markdown("### 来源")
                        sources = gr.HTML(EMPTY_SOURCES, elem_id="sources")
            with gr.Tab("检索调试"):
                info = gr.JSON(label="改写、意图、支持度、问诊与核实", elem_id="debug-info")
                hits = gr.Dataframe(headers=["rank", "entity", "section", "score", "channels", "passage id", "text"],
                                    label="检索结果（融合排序）", elem_id="debug-hits", wrap=True)
            with gr.Tab("设置"):
                spec = gr.Dropdown(allowed, value=pipeline.generator.name, allow_custom_value=False, label="生成器",
                                   info="extractive：直接引用知识库（默认，即时）；gemma-270m：本地小模型（CPU 上首次加载："
                                        "llama.cpp 约一秒，transformers 约 1–2 分钟；每个回答数秒到 1 分钟）；"
                                        "其他模型由运行者在启动时用 --generator 指定",
                                   elem_id="generator")
                k = gr.Slider(1, 20, value=pipeline.k, step=1, label="检索条数 top-k", elem_id="top-k")
        outputs = [question, chatbot, sources, info, hits]
        send.click(respond, [question, chatbot, spec, k], outputs)
        question.submit(respond, [question, chatbot, spec, k], outputs)
        clear.click(lambda: ("", [], EMPTY_SOURCES, {}, []), None, outputs)
    return demo


def launch(demo: gr.Blocks, host: str = "127.0.0.1", port: int = 7860, block: bool = True,
           auth: tuple[str, str] | None = None):
    """Serve the UI; `auth` (user, password) puts Gradio's login page in front of it."""
    if block:
        import sys

        access = "login required" if auth else "no login: this machine only"
        sys.stderr.write(f"yiju chat UI on http://{host}:{port} ({access}; Ctrl+C stops it)\n")
    return demo.queue(default_concurrency_limit=4).launch(
        server_name=host, server_port=port, css=CSS, show_error=True, prevent_thread_lock=not block,
        footer_links=[], quiet=True, auth=auth)
