"""Checks of the evaluation flags that need to know the embedder, made before any model loads.

Whether the embedder is a BGE-M3 model (lexical weights and ColBERT vectors) is decided from the model arguments
the way :meth:`FlagAutoModel.from_finetuned <FlagEmbedding.inference.auto_embedder.FlagAutoModel.from_finetuned>`
decides its class (``--embedder_model_class``, else the registry entry of the checkpoint's name), without loading
weights; the same checks run again on the loaded model, so a runner that builds its own models is checked too.
"""
from __future__ import annotations

from typing import Any, List, Optional

from FlagEmbedding.retrieval.index import M3_ONLY, SearchOptions
from FlagEmbedding.utils.errors import InputError

#: what the refusals of M3-only methods suggest instead
DENSE_ONLY_ALTERNATIVES = ("use --search_method dense, bm25 or hybrid (with a dense-only model hybrid fuses dense "
                           "and bm25), or an M3 model (--embedder_model_class encoder-only-m3)")


def class_is_m3(embedder_class: Any) -> bool:
    """Whether instances of ``embedder_class`` have M3 lexical weights and ColBERT vectors (what
    :func:`~FlagEmbedding.retrieval.index.is_m3` tests on a model)."""
    return hasattr(embedder_class, "compute_lexical_matching_score")


def embedder_is_m3(model_args: Any) -> Optional[bool]:
    """Whether the embedder of ``model_args`` is an M3 model, found without loading it: ``True`` / ``False``, or
    ``None`` when the auto class cannot place the name (loading it fails with its own message)."""
    from FlagEmbedding.inference.auto_embedder import FlagAutoModel

    try:
        embedder_class = FlagAutoModel.embedder_class(model_args.embedder_name_or_path,
                                                      getattr(model_args, "embedder_model_class", None))
    except InputError:
        return None
    return class_is_m3(embedder_class)


def check_search_flags(options: SearchOptions, m3: Optional[bool], embedder: str = "the embedder") -> None:
    """Refuse search settings the embedder cannot run (``m3``: whether it is an M3 model; ``None``: unknown, only
    the model-independent rules apply) with an :class:`InputError` naming the flags and what to use instead:

    * ``sparse`` / ``colbert``, or ``hybrid`` / ``all`` needing them, with a dense-only model;
    * ``--fusion_weights`` whose count is not the number of methods fused (the default ``--hybrid_methods``
      depend on the model: dense sparse for an M3 model, dense bm25 otherwise).
    """
    if m3 is None:
        return
    needed = options.representations(m3)
    m3_only: List[str] = [name for name in needed if name in M3_ONLY]
    if m3_only and not m3:
        via = "" if options.method in M3_ONLY else (
            f" (through --hybrid_methods {' '.join(options.resolved_hybrid_methods(m3))})" if options.method == "hybrid"
            else " (its final reranking uses dense, sparse and ColBERT scores)")
        raise InputError(f"--search_method {options.method}{via} needs {' and '.join(m3_only)} vectors, which only an "
                         f"M3 model has; {embedder} is dense-only: {DENSE_ONLY_ALTERNATIVES}.")
    if options.method in ("hybrid", "all") and options.fusion == "weighted" and options.fusion_weights is not None:
        methods = options.resolved_hybrid_methods(m3)
        if len(options.fusion_weights) != len(methods):
            source = "--hybrid_methods" if options.hybrid_methods is not None else (
                f"the default --hybrid_methods of {'an M3' if m3 else 'a dense-only'} model")
            raise InputError(f"--fusion_weights has {len(options.fusion_weights)} values for the {len(methods)} "
                             f"methods fused ({' '.join(methods)}: {source}); give one weight per method, in that "
                             "order, or set --hybrid_methods.")
