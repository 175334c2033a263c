"""MS MARCO arguments: the shared ones unchanged."""
from FlagEmbedding.abc.evaluation.arguments import AbsEvalArgs, AbsEvalModelArgs

MSMARCOEvalArgs = AbsEvalArgs
MSMARCOEvalModelArgs = AbsEvalModelArgs
