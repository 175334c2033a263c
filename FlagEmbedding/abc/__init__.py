"""Abstract base classes shared by inference, evaluation and fine-tuning."""
