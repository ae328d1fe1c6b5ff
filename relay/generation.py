"""The relay's generation id: a random value that changes whenever history may rewind.

Created with the database and replaced by ``caucus-relay restore``; served by ``/health``
and with every fetch (``X-Caucus-Generation``).  A relay restored from an older backup
hands out sequence numbers a second time; a client that sees a new generation knows its
``after`` cursors may point past the relay's end.  Plain portable SQL, one row.
"""

from __future__ import annotations

import re
import secrets

from relay.backend import Connection

__all__ = ["GENERATION_RE", "ensure", "new_generation", "read", "replace"]

GENERATION_RE = re.compile(r"[0-9a-f]{32}")


def new_generation() -> str:
    """32 lowercase hex digits from the system's CSPRNG."""
    return secrets.token_hex(16)


def read(conn: Connection) -> str | None:
    row = conn.execute("SELECT value FROM generation WHERE id = 1").fetchone()
    return None if row is None else str(row[0])


def ensure(conn: Connection) -> str:
    """The database's generation, creating one if it has none yet (a new or migrated DB)."""
    conn.execute(
        "INSERT INTO generation (id, value) VALUES (1, ?) ON CONFLICT DO NOTHING",
        (new_generation(),),
    )
    value = read(conn)
    if value is None:  # pragma: no cover - the insert above guarantees a row
        raise RuntimeError("generation row missing")
    return value


def replace(conn: Connection) -> str:
    """Give the database a fresh generation (after a restore); returns it."""
    value = new_generation()
    conn.execute("DELETE FROM generation")
    conn.execute("INSERT INTO generation (id, value) VALUES (1, ?)", (value,))
    return value
