"""First run: three doors. "Join with an invite" takes the relay from the invite code (or
the caucus:// link the app was opened with), so a new member types only a name and a
passphrase. "Start a union" asks for a relay address, or hosts one on this computer
(loopback by default; on the local network only when the person opts in). "Link to your
account on another computer" takes a ``caucus://link#…`` code from the member's first
device, a name for this computer and a passphrase, then waits while that computer answers
(docs/protocol.md 8.4)."""

from __future__ import annotations

import socket
from dataclasses import dataclass

from PySide6.QtCore import QEvent, Qt, QTime, Signal
from PySide6.QtGui import QTextOption
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.core.api import (
    ClientError,
    WeakPassphrase,
    check_new_passphrase,
    invite_relay_url,
    link_code_relay_url,
)
from app.qt.passphrase_hint import estimate
from app.qt.relay_reach import RelayReach, lan_address, reach_of
from app.qt.theme import app_icon
from app.qt.widgets import error_label, muted_label, primary_button, show_error

__all__ = ["FirstRunScreen", "NewLinkedDevice", "NewProfile", "is_link_code"]

BODY_MAX_WIDTH = 640


@dataclass(frozen=True)
class NewProfile:
    """What the person typed; the passphrase lives only as long as the creation job."""

    name: str
    passphrase: str
    relay_url: str
    embedded_relay: bool
    remember_key: bool
    embedded_on_lan: bool = False
    join_code: str | None = None  # sent with JoinWithInvite once the engine runs


@dataclass(frozen=True)
class NewLinkedDevice:
    """The link door's form: this computer becomes a device of the member who showed
    ``code`` on their first computer."""

    code: str
    device_name: str
    passphrase: str
    remember_key: bool


LINK_SCHEME = "caucus://link"
LINK_CODE_MINUTES = 10  # how long the first device answers a code (docs/protocol.md 8.4)


def is_link_code(text: str) -> bool:
    """Whether ``text`` is meant as a device link code (whole or not): the scheme says so."""
    return text.strip().lower().startswith(LINK_SCHEME)


def default_device_name() -> str:
    """This computer's host name, as the CLI's ``caucus device add`` names a device."""
    return socket.gethostname().strip()[:64] or "This computer"


class _ProfileFields(QWidget):
    """Display name, passphrase twice with a strength hint, and the keyring choice."""

    def __init__(
        self,
        keyring_available: bool,
        keyring_reason: str,
        *,
        name_label: str = "Display name",
        name_hint: str = "How other members see you",
        name_missing: str = "Enter the name other members will see.",
    ) -> None:
        super().__init__()
        self._name_label = name_label
        self._name_missing = name_missing
        self.name = QLineEdit()
        self.name.setAccessibleName(name_label)
        self.name.setPlaceholderText(name_hint)
        self.name.setMaxLength(64)
        self.passphrase = QLineEdit()
        self.passphrase.setAccessibleName("Passphrase")
        self.passphrase.setEchoMode(QLineEdit.EchoMode.Password)
        self.passphrase.setPlaceholderText("Several unrelated words")
        self.repeat = QLineEdit()
        self.repeat.setAccessibleName("Repeat passphrase")
        self.repeat.setEchoMode(QLineEdit.EchoMode.Password)
        self.strength_bar = QProgressBar()
        self.strength_bar.setRange(0, 4)
        self.strength_bar.setTextVisible(False)
        self.strength_bar.setFixedHeight(6)
        self.strength_bar.setAccessibleName("Passphrase strength")
        self.strength_bar.setObjectName("strength")
        self.strength = muted_label("")
        self.strength.setAccessibleName("Passphrase strength hint")
        # The strength floor's refusal, under the field it is about.
        self.floor = error_label()
        self.floor.setAccessibleName("Passphrase too weak")
        self.remember = QCheckBox("Remember the key in the system keyring")
        self.remember.setAccessibleName("Remember the database key in the system keyring")
        if keyring_available:
            self.remember.setToolTip(
                "Opens Caucus without the passphrase on this computer account. "
                "Locking still asks for the passphrase."
            )
        else:
            self.remember.setEnabled(False)
            self.remember.setToolTip(keyring_reason)
        self.passphrase.textChanged.connect(self._update_strength)
        self._update_strength("")

    def add_rows(self, form: QFormLayout) -> None:
        form.addRow(self._name_label, self.name)
        form.addRow("Passphrase", self.passphrase)
        strength_box = QVBoxLayout()
        strength_box.setSpacing(2)
        strength_box.addWidget(self.strength_bar)
        strength_box.addWidget(self.strength)
        strength_box.addWidget(self.floor)
        form.addRow("", strength_box)
        form.addRow("Repeat", self.repeat)

    def _update_strength(self, text: str) -> None:
        show_error(self.floor, None)
        strength = estimate(text)
        self.strength_bar.setValue(strength.score if text else 0)
        self.strength_bar.setProperty("score", str(strength.score))
        self.strength_bar.style().unpolish(self.strength_bar)
        self.strength_bar.style().polish(self.strength_bar)
        self.strength.setText(
            f"{strength.label}. {strength.advice}" if text else "Use four or more unrelated words."
        )

    def problem(self) -> tuple[str | None, QWidget] | None:
        """What is missing, and where to put the cursor; ``None`` when complete. A message
        of ``None`` is already shown under its field (a passphrase below the floor)."""
        if not self.name.text().strip():
            return self._name_missing, self.name
        if not self.passphrase.text():
            return "Choose a passphrase.", self.passphrase
        if self.passphrase.text() != self.repeat.text():
            return "The two passphrases are not the same.", self.repeat
        try:
            check_new_passphrase(self.passphrase.text(), (self.name.text().strip(),))
        except WeakPassphrase as exc:
            show_error(self.floor, _sentence(str(exc)))
            return None, self.passphrase
        return None

    def set_enabled(self, on: bool) -> None:
        for field in (self.name, self.passphrase, self.repeat):
            field.setEnabled(on)


def _sentence(message: str) -> str:
    """An engine message ("the passphrase is too weak …") as a sentence for a form."""
    return message[:1].upper() + message[1:] + "."


def _back_button() -> QPushButton:
    button = QPushButton("← Back")
    button.setAccessibleName("Back to the two choices")
    button.setFlat(True)
    return button


class FirstRunScreen(QWidget):
    """The window shown when no profile exists yet."""

    create_requested = Signal(object)  # NewProfile
    link_requested = Signal(object)  # NewLinkedDevice
    link_cancel_requested = Signal()  # "Cancel" while waiting for the other computer
    restore_requested = Signal()  # "Restore from a backup" (app/qt/backups.py)

    def __init__(
        self,
        *,
        embedded_preselected: bool,
        keyring_available: bool,
        keyring_reason: str,
        join_code: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("screen")
        self.setWindowTitle("Caucus — create your profile")
        self.setWindowIcon(app_icon())
        self._invite_relay: str | None = None

        title = QLabel("Welcome to Caucus")
        title.setObjectName("screenTitle")
        intro = muted_label(
            "Your profile stays on this computer, encrypted with your passphrase. "
            "Nobody can reset it for you: keep the passphrase somewhere safe."
        )

        self.pages = QStackedWidget()
        self.doors = self._doors_page()
        self.join_page = self._join_page(keyring_available, keyring_reason)
        self.start_page = self._start_page(keyring_available, keyring_reason)
        self.link_page = self._link_page(keyring_available, keyring_reason)
        self.waiting_page = self._waiting_page()
        for page in (
            self.doors,
            self.join_page,
            self.start_page,
            self.link_page,
            self.waiting_page,
        ):
            self.pages.addWidget(page)

        # A column of readable width, centred: on a wide window the buttons and lines of
        # text would otherwise stretch across the whole screen.
        body = QWidget()
        body.setMaximumWidth(BODY_MAX_WIDTH)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(12)
        layout.addWidget(title)
        layout.addWidget(intro)
        layout.addSpacing(6)
        layout.addWidget(self.pages, 1)
        outer = QHBoxLayout(self)
        outer.setContentsMargins(36, 32, 36, 28)
        outer.addStretch(1)
        outer.addWidget(body, 100)
        outer.addStretch(1)

        self.embedded.setChecked(embedded_preselected)
        if join_code:
            self.open_code(join_code)
        elif embedded_preselected:
            self.open_start()
        self.resize(600, 560)

    # -- the doors --------------------------------------------------------------------

    def _doors_page(self) -> QWidget:
        page = QWidget()
        self.join_door = primary_button("Join with an invite")
        self.join_door.setAccessibleName("Join a union with an invite")
        self.join_door.clicked.connect(lambda: self.open_join(""))
        self.start_door = QPushButton("Start a union")
        self.start_door.setAccessibleName("Start a new union")
        self.start_door.clicked.connect(self.open_start)
        for button in (self.join_door, self.start_door):
            button.setMinimumHeight(44)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addWidget(self.join_door)
        layout.addWidget(
            muted_label(
                "An organizer gave you an invite code or a caucus:// link. "
                "Everything else comes from the invite."
            )
        )
        layout.addSpacing(14)
        layout.addWidget(self.start_door)
        layout.addWidget(
            muted_label(
                "You organize: create your profile, then your union's group, and invite "
                "people. You need your union's server address, or you can host one on "
                "this computer."
            )
        )
        self.link_door = QPushButton("Link to your account on another computer")
        self.link_door.setAccessibleName("Link this computer to your account on another computer")
        self.link_door.setMinimumHeight(44)
        self.link_door.clicked.connect(lambda: self.open_link(""))
        layout.addSpacing(14)
        layout.addWidget(self.link_door)
        layout.addWidget(
            muted_label(
                "You already use Caucus on another computer: this one becomes a device of "
                "the same member, with your groups and recent history. Keep that computer "
                "at hand: it shows the link code."
            )
        )
        self.restore_door = QPushButton("Restore from a backup")
        self.restore_door.setAccessibleName("Restore your profile from a backup")
        self.restore_door.setFlat(True)
        self.restore_door.clicked.connect(self.restore_requested)
        layout.addSpacing(14)
        layout.addWidget(self.restore_door, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addStretch(1)
        return page

    def open_join(self, code: str) -> None:
        """Show the join door, with ``code`` filled in when there is one."""
        if code:
            self.invite_code.setPlainText(code.strip())
        self.pages.setCurrentWidget(self.join_page)
        (self.join_fields.name if code else self.invite_code).setFocus()

    def open_code(self, code: str) -> None:
        """A caucus:// code the app was handed: a link code opens the link door, anything
        else the join door (which says what is wrong with it)."""
        if is_link_code(code):
            self.open_link(code)
        else:
            self.open_join(code)

    def open_link(self, code: str, *, note: str = "") -> None:
        """Show the link door, with ``code`` filled in when there is one."""
        if code:
            self.link_code.setPlainText(code.strip())
        self.link_note.setText(note)
        self._link_form.setRowVisible(self.link_note, bool(note))
        self.pages.setCurrentWidget(self.link_page)
        self._fit_height()
        (self.link_fields.passphrase if code else self.link_code).setFocus()

    def _fit_height(self) -> None:
        """Grow the window to the page's height: the link page has more rows than the
        default size holds, and a squeezed form draws one row over the next."""
        hint = self.sizeHint().height()
        if self.height() < hint:
            self.resize(self.width(), hint)
        self._fit_wrapped()

    def event(self, event: QEvent) -> bool:
        """After any change of a row's size (a hint, note or error whose text now wraps
        onto more lines), grow as much as the page needs."""
        handled = super().event(event)
        if event.type() == QEvent.Type.LayoutRequest:
            self._fit_wrapped()
        return handled

    def _fit_wrapped(self) -> None:
        """Grow the window only as much as a note or hint on this page that now wraps onto
        more lines needs (Qt's minimum height does not count wrapped lines; the stack's
        own would count the tallest page, not this one)."""
        page = self.pages.currentWidget()
        if page is None or not page.hasHeightForWidth():
            return
        around = self.height() - self.pages.height()
        needed = around + page.heightForWidth(self.pages.width())
        if self.height() < needed:
            self.resize(self.width(), needed)

    def open_start(self) -> None:
        self.pages.setCurrentWidget(self.start_page)
        self.name.setFocus()

    def _back(self) -> None:
        show_error(self.error, None)
        show_error(self.join_error, None)
        show_error(self.link_error, None)
        self.pages.setCurrentWidget(self.doors)

    # -- join with an invite ----------------------------------------------------------

    def _join_page(self, keyring_available: bool, keyring_reason: str) -> QWidget:
        self.invite_code = QPlainTextEdit()
        self.invite_code.setAccessibleName("Invite code")
        self.invite_code.setPlaceholderText("Paste the invite: caucus://join#…")
        self.invite_code.setFixedHeight(64)
        self.invite_code.setTabChangesFocus(True)
        self.invite_code.textChanged.connect(self._invite_changed)
        self.invite_relay = muted_label("The server address comes from the invite.")
        self.invite_relay.setAccessibleName("Relay from the invite")
        self.join_fields = _ProfileFields(keyring_available, keyring_reason)
        self.join_error = error_label()
        self.join_button = primary_button("Create profile and ask to join")
        self.join_button.clicked.connect(self._submit_join)
        back = _back_button()
        back.clicked.connect(self._back)

        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.addRow("Invite", self.invite_code)
        form.addRow("", self.invite_relay)
        self.join_fields.add_rows(form)
        form.addRow("", self.join_fields.remember)
        for field in (self.join_fields.name, self.join_fields.passphrase, self.join_fields.repeat):
            field.returnPressed.connect(self._submit_join)
        return self._page(form, self.join_error, back, self.join_button)

    def _invite_changed(self) -> None:
        text = self.invite_code.toPlainText().strip()
        if is_link_code(text):
            # A link code pasted where the invite goes: this person wants the link door.
            self.invite_code.clear()
            self.open_link(
                text,
                note="That was a link code from your other computer, not an invite: "
                "it links this computer to your account there.",
            )
            return
        self._invite_relay = invite_relay_url(text) if text else None
        if not text:
            self.invite_relay.setText("The server address comes from the invite.")
        elif self._invite_relay is None:
            self.invite_relay.setText("This is not a whole invite code yet.")
        else:
            note = ""
            if reach_of(self._invite_relay) is RelayReach.LOOPBACK:
                note = (
                    " — a server on the organizer's own computer: this invite works only "
                    "on that computer. Ask for an invite to a server on the internet."
                )
            self.invite_relay.setText(f"Server: {self._invite_relay}{note}")
            show_error(self.join_error, None)

    def _submit_join(self) -> None:
        if not self.join_button.isEnabled():
            return
        code = self.invite_code.toPlainText().strip()
        if self._invite_relay is None:
            show_error(self.join_error, "This is not a valid invite code. Copy it again, whole.")
            self.invite_code.setFocus()
            return
        problem = self.join_fields.problem()
        if problem is not None:
            show_error(self.join_error, problem[0])
            problem[1].setFocus()
            return
        show_error(self.join_error, None)
        fields = self.join_fields
        self.create_requested.emit(
            NewProfile(
                name=fields.name.text().strip(),
                passphrase=fields.passphrase.text(),
                relay_url=self._invite_relay,
                embedded_relay=False,
                remember_key=fields.remember.isEnabled() and fields.remember.isChecked(),
                join_code=code,
            )
        )

    # -- link to your account on another computer --------------------------------------

    def _link_page(self, keyring_available: bool, keyring_reason: str) -> QWidget:
        self._link_relay: str | None = None
        self.link_note = muted_label("")
        self.link_note.setObjectName("warningBanner")
        self.link_note.setAccessibleName("Why the link door opened")
        self.link_note.hide()
        self.link_code = QPlainTextEdit()
        self.link_code.setAccessibleName("Link code")
        self.link_code.setPlaceholderText("Paste the link code: caucus://link#…")
        self.link_code.setFixedHeight(76)  # three lines: no scroll bar over the code
        # Break the code anywhere (it has no words): fewer lines than breaking at "-".
        self.link_code.setWordWrapMode(QTextOption.WrapMode.WrapAnywhere)
        self.link_code.setTabChangesFocus(True)
        self.link_code.textChanged.connect(self._link_code_changed)
        self.link_heading = QLabel("Link to your account on another computer")
        self.link_heading.setObjectName("chatTitle")
        self.link_how = muted_label(
            "On your other computer, open Caucus, choose Caucus → Your devices… → Link a "
            "new device, and copy the code it shows (or type it from there)."
        )
        self.link_how.setAccessibleName("Where the link code comes from")
        self.link_relay = muted_label("The server address comes from the link code.")
        self.link_relay.setAccessibleName("Relay from the link code")
        self.link_fields = _ProfileFields(
            keyring_available,
            keyring_reason,
            name_label="This computer",
            name_hint="A name you will recognise in your list of devices",
            name_missing="Give this computer a name (you see it in your list of devices).",
        )
        self.link_fields.name.setText(default_device_name())
        self.link_fields.name.setAccessibleName("Name of this computer")
        self.link_fields.passphrase.setPlaceholderText("A new passphrase, for this computer")
        self.link_error = error_label()
        self.link_button = primary_button("Link this computer")
        self.link_button.clicked.connect(self._submit_link)
        back = _back_button()
        back.clicked.connect(self._back)

        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.addRow(self.link_heading)
        form.addRow(self.link_how)
        form.addRow(self.link_note)
        form.setRowVisible(self.link_note, False)
        self._link_form = form
        form.addRow("Link code", self.link_code)
        form.addRow("", self.link_relay)
        self.link_fields.add_rows(form)
        form.addRow("", self.link_fields.remember)
        for field in (self.link_fields.name, self.link_fields.passphrase, self.link_fields.repeat):
            field.returnPressed.connect(self._submit_link)
        return self._page(form, self.link_error, back, self.link_button)

    def _link_code_changed(self) -> None:
        text = self.link_code.toPlainText().strip()
        if text and invite_relay_url(text) is not None:
            # An invite pasted where the link code goes: that is the join door's.
            self.link_code.clear()
            self.open_join(text)
            show_error(
                self.join_error,
                "That was an invite to a group, not a link code: join with it here.",
            )
            return
        try:
            self._link_relay = link_code_relay_url(text) if text else None
        except ClientError:
            self._link_relay = None
        if not text:
            self.link_relay.setText("The server address comes from the link code.")
        elif self._link_relay is None:
            self.link_relay.setText("This is not a whole link code yet.")
        else:
            self.link_relay.setText(f"Server: {self._link_relay}")
            show_error(self.link_error, None)

    def _submit_link(self) -> None:
        if not self.link_button.isEnabled():
            return
        if self._link_relay is None:
            show_error(
                self.link_error,
                "This is not a valid link code. Copy it again, whole, from your other computer.",
            )
            self.link_code.setFocus()
            return
        problem = self.link_fields.problem()
        if problem is not None:
            show_error(self.link_error, problem[0])
            problem[1].setFocus()
            return
        show_error(self.link_error, None)
        fields = self.link_fields
        self.link_requested.emit(
            NewLinkedDevice(
                code=self.link_code.toPlainText().strip(),
                device_name=fields.name.text().strip(),
                passphrase=fields.passphrase.text(),
                remember_key=fields.remember.isEnabled() and fields.remember.isChecked(),
            )
        )

    def _waiting_page(self) -> QWidget:
        page = QWidget()
        self.waiting_title = QLabel("Linking this computer…")
        self.waiting_title.setObjectName("chatTitle")
        self.waiting_title.setAccessibleName("Linking status")
        self.waiting_progress = QProgressBar()
        self.waiting_progress.setRange(0, 0)  # busy: no way to know how long
        self.waiting_progress.setTextVisible(False)
        self.waiting_progress.setFixedHeight(4)
        self.waiting_progress.setAccessibleName("Waiting for your other computer")
        self.waiting_text = muted_label("")
        self.waiting_text.setAccessibleName("What happens now")
        self.waiting_details = muted_label("")
        self.waiting_details.setAccessibleName("This computer's name and server")
        self.cancel_link = QPushButton("Cancel")
        self.cancel_link.setAccessibleName("Stop linking this computer")
        self.cancel_link.clicked.connect(self._cancel_link)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_link)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(12)
        layout.addWidget(self.waiting_title)
        layout.addWidget(self.waiting_progress)
        layout.addWidget(self.waiting_text)
        layout.addWidget(self.waiting_details)
        layout.addStretch(1)
        layout.addLayout(buttons)
        return page

    def show_link_progress(self, waiting: bool) -> None:
        """The waiting screen: first while the profile is made and the request sent,
        then (``waiting``) while the other computer has to answer."""
        self.cancel_link.setEnabled(True)
        self.cancel_link.setText("Cancel")
        name = self.link_fields.name.text().strip()
        self.waiting_details.setText(
            f"This computer appears as “{name}” in your list of devices. "
            f"Server: {self._link_relay or ''}"
        )
        if waiting:
            until = QTime.currentTime().addSecs(LINK_CODE_MINUTES * 60).toString("HH:mm")
            self.waiting_title.setText("Waiting for your other computer")
            self.waiting_text.setText(
                "Open Caucus there: it answers on its own within a few seconds, and this "
                "computer then gets your groups and recent history. The code works once, "
                f"for 10 minutes (until {until})."
            )
        else:
            self.waiting_title.setText("Linking this computer…")
            self.waiting_text.setText(
                "Creating this computer's profile and sending the request to your server."
            )
        self.pages.setCurrentWidget(self.waiting_page)

    def _cancel_link(self) -> None:
        self.cancel_link.setEnabled(False)
        self.cancel_link.setText("Cancelling…")
        self.link_cancel_requested.emit()

    def link_failed(self, message: str) -> None:
        """Back to the link form, everything typed still there, with one line on why."""
        self.pages.setCurrentWidget(self.link_page)
        if message and not message.endswith((".", "?", "!")):
            message += "."
        show_error(self.link_error, message or None)
        self._fit_height()
        self.link_code.setFocus()

    # -- start a union ----------------------------------------------------------------

    def _start_page(self, keyring_available: bool, keyring_reason: str) -> QWidget:
        fields = _ProfileFields(keyring_available, keyring_reason)
        self.start_fields = fields
        # The start door's fields by their old names (the tests and screenshots use them).
        self.name, self.passphrase, self.repeat = fields.name, fields.passphrase, fields.repeat
        self.strength_bar, self.strength = fields.strength_bar, fields.strength
        self.remember = fields.remember

        self.relay_url = QLineEdit()
        self.relay_url.setAccessibleName("Relay URL")
        self.relay_url.setPlaceholderText("https://relay.example.org")
        self.relay_url.textChanged.connect(self._relay_text_changed)
        self.embedded = QCheckBox("Host the server on this computer")
        self.embedded.setAccessibleName("Start an embedded local relay")
        self.embedded.setToolTip(
            "Runs the server inside the app, storing its data in your profile folder. "
            "Caucus must be running for members to send and receive."
        )
        self.embedded.toggled.connect(self._embedded_toggled)
        self.embedded_lan = QCheckBox("Let people on this local network reach it")
        self.embedded_lan.setAccessibleName("Listen on the local network")
        self.embedded_lan.setToolTip(
            "Listens on every network interface instead of 127.0.0.1, so computers on the "
            "same network can join. Traffic to it is plain http://."
        )
        self.embedded_lan.toggled.connect(self._embedded_toggled)
        self.embedded_note = muted_label("")
        self.embedded_note.setObjectName("warningBanner")
        self.embedded_note.setAccessibleName("Who can reach the local relay")

        self.error = error_label()
        self.create_button = primary_button("Create profile")
        self.create_button.clicked.connect(self._submit)
        back = _back_button()
        back.clicked.connect(self._back)

        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        fields.add_rows(form)
        form.addRow("Server", self.relay_url)
        form.addRow("", self.embedded)
        form.addRow("", self.embedded_lan)
        form.addRow("", self.embedded_note)
        form.addRow("", self.remember)
        for field in (self.name, self.passphrase, self.repeat, self.relay_url):
            field.returnPressed.connect(self._submit)
        self._embedded_toggled(False)
        return self._page(form, self.error, back, self.create_button)

    def _page(
        self, form: QFormLayout, error: QLabel, back: QPushButton, submit: QPushButton
    ) -> QWidget:
        page = QWidget()
        buttons = QHBoxLayout()
        buttons.addWidget(back)
        buttons.addStretch(1)
        buttons.addWidget(submit)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(12)
        layout.addLayout(form)
        layout.addWidget(error)
        layout.addStretch(1)
        layout.addLayout(buttons)
        return page

    def _relay_text_changed(self, text: str) -> None:
        # An invite pasted where the relay goes: this person wants the other door.
        if invite_relay_url(text) is not None:
            self.relay_url.clear()
            self.open_join(text)

    def _embedded_toggled(self, _on: bool = False) -> None:
        on = self.embedded.isChecked()
        self.relay_url.setEnabled(not on)
        self.embedded_lan.setVisible(on)
        self.embedded_note.setVisible(on)
        if not on:
            self.relay_url.setPlaceholderText("https://relay.example.org")
            return
        if self.embedded_lan.isChecked():
            address = lan_address()
            self.relay_url.setPlaceholderText("The server will listen on this network")
            self.embedded_note.setText(
                f"People on this network reach it at http://{address}:… (the port is "
                "chosen when it starts; every invite carries the whole address). Nobody "
                "outside this network can reach it, and traffic to it is plain http."
                if address
                else "This computer has no local network address right now."
            )
        else:
            self.relay_url.setPlaceholderText("The server will listen on 127.0.0.1")
            self.embedded_note.setText(
                "Only this computer can reach this server: invites will not work on other "
                "computers. Good for trying Caucus out."
            )

    def _submit(self) -> None:
        if not self.create_button.isEnabled():
            return
        url = self.relay_url.text().strip()
        problem = self.start_fields.problem()
        if problem is not None:
            show_error(self.error, problem[0])
            problem[1].setFocus()
            return
        if not self.embedded.isChecked() and not url.startswith(("https://", "http://")):
            show_error(
                self.error,
                "Enter the server address your union uses (https://…), or host one here.",
            )
            self.relay_url.setFocus()
            return
        show_error(self.error, None)
        embedded = self.embedded.isChecked()
        self.create_requested.emit(
            NewProfile(
                name=self.name.text().strip(),
                passphrase=self.passphrase.text(),
                relay_url=url,
                embedded_relay=embedded,
                remember_key=self.remember.isEnabled() and self.remember.isChecked(),
                embedded_on_lan=embedded and self.embedded_lan.isChecked(),
            ),
        )

    # -- progress ---------------------------------------------------------------------

    def set_busy(self, busy: bool) -> None:
        joining = self.pages.currentWidget() is self.join_page
        button = self.join_button if joining else self.create_button
        idle_text = "Create profile and ask to join" if joining else "Create profile"
        button.setEnabled(not busy)
        button.setText("Creating…" if busy else idle_text)
        (self.join_fields if joining else self.start_fields).set_enabled(not busy)

    def fail(self, message: str) -> None:
        self.set_busy(False)
        joining = self.pages.currentWidget() is self.join_page
        show_error(self.join_error if joining else self.error, message)
