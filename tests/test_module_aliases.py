"""The original's deep-import paths, served by the alias table of FlagEmbedding/module_aliases.py."""
import importlib
import subprocess
import sys

import pytest

from FlagEmbedding.module_aliases import MODULE_ALIASES, NAME_ALIASES


@pytest.mark.parametrize("old, new", sorted(MODULE_ALIASES.items()))
def test_old_path_forwards_to_the_module_that_holds_its_names(old, new):
    module, target = importlib.import_module(old), importlib.import_module(new)
    assert module.__name__ == old and module.__alias_of__ == new
    public = [name for name in vars(target) if not name.startswith("_")]
    assert public and all(getattr(module, name) is getattr(target, name) for name in public)
    assert set(public) <= set(dir(module))
    with pytest.raises(AttributeError):
        module.no_such_name  # noqa: B018


@pytest.mark.parametrize("old", sorted(NAME_ALIASES))
def test_old_path_forwards_each_name_to_the_module_that_holds_it(old):
    module = importlib.import_module(old)
    assert module.__name__ == old and sorted(module.__all__) == sorted(NAME_ALIASES[old])
    for name, target in NAME_ALIASES[old].items():
        assert getattr(module, name) is getattr(importlib.import_module(target), name)
    assert set(NAME_ALIASES[old]) <= set(dir(module))
    with pytest.raises(AttributeError):
        module.no_such_name  # noqa: B018


def test_original_evaluation_helpers_import():
    out = _run(
        "from FlagEmbedding.abc.evaluation.utils import evaluate_metrics, evaluate_mrr, index, search\n"
        "from FlagEmbedding.abc.evaluation.utils import *\n"
        "import FlagEmbedding.abc.evaluation.utils as utils\n"
        "print(evaluate_metrics.__module__, search.__module__, 'write_summary' in dir(), utils.__name__)\n"
    )
    assert out == ("FlagEmbedding.retrieval.metrics FlagEmbedding.retrieval.exact_search True "
                   "FlagEmbedding.abc.evaluation.utils")


def _run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.strip()


def test_subclassing_code_of_the_original_imports():
    out = _run(
        "from FlagEmbedding.abc.finetune.embedder.AbsModeling import AbsEmbedderModel, EmbedderOutput\n"
        "from FlagEmbedding.abc.finetune.reranker.AbsDataset import AbsRerankerTrainDataset\n"
        "from FlagEmbedding.abc.inference.AbsEmbedder import AbsEmbedder\n"
        "from FlagEmbedding.inference.reranker.decoder_only.models.gemma_model import CostWiseGemmaForCausalLM\n"
        "from FlagEmbedding.finetune.reranker.decoder_only.layerwise.modeling_minicpm_reranker import "
        "LayerWiseMiniCPMForCausalLM\n"
        "import FlagEmbedding.abc.finetune.embedder as package\n"
        "print(AbsEmbedderModel.__module__, AbsEmbedder.__module__, package.AbsModeling.__name__)\n"
    )
    assert out == ("FlagEmbedding.abc.finetune.embedder.modeling FlagEmbedding.abc.inference.embedder "
                   "FlagEmbedding.abc.finetune.embedder.AbsModeling")


def test_old_module_path_does_not_replace_the_exported_class():
    """``abc.inference`` exports the class ``AbsEmbedder`` and the original also had a module of that name."""
    out = _run(
        "from FlagEmbedding.abc.inference.AbsEmbedder import AbsEmbedder as old\n"
        "from FlagEmbedding.abc.inference import AbsEmbedder\n"
        "from FlagEmbedding import AbsReranker\n"
        "import FlagEmbedding.abc.inference.AbsReranker\n"
        "from FlagEmbedding.abc.inference import AbsReranker as again\n"
        "print(type(AbsEmbedder).__name__, AbsEmbedder is old, again is AbsReranker)\n"
    )
    assert out == "ABCMeta True True"


def test_unknown_old_path_still_fails():
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("FlagEmbedding.abc.inference.AbsNothing")
