"""Every code block of README.md and docs/**/*.rst runs offline, or is marked ``not-run: <reason>``.

One test per page with runnable blocks (see :mod:`tests.docs.snippets` for the conventions). README blocks that
need the Hub (``BAAI/...`` names) run as offline twins: the same text with the model names replaced by local
models and a check of the result appended (:data:`README_TWINS`); the "From a clone" commands are compared with
what ``.ci/run`` runs.
"""
from __future__ import annotations

import dataclasses
import os
import re
import socket
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Dict, List, Optional, Tuple

import pytest

from tests.docs.snippets import (Block, MarkupError, PageRun, check_marked, doc_pages, output_matches, page_blocks,
                                 readme_blocks, run_blocks)
from tests.helpers import REPO

README = os.path.join(REPO, "README.md")
README_MAX_BYTES = 10_000  # "at most 10 KB", read strictly


@dataclasses.dataclass(frozen=True)
class Twin:
    """How the test runs one ``not-run`` README block offline: ``match`` picks the block (exactly one),
    ``subs`` (old -> new, each must occur) make it local, ``check`` is appended (same language)."""

    match: str
    subs: Tuple[Tuple[str, str], ...]
    check: str = ""
    background: bool = False
    wait_url: Optional[str] = None


README_TWINS = (
    Twin('RetrievalIndex.build("my_index"', (("BAAI/bge-base-en-v1.5", "{minilm}"),),
         'assert ids[0][0] == "panda" and len(ids[0]) == 2, ids\n'
         'assert RetrievalIndex.load("my_index", model).search(["Where do pandas live?"], top_k=2)[0] == ids\n'),
    Twin('BGEM3FlagModel("BAAI/bge-m3"', (("BAAI/bge-m3", "{m3}"),),
         'assert out["dense_vecs"].shape[0] == 3 and len(out["lexical_weights"]) == 3 and len(out["colbert_vecs"]) == 3\n'
         'assert set(scores) >= {"dense", "sparse", "colbert", "colbert+sparse+dense"}, scores\n'
         'assert len(ids[0]) == 2 and set(ids[0]) <= set(docids), ids\n'),
    Twin('FlagReranker("BAAI/bge-reranker-v2-m3"', (("BAAI/bge-reranker-v2-m3", "{reranker}"),),
         'assert len(scores) == 3 and all(isinstance(s, float) and 0 < s < 1 for s in scores), scores\n'),
    Twin("FlagEmbedding.evaluation.custom", (("BAAI/bge-base-en-v1.5", "{minilm}"),
                                             ("examples/data/demo", "$REPO/examples/data/demo")),
         'grep -q "ndcg_at_10" eval.md && grep -q "| \\*\\*100.000\\*\\* |" eval.md || { cat eval.md; exit 1; }\n'),
    Twin("FlagEmbedding.finetune.embedder.encoder_only.base",
         (("BAAI/bge-base-en-v1.5", "{tiny_bert}"), ("--nproc_per_node 2", "--nproc_per_node 1"),
          ("examples/finetune", "$REPO/examples/finetune")),
         "test -f bge-ft/model.safetensors && test -f bge-ft/tokenizer.json\n"),
    Twin("python -m FlagEmbedding.serve", (("BAAI/bge-m3", "{m3}"), ("BAAI/bge-reranker-v2-m3", "{reranker}"),
                                          ("--port 8000", "--port {port}")),
         background=True, wait_url="http://127.0.0.1:{port}/health"),
    Twin("from openai import OpenAI", (("127.0.0.1:8000", "127.0.0.1:{port}"),),
         "assert len(vector) == 32 and abs(sum(v * v for v in vector) - 1) < 1e-4, len(vector)\n"),
)


def _fill(text: str, models: Dict[str, str]) -> str:
    for key, value in models.items():
        text = text.replace("{" + key + "}", value)
    return text


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ci_commands() -> List[str]:
    """The two commands of README "From a clone" as ``.ci/run`` runs them (torch pinned first, then command 1)."""
    lines = open(os.path.join(REPO, ".ci", "run"), encoding="utf-8").read().split("\n")
    torch = next(line for line in lines if line.startswith("pip install torch=="))
    after = {line.split(":")[0]: lines[i + 1] for i, line in enumerate(lines) if line.startswith("# README command")}
    return [f"{torch} && {after['# README command 1']}", after["# README command 2"]]


def readme_offline_blocks(models: Dict[str, str]) -> List[Block]:
    """README's blocks as the test runs them: runnable ones as written, ``not-run`` ones as their twins."""
    blocks = []
    for block in readme_blocks(README):
        if block.not_run is None:
            blocks.append(block)
            continue
        if block.code.strip().split("\n") == _ci_commands():
            continue  # "From a clone": checked against .ci/run by test_readme_clone_commands_are_ci
        twins = [t for t in README_TWINS if t.match in block.code]
        if len(twins) != 1:
            raise MarkupError(f"README.md:{block.line}: a not-run block needs exactly one offline twin in "
                              f"tests/docs/test_snippets.py README_TWINS (found {len(twins)}).")
        twin = twins[0]
        code = block.code
        for old, new in twin.subs:
            if old not in code:
                raise MarkupError(f"README.md:{block.line}: the twin replaces {old!r}, which the block no longer has.")
            code = code.replace(old, _fill(new, models))
        blocks.append(dataclasses.replace(block, code=code + _fill(twin.check, models), not_run=None,
                                          background=twin.background,
                                          wait_url=_fill(twin.wait_url, models) if twin.wait_url else None))
    unmatched = [t.match for t in README_TWINS if not any(t.match in b.code for b in readme_blocks(README))]
    if unmatched:
        raise MarkupError(f"README_TWINS entries match no README block: {unmatched}")
    return blocks


def _pages_with_runnable_blocks() -> List[str]:
    pages = []
    for path in doc_pages():
        try:
            blocks = page_blocks(path)
        except MarkupError:
            blocks = [Block(path, 0, "python", "")]  # reported by test_every_block_is_run_or_marked
        if path == README or any(b.runs for b in blocks):
            pages.append(os.path.relpath(path, REPO))
    return pages


def _failure(page: str, run) -> str:
    tail = run.output[-4000:]
    where = f"{page}:{run.failed_line}" if run.failed_line else page
    return f"a code block of {where} failed (exit status {run.returncode}); output tail:\n{tail}"


def test_every_block_is_run_or_marked():
    problems = []
    for path in doc_pages():
        try:
            problems += check_marked(page_blocks(path))
        except MarkupError as exc:
            problems.append(str(exc))
    assert not problems, "\n".join(problems)


def test_markup_rules_are_enforced(tmp_path):
    """The parser refuses what would skip a block silently (so the check above can fail)."""
    page = tmp_path / "page.rst"
    page.write_text("T\n=\n\n.. code-block:: console\n\n   $ ls\n\n.. not-run: needs a GPU\n\n"
                    ".. code-block:: python\n\n   import torch\n   torch.cuda.init()\n\n"
                    ".. code-block:: python\n   :caption: x\n\n   x = 1\n")
    blocks = page_blocks(str(page))
    assert [(b.line, b.lang, b.not_run, b.code) for b in blocks] == [
        (6, "console", None, "$ ls\n"), (12, "python", "needs a GPU", "import torch\ntorch.cuda.init()\n"),
        (18, "python", None, "x = 1\n")]
    assert check_marked(blocks) == [f"{os.path.relpath(str(page), REPO)}:6: a `console` block is neither "
                                    f"python/bash nor marked `not-run: <reason>`"]
    page.write_text("T\n=\n\n.. not-run: typo below\n\nsome text\n")
    with pytest.raises(MarkupError, match="is not directly before a code block"):
        page_blocks(str(page))
    page.write_text(".. not-run:\n\n.. code-block:: bash\n\n   ls\n")
    with pytest.raises(MarkupError, match="needs a reason"):
        page_blocks(str(page))
    page.write_text(".. code-block:: bash\n\n   echo hi\n\n.. code-block:: text\n\n   hi\n\n.. code-block:: text\n\n   x\n")
    blocks = page_blocks(str(page))
    assert [(b.lang, b.expected_output) for b in blocks] == [("bash", "hi\n"), ("text", None)]
    assert len(check_marked(blocks)) == 1  # a second text block is no block's output
    assert output_matches("a\n...\nd\n", "a\nb\nc\nd  \n\n") and output_matches("a\n...\nd", "a\nd\n")
    assert not output_matches("a\n...\nd", "a\nb\n") and not output_matches("a\nb", "a\nb\nc")
    readme = tmp_path / "r.md"
    readme.write_text("```python\nprint(1)\n```\n\n```text\n1\n```\n\n<!-- not-run: downloads x -->\n```bash\nls\n```\n")
    blocks = page_blocks(str(readme))
    assert [(b.lang, b.not_run, b.expected_output) for b in blocks] == [("python", None, "1\n"),
                                                                        ("bash", "downloads x", None)]


def test_readme_size_and_links():
    assert os.path.getsize(README) <= README_MAX_BYTES
    text = open(README, encoding="utf-8").read()
    for target in re.findall(r"\]\(((?:docs|examples)/[^)#]+)\)", text):
        assert os.path.exists(os.path.join(REPO, target)), f"README links to a missing file: {target}"


def test_readme_clone_commands_are_ci():
    """README "From a clone" holds exactly the two commands ``.ci/run`` runs."""
    text = open(README, encoding="utf-8").read()
    section = text.split("## From a clone", 1)[1].split("\n## ", 1)[0]
    fences = [b for b in readme_blocks(README) if f"```bash\n{b.code}```" in section]
    assert len(fences) == 1 and fences[0].not_run, "From a clone must hold one marked bash block"
    assert fences[0].code.strip().split("\n") == _ci_commands()


#: docs pages run two at a time (each is one subprocess, mostly imports and process starts), README inline
PAGE_WORKERS = 2


@pytest.fixture(scope="module")
def docs_page_runs(tmp_path_factory):
    """Starts every docs page's run (not README's) on a pool of :data:`PAGE_WORKERS` threads the first time a
    page test asks, each in its own temporary folder with its own free port; page -> future of its run."""
    pool = ThreadPoolExecutor(max_workers=PAGE_WORKERS)
    runs: Dict[str, "Future[Tuple[List[Block], PageRun]]"] = {}

    def run_page(page: str) -> Tuple[List[Block], PageRun]:
        blocks = [b for b in page_blocks(os.path.join(REPO, page)) if b.runs]
        workdir = str(tmp_path_factory.mktemp("page"))
        return blocks, run_blocks(blocks, workdir, env={"PORT": str(_free_port())})

    for page in _pages_with_runnable_blocks():
        if os.path.join(REPO, page) != README:
            runs[page] = pool.submit(run_page, page)
    yield runs
    pool.shutdown(wait=True, cancel_futures=True)


@pytest.mark.parametrize("page", _pages_with_runnable_blocks())
def test_page_snippets_run(page, tmp_path, request):
    path = os.path.join(REPO, page)
    if path == README:
        models = {"minilm": request.getfixturevalue("minilm"), "m3": request.getfixturevalue("tiny_xlmr_m3"),
                  "reranker": request.getfixturevalue("xlmr_reranker_dir"),
                  "tiny_bert": request.getfixturevalue("tiny_bert"), "port": str(_free_port())}
        blocks = [b for b in readme_offline_blocks(models) if b.runs]
        run = run_blocks(blocks, str(tmp_path), env={"PORT": str(_free_port())})  # a free port for servers
    else:
        if any("get_model_path" in b.code for b in page_blocks(path) if b.runs):
            request.getfixturevalue("minilm")  # skips without the packaged all-MiniLM-L6-v2
        blocks, run = request.getfixturevalue("docs_page_runs")[page].result()
    assert run.returncode == 0, _failure(page, run)
    for block in blocks:
        if block.expected_output is not None:
            got = run.stdouts.get(block.line, "")
            assert output_matches(block.expected_output, got), (
                f"{page}:{block.line}: printed\n{got}\nbut the page shows\n{block.expected_output}")


def test_runner_reports_the_failing_block(tmp_path):
    """A failing block names its page line; earlier blocks' output is kept; later blocks do not run."""
    blocks = [Block("docs/x.rst", 3, "python", "value = 41\nprint('first', value + 1)\n"),
              Block("docs/x.rst", 9, "bash", "echo \"$REPO\" > repo.txt\ntest \"$PORT\" = 1234\n"),
              Block("docs/x.rst", 20, "python", "x = 1\nraise ValueError('boom')\n"),
              Block("docs/x.rst", 30, "python", "open('never.txt', 'w')\n")]
    run = run_blocks(blocks, str(tmp_path), timeout=120, env={"PORT": "1234"})
    assert run.returncode == 1 and run.failed_line == 20
    assert run.stdouts[3] == "first 42\n"
    assert 'File "docs/x.rst", line 21' in run.output and "ValueError: boom" in run.output
    assert (tmp_path / "repo.txt").read_text().strip() == REPO and not (tmp_path / "never.txt").exists()
    bash_fails = run_blocks([Block("docs/y.rst", 5, "bash", "false\necho unreachable\n")], str(tmp_path), timeout=60)
    assert bash_fails.failed_line == 5 and "unreachable" not in bash_fails.output
    assert "bash exited with status 1" in bash_fails.output
