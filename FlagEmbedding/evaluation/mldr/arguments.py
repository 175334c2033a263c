"""MLDR arguments: the shared ones unchanged."""
from FlagEmbedding.abc.evaluation.arguments import AbsEvalArgs, AbsEvalModelArgs

MLDREvalArgs = AbsEvalArgs
MLDREvalModelArgs = AbsEvalModelArgs
