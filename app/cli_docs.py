"""``caucus doc ...``: signed documents from the command line (docs/documents.md).

``publish`` prints the document id as its last line; ``list --json`` gives one object per
document; ``get`` writes FILE, FILE.minisig and the signer's .pub; ``verify`` checks such
a trio like ``minisign -Vm`` and needs no profile or passphrase.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path
from typing import Any

from app.core.document_views import DocumentVersionView, DocumentView
from app.core.documents import verify_file
from app.core.engine import Engine

__all__ = ["add_doc_commands"]


def _iso(ms: int) -> str:
    moment = dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / (1024 * 1024):.1f} MiB"


def _version_json(v: DocumentVersionView) -> dict[str, Any]:
    return {
        "version": v.version,
        "title": v.title,
        "filename": v.filename,
        "media_type": v.media_type,
        "size": v.size,
        "note": v.note,
        "published_at": _iso(v.published_at),
        "sha256": v.sha256,
        "signer": v.signer_name,
        "signer_fingerprint": v.signer_fingerprint,
        "trusted": v.trusted,
        "trust": v.trust,
        "downloaded": v.downloaded,
        "acknowledged_by": [
            {"name": a.name, "fingerprint": a.fingerprint, "at": _iso(a.acked_at)}
            for a in v.acknowledged_by
        ],
        "acknowledged_by_me": v.acknowledged_by_me,
    }


def _document_json(d: DocumentView) -> dict[str, Any]:
    return {
        "id": d.id_hex,
        **_version_json(d.current),
        "history": [_version_json(v) for v in d.history],
    }


async def cmd_doc_publish(engine: Engine, args: argparse.Namespace) -> int:
    service = engine.documents
    group_id = engine.resolve_group(args.group)
    document_id = None
    if args.doc is not None:
        document_id = service.resolve(args.doc, group_id)[1]
    result = await service.publish(
        group_id,
        args.file,
        args.title,
        version=args.version,
        note=args.note,
        document_id=document_id,
        media_type=args.media_type,
    )
    view = service.document(result, group_id)
    print(f"Published “{view.title}” version {view.version}: {view.trust}")
    print(result.hex())
    return 0


async def cmd_doc_list(engine: Engine, args: argparse.Namespace) -> int:
    documents = engine.documents.list(engine.resolve_group(args.group))
    if args.json:
        print(json.dumps([_document_json(d) for d in documents], ensure_ascii=False))
        return 0
    for d in documents:
        print(f"{d.id_hex}  v{d.version}  {d.title}  ({d.filename}, {_size(d.size)})")
        print(f"    {d.trust}")
        if d.acknowledged_by:
            names = ", ".join(a.name for a in d.acknowledged_by)
            print(f"    acknowledged by {names}")
    return 0


async def cmd_doc_get(engine: Engine, args: argparse.Namespace) -> int:
    exported = await engine.documents.get(
        args.doc, args.out, version=args.version, force=args.force
    )
    print(exported.trust)
    print(exported.path)
    print(exported.signature_path)
    print(exported.public_key_path)
    return 0


async def cmd_doc_ack(engine: Engine, args: argparse.Namespace) -> int:
    service = engine.documents
    await service.ack(args.doc, version=args.version)
    view = service.document(args.doc)
    version = args.version if args.version is not None else view.version
    print(f"Acknowledged “{view.title}” version {version}")
    return 0


async def cmd_doc_share(engine: Engine, args: argparse.Namespace) -> int:
    group_id = engine.resolve_group(args.group) if args.group else None
    sent = await engine.documents.share_current(group_id)
    print(f"{sent} documents shared with members who joined since they were published")
    return 0


def cmd_doc_verify(args: argparse.Namespace) -> int:
    result = verify_file(args.file, args.sig, args.key)
    print("Signature and comment signature verified")
    print(f"Trusted comment: {result.trusted_comment}")
    if result.title is not None:
        print(
            f"Document “{result.title}” version {result.version} ({result.filename}),"
            f" signed with key {result.key_id} ({result.public_key_path.name})"
        )
    return 0


def add_doc_commands(sub: Any) -> None:
    """Add ``doc`` and its actions to the top-level subparsers of ``app.cli``."""
    doc = sub.add_parser("doc", help="signed documents: publish, list, get, ack, verify")
    dsub = doc.add_subparsers(dest="doc_command", required=True, metavar="ACTION")

    p = dsub.add_parser("publish", help="publish a file (organizers); prints its id last")
    p.add_argument("group")
    p.add_argument("file", type=Path)
    p.add_argument("--title", required=True)
    p.add_argument("--version", type=int, default=None, help="default: the next version")
    p.add_argument("--note", default="")
    p.add_argument("--doc", default=None, help="publish a new version of this document")
    p.add_argument("--media-type", default=None, help="default: guessed from the file name")
    p.set_defaults(handler=cmd_doc_publish)

    p = dsub.add_parser("list", help="a group's documents with their signature status")
    p.add_argument("group")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_doc_list)

    p = dsub.add_parser("get", help="write the file, FILE.minisig and the signer's key")
    p.add_argument("doc", help="document id or at least 8 of its hex digits")
    p.add_argument("--out", required=True, type=Path, help="file, or folder to keep its name")
    p.add_argument("--version", type=int, default=None)
    p.add_argument("--force", action="store_true", help="export even if not trusted")
    p.set_defaults(handler=cmd_doc_get)

    p = dsub.add_parser("ack", help="acknowledge that you read a version")
    p.add_argument("doc")
    p.add_argument("--version", type=int, default=None)
    p.set_defaults(handler=cmd_doc_ack)

    p = dsub.add_parser("share", help="send current documents to members who joined later")
    p.add_argument("group", nargs="?", default=None)
    p.set_defaults(handler=cmd_doc_share)

    p = dsub.add_parser("verify", help="check FILE against FILE.minisig (no profile needed)")
    p.add_argument("file", type=Path)
    p.add_argument("--sig", type=Path, default=None, help="default: FILE.minisig")
    p.add_argument("--key", type=Path, default=None, help="default: a matching .pub beside it")
    p.set_defaults(sync_handler=cmd_doc_verify)
