"""Command line: ``caucus-relay serve --db PATH|URL ...`` or ``python -m relay serve ...``.

``--db`` is a SQLite file, or a ``postgresql://`` URL; with PostgreSQL, ``--workers N``
serves one socket from N processes (``relay.workers``).  Prints one line, ``caucus-relay
listening on http://HOST:PORT``, once the socket accepts connections (with ``--port 0`` it
names the port the system chose) and stops gracefully on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from relay.backend import is_database_url
from relay.config import RelayConfig
from relay.http import create_app
from relay.server import RelayServer, bind_socket, display_url, uvicorn_config

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="caucus-relay", description="Caucus relay server")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the relay")
    defaults = RelayConfig(db_path=Path("relay.db"))
    serve.add_argument("--db", required=True, help="SQLite database file, or a postgresql:// URL")
    serve.add_argument("--workers", type=int, default=1, help="relay processes (PostgreSQL only)")
    serve.add_argument("--host", default=defaults.host)
    serve.add_argument("--port", type=int, default=defaults.port, help="0 picks a free port")
    serve.add_argument("--retention-days", type=float, default=defaults.retention_days)
    serve.add_argument("--max-mailbox-bytes", type=int, default=defaults.max_mailbox_bytes)
    serve.add_argument(
        "--rate", type=float, default=defaults.rate_per_s, help="writes/s per capability"
    )
    serve.add_argument("--burst", type=float, default=defaults.rate_burst)
    serve.add_argument(
        "--read-rate", type=float, default=defaults.read_rate_per_s, help="reads/s per key"
    )
    serve.add_argument("--read-burst", type=float, default=defaults.read_burst)
    serve.add_argument("--creations-per-minute", type=float, default=defaults.create_per_s * 60.0)
    serve.add_argument("--creation-burst", type=float, default=defaults.create_burst)
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning"])
    return parser


def _config(args: argparse.Namespace) -> RelayConfig:
    url = args.db if is_database_url(args.db) else None
    if args.workers < 1:
        raise ValueError("--workers must be at least 1")
    if args.workers > 1 and url is None:
        raise ValueError("--workers above 1 needs a postgresql:// database (SQLite has one writer)")
    return RelayConfig(
        db_path=Path(args.db) if url is None else Path(),
        db_url=url or "",
        host=args.host,
        port=args.port,
        retention_days=args.retention_days,
        max_mailbox_bytes=args.max_mailbox_bytes,
        rate_per_s=args.rate,
        rate_burst=args.burst,
        read_rate_per_s=args.read_rate,
        read_burst=args.read_burst,
        create_per_s=args.creations_per_minute / 60.0,
        create_burst=args.creation_burst,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    try:
        config = _config(args)
    except ValueError as exc:
        print(f"caucus-relay: {exc}", file=sys.stderr)
        return 2
    if args.workers > 1:
        from relay.workers import serve_workers

        return serve_workers(config, args.workers)
    app = create_app(config)
    try:
        app.relay.start()
        sock = bind_socket(config.host, config.port)
    except Exception as exc:  # OSError, SchemaError, or the database server's refusal
        print(f"caucus-relay: cannot start: {' '.join(str(exc).split())}", file=sys.stderr)
        app.close()
        return 1

    def announce() -> None:
        print(f"caucus-relay listening on {display_url(sock)}", flush=True)

    server = RelayServer(uvicorn_config(app), app, announce)
    try:
        server.run(sockets=[sock])
    finally:
        app.close()
        sock.close()
    return 0 if server.started else 1


if __name__ == "__main__":
    sys.exit(main())
