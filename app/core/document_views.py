"""Read-only values about documents for the CLI and the desktop app."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "AcknowledgementView",
    "DocumentVersionView",
    "DocumentView",
    "ExportedDocument",
    "VerifiedFile",
]


@dataclass(frozen=True)
class AcknowledgementView:
    """One member's "I have read this version"."""

    name: str
    fingerprint: str
    acked_at: int  # the member's clock, ms


@dataclass(frozen=True)
class DocumentVersionView:
    """One announced version, with the trust rule's verdict at its point of the log."""

    version: int
    title: str
    filename: str
    media_type: str
    note: str
    size: int
    published_at: int
    sha256: str  # hex, for people comparing with sha256sum
    signer_name: str
    signer_fingerprint: str
    trusted: bool
    trust: str  # "signed by Alice (organizer), verified" or "not trusted: <reason>"
    downloaded: bool  # the ciphertext is in the profile's document store
    acknowledged_by: tuple[AcknowledgementView, ...]  # filled for organizers only
    acknowledged_by_me: bool


@dataclass(frozen=True)
class DocumentView:
    """A document as shown in a list: its current version and its history.

    The current version is the newest trusted one (or the newest at all when none is
    trusted), so an untrusted "next version" from a member cannot displace it.
    """

    group_id: bytes
    document_id: bytes
    current: DocumentVersionView
    history: tuple[DocumentVersionView, ...]  # every version, newest first

    @property
    def id_hex(self) -> str:
        return self.document_id.hex()

    @property
    def title(self) -> str:
        return self.current.title

    @property
    def version(self) -> int:
        return self.current.version

    @property
    def filename(self) -> str:
        return self.current.filename

    @property
    def size(self) -> int:
        return self.current.size

    @property
    def signer_name(self) -> str:
        return self.current.signer_name

    @property
    def trusted(self) -> bool:
        return self.current.trusted

    @property
    def trust(self) -> str:
        return self.current.trust

    @property
    def acknowledged_by(self) -> tuple[AcknowledgementView, ...]:
        return self.current.acknowledged_by


@dataclass(frozen=True)
class ExportedDocument:
    """What ``get`` wrote: the file, its minisign signature and the signer's key."""

    path: Path
    signature_path: Path
    public_key_path: Path
    trust: str


@dataclass(frozen=True)
class VerifiedFile:
    """A file whose minisign signature verified (``caucus doc verify``).

    ``document`` fields come from the signed trusted comment when it is a Caucus one.
    """

    path: Path
    signature_path: Path
    public_key_path: Path
    key_id: str
    trusted_comment: str
    title: str | None = None
    filename: str | None = None
    version: int | None = None
    document_id: str | None = None
    group_id: str | None = None
    published_at: int | None = None
