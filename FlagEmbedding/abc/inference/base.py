"""State and multi-device dispatch shared by :class:`AbsEmbedder` and :class:`AbsReranker`."""
from __future__ import annotations

import difflib
import functools
import gc
import inspect
import logging
import warnings
from abc import ABC
from typing import Any, Callable, Dict, FrozenSet, List, Optional, Sequence, Tuple, TypeVar

import torch

from transformers import AutoTokenizer

from FlagEmbedding.abc.inference.batching import run_length_sorted
from FlagEmbedding.backends.cpu_info import warn_if_cpu_bf16_slow
from FlagEmbedding.abc.inference.devices import DevicesArg, compute_dtype, empty_device_cache, get_target_devices, is_cpu
from FlagEmbedding.backends.onednn import PREPACK_MIN_TOKENS, onednn_linears
from FlagEmbedding.backends.onnx_backend import OnnxEncoder, check_backend, default_onnx_cache_dir, export_onnx
from FlagEmbedding.abc.inference.pool import MultiProcessPool
from FlagEmbedding.utils.hub import from_pretrained
from FlagEmbedding.compat import InferencePoolCompat

logger = logging.getLogger(__name__)

T = TypeVar("T")


@functools.lru_cache(maxsize=None)
def package_options(cls: type) -> FrozenSet[str]:
    """Names of the parameters the constructors of this package in ``cls``'s MRO declare.

    Each of those classes stores its own options; :class:`AbsInferenceModel` stores every other keyword as an
    attribute (a user's subclass that passes its options on as keywords still finds them on the instance).
    """
    return frozenset(
        name
        for klass in cls.__mro__
        if klass.__module__.startswith("FlagEmbedding.") and "__init__" in vars(klass)
        for name, parameter in inspect.signature(vars(klass)["__init__"]).parameters.items()
        if parameter.kind not in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
    )


@functools.lru_cache(maxsize=None)
def declared_options(cls: type) -> FrozenSet[str]:
    """Names of the parameters every constructor in ``cls``'s MRO declares (this package's and a user
    subclass's) plus the :attr:`AbsInferenceModel.record_options` it reads from ``self.kwargs``: the options of
    ``cls``."""
    return frozenset(getattr(cls, "record_options", ())) | frozenset(
        name
        for klass in cls.__mro__
        if klass is not object and "__init__" in vars(klass)
        for name, parameter in inspect.signature(vars(klass)["__init__"]).parameters.items()
        if name not in ("self", "model_name_or_path")
        and parameter.kind not in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
    )


#: Options that never change the vectors a model computes (left out of the corpus-cache fingerprint, see
#: :func:`~FlagEmbedding.retrieval.embedding_cache.embedder_fingerprint`): where and how fast it runs, where
#: files are kept, what type the result has.
RUNTIME_OPTIONS = frozenset({"cache_dir", "devices", "device", "trust_remote_code", "batch_size",
                             "convert_to_numpy", "onnx_cache_dir"})  # device: the old spelling of devices


def check_keywords(cls: type, kwargs: Dict[str, Any]) -> Dict[str, Any]:
    """Warn about a keyword ``cls`` does not declare that is close to one it does (``did you mean``), and turn
    ``device=`` into ``devices=`` with a warning (``ValueError`` when both are given). Returns the keywords."""
    if "device" in kwargs and "device" not in declared_options(cls):
        if kwargs.get("devices") is not None:
            raise ValueError(f"{cls.__name__}: pass either devices= or device=, not both (device= is the old "
                             f"spelling of devices=).")
        kwargs = dict(kwargs)
        kwargs["devices"] = kwargs.pop("device")
        warnings.warn(f"{cls.__name__}: device= is taken as devices={kwargs['devices']!r}; use devices= (FlagEmbedding "
                      "1.4.2 ignored device= and ran on every available GPU).", FutureWarning,
                      stacklevel=_caller_stacklevel(cls))
    declared = sorted(declared_options(cls))
    for key in kwargs:
        if key in declared or key == "devices":
            continue
        close = difflib.get_close_matches(key, declared, n=1, cutoff=0.8)
        if close:
            warnings.warn(f"{cls.__name__} got an unknown keyword {key!r}; did you mean {close[0]!r}? ({key!r} is "
                          f"kept as an attribute, which no option of {cls.__name__} reads.)", UserWarning,
                          stacklevel=_caller_stacklevel(cls))
    return kwargs


def _caller_stacklevel(cls: type) -> int:
    """The ``stacklevel`` of the code that called the constructor chain of ``cls`` (the frames of
    :func:`check_keywords` and of the ``__init__`` methods of the instance being built are skipped)."""
    frame = inspect.currentframe()
    frame = frame.f_back.f_back if frame is not None and frame.f_back is not None else None  # check_keywords' caller
    level = 2
    while frame is not None and frame.f_code.co_name == "__init__" and isinstance(frame.f_locals.get("self"), cls):
        frame, level = frame.f_back, level + 1
    return level


class AbsInferenceModel(ABC, InferencePoolCompat):
    """Holds the model, its tokenizer, the target devices and the per-device worker pools.

    Pools are keyed by the single-device method their workers run (``pool_method`` for ``encode`` /
    ``compute_score``, other methods for other entry points); they start lazily in :meth:`run_on_devices`,
    at most one runs at a time (each holds the model on every device), and :meth:`stop_pools` is the one
    way to stop them (the 1.4.2 names come from :class:`~FlagEmbedding.compat.InferencePoolCompat`). The
    loading and batching helpers read ``use_fp16``, which the subclasses store.

    Every option is a declared parameter, stored by the class that declares it. A keyword that no constructor
    of this package declares is stored as an attribute of the same name, as FlagEmbedding 1.4.2 stored every
    extra keyword (subclasses written against it read their own options that way); see
    :func:`package_options`.

    Args:
        model_name_or_path: Hub id or local folder of the model.
        devices: See :func:`~FlagEmbedding.abc.inference.devices.get_target_devices`.
        use_bf16: bfloat16 on every device, the CPU included (opt-in; faster, slightly less exact).
        trust_remote_code: Passed to ``from_pretrained``.
        cache_dir: Hugging Face download cache.
        backend: ``"torch"``, ``"onnx"`` (ONNX Runtime) or ``"openvino"`` (OpenVINO), both on CPU for classes
            that set :attr:`onnx_output`.
        quantize: ``None`` or ``"int8"`` (dynamic int8 ONNX weights, ONNX Runtime only).
        onnx_cache_dir: Where exported graphs are kept (default
            :func:`~FlagEmbedding.backends.onnx_backend.default_onnx_cache_dir`).
        **kwargs: Keywords no constructor here declares: stored as attributes. One that is close to a declared
            option warns with a did-you-mean (see :func:`check_keywords`); ``device=`` is taken as ``devices=``
            with a ``FutureWarning`` (``ValueError`` when both are given).
    """

    pool_method: str = ""
    #: options no constructor parameter declares, read from ``self.kwargs`` as FlagEmbedding 1.4.2 did
    record_options: Tuple[str, ...] = ()
    #: keyword arguments ``tokenizer.pad`` receives on every batch
    pad_kwargs: Dict[str, Any] = {}
    #: set once the CPU bf16 probe has run for this instance (see :func:`warn_if_cpu_bf16_slow`)
    _cpu_bf16_checked: bool = False
    #: the model output field an ONNX export returns (``None``: this class runs on torch only)
    onnx_output: Optional[str] = None
    use_fp16: bool  # stored by the subclasses

    def __init__(
        self,
        model_name_or_path: str,
        devices: DevicesArg = None,
        *,
        use_bf16: bool = False,
        trust_remote_code: bool = False,
        cache_dir: Optional[str] = None,
        backend: str = "torch",
        quantize: Optional[str] = None,
        onnx_cache_dir: Optional[str] = None,
        **kwargs: Any,
    ):
        self.pools: Dict[str, MultiProcessPool] = {}
        self.model_name_or_path = model_name_or_path
        self.use_bf16 = use_bf16
        self.trust_remote_code = trust_remote_code
        self.cache_dir = cache_dir
        self.backend = backend
        self.quantize = quantize
        self.onnx_cache_dir = onnx_cache_dir
        if "device" in kwargs and "device" not in declared_options(type(self)) and devices is not None:
            raise ValueError(f"{type(self).__name__}: pass either devices= or device=, not both (device= is the "
                             f"old spelling of devices=).")
        devices = check_keywords(type(self), kwargs).get("devices", devices)  # device= is taken as devices=
        declared = package_options(type(self))
        for key, value in kwargs.items():
            if key not in declared:
                setattr(self, key, value)
        self.target_devices = self.get_target_devices(devices)
        check_backend(self.backend, self.quantize, self.target_devices,
                      None if self.onnx_output else type(self).__name__)
        self.onnx_model: Optional[torch.nn.Module] = None
        self.model: Optional[torch.nn.Module] = None
        self.tokenizer: Any = None

    @staticmethod
    def get_target_devices(devices: DevicesArg) -> List[str]:
        """:func:`~FlagEmbedding.abc.inference.devices.get_target_devices` (MPS devices with an index)."""
        return get_target_devices(devices)

    def __getstate__(self) -> Dict[str, Any]:
        state = self.__dict__.copy()
        state["pools"] = {}  # worker pools never travel to a worker
        return state

    # ------------------------------------------------------------------ loading and batching
    def load_tokenizer(self) -> Any:
        """The tokenizer of ``model_name_or_path`` (with ``trust_remote_code`` and ``cache_dir``)."""
        return from_pretrained(
            AutoTokenizer.from_pretrained, self.model_name_or_path,
            trust_remote_code=self.trust_remote_code, cache_dir=self.cache_dir,
        )

    def model_on(self, device: str) -> torch.nn.Module:
        """The model moved to ``device`` in the dtype that device computes in (nothing else changes); with
        ``backend="onnx"`` / ``"openvino"`` the exported counterpart (see :meth:`build_onnx_model`)."""
        if self.backend != "torch":
            if self.onnx_model is None:
                self.onnx_model = self.build_onnx_model()
            return self.onnx_model
        dtype = compute_dtype(device, self.use_fp16, self.use_bf16)
        if dtype == torch.bfloat16 and is_cpu(device) and not self._cpu_bf16_checked:
            warn_if_cpu_bf16_slow()
            self._cpu_bf16_checked = True
        assert self.model is not None  # loaded by the subclass's constructor
        self.model.to(device=device, dtype=dtype)
        return self.model

    def onnx_encoder(self, network: torch.nn.Module, input_names: List[str]) -> OnnxEncoder:
        """``network`` exported once to the ONNX cache (int8 with ``quantize="int8"``) and opened in the
        ``backend`` runtime."""
        assert self.onnx_output is not None  # check_backend allows backend != "torch" only with an onnx_output
        path = export_onnx(self.model_name_or_path, network, input_names, self.onnx_output,
                           self.onnx_cache_dir or default_onnx_cache_dir(), self.quantize)
        return OnnxEncoder(path, input_names, self.onnx_output, network.config, runtime=self.backend)

    def build_onnx_model(self) -> torch.nn.Module:
        """The ONNX Runtime model the inference loops call instead of :attr:`model` (all tokenizer inputs)."""
        names = [n for n in self.tokenizer.model_input_names if n in ("input_ids", "attention_mask", "token_type_ids")]
        assert self.model is not None
        return self.onnx_encoder(self.model, names)

    def run_batches(self, model: torch.nn.Module, lengths: Sequence[int], batch_size: int,
                    run_batch: Callable[[List[int]], T], desc: str,
                    device: str) -> Tuple[List[T], List[List[int]]]:
        """:func:`~FlagEmbedding.abc.inference.batching.run_length_sorted` over inputs of ``lengths`` with the CPU
        token budget of ``model``'s feed-forward width, its linears on oneDNN on an fp32 CPU (see
        :func:`~FlagEmbedding.backends.onednn.onednn_linears`; weights prepacked for calls of at least
        :data:`~FlagEmbedding.backends.onednn.PREPACK_MIN_TOKENS` tokens)."""
        config = getattr(model, "config", None)
        width = getattr(config, "intermediate_size", None) or 4 * (getattr(config, "hidden_size", None) or 0)
        with onednn_linears(model, device, prepack=sum(lengths) >= PREPACK_MIN_TOKENS):
            return run_length_sorted(lengths, batch_size, run_batch, desc=desc, device=device,
                                     activation_width=width or None)

    def pad_batch(self, features: Dict[str, List[Any]], indices: List[int], device: str,
                  **kwargs: Any) -> Dict[str, torch.Tensor]:
        """Pad the rows ``indices`` of ``features`` (plus :attr:`pad_kwargs`) into tensors on ``device``."""
        rows = {key: [values[i] for i in indices] for key, values in features.items()}
        batch = self.tokenizer.pad(rows, padding=True, return_tensors="pt", **{**self.pad_kwargs, **kwargs})
        return {key: value.to(device) for key, value in batch.items()}

    # ------------------------------------------------------------------ pool lifecycle
    @property
    def pool(self) -> Optional[MultiProcessPool]:
        """The running pool of :attr:`pool_method` (the original's attribute), or None."""
        return self.pools.get(self.pool_method)

    @pool.setter
    def pool(self, value: Optional[MultiProcessPool]) -> None:
        if value is None:
            self.pools.pop(self.pool_method, None)
        else:
            self.pools[self.pool_method] = value

    def start_multi_process_pool(self, method_name: Optional[str] = None) -> MultiProcessPool:
        """Start one worker per target device running ``method_name`` (default: ``pool_method``).

        The caller owns the returned pool (``pool.stop()`` ends it); :meth:`run_on_devices`
        keeps its own. The original took a worker function here; workers now run a method of this object,
        named by ``str``.
        """
        if method_name is not None and not isinstance(method_name, str):
            raise TypeError(
                f"`method_name` must be the name of a method (str) or None, got {type(method_name).__name__}; "
                f"call start_multi_process_pool() to run {self.pool_method!r}."
            )
        if self.model is None:
            raise ValueError("Model is not initialized.")
        self.model = self.model.to("cpu")
        self.model.share_memory()
        return MultiProcessPool(self, method_name or self.pool_method, self.target_devices)

    def stop_pools(self, method_name: Optional[str] = None) -> None:
        """Stop the pool running ``method_name`` (every pool when None), then move the model back to the CPU
        and free accelerator memory."""
        names = list(self.pools) if method_name is None else [method_name]
        for name in names:
            pool = self.pools.pop(name, None)
            if pool is not None:
                pool.stop()
        try:
            if self.model is not None:
                self.model.to("cpu")
            empty_device_cache()
        except Exception:  # noqa: BLE001 - cleanup must never raise
            logger.debug("Could not move the model back to CPU.", exc_info=True)
        gc.collect()

    def __del__(self) -> None:
        try:
            if getattr(self, "pools", None):
                self.stop_pools()
        except Exception:  # noqa: BLE001 - never raise from a finalizer
            pass

    # ------------------------------------------------------------------ dispatch
    def uses_pool(self, inputs: Any) -> bool:
        """Several devices and list input go through the pool; everything else runs on device 0."""
        return len(self.target_devices) > 1 and isinstance(inputs, list)

    def run_on_devices(self, inputs: Sequence[Any], kwargs: Dict[str, Any],
                       method_name: Optional[str] = None) -> List[Any]:
        """Run ``method_name`` (default ``pool_method``) on chunks of ``inputs`` in its pool and return the
        chunk results. The pool starts on first use (stopping any pool of another method) and is reused."""
        method_name = method_name or self.pool_method
        pool = self.pools.get(method_name)
        if pool is None or not pool.processes:  # none yet, or stopped after a worker failure
            self.stop_pools()
            pool = self.pools[method_name] = self.start_multi_process_pool(method_name)
        return pool.map(inputs, kwargs)
