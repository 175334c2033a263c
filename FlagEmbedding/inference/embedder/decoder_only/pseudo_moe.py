"""Pseudo-MoE decoder embedder (``FlagPseudoMoEModel``): one remote-code model, several domain experts."""
from __future__ import annotations

import logging
from typing import Any, Dict, Optional

import torch

from FlagEmbedding.inference.embedder.decoder_only.base import BaseLLMEmbedder
from FlagEmbedding.utils.pooling import pool

logger = logging.getLogger(__name__)


class PseudoMoELLMEmbedder(BaseLLMEmbedder):
    """A :class:`~FlagEmbedding.inference.embedder.decoder_only.base.BaseLLMEmbedder` for models that switch
    experts by domain.

    The domain of an encode call is its ``domain_for_pseudo_moe`` keyword, else its ``domain`` keyword, else
    the instance's ``domain_for_pseudo_moe``. A non-None domain is given to ``model.set_domain`` (when the
    model has one) and to the forward pass as ``domain=`` (retried without it when the forward rejects it
    with a ``TypeError``). Pooled vectors go through ``nan_to_num`` (nan -> 0, +-inf -> +-1e4) and are
    normalized in fp32.

    Arguments not listed are those of the base class, with different defaults: ``use_fp16=False``,
    ``use_bf16=True`` and ``trust_remote_code=True``.

    Args:
        domain_for_pseudo_moe: Default domain, e.g. ``"general"``, ``"coding"`` or ``"reasoning"`` (also kept in
            :attr:`kwargs`, so the evaluation's embedding cache tells domains apart).
    """

    #: the keywords of an encode call that choose its domain
    call_options = ("domain_for_pseudo_moe", "domain")

    def __init__(
        self,
        model_name_or_path: str,
        *,
        use_fp16: bool = False,
        use_bf16: bool = True,
        trust_remote_code: bool = True,
        domain_for_pseudo_moe: Optional[str] = None,
        **kwargs: Any,
    ):
        super().__init__(
            model_name_or_path,
            use_fp16=use_fp16,
            use_bf16=use_bf16,
            trust_remote_code=trust_remote_code,
            domain_for_pseudo_moe=domain_for_pseudo_moe,
            **kwargs,
        )
        self.domain_for_pseudo_moe = domain_for_pseudo_moe

    def resolve_options(self, options: Dict[str, Any]) -> Dict[str, Any]:
        """The call's ``domain`` (see :meth:`resolve_domain`); the model is routed to it when it is not None."""
        domain = self.resolve_domain(options)
        if domain is not None and hasattr(self.model, "set_domain"):
            getattr(self.model, "set_domain")(domain)
        return {"domain": domain}

    def resolve_domain(self, kwargs: Dict[str, Any]) -> Optional[str]:
        """Pop ``domain_for_pseudo_moe`` and ``domain`` from call ``kwargs``; the first non-None wins."""
        from_call = kwargs.pop("domain_for_pseudo_moe", None)
        alias = kwargs.pop("domain", None)
        for domain in (from_call, alias, self.domain_for_pseudo_moe):
            if domain is not None:
                return domain
        return None

    def forward_hidden(self, model: torch.nn.Module, batch: Dict[str, torch.Tensor],
                       options: Dict[str, Any]) -> torch.Tensor:
        """Last hidden states, passing the call's domain to the forward when it accepts one."""
        if options["domain"] is not None:
            try:
                return model(**batch, domain=options["domain"], return_dict=True).last_hidden_state
            except TypeError:
                logger.debug("The model's forward does not accept `domain`; calling it without.", exc_info=True)
        return super().forward_hidden(model, batch, options)

    def embed_batch(self, model: torch.nn.Module, batch: Dict[str, torch.Tensor],
                    options: Dict[str, Any]) -> torch.Tensor:
        """Last-token vectors with nan/inf replaced, truncated and normalized in fp32."""
        pooled = pool(self.forward_hidden(model, batch, options), batch["attention_mask"], self.pooling_method).float()
        pooled = torch.nan_to_num(pooled, nan=0.0, posinf=1e4, neginf=-1e4)
        return self.finish_embeddings(pooled)
