"""BGE-M3 embedder (``BGEM3FlagModel``): dense, sparse (lexical) and multi-vector (ColBERT) outputs."""
from __future__ import annotations

import logging
import math
from collections import defaultdict
from typing import Any, Dict, List, Optional, Sequence, Union, cast

import numpy as np
import torch

from FlagEmbedding.abc.inference.batching import restore_list_order
from FlagEmbedding.backends.onednn import onednn_linears
from FlagEmbedding.utils import long_text
from FlagEmbedding.utils.typing import M3Output
from FlagEmbedding.utils.validation import check_pairs, check_positive_int, is_single_pair
from FlagEmbedding.inference.embedder.encoder_only.base import BaseEmbedder
from FlagEmbedding.inference.embedder.encoder_only.m3_model import M3Model

logger = logging.getLogger(__name__)

OUTPUT_KEYS = ("dense_vecs", "lexical_weights", "colbert_vecs")
SCORE_KEYS = ("colbert", "sparse", "dense", "sparse+dense", "colbert+sparse+dense")
MODES_ERROR = "Must choose one or more from `return_colbert_vecs`, `return_sparse`, `return_dense` to set `True`!"



def check_mode_weights(weights: Sequence[float]) -> None:
    """``[dense, sparse, colbert]`` must be finite numbers whose hybrid denominators (dense + sparse, and all
    three) are not 0, else the hybrid scores would be NaN; ``ValueError`` naming the argument otherwise."""
    if not all(isinstance(w, (int, float)) and not isinstance(w, bool) and math.isfinite(w) for w in weights):
        raise ValueError(f"weights_for_different_modes must be 3 finite numbers, got {list(weights)}.")
    if weights[0] + weights[1] == 0 or sum(weights) == 0:
        raise ValueError(f"weights_for_different_modes {list(weights)}: the dense + sparse weights and the sum of all "
                         f"three must not be 0 (the hybrid scores divide by them).")

class M3Embedder(BaseEmbedder):
    """BGE-M3: one encoder, three kinds of representation.

    Args (beyond :class:`~FlagEmbedding.inference.embedder.encoder_only.base.BaseEmbedder`):
        colbert_dim: Width of the ColBERT vectors (``-1`` = hidden size).
        return_dense / return_sparse / return_colbert_vecs: Default outputs of :meth:`encode`.
        mcls_interval: Tokens per CLS token with ``long_text_strategy="mcls"`` (default 256).

    ``long_text_strategy="mcls"`` is the M3 paper's Multi-CLS: a CLS token starts every block of ``mcls_interval``
    tokens and the dense vector is the mean of the CLS hidden states (the inserted tokens count towards
    ``max_length``; the sparse weights skip CLS tokens as always, the ColBERT vectors leave the inserted ones out).
    With ``"chunk_max"`` / ``"chunk_mean"`` the dense vectors of the windows are pooled, the sparse weights are the
    max per token over the windows and the ColBERT vectors of the windows are concatenated. :meth:`compute_score`
    always truncates.
    """

    #: the outputs an encode call asks for (keywords of :meth:`encode_single_device`)
    call_options = ("return_dense", "return_sparse", "return_colbert_vecs")
    LONG_TEXT_STRATEGIES = long_text.EMBEDDER_STRATEGIES + ("mcls",)

    def __init__(
        self,
        model_name_or_path: str,
        *,
        colbert_dim: int = -1,
        return_dense: bool = True,
        return_sparse: bool = False,
        return_colbert_vecs: bool = False,
        mcls_interval: int = long_text.DEFAULT_MCLS_INTERVAL,
        **kwargs: Any,
    ):
        self.colbert_dim = colbert_dim
        self.mcls_interval = check_positive_int(mcls_interval, "mcls_interval")
        super().__init__(model_name_or_path, **kwargs)
        self.return_dense = return_dense
        self.return_sparse = return_sparse
        self.return_colbert_vecs = return_colbert_vecs
        special = self.tokenizer.special_tokens_map
        self.unused_token_ids = {
            self.tokenizer.convert_tokens_to_ids(special[name])
            for name in ("cls_token", "eos_token", "pad_token", "unk_token")
            if special.get(name) is not None
        } - {None}

    def load_model(self) -> M3Model:
        """Backbone + heads from ``colbert_linear.pt`` / ``sparse_linear.pt``."""
        return M3Model.from_pretrained(
            self.model_name_or_path, colbert_dim=self.colbert_dim,
            dtype=self.get_model_torch_dtype(),
            trust_remote_code=self.trust_remote_code, cache_dir=self.cache_dir,
        )

    def build_onnx_model(self) -> M3Model:
        """The network with its backbone exported to ONNX; the sparse and ColBERT heads stay in torch."""
        model = cast(M3Model, self.model)  # load_model's
        return model.with_backbone(self.onnx_encoder(model.model, ["input_ids", "attention_mask"]))

    # ------------------------------------------------------------------ encode
    def encode(self, sentences: Union[str, Sequence[str]], batch_size: Optional[int] = None,
               max_length: Optional[int] = None, return_dense: Optional[bool] = None,
               return_sparse: Optional[bool] = None, return_colbert_vecs: Optional[bool] = None, *,
               convert_to_numpy: Optional[bool] = None, instruction: Optional[str] = None,
               instruction_format: Optional[str] = None, **kwargs: Any) -> M3Output:
        """Encode into ``{"dense_vecs", "lexical_weights", "colbert_vecs"}`` (unrequested outputs are None).

        The positional order is the original's: ``encode(s, 12, 8192, True, True, False)`` asks for dense
        and sparse outputs.
        """
        modes = dict(
            return_dense=self.return_dense if return_dense is None else return_dense,
            return_sparse=self.return_sparse if return_sparse is None else return_sparse,
            return_colbert_vecs=self.return_colbert_vecs if return_colbert_vecs is None else return_colbert_vecs,
        )
        return cast(M3Output, super().encode(sentences, batch_size=batch_size, max_length=max_length,
                                             convert_to_numpy=convert_to_numpy, instruction=instruction,
                                             instruction_format=instruction_format, **modes, **kwargs))

    def encode_queries(self, queries: Union[str, Sequence[str]], batch_size: Optional[int] = None,
                       max_length: Optional[int] = None, return_dense: Optional[bool] = None,
                       return_sparse: Optional[bool] = None, return_colbert_vecs: Optional[bool] = None,
                       **kwargs: Any) -> M3Output:
        """:meth:`encode` with the query instruction and ``query_max_length`` (original positional order)."""
        return cast(M3Output, super().encode_queries(queries, batch_size=batch_size, max_length=max_length,
                                                     return_dense=return_dense, return_sparse=return_sparse,
                                                     return_colbert_vecs=return_colbert_vecs, **kwargs))

    def encode_corpus(self, corpus: Union[str, Sequence[str]], batch_size: Optional[int] = None,
                      max_length: Optional[int] = None, return_dense: Optional[bool] = None,
                      return_sparse: Optional[bool] = None, return_colbert_vecs: Optional[bool] = None,
                      **kwargs: Any) -> M3Output:
        """:meth:`encode` with the passage instruction and ``passage_max_length`` (original positional order)."""
        return cast(M3Output, super().encode_corpus(corpus, batch_size=batch_size, max_length=max_length,
                                                    return_dense=return_dense, return_sparse=return_sparse,
                                                    return_colbert_vecs=return_colbert_vecs, **kwargs))

    def merge_results(self, chunks: List[Dict[str, Any]]) -> Dict[str, Any]:
        """Concatenate dense rows and extend the per-text lists; a key is None if any chunk lacks it."""
        merged: Dict[str, Any] = {}
        for key in OUTPUT_KEYS:
            parts = [chunk[key] for chunk in chunks]
            if any(part is None for part in parts):
                merged[key] = None
            elif key == "dense_vecs":
                merged[key] = np.concatenate(parts, axis=0)
            else:
                merged[key] = [item for part in parts for item in part]
        return merged

    def lexical_weights(self, weights: np.ndarray, input_ids: np.ndarray) -> Dict[str, Any]:
        """Token id (decimal str) -> max positive weight, excluding CLS/EOS/PAD/UNK."""
        result: Dict[str, Any] = defaultdict(int)
        for weight, token_id in zip(weights, input_ids):
            if weight <= 0 or int(token_id) in self.unused_token_ids:
                continue
            key = str(int(token_id))
            if weight > result[key]:
                result[key] = weight
        return result

    def encode_single_device(self, sentences: Union[str, List[str]], batch_size: int = 256, max_length: int = 512,
                             return_dense: bool = True, return_sparse: bool = False,
                             return_colbert_vecs: bool = False, device: Optional[str] = None, *,
                             convert_to_numpy: bool = True, **kwargs: Any) -> Dict[str, Any]:
        """Encode on one device with length-sorted batches; output is always numpy (original positional order)."""
        return super().encode_single_device(sentences, batch_size, max_length, convert_to_numpy=convert_to_numpy,
                                            device=device, return_dense=return_dense, return_sparse=return_sparse,
                                            return_colbert_vecs=return_colbert_vecs, **kwargs)

    def resolve_options(self, options: Dict[str, Any]) -> Dict[str, Any]:
        """The outputs asked for (``return_dense`` / ``return_sparse`` / ``return_colbert_vecs``); at least one."""
        modes = {"return_dense": True, "return_sparse": False, "return_colbert_vecs": False, **options}
        if not any(modes.values()):
            raise ValueError(MODES_ERROR)
        return modes

    def long_text_options(self, kwargs: Dict[str, Any]) -> Dict[str, Any]:
        """The long-text options plus the per-call ``mcls_interval`` (``None``: the instance value)."""
        interval = kwargs.pop("mcls_interval", None)
        return {**super().long_text_options(kwargs), "mcls_interval": check_positive_int(
            self.mcls_interval if interval is None else interval, "mcls_interval")}

    def tokenize_inputs(self, sentences: List[str], max_length: int, options: Dict[str, Any],
                        **kwargs: Any) -> Dict[str, List[Any]]:
        """With ``mcls``: a CLS token at every multiple of ``mcls_interval`` (see
        :func:`~FlagEmbedding.utils.long_text.insert_cls`)."""
        features = super().tokenize_inputs(sentences, max_length, options, **kwargs)
        if options["long_text_strategy"] == "mcls":
            long_text.mcls_features(features, self.tokenizer.cls_token_id, options["mcls_interval"], max_length)
        return features

    def merge_chunks(self, rows: Dict[str, Any], owners: List[int], count: int, single: bool,
                     convert_to_numpy: bool, options: Dict[str, Any]) -> Dict[str, Any]:
        """Dense window vectors pooled, sparse weights maxed per token, ColBERT vectors concatenated."""
        result: Dict[str, Any] = dict.fromkeys(OUTPUT_KEYS)
        if rows["dense_vecs"] is not None:
            result["dense_vecs"] = super().merge_chunks(torch.from_numpy(rows["dense_vecs"]), owners, count, single,
                                                        True, options)
        if rows["lexical_weights"] is not None:
            merged = []
            for group in long_text.group_rows(rows["lexical_weights"], owners, count):
                weights: Dict[str, Any] = defaultdict(int)
                for window in group:
                    for token, weight in window.items():
                        weights[token] = max(weights[token], weight)
                merged.append(weights)
            result["lexical_weights"] = merged[0] if single else merged
        if rows["colbert_vecs"] is not None:
            groups = long_text.group_rows(rows["colbert_vecs"], owners, count)
            vecs = [np.concatenate(group, axis=0) for group in groups]
            result["colbert_vecs"] = vecs[0] if single else vecs
        return result

    def embed_batch(self, model: torch.nn.Module, batch: Dict[str, torch.Tensor],
                    options: Dict[str, Any]) -> Dict[str, Any]:
        """The requested outputs of one padded batch, on the CPU: ``dense`` rows, ``sparse`` lexical weights and
        ``colbert`` vectors (one list entry per row, without the first token)."""
        model = cast(M3Model, model)  # model_on's: load_model's, or build_onnx_model's
        mask = batch["attention_mask"]
        hidden = model.hidden_states(batch["input_ids"], mask)
        out: Dict[str, Any] = {}
        cls_rows = batch["input_ids"] == self.tokenizer.cls_token_id
        if options["return_dense"]:
            if options.get("long_text_strategy") == "mcls":  # the mean of the CLS states (one CLS: CLS pooling)
                dense = (hidden * cls_rows[..., None]).sum(dim=1) / cls_rows.sum(dim=1, keepdim=True)
            else:
                dense = model.dense(hidden, mask, self.pooling_method)
            out["dense"] = self.finish_embeddings(dense).float().cpu()
        if options["return_sparse"]:
            weights = model.token_weights(hidden).float().cpu().numpy()
            ids = batch["input_ids"].cpu().numpy()
            out["sparse"] = [self.lexical_weights(w, i) for w, i in zip(weights, ids)]
        if options["return_colbert_vecs"]:
            vecs = self.finish_embeddings(model.colbert_vectors(hidden, mask)).float().cpu().numpy()
            lengths = mask.sum(dim=1).cpu().tolist()
            out["colbert"] = [v[: n - 1] for v, n in zip(vecs, lengths)]
            if options.get("long_text_strategy") == "mcls":  # without the inserted CLS tokens
                keep = (~cls_rows[:, 1:]).cpu().numpy()
                out["colbert"] = [v[k[: len(v)]] for v, k in zip(out["colbert"], keep)]
        return out

    def gather_embeddings(self, outputs: List[Dict[str, Any]], index_batches: List[List[int]], single: bool,
                          convert_to_numpy: bool, options: Dict[str, Any]) -> Dict[str, Any]:
        """``{"dense_vecs", "lexical_weights", "colbert_vecs"}`` in input order (numpy; unrequested: None)."""
        result: Dict[str, Any] = dict.fromkeys(OUTPUT_KEYS)
        if options["return_dense"]:
            result["dense_vecs"] = super().gather_embeddings([o["dense"] for o in outputs], index_batches, single,
                                                             True, options)
        for key, part, flag in (("lexical_weights", "sparse", "return_sparse"),
                                ("colbert_vecs", "colbert", "return_colbert_vecs")):
            if options[flag]:
                rows = restore_list_order([row for o in outputs for row in o[part]], index_batches)
                result[key] = rows[0] if single else rows
        return result

    # ------------------------------------------------------------------ helpers on encode outputs
    def convert_id_to_token(self, lexical_weights: Union[Dict[str, Any], List[Dict[str, Any]]]) -> Any:
        """Replace token-id keys by their decoded token text."""
        items = [lexical_weights] if isinstance(lexical_weights, dict) else lexical_weights
        converted = [{self.tokenizer.decode([int(k)]): v for k, v in weights.items()} for weights in items]
        return converted[0] if len(converted) == 1 else converted

    def compute_lexical_matching_score(self, lexical_weights_1: Any, lexical_weights_2: Any) -> Any:
        """Sum of weight products over shared tokens: a scalar for two dicts, a matrix for two lists."""
        if isinstance(lexical_weights_1, dict) and isinstance(lexical_weights_2, dict):
            return sum(w * lexical_weights_2[k] for k, w in lexical_weights_1.items() if k in lexical_weights_2)
        if isinstance(lexical_weights_1, list) and isinstance(lexical_weights_2, list):
            return np.array([[self.compute_lexical_matching_score(a, b) for b in lexical_weights_2]
                             for a in lexical_weights_1])
        raise ValueError("The input format of lexical_weights is not correct.")

    def colbert_score(self, q_reps: np.ndarray, p_reps: np.ndarray) -> torch.Tensor:
        """``sum_i max_j q_i . p_j / m`` for ``[m, d]`` query and ``[n, d]`` passage vectors (0-dim tensor)."""
        q, p = torch.from_numpy(np.asarray(q_reps)), torch.from_numpy(np.asarray(p_reps))
        return (q @ p.T).max(dim=1).values.sum() / q.shape[0]

    # ------------------------------------------------------------------ pair scoring
    def compute_score(self, sentence_pairs: Any, batch_size: Optional[int] = None,
                      max_query_length: Optional[int] = None, max_passage_length: Optional[int] = None,
                      weights_for_different_modes: Optional[List[float]] = None,
                      **kwargs: Any) -> Union[Dict[str, float], Dict[str, List[float]], List[Any]]:
        """Dense, sparse, ColBERT and weighted hybrid scores for (query, passage) pairs.

        One pair gives a dict of floats; a list gives a dict of lists (``[]`` for no pairs).
        ``weights_for_different_modes`` is ``[dense, sparse, colbert]`` (default ``[1, 1, 1]``).
        """
        single = is_single_pair(sentence_pairs)
        pairs = check_pairs(sentence_pairs)
        if not pairs:
            return []
        if weights_for_different_modes is None:
            weights_for_different_modes = [1.0, 1.0, 1.0]
            logger.info("Using default weights [1, 1, 1] for [dense, sparse, colbert].")
        if len(weights_for_different_modes) != 3:
            raise ValueError("`weights_for_different_modes` must have 3 values: [dense, sparse, colbert].")
        check_mode_weights(weights_for_different_modes)
        call_kwargs = dict(
            batch_size=check_positive_int(batch_size or self.batch_size, "batch_size"),
            max_query_length=check_positive_int(max_query_length or self.query_max_length, "max_query_length"),
            max_passage_length=check_positive_int(max_passage_length or self.passage_max_length, "max_passage_length"),
            weights_for_different_modes=list(weights_for_different_modes),
            **kwargs,
        )
        if len(self.target_devices) > 1:
            scores = self.merge_scores(self.run_on_devices(pairs, call_kwargs, "compute_score_single_device"))
        else:
            scores = self.compute_score_single_device(pairs, device=self.target_devices[0], **call_kwargs)
        return {key: values[0] for key, values in scores.items()} if single else scores

    def compute_score_multi_process(self, sentence_pairs: Any, pool: Any, **kwargs: Any) -> Dict[str, List[float]]:
        """:meth:`compute_score_single_device` on chunks of ``sentence_pairs`` in an explicitly started pool
        (``start_multi_process_pool("compute_score_single_device")``); the lengths default to the instance's."""
        pairs = check_pairs(sentence_pairs)
        kwargs.setdefault("batch_size", self.batch_size)
        kwargs.setdefault("max_query_length", self.query_max_length)
        kwargs.setdefault("max_passage_length", self.passage_max_length)
        if not pairs:
            return {key: [] for key in SCORE_KEYS}
        return self.merge_scores(pool.map(pairs, kwargs))

    @staticmethod
    def merge_scores(chunks: List[Dict[str, List[float]]]) -> Dict[str, List[float]]:
        """Concatenate per-device score dicts key by key."""
        return {key: [s for chunk in chunks for s in chunk[key]] for key in SCORE_KEYS}

    @torch.inference_mode()
    def compute_score_single_device(self, sentence_pairs: List[List[str]], batch_size: int = 256,
                                    max_query_length: int = 512, max_passage_length: int = 512,
                                    weights_for_different_modes: Optional[List[float]] = None,
                                    device: Optional[str] = None, **kwargs: Any) -> Dict[str, List[float]]:
        """Score pairs on one device (no length sorting); returns per-key lists of floats."""
        w = weights_for_different_modes or [1.0, 1.0, 1.0]
        device = device or self.target_devices[0]
        model = cast(M3Model, self.model_on(device))  # load_model's, or build_onnx_model's
        vocab_size = model.config.vocab_size
        scores: Dict[str, List[float]] = {key: [] for key in SCORE_KEYS}
        with onednn_linears(model, device):
            for start in range(0, len(sentence_pairs), batch_size):
                batch = sentence_pairs[start:start + batch_size]
                reps = []
                for texts, max_len in (([q for q, _ in batch], max_query_length),
                                       ([p for _, p in batch], max_passage_length)):
                    inputs = self.tokenizer(texts, padding=True, truncation=True, max_length=max_len,
                                            return_token_type_ids=False, return_tensors="pt", **kwargs).to(device)
                    mask = inputs["attention_mask"]
                    hidden = model.hidden_states(inputs["input_ids"], mask)
                    reps.append(dict(
                        mask=mask,
                        dense=self.finish_embeddings(model.dense(hidden, mask, self.pooling_method)),
                        sparse=model.sparse_embedding(model.token_weights(hidden), inputs["input_ids"], vocab_size,
                                                      self.unused_token_ids),
                        colbert=self.finish_embeddings(model.colbert_vectors(hidden, mask)),
                    ))
                q, p = reps
                dense = (q["dense"] * p["dense"]).sum(-1).float()
                sparse = (q["sparse"] * p["sparse"]).sum(-1).float()
                colbert = model.colbert_scores(q["colbert"], p["colbert"], q["mask"]).float()
                hybrid = {
                    "colbert": colbert,
                    "sparse": sparse,
                    "dense": dense,
                    "sparse+dense": (w[1] * sparse + w[0] * dense) / (w[1] + w[0]),
                    "colbert+sparse+dense": (w[2] * colbert + w[1] * sparse + w[0] * dense) / (w[0] + w[1] + w[2]),
                }
                for key in SCORE_KEYS:
                    scores[key].extend(hybrid[key].cpu().tolist())
        return scores
