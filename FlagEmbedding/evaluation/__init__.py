"""Benchmarks: ``python -m FlagEmbedding.evaluation.<name>`` for air_bench, beir, bright, custom, miracl, mkqa,
mldr, msmarco and mteb. Importing this package imports no benchmark."""
