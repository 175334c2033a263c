"""fp32 CPU inference through oneDNN's linear kernel: the bias inside the GEMM and GELU fused into it.

PyTorch's CPU ``nn.Linear`` on a ``[batch, seq, hidden]`` input copies the bias into the output and then runs an
MKL GEMM over it; BERT-style encoders then run GELU as a separate pass over the ``[batch, seq, 4 * hidden]``
intermediate. oneDNN's linear (``torch.ops.mkldnn._linear_pointwise``, the kernel ``torch.compile`` emits for
CPU linears) applies the bias and the erf GELU inside the GEMM instead. Same operations in fp32: the outputs agree
with the stock path to float32 rounding (relative 1e-6), and the forward pass is faster (timings by CPU token
budget in ``benchmarks/profile_encode.py``). :func:`onednn_linears` switches this on for one block of inference
code; ``AbsInferenceModel.run_batches`` runs every single-device encode and ``compute_score`` inside it.
"""
from __future__ import annotations

import contextlib
import functools
import threading
import types
from typing import Callable, Iterator, List, Optional, Set, Tuple

import torch
from torch import nn

from FlagEmbedding.backends.cpu_info import is_cpu


#: Serialises patching and unpatching: concurrent blocks on one model (threads of a server) never patch a
#: module twice, and each block removes only the forwards it set (a call then runs the stock forward).
_PATCH_LOCK = threading.Lock()

#: Tokens an inference call must cover before its weights are prepacked (``onednn_linears(prepack=True)``):
#: packing costs about a forward pass over 300 tokens (all-MiniLM-L6-v2 and a BGE-M3-sized encoder alike) and
#: saves about 4% of every forward, so past this many tokens it repays itself several times.
PREPACK_MIN_TOKENS = 65536


def onednn_available() -> bool:
    """Whether this PyTorch build has oneDNN's fused linear kernel."""
    return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")


def _runs_on_onednn(inputs: torch.Tensor, linear: nn.Linear) -> bool:
    """Inference on fp32 CPU tensors without autograd: the only case the oneDNN forwards take."""
    return (
        not torch.is_grad_enabled()
        and inputs.dtype == torch.float32 and inputs.device.type == "cpu" and inputs.dim() >= 2
        and linear.weight.dtype == torch.float32 and linear.weight.device.type == "cpu"
        and linear.weight.layout == torch.strided
    )


class _OneDNNForward:
    """The forward of a patched module: oneDNN's linear of ``linear`` with ``attr`` fused after it, on
    ``weight`` (the linear's own or its prepacked copy); the module's own forward outside fp32 CPU inference."""

    def __init__(self, module: nn.Module, linear: nn.Linear, weight: torch.Tensor, attr: str, algorithm: str):
        self.module, self.linear, self.weight, self.attr, self.algorithm = module, linear, weight, attr, algorithm

    def __call__(self, inputs: torch.Tensor) -> torch.Tensor:
        if not _runs_on_onednn(inputs, self.linear):
            return type(self.module).forward(self.module, inputs)
        return torch.ops.mkldnn._linear_pointwise(inputs, self.weight, self.linear.bias, self.attr, [],
                                                  self.algorithm)


def _code_signature(function: Callable) -> Tuple:
    code = function.__code__
    return code.co_code, code.co_names, code.co_consts, code.co_varnames


@functools.lru_cache(maxsize=None)
def _is_dense_then_act(cls: type) -> bool:
    """Whether ``cls.forward`` is BERT's intermediate block, ``act(dense(x))`` (compared by bytecode: the BERT,
    RoBERTa, XLM-RoBERTa, ELECTRA, ... copies of that block all qualify; a subclass that changes it does not)."""
    from transformers.models.bert.modeling_bert import BertIntermediate

    forward = getattr(cls, "forward", None)
    return isinstance(forward, types.FunctionType) and _code_signature(forward) == _code_signature(
        BertIntermediate.forward)


def _is_erf_gelu(activation: Optional[nn.Module]) -> bool:
    from transformers.activations import GELUActivation

    if type(activation) is nn.GELU:
        return activation.approximate == "none"
    return type(activation) is GELUActivation and activation.act is nn.functional.gelu


def _fusable_dense_gelu(module: nn.Module) -> bool:
    dense = getattr(module, "dense", None)
    cls: type = type(module)
    return (type(dense) is nn.Linear and _is_dense_then_act(cls)
            and _is_erf_gelu(getattr(module, "intermediate_act_fn", None)))


@contextlib.contextmanager
def onednn_linears(model: nn.Module, device: str, prepack: bool = False) -> Iterator[None]:
    """Within the block, ``model``'s ``nn.Linear`` layers on an fp32 CPU ``device`` run oneDNN's linear, and
    each BERT-style intermediate block (``dense`` then erf GELU) runs as one fused call.

    ``prepack=True`` also reorders each fp32 weight once into oneDNN's blocked layout for the block's duration
    (a copy of the linear weights, freed on exit; about 4% faster forwards, worth it for calls of many tokens).
    Only inference takes the new path (no autograd, fp32 CPU tensors); anything else inside the block runs the
    modules' own forwards. The forwards are instance attributes removed on exit, so the model pickles, trains and
    saves as before. Blocks on one model in several threads share the first block's forwards until it exits, then
    run the stock ones. A no-op on other devices and builds without oneDNN.
    """
    if not (is_cpu(device) and onednn_available()):
        yield
        return
    patched: List[nn.Module] = []
    fused: Set[int] = set()  # ids of the linears inside fused blocks (blocks come before their children)
    with _PATCH_LOCK:  # another thread's block on the same model: its forwards are used, never replaced
        for module in model.modules():
            if "forward" in vars(module) or id(module) in fused:  # patched by another block or the user; fused
                continue
            if type(module) is nn.Linear:
                linear, attr, algorithm = module, "none", ""
            elif _fusable_dense_gelu(module):
                dense = module.dense
                assert isinstance(dense, nn.Linear)  # checked by _fusable_dense_gelu
                linear, attr, algorithm = dense, "gelu", "none"
                fused.add(id(linear))
            else:
                continue
            weight = linear.weight
            if prepack and weight.dtype == torch.float32 and weight.device.type == "cpu":
                weight = torch.ops.mkldnn._reorder_linear_weight(weight.detach(), None)
            module.forward = _OneDNNForward(module, linear, weight, attr, algorithm)
            patched.append(module)
    try:
        yield
    finally:
        with _PATCH_LOCK:
            for module in patched:
                del module.forward
