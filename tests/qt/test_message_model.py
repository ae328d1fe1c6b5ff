"""The message list reads lazily from the GUI's own connection: a channel with many
messages opens with one page, older pages come when the top is in sight."""

from __future__ import annotations

import dataclasses
import os
import time

from PySide6.QtCore import Qt

from app.core.profile import create_profile, open_with_key, unlock_with_key
from app.core.queries import Queries
from app.core.views import DEFAULT_CHANNEL, MemberView, MessageView
from app.qt.chat_view import ChatView
from app.qt.composer import Composer
from app.qt.message_model import PAGE, MessageModel, Roles, day_label
from app.qt.verification import Trust, VerificationStore

DAY_MS = 24 * 3600 * 1000


def _profile_with_messages(home, count: int) -> tuple[Queries, bytes]:  # type: ignore[no-untyped-def]
    db = create_profile(
        home, name="Reader", relay_url="http://127.0.0.1:9", passphrase="pw",
        rng=os.urandom, now=int(time.time() * 1000), cost="interactive",
    )  # fmt: skip
    group_id = os.urandom(16)
    now = int(time.time() * 1000)
    pk = os.urandom(32)
    rows = [
        (group_id, DEFAULT_CHANNEL, os.urandom(16), pk, "Ana", now - (count - i) * DAY_MS // 10,
         now, 1, b"", f"message {i}", "received")
        for i in range(count)
    ]  # fmt: skip
    with db.transaction():
        db.executemany(
            "INSERT INTO messages (group_id, channel_id, message_id, sender_pk, sender_name,"
            " sent_at, received_at, content_type, body, text, status)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    db.close()
    reader_db, _key = unlock_with_key(home, "pw")
    return Queries.reader(reader_db), group_id


def test_opens_with_the_newest_page_and_reads_older_on_demand(qtbot, tmp_path) -> None:  # type: ignore[no-untyped-def]
    reader, group_id = _profile_with_messages(tmp_path / "p", 1000)
    view = ChatView()
    qtbot.addWidget(view)
    model = MessageModel()
    view.set_message_model(model)
    view.resize(600, 500)
    view.show()
    model.set_source(reader, group_id)
    assert model.rowCount() == PAGE
    assert model.index(PAGE - 1).data() == "message 999"
    bar = view.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0 and bar.value() == bar.maximum())
    assert model.rowCount() == PAGE  # scrolled to the bottom: nothing more was read

    bar.setValue(0)
    qtbot.waitUntil(lambda: model.rowCount() > PAGE)
    # The reader keeps their place: the row they looked at stays in view.
    qtbot.waitUntil(lambda: bar.value() > view.viewport().height())
    assert model.index(0).data() == f"message {1000 - model.rowCount()}"

    index = model.ensure_loaded(model.message_at(0).row_id - 500)  # type: ignore[union-attr]
    assert index.isValid() and model.rowCount() >= 600
    first_of_day = [r for r in range(model.rowCount()) if model.index(r).data(Roles.SHOW_DAY)]
    assert first_of_day[0] == 0 and len(first_of_day) > 10  # one separator per day
    assert model.index(first_of_day[-1]).data(Roles.DAY_TEXT) == day_label(
        model.message_at(first_of_day[-1]).sent_at  # type: ignore[union-attr]
    )
    reader.db.close()


def test_key_change_is_flagged() -> None:
    store = VerificationStore()
    bob = MemberView("Bob", "ab" * 32, "member", b"\x01" * 32, False)
    impostor = MemberView("Bob", "cd" * 32, "member", b"\x02" * 32, False)
    assert store.trust(bob) is Trust.UNVERIFIED
    store.mark_verified(bob)
    assert store.trust(bob) is Trust.VERIFIED
    assert store.trust(impostor) is Trust.CHANGED
    # Bob links a laptop: same key, another safety number, so the mark no longer holds
    # until the numbers are compared again.
    bob_with_laptop = dataclasses.replace(bob, devices=b"\x07" * 32)
    assert store.trust(bob_with_laptop) is Trust.CHANGED
    store.mark_verified(bob_with_laptop)
    assert store.trust(bob_with_laptop) is Trust.VERIFIED
    assert store.trust(bob) is Trust.CHANGED  # and removing it changes the number again
    store.clear(bob)
    assert store.trust(impostor) is Trust.UNVERIFIED


def test_second_connection_sees_writes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    reader, group_id = _profile_with_messages(tmp_path / "p", 3)
    db, key = unlock_with_key(tmp_path / "p", "pw")
    other = Queries.reader(open_with_key(tmp_path / "p", key))
    assert other.message_count(group_id) == reader.message_count(group_id) == 3
    for conn in (db, other.db, reader.db):
        conn.close()


def _mine(row_id: int, text: str, status: str) -> MessageView:
    return MessageView(
        row_id=row_id, group_id=b"g" * 16, channel_id=DEFAULT_CHANNEL, message_id=None,
        sender_name="Me", sender_fingerprint="ab" * 32, text=text,
        sent_at=int(time.time() * 1000), status=status, warning=None, is_mine=True,
    )  # fmt: skip


def test_failed_message_offers_retry(qtbot) -> None:  # type: ignore[no-untyped-def]
    view = ChatView()
    qtbot.addWidget(view)
    model = MessageModel()
    view.set_message_model(model)
    view.resize(600, 400)
    view.show()
    model.set_source(None, b"g" * 16)
    model.add(_mine(1, "first", "sent"))
    model.add(_mine(2, "second", "failed"))
    assert [model.index(r).data(Roles.STATUS_TEXT) for r in range(2)] == [
        "Sent",
        "Not sent · Retry",
    ]
    index = model.index(1)
    qtbot.waitUntil(lambda: view.visualRect(index).height() > 0)
    status = view._delegate._layout(index).status  # where "Retry" is painted
    target = status.center() + view.visualRect(index).topLeft()
    with qtbot.waitSignal(view.retry_requested) as signal:
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=target)
    assert signal.args == [2]
    model.set_status(2, "pending")
    assert model.index(1).data(Roles.STATUS_TEXT) == "Waiting to send"


def test_enter_sends_shift_enter_adds_a_line(qtbot) -> None:  # type: ignore[no-untyped-def]
    composer = Composer()
    qtbot.addWidget(composer)
    sent: list[str] = []
    composer.send_requested.connect(sent.append)
    qtbot.keyClicks(composer.edit, "first line")
    qtbot.keyClick(composer.edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(composer.edit, "second line")
    assert sent == []
    qtbot.keyClick(composer.edit, Qt.Key.Key_Return)
    assert sent == ["first line\nsecond line"]


def test_day_lines_never_go_back_when_a_senders_clock_is_behind(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Rows are in arrival order; a message whose sender's clock is three days behind
    stays under today's line (its own date beside its time) instead of opening a line
    for three days ago between two lines for today."""
    import datetime as dt

    home = tmp_path / "p"
    db = create_profile(
        home, name="Reader", relay_url="http://127.0.0.1:9", passphrase="pw",
        rng=os.urandom, now=int(time.time() * 1000), cost="interactive",
    )  # fmt: skip
    midnight = dt.datetime.combine(dt.date.today(), dt.time())

    def at(days: int, hour: int, minute: int = 0) -> int:
        moment = midnight + dt.timedelta(days=days, hours=hour, minutes=minute)
        return int(moment.timestamp() * 1000)

    group_id, pk = os.urandom(16), os.urandom(32)
    sent = [at(-1, 18), at(0, 9), at(-3, 10), at(0, 9, 10)]
    with db.transaction():
        db.executemany(
            "INSERT INTO messages (group_id, channel_id, message_id, sender_pk, sender_name,"
            " sent_at, received_at, content_type, body, text, status)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (group_id, DEFAULT_CHANNEL, os.urandom(16), pk, "Ana", ms, ms, 1, b"",
                 f"message {i}", "received")
                for i, ms in enumerate(sent)
            ],
        )  # fmt: skip
    db.close()
    reader_db, _key = unlock_with_key(home, "pw")
    model = MessageModel()
    model.set_source(Queries.reader(reader_db), group_id)
    starts = [r for r in range(4) if model.index(r).data(Roles.SHOW_DAY)]
    assert starts == [0, 1]
    assert [model.index(r).data(Roles.DAY_TEXT) for r in starts] == ["Yesterday", "Today"]
    assert model.index(2).data(Roles.DAY_TEXT) == "Today"
    skewed = (midnight - dt.timedelta(days=3)).date()
    assert model.index(2).data(Roles.TIME_TEXT) == (
        f"{skewed.strftime('%a')} {skewed.day} {skewed.strftime('%b')}, 10:00"
    )
    assert model.index(3).data(Roles.TIME_TEXT) == "09:10"
    reader_db.close()
