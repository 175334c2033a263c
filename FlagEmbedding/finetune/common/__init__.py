"""What every fine-tuning kind shares beyond the abstract bases: the ``__main__`` body (:mod:`.cli`), the
``TrainingArguments`` flags transformers 5 removed (:mod:`.legacy_flags`), LoRA loading (:mod:`.lora`), the
decoder tokenizer setup (:mod:`.tokenizer`) and the cached contrastive loss of the embedders
(:mod:`.gradient_cache`)."""
