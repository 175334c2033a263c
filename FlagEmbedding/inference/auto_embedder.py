"""``FlagAutoModel``: pick the embedder class and its defaults from a checkpoint's name."""
from __future__ import annotations

import logging
import os
from typing import Any, Optional, Type, Union

from FlagEmbedding.abc.inference.embedder import AbsEmbedder
from FlagEmbedding.inference.registry import (AutoLoader, model_class_choices, not_in_registry_message,
                                              parse_model_class, registry_name)
from FlagEmbedding.inference.embedder.model_mapping import (AUTO_EMBEDDER_MAPPING, EMBEDDER_CLASS_MAPPING,
                                                             EmbedderModelClass)
from FlagEmbedding.utils.errors import InputError
from FlagEmbedding.utils.pooling import declared_pooling

logger = logging.getLogger(__name__)
FLAG = "--embedder_model_class"  # the command-line flag that sets model_class, named in errors


class FlagAutoModel(AutoLoader):
    """Factory: ``FlagAutoModel.from_finetuned(name_or_path)`` returns the right embedder."""

    @classmethod
    def from_finetuned(
        cls,
        model_name_or_path: str,
        model_class: Optional[Union[str, EmbedderModelClass]] = None,
        normalize_embeddings: bool = True,
        use_fp16: Optional[bool] = None,
        use_bf16: Optional[bool] = None,
        query_instruction_for_retrieval: Optional[str] = None,
        devices: Any = None,
        pooling_method: Optional[str] = None,
        trust_remote_code: Optional[bool] = None,
        query_instruction_format: Optional[str] = None,
        truncate_dim: Optional[int] = None,
        **kwargs: Any,
    ) -> AbsEmbedder:
        """Build the embedder for ``model_name_or_path``.

        With ``model_class`` the class is taken from it and unset options use the class defaults; otherwise the
        checkpoint's folder name must be in the registry, which supplies class, pooling, remote-code flag and
        query format. Only options the caller set (plus the registry's) are forwarded, so class defaults
        (e.g. PseudoMoE's bf16) survive.
        """
        name = registry_name(model_name_or_path)
        declared = declared_pooling(model_name_or_path) if os.path.isdir(model_name_or_path) else None
        if model_class is None and cls._sentence_transformers_folder(name, declared):
            model_class = EmbedderModelClass.ENCODER_ONLY_BASE
            logger.info("'%s' is not in the registry; it is a sentence-transformers folder, so it is loaded as "
                        "'%s'.", name, model_class.value)
        if model_class is not None:
            embedder_cls = EMBEDDER_CLASS_MAPPING[parse_model_class(EmbedderModelClass, model_class, FLAG)]
            if pooling_method is None and declared is not None:
                pooling_method = declared[0]
                logger.info("Using pooling_method '%s' declared in %s.", pooling_method, declared[1])
            elif pooling_method is None:
                pooling_method = embedder_cls.DEFAULT_POOLING_METHOD
                logger.warning("`pooling_method` is not specified and %s declares none; using the default '%s' "
                               "(pass pooling_method / --pooling_method if the model was trained with another).",
                               model_name_or_path, pooling_method)
            if trust_remote_code is None:
                trust_remote_code = False
                logger.warning("`trust_remote_code` is not specified, set to default value 'False'.")
        else:
            config = cls._registry_entry(name)
            embedder_cls = config.model_class
            if pooling_method is None:
                pooling_method = config.pooling_method.value
            if trust_remote_code is None:
                trust_remote_code = config.trust_remote_code
            if query_instruction_format is None:
                query_instruction_format = config.query_instruction_format

        explicit = dict(
            use_fp16=use_fp16, use_bf16=use_bf16, query_instruction_format=query_instruction_format,
            truncate_dim=truncate_dim, query_instruction_for_retrieval=query_instruction_for_retrieval,
            devices=devices,
        )
        forwarded = {key: value for key, value in explicit.items() if value is not None}
        return embedder_cls(
            model_name_or_path,
            normalize_embeddings=normalize_embeddings,
            pooling_method=pooling_method,
            trust_remote_code=trust_remote_code,
            **forwarded,
            **kwargs,
        )

    @classmethod
    def embedder_class(cls, model_name_or_path: str,
                       model_class: Optional[Union[str, EmbedderModelClass]] = None) -> Type[AbsEmbedder]:
        """The class :meth:`from_finetuned` builds for these arguments, found as it finds it but without loading
        anything: ``model_class`` when given, else the registry entry of the checkpoint's name, else
        ``encoder-only-base`` for a sentence-transformers folder; an :class:`InputError` (the one
        :meth:`from_finetuned` raises) when none applies."""
        name = registry_name(model_name_or_path)
        if model_class is None:
            declared = declared_pooling(model_name_or_path) if os.path.isdir(model_name_or_path) else None
            if cls._sentence_transformers_folder(name, declared):
                model_class = EmbedderModelClass.ENCODER_ONLY_BASE
        if model_class is not None:
            return EMBEDDER_CLASS_MAPPING[parse_model_class(EmbedderModelClass, model_class, FLAG)]
        return cls._registry_entry(name).model_class

    @staticmethod
    def _sentence_transformers_folder(name: str, declared: Any) -> bool:
        """Whether a checkpoint outside the registry is loaded as ``encoder-only-base`` (it declares its pooling)."""
        return name not in AUTO_EMBEDDER_MAPPING and declared is not None

    @staticmethod
    def _registry_entry(name: str) -> Any:
        """The registry entry of ``name`` (:class:`InputError` naming ``--embedder_model_class`` when missing)."""
        if name not in AUTO_EMBEDDER_MAPPING:
            raise InputError(not_in_registry_message(name, choices=model_class_choices(EmbedderModelClass), flag=FLAG))
        return AUTO_EMBEDDER_MAPPING[name]
