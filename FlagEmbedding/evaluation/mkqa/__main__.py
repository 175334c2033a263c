"""``python -m FlagEmbedding.evaluation.mkqa``."""
from typing import Optional, Sequence

from FlagEmbedding.abc.evaluation.runner import cli_main
from FlagEmbedding.evaluation.mkqa import MKQAEvalArgs, MKQAEvalModelArgs, MKQAEvalRunner


def main(argv: Optional[Sequence[str]] = None) -> MKQAEvalRunner:
    """Parse the command line and run the MKQA evaluation."""
    return cli_main(MKQAEvalRunner, MKQAEvalArgs, MKQAEvalModelArgs, argv)


if __name__ == "__main__":
    main()
