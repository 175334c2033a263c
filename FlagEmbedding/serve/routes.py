"""The server's routes (``/v1/embeddings``, ``/v1/rerank``, ``/v1/models``, ``/health``, ``/metrics``) on one
:data:`router`; each reads the running server's :class:`~FlagEmbedding.serve.state.ServerState` from
``request.app.state.serve`` (see :func:`~FlagEmbedding.serve.app.create_app`)."""
from __future__ import annotations

import base64
import uuid
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from FlagEmbedding.serve.errors import APIError
from FlagEmbedding.serve.limits import check_inputs
from FlagEmbedding.serve.schemas import (Embedding, EmbeddingRequest, EmbeddingResponse, ModelCard, ModelList,
                                         RerankDocument, RerankRequest, RerankResponse, RerankResult, RerankUsage,
                                         SparseEmbedding, Usage)
from FlagEmbedding.serve.services import EmbedderService, EmbeddingOutput
from FlagEmbedding.serve.state import ServerState
from FlagEmbedding.utils.quantization import quantize_embeddings

router = APIRouter()


def server_state(request: Request) -> ServerState:
    """The :class:`ServerState` of the application serving ``request``."""
    return request.app.state.serve


@router.post("/v1/embeddings", response_model=EmbeddingResponse, response_model_exclude_none=True,
          summary="Embed texts (OpenAI schema)")
async def embeddings(request: EmbeddingRequest, state: ServerState = Depends(server_state)) -> Dict[str, Any]:
    service = state.service("embedder", request.model)
    settings = state.settings
    texts = request.texts()
    check_inputs(texts, "input", settings.max_inputs_per_request, settings.max_chars_per_input)
    if (request.return_sparse or request.return_colbert) and not service.supports_m3_outputs:
        raise APIError(422, f"return_sparse / return_colbert need a BGE-M3 embedder; '{service.model_id}' "
                            "only has dense vectors.", param="return_sparse" if request.return_sparse
                       else "return_colbert", code="unsupported_output")
    if request.dimensions is not None and request.dimensions > service.dimension:
        raise APIError(422, f"dimensions={request.dimensions} exceeds the model's {service.dimension} features.",
                       param="dimensions", code="invalid_dimensions")
    lengths = await run_in_threadpool(service.count_tokens, texts, request.input_type)
    key = (request.input_type, request.return_sparse, request.return_colbert)
    outputs: List[EmbeddingOutput] = await state.batchers["embedding"].submit(key, texts, lengths)
    data = [embedding_item(service, index, output, request) for index, output in enumerate(outputs)]
    tokens = sum(lengths)
    state.metrics.input_tokens.labels(model=service.model_id).inc(tokens)
    extra = {}
    if request.embedding_types:
        vectors = np.stack([truncate_renormalize(output.dense, request.dimensions) for output in outputs])
        extra["embeddings"] = typed_embeddings(vectors, request.embedding_types)
    return {"object": "list", "data": data, "model": service.model_id,
            "usage": Usage(prompt_tokens=tokens, total_tokens=tokens), **extra}

@router.post("/v1/rerank", response_model=RerankResponse, response_model_exclude_none=True,
          summary="Rerank documents for a query (Cohere / Jina schema)")
async def rerank(request: RerankRequest, state: ServerState = Depends(server_state)) -> RerankResponse:
    service = state.service("reranker", request.model)
    settings = state.settings
    documents = request.texts()
    check_inputs(documents, "documents", settings.max_inputs_per_request, settings.max_chars_per_input)
    if len(request.query) > settings.max_chars_per_input:
        raise APIError(413, f"query has {len(request.query)} characters; at most {settings.max_chars_per_input} "
                            "are allowed.", param="query", code="input_too_long")
    pairs = [[request.query, document] for document in documents]
    lengths = await run_in_threadpool(service.count_tokens, pairs)
    scores: List[float] = await state.batchers["rerank"].submit("rerank", pairs, lengths)
    order = sorted(range(len(scores)), key=lambda i: -scores[i])[: request.top_n]
    results = [
        RerankResult(index=i, relevance_score=scores[i],
                     document=echoed_document(request.documents[i]) if request.return_documents else None)
        for i in order
    ]
    tokens = sum(lengths)
    state.metrics.input_tokens.labels(model=service.model_id).inc(tokens)
    return RerankResponse(id=str(uuid.uuid4()), model=service.model_id, results=results,
                          usage=RerankUsage(total_tokens=tokens))


def echoed_document(document: Union[str, RerankDocument]) -> Dict[str, Any]:
    """A document as ``return_documents`` echoes it: an object as sent, a string as ``{"text": ...}``."""
    return document.model_dump() if not isinstance(document, str) else {"text": document}

@router.get("/v1/models", response_model=ModelList, summary="List the served models")
async def models(state: ServerState = Depends(server_state)) -> ModelList:
    return ModelList(data=[ModelCard(id=s.model_id, created=state.created, task=s.task)
                           for s in state.loaded().all()])

@router.get("/health", summary="Readiness: 200 once the models are loaded, 503 before (or if loading failed)")
async def health(state: ServerState = Depends(server_state)) -> JSONResponse:
    services = state.services
    if services is not None:  # state.ready
        return JSONResponse({"status": "ready", "models": [s.model_id for s in services.all()]})
    status = "failed" if state.load_error else "loading"
    return JSONResponse({"status": status, "error": state.load_error}, status_code=503)

@router.get("/metrics", summary="Prometheus metrics (text exposition format)")
async def prometheus(state: ServerState = Depends(server_state)) -> Response:
    return Response(state.metrics.render(), media_type=state.metrics.content_type)


def float_vector(vector: np.ndarray) -> List[float]:
    """A vector as a list of floats (float32 values)."""
    return np.asarray(vector, dtype="<f4").tolist()


def base64_vector(vector: np.ndarray) -> str:
    """Base64 of a vector's little-endian float32 bytes (what the ``openai`` client decodes)."""
    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")


def encode_vector(vector: np.ndarray, encoding_format: str) -> Union[List[float], str]:
    """A float list, or base64 of the little-endian float32 bytes (what the ``openai`` client decodes)."""
    if encoding_format == "base64":
        return base64_vector(vector)
    return float_vector(vector)


#: the int8 / uint8 ranges of the server: [-1, 1] in every dimension, where every unit vector's values lie
UNIT_RANGES = (-1.0, 1.0)


def typed_embeddings(vectors: np.ndarray, types: Sequence[str]) -> Dict[str, List[List[Union[int, float]]]]:
    """``{type: one list per vector}`` for the ``embedding_types`` of a request (see
    :func:`FlagEmbedding.utils.quantization.quantize_embeddings`; int8 / uint8 over :data:`UNIT_RANGES`)."""
    ranges = np.array([[UNIT_RANGES[0]], [UNIT_RANGES[1]]], dtype=np.float32).repeat(vectors.shape[1], axis=1)
    out: Dict[str, List[List[Union[int, float]]]] = {}
    for kind in dict.fromkeys(types):
        values = vectors.astype("<f4") if kind == "float" else quantize_embeddings(vectors, kind, ranges=ranges)
        out[kind] = values.tolist()
    return out


def truncate_renormalize(vector: np.ndarray, dimensions: Optional[int]) -> np.ndarray:
    """The first ``dimensions`` features, L2-renormalised (unchanged when ``dimensions`` is None)."""
    if dimensions is None:
        return vector
    head = np.asarray(vector[:dimensions], dtype=np.float32)
    norm = float(np.linalg.norm(head))
    return head / norm if norm > 0 else head


def embedding_item(service: EmbedderService, index: int, output: EmbeddingOutput,
                   request: EmbeddingRequest) -> Embedding:
    """One ``data`` entry: the dense vector (truncated + renormalised, encoded) and the M3 extras asked for."""
    item = Embedding(index=index, embedding=encode_vector(truncate_renormalize(output.dense, request.dimensions),
                                                          request.encoding_format))
    if output.lexical_weights is not None:
        ids = [int(token_id) for token_id in output.lexical_weights]
        item.sparse = SparseEmbedding(token_ids=ids, tokens=service.tokens_of(ids),
                                      weights=[float(w) for w in output.lexical_weights.values()])
    if output.colbert is not None:
        if request.encoding_format == "base64":
            item.colbert = [base64_vector(vector) for vector in output.colbert]
        else:
            item.colbert = [float_vector(vector) for vector in output.colbert]
    return item
