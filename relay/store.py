"""SQL for every relay operation: plain functions of a connection, arguments and the hour.

Write functions run inside the group-commit transaction of ``relay.writer`` and follow one
rule: a function that raises ``RelayError`` leaves the database exactly as it found it
(it checks before writing, or undoes its own claim), so its neighbours in the batch still
commit.
Read functions run on a separate read-only connection.  Capability hashes are compared
with ``hmac.compare_digest``; nothing here knows a capability itself.

The SQL is written once for SQLite and PostgreSQL (``relay.backend``).  On a database that
several relay processes share, a write locks the queue or blob row before reading what it
will change (``_locked``), so two processes serialise on it as two jobs of one writer do.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar

from relay.backend import Connection
from relay.epochs import Epoch, after_commit, read_window
from relay.errors import RelayError

__all__ = [
    "INBOX",
    "MAILBOX",
    "Append",
    "Fetched",
    "PurgeCounts",
    "commit",
    "create_blob",
    "create_inbox",
    "create_mailbox",
    "delete_blob",
    "delete_inbox_items",
    "delete_mailbox",
    "fetch_inbox",
    "fetch_mailbox",
    "get_chunk",
    "inbox_auth_key",
    "purge",
    "put_chunk",
]

MAILBOX = 1
INBOX = 2

T = TypeVar("T")

_CHUNK_OVERHEAD = 64
_NOT_FOUND = {MAILBOX: "no such mailbox", INBOX: "no such inbox"}


@dataclass(frozen=True)
class Fetched:
    """Items for one fetch and the ``X-Caucus-Last`` value to send with them."""

    rows: list[tuple[int, bytes]]
    visible_last: int


@dataclass(frozen=True)
class PurgeCounts:
    items: int
    blobs: int


def _same(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)


def _locked(conn: Connection, select: str) -> str:
    """``select`` with ``FOR UPDATE`` where other processes may write (PostgreSQL).

    SQLite has one writer, whose transaction already excludes every other write.
    """
    return select + " FOR UPDATE" if getattr(conn, "row_locks", False) else select


def _past_epoch(conn: Connection, queue: int, cap_hash: bytes) -> Epoch | None:
    row = conn.execute(
        "SELECT cap_hash, first_seq, last_seq FROM epochs WHERE queue = ? AND cap_hash = ?",
        (queue, cap_hash),
    ).fetchone()
    if row is None or not _same(row[0], cap_hash):
        return None
    return Epoch(row[1], row[2])


def _refuse_write(conn: Connection, queue: int, cap_hash: bytes) -> RelayError:
    if _past_epoch(conn, queue, cap_hash) is not None:
        return RelayError("stale_epoch", "capability of an epoch that has ended")
    return RelayError("forbidden", "capability not valid for this mailbox")


def _check_quota(used: int, extra: int, quota: int) -> None:
    if used + extra > quota:
        raise RelayError("quota_exceeded", "mailbox storage quota exceeded")


# ---------------------------------------------------------------- mailboxes and inboxes


def create_mailbox(conn: Connection, mid: bytes, cap_hash: bytes, head: bytes, hour: int) -> None:
    row = conn.execute(
        "INSERT INTO queues (kind, qid, created_hour, head, cap_hash, epoch_first) "
        "VALUES (?, ?, ?, ?, ?, 1) ON CONFLICT DO NOTHING RETURNING id",
        (MAILBOX, mid, hour, head, cap_hash),
    ).fetchone()
    if row is None:
        raise RelayError("exists", "mailbox already exists")
    conn.execute(
        "INSERT INTO epochs (queue, cap_hash, first_seq) VALUES (?, ?, 1)", (row[0], cap_hash)
    )


def create_inbox(conn: Connection, iid: bytes, auth_key: bytes, hour: int) -> None:
    cur = conn.execute(
        "INSERT INTO queues (kind, qid, created_hour, auth_key) VALUES (?, ?, ?, ?) "
        "ON CONFLICT DO NOTHING",
        (INBOX, iid, hour, auth_key),
    )
    if cur.rowcount != 1:
        raise RelayError("exists", "inbox already exists")


class Append(NamedTuple):
    """One item append, applied by an ``Appender`` together with its neighbours."""

    kind: int
    qid: bytes
    cap_hash: bytes | None  # the presented capability's hash; None for inboxes
    data: bytes
    hour: int
    quota: int
    min_charge: int = 0  # an item counts at least this much against the quota


_PAD = 512
"""Most rows per multi-row statement; a batch is padded up to a power of two."""

_SQL_CACHE: dict[tuple[str, int, str], str] = {}


def _padded_sql(head: str, row: str, count: int, tail: str = "") -> tuple[str, int]:
    """(SQL with the next power of two >= ``count`` copies of ``row``, that number).

    Padding keeps the number of distinct statements (and prepares) to a handful.
    """
    size = 1
    while size < count:
        size *= 2
    key = (head, size, tail)
    sql = _SQL_CACHE.get(key)
    if sql is None:
        sql = _SQL_CACHE[key] = head + ", ".join([row] * size) + tail
    return sql, size


def _chunks(rows: list[T]) -> list[list[T]]:
    return [rows[i : i + _PAD] for i in range(0, len(rows), _PAD)]


class Appender:
    """Applies runs of item appends for the writer thread: its ``bulk`` function.

    Each run costs a handful of statements whatever its length: one read of the queues it
    does not know yet, one multi-row INSERT and one UPDATE ... FROM VALUES for the
    counters (statements are few because every one hands the GIL to the event loop and
    waits to get it back).  Between runs it remembers each queue's ``[id, cap_hash,
    last_seq, bytes_used]``; that copy is right because only the writer writes, and the
    writer calls ``reset`` after any other write, any rollback and any maintenance.  On a
    database shared by several processes (PostgreSQL) it also calls ``reset`` after every
    commit, and the rows are read locked, so the copy lives only as long as its locks.
    """

    def __init__(self, max_remembered: int = 10_000) -> None:
        self._states: dict[tuple[int, bytes], list[Any]] = {}
        self._max = max_remembered

    def reset(self) -> None:
        """Forget every remembered queue (the database may have changed under us)."""
        self._states.clear()

    def __call__(self, conn: Connection, appends: list[Append]) -> list[int | RelayError]:
        """Store items at their queues' next seqs, in order; one result or refusal each.

        A refused append changes nothing; its neighbours are unaffected.
        """
        if len(self._states) > self._max:
            self._states.clear()
        self._load_missing(conn, appends)
        states = self._states
        results: list[int | RelayError] = []
        rows: list[tuple[int, int, int, int, bytes]] = []
        touched: dict[int, list[Any]] = {}
        for append in appends:
            state = states.get((append.kind, append.qid))
            if state is None:
                results.append(RelayError("not_found", _NOT_FOUND[append.kind]))
                continue
            queue, current, last_seq, used = state
            if append.kind == MAILBOX and (
                append.cap_hash is None or not _same(current, append.cap_hash)
            ):
                results.append(_refuse_write(conn, queue, append.cap_hash or b""))
                continue
            size = max(len(append.data), append.min_charge)
            if used + size > append.quota:
                results.append(RelayError("quota_exceeded", "mailbox storage quota exceeded"))
                continue
            state[2] = last_seq = last_seq + 1
            state[3] = used + size
            touched[queue] = state
            rows.append((queue, last_seq, append.hour, size, append.data))
            results.append(last_seq)
        for chunk in _chunks(rows):
            sql, size = _padded_sql(
                "INSERT INTO items (queue, seq, hour, size, data) "
                "SELECT v.column1, v.column2, v.column3, v.column4, v.column5 FROM (VALUES ",
                "(?, ?, ?, ?, ?)",
                len(chunk),
                ") AS v WHERE v.column1 IS NOT NULL",
            )
            params = [value for row in chunk for value in row]
            conn.execute(sql, params + [None] * (5 * (size - len(chunk))))
        for counter_chunk in _chunks([(q, st[2], st[3]) for q, st in touched.items()]):
            sql, size = _padded_sql(
                "UPDATE queues SET last_seq = v.column2, bytes_used = v.column3 FROM (VALUES ",
                "(?, ?, ?)",
                len(counter_chunk),
                ") AS v WHERE queues.id = v.column1",
            )
            params = [value for row in counter_chunk for value in row]
            conn.execute(sql, params + [None] * (3 * (size - len(counter_chunk))))
        return results

    def _load_missing(self, conn: Connection, appends: list[Append]) -> None:
        """Read (and lock) the queues not remembered yet: a statement per kind and 512 ids.

        Rows are locked in (kind, qid) order, so two writers never wait on each other in a
        cycle over these rows.
        """
        wanted: dict[int, set[bytes]] = {}
        for append in appends:
            if (append.kind, append.qid) not in self._states:
                wanted.setdefault(append.kind, set()).add(append.qid)
        for kind, qids in sorted(wanted.items()):
            for chunk in _chunks(sorted(qids)):
                sql, size = _padded_sql(
                    "SELECT qid, id, cap_hash, last_seq, bytes_used FROM queues "
                    "WHERE kind = ? AND qid IN (",
                    "?",
                    len(chunk),
                    _locked(conn, ") ORDER BY qid"),
                )
                padded = chunk + [chunk[-1]] * (size - len(chunk))
                for qid, *state in conn.execute(sql, (kind, *padded)).fetchall():
                    self._states[(kind, qid)] = state


def commit(
    conn: Connection,
    mid: bytes,
    cap_hash: bytes,
    prev_head: bytes,
    new_head: bytes,
    new_cap_hash: bytes,
    data: bytes,
    hour: int,
    quota: int,
) -> int:
    """Compare-and-set append that ends the current epoch and starts the next one."""
    row = conn.execute(
        _locked(
            conn,
            "SELECT id, cap_hash, head, last_seq, bytes_used, epoch_first FROM queues "
            "WHERE kind = ? AND qid = ?",
        ),
        (MAILBOX, mid),
    ).fetchone()
    if row is None:
        raise RelayError("not_found", _NOT_FOUND[MAILBOX])
    queue, current, head, last_seq, used, epoch_first = row
    if not _same(current, cap_hash):
        raise _refuse_write(conn, queue, cap_hash)
    if not _same(head, prev_head):
        raise RelayError("head_mismatch", "prev_head is not the mailbox head", extra={"head": head})
    if _same(new_cap_hash, cap_hash) or _past_epoch(conn, queue, new_cap_hash) is not None:
        raise RelayError("bad_request", "new capability hash was already used by this mailbox")
    _check_quota(used, len(data), quota)
    seq = int(last_seq) + 1
    _closed, opened = after_commit(Epoch(epoch_first), seq)
    conn.execute(
        "INSERT INTO items (queue, seq, hour, size, data) VALUES (?, ?, ?, ?, ?)",
        (queue, seq, hour, len(data), data),
    )
    conn.execute(
        "UPDATE epochs SET last_seq = ? WHERE queue = ? AND cap_hash = ?", (seq, queue, current)
    )
    conn.execute(
        "INSERT INTO epochs (queue, cap_hash, first_seq) VALUES (?, ?, ?)",
        (queue, new_cap_hash, opened.first_seq),
    )
    conn.execute(
        "UPDATE queues SET last_seq = ?, bytes_used = ?, head = ?, cap_hash = ?, "
        "epoch_first = ? WHERE id = ?",
        (seq, used + len(data), new_head, new_cap_hash, opened.first_seq, queue),
    )
    return seq


def delete_mailbox(conn: Connection, mid: bytes, cap_hash: bytes) -> None:
    row = conn.execute(
        _locked(conn, "SELECT id, cap_hash FROM queues WHERE kind = ? AND qid = ?"), (MAILBOX, mid)
    ).fetchone()
    if row is None:
        raise RelayError("not_found", _NOT_FOUND[MAILBOX])
    if not _same(row[1], cap_hash):
        raise _refuse_write(conn, row[0], cap_hash)
    conn.execute("DELETE FROM queues WHERE id = ?", (row[0],))


def delete_inbox_items(conn: Connection, iid: bytes, upto: int) -> int:
    """Delete an inbox's items with seq <= ``upto`` (the owner was checked by the caller)."""
    row = conn.execute(
        _locked(conn, "SELECT id FROM queues WHERE kind = ? AND qid = ?"), (INBOX, iid)
    ).fetchone()
    if row is None:
        raise RelayError("not_found", _NOT_FOUND[INBOX])
    freed, count = conn.execute(
        "SELECT coalesce(sum(size), 0), count(*) FROM items WHERE queue = ? AND seq <= ?",
        (row[0], upto),
    ).fetchone()
    if count:
        conn.execute("DELETE FROM items WHERE queue = ? AND seq <= ?", (row[0], upto))
        conn.execute("UPDATE queues SET bytes_used = bytes_used - ? WHERE id = ?", (freed, row[0]))
    return int(count)


def inbox_auth_key(conn: Connection, iid: bytes) -> bytes:
    row = conn.execute(
        "SELECT auth_key FROM queues WHERE kind = ? AND qid = ?", (INBOX, iid)
    ).fetchone()
    if row is None:
        raise RelayError("not_found", _NOT_FOUND[INBOX])
    return bytes(row[0])


def _read_rows(
    conn: Connection, queue: int, low: int, high: int, limit: int, max_bytes: int
) -> list[tuple[int, bytes]]:
    rows: list[tuple[int, bytes]] = []
    total = 0
    cursor = conn.execute(
        "SELECT seq, data FROM items WHERE queue = ? AND seq >= ? AND seq <= ? "
        "ORDER BY seq LIMIT ?",
        (queue, low, high, limit),
    )
    for seq, data in cursor:
        total += len(data)
        if rows and total > max_bytes:
            break
        rows.append((seq, data))
    cursor.close()
    return rows


def fetch_mailbox(
    conn: Connection, mid: bytes, cap_hash: bytes, after: int, limit: int, max_bytes: int
) -> Fetched:
    """Items readable by this capability after ``after`` (see ``relay.epochs``)."""
    row = conn.execute(
        "SELECT id, cap_hash, last_seq, epoch_first FROM queues WHERE kind = ? AND qid = ?",
        (MAILBOX, mid),
    ).fetchone()
    if row is None:
        raise RelayError("not_found", _NOT_FOUND[MAILBOX])
    queue, current, last_seq, epoch_first = row
    epoch = Epoch(epoch_first) if _same(current, cap_hash) else _past_epoch(conn, queue, cap_hash)
    if epoch is None:
        raise RelayError("forbidden", "capability not valid for this mailbox")
    window = read_window(epoch, last_seq, after)
    if window.ended:
        raise RelayError("epoch_ended", "every item of this capability's epoch has been read")
    if window.empty:
        return Fetched([], window.visible_last)
    return Fetched(
        _read_rows(conn, queue, window.low, window.high, limit, max_bytes), window.visible_last
    )


def fetch_inbox(conn: Connection, iid: bytes, after: int, limit: int, max_bytes: int) -> Fetched:
    row = conn.execute(
        "SELECT id, last_seq FROM queues WHERE kind = ? AND qid = ?", (INBOX, iid)
    ).fetchone()
    if row is None:
        raise RelayError("not_found", _NOT_FOUND[INBOX])
    queue, last_seq = row
    if after >= last_seq:
        return Fetched([], last_seq)
    return Fetched(_read_rows(conn, queue, after + 1, last_seq, limit, max_bytes), last_seq)


# ---------------------------------------------------------------- blobs


def create_blob(
    conn: Connection, bid: bytes, cap_hash: bytes, size: int, chunks: int, hour: int
) -> None:
    cur = conn.execute(
        "INSERT INTO blobs (bid, cap_hash, size, chunks, created_hour) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT DO NOTHING",
        (bid, cap_hash, size, chunks, hour),
    )
    if cur.rowcount != 1:
        raise RelayError("exists", "blob already exists")


def _blob(
    conn: Connection, bid: bytes, cap_hash: bytes, *, lock: bool = False
) -> tuple[int, int, int, int]:
    """(id, size, chunks, bytes_used) of a blob the capability may use (``lock``: to write)."""
    select = "SELECT id, cap_hash, size, chunks, bytes_used FROM blobs WHERE bid = ?"
    row = conn.execute(_locked(conn, select) if lock else select, (bid,)).fetchone()
    if row is None:
        raise RelayError("not_found", "no such blob")
    if not _same(row[1], cap_hash):
        raise RelayError("forbidden", "capability not valid for this blob")
    return row[0], row[2], row[3], row[4]


def put_chunk(conn: Connection, bid: bytes, cap_hash: bytes, index: int, data: bytes) -> None:
    """Store chunk ``index`` once; writing identical bytes again is accepted."""
    blob, size, chunks, used = _blob(conn, bid, cap_hash, lock=True)
    if index >= chunks:
        raise RelayError("bad_request", "chunk index beyond the declared chunk count")
    existing = conn.execute(
        "SELECT data FROM chunks WHERE blob = ? AND idx = ?", (blob, index)
    ).fetchone()
    if existing is not None:
        if not _same(existing[0], data):
            raise RelayError("exists", "chunk already written with other bytes")
        return
    if used + len(data) > size + chunks * _CHUNK_OVERHEAD:
        raise RelayError("too_large", "chunks exceed the blob's declared size")
    conn.execute("INSERT INTO chunks (blob, idx, data) VALUES (?, ?, ?)", (blob, index, data))
    conn.execute("UPDATE blobs SET bytes_used = ? WHERE id = ?", (used + len(data), blob))


def get_chunk(conn: Connection, bid: bytes, cap_hash: bytes, index: int) -> bytes:
    blob, _size, _chunks, _used = _blob(conn, bid, cap_hash)
    row = conn.execute(
        "SELECT data FROM chunks WHERE blob = ? AND idx = ?", (blob, index)
    ).fetchone()
    if row is None:
        raise RelayError("missing", "chunk not uploaded")
    return bytes(row[0])


def delete_blob(conn: Connection, bid: bytes, cap_hash: bytes) -> None:
    blob, _size, _chunks, _used = _blob(conn, bid, cap_hash, lock=True)
    conn.execute("DELETE FROM blobs WHERE id = ?", (blob,))


# ---------------------------------------------------------------- retention


def purge(conn: Connection, cutoff_hour: int) -> PurgeCounts:
    """Delete items and blobs stored in an hour before ``cutoff_hour``; fix byte counts.

    The byte counts subtract what this statement deleted (``RETURNING``), so two relay
    processes purging at once never subtract an item twice.
    """
    deleted = conn.execute(
        "DELETE FROM items WHERE hour < ? RETURNING queue, size", (cutoff_hour,)
    ).fetchall()
    freed: dict[int, int] = {}
    for queue, size in deleted:
        freed[queue] = freed.get(queue, 0) + size
    if freed:
        conn.executemany(
            "UPDATE queues SET bytes_used = bytes_used - ? WHERE id = ?",
            [(size, queue) for queue, size in sorted(freed.items())],
        )
    items = len(deleted)
    blobs = conn.execute("DELETE FROM blobs WHERE created_hour < ?", (cutoff_hour,)).rowcount
    return PurgeCounts(items=items, blobs=max(blobs, 0))
