"""``python -m FlagEmbedding.evaluation.mteb``."""
from typing import Optional, Sequence

from FlagEmbedding.abc.evaluation.runner import cli_main
from FlagEmbedding.evaluation.mteb import MTEBEvalArgs, MTEBEvalModelArgs, MTEBEvalRunner


def main(argv: Optional[Sequence[str]] = None) -> MTEBEvalRunner:
    """Parse the command line and run the MTEB evaluation."""
    return cli_main(MTEBEvalRunner, MTEBEvalArgs, MTEBEvalModelArgs, argv)


if __name__ == "__main__":
    main()
