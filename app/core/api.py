"""The engine's public face for the desktop app: every name a view may use.

``app/qt`` imports from here (and from ``app.core.events``) only; tests/test_layering.py
enforces it. Everything is a typed value — commands, view values, events, errors and the
few protocol limits and vote shapes a form needs — so no view touches the engine's parts,
its database handles with secrets, ``crypto`` or the relay.
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
from app.core.ballot_views import BallotView, VoteReceipt
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
    ExportDocument,
    JoinWithInvite,
    ListDocuments,
    MarkRead,
    PublishDocument,
    RejectJoin,
    RemoveMember,
    RetryMessage,
    SendText,
    SetMemberRole,
    SetVerified,
    SyncNow,
)
from app.core.document_views import DocumentVersionView, DocumentView, ExportedDocument
from app.core.errors import ClientError, RelayError, RelayUnavailable, WrongPassphrase
from app.core.views import (
    DEFAULT_CHANNEL,
    ChannelView,
    GroupView,
    JoinRequestView,
    MemberRole,
    MemberView,
    MessageView,
    ProfileView,
)
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
from crypto.document.announce import MAX_NOTE_BYTES, MAX_TITLE_BYTES
from crypto.document.stream import MAX_DOCUMENT_SIZE
from crypto.errors import CaucusError
from crypto.identity import safety_number
from crypto.invite import InviteCode

__all__ = [
    "DEFAULT_CHANNEL",
    "MAX_BINS",
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
    "BallotKind",
    "BallotResultView",
    "BallotResults",
    "BallotView",
    "CancelBallot",
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
    "DocumentVersionView",
    "DocumentView",
    "ExportDocument",
    "ExportedDocument",
    "GroupView",
    "HistogramBar",
    "JoinRequestView",
    "JoinWithInvite",
    "ListDocuments",
    "MarkRead",
    "MemberRole",
    "MemberView",
    "MessageView",
    "MyVoteCheck",
    "NumericChoice",
    "NumericResult",
    "OptionCount",
    "ProfileView",
    "PublishDocument",
    "RankedChoice",
    "RejectJoin",
    "RelayError",
    "RelayUnavailable",
    "RemoveMember",
    "RetryMessage",
    "RunoffRound",
    "SendText",
    "SetMemberRole",
    "SetVerified",
    "SingleChoice",
    "SyncNow",
    "VoteReceipt",
    "WrongPassphrase",
    "YesNoChoice",
    "is_invite_code",
    "safety_number",
]


def is_invite_code(text: str) -> bool:
    """Whether ``text`` parses as a ``caucus://join#…`` invite code."""
    try:
        InviteCode.parse(text.strip())
    except CaucusError:
        return False
    return True
