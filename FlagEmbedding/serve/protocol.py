"""uvicorn's HTTP/1.1 protocol (h11) with a deadline for the request head.

uvicorn bounds idle keep-alive connections (5 s after a response) but not a client that opens a connection and
sends its request line and headers slowly or not at all (slowloris): such a connection is held for ever. This
protocol starts a timer when a connection opens and whenever a new request begins to arrive; if the request line
and headers are not all in ``--request_timeout`` seconds later, the connection is closed. The body is bounded by
:class:`~FlagEmbedding.serve.limits.RequestBodyMiddleware` (408) once the head is in.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Optional

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

logger = logging.getLogger(__name__)


class RequestHeadTimeoutProtocol(H11Protocol):
    """:class:`H11Protocol` that closes a connection whose request head is not complete ``head_timeout`` seconds
    after the connection opened or the request's first byte arrived."""

    #: seconds a client has to send a request line and its headers
    head_timeout: float = 30.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: Optional[asyncio.TimerHandle] = None

    @classmethod
    def with_timeout(cls, seconds: float) -> "type[RequestHeadTimeoutProtocol]":
        """A protocol class (what ``uvicorn.Config(http=...)`` takes) with ``head_timeout = seconds``."""
        return type(cls.__name__, (cls,), {"head_timeout": float(seconds)})

    def _waiting_for_head(self) -> bool:
        """Between requests (the keep-alive timer covers a connection that sends nothing after a response)."""
        return self.conn.their_state is h11.IDLE and self.conn.our_state is h11.IDLE

    def _arm(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._waiting_for_head():
            self._arm()
        super().data_received(data)
        if not self._waiting_for_head():
            self._disarm()

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or not self._waiting_for_head():
            return
        logger.warning("Closed a connection from %s: no complete request head within %g s (--request_timeout).",
                       "%s:%d" % self.client if self.client else "a client", self.head_timeout)
        self.transport.close()
