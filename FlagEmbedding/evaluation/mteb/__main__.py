"""Evaluate an embedder on MTEB tasks through the mteb package and write the results.

Run with ``python -m FlagEmbedding.evaluation.mteb``; ``--help`` lists every flag.
"""
from typing import Optional, Sequence

from FlagEmbedding.abc.evaluation.runner import cli_main
from FlagEmbedding.evaluation.mteb import MTEBEvalArgs, MTEBEvalModelArgs, MTEBEvalRunner
from FlagEmbedding.utils.cli import run_cli

#: the closing ``Examples:`` of ``--help`` (tests/utils/test_cli_examples.py parses every flag)
EXAMPLES = (
    "python -m FlagEmbedding.evaluation.mteb --languages eng --tasks NFCorpus SciFact "
    "--embedder_name_or_path BAAI/bge-base-en-v1.5 --output_dir ./mteb/search_results --eval_output_path "
    "./mteb/eval_results.json",
    "python -m FlagEmbedding.evaluation.mteb --languages eng --task_types Retrieval STS "
    "--embedder_name_or_path BAAI/bge-base-en-v1.5 --use_special_instructions True --devices cuda:0",
)


def main(argv: Optional[Sequence[str]] = None) -> MTEBEvalRunner:
    """Parse the command line and run the MTEB evaluation."""
    return cli_main(MTEBEvalRunner, MTEBEvalArgs, MTEBEvalModelArgs, argv, description=__doc__,
                    examples=EXAMPLES)


if __name__ == "__main__":
    run_cli(main)
