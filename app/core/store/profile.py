"""Every SQL statement on ``profile`` (the one row naming this person and holding their
identity keys, migrations/0001_init.sql) and ``verified_keys`` (the members whose safety
number they compared, 0004_verified_keys.sql).

``public_profile`` and ``verified_keys`` select no secret column and serve the desktop
app's read-only connection; ``profile_secrets`` is for the engine's connection only.
Write functions join the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.core.database import Database

__all__ = [
    "ProfileRow",
    "ProfileSecrets",
    "VerifiedKeyRow",
    "delete_verified",
    "insert_profile",
    "profile_secrets",
    "public_profile",
    "replace_delivery_key",
    "save_verified",
    "verified_keys",
]


@dataclass(frozen=True)
class ProfileRow:
    """The profile without its secrets: the delivery certificate is public."""

    name: str
    relay_url: str
    delivery_cert: bytes


@dataclass(frozen=True)
class ProfileSecrets:
    """The profile with the identity's secret key material."""

    name: str
    relay_url: str
    signing_seed: bytes
    delivery_secret: bytes
    delivery_cert: bytes

    def __repr__(self) -> str:  # never put key material in a log or a traceback
        return f"ProfileSecrets(name={self.name!r}, relay_url={self.relay_url!r})"


@dataclass(frozen=True)
class VerifiedKeyRow:
    identity_pk: bytes
    name: str  # the member's display name when verified
    verified_at: int  # ms since the Unix epoch
    devices: bytes  # digest of the member's linked device keys then (empty: none)


def insert_profile(
    db: Database,
    name: str,
    relay_url: str,
    signing_seed: bytes,
    delivery_secret: bytes,
    delivery_cert: bytes,
    created_at: int,
) -> None:
    db.execute(
        "INSERT INTO profile (id, name, relay_url, signing_seed, delivery_secret,"
        " delivery_cert, created_at) VALUES (1, ?, ?, ?, ?, ?, ?)",
        (name, relay_url, signing_seed, delivery_secret, delivery_cert, created_at),
    )


def public_profile(db: Database) -> ProfileRow | None:
    row = db.one("SELECT name, relay_url, delivery_cert FROM profile")
    if row is None:
        return None
    return ProfileRow(str(row[0]), str(row[1]), bytes(row[2]))


def profile_secrets(db: Database) -> ProfileSecrets | None:
    row = db.one(
        "SELECT name, relay_url, signing_seed, delivery_secret, delivery_cert FROM profile"
    )
    if row is None:
        return None
    return ProfileSecrets(str(row[0]), str(row[1]), bytes(row[2]), bytes(row[3]), bytes(row[4]))


def replace_delivery_key(db: Database, delivery_secret: bytes, delivery_cert: bytes) -> None:
    """The profile's own delivery key, replaced (its older copy is overwritten: secure_delete)."""
    db.execute(
        "UPDATE profile SET delivery_secret = ?, delivery_cert = ? WHERE id = 1",
        (delivery_secret, delivery_cert),
    )
    db.secret_deleted()


def verified_keys(db: Database) -> list[VerifiedKeyRow]:
    return [
        VerifiedKeyRow(bytes(pk), str(name), int(at), bytes(devices))
        for pk, name, at, devices in db.all(
            "SELECT identity_pk, name, verified_at, devices FROM verified_keys"
        )
    ]


def save_verified(
    db: Database, identity_pk: bytes, name: str, verified_at: int, devices: bytes
) -> None:
    db.execute(
        "INSERT OR REPLACE INTO verified_keys (identity_pk, name, verified_at, devices)"
        " VALUES (?, ?, ?, ?)",
        (identity_pk, name, verified_at, devices),
    )


def delete_verified(db: Database, identity_pk: bytes) -> None:
    db.execute("DELETE FROM verified_keys WHERE identity_pk = ?", (identity_pk,))
