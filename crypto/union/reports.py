"""Anonymous rate and client reports: their bytes, their ring signature, their check.

A report is signed with the member's ballot key over the ring of the group's registered
ballot keys at a stated log position (``crypto/ballot/blsag.py``), with a key image
scoped to what may hold only one report per member: ``(group, "rates", period)`` for a
rate report, ``(group, "client", normalised client name)`` for a client report. Two
reports by one member in one scope carry the same key image; across scopes they are
unlinkable (docs/union-tools.md section 3)::

    u8 content_type (48 rate | 52 client) | u8 version = 1
    | bytes1280 body = u16 len | fields | zeros       (every report: the same size)
    | var(131141) ring signature

    fields = bytes16 group_id | u64 log_seq | u32 revision | str(128) scope
             | rate:   str(64) role | str(32) seniority | str(17) rate | bytes3 currency
                       | u8 unit | str(64) region
             | client: u32 paid_late_days | u8 scope_creep | u8 again | str(1000) comment

The signature signs ``H("union-report", u8 content_type, body)``; the key-image scope is
``H("union-rate-scope" | "union-client-scope", group_id, scope)``. Fields are checked
strictly (``crypto/union/fields.py``); the scope is the period (``2026-Q4``) or the
normalised client name, so equal names always mean the same scope.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from enum import IntEnum
from typing import Final

from crypto import kdf
from crypto.ballot.blsag import MAX_RING_SIZE, Ring, RingSignature, sign, verify
from crypto.ballot.keys import BallotKeyPair
from crypto.errors import MalformedData, TooLarge, UnsupportedVersion, UsageError
from crypto.union.fields import (
    MAX_AMOUNT_TEXT,
    MAX_CLIENT_NAME,
    MAX_COMMENT,
    MAX_LATE_DAYS,
    MAX_REGION,
    MAX_ROLE,
    MAX_SENIORITY,
    check_comment,
    check_currency,
    normalise_name,
    parse_amount,
    parse_period,
)
from crypto.wire import Reader, Writer

__all__ = [
    "BODY_SIZE",
    "CONTENT_TYPE_CLIENT_REPORT",
    "CONTENT_TYPE_RATE_REPORT",
    "CONTENT_TYPE_THRESHOLD",
    "DEFAULT_K",
    "MIN_K",
    "REPORT_VERSION",
    "ClientReport",
    "RateReport",
    "RateUnit",
    "Report",
    "SignedReport",
    "ThresholdSetting",
    "is_report",
    "open_report",
    "report_hash",
    "scope_digest",
    "sign_report",
]

CONTENT_TYPE_RATE_REPORT: Final = 48
"""An anonymous rate report (inside an anonymous item, never a signed message)."""
CONTENT_TYPE_THRESHOLD: Final = 49
"""The organizers' k threshold (a signed group message)."""
CONTENT_TYPE_CLIENT_REPORT: Final = 52
"""An anonymous client report (inside an anonymous item)."""

REPORT_VERSION: Final = 1
BODY_SIZE: Final = 1280
MAX_SCOPE: Final = 128
DEFAULT_K: Final = 5
MIN_K: Final = 3
MAX_K: Final = 1000

_U16 = struct.Struct(">H")
_REPORT_TYPES = (CONTENT_TYPE_RATE_REPORT, CONTENT_TYPE_CLIENT_REPORT)
_SCOPE_LABELS = {
    CONTENT_TYPE_RATE_REPORT: "union-rate-scope",
    CONTENT_TYPE_CLIENT_REPORT: "union-client-scope",
}


class RateUnit(IntEnum):
    """What a rate is paid per."""

    HOUR = 1
    DAY = 2
    PROJECT = 3


@dataclass(frozen=True)
class RateReport:
    """What a member reports about their rate; every field checked on construction."""

    period: str
    role: str
    rate: str
    currency: str
    unit: RateUnit
    seniority: str = ""
    region: str = ""

    def __post_init__(self) -> None:
        parse_period(self.period)
        if normalise_name(self.role, MAX_ROLE, "role") != self.role:
            raise MalformedData("the role is not in its normalised form")
        parse_amount(self.rate)
        check_currency(self.currency)
        for value, limit, what in (
            (self.seniority, MAX_SENIORITY, "seniority"),
            (self.region, MAX_REGION, "region"),
        ):
            if value and normalise_name(value, limit, what) != value:
                raise MalformedData(f"the {what} is not in its normalised form")

    @property
    def amount(self) -> Decimal:
        return Decimal(self.rate)

    @property
    def content_type(self) -> int:
        return CONTENT_TYPE_RATE_REPORT

    @property
    def scope(self) -> str:
        return self.period

    def encode_fields(self) -> bytes:
        return bytes(
            Writer()
            .text(self.role, MAX_ROLE)
            .text(self.seniority, MAX_SENIORITY)
            .text(self.rate, MAX_AMOUNT_TEXT)
            .fixed(self.currency.encode("ascii"), 3)
            .u8(int(self.unit))
            .text(self.region, MAX_REGION)
        )

    @classmethod
    def decode_fields(cls, scope: str, reader: Reader) -> RateReport:
        role = reader.text(MAX_ROLE)
        seniority = reader.text(MAX_SENIORITY)
        rate = reader.text(MAX_AMOUNT_TEXT)
        try:
            currency = reader.fixed(3).decode("ascii")
        except UnicodeDecodeError:
            raise MalformedData("the currency is not ASCII") from None
        try:
            unit = RateUnit(reader.u8())
        except ValueError:
            raise MalformedData("unknown rate unit") from None
        region = reader.text(MAX_REGION)
        return cls(scope, role, rate, currency, unit, seniority, region)


@dataclass(frozen=True)
class ClientReport:
    """What a member reports about a client (the name normalised)."""

    client: str
    paid_late_days: int
    scope_creep: bool
    again: bool
    comment: str = ""

    def __post_init__(self) -> None:
        if normalise_name(self.client, MAX_CLIENT_NAME, "client name") != self.client:
            raise MalformedData("the client name is not in its normalised form")
        if not 0 <= self.paid_late_days <= MAX_LATE_DAYS:
            raise MalformedData(f"days late must be from 0 to {MAX_LATE_DAYS}")
        check_comment(self.comment)

    @property
    def content_type(self) -> int:
        return CONTENT_TYPE_CLIENT_REPORT

    @property
    def scope(self) -> str:
        return self.client

    def encode_fields(self) -> bytes:
        return bytes(
            Writer()
            .u32(self.paid_late_days)
            .u8(int(self.scope_creep))
            .u8(int(self.again))
            .text(self.comment, MAX_COMMENT)
        )

    @classmethod
    def decode_fields(cls, scope: str, reader: Reader) -> ClientReport:
        late = reader.u32()
        flags = reader.u8(), reader.u8()
        if any(flag > 1 for flag in flags):
            raise MalformedData("a yes/no field is neither 0 nor 1")
        comment = reader.text(MAX_COMMENT)
        return cls(scope, late, bool(flags[0]), bool(flags[1]), comment)


Report = RateReport | ClientReport


@dataclass(frozen=True)
class SignedReport:
    """A verified report: who can tell it from others only by its key image."""

    content_type: int
    group_id: bytes
    log_seq: int
    revision: int
    report: Report
    key_image: bytes
    report_hash: bytes


def scope_digest(content_type: int, group_id: bytes, scope: str) -> bytes:
    """The key-image scope: one report per member per period, or per client."""
    label = _SCOPE_LABELS.get(content_type)
    if label is None:
        raise UsageError(f"content type {content_type} is not a report")
    return kdf.digest(label, group_id, scope.encode("utf-8"))


def report_hash(data: bytes) -> bytes:
    """A report's id: duplicates (a relay's replay) are dropped by it."""
    return kdf.digest("union-report-hash", data)


def _body(group_id: bytes, log_seq: int, revision: int, report: Report) -> bytes:
    if len(group_id) != 16:
        raise UsageError("group id must be 16 bytes")
    head = Writer().fixed(group_id, 16).u64(log_seq).u32(revision).text(report.scope, MAX_SCOPE)
    fields = bytes(head) + report.encode_fields()
    if len(fields) + _U16.size > BODY_SIZE:
        raise TooLarge("the report's fields do not fit its fixed size")
    return _U16.pack(len(fields)) + fields + bytes(BODY_SIZE - _U16.size - len(fields))


def _message(content_type: int, body: bytes) -> bytes:
    return kdf.digest("union-report", bytes((content_type,)), body)


def sign_report(
    report: Report,
    group_id: bytes,
    log_seq: int,
    revision: int,
    ring: Ring,
    keypair: BallotKeyPair,
    rng: Callable[[int], bytes],
) -> bytes:
    """The report's bytes, ring-signed by ``keypair`` (which must be in ``ring``)."""
    body = _body(group_id, log_seq, revision, report)
    content_type = report.content_type
    signature = sign(
        _message(content_type, body),
        ring,
        ring.index(keypair.public),
        keypair.secret,
        scope_digest(content_type, group_id, report.scope),
        rng,
    )
    return bytes(
        Writer()
        .u8(content_type)
        .u8(REPORT_VERSION)
        .fixed(body, BODY_SIZE)
        .var(signature.encode(), 1 + 32 + 32 + 4 + 32 * MAX_RING_SIZE)
    )


def is_report(payload: bytes) -> bool:
    """Whether an anonymous item's payload is a report rather than a ballot vote (votes
    start with their version, 1; reports with their content type, 48 or 52)."""
    return bool(payload) and payload[0] in _REPORT_TYPES


def _decode_body(content_type: int, body: bytes) -> tuple[bytes, int, int, Report]:
    (length,) = _U16.unpack_from(body)
    if length > BODY_SIZE - _U16.size or any(body[_U16.size + length :]):
        raise MalformedData("report padding is not zeros")
    reader = Reader(body[_U16.size : _U16.size + length])
    group_id = reader.fixed(16)
    log_seq = reader.u64()
    revision = reader.u32()
    scope = reader.text(MAX_SCOPE)
    report: Report
    if content_type == CONTENT_TYPE_RATE_REPORT:
        report = RateReport.decode_fields(scope, reader)
    else:
        report = ClientReport.decode_fields(scope, reader)
    reader.finish()
    return group_id, log_seq, revision, report


def open_report(data: bytes, ring: Ring) -> SignedReport:
    """Parse strictly and verify the ring signature against ``ring``.

    ``MalformedData`` (or ``UnsupportedVersion``, ``TooLarge``) for bad bytes or fields,
    ``BadSignature`` when no member of ``ring`` signed it. The caller checks the group
    and that ``ring`` is the group's ring at ``log_seq``.
    """
    reader = Reader(data)
    content_type = reader.u8()
    if content_type not in _REPORT_TYPES:
        raise MalformedData(f"content type {content_type} is not a report")
    version = reader.u8()
    if version != REPORT_VERSION:
        raise UnsupportedVersion(f"report version {version}")
    body = reader.fixed(BODY_SIZE)
    signature = RingSignature.decode(reader.var(1 + 32 + 32 + 4 + 32 * MAX_RING_SIZE), len(ring))
    reader.finish()
    group_id, log_seq, revision, report = _decode_body(content_type, body)
    verify(
        _message(content_type, body),
        ring,
        scope_digest(content_type, group_id, report.scope),
        signature,
    )
    return SignedReport(
        content_type, group_id, log_seq, revision, report, signature.key_image, report_hash(data)
    )


@dataclass(frozen=True)
class ThresholdSetting:
    """Body of an organizer's k threshold message (49): ``u8 version=1 | u16 k``."""

    k: int

    def __post_init__(self) -> None:
        if not MIN_K <= self.k <= MAX_K:
            raise MalformedData(f"the threshold k must be from {MIN_K} to {MAX_K}")

    def encode(self) -> bytes:
        return bytes(Writer().u8(1).u16(self.k))

    @classmethod
    def decode(cls, data: bytes) -> ThresholdSetting:
        reader = Reader(data)
        version = reader.u8()
        if version != 1:
            raise UnsupportedVersion(f"threshold setting version {version}")
        k = reader.u16()
        reader.finish()
        return cls(k)
