"""BGE-M3 training model: dense, sparse (lexical) and ColBERT (multi-vector) scores of one encoder.

The network itself is the inference :class:`~FlagEmbedding.inference.embedder.encoder_only.m3_model.M3Model`
(backbone + ``colbert_linear`` + ``sparse_linear``); this module adds the scores and losses of training.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from FlagEmbedding.abc.finetune.common.modeling import cpu_state_dict, soft_cross_entropy
from FlagEmbedding.abc.finetune.embedder import AbsEmbedderModel
from FlagEmbedding.abc.finetune.embedder.modeling import group_scores
from FlagEmbedding.finetune.embedder.encoder_only.m3.arguments import M3_HEADS, resolve_heads
from FlagEmbedding.inference.embedder.encoder_only.m3_model import M3Model
from FlagEmbedding.utils.pooling import check_pooling_method
from FlagEmbedding.utils.errors import InputError, MissingFileError

logger = logging.getLogger(__name__)

#: Reps of one batch: ``dense`` (n, d), ``sparse`` (n, vocab), ``colbert`` (n, L-1, d'), ``mask`` (n, L).
M3Reps = Dict[str, Tensor]
#: Weight of each head's loss (and self-distillation term) in the unified loss.
LOSS_WEIGHTS: Mapping[str, float] = {"dense": 1.0, "sparse": 0.1, "colbert": 1.0}
#: Weight of each head's scores in the ensemble score.
ENSEMBLE_WEIGHTS: Mapping[str, float] = {"dense": 1.0, "sparse": 0.3, "colbert": 1.0}


def as_m3_model(base_model: Union[M3Model, Mapping[str, nn.Module]], colbert_dim: int = -1) -> M3Model:
    """``base_model`` as an :class:`M3Model`; FlagEmbedding 1.4.2's dict ``{'model', 'colbert_linear',
    'sparse_linear'}`` is wrapped without copying its modules."""
    if isinstance(base_model, M3Model):
        return base_model
    missing = {"model", "colbert_linear", "sparse_linear"} - set(base_model)
    if missing:
        raise InputError(f"base_model dict lacks {sorted(missing)}; expected keys 'model', 'colbert_linear', "
                         "'sparse_linear'.")
    colbert_linear, sparse_linear = base_model["colbert_linear"], base_model["sparse_linear"]
    # the heads of 1.4.2's get_model dict are the nn.Linear layers M3Model itself builds
    assert isinstance(colbert_linear, nn.Linear) and isinstance(sparse_linear, nn.Linear)
    m3 = M3Model(base_model["model"], colbert_dim=colbert_linear.out_features)
    m3.colbert_linear = colbert_linear
    m3.sparse_linear = sparse_linear
    return m3


def pad_token_dim(tensors: Sequence[Tensor], left: bool) -> List[Tensor]:
    """Zero-pad ``(n, L, ...)`` tensors along dim 1 to the widest (on the left when ``left``)."""
    width = max(t.shape[1] for t in tensors)
    padded = []
    for tensor in tensors:
        extra = width - tensor.shape[1]
        if extra:
            pad = [0, 0] * (tensor.dim() - 2) + ([extra, 0] if left else [0, extra])
            tensor = F.pad(tensor, pad)
        padded.append(tensor)
    return padded


class EncoderOnlyEmbedderM3Model(AbsEmbedderModel):
    """BGE-M3 bi-encoder trained on dense scores, optionally with the sparse and ColBERT heads (unified).

    Scores (each divided by ``temperature``): dense = inner product of pooled states; sparse = inner product of
    vocabulary-size vectors holding, per token id, the max ``relu(sparse_linear(h))``; ColBERT = for each query
    token after the first, the max dot with the passage's token vectors, summed and divided by the query's
    token count (first excluded). The ensemble is ``dense + 0.3 * sparse + colbert`` over the trained heads.

    Loss: the dense loss follows the abstract path (in-batch / cross-device / no-in-batch); in unified mode the
    other heads and the ensemble use in-batch / no-in-batch only (computed on this process's ``(B, B*G)``
    block, so the no-in-batch ensemble is scored on each query's own group), and the total is the mean of
    ``dense``, ``0.1 * sparse``, ``colbert`` and ``ensemble`` losses over the trained heads (a single trained
    head: its own loss). With ``use_self_distill`` (after ``self_distill_start_step`` training forwards) each head is also distilled
    towards ``softmax(ensemble)``: ``(soft-CE(dense) + 0.1 soft-CE(sparse) + soft-CE(colbert)) / #heads`` is
    added and the sum halved.

    Args (beyond :class:`AbsEmbedderModel`):
        base_model: An :class:`M3Model` or the dict returned by ``EncoderOnlyEmbedderM3Runner.get_model``.
        sentence_pooling_method: Dense pooling (``cls`` for BGE-M3).
        unified_finetuning: Train the sparse and ColBERT heads too.
        use_self_distill: Add the self-distillation term (unified mode with at least two heads).
        self_distill_start_step: Self-distillation needs more training forwards than this.
        unified_heads: Subset of ``dense``/``sparse``/``colbert`` trained in unified mode (default: all).
    """

    def __init__(
        self,
        base_model: Union[M3Model, Mapping[str, nn.Module]],
        tokenizer: Optional[PreTrainedTokenizerBase] = None,
        negatives_cross_device: bool = False,
        temperature: float = 1.0,
        sub_batch_size: int = -1,
        kd_loss_type: str = "m3_kd_loss",
        use_mrl: bool = False,
        mrl_dims: Optional[Sequence[int]] = None,
        sentence_pooling_method: str = "cls",
        normalize_embeddings: bool = False,
        unified_finetuning: bool = True,
        use_self_distill: bool = False,
        self_distill_start_step: int = -1,
        unified_heads: Optional[Sequence[str]] = None,
    ):
        if use_mrl:
            raise NotImplementedError("use_mrl is not supported for M3 fine-tuning.")
        super().__init__(
            as_m3_model(base_model), tokenizer=tokenizer, negatives_cross_device=negatives_cross_device,
            temperature=temperature, sub_batch_size=sub_batch_size, kd_loss_type=kd_loss_type,
            normalize_embeddings=normalize_embeddings,
        )
        self.sentence_pooling_method = check_pooling_method(sentence_pooling_method)
        self.unified_finetuning = unified_finetuning
        self.heads: Tuple[str, ...] = resolve_heads(unified_finetuning, list(unified_heads or []))
        self.use_self_distill = use_self_distill
        self.self_distill_start_step = self_distill_start_step
        if use_self_distill and len(self.heads) < 2:
            logger.warning("use_self_distill needs unified fine-tuning with at least two heads; training %s without "
                           "self-distillation.", list(self.heads))
        self.step = 0
        self.vocab_size = self.model.config.vocab_size
        self.unused_token_ids = self._unused_token_ids(tokenizer)

    @staticmethod
    def _unused_token_ids(tokenizer: Optional[PreTrainedTokenizerBase]) -> List[int]:
        """Ids of CLS/EOS/PAD/UNK (those that exist): zeroed in sparse vectors."""
        if tokenizer is None:
            return []
        ids = [tokenizer.cls_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id, tokenizer.unk_token_id]
        return sorted({i for i in ids if i is not None})

    @property
    def backbone(self) -> PreTrainedModel:
        """The HF encoder inside the :class:`M3Model`."""
        return self.model.model

    @property
    def trains_linear_heads(self) -> bool:
        """Whether the sparse or ColBERT head is trained (then both head files are saved)."""
        return any(head in self.heads for head in ("sparse", "colbert"))

    # ---- encoding -------------------------------------------------------------------------------------------
    def encode_features(self, features: Dict[str, Tensor], heads: Sequence[str], sparse_embedding: bool = True,
                        truncate_dim: Optional[int] = None) -> M3Reps:
        """The requested reps of one padded batch.

        Dense and ColBERT vectors keep their first ``truncate_dim`` dimensions (if given) and are then
        normalized when enabled; ``sparse`` is the vocabulary-size vector, or the per-token weights when
        ``sparse_embedding`` is False.
        """
        mask = features["attention_mask"]
        hidden = self.model.hidden_states(**features)
        reps: M3Reps = {"mask": mask}
        if "dense" in heads:
            reps["dense"] = self._finish(self.model.dense(hidden, mask, self.sentence_pooling_method), truncate_dim)
        if "sparse" in heads:
            weights = self.model.token_weights(hidden)
            reps["sparse"] = (self.model.sparse_embedding(weights, features["input_ids"], self.vocab_size,
                                                          self.unused_token_ids)
                              if sparse_embedding else weights)
        if "colbert" in heads:
            reps["colbert"] = self._finish(self.model.colbert_vectors(hidden, mask), truncate_dim)
        return reps

    def _finish(self, vectors: Tensor, truncate_dim: Optional[int]) -> Tensor:
        if truncate_dim:
            vectors = vectors[..., :truncate_dim]
        return F.normalize(vectors, dim=-1) if self.normalize_embeddings else vectors

    def encode_batch(self, features: Dict[str, Tensor]) -> M3Reps:
        """Reps of the trained heads (dense always, for the row count)."""
        return self.encode_features(features, ("dense",) + self.heads)

    def concat_reps(self, chunks: List[M3Reps]) -> M3Reps:
        """Join sub-batch reps; ColBERT vectors and masks are padded to the widest chunk first (on the
        tokenizer's padding side)."""
        left = getattr(self.tokenizer, "padding_side", "right") == "left"
        joined = {}
        for key in chunks[0]:
            parts = [chunk[key] for chunk in chunks]
            if key in ("colbert", "mask"):
                parts = pad_token_dim(parts, left)
            joined[key] = torch.cat(parts, dim=0)
        return joined

    @staticmethod
    def num_rows(reps: M3Reps) -> int:
        """Rows of a rep dict."""
        return reps["mask"].shape[0]

    @staticmethod
    def device_of(reps: M3Reps) -> torch.device:
        """Device of a rep dict."""
        return reps["mask"].device

    # ---- scores ---------------------------------------------------------------------------------------------
    def compute_dense_score(self, q_reps: Tensor, p_reps: Tensor) -> Tensor:
        """``(n_q, n_p)`` dense scores / temperature of ``(n, d)`` vectors."""
        return self.compute_score(q_reps, p_reps)

    def compute_sparse_score(self, q_reps: Tensor, p_reps: Tensor) -> Tensor:
        """``(n_q, n_p)`` lexical-matching scores / temperature of ``(n, vocab)`` weight vectors."""
        return self.compute_score(q_reps, p_reps)

    def compute_colbert_score(self, q_reps: Tensor, p_reps: Tensor, q_mask: Optional[Tensor] = None) -> Tensor:
        """``(n_q, n_p)`` late-interaction scores / temperature of ``(n, L-1, d)`` token vectors: the best passage
        token per query token, summed and divided by the query's real tokens after the first (``q_mask``; all
        of them when None)."""
        token_scores = torch.einsum("qin,pjn->qipj", q_reps, p_reps)
        scores = token_scores.max(dim=-1).values.sum(dim=1)
        lengths = (q_mask[:, 1:].sum(dim=-1, keepdim=True) if q_mask is not None
                   else torch.full((q_reps.shape[0], 1), q_reps.shape[1], device=q_reps.device))
        return scores / lengths.to(scores.dtype) / self.temperature

    def head_score(self, head: str, q_reps: M3Reps, p_reps: M3Reps) -> Tensor:
        """Scores of one head (``dense``, ``sparse`` or ``colbert``) of two rep dicts."""
        if head == "colbert":
            return self.compute_colbert_score(q_reps["colbert"], p_reps["colbert"], q_reps["mask"])
        score = self.compute_dense_score if head == "dense" else self.compute_sparse_score
        return score(q_reps[head], p_reps[head])

    @staticmethod
    def ensemble_score(scores: Mapping[str, Tensor]) -> Tensor:
        """``dense + 0.3 * sparse + colbert`` over the heads present in ``scores``."""
        total = sum(ENSEMBLE_WEIGHTS[head] * value for head, value in scores.items())
        assert isinstance(total, Tensor)  # at least one head is scored
        return total

    # ---- loss -----------------------------------------------------------------------------------------------
    def batch_loss(self, q_reps: M3Reps, p_reps: M3Reps, teacher_scores: Optional[Sequence[float]],
                   no_in_batch_neg_flag: bool) -> Tensor:
        """:meth:`unified_loss` of one training batch (see the class docstring); counts the step."""
        loss = self.unified_loss(q_reps, p_reps, teacher_scores, no_in_batch_neg_flag)
        self.step += 1
        return loss

    def unified_loss(self, q_reps: M3Reps, p_reps: M3Reps, teacher_scores: Optional[Sequence[float]],
                     no_in_batch_neg_flag: bool) -> Tensor:
        """The training loss of the trained heads, their ensemble and (if enabled) self-distillation."""
        num_queries = self.num_rows(q_reps)
        group_size = self.num_rows(p_reps) // num_queries
        teacher = self.teacher_targets(teacher_scores, num_queries, self.device_of(q_reps))
        if self.heads == ("dense",):
            return self.compute_path_loss(q_reps["dense"], p_reps["dense"], teacher, no_in_batch_neg_flag,
                                          group_size)[1]

        def local_loss(scores: Tensor) -> Tensor:
            """Loss of a precomputed ``(B, B*G)`` block on the in-batch or no-in-batch path."""
            return self.compute_path_loss(q_reps, p_reps, teacher, no_in_batch_neg_flag, group_size,
                                          score_fn=lambda *_: scores, allow_cross_device=False)[1]

        full = {head: self.head_score(head, q_reps, p_reps) for head in self.heads}
        head_losses = {}
        for head in self.heads:
            if head == "dense" and self.negatives_cross_device and not no_in_batch_neg_flag:
                head_losses[head] = self.compute_path_loss(q_reps["dense"], p_reps["dense"], teacher, False,
                                                           group_size)[1]
            else:
                head_losses[head] = local_loss(full[head])
        if len(self.heads) == 1:  # a single head trains unweighted
            return head_losses[self.heads[0]]
        ensemble = self.ensemble_score(full)
        losses = [LOSS_WEIGHTS[head] * value for head, value in head_losses.items()] + [local_loss(ensemble)]
        loss = torch.stack(losses).sum() / len(losses)
        if self.use_self_distill and self.step > self.self_distill_start_step:
            loss = (loss + self.self_distill_loss(full, ensemble, group_size, no_in_batch_neg_flag)) / 2
        return loss

    def self_distill_loss(self, full: Mapping[str, Tensor], ensemble: Tensor, group_size: int,
                          no_in_batch_neg_flag: bool) -> Tensor:
        """``sum_h w_h * soft-CE(softmax(ensemble), scores_h) / #heads`` on the path's score view."""

        def view(scores: Tensor) -> Tensor:
            return group_scores(scores, group_size) if no_in_batch_neg_flag else scores

        targets = torch.softmax(view(ensemble).detach(), dim=-1)
        terms = [LOSS_WEIGHTS[head] * soft_cross_entropy(targets, view(scores)) for head, scores in full.items()]
        return torch.stack(terms).sum() / len(terms)

    # ---- HF plumbing and saving -----------------------------------------------------------------------------
    def gradient_checkpointing_enable(self, **kwargs: Any) -> None:
        """Forward to the encoder."""
        self.backbone.gradient_checkpointing_enable(**kwargs)

    def activation_checkpointing_enable(self, **kwargs: Any) -> None:
        """Forward to the encoder."""
        self.backbone.activation_checkpointing_enable(**kwargs)

    def enable_input_require_grads(self, **kwargs: Any) -> None:
        """Forward to the encoder."""
        self.backbone.enable_input_require_grads(**kwargs)

    def checkpoint_model(self) -> nn.Module:
        """Checkpoints hold the encoder's HF weights (heads are separate files)."""
        return self.backbone

    def load_extra_checkpoint_files(self, checkpoint_dir: str) -> None:
        """Resume the heads from ``colbert_linear.pt`` / ``sparse_linear.pt`` when they are trained."""
        if self.trains_linear_heads and not self.model.load_heads(checkpoint_dir):
            raise MissingFileError(f"{checkpoint_dir} lacks colbert_linear.pt / sparse_linear.pt to resume from.")

    def save(self, output_dir: str) -> None:
        """Encoder ``save_pretrained`` (CPU state dict); plus both head files when a head is trained."""
        self.backbone.save_pretrained(output_dir, state_dict=cpu_state_dict(self.backbone))
        if self.trains_linear_heads:
            self.model.save_heads(output_dir)


class EncoderOnlyEmbedderM3ModelForInference(EncoderOnlyEmbedderM3Model):
    """The M3 model as an encoder: ``forward(text_input, ...)`` returns the requested reps."""

    def forward(  # type: ignore[override]
        self,
        text_input: Dict[str, Tensor],
        return_dense: bool = True,
        return_sparse: bool = False,
        return_colbert_vecs: bool = False,
        return_sparse_embedding: bool = False,
        truncate_dim: Optional[int] = None,
    ) -> Dict[str, Tensor]:
        """``{"dense_vecs", "sparse_vecs", "colbert_vecs"}`` for the requested outputs.

        ``sparse_vecs`` are per-token weights unless ``return_sparse_embedding``; ``truncate_dim`` keeps that
        many leading dimensions of dense and ColBERT vectors (then normalized when enabled).

        Raises:
            InputError: (a ``ValueError``) No output requested.
        """
        heads = [head for head, wanted in zip(M3_HEADS, (return_dense, return_sparse, return_colbert_vecs))
                 if wanted]
        if not heads:
            raise InputError("Must choose one or more from `return_colbert_vecs`, `return_sparse`, "
                             "`return_dense` to set `True`!")
        reps = self.encode_features(text_input, heads, sparse_embedding=return_sparse_embedding,
                                    truncate_dim=truncate_dim)
        return {key: reps[head] for head, key in (("dense", "dense_vecs"), ("sparse", "sparse_vecs"),
                                                   ("colbert", "colbert_vecs")) if head in reps}
