"""``python -m FlagEmbedding.evaluation.beir``."""
from typing import Optional, Sequence

from FlagEmbedding.abc.evaluation.runner import cli_main
from FlagEmbedding.evaluation.beir import BEIREvalArgs, BEIREvalModelArgs, BEIREvalRunner


def main(argv: Optional[Sequence[str]] = None) -> BEIREvalRunner:
    """Parse the command line and run the BEIR evaluation."""
    return cli_main(BEIREvalRunner, BEIREvalArgs, BEIREvalModelArgs, argv)


if __name__ == "__main__":
    main()
