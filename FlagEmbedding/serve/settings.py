"""Server settings: limits, batching, auth and the ids models are served under."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass
class ServeSettings:
    """Everything the app needs besides the models.

    Args:
        max_batch_tokens: Padded-token budget of one model batch (longest input x inputs).
        max_wait_ms: Longest time the oldest waiting input waits for a batch to fill.
        max_queue: Inputs (texts or pairs) allowed to wait per model; past it requests get 503 + Retry-After.
        max_inputs_per_request: Texts per embeddings request / documents per rerank request (else 413).
        max_chars_per_input: Characters per text, query or document (else 413).
        max_request_bytes: Declared body size limit (``Content-Length``; else 413).
        api_key: Bearer token every path but ``/health`` requires (None: no auth).
    """

    max_batch_tokens: int = 16384
    max_wait_ms: float = 5.0
    max_queue: int = 8192
    max_inputs_per_request: int = 2048
    max_chars_per_input: int = 100_000
    max_request_bytes: int = 64 * 1024 * 1024
    api_key: Optional[str] = None

    def __post_init__(self) -> None:
        for name in ("max_batch_tokens", "max_queue", "max_inputs_per_request", "max_chars_per_input",
                     "max_request_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"--{name} must be a positive integer, got {value!r}.")
        if not self.max_wait_ms >= 0:
            raise ValueError(f"--max_wait_ms must be >= 0, got {self.max_wait_ms!r}.")
        if self.max_inputs_per_request > self.max_queue:
            raise ValueError(f"--max_inputs_per_request ({self.max_inputs_per_request}) must not exceed --max_queue "
                             f"({self.max_queue}): such a request could never be queued.")
        if self.api_key is not None and not self.api_key:
            raise ValueError("--api_key must not be empty.")
