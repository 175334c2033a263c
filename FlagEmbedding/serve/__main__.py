"""``python -m FlagEmbedding.serve --embedder PATH [--reranker PATH] ...``."""
import sys

from FlagEmbedding.serve.cli import main

if __name__ == "__main__":
    sys.exit(main())
