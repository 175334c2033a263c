"""Server settings: limits, batching and auth (each field is also a command-line flag)."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Optional

from FlagEmbedding.utils.errors import InputError

logger = logging.getLogger(__name__)


@dataclass
class ServeSettings:
    """Everything the app needs besides the models; ``metadata["help"]`` is the flag's help."""

    max_batch_tokens: int = field(default=16384, metadata={
        "help": "Padded-token budget of one model batch (longest input x inputs)."})
    max_wait_ms: float = field(default=5.0, metadata={
        "help": "Longest time the oldest waiting input waits for its batch to fill."})
    max_queue: int = field(default=8192, metadata={
        "help": "Inputs (texts or pairs) allowed to wait per model; past it: 503 + Retry-After."})
    max_inputs_per_request: int = field(default=2048, metadata={
        "help": "Texts per embeddings request / documents per rerank request (else 413)."})
    max_chars_per_input: int = field(default=100_000, metadata={
        "help": "Characters per text, query or document (else 413)."})
    max_request_bytes: int = field(default=64 * 1024 * 1024, metadata={
        "help": "Largest request body in bytes, declared (Content-Length) or streamed (chunked); else 413."})
    request_timeout: float = field(default=30.0, metadata={
        "help": "Seconds a client may take to send a request body after its head; else 408 and the connection "
                "is closed."})
    graceful_timeout: float = field(default=30.0, metadata={
        "help": "Seconds SIGTERM / Ctrl-C waits for the requests in flight; then the rest are cancelled and the "
                "server exits (status 0)."})
    api_key: Optional[str] = field(default=None, metadata={
        "help": "Bearer token required on every path but /health (None: no auth); surrounding whitespace is "
                "stripped."})

    def __post_init__(self) -> None:
        """Raise :class:`~FlagEmbedding.utils.errors.InputError` (a ``ValueError``) naming the flag of a bad value."""
        for name in ("max_batch_tokens", "max_queue", "max_inputs_per_request", "max_chars_per_input",
                     "max_request_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"--{name} must be a positive integer, got {value!r}.")
        if not self.max_wait_ms >= 0:
            raise InputError(f"--max_wait_ms must be >= 0, got {self.max_wait_ms!r}.")
        if not 0 < self.request_timeout < float("inf"):
            raise InputError(f"--request_timeout must be a positive number of seconds, got {self.request_timeout!r}.")
        if not 0 <= self.graceful_timeout < float("inf"):
            raise InputError(f"--graceful_timeout must be >= 0 seconds, got {self.graceful_timeout!r}.")
        if self.max_inputs_per_request > self.max_queue:
            raise InputError(f"--max_inputs_per_request ({self.max_inputs_per_request}) must not exceed --max_queue "
                             f"({self.max_queue}): such a request could never be queued.")
        if self.api_key is not None:
            key = self.api_key.strip()
            if not key:
                raise InputError("--api_key must not be empty (or only whitespace).")
            if key != self.api_key:
                # typically the newline of a key file read into $FLAGEMBEDDING_API_KEY: no client would send it
                logger.warning("The API key had leading or trailing whitespace; it was stripped (clients send the "
                               "key without it).")
                self.api_key = key
