"""Thin command line over :mod:`FlagEmbedding.finetune.data_scripts.hn_mine` (run ``python scripts/hn_mine.py --help``)."""
from FlagEmbedding.finetune.data_scripts.hn_mine import main
from FlagEmbedding.utils.cli import run_cli

if __name__ == "__main__":
    run_cli(main)
