"""The engine's public face: every name the desktop app and the command line may use.

``app/qt``, ``app/cli*.py`` and ``app/daemon`` import from here (and from
``app.core.events``) only; tests/test_layering.py enforces it. It holds the ``Engine``
facade and the profile functions (for the command line, the daemon and the desktop
app's bridge, which run it), the typed commands, view values, events and errors, the
read-only reader of the desktop app, and the few protocol limits and vote shapes a form
needs — so nothing outside ``app/core`` touches the engine's parts, its SQL, ``crypto``
or the relay.
"""

from __future__ import annotations

from app.core.ballot_results import (
    BallotResultView,
    HistogramBar,
    MyVoteCheck,
    NumericResult,
    OptionCount,
    RunoffRound,
)
from app.core.ballot_views import BallotReader, BallotView, VoteReceipt
from app.core.ballots import kind_from_name
from app.core.case_views import CaseDetail, CaseView
from app.core.commands import (
    AcknowledgeDocument,
    ApproveJoin,
    BallotResults,
    CancelBallot,
    CastVote,
    CloseBallot,
    Command,
    CreateBallot,
    CreateChannel,
    CreateGroup,
    CreateInvite,
    DeleteMessage,
    EditMessage,
    ExportDocument,
    JoinWithInvite,
    LeaveGroup,
    ListDocuments,
    MarkRead,
    PublishDocument,
    React,
    RejectJoin,
    RemoveMember,
    RenameGroup,
    ReplyTo,
    RetryMessage,
    SaveAttachment,
    SendFiles,
    SendText,
    SetMemberRole,
    SetMuted,
    SetVerified,
    SyncNow,
)
from app.core.commands_cases import (
    CaseTimeline,
    ListCases,
    OpenCase,
    SetCaseStatus,
    ShareCase,
)
from app.core.conversation import parse_message_id
from app.core.database import Database
from app.core.document_views import DocumentVersionView, DocumentView, ExportedDocument
from app.core.documents import verify_file
from app.core.engine import Engine, SyncReport, wall_clock_ms
from app.core.errors import (
    ClientError,
    NotFound,
    RelayError,
    RelayUnavailable,
    WrongPassphrase,
)
from app.core.passphrase_policy import WeakPassphrase, check_new_passphrase
from app.core.profile import (
    change_passphrase,
    create_profile,
    create_profile_with_key,
    open_with_key,
    profile_exists,
    unlock_with_key,
)
from app.core.queries import Queries
from app.core.send_gate import SendHeld
from app.core.views import (
    DEFAULT_CHANNEL,
    AttachmentView,
    ChannelView,
    GroupView,
    JoinRequestView,
    MemberRole,
    MemberView,
    MessageView,
    ProfileView,
)
from crypto.attachment import MAX_ATTACHMENT_SIZE
from crypto.ballot import (
    Answer,
    ApprovalChoice,
    BallotKind,
    Choice,
    NumericChoice,
    RankedChoice,
    SingleChoice,
    YesNoChoice,
)
from crypto.ballot.definition import MAX_BINS, MAX_OPTION, MAX_OPTIONS, MAX_QUESTION
from crypto.case import MAX_NOTE as MAX_CASE_NOTE
from crypto.case import MAX_TITLE as MAX_CASE_TITLE
from crypto.case import CaseStatus, Sharing
from crypto.document.announce import MAX_NOTE_BYTES, MAX_TITLE_BYTES
from crypto.document.stream import MAX_DOCUMENT_SIZE
from crypto.errors import CaucusError
from crypto.identity import safety_number
from crypto.invite import InviteCode

__all__ = [
    "DEFAULT_CHANNEL",
    "MAX_ATTACHMENT_SIZE",
    "MAX_BINS",
    "MAX_CASE_NOTE",
    "MAX_CASE_TITLE",
    "MAX_DOCUMENT_SIZE",
    "MAX_NOTE_BYTES",
    "MAX_OPTION",
    "MAX_OPTIONS",
    "MAX_QUESTION",
    "MAX_TITLE_BYTES",
    "AcknowledgeDocument",
    "Answer",
    "ApprovalChoice",
    "ApproveJoin",
    "AttachmentView",
    "BallotKind",
    "BallotReader",
    "BallotResultView",
    "BallotResults",
    "BallotView",
    "CancelBallot",
    "CaseDetail",
    "CaseStatus",
    "CaseTimeline",
    "CaseView",
    "CastVote",
    "CaucusError",
    "ChannelView",
    "Choice",
    "ClientError",
    "CloseBallot",
    "Command",
    "CreateBallot",
    "CreateChannel",
    "CreateGroup",
    "CreateInvite",
    "Database",
    "DeleteMessage",
    "DocumentVersionView",
    "DocumentView",
    "EditMessage",
    "Engine",
    "ExportDocument",
    "ExportedDocument",
    "GroupView",
    "HistogramBar",
    "JoinRequestView",
    "JoinWithInvite",
    "LeaveGroup",
    "ListCases",
    "ListDocuments",
    "MarkRead",
    "MemberRole",
    "MemberView",
    "MessageView",
    "MyVoteCheck",
    "NotFound",
    "NumericChoice",
    "NumericResult",
    "OpenCase",
    "OptionCount",
    "ProfileView",
    "PublishDocument",
    "Queries",
    "RankedChoice",
    "React",
    "RejectJoin",
    "RelayError",
    "RelayUnavailable",
    "RemoveMember",
    "RenameGroup",
    "ReplyTo",
    "RetryMessage",
    "RunoffRound",
    "SaveAttachment",
    "SendFiles",
    "SendHeld",
    "SendText",
    "SetCaseStatus",
    "SetMemberRole",
    "SetMuted",
    "SetVerified",
    "ShareCase",
    "Sharing",
    "SingleChoice",
    "SyncNow",
    "SyncReport",
    "VoteReceipt",
    "WeakPassphrase",
    "WrongPassphrase",
    "YesNoChoice",
    "change_passphrase",
    "check_new_passphrase",
    "create_profile",
    "create_profile_with_key",
    "invite_relay_url",
    "is_invite_code",
    "kind_from_name",
    "open_with_key",
    "parse_message_id",
    "profile_exists",
    "safety_number",
    "unlock_with_key",
    "verify_file",
    "wall_clock_ms",
]


def is_invite_code(text: str) -> bool:
    """Whether ``text`` parses as a ``caucus://join#…`` invite code."""
    try:
        InviteCode.parse(text.strip())
    except CaucusError:
        return False
    return True


def invite_relay_url(text: str) -> str | None:
    """The relay URL an invite code carries, or ``None`` when ``text`` is not a code."""
    try:
        return InviteCode.parse(text.strip()).relay_url
    except CaucusError:
        return None
