"""Request and response bodies (pydantic): the OpenAI embeddings shape and the Cohere/Jina rerank shape."""
from __future__ import annotations

import json
import math
from typing import Annotated, Any, Callable, Dict, List, Literal, Optional, Union

from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, PositiveInt, StrictBool, StrictStr, ValidationInfo,
                      field_validator)

from FlagEmbedding.utils.validation import check_text

#: bounds on a rerank document object's fields besides ``text`` (echoed back with ``return_documents``):
#: objects / arrays nested at most this deep (the document object is level 1) ...
MAX_DOCUMENT_DEPTH = 16
#: ... and at most this many characters of compact JSON for all of them together
MAX_DOCUMENT_FIELDS_CHARS = 65_536


class Strict(BaseModel):
    """Unknown fields are errors (a misspelt option must not be ignored silently) and no value is coerced
    (``true`` or ``"8"`` is not an integer)."""

    model_config = ConfigDict(extra="forbid", strict=True)


def _text(value: Any, param: str) -> str:
    """An input text checked by the library's rule (:func:`check_text`: a str without lone surrogates), and not
    empty; ``ValueError`` (a 422) naming ``param``."""
    try:
        return check_text(value, param, allow_empty=False)
    except TypeError as error:
        raise ValueError(str(error)) from None


def _name(value: str, info: ValidationInfo) -> str:
    """A name field checked by :func:`check_text` (may be empty)."""
    # pydantic names the field for a validator on a model field, the only place :data:`Name` annotates
    return check_text(value, info.field_name if info.field_name is not None else "value")


#: a string field that is not model input (``model``, ``user``): no lone surrogates either, may be empty
Name = Annotated[StrictStr, AfterValidator(_name)]


def _text_list(value: Any, field: str, kind: str, check_item: Callable[[Any, str], None]) -> List[Any]:
    """A non-empty JSON array whose items pass ``check_item(item, "field[position]")``."""
    if not isinstance(value, list):
        raise ValueError(f"`{field}` must be {kind}, got {type(value).__name__}")
    if not value:
        raise ValueError(f"`{field}` must not be an empty list")
    for position, item in enumerate(value):
        check_item(item, f"{field}[{position}]")
    return value


def _input_item(item: Any, param: str) -> None:
    """One item of the embeddings ``input`` list: a text."""
    if not isinstance(item, str):
        raise ValueError(f"`{param}` must be a string, got {type(item).__name__} (token arrays are not supported)")
    _text(item, param)


def _document_item(item: Any, param: str) -> None:
    """One rerank document: a text, or an object with a ``text`` whose other fields can be echoed (bounded)."""
    if isinstance(item, str):
        _text(item, param)
        return
    if not (isinstance(item, dict) and isinstance(item.get("text"), str)):
        raise ValueError(f"`{param}` must be a string or an object with a `text` string, got {type(item).__name__}")
    _text(item["text"], f"{param}.text")
    fields = {name: value for name, value in item.items() if name != "text"}
    _check_echoed(fields, param, depth=1)
    size = len(json.dumps(fields, ensure_ascii=False, separators=(",", ":")))
    if size > MAX_DOCUMENT_FIELDS_CHARS:
        raise ValueError(f"`{param}` has {size} characters of fields besides `text`; at most "
                         f"{MAX_DOCUMENT_FIELDS_CHARS} are allowed")


def _check_echoed(value: Any, param: str, depth: int) -> None:
    """A document field that can be echoed as JSON: objects / arrays nested at most :data:`MAX_DOCUMENT_DEPTH`
    deep, strings (names too) without lone surrogates, no NaN / Infinity."""
    if isinstance(value, (dict, list)):
        if depth > MAX_DOCUMENT_DEPTH:
            raise ValueError(f"`{param}` nests objects / arrays more than {MAX_DOCUMENT_DEPTH} levels deep")
        for name, item in value.items() if isinstance(value, dict) else enumerate(value):
            if isinstance(name, str):
                check_text(name, param)
            _check_echoed(item, param, depth + 1)
    elif isinstance(value, str):
        check_text(value, param)
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"`{param}` holds {value}, which JSON cannot carry")


# ---------------------------------------------------------------------------------------------- embeddings
class EmbeddingRequest(Strict):
    """``POST /v1/embeddings`` (OpenAI), plus ``input_type`` and the M3 outputs."""

    input: Union[StrictStr, List[StrictStr]] = Field(description="One text or a list of texts (token arrays are not supported).")
    model: Optional[Name] = Field(default=None, description="Served embedder id (see /v1/models); default: the embedder.")
    encoding_format: Literal["float", "base64"] = Field(
        default="float", description="`float` lists or `base64` of little-endian float32.")
    dimensions: Optional[PositiveInt] = Field(
        default=None, description="Keep the first N features, then L2-renormalise.")
    embedding_types: Optional[List[Literal["float", "int8", "uint8", "binary", "ubinary"]]] = Field(
        default=None, min_length=1, description="Cohere embed v2: also return the vectors in these types, as "
        "`embeddings: {type: [one list per input]}` (int8 / uint8: 256 buckets of [-1, 1], the range of unit "
        "vectors; binary / ubinary: sign bits packed 8 per byte, int8 = uint8 - 128).")
    input_type: Optional[Literal["query", "passage"]] = Field(
        default=None, description="`query` applies the query instruction (encode_queries); `passage` uses encode_corpus; "
                                  "unset: plain encode.")
    return_sparse: StrictBool = Field(default=False, description="M3 only: add lexical weights (`sparse`).")
    return_colbert: StrictBool = Field(default=False, description="M3 only: add ColBERT multi-vectors (`colbert`).")
    user: Optional[Name] = Field(default=None, description="Accepted for OpenAI compatibility; unused.")

    @field_validator("input", mode="before")
    @classmethod
    def _check_input(cls, value: Any) -> Any:
        if isinstance(value, str):
            return _text(value, "input")
        return _text_list(value, "input", "a string or a list of strings", _input_item)

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
    embeddings: Optional[Dict[str, List[List[Union[int, float]]]]] = Field(
        default=None, description="The `embedding_types` asked for (Cohere embed v2 shape), by type.")


# ---------------------------------------------------------------------------------------------- rerank
class RerankDocument(BaseModel):
    """A document given as an object; only ``text`` is read (other fields are echoed back; their depth and size
    are bounded, see :data:`MAX_DOCUMENT_DEPTH`)."""

    model_config = ConfigDict(extra="allow")
    text: StrictStr


class RerankRequest(Strict):
    """``POST /v1/rerank`` (Cohere / Jina)."""

    query: StrictStr
    documents: List[Union[StrictStr, RerankDocument]]
    model: Optional[Name] = Field(default=None, description="Served reranker id; default: the reranker.")
    top_n: Optional[PositiveInt] = Field(default=None, description="Return the best N (default: all).")
    return_documents: StrictBool = Field(default=False, description="Echo each document in its result.")

    @field_validator("query", mode="before")
    @classmethod
    def _check_query(cls, value: Any) -> Any:
        return _text(value, "query")

    @field_validator("documents", mode="before")
    @classmethod
    def _check_documents(cls, value: Any) -> Any:
        return _text_list(value, "documents", "a list of strings or of objects with `text`", _document_item)

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
