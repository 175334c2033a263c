"""Every command line's ``--help`` ends with an ``Examples:`` section of 2-3 real commands, and every flag of
every example is accepted by that same parser (so the examples cannot rot when a flag is renamed).

The entry points run in-process (their ``main(["--help"])``); one subprocess checks a script end to end.
"""
from __future__ import annotations

import argparse
import importlib
import os
import shlex
import subprocess
import sys
from typing import List, Tuple

import pytest

from FlagEmbedding.utils.cli import ArgumentParser, OneLineArgumentParser
from tests.helpers import REPO

EVALUATION = ["beir", "msmarco", "miracl", "mkqa", "mldr", "bright", "custom", "mteb", "air_bench"]
FINETUNE = ["embedder.encoder_only.base", "embedder.encoder_only.m3", "embedder.decoder_only.base",
            "embedder.decoder_only.icl", "reranker.encoder_only.base", "reranker.decoder_only.base",
            "reranker.decoder_only.layerwise"]
DATA_SCRIPTS = ["hn_mine", "add_reranker_score", "split_data_by_length"]

#: (module whose ``main`` is called, the module an example runs, the script an example may run instead)
ENTRY_POINTS: List[Tuple[str, str, str]] = (
    [(f"FlagEmbedding.evaluation.{name}.__main__", f"FlagEmbedding.evaluation.{name}", "") for name in EVALUATION]
    + [(f"FlagEmbedding.finetune.{name}.__main__", f"FlagEmbedding.finetune.{name}", "") for name in FINETUNE]
    + [(f"FlagEmbedding.finetune.data_scripts.{name}", f"FlagEmbedding.finetune.data_scripts.{name}",
        f"scripts/{name}.py") for name in DATA_SCRIPTS]
    + [("FlagEmbedding.serve.cli", "FlagEmbedding.serve", "")]
)
PREFIXES = ("python -m FlagEmbedding.", "torchrun ", "python scripts/")


def help_of(module_name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> Tuple[
        str, OneLineArgumentParser]:
    """``main(["--help"])`` of the module in-process: its stdout and the parser that printed it."""
    created: List[OneLineArgumentParser] = []
    original = OneLineArgumentParser.__init__

    def record(self: OneLineArgumentParser, *args: object, **kwargs: object) -> None:
        original(self, *args, **kwargs)  # type: ignore[arg-type]
        created.append(self)

    monkeypatch.setattr(OneLineArgumentParser, "__init__", record)
    module = importlib.import_module(module_name)
    with pytest.raises(SystemExit) as exit_info:
        module.main(["--help"])
    assert exit_info.value.code in (0, None)
    assert len(created) == 1, f"{module_name} built {len(created)} parsers"
    return capsys.readouterr().out, created[0]


def example_argv(example: str, module: str, script: str) -> List[str]:
    """The flags an example passes to the entry point, after checking it runs that entry point."""
    tokens = shlex.split(example)
    if "-m" in tokens:
        target_at = tokens.index("-m") + 1
        assert tokens[target_at] == module, f"{example!r} does not run {module}"
    else:
        target_at = next(at for at, token in enumerate(tokens) if token.endswith(".py"))
        assert tokens[target_at] == script, f"{example!r} does not run {script or module}"
        assert os.path.isfile(os.path.join(REPO, script))
    assert tokens[0] in ("python", "torchrun") and all(token.startswith("--") for token in tokens[1:target_at]
                                                        if token not in ("-m",) and not token.isdigit())
    return tokens[target_at + 1:]


@pytest.mark.parametrize("module_name,module,script", ENTRY_POINTS, ids=[entry[1] for entry in ENTRY_POINTS])
def test_help_ends_with_examples_the_parser_accepts(module_name: str, module: str, script: str,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture) -> None:
    text, parser = help_of(module_name, monkeypatch, capsys)
    head, marker, tail = text.rpartition("\nExamples:\n")
    assert marker, f"no Examples: section at the end of\n{text}"
    lines = tail.rstrip("\n").split("\n")
    assert 2 <= len(lines) <= 3, lines
    assert all(line.startswith("  ") and line[2:].startswith(PREFIXES) for line in lines), lines
    assert [line[2:] for line in lines] == list(parser.examples)
    assert "--help" in head  # the flags are listed before the examples
    for example in parser.examples:
        argv = example_argv(example, module, script)
        flags = [token.split("=", 1)[0] for token in argv if token.startswith("--")]
        assert flags, example
        unknown = [flag for flag in flags if flag not in parser._option_string_actions]
        assert not unknown, f"{example!r}: {unknown} are not flags of {module}"
        # values too: choices, types and required flags (an argparse error exits 2 with the reason on stderr)
        _, remaining = parser.parse_known_args(argv)
        assert remaining == [], f"{example!r}: {remaining}"


def test_examples_are_verbatim_whatever_the_formatter() -> None:
    """HfArgumentParser's ArgumentDefaultsHelpFormatter still shows defaults; the examples are not re-wrapped."""
    import dataclasses

    @dataclasses.dataclass
    class Args:
        top_k: int = dataclasses.field(default=7, metadata={"help": "How many."})

    long_example = "python -m FlagEmbedding.x " + " ".join(f"--top_k {k}" for k in range(40))
    parser = ArgumentParser([Args], description="Do x.", prog="python -m FlagEmbedding.x",
                            examples=[long_example, "python -m FlagEmbedding.x --top_k 3"])
    assert isinstance(parser.formatter_class, type) and issubclass(
        parser.formatter_class, argparse.ArgumentDefaultsHelpFormatter)
    text = parser.format_help()
    assert "How many. (default: 7)" in text
    assert text.endswith(f"\n\nExamples:\n  {long_example}\n  python -m FlagEmbedding.x --top_k 3\n")
    assert OneLineArgumentParser(prog="p").format_help() == argparse.ArgumentParser(
        prog="p", allow_abbrev=False).format_help()  # no examples: no section
    with pytest.raises(TypeError, match="examples must be a sequence"):
        OneLineArgumentParser(prog="p", examples="python -m FlagEmbedding.x")


def test_script_help_in_a_subprocess() -> None:
    """``python scripts/hn_mine.py --help`` (the real script, ``prog`` and all) ends with its examples."""
    from FlagEmbedding.finetune.data_scripts.hn_mine import EXAMPLES

    process = subprocess.run([sys.executable, "scripts/hn_mine.py", "--help"], cwd=REPO, capture_output=True,
                             text=True, timeout=300, env={**os.environ, "PYTHONPATH": REPO, "HF_HUB_OFFLINE": "1"})
    assert process.returncode == 0, process.stderr
    assert process.stdout.startswith("usage: python scripts/hn_mine.py")
    assert process.stdout.endswith("Examples:\n" + "".join(f"  {example}\n" for example in EXAMPLES))
