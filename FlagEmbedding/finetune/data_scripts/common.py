"""File helpers shared by the data scripts."""
from __future__ import annotations

import json
import os
import tempfile
from typing import Any, Dict, Iterable, List

from FlagEmbedding.abc.finetune.common.data import iter_json_records


def read_records(path: str) -> List[Dict[str, Any]]:
    """All records of a JSON-lines file (or JSON array file); invalid JSON names file and line."""
    return [record for _, record in iter_json_records(path)]


def write_jsonl(path: str, records: Iterable[Dict[str, Any]], ensure_ascii: bool) -> None:
    """Write records as JSON lines atomically (temporary file in the same folder + ``os.replace``)."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".jsonl")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            for record in records:
                out.write(json.dumps(record, ensure_ascii=ensure_ascii) + "\n")
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.remove(temp)
        raise
