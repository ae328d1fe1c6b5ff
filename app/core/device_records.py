"""What a link hands to a new device besides keys (docs/protocol.md 8.4): the rows of
every group-scoped table the first device holds for the linked groups, table by table,
with an explicit column list each, and strict decoding on the new device.

Payload (the plaintext of the records blob, ``crypto/link_records.py``)::

    u8 version=1 | u32 schema (the profile database's user_version) | u8 older_left
    | u32 table_count | table_count * (str(64) table | u32 column_count
      | column_count * str(64) column | u32 row_count | row_count * row)
    row = column_count * value;  value = u8 tag | (tag 0 NULL; 1 u64 two's-complement
          integer; 2 var(bytes); 3 str(text))

The new device accepts the payload only if its version and schema equal its own and the
tables and columns are exactly ``TABLES`` in that order; every value must have its
column's type (NULL only where the column may be NULL) and every row must belong to a
group the link joined. The rows were verified by the first device when it received them
(signatures, trust rules, ballot proofs); the new device trusts its own member's first
device for them, as it trusts the member. No key of the first device travels here: no
chains, epoch secrets, delivery keys, reveal keys or case inbox seeds (the member's
ballot secret goes in the bundle itself).

Messages go newest first: when the payload would pass ``MAX_LINK_RECORDS`` the oldest
messages are left out, ``older_left`` is set and the new device shows a line saying
older history stayed on the first computer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from app.core.database import Database
from app.core.errors import ClientError, RelayError
from app.core.link_blob import fetch_records
from app.core.message_kinds import LOG_LINE
from app.core.relay_client import RelayClient
from app.core.status import MessageStatus
from app.core.store import messages as message_store
from app.core.views import DEFAULT_CHANNEL
from crypto.errors import MalformedData, RemoteError, TooLarge, UnsupportedVersion, UsageError
from crypto.link_records import MAX_LINK_RECORDS, RecordsRef
from crypto.wire import Reader, Writer

__all__ = [
    "OLDER_HISTORY_LINE",
    "RECORDS_VERSION",
    "REFUSED_HISTORY_LINE",
    "TABLES",
    "Records",
    "SchemaMismatch",
    "Table",
    "collect",
    "decode",
    "install",
    "note",
    "receive",
]

RECORDS_VERSION = 1
OLDER_HISTORY_LINE = "Older history stayed on your first computer"
REFUSED_HISTORY_LINE = (
    "The history from your first computer could not be checked, so it was not copied "
    "here; it stays on your first computer"
)
_NAME_MAX = 64
_MAX_ROWS = 10_000_000
_MAX_VAR = 1 << 24
_U64 = 1 << 64


class Kind(Enum):
    INT = 1
    BLOB = 2
    TEXT = 3


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    nullable: bool = False


def _c(spec: str) -> Column:
    """``name:i``, ``name:b``, ``name:t``; a trailing ``?`` allows NULL."""
    name, _, kind = spec.partition(":")
    nullable = kind.endswith("?")
    return Column(name, {"i": Kind.INT, "b": Kind.BLOB, "t": Kind.TEXT}[kind[:1]], nullable)


def _cols(specs: str) -> tuple[Column, ...]:
    return tuple(_c(s) for s in specs.split())


@dataclass(frozen=True)
class Table:
    """One table as it travels: ``select`` takes one group id and yields ``columns`` in
    order; ``insert`` takes them in order (``?N`` numbering where the order differs).
    ``group`` is the index of the column naming the row's group, ``also`` of a second
    one that must be a linked group too (a case's own group)."""

    name: str
    columns: tuple[Column, ...]
    select: str
    insert: str
    group: int = 0
    also: int | None = None


def _table(name: str, specs: str, *, where: str = "group_id = ?", also: int | None = None) -> Table:
    columns = _cols(specs)
    names = ", ".join(c.name for c in columns)
    marks = ", ".join("?" for _ in columns)
    return Table(
        name,
        columns,
        f"SELECT {names} FROM {name} WHERE {where}",  # noqa: S608 (names are constants)
        f"INSERT OR IGNORE INTO {name} ({names}) VALUES ({marks})",  # noqa: S608
        also=also,
    )


_MESSAGE_COLUMNS = (
    "group_id:b channel_id:b message_id:b? sender_pk:b sender_name:t sent_at:i received_at:i"
    " content_type:i body:b text:t relay_seq:i reply_to:b? edited_at:i? deleted:i warning:t?"
)
# Every message that reached the relay, and the lines written for log entries, newest
# (highest row, as the first device shows them) first; not our own messages still in the
# outbox (they go out from the first device). ``{}``: the group ids' placeholders.
_NEWEST_MESSAGES = (
    "SELECT group_id, channel_id, message_id, sender_pk, sender_name, sent_at, received_at,"
    " content_type, body, text, relay_seq, reply_to, edited_at, deleted, warning"
    " FROM messages WHERE group_id IN ({}) AND relay_seq IS NOT NULL"
    " AND (message_id IS NOT NULL OR content_type = 0) AND status IN ('sent', 'received')"
    " ORDER BY id DESC"
)
MESSAGES = Table(
    "messages",
    _cols(_MESSAGE_COLUMNS),
    _NEWEST_MESSAGES.format("?"),
    # ?16 is the member: its messages are "sent" on the new device, every other "received".
    "INSERT OR IGNORE INTO messages (group_id, channel_id, message_id, sender_pk,"
    " sender_name, sent_at, received_at, content_type, body, text, relay_seq, reply_to,"
    " edited_at, deleted, warning, status) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,"
    " ?11, ?12, ?13, ?14, ?15, CASE WHEN ?4 = ?16 THEN 'sent' ELSE 'received' END)",
)

TABLES: tuple[Table, ...] = (
    MESSAGES,
    _table("sender_heads", "group_id:b sender_pk:b last_hash:b"),
    Table(
        "attachments",
        _cols(
            "group_id:b message_id:b position:i name:t media_type:t size:i content_key:b sha256:b"
        ),
        "SELECT m.group_id, m.message_id, a.position, a.name, a.media_type, a.size,"
        " a.content_key, a.sha256 FROM attachments a JOIN messages m ON m.id = a.message_row"
        " WHERE m.group_id = ? AND m.message_id IS NOT NULL",
        "INSERT OR IGNORE INTO attachments (message_row, position, name, media_type, size,"
        " content_key, sha256) SELECT id, ?3, ?4, ?5, ?6, ?7, ?8 FROM messages"
        " WHERE group_id = ?1 AND message_id = ?2",
    ),
    _table("reactions", "group_id:b message_id:b reactor_pk:b reactor_name:t emoji:t relay_seq:i?"),
    _table("pins", "group_id:b message_id:b pinned_by_pk:b pinned_by:t pinned_at:i"),
    _table(
        "doc_announcements",
        "group_id:b document_id:b version:i signer_pk:b signer_name:t sender_pk:b trusted:i"
        " reason:t title:t filename:t media_type:t note:t size:i published_at:i blake2b512:b"
        " sha256:b blob_id:b announcement:b epoch:i relay_seq:i received_at:i",
    ),
    _table(
        "doc_acks",
        "group_id:b document_id:b version:i member_pk:b member_name:t blake2b512:b acked_at:i"
        " received_at:i",
    ),
    _table(
        "ballots",
        "group_id:b ballot_id:b definition:b creator_pk:b creator_name:t state:t defined_seq:i"
        " close_seq:i? closed_by:t? reveal_secret:b? result:t? received_at:i counted:b?"
        " integrity:t? integrity_detail:t? eligibility_changed:i",
    ),
    _table(
        "ballot_votes",
        "group_id:b ballot_id:b vote_hash:b key_image:b revision:i encrypted_choice:b"
        " relay_seq:i vote:b?",
    ),
    # The first device's own votes (its outbox) and those it saw from other devices: on
    # the new device they were all cast elsewhere (protocol 8.5), so it shows "you voted"
    # and refuses a second vote.
    Table(
        "ballot_voted_elsewhere",
        _cols("group_id:b ballot_id:b revision:i"),
        "SELECT group_id, ballot_id, MAX(revision) FROM (SELECT group_id, ballot_id, revision"
        " FROM ballot_outbox WHERE status != 'failed' UNION ALL"
        " SELECT group_id, ballot_id, revision FROM ballot_voted_elsewhere)"
        " WHERE group_id = ? GROUP BY group_id, ballot_id",
        "INSERT OR IGNORE INTO ballot_voted_elsewhere (group_id, ballot_id, revision)"
        " VALUES (?, ?, ?)",
    ),
    _table(
        "rate_reports",
        "group_id:b report_hash:b period:t key_image:b revision:i relay_seq:i role:t"
        " seniority:t rate:t currency:t unit:i region:t",
    ),
    _table(
        "client_reports",
        "group_id:b report_hash:b client:t key_image:b revision:i relay_seq:i"
        " paid_late_days:i scope_creep:i again:i comment:t",
    ),
    _table("union_thresholds", "group_id:b k:i relay_seq:i"),
    _table(
        "cases",
        "parent_group_id:b case_group_id:b title:t opener_pk:b status:i status_applied:i"
        " sharing:i opened_at:i",
        where="parent_group_id = ?",
        also=1,
    ),
    _table("case_inbox_directory", "group_id:b organizer_pk:b inbox_id:b"),
)


class SchemaMismatch(ClientError):
    """The two devices run different versions of Caucus."""


@dataclass(frozen=True)
class Records:
    """A decoded payload: rows per table name, in ``TABLES`` order."""

    schema: int
    older_left: bool
    rows: dict[str, list[tuple[object, ...]]]


def _write_value(writer: Writer, column: Column, value: object) -> None:
    if value is None:
        if not column.nullable:
            raise UsageError(f"NULL in {column.name}")
        writer.u8(0)
    elif column.kind is Kind.INT and isinstance(value, int) and not isinstance(value, bool):
        writer.u8(1).u64(value % _U64)
    elif column.kind is Kind.BLOB and isinstance(value, bytes | memoryview):
        writer.u8(2).var(bytes(value), _MAX_VAR)
    elif column.kind is Kind.TEXT and isinstance(value, str):
        writer.u8(3).text(value, _MAX_VAR)
    else:
        raise UsageError(f"{column.name} holds a {type(value).__name__}")


def _read_value(reader: Reader, column: Column) -> object:
    tag = reader.u8()
    if tag == 0 and column.nullable:
        return None
    if tag == 1 and column.kind is Kind.INT:
        value = reader.u64()
        return value - _U64 if value >= _U64 // 2 else value
    if tag == 2 and column.kind is Kind.BLOB:
        return reader.var(_MAX_VAR)
    if tag == 3 and column.kind is Kind.TEXT:
        return reader.text(_MAX_VAR)
    raise MalformedData(f"link records: value of type {tag} in column {column.name}")


def _encode_row(table: Table, row: Sequence[object]) -> bytes:
    writer = Writer()
    for column, value in zip(table.columns, row, strict=True):
        _write_value(writer, column, value)
    return bytes(writer)


def _table_header(table: Table, count: int) -> bytes:
    writer = Writer().text(table.name, _NAME_MAX).u32(len(table.columns))
    for column in table.columns:
        writer.text(column.name, _NAME_MAX)
    return bytes(writer.u32(count))


def schema_of(db: Database) -> int:
    row = db.one("PRAGMA user_version")
    return int(row[0]) if row is not None else 0


def collect(db: Database, group_ids: Sequence[bytes], limit: int = MAX_LINK_RECORDS) -> bytes:
    """The payload for ``group_ids``: every record, and the newest messages that fit
    ``limit`` bytes in all (``older_left`` when some did not)."""
    encoded: dict[str, list[bytes]] = {}
    for table in TABLES[1:]:
        encoded[table.name] = [
            _encode_row(table, row) for g in group_ids for row in db.all(table.select, (g,))
        ]
    size = 1 + 4 + 1 + 4
    size += sum(len(_table_header(t, 0)) + sum(map(len, encoded.get(t.name, []))) for t in TABLES)
    if size > limit:
        raise ClientError(
            "this member's group records are larger than a link can carry "
            f"({limit // (1 << 20)} MiB); nothing was sent"
        )
    kept: list[bytes] = []
    older_left = False
    newest = _NEWEST_MESSAGES.format(", ".join("?" for _ in group_ids))
    for row in db.execute(newest, tuple(group_ids)) if group_ids else ():
        one = _encode_row(MESSAGES, row)
        if size + len(one) > limit:
            older_left = True
            break
        kept.append(one)
        size += len(one)
    encoded[MESSAGES.name] = kept[::-1]  # the new device stores them oldest first
    writer = Writer().u8(RECORDS_VERSION).u32(schema_of(db)).u8(older_left)
    parts = [bytes(writer.u32(len(TABLES)))]
    for table in TABLES:
        parts.append(_table_header(table, len(encoded[table.name])))
        parts.extend(encoded[table.name])
    return b"".join(parts)


def decode(payload: bytes, schema: int) -> Records:
    """Strict parse against this client's ``TABLES`` and database ``schema``
    (``MalformedData``, ``UnsupportedVersion``, ``SchemaMismatch``)."""
    if len(payload) > MAX_LINK_RECORDS:
        raise TooLarge("link records larger than their limit")
    reader = Reader(payload)
    version = reader.u8()
    if version != RECORDS_VERSION:
        raise UnsupportedVersion(f"link records version {version}")
    theirs = reader.u32()
    if theirs != schema:
        raise SchemaMismatch(
            f"your first computer's Caucus keeps its records in another form (schema {theirs},"
            f" this one {schema}): update Caucus on both computers and link again"
        )
    older = reader.u8()
    if older > 1:
        raise MalformedData("link records: bad flag")
    if reader.u32() != len(TABLES):
        raise MalformedData("link records: another set of tables")
    rows: dict[str, list[tuple[object, ...]]] = {}
    for table in TABLES:
        if reader.text(_NAME_MAX) != table.name or reader.u32() != len(table.columns):
            raise MalformedData(f"link records: expected table {table.name}")
        for column in table.columns:
            if reader.text(_NAME_MAX) != column.name:
                raise MalformedData(f"link records: expected column {table.name}.{column.name}")
        count = reader.u32()
        if count > _MAX_ROWS:
            raise TooLarge("link records: too many rows")
        rows[table.name] = [
            tuple(_read_value(reader, c) for c in table.columns) for _ in range(count)
        ]
    reader.finish()
    return Records(theirs, bool(older), rows)


def install(
    db: Database, records: Records, joined: Sequence[bytes], owner: bytes, now: int
) -> None:
    """Store the records of the groups in ``joined`` (joins the caller's transaction);
    rows naming any other group are left out."""
    groups = set(joined)
    if records.older_left:
        note(db, joined, owner, now, OLDER_HISTORY_LINE)
    first = db.one("SELECT COALESCE(MAX(id), 0) FROM messages")
    before = int(first[0]) if first is not None else 0
    for table in TABLES:
        rows = [
            row
            for row in records.rows[table.name]
            if row[table.group] in groups and (table.also is None or row[table.also] in groups)
        ]
        if table is MESSAGES:
            db.executemany(table.insert, [(*row, owner) for row in rows])
        else:
            db.executemany(table.insert, rows)
    texts = db.all("SELECT id, text FROM messages WHERE id > ? ORDER BY id", (before,))
    message_store.index_texts(db, [(int(r[0]), str(r[1])) for r in texts])


def note(db: Database, joined: Sequence[bytes], owner: bytes, now: int, text: str) -> None:
    """A line of this device's own at the top of each linked group (a ``LOG_LINE`` row,
    never sent), saying what of the history is not here."""
    rows = []
    for group_id in joined:
        row_id = message_store.insert_message(
            db,
            group_id,
            DEFAULT_CHANNEL,
            None,
            owner,
            "",
            0,
            now,
            LOG_LINE,
            b"",
            text,
            MessageStatus.RECEIVED,
            0,
            None,
        )
        if row_id is not None:
            rows.append((row_id, text))
    message_store.index_texts(db, rows)


async def receive(
    relay: RelayClient, db: Database, ref: RecordsRef, warnings: list[str]
) -> Records | None:
    """Fetch, check and decode the records blob a bundle names. A blob that is damaged,
    swapped, gone or from another version of Caucus is refused with a warning (None):
    the link completes with the groups alone. A relay that cannot be reached now raises
    (``RelayError``), so the caller can try again on its next sync."""
    try:
        return decode(await fetch_records(relay, ref), schema_of(db))
    except RelayError:
        raise
    except (RemoteError, ClientError) as exc:
        warnings.append(
            f"the history from your first computer was refused ({exc}); your groups are "
            "linked without their earlier messages and records"
        )
        return None
