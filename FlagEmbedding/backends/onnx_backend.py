"""ONNX backends: export an encoder once to a fingerprinted cache folder, then run it with ONNX Runtime
(``backend="onnx"``) or OpenVINO (``backend="openvino"``, the same graph compiled with f32 inference precision).

Layout of the cache (``onnx_cache_dir``, default ``$HF_HOME/flagembedding/onnx``)::

    onnx_cache_dir/<fingerprint[:16]>/model.onnx      # fp32 export, or its dynamic-int8 quantization
    onnx_cache_dir/<fingerprint[:16]>/manifest.json   # the fingerprint's identity and model.onnx's checksum

The exported graph is rewritten with the transformer fusions of ``onnxscript.rewriter.ort_fusions`` (fused
attention, skip-LayerNorm, bias-GELU: ONNX Runtime's contrib operators) before an int8 quantization, if any; for
int8 the fused attention also takes the attention mask as its mask index (:func:`mask_index_attention`), so the
quantizer makes its Q/K/V projection int8 too.
The fingerprint hashes the model files (path, size and mtime, as for the corpus embedding cache), the network
class, its inputs and output, the graph optimization, the quantization and the torch / exporter / runtime
versions. An entry is built in a
uniquely named temporary folder and swapped into place under the entry's lock file
(``onnx_cache_dir/<fingerprint[:16]>.lock``, see :func:`~FlagEmbedding.utils.files.replace_folder`), so a killed
export leaves nothing half-written and concurrent exports never see a half-replaced entry; an entry whose
manifest or checksum does not match is rebuilt. ONNX files are protobuf graphs: nothing is unpickled.
"""
from __future__ import annotations

import contextlib
import ctypes
import hashlib
import importlib
import json
import logging
import os
import sys
from typing import Any, Dict, Iterator, List, Optional, Sequence

import numpy as np
import torch
from transformers import PreTrainedConfig
from transformers.modeling_outputs import ModelOutput

from FlagEmbedding.utils.errors import InputError
from FlagEmbedding.utils.eval_mode import eval_mode
from FlagEmbedding.utils.files import (atomic_write_json, file_checksum, folder_lock, model_files_identity,
                                       read_json_file, replace_folder)
from FlagEmbedding.utils.progress import JobSummary, stage_bar

logger = logging.getLogger(__name__)

BACKENDS = ("torch", "onnx", "openvino")
QUANTIZATIONS = (None, "int8")
ONNX_FORMAT = 3
#: the graph rewrite applied after export (part of the cache fingerprint)
OPTIMIZATION = "onnxscript.ort_fusions"
OPSET = 18
MODEL_FILE = "model.onnx"
MANIFEST = "manifest.json"
#: the packages each backend imports, and the extra that installs them
RUNTIMES = {"onnx": (("onnxruntime", "onnx", "onnxscript"), "onnx"),
            "openvino": (("openvino", "onnxruntime", "onnx", "onnxscript"), "openvino")}


def check_backend(backend: Any, quantize: Any, devices: Sequence[str], unsupported_class: Optional[str] = None) -> None:
    """Reject an unknown ``backend`` / ``quantize``, int8 off ONNX Runtime, an ONNX backend for
    ``unsupported_class`` (the name of a class that cannot export, if it is one) or off the CPU (all with
    :class:`~FlagEmbedding.utils.errors.InputError`, a ``ValueError``), and a missing runtime (``ImportError``)."""
    if backend not in BACKENDS:
        raise InputError(f"backend must be one of {list(BACKENDS)}, got {backend!r}.")
    if quantize not in QUANTIZATIONS:
        raise InputError(f"quantize must be one of {list(QUANTIZATIONS)}, got {quantize!r}.")
    if quantize is not None and backend != "onnx":
        raise InputError(f"quantize={quantize!r} needs backend='onnx'.")
    if backend == "torch":
        return
    if unsupported_class is not None:
        raise InputError(f"backend={backend!r} is not available for {unsupported_class}: it serves encoder embedders "
                         f"(FlagModel, BGEM3FlagModel) and cross-encoder rerankers (FlagReranker); use backend='torch'.")
    if any(torch.device(device).type != "cpu" for device in devices):
        raise InputError(f"backend={backend!r} runs on the CPU only; got devices={list(devices)}: pass devices='cpu'.")
    packages, extra = RUNTIMES[backend]
    try:
        for package in packages:
            importlib.import_module(package)
    except ImportError as error:
        raise ImportError(f"backend={backend!r} needs {', '.join(packages[:-1])} and {packages[-1]}, which are not "
                          f"installed: pip install 'FlagEmbedding[{extra}]'") from error


def default_onnx_cache_dir() -> str:
    """``$HF_HOME/flagembedding/onnx`` (next to the Hugging Face download cache)."""
    from huggingface_hub import constants

    return os.path.join(constants.HF_HOME, "flagembedding", "onnx")


class _Exportable(torch.nn.Module):
    """Keyword-calling wrapper that returns one named output tensor (what the exporter traces)."""

    def __init__(self, model: torch.nn.Module, input_names: List[str], output: str):
        super().__init__()
        self.model, self.input_names, self.output = model, input_names, output

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return getattr(self.model(**dict(zip(self.input_names, inputs)), return_dict=True), self.output)


def onnx_identity(model_name_or_path: str, model: torch.nn.Module, input_names: List[str], output: str,
                  quantize: Optional[str]) -> Dict[str, Any]:
    """Everything the exported graph depends on, as a JSON-able dict."""
    import onnxruntime
    import onnxscript

    path = model_name_or_path
    return {
        "format": ONNX_FORMAT,
        "model": os.path.abspath(path) if os.path.isdir(path) else path,
        "weights": model_files_identity(path, model),
        "class": f"{type(model).__module__}.{type(model).__qualname__}",
        "inputs": list(input_names),
        "output": output,
        "optimization": OPTIMIZATION,
        "quantize": quantize,
        "opset": OPSET,
        "torch": torch.__version__,
        "onnxscript": onnxscript.__version__,
        "onnxruntime": onnxruntime.__version__,
    }


class _AlreadyBuilt(Exception):
    """Raised inside an export when a valid entry appeared meanwhile (the swap is skipped)."""


def _valid_entry(folder: str, identity: Dict[str, Any]) -> bool:
    try:
        manifest = read_json_file(os.path.join(folder, MANIFEST), "ONNX cache manifest")
        return isinstance(manifest, dict) and (manifest.get("identity") == identity
                and manifest.get("checksum") == file_checksum(os.path.join(folder, MODEL_FILE)))
    except (OSError, ValueError):
        return False


def mask_index_attention(model: Any) -> int:
    """Rewrite the fused ``Attention`` nodes of the ``onnx_ir`` model ``model`` into the form ONNX Runtime's dynamic
    quantizer turns into ``QAttention`` (int8 Q/K/V projection): the graph's 2-D ``attention_mask`` as each node's
    mask index in place of the additive bias the export traced from it, and no ``qkv_hidden_sizes`` (Q, K and V
    equally wide). Returns the number of nodes rewritten: none when the bias depends on the values of any other
    input, the widths differ, or a node is unidirectional or already has a mask index or past state."""
    import onnx_ir
    from onnx_ir.passes.common import RemoveUnusedNodesPass

    nodes = [node for node in model.graph if node.op_type == "Attention" and node.domain == "com.microsoft"]
    mask = next((value for value in model.graph.inputs if value.name == "attention_mask"), None)
    if not nodes or mask is None:
        return 0
    for node in nodes:
        inputs = list(node.inputs) + [None] * (6 - len(node.inputs))
        sizes = node.attributes.get("qkv_hidden_sizes")
        unidirectional = node.attributes.get("unidirectional")
        if (inputs[3] is not None or inputs[4] is not None or inputs[5] is None
                or (unidirectional is not None and unidirectional.as_int())
                or (sizes is not None and len(set(sizes.as_ints())) != 1)
                or _value_sources(inputs[5]) != {"attention_mask"}):
            return 0
    index = onnx_ir.node("Cast", [mask], {"to": onnx_ir.DataType.INT32}, name="attention_mask_index")
    model.graph.insert_before(next(iter(model.graph)), index)
    for node in nodes:
        node.resize_inputs(6)
        node.replace_input_with(3, index.outputs[0])
        node.replace_input_with(5, None)
        node.resize_inputs(4)
        node.attributes.pop("qkv_hidden_sizes", None)
    RemoveUnusedNodesPass()(model)
    return len(nodes)


def _value_sources(value: Any) -> set:
    """Names of the graph inputs whose values ``value`` is computed from (inputs read only through ``Shape`` do not
    count)."""
    sources, stack, seen = set(), [value], set()
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if current.is_graph_input():
            sources.add(current.name)
        producer = current.producer()
        if producer is not None and producer.op_type != "Shape":
            stack.extend(v for v in producer.inputs if v is not None)
    return sources


def _export(model: torch.nn.Module, input_names: List[str], output: str, path: str, int8: bool = False) -> int:
    """Export ``model`` with the dynamo exporter (dynamic batch and sequence axes) and fuse its transformer
    blocks for ONNX Runtime (see :data:`OPTIMIZATION`) into ``path``; with ``int8``, in the form its quantizer
    expects (:func:`mask_index_attention`). Returns the number of attention nodes that rewrite changed."""
    import onnx_ir
    from onnxscript.rewriter.ort_fusions import optimize_for_ort

    example = {"input_ids": torch.full((2, 8), 5), "attention_mask": torch.ones(2, 8, dtype=torch.long),
               "token_type_ids": torch.zeros(2, 8, dtype=torch.long)}
    example["attention_mask"][1, 4:] = 0  # a padded row, so no all-ones shortcut is traced
    inputs = tuple(example[name] for name in input_names)
    batch, seq = torch.export.Dim("batch"), torch.export.Dim("sequence")
    dynamic = {"inputs": tuple({0: batch, 1: seq} for _ in input_names)}
    with eval_mode(model), torch.no_grad():
        program = torch.onnx.export(_Exportable(model, input_names, output).eval(), inputs, dynamo=True,
                                    input_names=list(input_names), output_names=[output], dynamic_shapes=dynamic,
                                    opset_version=OPSET, verbose=False)
    assert program is not None  # the dynamo exporter always returns its program
    fused, counts = optimize_for_ort(program.model)
    counts["mask_index_attention"] = mask_index_attention(fused) if int8 else 0
    logger.info("ONNX Runtime fusions: %s", {name: count for name, count in counts.items() if count})
    onnx_ir.save(fused, path)
    return counts["mask_index_attention"]


def _matches_model(model: torch.nn.Module, input_names: List[str], output: str, path: str) -> bool:
    """True when the fp32 graph at ``path`` gives ``model``'s output (on the real tokens) for a batch of two random
    rows of up to 256 tokens, the second padded after a third: long enough that a causal or windowed mask the
    graph lost would show."""
    import onnxruntime

    config = model.config
    assert isinstance(config, PreTrainedConfig)  # an HF model (its config is read when exporting too)
    length = min(256, int(getattr(config, "max_position_embeddings", 258)) - 2)
    generator = torch.Generator().manual_seed(0)
    vocabulary = min(int(config.vocab_size), 1000)
    features = {"input_ids": torch.randint(5, vocabulary, (2, length), generator=generator),
                "attention_mask": torch.ones(2, length, dtype=torch.long),
                "token_type_ids": torch.zeros(2, length, dtype=torch.long)}
    features["attention_mask"][1, length // 3:] = 0
    with eval_mode(model), torch.no_grad():
        reference = _Exportable(model, input_names, output)(*(features[name] for name in input_names)).numpy()
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    got = session.run(None, {name: features[name].numpy() for name in input_names})[0]
    if reference.ndim == 3:  # per-token output: padded positions carry no meaning
        keep = features["attention_mask"].numpy().astype(bool)
        reference, got = reference[keep], got[keep]
    return bool(np.abs(got - reference).max() <= 1e-3 * max(1.0, float(np.abs(reference).max())))


def export_onnx(model_name_or_path: str, model: torch.nn.Module, input_names: List[str], output: str,
                cache_dir: str, quantize: Optional[str] = None) -> str:
    """Path of ``model``'s ONNX graph in ``cache_dir``, exported (and int8-quantized) on first use.

    ``model`` is called with ``input_names`` as keywords and ``output`` names the returned field
    (``last_hidden_state`` or ``logits``); batch and sequence sizes stay dynamic. An export shows one progress
    bar (export, then quantization) and ends with one INFO line: the file, its format and size, the duration.
    """
    identity = onnx_identity(model_name_or_path, model, input_names, output, quantize)
    fingerprint = hashlib.sha256(json.dumps(identity, sort_keys=True).encode("utf-8")).hexdigest()
    cache_dir = os.path.abspath(os.path.expanduser(cache_dir))
    target = os.path.join(cache_dir, fingerprint[:16])
    with folder_lock(target):
        if _valid_entry(target, identity):
            return os.path.join(target, MODEL_FILE)
    logger.info("Exporting %s to ONNX (%s) in %s.", model_name_or_path, quantize or "fp32", target)
    job = JobSummary(logger)

    def write(work: str) -> None:
        path = os.path.join(work, MODEL_FILE)
        with stage_bar(2 if quantize == "int8" else 1, "Exporting to ONNX", unit="step") as bar:
            if quantize == "int8":
                from onnxruntime.quantization import QuantType, quantize_dynamic

                fp32 = os.path.join(work, "fp32.onnx")
                rewritten = _export(model, input_names, output, fp32, int8=True)
                if rewritten and not _matches_model(model, input_names, output, fp32):
                    logger.warning("The attention mask as mask index changes the outputs of %s; quantizing it "
                                   "without (Q/K/V projections stay fp32).", model_name_or_path)
                    _export(model, input_names, output, fp32)
                bar.update(1)
                quantize_dynamic(fp32, path, weight_type=QuantType.QInt8)
                os.remove(fp32)
            else:
                _export(model, input_names, output, path)
            bar.update(1)
        atomic_write_json(os.path.join(work, MANIFEST), {"identity": identity, "checksum": file_checksum(path)})
        if _valid_entry(target, identity):  # another process built it meanwhile: keep theirs
            raise _AlreadyBuilt

    path = os.path.join(target, MODEL_FILE)
    try:
        replace_folder(target, write)  # a stale or corrupted entry is swapped out
    except _AlreadyBuilt:
        logger.info("%s was exported by another process meanwhile; using it.", path)
        return path
    job.log(f"wrote {path} (ONNX {quantize or 'fp32'}, {os.path.getsize(path) / 2 ** 20:.1f} MiB)")
    return path


class _SignalStack(ctypes.Structure):
    """``stack_t`` of ``sigaltstack(2)``."""

    _fields_ = [("ss_sp", ctypes.c_void_p), ("ss_flags", ctypes.c_int), ("ss_size", ctypes.c_size_t)]


_SS_DISABLE = 2


@contextlib.contextmanager
def preserved_signal_stack() -> Iterator[None]:
    """Give this thread back the alternate signal stack it had before the block (Linux; elsewhere a no-op).

    OpenVINO's CPU plugin (2026.4) installs a signal stack of its own on the thread that compiles a model and,
    when that compiled model is destroyed, puts back the stack it replaced. Two models destroyed in the order
    they were compiled leave the thread on the first one's unmapped stack, and the next signal handled there
    (a child process's SIGCHLD once torch's DataLoader has installed its handler, Ctrl-C) crashes the process or
    overwrites memory. Restoring the previous stack right after compiling keeps the thread on its own stack
    (Python's faulthandler stack, or none), which OpenVINO's destructor then leaves alone.
    """
    if not sys.platform.startswith("linux"):
        yield
        return
    libc = ctypes.CDLL(None, use_errno=True)
    previous = _SignalStack()
    if libc.sigaltstack(None, ctypes.byref(previous)) != 0:
        yield
        return
    try:
        yield
    finally:
        current = _SignalStack()
        libc.sigaltstack(None, ctypes.byref(current))
        if (current.ss_sp, current.ss_size) != (previous.ss_sp, previous.ss_size):
            restore = _SignalStack(previous.ss_sp, previous.ss_flags & _SS_DISABLE, previous.ss_size)
            if libc.sigaltstack(ctypes.byref(restore), None) != 0:
                logger.warning("Could not restore the alternate signal stack after compiling with OpenVINO "
                               "(errno %d).", ctypes.get_errno())


class OnnxEncoder(torch.nn.Module):
    """An exported graph, run by ONNX Runtime or OpenVINO, called like the Hugging Face model it came from.

    ``encoder(input_ids=..., attention_mask=..., return_dict=True)`` returns a ``ModelOutput`` whose ``output``
    field is a CPU float tensor, so the torch inference loops (pooling, heads, scoring) run unchanged.
    ``runtime="onnx"``: an ONNX Runtime session running its operators sequentially, each on as many threads as
    torch, with every graph optimization enabled. ``runtime="openvino"``: the graph compiled by OpenVINO for the
    CPU with f32 inference precision (never a silent bf16) on as many threads as torch. Either is built lazily,
    and again after pickling.
    """

    def __init__(self, path: str, input_names: List[str], output: str, config: Any, runtime: str = "onnx"):
        super().__init__()
        self.path, self.input_names, self.output, self.config = path, list(input_names), output, config
        self.runtime = runtime
        self._session: Any = None

    def session(self) -> Any:
        """The ``onnxruntime.InferenceSession`` or OpenVINO ``CompiledModel`` (created on first use)."""
        if self._session is None:
            if self.runtime == "openvino":
                import openvino

                with preserved_signal_stack():
                    self._session = openvino.Core().compile_model(self.path, "CPU", {
                        "INFERENCE_NUM_THREADS": torch.get_num_threads(), "INFERENCE_PRECISION_HINT": "f32",
                        "PERFORMANCE_HINT": "LATENCY"})
            else:
                import onnxruntime

                options = onnxruntime.SessionOptions()
                options.intra_op_num_threads = torch.get_num_threads()
                options.inter_op_num_threads = 1
                options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
                options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
                self._session = onnxruntime.InferenceSession(self.path, options, providers=["CPUExecutionProvider"])
        return self._session

    def __getstate__(self) -> Dict[str, Any]:
        state = self.__dict__.copy()
        state["_session"] = None
        return state

    def forward(self, return_dict: bool = True, **inputs: torch.Tensor) -> ModelOutput:
        feed = {name: np.ascontiguousarray(inputs[name].cpu().numpy(), dtype=np.int64) for name in self.input_names}
        if self.runtime == "openvino":
            result = self.session()(feed, share_inputs=False, share_outputs=False)[self.output]  # copies, no aliasing
        else:
            (result,) = self.session().run([self.output], feed)
        return ModelOutput({self.output: torch.from_numpy(np.ascontiguousarray(result))})
