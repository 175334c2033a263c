"""FlagEmbedding: BGE embedders and rerankers, evaluation and fine-tuning."""
from FlagEmbedding import abc, utils
from FlagEmbedding.abc.inference import AbsEmbedder
from FlagEmbedding.inference.embedder.encoder_only import FlagModel
