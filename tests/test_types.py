"""Static types: ``python -m mypy FlagEmbedding`` with the ``[tool.mypy]`` config of pyproject.toml finds 0 errors.

Strictness (stated in pyproject.toml too): mypy defaults plus ``check_untyped_defs``, ``disallow_untyped_defs``
(every function annotated, package-wide), ``no_implicit_optional``, ``warn_unused_ignores`` and
``warn_redundant_casts``; third-party packages without types or stubs are listed with ``ignore_missing_imports``.
Every module is checked (no ``ignore_errors`` override); ``# type: ignore[code]`` comments carry a code, mostly
``override`` where a 1.4.2 signature is kept that differs from its base class's.
The mypy cache lives in ``.mypy_cache`` of the checkout (a warm run takes seconds, a cold one about 2 minutes).
"""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_mypy_finds_no_errors():
    pytest.importorskip("mypy")
    result = subprocess.run([sys.executable, "-m", "mypy", "FlagEmbedding"], cwd=ROOT, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert "Success: no issues found" in result.stdout


def test_embedder_protocol_is_importable_without_abc():
    code = ("import sys; from FlagEmbedding.utils.typing import Embedder, M3Output; "
            "assert not any(name.startswith('FlagEmbedding.abc') for name in sys.modules)")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=120)
