"""Every constructor option of every registered class can be set from every entry point that loads its side:
the evaluation CLIs (``AbsEvalModelArgs``), ``hn_mine``, ``add_reranker_score`` and the server. The options are
declared once, by the constructors; each route derives its mapping (``FlagEmbedding.inference.options``), and the
one exclusion list is :data:`~FlagEmbedding.inference.options.NOT_ROUTED` (each entry with its reason)."""
from __future__ import annotations

import argparse
import dataclasses
from typing import Any, Dict, List, Tuple

import pytest

from FlagEmbedding.abc.evaluation.arguments import AbsEvalModelArgs
from FlagEmbedding.finetune.data_scripts import add_reranker_score, hn_mine
from FlagEmbedding.inference import options as opts
from FlagEmbedding.serve.cli import build_parser
from FlagEmbedding.serve.options import model_kwargs, registry_options

ROUTE_ARGS = {"evaluation": AbsEvalModelArgs, "hn_mine": hn_mine.ModelArgs,
              "add_reranker_score": add_reranker_score.ModelArgs}


class Marker:
    """A value no constructor default equals: a route that reaches the keyword forwards it."""

    def __repr__(self) -> str:
        return "<set>"


#: values the shared adapters accept (they read devices and examples before forwarding)
SET_VALUES = {"devices": ["cpu"], "examples_for_task": [{"instruct": "i", "query": "q", "response": "r"}],
              "quantize": "int8"}


def cases(routes: Tuple[str, ...]) -> List[Tuple[str, str, type]]:
    return [(route, side, cls) for route in routes for side in opts.ROUTE_SIDES[route]
            for cls in opts.registered_classes(side)]


def declared(side: str, cls: type) -> set:
    return set(opts.constructor_keywords(opts.factory(side), [cls]))


def all_set(args_cls: type) -> Any:
    """An instance of ``args_cls`` with every field set (no ``__post_init__`` checks)."""
    args = args_cls.__new__(args_cls)
    for spec in dataclasses.fields(args_cls):
        keyword = spec.name
        for side in opts.SIDES:
            keyword = keyword[len(side) + 1:] if keyword.startswith(f"{side}_") else keyword
        setattr(args, spec.name, SET_VALUES.get(keyword, Marker()))
    return args


@pytest.mark.parametrize("route,side,cls", cases(("evaluation", "hn_mine", "add_reranker_score")),
                         ids=lambda value: getattr(value, "__name__", value))
def test_every_option_is_reachable_from_the_model_arguments(route, side, cls):
    forwarded = opts.route_kwargs(all_set(ROUTE_ARGS[route]), side, cls, route=route)
    missing = declared(side, cls) - opts.not_routed(route) - set(forwarded)
    assert not missing, (f"{route} cannot set {sorted(missing)} of {cls.__name__}: add a field to "
                         f"AbsEvalModelArgs (the data scripts derive theirs from it) or list it in NOT_ROUTED")


@pytest.mark.parametrize("route,side,cls", cases(("server",)), ids=lambda value: getattr(value, "__name__", value))
def test_every_option_is_reachable_from_the_server(route, side, cls):
    def value(dest: str) -> Any:
        keyword = dest
        for prefix in ("embedder_", "reranker_"):
            keyword = keyword[len(prefix):] if keyword.startswith(prefix) else keyword
        return SET_VALUES.get(keyword, Marker())

    namespace = argparse.Namespace(**{action.dest: value(action.dest) for action in build_parser()._actions})
    forwarded = model_kwargs(namespace, registry_options(), side)
    missing = declared(side, cls) - opts.not_routed(route) - set(forwarded)
    assert not missing, f"the server cannot set {sorted(missing)} of {cls.__name__}"


def test_every_exclusion_names_known_routes_and_a_reason():
    for name, (routes, reason) in opts.NOT_ROUTED.items():
        assert routes <= set(opts.ROUTES) and reason, name


def test_flags_added_for_options_1_4_2_had_no_flag_for_default_to_the_class():
    """A field added for an option keeps the class default, so a run changes only when it is set."""
    defaults = {spec.name: spec.default for spec in dataclasses.fields(AbsEvalModelArgs)}
    for side in opts.SIDES:
        for cls in opts.registered_classes(side):
            declared_defaults = opts.declared_defaults(None, cls)
            for name in ("colbert_dim", "suffix", "attn_implementation"):
                if name in declared_defaults:
                    assert defaults[name] == declared_defaults[name], (cls.__name__, name)


def test_the_defaults_forward_only_what_differs_from_the_receiver(tmp_path):
    """A default evaluation run forwards the values 1.4.2's command line set that differ from the class's own
    (and no runtime options), so existing corpus caches keep their fingerprint."""
    args = AbsEvalModelArgs(embedder_name_or_path="BAAI/bge-base-en-v1.5")
    cls = opts.target_class("embedder", args.embedder_name_or_path)
    assert opts.route_kwargs(args, "embedder", cls) == {
        "use_fp16": True, "use_bf16": False, "trust_remote_code": False, "query_instruction_format": "{}{}",
        "batch_size": 3000}


def test_qualified_options_travel_with_the_option_they_qualify():
    args = AbsEvalModelArgs(embedder_name_or_path="BAAI/bge-en-icl", embedder_backend="onnx")
    cls = opts.target_class("embedder", args.embedder_name_or_path)
    forwarded = opts.route_kwargs(args, "embedder", cls)
    assert forwarded["backend"] == "onnx" and forwarded["quantize"] is None and "onnx_cache_dir" in forwarded
    assert "examples_instruction_format" not in forwarded  # no examples: the class keeps its own format
    args.examples_for_task = [{"instruct": "i", "query": "q", "response": "r"}]
    assert opts.route_kwargs(args, "embedder", cls)["examples_instruction_format"] == "{}{}"


def test_an_option_of_another_class_warns_and_is_dropped(caplog):
    args = AbsEvalModelArgs(embedder_name_or_path="BAAI/bge-base-en-v1.5", colbert_dim=8)
    cls = opts.target_class("embedder", args.embedder_name_or_path)
    assert "colbert_dim" not in opts.route_kwargs(args, "embedder", cls)
    assert "--colbert_dim does not apply to BaseEmbedder" in caplog.text


def test_hn_mine_keeps_its_batch_size_flag_and_reaches_the_new_options():
    fields: Dict[str, Any] = {spec.name: spec for spec in dataclasses.fields(hn_mine.ModelArgs)}
    assert fields["batch_size"].default == 3000 and "embedder_batch_size" not in fields
    assert fields["pooling_method"].default == "cls"
    args = hn_mine.ModelArgs(embedder_name_or_path="BAAI/bge-base-en-v1.5", batch_size=7, truncate_dim=16)
    forwarded = opts.route_kwargs(args, "embedder", opts.target_class("embedder", args.embedder_name_or_path))
    assert (forwarded["batch_size"], forwarded["truncate_dim"], forwarded["pooling_method"]) == (7, 16, "cls")
