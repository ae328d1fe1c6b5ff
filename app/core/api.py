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

from app.core.backup import (
    BackupMade,
    RestoreResult,
    check_restore_target,
    create_backup,
    read_recovery_words,
    restore_backup,
)
from app.core.backup_schedule import BackupSchedule, Schedule
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
from app.core.commands_backup import BackUpIfDue, BackUpNow, BackupStatus, ConfigureBackups
from app.core.commands_cases import (
    CaseTimeline,
    ListCases,
    OpenCase,
    SetCaseStatus,
    ShareCase,
)

# Issue #12, second part: pins, the group description, "send anyway", transfers (conv2).
from app.core.commands_conv2 import (
    DescribeGroup,
    FetchPreview,
    ListPins,
    PinMessage,
    SaveAttachmentTracked,
    SendAnyway,
    SendFilesTracked,
)

# linked devices (docs/protocol.md 8)
from app.core.commands_devices import LinkDevice, ListDevices, RemoveDevice, link_code_relay_url
from app.core.conversation import parse_message_id
from app.core.database import Database
from app.core.device_setup import LinkCancelled, LinkNotAnswered, link_new_profile
from app.core.devices import DeviceView
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
from app.core.pin_views import PinView
from app.core.previews import PREVIEW_MAX, image_kind, previewable
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
from app.core.store.backups import BackupSettings
from app.core.transfer import Transfer, TransferCancelled, TransferProgress
from app.core.verified_keys import VerifiedMark
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

from app.core.client_reports import ClientFigures, ClientLine  # isort: skip
from app.core.commands_union import (  # isort: skip
    ExportRatesCsv,
    ReportClient,
    SetReportsThreshold,
    ShowClients,
    ShowRates,
    SubmitRate,
)
from app.core.rates import UNITS, RateCell, RateLine, RatesBoard  # isort: skip
from app.core.union_send import ReportReceipt  # isort: skip
from crypto.union.fields import MAX_CLIENT_NAME, MAX_COMMENT, MAX_ROLE  # isort: skip

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
    "PREVIEW_MAX",
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
    "DescribeGroup",
    "DeviceView",
    "DocumentVersionView",
    "DocumentView",
    "EditMessage",
    "Engine",
    "ExportDocument",
    "ExportedDocument",
    "FetchPreview",
    "GroupView",
    "HistogramBar",
    "JoinRequestView",
    "JoinWithInvite",
    "LeaveGroup",
    "LinkCancelled",
    "LinkDevice",
    "LinkNotAnswered",
    "ListCases",
    "ListDevices",
    "ListDocuments",
    "ListPins",
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
    "PinMessage",
    "PinView",
    "ProfileView",
    "PublishDocument",
    "Queries",
    "RankedChoice",
    "React",
    "RejectJoin",
    "RelayError",
    "RelayUnavailable",
    "RemoveDevice",
    "RemoveMember",
    "RenameGroup",
    "ReplyTo",
    "RetryMessage",
    "RunoffRound",
    "SaveAttachment",
    "SaveAttachmentTracked",
    "SendAnyway",
    "SendFiles",
    "SendFilesTracked",
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
    "Transfer",
    "TransferCancelled",
    "TransferProgress",
    "VerifiedMark",
    "VoteReceipt",
    "WeakPassphrase",
    "WrongPassphrase",
    "YesNoChoice",
    "change_passphrase",
    "check_new_passphrase",
    "create_profile",
    "create_profile_with_key",
    "image_kind",
    "invite_relay_url",
    "is_invite_code",
    "kind_from_name",
    "link_code_relay_url",
    "link_new_profile",
    "open_with_key",
    "parse_message_id",
    "previewable",
    "profile_exists",
    "safety_number",
    "unlock_with_key",
    "verify_file",
    "wall_clock_ms",
]
__all__ += [  # union tools (docs/union-tools.md)
    "MAX_CLIENT_NAME",
    "MAX_COMMENT",
    "MAX_ROLE",
    "UNITS",
    "ClientFigures",
    "ClientLine",
    "ExportRatesCsv",
    "RateCell",
    "RateLine",
    "RatesBoard",
    "ReportClient",
    "ReportReceipt",
    "SetReportsThreshold",
    "ShowClients",
    "ShowRates",
    "SubmitRate",
]
__all__ += [
    "BackUpIfDue",
    "BackUpNow",
    "BackupMade",
    "BackupSchedule",
    "BackupSettings",
    "BackupStatus",
    "ConfigureBackups",
    "RestoreResult",
    "Schedule",
    "check_restore_target",
    "create_backup",
    "read_recovery_words",
    "restore_backup",
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
