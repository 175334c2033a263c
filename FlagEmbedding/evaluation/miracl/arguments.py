"""MIRACL arguments: the shared ones unchanged."""
from FlagEmbedding.abc.evaluation.arguments import AbsEvalArgs, AbsEvalModelArgs

MIRACLEvalArgs = AbsEvalArgs
MIRACLEvalModelArgs = AbsEvalModelArgs
