"""Dispute cases end to end (docs/union-tools.md "Dispute cases"): three real profiles
(an organizer, the member who opens a case, another member) and a fourth organizer who
arrives later, against the real relay app in-process with every byte recorded."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from app.core.engine import Engine
from app.core.errors import ClientError, NotPermittedHere
from app.core.store import groups as group_store
from crypto.case import (
    CaseLine,
    CaseRecord,
    CaseStatus,
    CaseStatusChange,
    Sharing,
    case_tag,
)
from crypto.group_log import Role
from tests.core.harness import (
    Clock,
    RecordingTransport,
    Traffic,
    befriend,
    make_engine,
    make_relay,
    run,
    sync_all,
)

TITLE = "Canary-Case-Title-3e1f"
EVIDENCE = "CANARY-EVIDENCE-8b2c: invoice 17 unpaid since March"
NOTE = "Canary-Note-a9d0 meeting with the client"


class World:
    def __init__(self, tmp_path: Path) -> None:
        self.clock = Clock()
        relay_dir = tmp_path / "relay"
        relay_dir.mkdir()
        self.relay_dir = relay_dir
        self.app = make_relay(relay_dir, self.clock)
        self.traffic = Traffic()
        transport = RecordingTransport(httpx.ASGITransport(app=self.app), self.traffic)
        self.organizer, self.opener, self.other, self.late = (
            make_engine(tmp_path, name, transport, self.clock, display_name=name.capitalize())
            for name in ("olga", "mona", "theo", "lena")
        )

    @property
    def engines(self) -> tuple[Engine, ...]:
        return (self.organizer, self.opener, self.other, self.late)

    def relay_bytes(self) -> bytes:
        stored = b"".join(p.read_bytes() for p in self.relay_dir.rglob("*") if p.is_file())
        return stored + self.traffic.blob()


@pytest.fixture
def world(tmp_path: Path):
    world = World(tmp_path)
    yield world
    for engine in world.engines:
        run(engine.close())
    world.app.close()


async def _group(world: World) -> bytes:
    group_id = await world.organizer.create_group("Freelancers")
    await befriend(world.organizer, group_id, world.opener, world.other)
    await sync_all(world.organizer, world.opener, world.other)  # the organizer's case inbox
    return group_id


async def _open_case(world: World, group_id: bytes, sharing: Sharing = Sharing.NONE) -> bytes:
    case_id = await world.opener.cases.open(group_id, TITLE, sharing=sharing)
    # The organizer reads the invitation and asks to join; the opener admits; the
    # organizer takes the welcome; the opener sends the record again for the newcomer.
    await sync_all(world.organizer, world.opener, world.organizer, world.opener)
    await sync_all(world.organizer)
    return case_id


def test_a_case_reaches_the_organizers_and_nobody_else(world: World) -> None:
    async def scenario() -> None:
        group_id = await _group(world)
        case_id = await _open_case(world, group_id)

        seen = world.organizer.cases.list_cases(group_id)
        assert [(c.case_id, c.title, c.status, c.joined) for c in seen] == [
            (case_id, TITLE, "open", True)
        ]
        assert seen[0].can_change_status
        assert (
            world.organizer.session(case_id).state.role_of(world.organizer.identity.public_key)
            == Role.ORGANIZER
        )

        await world.opener.send_text(case_id, EVIDENCE)
        await world.organizer.cases.set_status(case_id, CaseStatus.NEGOTIATING, NOTE)
        await sync_all(world.opener, world.other, world.organizer)

        assert world.opener.cases.view(case_id).status == "negotiating"
        detail = world.organizer.cases.detail(case_id)
        texts = [m.text for m in detail.timeline]
        assert EVIDENCE in texts
        assert f"Status changed to negotiating: {NOTE}" in texts

        # The other member: no case, no case group, no keys, no line in the parent.
        other = world.other
        assert other.cases.list_cases() == []
        assert case_id not in other.group_ids()
        assert group_store.load_group(other.db, case_id) is None
        parent_texts = [m.text for m in other.messages(group_id)]
        assert not any("case is now" in t or TITLE in t for t in parent_texts)
        # The relay (storage and every byte of traffic) never saw the case in the clear.
        recorded = world.relay_bytes()
        for canary in (TITLE, EVIDENCE, NOTE, "Canary-Note-a9d0"):
            assert canary.encode() not in recorded

    run(scenario())


def test_a_shared_case_posts_a_status_line_without_names(world: World) -> None:
    async def scenario() -> None:
        group_id = await _group(world)
        case_id = await _open_case(world, group_id)
        await sync_all(world.other)
        assert not [
            m
            for m in world.other.messages(group_id)
            if "case" in m.text.lower() and "now" in m.text
        ]

        await world.opener.cases.share(case_id, Sharing.STATUS)
        await sync_all(world.organizer, world.other)
        lines = [m for m in world.other.messages(group_id) if "case is now" in m.text]
        assert [m.text for m in lines] == ["A case is now open"]
        assert lines[0].sender_name == "Olga"  # the organizer posts it, not the opener
        assert TITLE not in lines[0].text

        await world.opener.cases.set_status(case_id, CaseStatus.RESOLVED, "paid")
        await sync_all(world.organizer, world.other)
        texts = [m.text for m in world.other.messages(group_id) if "case is now" in m.text]
        assert texts == ["A case is now open", "A case is now resolved"]

        await world.opener.cases.share(case_id, Sharing.STATUS_AND_TITLE)
        await world.opener.cases.set_status(case_id, CaseStatus.OPEN, "reopened")
        await sync_all(world.organizer, world.other)
        last = [m.text for m in world.other.messages(group_id) if "is now" in m.text][-1]
        assert last == f"Case \u201c{TITLE}\u201d is now open"

    run(scenario())


def test_a_case_shared_from_the_start_posts_its_open_line(world: World) -> None:
    async def scenario() -> None:
        group_id = await _group(world)
        await _open_case(world, group_id, Sharing.STATUS)
        await sync_all(world.organizer, world.other)
        lines = [m.text for m in world.other.messages(group_id) if "case is now" in m.text]
        assert lines == ["A case is now open"]

    run(scenario())


def test_status_changes_follow_the_table_at_every_client(world: World) -> None:
    async def scenario() -> None:
        group_id = await _group(world)
        case_id = await _open_case(world, group_id)
        with pytest.raises(ClientError, match="cannot go from open to open"):
            await world.opener.cases.set_status(case_id, CaseStatus.OPEN)
        await world.opener.cases.set_status(case_id, CaseStatus.RESOLVED)
        # A change sent around the client's own check: from a status the case is not in.
        stale = CaseStatusChange(CaseStatus.OPEN, CaseStatus.NEGOTIATING, "stale")
        await world.organizer.send_content(
            case_id, stale.content_type, stale.encode(), "stale change"
        )
        await sync_all(world.opener, world.organizer)
        for engine in (world.opener, world.organizer):
            assert engine.cases.view(case_id).status == "resolved"
        texts = [m.text for m in world.opener.messages(case_id)]
        assert "stale change" not in texts
        # Not a case member at all: nothing to change.
        with pytest.raises(ClientError):
            await world.other.cases.set_status(case_id, CaseStatus.OPEN)

    run(scenario())


def test_only_the_opener_shares_and_a_line_from_a_member_is_refused(world: World) -> None:
    async def scenario() -> None:
        group_id = await _group(world)
        case_id = await _open_case(world, group_id)
        with pytest.raises(NotPermittedHere):
            await world.organizer.cases.share(case_id, Sharing.STATUS)
        # A member (not an organizer) posting a status line in the parent: refused.
        fake = CaseLine(case_tag(case_id), CaseStatus.RESOLVED)
        await world.other.send_content(group_id, fake.content_type, fake.encode(), fake.shown())
        await sync_all(world.opener, world.organizer)
        for engine in (world.opener, world.organizer):
            assert not [m for m in engine.messages(group_id) if "case is now" in m.text]
        # A case record in a group that is no case (here by the parent's own creator)
        # makes no case of it anywhere.
        record = CaseRecord(case_id, "not a case", CaseStatus.OPEN, Sharing.STATUS)
        await world.organizer.send_content(group_id, record.content_type, record.encode(), "x")
        await sync_all(world.opener, world.other, world.organizer)
        for engine in world.engines[:3]:
            assert group_id not in [c.case_id for c in engine.cases.list_cases()]

    run(scenario())


def test_an_organizer_promoted_later_is_invited_by_the_openers_client(world: World) -> None:
    async def scenario() -> None:
        group_id = await _group(world)
        case_id = await _open_case(world, group_id)
        await befriend(world.organizer, group_id, world.late)
        await world.organizer.set_role(group_id, world.late.fingerprint, Role.ORGANIZER)
        # The new organizer announces its inbox; the opener's client invites it.
        await sync_all(world.late, world.opener, world.late, world.opener, world.late)
        assert case_id in world.late.group_ids()
        await sync_all(world.opener, world.late)
        view = world.late.cases.view(case_id)
        assert (view.title, view.status, view.members) == (TITLE, "open", 3)

    run(scenario())


def test_a_member_who_joined_after_the_announcement_still_reaches_the_organizer(
    world: World,
) -> None:
    async def scenario() -> None:
        group_id = await world.organizer.create_group("Freelancers")
        await world.organizer.sync()  # announced while the organizer is alone
        await befriend(world.organizer, group_id, world.opener)
        await sync_all(world.organizer, world.opener)  # announced again to the new roster
        case_id = await _open_case(world, group_id)
        assert world.organizer.cases.view(case_id).joined
        # The announcement is upkeep, not conversation: nobody's chat lists it.
        for engine in (world.organizer, world.opener):
            assert not [m for m in engine.messages(group_id) if "dispute" in m.text]

    run(scenario())


def test_a_joiner_is_not_warned_about_messages_sent_before_it_joined(world: World) -> None:
    """Organizers now speak (case inbox announcements) before later members join; the
    first message a joiner sees from them follows ones it could never see."""

    async def scenario() -> None:
        group_id = await _group(world)
        await world.organizer.send_text(group_id, "before the late member")
        await befriend(world.organizer, group_id, world.late)
        await world.organizer.send_text(group_id, "after")
        await world.opener.send_text(group_id, "hello")
        await sync_all(world.late)
        assert world.late.db.all("SELECT detail FROM warnings") == []
        said = [m for m in world.late.messages(group_id) if m.kind == "text"]
        assert [(m.text, m.warning) for m in said] == [("after", None), ("hello", None)]

    run(scenario())
