"""One Caucus per profile: a second launch hands its caucus:// link to the first and ends.

The first instance listens on a ``QLocalServer`` named after a hash of the profile
directory. A later launch for the same directory connects, sends one line (the link, or
nothing just to bring the window forward) and exits 0, so it never starts a second
embedded relay on the same port. A socket left behind by a crashed instance answers
nobody: the new instance removes it and listens itself.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

__all__ = ["SingleInstance", "hand_over", "server_name"]

CONNECT_MS = 1000
WRITE_MS = 2000
MAX_MESSAGE = 4096  # a link is a few hundred characters; anything longer is dropped


def server_name(home: Path) -> str:
    """The local-socket name for one profile directory (the same for every launch)."""
    digest = hashlib.sha256(str(home.expanduser().resolve()).encode()).hexdigest()
    return f"caucus-{digest[:32]}"


def hand_over(name: str, link: str) -> bool:
    """Give ``link`` to the instance listening on ``name``; False when none answers."""
    socket = QLocalSocket()
    socket.connectToServer(name)
    if not socket.waitForConnected(CONNECT_MS):
        return False
    socket.write((link.strip() + "\n").encode())
    sent = socket.waitForBytesWritten(WRITE_MS)
    socket.disconnectFromServer()
    if socket.state() != QLocalSocket.LocalSocketState.UnconnectedState:
        socket.waitForDisconnected(WRITE_MS)
    return sent


class SingleInstance(QObject):
    """The first instance's listener; ``link_received`` carries each later launch's link."""

    link_received = Signal(str)

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.server = QLocalServer(self)
        self.server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self.server.newConnection.connect(self._accept)

    def listen(self) -> bool:
        """Listen, clearing a stale socket a crashed instance left; False if we cannot."""
        if self.server.listen(self.name):
            return True
        # Nobody answered before we got here (the caller tried hand_over), so whatever
        # holds the name is left over from a crash.
        QLocalServer.removeServer(self.name)
        return self.server.listen(self.name)

    def close(self) -> None:
        self.server.close()

    def _accept(self) -> None:
        while self.server.hasPendingConnections():
            socket = self.server.nextPendingConnection()
            buffer = bytearray()
            done: list[bool] = []

            def read(
                socket: QLocalSocket = socket, buffer: bytearray = buffer, done: list[bool] = done
            ) -> None:
                if done:
                    return
                buffer.extend(bytes(socket.readAll().data()))
                if len(buffer) > MAX_MESSAGE:
                    done.append(True)
                    socket.abort()
                    return
                if b"\n" in buffer:
                    done.append(True)
                    line = bytes(buffer).split(b"\n", 1)[0]
                    socket.disconnectFromServer()
                    self.link_received.emit(line.decode("utf-8", "replace").strip())

            # The socket stays a child of the server until it closes: deleting it from
            # here (deleteLater in its own handler) crashed PySide under a nested loop.
            socket.readyRead.connect(read)
            read()
