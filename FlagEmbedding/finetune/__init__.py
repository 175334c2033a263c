"""Fine-tuning entry points: ``python -m FlagEmbedding.finetune.<kind>`` (see docs/guides/finetune*)."""
