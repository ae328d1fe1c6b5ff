"""The history a link hands to a new device (docs/protocol.md 8.4): stored messages as
rows, encoded strictly so the new device parses exactly what was sent.

``list(row) | list(head)`` with ``row = bytes16 group_id | bytes16 channel_id
| bytes16 message_id | bytes32 sender_pk | str(64) sender_name | u64 sent_at
| u64 received_at | u8 content_type | var(196608) body | str(65536) text | u64 relay_seq``
and ``head = bytes16 group_id | bytes32 slot_pk | bytes32 message_hash``: each sender's
last message hash, so the new device checks the next message's ``prev_message`` link
(protocol 4.1) as the first device would.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.core.store.devices import HistoryRow
from crypto.errors import MalformedData
from crypto.wire import Reader, Writer

__all__ = ["MAX_HISTORY_BYTES", "History", "SenderHead", "decode_history", "encode_history"]

MAX_HISTORY_BYTES = 196608
"""What one link bundle carries: the newest messages that fit (about 190 KiB)."""
_MAX_ROWS = 100_000
_MAX_HEADS = 1_000_000


@dataclass(frozen=True)
class SenderHead:
    group_id: bytes
    slot_pk: bytes
    message_hash: bytes


@dataclass(frozen=True)
class History:
    rows: list[HistoryRow]
    heads: list[SenderHead]


def _encode_row(row: HistoryRow) -> bytes:
    return bytes(
        Writer()
        .fixed(row.group_id, 16)
        .fixed(row.channel_id, 16)
        .fixed(row.message_id, 16)
        .fixed(row.sender_pk, 32)
        .text(row.sender_name, 64)
        .u64(row.sent_at)
        .u64(row.received_at)
        .u8(row.content_type)
        .var(row.body, 196608)
        .text(row.text, 65536)
        .u64(row.relay_seq)
    )


def encode_history(
    rows: Sequence[HistoryRow], heads: Sequence[SenderHead], budget: int = MAX_HISTORY_BYTES
) -> bytes:
    """Every head and the newest rows (the last of ``rows``) that fit ``budget`` bytes;
    older rows are left out."""
    writer = Writer().u32(len(heads))
    for head in heads:
        writer.fixed(head.group_id, 16).fixed(head.slot_pk, 32).fixed(head.message_hash, 32)
    tail = bytes(writer)
    encoded: list[bytes] = []
    size = 4 + len(tail)
    for row in reversed(rows):
        one = _encode_row(row)
        if size + len(one) > min(budget, MAX_HISTORY_BYTES):
            break
        encoded.append(one)
        size += len(one)
    return bytes(Writer().u32(len(encoded))) + b"".join(reversed(encoded)) + tail


def _read_row(reader: Reader) -> HistoryRow:
    return HistoryRow(
        group_id=reader.fixed(16),
        channel_id=reader.fixed(16),
        message_id=reader.fixed(16),
        sender_pk=reader.fixed(32),
        sender_name=reader.text(64),
        sent_at=reader.u64(),
        received_at=reader.u64(),
        content_type=reader.u8(),
        body=reader.var(196608),
        text=reader.text(65536),
        relay_seq=reader.u64(),
    )


def decode_history(data: bytes) -> History:
    """Strict parse (``MalformedData``)."""
    if not data:
        raise MalformedData("empty history")
    reader = Reader(data)
    rows = reader.items(_MAX_ROWS, _read_row)
    heads = reader.items(_MAX_HEADS, lambda r: SenderHead(r.fixed(16), r.fixed(32), r.fixed(32)))
    reader.finish()
    return History(rows, heads)
