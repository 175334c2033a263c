"""Request and response bodies (pydantic): the OpenAI embeddings shape and the Cohere/Jina rerank shape."""
from __future__ import annotations

from typing import Any, Dict, List, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, StrictBool, StrictStr, field_validator


class Strict(BaseModel):
    """Unknown fields are errors (a misspelt option must not be ignored silently)."""

    model_config = ConfigDict(extra="forbid")


def _check_text_types(value: Any, field: str, objects: bool = False) -> Any:
    """Before type coercion: a str or a list whose items are str (or, with ``objects``, ``{"text": str}``)."""
    allowed = "a string or an object with a `text` string" if objects else "a string"
    if isinstance(value, str) and not objects:
        return value
    if not isinstance(value, list):
        kind = "a list of strings or of objects with `text`" if objects else "a string or a list of strings"
        raise ValueError(f"`{field}` must be {kind}, got {type(value).__name__}")
    for position, item in enumerate(value):
        if not (isinstance(item, str) or (objects and isinstance(item, dict) and isinstance(item.get("text"), str))):
            raise ValueError(f"`{field}[{position}]` must be {allowed}, got {type(item).__name__}"
                             + ("" if objects else " (token arrays are not supported)"))
    return value


def _non_empty_texts(value: Union[str, List[Any]], field: str) -> Union[str, List[Any]]:
    if isinstance(value, str):
        if not value:
            raise ValueError(f"`{field}` must not be an empty string")
        return value
    if not value:
        raise ValueError(f"`{field}` must not be an empty list")
    for position, item in enumerate(value):
        text = item if isinstance(item, str) else item.text
        if not text:
            raise ValueError(f"`{field}[{position}]` must not be an empty string")
    return value


# ---------------------------------------------------------------------------------------------- embeddings
class EmbeddingRequest(Strict):
    """``POST /v1/embeddings`` (OpenAI), plus ``input_type`` and the M3 outputs."""

    input: Union[StrictStr, List[StrictStr]] = Field(description="One text or a list of texts (token arrays are not supported).")
    model: Optional[StrictStr] = Field(default=None, description="Served embedder id (see /v1/models); default: the embedder.")
    encoding_format: Literal["float", "base64"] = Field(
        default="float", description="`float` lists or `base64` of little-endian float32.")
    dimensions: Optional[PositiveInt] = Field(
        default=None, description="Keep the first N features, then L2-renormalise.")
    input_type: Optional[Literal["query", "passage"]] = Field(
        default=None, description="`query` applies the query instruction (encode_queries); `passage` uses encode_corpus; "
                                  "unset: plain encode.")
    return_sparse: StrictBool = Field(default=False, description="M3 only: add lexical weights (`sparse`).")
    return_colbert: StrictBool = Field(default=False, description="M3 only: add ColBERT multi-vectors (`colbert`).")
    user: Optional[StrictStr] = Field(default=None, description="Accepted for OpenAI compatibility; unused.")

    @field_validator("input", mode="before")
    @classmethod
    def _check_input_types(cls, value: Any) -> Any:
        return _check_text_types(value, "input")

    @field_validator("input")
    @classmethod
    def _check_input(cls, value: Union[str, List[str]]) -> Union[str, List[str]]:
        return _non_empty_texts(value, "input")

    def texts(self) -> List[str]:
        """``input`` as a list."""
        return [self.input] if isinstance(self.input, str) else list(self.input)


class SparseEmbedding(BaseModel):
    """Lexical weights of one text: parallel lists of token ids, token strings and weights."""

    token_ids: List[int]
    tokens: List[str]
    weights: List[float]


class Embedding(BaseModel):
    """One ``data`` item."""

    object: Literal["embedding"] = "embedding"
    index: int
    embedding: Union[List[float], str]
    sparse: Optional[SparseEmbedding] = None
    colbert: Optional[Union[List[List[float]], List[str]]] = Field(
        default=None, description="One vector per token (`float` lists or base64 strings, as `encoding_format`).")


class Usage(BaseModel):
    """Token counts (tokens the model read: instruction and special tokens included, after truncation)."""

    prompt_tokens: int
    total_tokens: int


class EmbeddingResponse(BaseModel):
    """``POST /v1/embeddings`` response."""

    object: Literal["list"] = "list"
    data: List[Embedding]
    model: str
    usage: Usage


# ---------------------------------------------------------------------------------------------- rerank
class RerankDocument(BaseModel):
    """A document given as an object; only ``text`` is read (other fields are echoed back)."""

    model_config = ConfigDict(extra="allow")
    text: StrictStr


class RerankRequest(Strict):
    """``POST /v1/rerank`` (Cohere / Jina)."""

    query: StrictStr = Field(min_length=1)
    documents: List[Union[StrictStr, RerankDocument]]
    model: Optional[StrictStr] = Field(default=None, description="Served reranker id; default: the reranker.")
    top_n: Optional[PositiveInt] = Field(default=None, description="Return the best N (default: all).")
    return_documents: StrictBool = Field(default=False, description="Echo each document in its result.")

    @field_validator("documents", mode="before")
    @classmethod
    def _check_document_types(cls, value: Any) -> Any:
        return _check_text_types(value, "documents", objects=True)

    @field_validator("documents")
    @classmethod
    def _check_documents(cls, value: List[Any]) -> List[Any]:
        return _non_empty_texts(value, "documents")

    def texts(self) -> List[str]:
        """The document texts, in input order."""
        return [doc if isinstance(doc, str) else doc.text for doc in self.documents]


class RerankResult(BaseModel):
    """One scored document (``relevance_score`` = ``compute_score(..., normalize=True)``)."""

    index: int
    relevance_score: float
    document: Optional[Dict[str, Any]] = None


class RerankUsage(BaseModel):
    """Tokens of the assembled (query, document) pairs."""

    total_tokens: int


class RerankResponse(BaseModel):
    """``POST /v1/rerank`` response: results by descending score."""

    id: str
    model: str
    results: List[RerankResult]
    usage: RerankUsage


# ---------------------------------------------------------------------------------------------- models, errors
class ModelCard(BaseModel):
    """One served model."""

    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "FlagEmbedding"
    task: Literal["embedding", "rerank"]


class ModelList(BaseModel):
    """``GET /v1/models``."""

    object: Literal["list"] = "list"
    data: List[ModelCard]


class ErrorDetail(BaseModel):
    """OpenAI's error object."""

    message: str
    type: str
    param: Optional[str] = None
    code: Optional[str] = None


class ErrorResponse(BaseModel):
    """Every 4xx/5xx body."""

    error: ErrorDetail
