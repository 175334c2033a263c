"""Small helpers shared by inference, evaluation and fine-tuning."""
from FlagEmbedding.utils.hub import from_pretrained

__all__ = ["from_pretrained"]
