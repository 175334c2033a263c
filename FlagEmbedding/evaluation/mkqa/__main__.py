"""Evaluate an embedder (and optional reranker) on MKQA cross-lingual QA retrieval and write a metrics summary.

Run with ``python -m FlagEmbedding.evaluation.mkqa``; ``--help`` lists every flag.
"""
from typing import Optional, Sequence

from FlagEmbedding.abc.evaluation.runner import cli_main
from FlagEmbedding.evaluation.mkqa import MKQAEvalArgs, MKQAEvalModelArgs, MKQAEvalRunner
from FlagEmbedding.utils.cli import run_cli

#: the closing ``Examples:`` of ``--help`` (tests/utils/test_cli_examples.py parses every flag)
EXAMPLES = (
    "python -m FlagEmbedding.evaluation.mkqa --dataset_dir ./mkqa/data --dataset_names en zh_cn ja "
    "--splits test --embedder_name_or_path BAAI/bge-m3 --output_dir ./mkqa/search_results",
    "python -m FlagEmbedding.evaluation.mkqa --dataset_dir ./mkqa/data --dataset_names ar --splits test "
    "--embedder_name_or_path BAAI/bge-m3 --search_method hybrid --output_dir ./mkqa/search_results",
)


def main(argv: Optional[Sequence[str]] = None) -> MKQAEvalRunner:
    """Parse the command line and run the MKQA evaluation."""
    return cli_main(MKQAEvalRunner, MKQAEvalArgs, MKQAEvalModelArgs, argv, description=__doc__,
                    examples=EXAMPLES)


if __name__ == "__main__":
    run_cli(main)
