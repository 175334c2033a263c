"""Contrastive embedder training model: encode, score, in-batch / cross-device / no-in-batch losses, distillation."""
from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union, overload

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn
from transformers import PreTrainedTokenizerBase
from transformers.utils import ModelOutput

from FlagEmbedding.abc.finetune.common.modeling import HFModelWrapperMixin, cpu_state_dict, soft_cross_entropy
from FlagEmbedding.utils.errors import InputError
from FlagEmbedding.utils.pooling import check_pooling_method, pool

logger = logging.getLogger(__name__)

Features = Union[None, Dict[str, Tensor], List[Dict[str, Tensor]]]
ScoreFunction = Callable[[Any, Any], Tensor]
KD_LOSS_TYPES = ("kl_div", "m3_kd_loss")


@dataclass
class EmbedderOutput(ModelOutput):
    """Training-step output; only ``loss`` is filled (None in eval mode)."""

    q_reps: Optional[Tensor] = None
    p_reps: Optional[Tensor] = None
    loss: Optional[Tensor] = None
    scores: Optional[Tensor] = None


def m3_kd_loss(teacher_targets: Tensor, student_scores: Tensor, group_size: int,
               first_targets: Optional[Tensor] = None) -> Tensor:
    """BGE-M3 distillation loss.

    For ``i`` in ``0..G-1``: the target of query ``q`` is its group's passage ``i`` (column
    ``first_targets[q] + i``; default ``q * G``, i.e. the in-batch layout), its own passages ``< i`` are set to
    the dtype minimum, and ``mean(teacher[:, i] * CE)`` is added. ``first_targets = 0`` gives the local
    (B, G) no-in-batch variant.
    """
    rows = student_scores.size(0)
    if first_targets is None:
        first_targets = torch.arange(rows, device=student_scores.device) * group_size
    masked = torch.zeros_like(student_scores, dtype=torch.bool)
    loss = student_scores.new_zeros(())
    for i in range(group_size):
        targets = first_targets + i
        scores = student_scores.masked_fill(masked, torch.finfo(student_scores.dtype).min)
        loss = loss + torch.mean(teacher_targets[:, i] * F.cross_entropy(scores, targets, reduction="none"))
        masked = masked.scatter(-1, targets.unsqueeze(-1), True)
    return loss


def group_scores(all_scores: Tensor, group_size: int) -> Tensor:
    """Each query's scores against its own group: ``(B, B*G) -> (B, G)`` (query ``q`` owns columns ``q*G..``)."""
    rows = all_scores.size(0)
    index = torch.arange(rows, device=all_scores.device).unsqueeze(1) * group_size
    index = index + torch.arange(group_size, device=all_scores.device)
    return torch.gather(all_scores, 1, index)


class AbsEmbedderModel(HFModelWrapperMixin, nn.Module, ABC):
    """Bi-encoder training wrapper. Subclasses implement :meth:`encode_batch` (one padded batch -> reps).

    ``forward`` encodes queries and passages, picks the loss path (no-in-batch when the batch flag is set,
    else cross-device when ``negatives_cross_device``, else in-batch) and adds distillation when teacher scores
    are given. Kinds with several score types (M3) reuse :meth:`compute_path_loss` with their own score function.

    Args:
        base_model: The model being trained (``self.model``).
        tokenizer: Its tokenizer (kept for saving and subclasses).
        negatives_cross_device: Gather passages of every process as extra negatives.
        temperature: Scores are divided by it.
        sub_batch_size: Encode dict features in chunks of this many rows (<= 0: at once).
        kd_loss_type: ``"kl_div"`` or ``"m3_kd_loss"``.
        use_mrl: Average the loss over embedding prefixes ``mrl_dims``.
        mrl_dims: Prefix widths for MRL.
        normalize_embeddings: L2-normalize reps (also after MRL slicing).
    """

    def __init__(
        self,
        base_model: Any,
        tokenizer: Optional[PreTrainedTokenizerBase] = None,
        negatives_cross_device: bool = False,
        temperature: float = 1.0,
        sub_batch_size: int = -1,
        kd_loss_type: str = "kl_div",
        use_mrl: bool = False,
        mrl_dims: Optional[Sequence[int]] = None,
        normalize_embeddings: bool = False,
    ):
        super().__init__()
        if kd_loss_type not in KD_LOSS_TYPES:
            raise InputError(f"kd_loss_type must be one of {list(KD_LOSS_TYPES)}, got {kd_loss_type!r}.")
        if use_mrl and not mrl_dims:
            raise InputError("use_mrl=True needs at least one value in mrl_dims.")
        self.model = base_model
        self.tokenizer = tokenizer
        self.temperature = temperature
        self.negatives_cross_device = negatives_cross_device
        self.sub_batch_size = sub_batch_size if sub_batch_size is not None else -1
        self.kd_loss_type = kd_loss_type
        self.use_mrl = use_mrl
        self.mrl_dims = list(mrl_dims or [])
        self.normalize_embeddings = normalize_embeddings
        if negatives_cross_device:
            if not (dist.is_available() and dist.is_initialized()):
                raise InputError(
                    "negatives_cross_device=True needs an initialized torch.distributed process group "
                    "(launch with torchrun); drop --negatives_cross_device for a single-process run."
                )
            self.process_rank = dist.get_rank()
            self.world_size = dist.get_world_size()

    # ---- encoding -------------------------------------------------------------------------------------------
    @abstractmethod
    def encode_batch(self, features: Dict[str, Tensor]) -> Any:
        """Representations of one padded batch."""

    def concat_reps(self, chunks: List[Any]) -> Any:
        """Join the reps of sub-batches (override when reps are not a single tensor)."""
        return torch.cat(chunks, dim=0)

    def encode(self, features: Features) -> Any:
        """Encode collated features: a list of chunks chunk by chunk, a dict at once or in
        ``sub_batch_size`` slices."""
        if features is None:
            return None
        if isinstance(features, list):
            return self.concat_reps([self.encode_batch(chunk) for chunk in features])
        rows = next(iter(features.values())).shape[0]
        if self.sub_batch_size > 0 and rows > self.sub_batch_size:
            step = self.sub_batch_size
            return self.concat_reps(
                [self.encode_batch({k: v[i:i + step] for k, v in features.items()}) for i in range(0, rows, step)]
            )
        return self.encode_batch(features)

    def mrl_views(self, q_reps: Tensor, p_reps: Tensor) -> List[Tuple[Tensor, Tensor]]:
        """``[(q, p)]``, or one prefix slice per MRL dim (capped at the width, re-normalized if enabled)."""
        if not self.use_mrl:
            return [(q_reps, p_reps)]
        width = q_reps.shape[-1]
        views = []
        for dim in self.mrl_dims:
            if dim > width:
                logger.warning("mrl_dims entry %d exceeds the embedding width %d; using %d.", dim, width, width)
                dim = width
            q, p = q_reps[:, :dim], p_reps[:, :dim]
            if self.normalize_embeddings:
                q, p = F.normalize(q, dim=-1), F.normalize(p, dim=-1)
            views.append((q, p))
        return views

    # ---- scoring and losses ---------------------------------------------------------------------------------
    def compute_score(self, q_reps: Tensor, p_reps: Tensor) -> Tensor:
        """Inner products divided by ``temperature``: ``(n_q, n_p)``."""
        return torch.matmul(q_reps, p_reps.transpose(0, 1)) / self.temperature

    def compute_loss(self, scores: Tensor, target: Tensor) -> Tensor:
        """Mean cross-entropy."""
        return F.cross_entropy(scores, target)

    def get_local_score(self, q_reps: Any, p_reps: Any, all_scores: Tensor) -> Tensor:
        """Each query's scores against its own group: ``(B, B*G) -> (B, G)`` with ``G = len(p) // len(q)``."""
        return group_scores(all_scores, self.num_rows(p_reps) // self.num_rows(q_reps))

    def compute_local_score(self, q_reps: Any, p_reps: Any, compute_score_func: Optional[ScoreFunction] = None,
                            **kwargs: Any) -> Tensor:
        """Scores of each query against its own group only, ``(B, G)``; ``kwargs`` reach the score function."""
        all_scores = (compute_score_func or self.compute_score)(q_reps, p_reps, **kwargs)
        return self.get_local_score(q_reps, p_reps, all_scores)

    @staticmethod
    def distill_loss(kd_loss_type: str, teacher_targets: Tensor, student_scores: Tensor,
                     group_size: Optional[int] = None, first_targets: Optional[Tensor] = None) -> Tensor:
        """``kl_div`` (soft cross-entropy) or ``m3_kd_loss`` (needs ``group_size``), as ``kd_loss_type`` says."""
        if kd_loss_type == "kl_div":
            return soft_cross_entropy(teacher_targets, student_scores)
        if kd_loss_type == "m3_kd_loss":
            if group_size is None:
                raise InputError("distill_loss: kd_loss_type='m3_kd_loss' needs group_size.")
            return m3_kd_loss(teacher_targets, student_scores, group_size, first_targets)
        raise InputError(f"kd_loss_type must be one of {list(KD_LOSS_TYPES)}, got {kd_loss_type!r}.")

    @staticmethod
    def teacher_targets(teacher_scores: Any, num_queries: int, device: torch.device) -> Optional[Tensor]:
        """Softmax over each query's group of the teacher scores (detached; no temperature)."""
        if teacher_scores is None:
            return None
        scores = torch.as_tensor(teacher_scores, dtype=torch.float32, device=device)
        return torch.softmax(scores.view(num_queries, -1).detach(), dim=-1)

    def _in_batch_loss(self, q_reps: Any, p_reps: Any, teacher_targets: Optional[Tensor],
                       score_fn: ScoreFunction, group_size: int) -> Tuple[Tensor, Tensor]:
        scores = score_fn(q_reps, p_reps)
        targets = torch.arange(scores.size(0), device=scores.device) * group_size
        if teacher_targets is None:
            return scores, self.compute_loss(scores, targets)
        if self.kd_loss_type == "kl_div":
            loss = self.distill_loss(self.kd_loss_type, teacher_targets, group_scores(scores, group_size), group_size)
            return scores, loss + self.compute_loss(scores, targets)
        return scores, self.distill_loss(self.kd_loss_type, teacher_targets, scores, group_size)

    def _no_in_batch_loss(self, q_reps: Any, p_reps: Any, teacher_targets: Optional[Tensor],
                          score_fn: ScoreFunction, group_size: int) -> Tuple[Tensor, Tensor]:
        scores = self.compute_local_score(q_reps, p_reps, score_fn)
        targets = torch.zeros(scores.size(0), dtype=torch.long, device=scores.device)
        if teacher_targets is None:
            return scores, self.compute_loss(scores, targets)
        if self.kd_loss_type == "kl_div":
            loss = self.distill_loss(self.kd_loss_type, teacher_targets, scores, group_size)
            return scores, loss + self.compute_loss(scores, targets)
        return scores, self.distill_loss(self.kd_loss_type, teacher_targets, scores, group_size, first_targets=targets)

    def _cross_device_loss(self, q_reps: Tensor, p_reps: Tensor, teacher_targets: Optional[Tensor],
                           score_fn: ScoreFunction, group_size: int) -> Tuple[Tensor, Tensor]:
        all_q, all_p = self._dist_gather_tensor(q_reps), self._dist_gather_tensor(p_reps)
        scores = score_fn(all_q, all_p)
        targets = torch.arange(scores.size(0), device=scores.device) * group_size
        if teacher_targets is None:
            return scores, self.compute_loss(scores, targets)
        if self.kd_loss_type == "kl_div":
            local = self.compute_local_score(q_reps, p_reps, score_fn)
            loss = self.distill_loss(self.kd_loss_type, teacher_targets, local, group_size)
            return scores, loss + self.compute_loss(scores, targets)
        all_teacher = self._dist_gather_tensor(teacher_targets)
        return scores, self.distill_loss(self.kd_loss_type, all_teacher, scores, group_size)

    def compute_path_loss(
        self,
        q_reps: Any,
        p_reps: Any,
        teacher_targets: Optional[Tensor],
        no_in_batch_neg_flag: bool,
        group_size: int,
        score_fn: Optional[ScoreFunction] = None,
        allow_cross_device: bool = True,
    ) -> Tuple[Tensor, Tensor]:
        """``(scores, loss)`` on the path the batch calls for (see the class docstring)."""
        score_fn = score_fn or self.compute_score
        if no_in_batch_neg_flag:
            return self._no_in_batch_loss(q_reps, p_reps, teacher_targets, score_fn, group_size)
        if self.negatives_cross_device and allow_cross_device:
            return self._cross_device_loss(q_reps, p_reps, teacher_targets, score_fn, group_size)
        return self._in_batch_loss(q_reps, p_reps, teacher_targets, score_fn, group_size)

    def forward(
        self,
        queries: Features = None,
        passages: Features = None,
        teacher_scores: Optional[Sequence[float]] = None,
        no_in_batch_neg_flag: bool = False,
    ) -> EmbedderOutput:
        """Loss of one batch (:meth:`batch_loss` of the encoded texts; ``loss`` is None in eval mode)."""
        q_reps, p_reps = self.encode(queries), self.encode(passages)
        if not self.training:
            return EmbedderOutput(loss=None)
        return EmbedderOutput(loss=self.batch_loss(q_reps, p_reps, teacher_scores, bool(no_in_batch_neg_flag)))

    def batch_loss(self, q_reps: Any, p_reps: Any, teacher_scores: Optional[Sequence[float]],
                   no_in_batch_neg_flag: bool) -> Tensor:
        """The loss of one encoded batch: :meth:`compute_path_loss` averaged over the MRL views."""
        num_queries = self.num_rows(q_reps)
        group_size = self.num_rows(p_reps) // num_queries
        targets = self.teacher_targets(teacher_scores, num_queries, self.device_of(q_reps))
        losses = [self.compute_path_loss(q, p, targets, no_in_batch_neg_flag, group_size)[1]
                  for q, p in self.mrl_views(q_reps, p_reps)]
        return torch.stack(losses).mean()

    @staticmethod
    def num_rows(reps: Any) -> int:
        """Number of rows of a rep tensor (override for structured reps)."""
        return reps.shape[0]

    @staticmethod
    def device_of(reps: Any) -> torch.device:
        """Device of a rep tensor."""
        return reps.device

    @overload
    def _dist_gather_tensor(self, tensor: Tensor) -> Tensor: ...

    @overload
    def _dist_gather_tensor(self, tensor: None) -> None: ...

    def _dist_gather_tensor(self, tensor: Optional[Tensor]) -> Optional[Tensor]:
        """All-gather along dim 0 (rank order); this process's slot keeps its gradient.

        The loss value is not rescaled, but the own slot's gradient is multiplied by the world size W: each rank
        back-propagates the global loss through its own rows only, and data-parallel training averages gradients
        over W ranks, so the averaged gradient equals that of one process on the concatenated batch (FlagEmbedding
        1.4.2 left it W times smaller for the cross-device terms).
        """
        if tensor is None:
            return None
        tensor = tensor.contiguous()
        gathered = [torch.empty_like(tensor) for _ in range(self.world_size)]
        dist.all_gather(gathered, tensor)
        gathered[self.process_rank] = tensor + (self.world_size - 1) * (tensor - tensor.detach())
        return torch.cat(gathered, dim=0)

    def save(self, output_dir: str) -> None:
        """``save_pretrained`` of the HF model with a CPU copy of its state dict."""
        self.model.save_pretrained(output_dir, state_dict=cpu_state_dict(self.model))


class PooledEmbedderModel(AbsEmbedderModel):
    """Dense embedder over ``last_hidden_state`` pooled into one vector per text: the shared base of the
    encoder-only and decoder-only kinds (see :class:`AbsEmbedderModel` for the losses).

    Args (beyond :class:`AbsEmbedderModel`):
        sentence_pooling_method: ``"cls"``, ``"mean"`` or ``"last_token"``.
    """

    def __init__(
        self,
        base_model: Any,
        tokenizer: Optional[PreTrainedTokenizerBase] = None,
        negatives_cross_device: bool = False,
        temperature: float = 1.0,
        sub_batch_size: int = -1,
        kd_loss_type: str = "kl_div",
        use_mrl: bool = False,
        mrl_dims: Optional[Sequence[int]] = None,
        sentence_pooling_method: str = "cls",
        normalize_embeddings: bool = False,
    ):
        super().__init__(
            base_model, tokenizer=tokenizer, negatives_cross_device=negatives_cross_device,
            temperature=temperature, sub_batch_size=sub_batch_size, kd_loss_type=kd_loss_type,
            use_mrl=use_mrl, mrl_dims=mrl_dims, normalize_embeddings=normalize_embeddings,
        )
        self.sentence_pooling_method = check_pooling_method(sentence_pooling_method)

    def encode_batch(self, features: Dict[str, Tensor]) -> Tensor:
        """Pooled (and optionally L2-normalized) last hidden states."""
        hidden = self.model(**features, return_dict=True).last_hidden_state
        reps = pool(hidden, features["attention_mask"], self.sentence_pooling_method)
        if self.normalize_embeddings:
            reps = F.normalize(reps, dim=-1)
        return reps.contiguous()
