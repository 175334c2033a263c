"""``FlagAutoReranker``: pick the reranker class for a checkpoint from its folder / model name."""
from __future__ import annotations

import logging
from typing import Any, Optional, Type, Union

from FlagEmbedding.abc.inference.reranker import AbsReranker
from FlagEmbedding.inference.registry import (AutoLoader, model_class_choices, not_in_registry_message,
                                              parse_model_class, registry_name)
from FlagEmbedding.inference.reranker.model_mapping import (
    AUTO_RERANKER_MAPPING,
    RERANKER_CLASS_MAPPING,
    RerankerModelClass,
)
from FlagEmbedding.utils.errors import InputError

logger = logging.getLogger(__name__)
FLAG = "--reranker_model_class"  # the command-line flag that sets model_class, named in errors


class FlagAutoReranker(AutoLoader):
    """Factory: use :meth:`from_finetuned`; instantiating the class itself raises ``EnvironmentError``."""

    @classmethod
    def from_finetuned(
        cls,
        model_name_or_path: str,
        model_class: Optional[Union[str, RerankerModelClass]] = None,
        use_fp16: Optional[bool] = None,
        trust_remote_code: Optional[bool] = None,
        **kwargs: Any,
    ) -> AbsReranker:
        """Load ``model_name_or_path`` with the reranker class its name is registered under.

        Args:
            model_name_or_path: Hub id or local folder. Its last path component (for a ``checkpoint-N``
                folder: the parent's) is looked up in ``AUTO_RERANKER_MAPPING``; a trailing ``/`` is ignored.
            model_class: A :class:`RerankerModelClass` (or its value) to use instead of the registry.
            use_fp16: Half precision on accelerators; when left None the class default applies (False).
            trust_remote_code: None takes the registry value (False with an explicit ``model_class``).
            **kwargs: Passed to the reranker class unchanged.

        Raises:
            ValueError: The name is not registered and no ``model_class`` is given, or ``model_class`` is not
                a valid :class:`RerankerModelClass`.
        """
        reranker_class = cls.reranker_class(model_name_or_path, model_class)
        if model_class is not None:
            if trust_remote_code is None:
                trust_remote_code = False
                logger.warning("`trust_remote_code` is not specified, set to default value '%s'.", trust_remote_code)
        elif trust_remote_code is None:
            trust_remote_code = AUTO_RERANKER_MAPPING[registry_name(model_name_or_path)].trust_remote_code
        if use_fp16 is not None:
            kwargs["use_fp16"] = use_fp16
        return reranker_class(model_name_or_path, trust_remote_code=trust_remote_code, **kwargs)

    @classmethod
    def reranker_class(cls, model_name_or_path: str,
                       model_class: Optional[Union[str, RerankerModelClass]] = None) -> Type[AbsReranker]:
        """The class :meth:`from_finetuned` builds for these arguments, found without loading anything:
        ``model_class`` when given, else the registry entry of the checkpoint's name (an :class:`InputError`
        naming ``--reranker_model_class`` when it has none)."""
        if model_class is not None:
            return RERANKER_CLASS_MAPPING[parse_model_class(RerankerModelClass, model_class, FLAG)]
        name = registry_name(model_name_or_path)
        if name not in AUTO_RERANKER_MAPPING:
            raise InputError(not_in_registry_message(name, kind="reranker",
                                                     choices=model_class_choices(RerankerModelClass), flag=FLAG))
        return AUTO_RERANKER_MAPPING[name].model_class
