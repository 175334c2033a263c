"""The FlagEmbedding 1.4.2 names that are not part of the design, in one place.

Two files serve the original's surface: :mod:`FlagEmbedding.module_aliases` answers the old *module paths*;
this module holds the old *method names*, as mixins the design classes inherit:

========================================  ==========================================================
mixin                                     1.4.2 names it adds (design name in brackets)
========================================  ==========================================================
:class:`InferencePoolCompat`              ``stop_self_pool()`` (``stop_pools()``),
                                          ``stop_multi_process_pool(pool)`` (``pool.stop()``)
:class:`QueryPoolCompat`                  ``stop_self_query_pool()`` (``stop_pools(QUERY_POOL_METHOD)``)
:class:`SearchStageCompat`                ``stop_multi_process_pool()`` (``stop_pools()``)
:class:`MTEBRetrieverCompat`              ``stop_pool()`` (``stop_pools()``)
:class:`EvaluatorCompat`                  ``get_results_df``, ``output_eval_results_to_json``,
                                          ``output_eval_results_to_markdown`` (summary module)
========================================  ==========================================================

A subclass written for 1.4.2 that *overrides* an old name keeps being called where the design calls the new
one (see :func:`route_legacy_overrides`).

Layering: every layer inherits from here, so this module imports the standard library only at module level;
what a shim needs from the package is imported when it runs.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional, Sequence

if TYPE_CHECKING:  # pragma: no cover
    import pandas

    from FlagEmbedding.abc.inference.pool import MultiProcessPool

__all__ = [
    "EvaluatorCompat", "InferencePoolCompat", "MTEBRetrieverCompat", "QueryPoolCompat", "SearchStageCompat",
    "route_legacy_overrides", "stop_model_pools",
]

_ROUTED = "__legacy_route__"


def design_method(cls: type, name: str) -> Callable[..., Any]:
    """The nearest ``name`` in ``cls``'s MRO that is a real implementation (not a route made below)."""
    for klass in cls.__mro__:
        function = vars(klass).get(name)
        if function is not None and not getattr(function, _ROUTED, False):
            return function
    raise AttributeError(f"{cls.__name__} has no {name}")


def route_legacy_overrides(cls: type, renames: Mapping[str, str]) -> None:
    """For each ``{old: new}``: when ``cls`` overrides ``old`` (and not ``new``), point ``new`` at the override.

    The design calls ``new`` without arguments (``stop_pools()``); with arguments it runs the design
    implementation (an old-name override takes none). The old name's default in these mixins calls the design
    implementation directly, so an override calling ``super()`` does not come back here.
    """
    for old, new in renames.items():
        if old not in vars(cls) or new in vars(cls):
            continue

        def route(self: Any, *args: Any, _old: str = old, _new: str = new, **kwargs: Any) -> Any:
            if args or kwargs:
                return design_method(type(self), _new)(self, *args, **kwargs)
            return getattr(self, _old)()

        setattr(route, _ROUTED, True)
        route.__name__ = route.__qualname__ = new
        route.__doc__ = f"Calls this class's ``{old}`` (its 1.4.2 name), which it overrides."
        setattr(cls, new, route)


def stop_model_pools(model: Any) -> None:
    """Stop the worker pools of a model handed to an evaluation stage: ``stop_pools()``, or ``stop_self_pool()``
    for a model written against 1.4.2 that only has that."""
    stop = getattr(model, "stop_pools", None) or getattr(model, "stop_self_pool", None)
    if stop is not None:
        stop()


class _Routing:
    """Installs :func:`route_legacy_overrides` of ``_LEGACY_NAMES`` on every subclass."""

    _LEGACY_NAMES: Mapping[str, str] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        renames = {}
        for klass in reversed(cls.__mro__):  # every compat mixin the class inherits
            renames.update(vars(klass).get("_LEGACY_NAMES", {}))
        route_legacy_overrides(cls, renames)


# ---------------------------------------------------------------------------------------------- inference
class InferencePoolCompat(_Routing):
    """1.4.2 pool names of ``AbsEmbedder`` / ``AbsReranker`` (design: ``stop_pools``)."""

    _LEGACY_NAMES = {"stop_self_pool": "stop_pools"}

    def stop_self_pool(self) -> None:
        """Stop this object's pools and free accelerator memory (1.4.2 name of ``stop_pools()``)."""
        design_method(type(self), "stop_pools")(self)

    @staticmethod
    def stop_multi_process_pool(pool: Optional["MultiProcessPool"]) -> None:
        """Stop a pool returned by ``start_multi_process_pool`` (1.4.2 name of ``pool.stop()``)."""
        if pool is not None:
            pool.stop()


class QueryPoolCompat:
    """1.4.2 name of the ICL embedder's query-pool stop."""

    def stop_self_query_pool(self) -> None:
        """Stop the query pool (1.4.2 name of ``stop_pools(QUERY_POOL_METHOD)``)."""
        self.stop_pools(self.QUERY_POOL_METHOD)  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------------- evaluation
class SearchStageCompat(_Routing):
    """1.4.2 name of ``EvalRetriever`` / ``EvalReranker.stop_pools()`` (stops the model's pools; not the
    inference models' static ``stop_multi_process_pool(pool)``)."""

    _LEGACY_NAMES = {"stop_multi_process_pool": "stop_pools"}

    def stop_multi_process_pool(self) -> None:
        """Stop the model's worker pools and free accelerator memory (1.4.2 name of ``stop_pools()``)."""
        design_method(type(self), "stop_pools")(self)


class MTEBRetrieverCompat(_Routing):
    """1.4.2 name of the MTEB retriever's ``stop_pools()``."""

    _LEGACY_NAMES = {"stop_pool": "stop_pools"}

    def stop_pool(self) -> None:
        """Stop every worker pool of the embedder, query pool included (1.4.2 name of ``stop_pools()``)."""
        design_method(type(self), "stop_pools")(self)


class EvaluatorCompat:
    """The 1.4.2 summary helpers of ``AbsEvaluator`` (design: :mod:`FlagEmbedding.abc.evaluation.summary`)."""

    @staticmethod
    def get_results_df(metric: str, eval_results_dict: Mapping[str, Mapping[str, Mapping[str, Mapping[str, float]]]]
                       ) -> "pandas.DataFrame":
        """One metric of ``{model: {reranker: {column: {metric: value}}}}`` as a table indexed by
        (Model, Reranker): an ``average`` column (NaN when a value is missing), then the sorted columns."""
        import pandas as pd

        rows = [(model, reranker, results) for model in sorted(eval_results_dict)
                for reranker, results in sorted(eval_results_dict[model].items())]
        columns = sorted({column for _, _, results in rows for column in results})
        table = pd.DataFrame(
            [[results.get(column, {}).get(metric) for column in columns] for _, _, results in rows],
            index=pd.MultiIndex.from_tuples([(m, r) for m, r, _ in rows], names=["Model", "Reranker"]),
            columns=columns, dtype=float,
        )
        table.insert(0, "average", table.mean(axis=1, skipna=False))
        return table

    @staticmethod
    def output_eval_results_to_json(eval_results_dict: Mapping[str, Any], output_path: str) -> None:
        """Write the summary dict as JSON (indent 4), atomically."""
        from FlagEmbedding.abc.evaluation.summary import write_summary

        write_summary(eval_results_dict, "json", output_path, [])

    @staticmethod
    def output_eval_results_to_markdown(eval_results_dict: Mapping[str, Any], output_path: str,
                                        metrics: Sequence[str]) -> None:
        """Write one markdown table per metric (see :func:`~FlagEmbedding.abc.evaluation.summary.summary_markdown`)."""
        from FlagEmbedding.abc.evaluation.summary import write_summary

        write_summary(eval_results_dict, "markdown", output_path, metrics)
