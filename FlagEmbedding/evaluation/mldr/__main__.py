"""``python -m FlagEmbedding.evaluation.mldr``."""
from typing import Optional, Sequence

from FlagEmbedding.abc.evaluation.runner import cli_main
from FlagEmbedding.evaluation.mldr import MLDREvalArgs, MLDREvalModelArgs, MLDREvalRunner


def main(argv: Optional[Sequence[str]] = None) -> MLDREvalRunner:
    """Parse the command line and run the MLDR evaluation."""
    return cli_main(MLDREvalRunner, MLDREvalArgs, MLDREvalModelArgs, argv)


if __name__ == "__main__":
    main()
