"""File helpers shared by the data scripts."""
from __future__ import annotations

from typing import Any, Dict, List

from FlagEmbedding.abc.finetune.common.data import iter_json_records


def read_records(path: str) -> List[Dict[str, Any]]:
    """All records of a JSON-lines file (or JSON array file); invalid JSON or text names file and line."""
    return [record for _, record in iter_json_records(path)]
