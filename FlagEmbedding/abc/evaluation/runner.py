"""``AbsEvalRunner``: validate the data, build the models, evaluate every dataset, write the summary."""
from __future__ import annotations

import logging
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple, Type

from FlagEmbedding.retrieval import distributed
from FlagEmbedding.abc.evaluation.arguments import AbsEvalArgs, AbsEvalModelArgs
from FlagEmbedding.abc.evaluation.checks import check_search_flags, embedder_is_m3
from FlagEmbedding.retrieval.compare import check_baseline, compare_folders, compare_markdown
from FlagEmbedding.abc.evaluation.data_loader import AbsEvalDataLoader, as_list
from FlagEmbedding.abc.evaluation.evaluator import AbsEvaluator
from FlagEmbedding.abc.evaluation.scoring import EVAL_FOLDER, EVAL_RESULTS
from FlagEmbedding.abc.evaluation.models import load_embedder, load_reranker
from FlagEmbedding.abc.evaluation.searcher import EvalDenseRetriever, EvalReranker
from FlagEmbedding.abc.evaluation.summary import write_summary
from FlagEmbedding.retrieval.index import SearchOptions, is_m3
from FlagEmbedding.retrieval.metrics import headline_metric
from FlagEmbedding.retrieval.stores import index_store_args
from FlagEmbedding.utils.errors import InputError
from FlagEmbedding.utils.files import atomic_write_json, atomic_write_text, read_json_file
from FlagEmbedding.utils.plot import plot_eval_metric
from FlagEmbedding.utils.progress import JobSummary

logger = logging.getLogger(__name__)


class AbsEvalRunner:
    """Evaluates one benchmark from parsed arguments.

    Subclasses set :attr:`DATA_LOADER_CLASS` (and, where they differ, :attr:`EVALUATOR_CLASS` and
    :attr:`RETRIEVER_CLASS`) or override the ``load_*`` factories. All data is loaded and checked before
    any model is built, so bad input fails fast. Models are built on first use of :attr:`retriever`.
    """

    DATA_LOADER_CLASS: Optional[Type[AbsEvalDataLoader]] = None
    EVALUATOR_CLASS: Type[AbsEvaluator] = AbsEvaluator
    RETRIEVER_CLASS: Type[EvalDenseRetriever] = EvalDenseRetriever
    #: under torchrun, ranks share the corpus encoding (:meth:`encode_corpora`)
    DISTRIBUTED_ENCODING = True

    def __init__(self, eval_args: AbsEvalArgs, model_args: AbsEvalModelArgs):
        self.eval_args = eval_args
        self.model_args = model_args
        self._models: Optional[Tuple[EvalDenseRetriever, Optional[EvalReranker]]] = None
        #: ``[(dataset, splits)]`` of the current :meth:`run` (set once its data is checked)
        self._plan: Optional[List[Tuple[Optional[str], List[str]]]] = None
        #: the summary written by the current :meth:`run` (``{model: {reranker: {key: metrics}}}``)
        self.results: Optional[Dict[str, Any]] = None
        self.data_loader = self.load_data_loader()
        self.evaluator = self.load_evaluator()

    # ------------------------------------------------------------------ factories
    @staticmethod
    def get_models(model_args: AbsEvalModelArgs) -> Tuple[Any, Optional[Any]]:
        """Build the embedder (and the reranker when ``reranker_name_or_path`` is set) via the auto classes."""
        embedder = load_embedder(model_args)
        reranker = load_reranker(model_args) if model_args.reranker_name_or_path is not None else None
        return embedder, reranker

    def load_retriever_and_reranker(self) -> Tuple[EvalDenseRetriever, Optional[EvalReranker]]:
        """Wrap the models of :meth:`get_models` in the retrieval and reranking stages."""
        embedder, reranker = self.get_models(self.model_args)
        self.check_search_flags(is_m3(embedder))  # the model as loaded (models of an overridden get_models too)
        shard_rows = getattr(self.eval_args, "corpus_embd_shard_size", AbsEvalArgs.corpus_embd_shard_size)
        retriever = self.RETRIEVER_CLASS(embedder, search_top_k=self.eval_args.search_top_k,
                                         overwrite=self.eval_args.overwrite, cache_shard_rows=shard_rows,
                                         search_options=self.search_options(),
                                         faiss_factory=getattr(self.eval_args, "faiss_index_factory", None),
                                         **index_store_args(self.eval_args))
        return retriever, (EvalReranker(reranker, rerank_top_k=self.eval_args.rerank_top_k) if reranker else None)

    def search_options(self) -> SearchOptions:
        """The search settings of the arguments (dense for argument classes without the search flags)."""
        options = getattr(self.eval_args, "search_options", None)
        return options() if options is not None else SearchOptions()

    def embedder_is_m3(self) -> Optional[bool]:
        """Whether the embedder is an M3 model, told from the model arguments before it loads (see
        :func:`~FlagEmbedding.abc.evaluation.checks.embedder_is_m3`); ``None`` when unknown, or when a subclass
        builds its own models (:meth:`get_models` overridden)."""
        if type(self).get_models is not AbsEvalRunner.get_models or not hasattr(self.model_args,
                                                                                 "embedder_name_or_path"):
            return None
        return embedder_is_m3(self.model_args)

    def check_search_flags(self, m3: Optional[bool]) -> None:
        """Refuse search flags the embedder cannot run (``m3``: whether it is an M3 model, ``None`` unknown);
        see :func:`~FlagEmbedding.abc.evaluation.checks.check_search_flags`."""
        name = getattr(self.model_args, "embedder_name_or_path", None)
        check_search_flags(self.search_options(), m3, f"the embedder {name}" if name else "the embedder")

    def compare_files(self, plan: Sequence[Tuple[Optional[str], Sequence[str]]]) -> Dict[str, Dict[str, Any]]:
        """``{result file name: metadata}`` of every result file ``plan`` produces (what ``--compare_to`` needs)."""
        files: Dict[str, Dict[str, Any]] = {}
        for dataset_name, splits in plan:
            for sub in self.data_loader.sub_dataset_names(dataset_name):
                for split in splits:
                    files[self.evaluator.result_file_name(dataset_name, sub, split)] = {
                        "dataset_name": dataset_name, "split": split, **self.evaluator.sub_dataset_metadata(sub)}
        return files

    def check_compare_to(self, plan: Sequence[Tuple[Optional[str], Sequence[str]]]) -> None:
        """Before the run: the ``--compare_to`` folder holds results of every dataset and split of ``plan`` (see
        :func:`~FlagEmbedding.retrieval.compare.check_baseline`)."""
        if not getattr(self.evaluator, "PER_QUERY_COMPARISON", True):
            raise InputError(f"--compare_to is not available for {self.eval_args.eval_name}: its metric is not a "
                             "per-query relevance measure.")
        files = self.compare_files(plan)
        folder = self.eval_args.compare_to
        assert folder is not None, "check_compare_to() runs with --compare_to set"
        check_baseline(folder, files)

    def data_loader_class(self) -> Type[AbsEvalDataLoader]:
        """The loader class (:attr:`DATA_LOADER_CLASS` unless a benchmark picks one from its arguments)."""
        if self.DATA_LOADER_CLASS is None:
            raise NotImplementedError(f"{type(self).__name__} must set DATA_LOADER_CLASS or override load_data_loader().")
        return self.DATA_LOADER_CLASS

    def load_data_loader(self) -> AbsEvalDataLoader:
        """The benchmark's data loader built from ``eval_args``."""
        loader_class = self.data_loader_class()
        eval_name = self.eval_args.eval_name
        assert eval_name is not None, "AbsEvalArgs requires --eval_name"
        return loader_class(
            eval_name=eval_name, dataset_dir=self.eval_args.dataset_dir,
            cache_dir=self.eval_args.cache_path, token=self.eval_args.token,
            force_redownload=self.eval_args.force_redownload,
        )

    def load_evaluator(self) -> AbsEvaluator:
        """The benchmark's evaluator."""
        eval_name = self.eval_args.eval_name
        assert eval_name is not None, "AbsEvalArgs requires --eval_name"
        return self.EVALUATOR_CLASS(eval_name, self.data_loader, overwrite=self.eval_args.overwrite)

    @property
    def retriever(self) -> EvalDenseRetriever:
        """The retrieval stage (models are built on first access)."""
        if self._models is None:
            self._models = self.load_retriever_and_reranker()
        return self._models[0]

    @property
    def reranker(self) -> Optional[EvalReranker]:
        """The reranking stage, or ``None``."""
        self.retriever  # noqa: B018 - builds both models
        assert self._models is not None, "the retriever property builds both models"
        return self._models[1]

    # ------------------------------------------------------------------ running
    def dataset_names(self) -> List[Optional[str]]:
        """The checked ``--dataset_names``, else all available ones, else ``[None]`` (data at the root)."""
        if self.eval_args.dataset_names:
            return list(self.data_loader.check_dataset_names(self.eval_args.dataset_names))
        return list(self.data_loader.available_dataset_names()) or [None]

    def prepare(self) -> List[Tuple[Optional[str], List[str]]]:
        """Check names and splits and load/validate every dataset; return ``[(dataset, splits)]``."""
        names = self.dataset_names()
        requested = as_list(self.eval_args.splits)
        every_name: Sequence[Optional[str]] = self.data_loader.available_dataset_names() or [None]
        known = {split for name in every_name for split in self.data_loader.available_splits(name)}
        unknown = [split for split in requested if split not in known]
        if unknown:
            raise InputError(f"Unknown split '{unknown[0]}' for {self.eval_args.eval_name}; "
                             f"available: {', '.join(sorted(known))}.")
        plan = []
        for name in names:
            splits = self.data_loader.require_splits(requested, name)
            for sub in self.data_loader.sub_dataset_names(name):
                self.data_loader.validate(name, splits, sub)
            plan.append((name, splits))
        return plan

    def before_dataset(self, dataset_name: Optional[str]) -> None:
        """Hook run before each dataset (e.g. per-dataset instructions)."""

    def dataset_kwargs(self, dataset_name: Optional[str], splits: Sequence[str]) -> Dict[str, Any]:
        """Extra keyword arguments for both models on one dataset."""
        return {}

    def encode_corpora(self, plan: Sequence[Tuple[Optional[str], Sequence[str]]]) -> None:
        """Distributed runs: every rank encodes its share of the corpus caches :meth:`run` needs, then all
        wait for the slowest; the cache is then complete, so rank 0 only adopts the shards."""
        for dataset_name, splits in plan:
            self.before_dataset(dataset_name)
            self.evaluator.encode_corpus_shares(splits, self.eval_args.output_dir, self.retriever,
                                                self.eval_args.corpus_embd_save_dir, dataset_name=dataset_name,
                                                **self.dataset_kwargs(dataset_name, splits))
        self.retriever.stop_pools()
        distributed.barrier()
        self.retriever.overwrite = False  # an --overwrite cache was rebuilt by the ranks

    def run(self) -> None:
        """Evaluate every dataset, then rewrite the summary.

        Under torchrun (more than one process) the ranks first share the corpus encoding
        (:meth:`encode_corpora`); rank 0 alone then searches and writes results.
        """
        distributed.require_shared_folder(self.eval_args.corpus_embd_save_dir)
        self.check_search_flags(self.embedder_is_m3())  # before any data or model loads
        plan = self.prepare()
        self._plan = plan
        if getattr(self.eval_args, "compare_to", None):
            self.check_compare_to(plan)
        if distributed.is_distributed():
            self.encode_corpora(plan)
            if distributed.world()[0] != 0:
                return
        for dataset_name, splits in plan:
            self.before_dataset(dataset_name)
            self.evaluator(
                splits=splits,
                search_results_save_dir=self.eval_args.output_dir,
                retriever=self.retriever,
                reranker=self.reranker,
                corpus_embd_save_dir=self.eval_args.corpus_embd_save_dir,
                ignore_identical_ids=self.eval_args.ignore_identical_ids,
                k_values=self.eval_args.k_values,
                dataset_name=dataset_name,
                **self.dataset_kwargs(dataset_name, splits),
            )
        self.results = self.evaluate_metrics(self.eval_args.output_dir, self.eval_args.eval_output_method,
                                             self.eval_args.eval_output_path, self.eval_args.eval_metrics)
        plot = getattr(self.eval_args, "plot", None)
        if plot:
            plot_eval_metric(self.results, plot, self.eval_args.eval_metrics[0])
            logger.info("Figure of %s written to %s.", self.eval_args.eval_metrics[0], plot)
        compare_to = getattr(self.eval_args, "compare_to", None)
        if compare_to:
            self.compare(compare_to)

    def summary_parts(self) -> List[str]:
        """The closing log line of the command line (before its duration): where the summary was written and the
        first ``--eval_metrics`` metric of this run's last stage (the reranker's when there is one), see
        :func:`~FlagEmbedding.retrieval.metrics.headline_metric`."""
        parts = [f"wrote {self.eval_args.eval_output_path}"]
        if self.results is None or self._plan is None or not self.eval_args.eval_metrics:
            return parts
        stage = str(self.reranker) if self.reranker is not None else "NoReranker"
        scores = self.results.get(str(self.retriever), {}).get(stage, {})
        keys = [("-".join(part for part in (name, split) if part), f"{name or self.eval_args.eval_name}/{split}")
                for name, splits in self._plan for split in splits]
        return parts + [headline_metric(scores, keys, self.eval_args.eval_metrics[0])]

    def compare(self, other: str) -> Dict[str, Any]:
        """Compare this run's result folders with the results folder ``other`` (``--compare_to``); written next
        to the summary as ``<eval_output_path>.compare-<retriever>.{json,md}``. After :meth:`run`, only the result
        files of the datasets and splits it evaluated are compared."""
        model_dir = os.path.join(self.eval_args.output_dir, str(self.retriever))
        folders = [os.path.join(model_dir, "NoReranker")]
        if self.reranker is not None:
            folders.append(os.path.join(model_dir, str(self.reranker)))
        plan = getattr(self, "_plan", None)
        names = list(self.compare_files(plan)) if plan is not None else None
        comparisons = compare_folders(self.evaluator, folders, other, list(self.eval_args.eval_metrics), names=names)
        readable = {os.path.relpath(folder, self.eval_args.output_dir): files for folder, files in comparisons.items()}
        stem = f"{self.eval_args.eval_output_path}.compare-{self.retriever}"
        if self.eval_args.eval_output_method == "json":
            atomic_write_json(stem + ".json", readable)
        else:
            atomic_write_text(stem + ".md", compare_markdown(readable, other))
        logger.info("Comparison with %s written to %s.*.", other, stem)
        return readable

    @staticmethod
    def evaluate_metrics(search_results_save_dir: str, output_method: str = "markdown",
                         output_path: str = "./eval_dev_results.md",
                         metrics: Sequence[str] = ("ndcg_at_10", "recall_at_10")) -> Dict[str, Any]:
        """Collect ``<model>/<reranker>/EVAL/eval_results.json`` under the folder and write the summary."""
        if output_method not in ("json", "markdown"):
            raise InputError(f"Invalid output method: {output_method}. Available methods: ['json', 'markdown']")
        results: Dict[str, Dict[str, Any]] = {}
        for model in sorted(os.listdir(search_results_save_dir)):
            model_dir = os.path.join(search_results_save_dir, model)
            if not os.path.isdir(model_dir):
                continue
            for reranker in sorted(os.listdir(model_dir)):
                reranker_dir = os.path.join(model_dir, reranker)
                if not os.path.isdir(reranker_dir):
                    continue
                path = os.path.join(reranker_dir, EVAL_FOLDER, EVAL_RESULTS)
                if not os.path.exists(path):
                    logger.warning("%s is missing; skipping %s/%s in the summary.", path, model, reranker)
                    continue
                results.setdefault(model, {})[reranker] = read_json_file(path, "evaluation results file")
        write_summary(results, output_method, output_path, metrics)
        logger.info("Summary written to %s.", output_path)
        return results


def cli_main(runner_class: Type[Any], eval_args_class: Type[Any], model_args_class: Type[Any],
             argv: Optional[Sequence[str]] = None, description: Optional[str] = None,
             examples: Sequence[str] = ()) -> Any:
    """Parse ``argv`` (default ``sys.argv[1:]``) into the two dataclasses, build the runner and run it.

    ``description`` is the ``--help`` text and ``examples`` its closing command lines; wrap the call in :func:`FlagEmbedding.utils.cli.run_cli` for one-line
    user errors. The run ends with one INFO line (:meth:`AbsEvalRunner.summary_parts` and the duration), e.g.
    ``wrote ./eval_results.md, nDCG@10 0.64312 (scifact/test), 3 min 12 s``.
    """
    from FlagEmbedding.utils.cli import ArgumentParser, configure_logging

    configure_logging()
    parser = ArgumentParser((eval_args_class, model_args_class), description=description, examples=examples)
    eval_args, model_args = parser.parse_args_into_dataclasses(argv)
    try:
        if distributed.init_distributed() and not runner_class.DISTRIBUTED_ENCODING:
            raise InputError(f"{runner_class.__name__} does not split its work between torchrun processes; "
                             "run it with python (one process).")
        with JobSummary(logger) as job:
            runner = runner_class(eval_args=eval_args, model_args=model_args)
            runner.run()
        if distributed.world()[0] == 0:
            job.log(*runner.summary_parts())
    finally:
        distributed.shutdown()
    return runner
