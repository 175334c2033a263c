"""Server settings: limits, batching and auth (each field is also a command-line flag)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional


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
        "help": "Largest declared request body (Content-Length; else 413)."})
    api_key: Optional[str] = field(default=None, metadata={
        "help": "Bearer token required on every path but /health (None: no auth)."})

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
