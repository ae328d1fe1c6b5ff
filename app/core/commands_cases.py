"""Typed commands for dispute cases (docs/union-tools.md "Dispute cases"), as
``app.core.commands`` has them for everything else: frozen values whose ``run`` is the
only code that touches the engine."""

from __future__ import annotations

from dataclasses import dataclass

from app.core.case_views import CaseDetail, CaseView
from app.core.commands import Command
from app.core.engine import Engine
from crypto.case import CaseStatus, Sharing

__all__ = ["CaseTimeline", "ListCases", "OpenCase", "SetCaseStatus", "ShareCase"]


@dataclass(frozen=True)
class OpenCase(Command[bytes]):
    """Returns the case id (the id of the case's own group)."""

    group_id: bytes
    title: str
    sharing: Sharing = Sharing.NONE

    async def run(self, engine: Engine) -> bytes:
        return await engine.cases.open(self.group_id, self.title, sharing=self.sharing)


@dataclass(frozen=True)
class ListCases(Command[list[CaseView]]):
    """The cases of one group this profile can see (all of them with ``None``)."""

    group_id: bytes | None = None

    async def run(self, engine: Engine) -> list[CaseView]:
        return engine.cases.list_cases(self.group_id)


@dataclass(frozen=True)
class SetCaseStatus(Command[CaseView]):
    case_id: bytes
    status: CaseStatus
    note: str = ""

    async def run(self, engine: Engine) -> CaseView:
        return await engine.cases.set_status(self.case_id, self.status, self.note)


@dataclass(frozen=True)
class ShareCase(Command[CaseView]):
    """The opener lets the group see status lines (``Sharing.NONE``: stops)."""

    case_id: bytes
    sharing: Sharing

    async def run(self, engine: Engine) -> CaseView:
        return await engine.cases.share(self.case_id, self.sharing)


@dataclass(frozen=True)
class CaseTimeline(Command[CaseDetail]):
    case_id: bytes

    async def run(self, engine: Engine) -> CaseDetail:
        return engine.cases.detail(self.case_id)
