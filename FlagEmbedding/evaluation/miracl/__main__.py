"""``python -m FlagEmbedding.evaluation.miracl``."""
from typing import Optional, Sequence

from FlagEmbedding.abc.evaluation.runner import cli_main
from FlagEmbedding.evaluation.miracl import MIRACLEvalArgs, MIRACLEvalModelArgs, MIRACLEvalRunner


def main(argv: Optional[Sequence[str]] = None) -> MIRACLEvalRunner:
    """Parse the command line and run the MIRACL evaluation."""
    return cli_main(MIRACLEvalRunner, MIRACLEvalArgs, MIRACLEvalModelArgs, argv)


if __name__ == "__main__":
    main()
