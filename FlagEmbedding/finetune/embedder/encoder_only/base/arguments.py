"""Arguments of the encoder-only embedder: the abstract ones unchanged."""
from FlagEmbedding.abc.finetune.embedder import (
    AbsEmbedderDataArguments,
    AbsEmbedderModelArguments,
    AbsEmbedderTrainingArguments,
)

EncoderOnlyEmbedderModelArguments = AbsEmbedderModelArguments
EncoderOnlyEmbedderDataArguments = AbsEmbedderDataArguments
EncoderOnlyEmbedderTrainingArguments = AbsEmbedderTrainingArguments
