"""Thin command line over :mod:`FlagEmbedding.finetune.data_scripts.split_data_by_length` (run ``python scripts/split_data_by_length.py --help``)."""
from FlagEmbedding.finetune.data_scripts.split_data_by_length import main
from FlagEmbedding.utils.cli import run_cli

if __name__ == "__main__":
    run_cli(main)
