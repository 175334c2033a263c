"""MTEB runner (mteb 2.x): evaluates the embedder on MTEB tasks and summarises main scores by task type."""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Sequence, Tuple, cast

from FlagEmbedding.abc.evaluation.runner import AbsEvalRunner
from FlagEmbedding.utils.files import atomic_path, atomic_write_json, atomic_write_text, read_json_file
from FlagEmbedding.evaluation.mteb.arguments import MTEBEvalArgs, MTEBEvalModelArgs
from FlagEmbedding.evaluation.mteb.prompts import get_task_def_by_task_name_and_type
from FlagEmbedding.evaluation.mteb.searcher import MTEBEvalDenseRetriever, MTEBEvalReranker
from FlagEmbedding.utils.errors import InputError

if TYPE_CHECKING:
    from mteb.abstasks.task_metadata import TaskType
    from mteb.types import EncodeKwargs

logger = logging.getLogger(__name__)

#: result sub-folders (mteb's names for a model without metadata)
RESULT_SUBFOLDER = os.path.join("no_model_name_available", "no_revision_available")


def main_score(scores: Mapping[str, Sequence[Mapping[str, Any]]]) -> Optional[float]:
    """``main_score * 100`` (2 decimals) of the first of test/dev/validation, subset ``default`` (else the first)."""
    for split in ("test", "dev", "validation"):
        if scores.get(split):
            entries = scores[split]
            entry = next((e for e in entries if e.get("hf_subset") == "default"), entries[0])
            return round(entry["main_score"] * 100, 2)
    return None


def summarize(task_scores: List[Tuple[str, str, float]]) -> Dict[str, Any]:
    """``{type: {task: score, ["CQADupstack": mean,] "Avg": mean}, "Avg": mean}`` (CQADupstack counted once)."""
    summary: Dict[str, Any] = {}
    overall: List[float] = []
    for task_type in dict.fromkeys(task_type for task_type, _, _ in task_scores):
        section: Dict[str, float] = {}
        cqadupstack: List[float] = []
        for t, name, score in task_scores:
            if t != task_type:
                continue
            section[name] = score
            if name.startswith("CQADupstack"):
                cqadupstack.append(score)
        counted = [score for name, score in section.items() if not name.startswith("CQADupstack")]
        if cqadupstack:
            section["CQADupstack"] = round(sum(cqadupstack) / len(cqadupstack), 2)
            counted.append(section["CQADupstack"])
        section["Avg"] = round(sum(counted) / len(counted), 2)
        overall.extend(counted)
        summary[task_type] = section
    summary["Avg"] = round(sum(overall) / len(overall), 2) if overall else None
    return summary


def task_scores(tasks_results: Dict[str, Dict[str, float]]) -> List[Tuple[str, str, float]]:
    """``(type, task, score)`` rows of ``{type: {task: score}}``, in order."""
    return [(task_type, name, score) for task_type, by_name in tasks_results.items() for name, score in by_name.items()]


def summary_markdown(summary: Dict[str, Any]) -> str:
    """One table per task type plus the overall average."""
    lines: List[str] = []
    for task_type, section in summary.items():
        if task_type == "Avg":
            continue
        lines += [f"## {task_type}", "", "| Task | Score |", "| :---- | :---: |"]
        lines += [f"| {name} | {score:.2f} |" for name, score in section.items()]
        lines.append("")
    lines += [f"**Avg**: {summary['Avg']:.2f}" if summary.get("Avg") is not None else "**Avg**: -", ""]
    return "\n".join(lines)


class MTEBEvalRunner(AbsEvalRunner):
    """Runs ``mteb.evaluate`` task by task with per-task instruction, examples and normalization.

    Results go to ``<output_dir>/<retriever>/no_model_name_available/no_revision_available/<Task>.json``
    (reused unless ``--overwrite``); the summary goes to ``eval_output_path`` as markdown (default) or JSON
    (``--eval_output_method json`` or a ``.json`` path).
    """

    RETRIEVER_CLASS = MTEBEvalDenseRetriever
    DISTRIBUTED_ENCODING = False
    eval_args: MTEBEvalArgs
    model_args: MTEBEvalModelArgs

    # No loader and no evaluator: the base factories promise both; this runner overrides run() and never uses them.
    def load_data_loader(self) -> None:  # type: ignore[override]
        """MTEB tasks load their own data."""
        return None

    def load_evaluator(self) -> None:  # type: ignore[override]
        """MTEB evaluates through ``mteb.evaluate``."""
        return None

    def load_retriever_and_reranker(self) -> Tuple[MTEBEvalDenseRetriever, Optional[MTEBEvalReranker]]:
        """The mteb model wrapper (and the reranker stage, unused by MTEB tasks)."""
        retriever, reranker = super().load_retriever_and_reranker()
        assert isinstance(retriever, MTEBEvalDenseRetriever)  # built from RETRIEVER_CLASS
        return retriever, (MTEBEvalReranker(reranker.reranker, reranker.rerank_top_k) if reranker else None)

    @property
    def retriever(self) -> MTEBEvalDenseRetriever:
        """The mteb model wrapper (models are built on first access)."""
        retriever = super().retriever
        assert isinstance(retriever, MTEBEvalDenseRetriever)  # see load_retriever_and_reranker
        return retriever

    def load_tasks(self) -> List[Any]:
        """``mteb.get_tasks`` filtered by ``--languages``, ``--tasks`` and ``--task_types``."""
        import mteb

        # the task types are command-line strings; mteb checks them against its TaskType names
        task_types = cast("Optional[List[TaskType]]", self.eval_args.task_types)
        return list(mteb.get_tasks(languages=self.eval_args.languages, tasks=self.eval_args.tasks,
                                   task_types=task_types))

    def prepare_task(self, task: Any) -> None:
        """Set instruction, examples and normalization for one task."""
        retriever = self.retriever
        name, task_type = task.metadata.name, task.metadata.type
        retriever.stop_pools()
        if self.eval_args.use_special_instructions:
            try:
                retriever.set_instruction(get_task_def_by_task_name_and_type(name, task_type))
            except ValueError:
                logger.warning("No instruction for %s (%s); using --query_instruction_for_retrieval.", name, task_type)
                retriever.set_instruction(self.model_args.query_instruction_for_retrieval)
        if self.eval_args.examples_path is not None:
            path = os.path.join(self.eval_args.examples_path, f"{name}.json")
            if os.path.exists(path):
                retriever.set_examples(read_json_file(path, "examples file"))
            else:
                logger.warning("No examples file %s; %s runs without examples.", path, name)
        retriever.set_normalize_embeddings(False if task_type == "Classification"
                                           else self.model_args.normalize_embeddings)

    def evaluate_task(self, task: Any, path: str) -> Any:
        """The task's ``TaskResult``: read from ``path`` or computed with ``mteb.evaluate`` and saved there."""
        import mteb
        from mteb.results import TaskResult

        if os.path.exists(path) and not self.eval_args.overwrite:
            return TaskResult.from_disk(Path(path))
        self.prepare_task(task)
        # mteb marks the other keys NotRequired, which its stubs import from typing only on Python >= 3.11
        encode_kwargs: EncodeKwargs = {"batch_size": self.retriever.embedder.batch_size}  # type: ignore[typeddict-item]
        result = mteb.evaluate(self.retriever, task, cache=None, overwrite_strategy="always",
                               encode_kwargs=encode_kwargs,
                               show_progress_bar=False).task_results[0]
        with atomic_path(path) as tmp:
            result.to_disk(Path(tmp))
        return result

    def run(self) -> None:
        """Evaluate every selected task (reusing saved results) and write the summary."""
        if self.eval_args.search_method != "dense" or self.eval_args.faiss_index_factory or \
                self.eval_args.index_backend != "memory":
            raise InputError("MTEB searches with its own exact dense retrieval: --search_method must be dense, "
                             "--index_backend memory and --faiss_index_factory unset (use the other benchmark CLIs "
                             "for other methods).")
        if self.eval_args.plot:
            raise InputError("--plot is not available for MTEB (its summary is per task type, not per dataset and "
                             "split); use the other benchmark CLIs for a figure, or leave out --plot.")
        if self.eval_args.compare_to:
            raise InputError("--compare_to is not available for MTEB (its results are mteb task scores, not search "
                             "result files); use the other benchmark CLIs to compare runs.")
        tasks = self.load_tasks()
        if not tasks:
            raise InputError(f"No MTEB task matches languages={self.eval_args.languages}, "
                             f"tasks={self.eval_args.tasks}, task_types={self.eval_args.task_types}.")
        output_folder = os.path.join(self.eval_args.output_dir, str(self.retriever))
        for task in tasks:
            self.evaluate_task(task, os.path.join(output_folder, RESULT_SUBFOLDER, f"{task.metadata.name}.json"))
        self.retriever.stop_pools()
        tasks_results = self.read_results(output_folder, tasks)
        path = self.eval_args.eval_output_path
        if self.eval_args.eval_output_method == "json" or path.endswith(".json"):
            self.output_json(tasks_results, path)
        else:
            atomic_write_text(path, summary_markdown(summarize(task_scores(tasks_results))))
        logger.info("MTEB summary written to %s.", path)

    def read_results(self, output_folder: str, tasks: List[Any]) -> Dict[str, Dict[str, float]]:
        """``{task_type: {task_name: main score}}`` read from ``<output_folder>/no_model_name_available/
        no_revision_available/<Task>.json`` (tasks without test/dev/validation scores are left out, with a warning)."""
        from mteb.results import TaskResult

        tasks_results: Dict[str, Dict[str, float]] = {}
        for task in tasks:
            path = os.path.join(output_folder, RESULT_SUBFOLDER, f"{task.metadata.name}.json")
            score = main_score(TaskResult.from_disk(Path(path)).scores)
            if score is None:
                logger.warning("%s has no test/dev/validation scores; it is left out of the summary.",
                               task.metadata.name)
                continue
            tasks_results.setdefault(task.metadata.type, {})[task.metadata.name] = score
        return tasks_results

    def output_json(self, tasks_results: Dict[str, Dict[str, float]], save_file: str) -> None:
        """Write the summary of ``tasks_results`` (see :func:`summarize`) as JSON, without indent."""
        atomic_write_json(save_file, summarize(task_scores(tasks_results)), indent=None)
