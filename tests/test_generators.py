"""The generator registry: one spec parser, plugins through entry points, declared capabilities."""

from __future__ import annotations

import importlib.metadata

import pytest

from chat import generators
from chat.generators import (ExtractiveGenerator, Generator, GeneratorError, GeneratorKind, HFGenerator,
                             generator_kinds, generator_usage, load_generator, offered_generators, parse_spec)


class EchoGenerator(Generator):
    def __init__(self, argument: str, threads: int | None):
        self.name, self.threads = f"echo:{argument}", threads

    def stream(self, request):
        yield request.question


ECHO = GeneratorKind("echo", lambda argument, threads: EchoGenerator(argument, threads), "echo:TEXT", argument=True)


class EntryPoint:
    def __init__(self, name: str, loaded):
        self.name, self.value, self.loaded = name, f"plugin:{name}", loaded

    def load(self):
        if isinstance(self.loaded, Exception):
            raise self.loaded
        return self.loaded


@pytest.fixture
def plugins(monkeypatch):
    """Installs entry points in the `yiju.generators` group for one test."""
    installed = []

    def entry_points(group):
        assert group == generators.ENTRY_POINTS
        return installed

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    generator_kinds.cache_clear()
    yield installed
    generator_kinds.cache_clear()


def test_one_parser_reads_every_spec():
    assert parse_spec("extractive")[0].name == "extractive" and parse_spec("")[0].name == "extractive"
    assert parse_spec("gemma3-270m")[0].name == "gemma-270m"  # an alias
    kind, argument = parse_spec(" hf:/m/gemma+/runs/r1/final ")
    assert (kind.name, argument) == ("hf", "/m/gemma+/runs/r1/final")
    assert parse_spec("openai:http://127.0.0.1:8000/v1") == (generator_kinds()["openai"], "http://127.0.0.1:8000/v1")
    with pytest.raises(GeneratorError, match=r"unknown generator 'gpt-9': use extractive, gemma-270m, tuned, "
                                             r"hf:PATH\[\+ADAPTER\], llamacpp:PATH.gguf, openai:URL"):
        parse_spec("gpt-9")
    with pytest.raises(GeneratorError, match=r"the hf generator needs an argument: hf:PATH\[\+ADAPTER\]"):
        parse_spec("hf:")
    with pytest.raises(GeneratorError, match="the extractive generator takes no argument"):
        parse_spec("extractive:/tmp/x")
    with pytest.raises(GeneratorError, match="does not exist"):  # the kind's own check, one line
        load_generator("hf:/nonexistent/model")


def test_capabilities_are_declared_on_the_class():
    assert ExtractiveGenerator.quotes and load_generator("extractive").quotes
    assert not HFGenerator.quotes and not EchoGenerator.quotes  # a generator that writes, by default


def test_a_package_adds_a_generator_through_an_entry_point(plugins):
    plugins.append(EntryPoint("echo", ECHO))
    generator = load_generator("echo:你好", threads=3)
    assert (generator.name, generator.threads) == ("echo:你好", 3)
    assert generator_usage().endswith("| openai:URL | echo:TEXT")
    assert "echo" not in offered_generators()  # it needs an argument: the UI never offers it


def test_broken_or_clashing_plugins_are_left_out_in_one_line(plugins, capsys):
    plugins += [EntryPoint("broken", ImportError("no module named nowhere")),
                EntryPoint("clash", GeneratorKind("extractive", ECHO.build)), EntryPoint("other", object())]
    assert set(generator_kinds()) == {"extractive", "gemma-270m", "gemma3-270m", "tuned", "hf", "llamacpp", "openai"}
    lines = capsys.readouterr().err.splitlines()
    assert lines == ["generator plugin broken (plugin:broken) left out: ImportError: no module named nowhere",
                     "generator plugin clash (plugin:clash) left out: the name 'extractive' is taken",
                     "generator plugin other (plugin:other) left out: not a GeneratorKind"]


def test_the_ui_offers_the_local_generators_and_tuned_once_registered(tmp_path, monkeypatch):
    monkeypatch.setenv(generators.TUNED_ENV, str(tmp_path))
    assert offered_generators() == ["extractive", "gemma-270m"]
    (tmp_path / "config.json").write_text("{}", encoding="utf-8")
    assert offered_generators() == ["extractive", "gemma-270m", "tuned"]


def test_cli_help_lists_the_registry():
    from typer.testing import CliRunner

    from chat.cli import app

    result = CliRunner().invoke(app, ["ask", "--help"], env={"COLUMNS": "300", "NO_COLOR": "1"})
    assert result.exit_code == 0 and generator_usage() in " ".join(result.output.replace("│", " ").split())
