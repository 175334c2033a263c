"""Thin command line over :mod:`FlagEmbedding.finetune.data_scripts.split_data_by_length` (run ``python scripts/split_data_by_length.py --help``)."""
from FlagEmbedding.finetune.data_scripts.split_data_by_length import main

if __name__ == "__main__":
    main()
