"""JSONL and JSON files for tests."""
from __future__ import annotations

import json
import os
from typing import Any, Dict, Iterable


def write_jsonl(path: str, rows: Iterable[Any]) -> str:
    """Write ``rows`` one per line (dicts as JSON with non-ASCII kept, strings as they are); return ``path``."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write((row if isinstance(row, str) else json.dumps(row, ensure_ascii=False)) + "\n")
    return path


def read_json(path: str) -> Dict:
    """The JSON value in ``path``."""
    with open(path, encoding="utf-8") as f:
        return json.load(f)
