"""FlagEmbedding/compat.py: the 1.4.2 method names, and subclasses written for 1.4.2 that override them."""
import ast
import os

from FlagEmbedding.abc.evaluation.evaluator import AbsEvaluator
from FlagEmbedding.abc.evaluation.searcher import EvalReranker
from FlagEmbedding.compat import EvaluatorCompat, SearchStageCompat, stop_model_pools
from tests.helpers import REPO


class _Model:
    def __init__(self):
        self.stopped = 0

    def stop_pools(self):
        self.stopped += 1


class _OldModel:
    """A model written against 1.4.2: only ``stop_self_pool``."""

    def __init__(self):
        self.stopped = 0

    def stop_self_pool(self):
        self.stopped += 1


def test_old_stage_name_stops_the_model_pools():
    model = _Model()
    EvalReranker(model).stop_multi_process_pool()
    assert model.stopped == 1
    old = _OldModel()
    EvalReranker(old).stop_pools()
    stop_model_pools(old)
    assert old.stopped == 2


def test_an_override_of_the_old_name_is_called_where_the_design_stops_pools():
    calls = []

    class Mine(EvalReranker):  # written for 1.4.2
        def stop_multi_process_pool(self):
            calls.append("mine")
            super().stop_multi_process_pool()

    model = _Model()
    Mine(model).stop_pools()  # what the evaluator calls
    assert calls == ["mine"] and model.stopped == 1

    class Deeper(Mine):
        pass

    Deeper(model).stop_pools()
    assert calls == ["mine", "mine"] and model.stopped == 2


def test_legacy_helpers_come_from_the_compat_mixins():
    assert issubclass(AbsEvaluator, EvaluatorCompat) and issubclass(EvalReranker, SearchStageCompat)
    assert AbsEvaluator.get_results_df is EvaluatorCompat.get_results_df
    assert "get_results_df" not in vars(AbsEvaluator)


def test_compat_imports_only_the_standard_library_at_module_level():
    """Every layer inherits from compat.py, so it may import nothing of the package when it loads."""
    with open(os.path.join(REPO, "FlagEmbedding", "compat.py"), encoding="utf-8") as f:
        tree = ast.parse(f.read())
    modules = [alias.name for node in tree.body if isinstance(node, ast.Import) for alias in node.names]
    modules += [node.module for node in tree.body if isinstance(node, ast.ImportFrom) and node.module]
    assert not [name for name in modules if name.startswith("FlagEmbedding")]
