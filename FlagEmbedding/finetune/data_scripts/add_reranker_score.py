"""Teacher scores for knowledge distillation: add ``pos_scores`` / ``neg_scores`` from a reranker.

``python scripts/add_reranker_score.py --input_file in.jsonl --output_file out.jsonl
--reranker_name_or_path BAAI/bge-reranker-v2-m3`` (see docs/guides/finetune_data.rst).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence


from FlagEmbedding.abc.evaluation.arguments import AbsEvalModelArgs
from FlagEmbedding.abc.evaluation.models import load_reranker as load_reranker_from_args
from FlagEmbedding.finetune.data_scripts.common import read_records
from FlagEmbedding.finetune.data_scripts.hn_mine import check_input_records
from FlagEmbedding.inference.options import side_model_args
from FlagEmbedding.utils.cli import ArgumentParser, configure_logging, run_cli
from FlagEmbedding.utils.files import atomic_write_jsonl
from FlagEmbedding.utils.errors import InputError
from FlagEmbedding.utils.progress import JobSummary, stage_bar

logger = logging.getLogger(__name__)


@dataclass
class ScoreArgs:
    """Input and output files."""

    input_file: str = field(metadata={"help": "JSONL training data with query / pos / neg."})
    output_file: str = field(metadata={"help": "Where the records with teacher scores are written."})


#: The teacher reranker (loaded with ``FlagAutoReranker.from_finetuned``): the evaluation's reranker arguments
#: (:func:`~FlagEmbedding.inference.options.side_model_args`).
ModelArgs = side_model_args(
    "ModelArgs", "reranker", AbsEvalModelArgs, module=__name__,
    doc="The teacher reranker (loaded with ``FlagAutoReranker.from_finetuned``); the reranker fields of "
        ":class:`~FlagEmbedding.abc.evaluation.arguments.AbsEvalModelArgs`.",
)


def load_reranker(model_args: Any) -> Any:
    """The reranker, through ``FlagAutoReranker.from_finetuned`` (see
    :func:`FlagEmbedding.abc.evaluation.models.load_reranker`)."""
    if model_args.reranker_name_or_path is None:
        raise InputError("reranker_name_or_path is required.")
    return load_reranker_from_args(model_args)


def add_scores(reranker: Any, records: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Records with ``pos_scores`` / ``neg_scores`` (floats) from one ``compute_score`` call over all pairs."""
    pairs = [[record["query"], text] for record in records
             for text in list(record["pos"]) + list(record.get("neg") or [])]
    with stage_bar(len(pairs), "Scoring pairs", unit="pair"):
        scores = reranker.compute_score(pairs) if pairs else []
    scores = [float(score) for score in ([scores] if isinstance(scores, (int, float)) else scores)]
    if len(scores) != len(pairs):
        raise ValueError(f"The reranker returned {len(scores)} scores for {len(pairs)} pairs.")
    scored, position = [], 0
    for record in records:
        record = dict(record)
        num_pos, num_neg = len(record["pos"]), len(record.get("neg") or [])
        record["pos_scores"] = scores[position:position + num_pos]
        record["neg_scores"] = scores[position + num_pos:position + num_pos + num_neg]
        position += num_pos + num_neg
        scored.append(record)
    return scored


def run(score_args: ScoreArgs, model_args: Any) -> None:
    """Read, score, write ``output_file`` (JSONL, ASCII-escaped); the last log line says what was written where,
    the number of pairs scored and how long it took."""
    job = JobSummary(logger)
    records = read_records(score_args.input_file)
    check_input_records(score_args.input_file, records)
    scored = add_scores(load_reranker(model_args), records)
    atomic_write_jsonl(score_args.output_file, scored, ensure_ascii=True)
    pairs = sum(len(record["pos_scores"]) + len(record["neg_scores"]) for record in scored)
    job.log(f"wrote {score_args.output_file} ({len(scored)} records)", f"{pairs} pairs scored")


#: the closing ``Examples:`` of ``--help`` (tests/utils/test_cli_examples.py parses every flag)
EXAMPLES = (
    "python scripts/add_reranker_score.py --input_file train_minedHN.jsonl --output_file "
    "train_score.jsonl --reranker_name_or_path BAAI/bge-reranker-v2-m3 --reranker_max_length 512 "
    "--reranker_batch_size 256",
    "python -m FlagEmbedding.finetune.data_scripts.add_reranker_score --input_file train_minedHN.jsonl "
    "--output_file train_score.jsonl --reranker_name_or_path BAAI/bge-reranker-v2-gemma --use_fp16 True "
    "--devices cuda:0 cuda:1",
)


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Command-line entry point (``scripts/add_reranker_score.py``)."""
    configure_logging()
    parser = ArgumentParser((ScoreArgs, ModelArgs), description=__doc__, examples=EXAMPLES)
    score_args, model_args = parser.parse_args_into_dataclasses(argv)
    run(score_args, model_args)


if __name__ == "__main__":
    run_cli(main)
