"""``python -m FlagEmbedding.evaluation.bright``."""
from typing import Optional, Sequence

from FlagEmbedding.abc.evaluation.runner import cli_main
from FlagEmbedding.evaluation.bright import BrightEvalArgs, BrightEvalModelArgs, BrightEvalRunner


def main(argv: Optional[Sequence[str]] = None) -> BrightEvalRunner:
    """Parse the command line and run the BRIGHT evaluation."""
    return cli_main(BrightEvalRunner, BrightEvalArgs, BrightEvalModelArgs, argv)


if __name__ == "__main__":
    main()
