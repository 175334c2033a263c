"""Thin command line over :mod:`FlagEmbedding.finetune.data_scripts.add_reranker_score` (run ``python scripts/add_reranker_score.py --help``)."""
from FlagEmbedding.finetune.data_scripts.add_reranker_score import main
from FlagEmbedding.utils.cli import run_cli

if __name__ == "__main__":
    run_cli(main)
