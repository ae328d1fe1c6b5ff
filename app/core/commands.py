"""Typed commands: what a view may ask the engine to do, and the result type of each.

A view (the desktop app) builds a frozen command value and hands it to whatever runs the
engine (``app.qt.engine_bridge``); the command's ``run`` is the only code that touches
the engine, and it lives here, in the core. So a view never holds a closure over the
engine, never sees its private state, and every request that crosses the thread
boundary is a plain value that can be logged (by type), tested and replayed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

from app.core.ballot_results import BallotResultView
from app.core.ballot_views import BallotView, VoteReceipt
from app.core.document_views import DocumentView, ExportedDocument
from app.core.engine import Engine, SyncReport
from app.core.transfer import Transfer
from app.core.verified_keys import set_verified
from app.core.views import DEFAULT_CHANNEL, MemberRole, MessageView
from crypto.ballot import BallotKind, Choice

__all__ = [
    "AcknowledgeDocument",
    "ApproveJoin",
    "BallotResults",
    "CancelBallot",
    "CastVote",
    "CloseBallot",
    "Command",
    "CreateBallot",
    "CreateChannel",
    "CreateGroup",
    "CreateInvite",
    "DeleteMessage",
    "EditMessage",
    "ExportDocument",
    "JoinWithInvite",
    "LeaveGroup",
    "ListDocuments",
    "MarkRead",
    "PublishDocument",
    "React",
    "RejectJoin",
    "RemoveMember",
    "RenameGroup",
    "ReplyTo",
    "RetryMessage",
    "SaveAttachment",
    "SendFiles",
    "SendText",
    "SetMemberRole",
    "SetMuted",
    "SetVerified",
    "SyncNow",
]

R = TypeVar("R", covariant=True)


class Command(Generic[R]):
    """One request to the engine, returning ``R``. Subclasses are frozen dataclasses."""

    async def run(self, engine: Engine) -> R:
        raise NotImplementedError


# -- groups and members --------------------------------------------------------------


@dataclass(frozen=True)
class SyncNow(Command[SyncReport]):
    async def run(self, engine: Engine) -> SyncReport:
        return await engine.sync()


@dataclass(frozen=True)
class CreateGroup(Command[bytes]):
    name: str

    async def run(self, engine: Engine) -> bytes:
        return await engine.create_group(self.name)


@dataclass(frozen=True)
class CreateChannel(Command[bytes]):
    group_id: bytes
    name: str
    announce_only: bool

    async def run(self, engine: Engine) -> bytes:
        return await engine.create_channel(
            self.group_id, self.name, announce_only=self.announce_only
        )


@dataclass(frozen=True)
class SetMemberRole(Command[None]):
    group_id: bytes
    fingerprint: str
    role: MemberRole

    async def run(self, engine: Engine) -> None:
        await engine.set_role(self.group_id, self.fingerprint, self.role.log_role)


@dataclass(frozen=True)
class RemoveMember(Command[None]):
    group_id: bytes
    fingerprint: str

    async def run(self, engine: Engine) -> None:
        await engine.remove_member(self.group_id, self.fingerprint)


@dataclass(frozen=True)
class ReplyTo(Command[MessageView]):
    group_id: bytes
    message_id: bytes
    text: str

    async def run(self, engine: Engine) -> MessageView:
        return await engine.conversation.reply(self.group_id, self.message_id, self.text)


@dataclass(frozen=True)
class SendFiles(Command[MessageView]):
    """Attach files (at most 8, each at most 100 MiB) to a message, with optional text."""

    group_id: bytes
    paths: tuple[Path, ...]
    text: str = ""
    channel_id: bytes = DEFAULT_CHANNEL

    async def run(self, engine: Engine) -> MessageView:
        return await engine.attachments.send(
            self.group_id, list(self.paths), self.text, self.channel_id
        )


@dataclass(frozen=True)
class SaveAttachment(Command[Path]):
    """Download, check and write file ``index`` of a message (the save dialog already
    asked before replacing a file, hence ``force``)."""

    group_id: bytes
    message_id: bytes
    out: Path
    index: int = 0
    force: bool = True

    async def run(self, engine: Engine) -> Path:
        return await engine.attachments.get(
            self.group_id, self.message_id, self.out, index=self.index, force=self.force
        )


@dataclass(frozen=True)
class EditMessage(Command[None]):
    group_id: bytes
    message_id: bytes
    text: str

    async def run(self, engine: Engine) -> None:
        await engine.conversation.edit(self.group_id, self.message_id, self.text)


@dataclass(frozen=True)
class DeleteMessage(Command[None]):
    """Delete one of our messages for everyone."""

    group_id: bytes
    message_id: bytes

    async def run(self, engine: Engine) -> None:
        await engine.conversation.delete(self.group_id, self.message_id)


@dataclass(frozen=True)
class React(Command[None]):
    group_id: bytes
    message_id: bytes
    emoji: str
    on: bool = True

    async def run(self, engine: Engine) -> None:
        await engine.conversation.react(self.group_id, self.message_id, self.emoji, self.on)


@dataclass(frozen=True)
class RenameGroup(Command[None]):
    group_id: bytes
    name: str

    async def run(self, engine: Engine) -> None:
        await engine.rename_group(self.group_id, self.name)


@dataclass(frozen=True)
class LeaveGroup(Command[None]):
    group_id: bytes

    async def run(self, engine: Engine) -> None:
        await engine.leave(self.group_id)


@dataclass(frozen=True)
class CreateInvite(Command[str]):
    """Returns the invite code to share."""

    group_id: bytes
    role: MemberRole
    ttl_ms: int
    max_uses: int
    needs_approval: bool

    async def run(self, engine: Engine) -> str:
        return await engine.create_invite(
            self.group_id,
            role=self.role.log_role,
            ttl_ms=self.ttl_ms,
            max_uses=self.max_uses,
            needs_approval=self.needs_approval,
        )


@dataclass(frozen=True)
class JoinWithInvite(Command[None]):
    code: str

    async def run(self, engine: Engine) -> None:
        await engine.join(self.code)


@dataclass(frozen=True)
class ApproveJoin(Command[None]):
    request_id: int

    async def run(self, engine: Engine) -> None:
        await engine.approve(self.request_id)


@dataclass(frozen=True)
class RejectJoin(Command[None]):
    request_id: int

    async def run(self, engine: Engine) -> None:
        await engine.reject(self.request_id)


@dataclass(frozen=True)
class SetVerified(Command[None]):
    """Mark (or unmark) a member's identity key as verified by safety number."""

    identity_pk: bytes
    name: str
    verified: bool
    devices: bytes = b""  # MemberView.devices as shown when the numbers were compared

    async def run(self, engine: Engine) -> None:
        set_verified(
            engine.db,
            self.identity_pk,
            self.name,
            self.verified,
            engine.context.now(),
            self.devices,
        )


# -- messages ------------------------------------------------------------------------


@dataclass(frozen=True)
class SendText(Command[MessageView]):
    group_id: bytes
    text: str
    channel_id: bytes = DEFAULT_CHANNEL

    async def run(self, engine: Engine) -> MessageView:
        return await engine.send_text(self.group_id, self.text, self.channel_id)


@dataclass(frozen=True)
class RetryMessage(Command[None]):
    row_id: int

    async def run(self, engine: Engine) -> None:
        await engine.retry(self.row_id)


@dataclass(frozen=True)
class MarkRead(Command[None]):
    group_id: bytes

    async def run(self, engine: Engine) -> None:
        engine.mark_read(self.group_id)


@dataclass(frozen=True)
class SetMuted(Command[None]):
    """Silence (or un-silence) a group's notifications."""

    group_id: bytes
    muted: bool

    async def run(self, engine: Engine) -> None:
        engine.set_muted(self.group_id, self.muted)


# -- documents -----------------------------------------------------------------------


@dataclass(frozen=True)
class ListDocuments(Command[list[DocumentView]]):
    group_id: bytes

    async def run(self, engine: Engine) -> list[DocumentView]:
        return engine.documents.list(self.group_id)


@dataclass(frozen=True)
class PublishDocument(Command[bytes]):
    """Returns the document id."""

    group_id: bytes
    path: Path
    title: str
    version: int | None = None
    note: str = ""
    document_id: bytes | None = None
    transfer: Transfer = field(default_factory=Transfer, compare=False)  # progress, cancel

    async def run(self, engine: Engine) -> bytes:
        return await engine.documents.publish(
            self.group_id,
            self.path,
            self.title,
            version=self.version,
            note=self.note,
            document_id=self.document_id,
            transfer=self.transfer,
        )


@dataclass(frozen=True)
class ExportDocument(Command[ExportedDocument]):
    """Download if needed and write the file (plus .minisig and .pub) to ``target``."""

    document_id: bytes
    target: Path
    version: int
    force: bool = False
    transfer: Transfer = field(default_factory=Transfer, compare=False)  # progress, cancel

    async def run(self, engine: Engine) -> ExportedDocument:
        return await engine.documents.get(
            self.document_id,
            self.target,
            version=self.version,
            force=self.force,
            transfer=self.transfer,
        )


@dataclass(frozen=True)
class AcknowledgeDocument(Command[None]):
    document_id: bytes
    version: int

    async def run(self, engine: Engine) -> None:
        await engine.documents.ack(self.document_id, version=self.version)


# -- ballots -------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateBallot(Command[bytes]):
    """Returns the ballot id."""

    group_id: bytes
    question: str
    closes_at: int
    kind: BallotKind
    options: tuple[str, ...] = ()
    quorum: int = 0
    numeric_min: int = 0
    numeric_max: int = 0
    histogram_bins: int = 10

    async def run(self, engine: Engine) -> bytes:
        return await engine.ballots.create(
            self.group_id,
            self.question,
            closes_at=self.closes_at,
            kind=self.kind,
            options=self.options,
            quorum=self.quorum,
            numeric_min=self.numeric_min,
            numeric_max=self.numeric_max,
            histogram_bins=self.histogram_bins,
        )


@dataclass(frozen=True)
class CastVote(Command[VoteReceipt]):
    ballot_id: bytes
    choice: Choice
    delay_ms: int | None = None

    async def run(self, engine: Engine) -> VoteReceipt:
        return await engine.ballots.vote(self.ballot_id, self.choice, delay_ms=self.delay_ms)


@dataclass(frozen=True)
class CloseBallot(Command[BallotView]):
    ballot_id: bytes

    async def run(self, engine: Engine) -> BallotView:
        return await engine.ballots.close(self.ballot_id)


@dataclass(frozen=True)
class CancelBallot(Command[BallotView]):
    ballot_id: bytes

    async def run(self, engine: Engine) -> BallotView:
        return await engine.ballots.cancel(self.ballot_id)


@dataclass(frozen=True)
class BallotResults(Command[BallotResultView | None]):
    """The tallied outcome with "was my vote counted" (``None`` before the tally)."""

    group_id: bytes
    ballot_id: bytes

    async def run(self, engine: Engine) -> BallotResultView | None:
        return engine.ballots.result_view(self.group_id, self.ballot_id)
