"""BEIR runner."""
from __future__ import annotations

from typing import Optional

from FlagEmbedding.abc.evaluation.runner import AbsEvalRunner
from FlagEmbedding.evaluation.beir.data_loader import BEIREvalDataLoader
from FlagEmbedding.evaluation.beir.evaluator import BEIREvaluator
from FlagEmbedding.evaluation.beir.prompts import BEIRInstructions


class BEIREvalRunner(AbsEvalRunner):
    """BEIR; with ``use_special_instructions`` each dataset gets its instruction from :data:`BEIRInstructions`."""

    DATA_LOADER_CLASS = BEIREvalDataLoader
    EVALUATOR_CLASS = BEIREvaluator

    def before_dataset(self, dataset_name: Optional[str]) -> None:
        if getattr(self.eval_args, "use_special_instructions", False):
            assert dataset_name is not None  # BEIR data is always named (the table lookup fails otherwise)
            self.retriever.stop_pools()
            self.retriever.embedder.query_instruction_for_retrieval = BEIRInstructions[dataset_name]
