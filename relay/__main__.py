"""Command line: ``caucus-relay serve|backup|restore ...`` or ``python -m relay ...``.

``serve`` prints one line, ``caucus-relay listening on http://HOST:PORT``, once the socket
accepts connections (with ``--port 0`` it names the port the system chose) and stops
gracefully on SIGTERM or SIGINT.  Its settings come from flags over ``CAUCUS_RELAY_*``
variables over ``--config FILE`` over defaults (``relay/config_file.py``).  ``--db`` is a
SQLite file or a ``postgresql://`` URL; with PostgreSQL, ``--workers N`` serves one socket
from N processes (``relay/workers.py``).
``backup`` copies a live database consistently; ``restore`` puts a backup in place with a
new generation id (``relay/backup.py``).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from relay.backend import is_database_url
from relay.backup import BackupError, backup, restore
from relay.config import RelayConfig
from relay.config_file import ConfigError, load_config
from relay.connections import raise_open_files_limit
from relay.http import create_app
from relay.metrics import MetricsServer
from relay.server import RelayServer, bind_socket, display_url, uvicorn_config
from relay.version import version_line

__all__ = ["main"]

# flag destination -> RelayConfig field (the flags predate the config file; names kept)
_FLAG_FIELDS = {
    "host": "host",
    "port": "port",
    "retention_days": "retention_days",
    "max_mailbox_bytes": "max_mailbox_bytes",
    "rate": "rate_per_s",
    "burst": "rate_burst",
    "read_rate": "read_rate_per_s",
    "read_burst": "read_burst",
    "creation_burst": "create_burst",
    "max_inbox_bytes": "max_inbox_bytes",
    "max_db_bytes": "max_db_bytes",
    "min_free_disk_bytes": "min_free_disk_bytes",
    "max_connections": "max_connections",
    "metrics": "metrics",
    "metrics_host": "metrics_host",
    "metrics_port": "metrics_port",
}


def _sqlite_file(value: str) -> Path:
    """``--db`` of backup and restore: PostgreSQL has its own tools for both."""
    if is_database_url(value):
        raise argparse.ArgumentTypeError(
            "backup and restore work on SQLite files; use pg_dump and pg_restore for "
            "PostgreSQL (docs/relay-operations.md)"
        )
    return Path(value)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="caucus-relay", description="Caucus relay server")
    parser.add_argument("--version", action="version", version=version_line("caucus-relay"))
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve",
        help="run the relay",
        description="Flags override CAUCUS_RELAY_<FIELD> variables, which override the "
        "config file, which overrides the defaults (see relay/config.example.toml).",
    )
    defaults = RelayConfig(db_path=Path("relay.db"))
    serve.add_argument("--config", type=Path, help="TOML file of RelayConfig settings")
    serve.add_argument("--db", help="SQLite database file, or a postgresql:// URL")
    serve.add_argument(
        "--workers", type=int, default=1, help="relay processes (PostgreSQL only), default 1"
    )
    serve.add_argument("--host", help=f"default {defaults.host}")
    serve.add_argument("--port", type=int, help=f"default {defaults.port}; 0 picks a free port")
    serve.add_argument("--retention-days", type=float)
    serve.add_argument("--max-mailbox-bytes", type=int)
    serve.add_argument("--rate", type=float, help="writes/s per capability")
    serve.add_argument("--burst", type=float)
    serve.add_argument("--read-rate", type=float, help="reads/s per key")
    serve.add_argument("--read-burst", type=float)
    serve.add_argument("--creations-per-minute", type=float)
    serve.add_argument("--creation-burst", type=float)
    serve.add_argument("--max-inbox-bytes", type=int)
    serve.add_argument("--max-db-bytes", type=int, help="cap on the whole database")
    serve.add_argument(
        "--min-free-disk-bytes",
        type=int,
        help="writes are refused (507) below this much free disk space",
    )
    serve.add_argument(
        "--creations-per-address-per-minute",
        type=float,
        help="operator option: also limit creations per client address (default 0: off)",
    )
    serve.add_argument(
        "--max-connections", type=int, help="open connections before new ones are answered 503"
    )
    serve.add_argument(
        "--metrics",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="serve Prometheus metrics on a separate listener (default off)",
    )
    serve.add_argument("--metrics-host", help=f"default {defaults.metrics_host}")
    serve.add_argument("--metrics-port", type=int, help=f"default {defaults.metrics_port}")
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning"])

    save = commands.add_parser("backup", help="copy a database consistently, even while served")
    save.add_argument("--db", type=_sqlite_file, required=True, help="the relay's database")
    save.add_argument("--out", type=Path, required=True, help="new file to write")

    load = commands.add_parser(
        "restore", help="put a backup in place (relay stopped) with a new generation id"
    )
    load.add_argument("--from", dest="source", type=Path, required=True, help="a backup file")
    load.add_argument(
        "--db", type=_sqlite_file, required=True, help="the relay's database to replace"
    )
    return parser


def _flags(args: argparse.Namespace) -> dict[str, object]:
    """The settings given on the command line, by RelayConfig field name."""
    flags = {
        field: getattr(args, dest)
        for dest, field in _FLAG_FIELDS.items()
        if getattr(args, dest) is not None
    }
    if args.creations_per_minute is not None:
        flags["create_per_s"] = args.creations_per_minute / 60.0
    if args.creations_per_address_per_minute is not None:
        flags["create_per_address_per_s"] = args.creations_per_address_per_minute / 60.0
    if args.db is not None:
        if is_database_url(args.db):
            flags["db_url"] = args.db
        else:
            flags["db_path"] = Path(args.db)
    return flags


def _check_workers(config: RelayConfig, workers: int) -> None:
    if workers < 1:
        raise ConfigError("--workers must be at least 1")
    if workers > 1 and not config.db_url:
        raise ConfigError(
            "--workers above 1 needs a postgresql:// database (SQLite has one writer)"
        )
    if workers > 1 and config.metrics:
        raise ConfigError("metrics are per process: not available with --workers above 1")


def _serve(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    try:
        config = load_config(_flags(args), os.environ, args.config)
        _check_workers(config, args.workers)
    except ConfigError as exc:
        print(f"caucus-relay: {exc}", file=sys.stderr)
        return 2
    open_files = raise_open_files_limit()
    if open_files is not None and open_files < config.max_connections + 64:
        logging.getLogger("caucus.relay").warning(
            "open-files limit %d is below --max-connections %d", open_files, config.max_connections
        )
    if args.workers > 1:
        from relay.workers import serve_workers

        return serve_workers(config, args.workers)
    app = create_app(config)
    metrics_server: MetricsServer | None = None
    try:
        app.relay.start()
        sock = bind_socket(config.host, config.port)
    except Exception as exc:  # OSError, SchemaError, DatabaseLocked or the server's refusal
        print(f"caucus-relay: cannot start: {' '.join(str(exc).split())}", file=sys.stderr)
        app.close()
        return 1
    if app.metrics is not None:
        try:
            metrics_server = MetricsServer(app.metrics, config.metrics_host, config.metrics_port)
        except OSError as exc:
            print(f"caucus-relay: cannot serve metrics: {exc}", file=sys.stderr)
            app.close()
            sock.close()
            return 1

    def announce() -> None:
        if metrics_server is not None:
            print(f"caucus-relay metrics on {metrics_server.url}", flush=True)
        print(f"caucus-relay listening on {display_url(sock)}", flush=True)

    server = RelayServer(uvicorn_config(app), app, announce)
    try:
        server.run(sockets=[sock])
    finally:
        if metrics_server is not None:
            metrics_server.close()
        app.close()
        sock.close()
    return 0 if server.started else 1


def _backup(args: argparse.Namespace) -> int:
    try:
        info = backup(args.db, args.out)
    except BackupError as exc:
        print(f"caucus-relay: {exc}", file=sys.stderr)
        return 1
    print(
        f"caucus-relay: backed up schema {info.schema_version}, generation {info.generation}, "
        f"{info.size} bytes to {info.path}"
    )
    return 0


def _restore(args: argparse.Namespace) -> int:
    try:
        info = restore(args.source, args.db)
    except BackupError as exc:
        print(f"caucus-relay: {exc}", file=sys.stderr)
        return 1
    print(
        f"caucus-relay: restored {args.source} into {info.path} "
        f"(schema {info.schema_version}, new generation {info.generation})"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit status."""
    args = _parser().parse_args(argv)
    if args.command == "backup":
        return _backup(args)
    if args.command == "restore":
        return _restore(args)
    return _serve(args)


if __name__ == "__main__":
    sys.exit(main())
