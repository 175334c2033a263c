"""custom-data arguments: the shared ones unchanged."""
from FlagEmbedding.abc.evaluation.arguments import AbsEvalArgs, AbsEvalModelArgs

CustomEvalArgs = AbsEvalArgs
CustomEvalModelArgs = AbsEvalModelArgs
