"""``python -m FlagEmbedding.evaluation.msmarco``."""
from typing import Optional, Sequence

from FlagEmbedding.abc.evaluation.runner import cli_main
from FlagEmbedding.evaluation.msmarco import MSMARCOEvalArgs, MSMARCOEvalModelArgs, MSMARCOEvalRunner


def main(argv: Optional[Sequence[str]] = None) -> MSMARCOEvalRunner:
    """Parse the command line and run the MS MARCO evaluation."""
    return cli_main(MSMARCOEvalRunner, MSMARCOEvalArgs, MSMARCOEvalModelArgs, argv)


if __name__ == "__main__":
    main()
