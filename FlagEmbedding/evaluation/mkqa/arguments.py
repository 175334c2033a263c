"""MKQA arguments: the shared ones unchanged."""
from FlagEmbedding.abc.evaluation.arguments import AbsEvalArgs, AbsEvalModelArgs

MKQAEvalArgs = AbsEvalArgs
MKQAEvalModelArgs = AbsEvalModelArgs
