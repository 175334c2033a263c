"""Code blocks of README.md and docs/**/*.rst: parsing, the ``not-run`` markers, and running a page's blocks.

Conventions (shared by every page):

* README: fences ```` ```python ```` and ```` ```bash ```` run; a fence whose previous non-blank line is
  ``<!-- not-run: <reason> -->`` does not run as written (the test runs an offline twin of it instead); a
  ```` ```text ```` fence after a python fence is that block's expected output (compared exactly).
* RST: ``.. code-block:: python`` / ``bash`` (and ``literalinclude`` with such a ``:language:``) run, unless the previous non-blank line is the comment
  ``.. not-run: <reason>``; a ``.. code-block:: text`` right after a block that runs is that block's expected
  output (a line ``...`` stands for any lines); ``::`` literal blocks are text and never run; any other language
  must be marked.
* Per page, the blocks run in document order in one fresh subprocess (:mod:`tests.docs.snippet_driver`): python
  blocks share one namespace, bash blocks each run in ``bash -euo pipefail``; the working directory is a
  temporary folder, ``$REPO`` is the repository root and ``$PORT`` a free port (for servers).
"""
from __future__ import annotations

import dataclasses
import glob
import json
import os
import re
import subprocess
import sys
from typing import Dict, List, Optional, Set, Tuple

from tests.helpers import REPO

RUN_LANGS = ("python", "bash")
README_OUTPUT_LANG = "text"
_FENCE = re.compile(r"^```\s*([\w+-]*)\s*$")
_README_MARK = re.compile(r"^<!--\s*not-run:(.*?)-->\s*$")
_RST_DIRECTIVE = re.compile(r"^(\s*)\.\.\s+(code-block|code|sourcecode|literalinclude)::\s*(\S*)\s*$")
_RST_MARK = re.compile(r"^\s*\.\.\s+not-run:(.*)$")


@dataclasses.dataclass
class Block:
    """One code block of a page: where it is, its language, its text and its ``not-run`` reason (if marked)."""

    page: str
    line: int  # 1-based line of the first line of code
    lang: str
    code: str
    not_run: Optional[str] = None
    expected_output: Optional[str] = None
    background: bool = False  # run in the background (a server), stopped when the page ends
    wait_url: Optional[str] = None  # polled until it answers 200 before the next block

    @property
    def runs(self) -> bool:
        """Whether the block is run as written."""
        return self.lang in RUN_LANGS and self.not_run is None


class MarkupError(ValueError):
    """A page whose blocks break the conventions (unknown language left unmarked, dangling marker, ...)."""


def _previous_nonblank(lines: List[str], index: int) -> Optional[str]:
    for j in range(index - 1, -1, -1):
        if lines[j].strip():
            return lines[j]
    return None


def _page_lines(path: str) -> Tuple[str, List[str]]:
    return os.path.relpath(path, REPO), open(path, encoding="utf-8").read().split("\n")


def _marker(lines: List[str], index: int, pattern: "re.Pattern[str]", page: str, used: Set[str]) -> Optional[str]:
    """The reason of the ``not-run`` marker directly before line ``index`` (blank lines between allowed)."""
    previous = _previous_nonblank(lines, index)
    mark = pattern.match(previous.strip()) if previous else None
    if not mark:
        return None
    used.add(previous or "")
    reason = mark.group(1).strip()
    if not reason:
        raise MarkupError(f"{page}:{index}: a not-run marker needs a reason (`not-run: <reason>`).")
    return reason


def _check_markers(page: str, lines: List[str], pattern: "re.Pattern[str]", used: Set[str]) -> None:
    for line in lines:
        if pattern.match(line.strip()) and line not in used:
            raise MarkupError(f"{page}: the marker {line.strip()!r} is not directly before a code block.")


def readme_blocks(path: str) -> List[Block]:
    """The fenced blocks of a markdown page, with their markers and expected outputs."""
    page, lines = _page_lines(path)
    blocks: List[Block] = []
    used: Set[str] = set()
    i = 0
    while i < len(lines):
        fence = _FENCE.match(lines[i])
        if not fence:
            i += 1
            continue
        end = i + 1
        while end < len(lines) and not lines[end].startswith("```"):
            end += 1
        if end == len(lines):
            raise MarkupError(f"{page}:{i + 1}: unclosed code fence.")
        lang = fence.group(1).lower()
        block = Block(page, i + 2, lang, "\n".join(lines[i + 1:end]) + "\n", _marker(lines, i, _README_MARK, page, used))
        if lang == README_OUTPUT_LANG and block.not_run is None:
            owner = blocks[-1] if blocks and blocks[-1].lang == "python" else None
            if owner is None:
                raise MarkupError(f"{page}:{i + 1}: a ```text fence must follow the python block it is the output of.")
            owner.expected_output = block.code
        else:
            blocks.append(block)
        i = end + 1
    _check_markers(page, lines, _README_MARK, used)
    return blocks


def rst_blocks(path: str) -> List[Block]:
    """The ``code-block`` directives of an RST page, with their markers."""
    page, lines = _page_lines(path)
    blocks: List[Block] = []
    used: Set[str] = set()
    for i, text in enumerate(lines):
        directive = _RST_DIRECTIVE.match(text)
        if not directive:
            continue
        indent = len(directive.group(1))
        j = i + 1
        options = {}
        while j < len(lines) and re.match(r"^\s+:[\w-]+:", lines[j]) and len(lines[j]) - len(lines[j].lstrip()) > indent:
            name, _, value = lines[j].strip()[1:].partition(":")
            options[name] = value.strip()
            j += 1  # directive options
        reason = _marker(lines, i, _RST_MARK, page, used)
        if directive.group(2) == "literalinclude":  # the included file is the block (its language: :language:)
            included = os.path.join(os.path.dirname(path), directive.group(3))
            code = open(included, encoding="utf-8").read() if os.path.isfile(included) else ""
            blocks.append(Block(page, i + 1, options.get("language", "").lower(), code, reason))
            continue
        while j < len(lines) and not lines[j].strip():
            j += 1
        first = j
        while j < len(lines) and (not lines[j].strip() or len(lines[j]) - len(lines[j].lstrip()) > indent):
            j += 1
        body = lines[first:j]
        if not any(b.strip() for b in body):
            raise MarkupError(f"{page}:{i + 1}: empty code block.")
        width = min(len(b) - len(b.lstrip()) for b in body if b.strip())
        code = "\n".join(b[width:] for b in body).rstrip() + "\n"
        lang = (directive.group(3) or "").lower()
        if lang == README_OUTPUT_LANG and reason is None and blocks and blocks[-1].runs \
                and blocks[-1].expected_output is None:
            blocks[-1].expected_output = code  # the printed output of the block before it, compared by the test
            continue
        blocks.append(Block(page, first + 1, lang, code, reason))
    _check_markers(page, lines, _RST_MARK, used)
    return blocks


def output_matches(expected: str, got: str) -> bool:
    """Whether ``got`` is the output a page shows: the same lines (trailing spaces and blank lines at either end
    ignored), where a line ``...`` of ``expected`` stands for any number of lines."""
    def lines(text: str) -> List[str]:
        return [line.rstrip() for line in text.strip("\n").split("\n")]
    pattern = "".join(r"(?:[^\n]*\n)*?" if line.strip() == "..." else re.escape(line) + r"\n" for line in lines(expected))
    return re.fullmatch(pattern, "\n".join(lines(got)) + "\n") is not None


def check_marked(blocks: List[Block]) -> List[str]:
    """Problems: blocks neither run nor marked (an unknown language) — none may be skipped silently."""
    return [f"{b.page}:{b.line}: a `{b.lang or '(no language)'}` block is neither python/bash nor marked "
            f"`not-run: <reason>`" for b in blocks if b.lang not in RUN_LANGS and b.not_run is None]


def doc_pages() -> List[str]:
    """README.md and every docs/**/*.rst page."""
    pages = [os.path.join(REPO, "README.md")]
    pages += sorted(p for p in glob.glob(os.path.join(REPO, "docs", "**", "*.rst"), recursive=True)
                    if "_build" not in p.split(os.sep))
    return pages


def page_blocks(path: str) -> List[Block]:
    """The blocks of ``path`` (markdown or RST)."""
    return readme_blocks(path) if path.endswith(".md") else rst_blocks(path)


@dataclasses.dataclass
class PageRun:
    """What running a page's blocks gave: the exit status, the combined output, per-block stdout."""

    returncode: int
    output: str
    stdouts: Dict[int, str]
    failed_line: Optional[int]


def run_blocks(blocks: List[Block], workdir: str, timeout: float = 600, env: Optional[Dict[str, str]] = None) -> PageRun:
    """Run ``blocks`` in order in one fresh python subprocess in ``workdir`` (see the module docstring)."""
    spec = os.path.join(workdir, ".snippets.json")
    results = os.path.join(workdir, ".snippets-results.json")
    with open(spec, "w", encoding="utf-8") as f:
        json.dump([dataclasses.asdict(b) for b in blocks], f)
    full_env = dict(os.environ)
    full_env.update({"REPO": REPO, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
                     "HF_HOME": os.path.join(workdir, ".hf"),  # caches (datasets, ONNX exports) stay in workdir
                     "HF_DATASETS_CACHE": os.path.join(workdir, ".hf", "datasets"),
                     "PYTHONPATH": os.pathsep.join([REPO] + [p for p in [os.environ.get("PYTHONPATH")] if p]),
                     "PATH": os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])})
    full_env.update(env or {})
    try:
        proc = subprocess.run([sys.executable, "-m", "tests.docs.snippet_driver", spec, results], cwd=workdir,
                              env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=timeout)
        returncode, output = proc.returncode, proc.stdout
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout or b""
        returncode, output = -9, (out.decode(errors="replace") if isinstance(out, bytes) else out)
        output += f"\n[timed out after {timeout:.0f} s]"
    stdouts: Dict[int, str] = {}
    failed = None
    if os.path.exists(results):
        with open(results, encoding="utf-8") as f:
            data = json.load(f)
        stdouts = {int(k): v for k, v in data["stdouts"].items()}
        failed = data.get("failed_line")
    return PageRun(returncode, output, stdouts, failed)
