"""The embedder and reranker described by the ``embedder_*`` / ``reranker_*`` model arguments.

Shared by the evaluation runners and the data scripts (:mod:`~FlagEmbedding.finetune.data_scripts.hn_mine`,
:mod:`~FlagEmbedding.finetune.data_scripts.add_reranker_score`), whose model arguments use the same names. Which
argument sets which constructor keyword is derived from the constructors (see
:func:`FlagEmbedding.inference.options.route_kwargs`), not listed here.
"""
from __future__ import annotations

from typing import Any, Dict

from FlagEmbedding.utils.typing import Embedder

def model_kwargs(model_args: Any, side: str) -> Dict[str, Any]:
    """The ``from_finetuned`` keywords ``model_args`` set for ``side`` (``embedder`` / ``reranker``), for the
    class its ``SIDE_name_or_path`` / ``SIDE_model_class`` resolve to (see
    :func:`~FlagEmbedding.inference.options.route_kwargs`)."""
    from FlagEmbedding.inference.options import route_kwargs, target_class

    cls = target_class(side, getattr(model_args, f"{side}_name_or_path"),
                       getattr(model_args, f"{side}_model_class", None))
    return route_kwargs(model_args, side, cls)


def load_embedder(model_args: Any) -> Embedder:
    """``FlagAutoModel.from_finetuned`` over ``model_args.embedder_name_or_path`` and the options
    :func:`model_kwargs` finds (``examples_for_task`` may be a JSON file path; under torchrun each rank gets its
    own device)."""
    from FlagEmbedding.inference.auto_embedder import FlagAutoModel

    return FlagAutoModel.from_finetuned(model_args.embedder_name_or_path, **model_kwargs(model_args, "embedder"))


def load_reranker(model_args: Any) -> Any:
    """``FlagAutoReranker.from_finetuned`` over ``model_args.reranker_name_or_path`` and the options
    :func:`model_kwargs` finds."""
    from FlagEmbedding.inference.auto_reranker import FlagAutoReranker

    return FlagAutoReranker.from_finetuned(model_args.reranker_name_or_path, **model_kwargs(model_args, "reranker"))
