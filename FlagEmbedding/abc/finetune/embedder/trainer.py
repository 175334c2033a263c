"""Embedder trainer (the shared :class:`~FlagEmbedding.abc.finetune.common.trainer.AbsTrainer` behaviour), with
optional retrieval evaluation."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Union

import torch
from torch import nn

from FlagEmbedding.abc.finetune.common.trainer import AbsTrainer
from FlagEmbedding.retrieval.training_eval import RetrievalEvaluation, evaluate_once


class AbsEmbedderTrainer(AbsTrainer):
    """Trainer for :class:`AbsEmbedderModel` wrappers: checkpoints are written with ``model.save``.

    With ``--gradient_cache`` each training step is
    :func:`~FlagEmbedding.finetune.common.gradient_cache.cached_training_step` (the cached contrastive loss).

    When its ``eval_dataset`` is a :class:`RetrievalEvaluation`, :meth:`evaluate` measures retrieval
    (``<prefix>_ndcg_at_10``, ``<prefix>_recall_at_100``) on the main process and logs it.
    """

    save_method = "save"

    def training_step(self, model: nn.Module, inputs: Dict[str, Any],
                      num_items_in_batch: Optional[Union[torch.Tensor, int]] = None) -> torch.Tensor:
        """The ``Trainer``'s step, or the cached-loss step with ``--gradient_cache``."""
        if not getattr(self.args, "gradient_cache", False):
            return super().training_step(model, inputs, num_items_in_batch)
        from FlagEmbedding.finetune.common.gradient_cache import cached_training_step

        return cached_training_step(self, model, inputs)

    def _load_best_model(self) -> None:
        """``--load_best_model_at_end``: the best checkpoint is loaded like a resumed one (into the wrapper's
        inner model, plus its extra files), since checkpoints hold the inner model, not the wrapper."""
        if self.is_deepspeed_enabled or self.is_fsdp_enabled:
            super()._load_best_model()
            return
        best = self.state.best_model_checkpoint
        assert best is not None, "the Trainer loads the best model only once it has one"
        self._load_from_checkpoint(best)

    def evaluate(self, eval_dataset: Any = None, ignore_keys: Optional[List[str]] = None,
                 metric_key_prefix: str = "eval") -> Dict[str, float]:
        """Retrieval metrics of the model being trained, or the ``Trainer``'s evaluation for other datasets."""
        evaluation = eval_dataset if eval_dataset is not None else self.eval_dataset
        if not isinstance(evaluation, RetrievalEvaluation):
            return super().evaluate(eval_dataset, ignore_keys=ignore_keys, metric_key_prefix=metric_key_prefix)
        model = self.accelerator.unwrap_model(self.model)
        values = evaluate_once(evaluation, model, self.tokenizer, self.is_world_process_zero())
        metrics = {f"{metric_key_prefix}_{name}": value for name, value in values.items()}
        self.log(metrics)
        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
        return metrics
