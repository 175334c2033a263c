"""``python -m FlagEmbedding.serve``: parse the flags, build the app, run uvicorn, exit 0 after a graceful drain.

User errors (bad flags, bad limits, a model that cannot be loaded, a port in use) end in one ``error: ...``
line on stderr and a non-zero exit, without a traceback.
"""
from __future__ import annotations

import argparse
import dataclasses
import functools
import logging
import os
import signal
import typing
from typing import List, Optional, Sequence

from FlagEmbedding.serve.options import add_model_options, model_kwargs, registry_options
from FlagEmbedding.serve.settings import ServeSettings
from FlagEmbedding.utils.cli import OneLineArgumentParser, configure_logging, run_cli
from FlagEmbedding.utils.errors import InputError, UserError

logger = logging.getLogger(__name__)

API_KEY_ENV = "FLAGEMBEDDING_API_KEY"


#: the closing ``Examples:`` of ``--help`` (tests/utils/test_cli_examples.py parses every flag)
EXAMPLES = (
    "python -m FlagEmbedding.serve --embedder BAAI/bge-m3 --reranker BAAI/bge-reranker-v2-m3 --use_fp16",
    "python -m FlagEmbedding.serve --embedder ./all-MiniLM-L6-v2 --embedder_model_class encoder-only-base "
    "--pooling_method mean --port 8000",
    "python -m FlagEmbedding.serve --embedder BAAI/bge-base-en-v1.5 --host 0.0.0.0 --port 8080 "
    "--max_batch_tokens 32768 --devices cuda:0",
)


def build_parser() -> argparse.ArgumentParser:
    """The server flags plus every model constructor option (see :mod:`FlagEmbedding.serve.options`)."""
    parser = OneLineArgumentParser(prog="python -m FlagEmbedding.serve",
                                description="Serve a FlagEmbedding embedder and/or reranker over HTTP.",
                                examples=EXAMPLES)
    parser.add_argument("--embedder", help="Embedder: hub id or local folder (FlagAutoModel).")
    parser.add_argument("--reranker", help="Reranker: hub id or local folder (FlagAutoReranker).")
    parser.add_argument("--host", default="127.0.0.1", help="Interface to bind (default: localhost only).")
    parser.add_argument("--port", type=int, default=8000, help="TCP port (0: any free port).")
    hints = typing.get_type_hints(ServeSettings)
    for setting in dataclasses.fields(ServeSettings):
        if setting.name == "api_key":
            parser.add_argument("--api_key", default=os.environ.get(API_KEY_ENV),
                                help=f"{setting.metadata['help']} Default: ${API_KEY_ENV}.")
        else:
            parser.add_argument(f"--{setting.name}", type=hints[setting.name], default=setting.default,
                                help=f"{setting.metadata['help']} Default: {setting.default}.")
    parser.add_argument("--log_level", default="info", choices=["debug", "info", "warning", "error"])
    add_model_options(parser, registry_options())
    return parser


def run(argv: Optional[Sequence[str]] = None) -> None:
    """Parse ``argv``, serve until SIGTERM/SIGINT; raise :class:`UserError` for problems the user can fix."""
    import uvicorn

    from FlagEmbedding.serve.app import create_app
    from FlagEmbedding.serve.protocol import RequestHeadTimeoutProtocol
    from FlagEmbedding.serve.services import load_services

    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.embedder and not args.reranker:
        parser.error("nothing to serve: give --embedder PATH_OR_NAME and/or --reranker PATH_OR_NAME")
    configure_logging(args.log_level.upper())
    try:
        settings = ServeSettings(**{setting.name: getattr(args, setting.name)
                                    for setting in dataclasses.fields(ServeSettings)})
    except ValueError as error:
        raise InputError(str(error)) from None
    options = registry_options()
    load = functools.partial(load_services, args.embedder, model_kwargs(args, options, "embedder"),
                             args.reranker, model_kwargs(args, options, "reranker"))
    failures: List[BaseException] = []

    def stop_on_load_error(error: BaseException) -> None:
        failures.append(error)
        server.should_exit = True

    app = create_app(settings, load, on_load_error=stop_on_load_error)
    # SIGTERM / SIGINT: uvicorn stops accepting, closes idle connections, waits up to --graceful_timeout for the
    # requests in flight (a slow body ends in 408 after --request_timeout), then cancels what is left
    # a request head (line + headers) must arrive within --request_timeout too: RequestHeadTimeoutProtocol
    server = uvicorn.Server(uvicorn.Config(
        app, host=args.host, port=args.port, log_level=args.log_level,
        # uvicorn annotates int, but uses it as an asyncio.timeout delay: fractional seconds work
        timeout_graceful_shutdown=settings.graceful_timeout,  # type: ignore[arg-type]
        http=RequestHeadTimeoutProtocol.with_timeout(settings.request_timeout)))
    # uvicorn re-raises the signal that stopped it once it has drained; a no-op handler turns that into exit 0
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    try:
        server.run()
    except SystemExit as error:  # uvicorn exits 1 when it cannot bind (it has logged the reason)
        if error.code:
            raise UserError(f"could not serve on {args.host}:{args.port} (see the log above; is the port in "
                            f"use?)") from None
        raise
    if failures:
        models = " / ".join(name for name in (args.embedder, args.reranker) if name)
        failure = failures[0] if isinstance(failures[0], UserError) else f"{type(failures[0]).__name__}: {failures[0]}"
        raise UserError(f"could not load {models}: {failure} (check the path or hub id, and pass "
                        "--embedder_model_class / --reranker_model_class for names outside the registry)")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point: 0 after a clean shutdown; a user error ends in one ``error: ...`` line and exit status 1
    (see :func:`~FlagEmbedding.utils.cli.run_cli`)."""
    run_cli(run, argv)
    return 0
