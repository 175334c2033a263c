"""``python -m FlagEmbedding.evaluation.custom``."""
from typing import Optional, Sequence

from FlagEmbedding.abc.evaluation.runner import cli_main
from FlagEmbedding.evaluation.custom import CustomEvalArgs, CustomEvalModelArgs, CustomEvalRunner


def main(argv: Optional[Sequence[str]] = None) -> CustomEvalRunner:
    """Parse the command line and run the custom-data evaluation."""
    return cli_main(CustomEvalRunner, CustomEvalArgs, CustomEvalModelArgs, argv)


if __name__ == "__main__":
    main()
