"""The relay's error answers: one exception type, one table from code to HTTP status.

Logic and storage raise ``RelayError(code, detail)``; only ``relay/http.py`` turns it into
``{"error": code, "detail": text}`` with the status below.  Details never contain
identifiers, capabilities or bodies, so they are safe to log as well as to send.
"""

from __future__ import annotations

__all__ = ["STATUS", "RelayError"]

STATUS: dict[str, int] = {
    "bad_request": 400,
    "forbidden": 403,
    "stale_auth": 403,
    "not_found": 404,
    "missing": 404,
    "method_not_allowed": 405,
    "timeout": 408,
    "exists": 409,
    "stale_epoch": 409,
    "head_mismatch": 409,
    "epoch_ended": 410,
    "too_large": 413,
    "rate_limited": 429,
    "work_required": 429,
    "internal": 500,
    "busy": 503,
    "unavailable": 503,
    "quota_exceeded": 507,
    "storage_full": 507,
}


class RelayError(Exception):
    """A request the relay refuses; ``code`` is a key of ``STATUS``."""

    def __init__(
        self,
        code: str,
        detail: str,
        *,
        extra: dict[str, object] | None = None,
        retry_after: int | None = None,
    ) -> None:
        if code not in STATUS:
            raise ValueError(f"unknown relay error code {code!r}")
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail
        self.extra = extra or {}
        self.retry_after = retry_after

    @property
    def status(self) -> int:
        return STATUS[self.code]
