"""BRIGHT runner."""
from __future__ import annotations

from typing import Any, Dict, Optional, Sequence, Type

from FlagEmbedding.abc.evaluation.data_loader import AbsEvalDataLoader
from FlagEmbedding.abc.evaluation.runner import AbsEvalRunner
from FlagEmbedding.evaluation.bright.arguments import BrightEvalArgs
from FlagEmbedding.evaluation.bright.data_loader import BrightLongEvalDataLoader, BrightShortEvalDataLoader
from FlagEmbedding.evaluation.bright.prompts import BrightLongInstructions, BrightShortInstructions
from FlagEmbedding.evaluation.bright.searcher import BrightEvalDenseRetriever


class BrightEvalRunner(AbsEvalRunner):
    """BRIGHT: loader chosen by ``task_type``, per-dataset instructions, exclusions from every split's qrels."""

    RETRIEVER_CLASS = BrightEvalDenseRetriever
    eval_args: BrightEvalArgs

    def data_loader_class(self) -> Type[AbsEvalDataLoader]:
        return BrightShortEvalDataLoader if self.eval_args.task_type == "short" else BrightLongEvalDataLoader

    def before_dataset(self, dataset_name: Optional[str]) -> None:
        if self.eval_args.use_special_instructions:
            table = BrightShortInstructions if self.eval_args.task_type == "short" else BrightLongInstructions
            assert dataset_name is not None  # BRIGHT data is always named (the table lookup fails otherwise)
            self.retriever.stop_pools()
            self.retriever.embedder.query_instruction_for_retrieval = table[dataset_name]

    def dataset_kwargs(self, dataset_name: Optional[str], splits: Sequence[str]) -> Dict[str, Any]:
        qrels: Dict[str, Any] = {}
        for split in splits:
            qrels.update(self.data_loader.load_qrels(dataset_name, split=split))
        return {"retriever_qrels": qrels}
