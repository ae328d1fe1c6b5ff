"""Who can reach a relay address: said before an invite carrying it leaves this computer.

An invite carries the group's relay URL. A loopback relay works only on this computer, a
private (LAN) address only on this network, and plain ``http://`` to another host is not
encrypted in transit. ``lan_address`` finds the address to share when the embedded relay
is opted in to the local network.
"""

from __future__ import annotations

import enum
import ipaddress
import socket
from urllib.parse import urlsplit

__all__ = ["RelayReach", "lan_address", "reach_of", "reach_warning"]


class RelayReach(enum.Enum):
    """How far an address reaches, as far as the address alone can tell."""

    LOOPBACK = "loopback"
    PRIVATE = "private"
    PLAIN_HTTP = "plain_http"
    INTERNET = "internet"


def reach_of(url: str) -> RelayReach:
    """Classify a relay URL (``http://127.0.0.1:8080``, ``https://relay.example.org``)."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return RelayReach.LOOPBACK
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None and address.is_loopback:
        return RelayReach.LOOPBACK
    if address is not None and (address.is_private or address.is_link_local):
        return RelayReach.PRIVATE
    if host.endswith((".local", ".lan", ".home.arpa")):
        return RelayReach.PRIVATE
    if parts.scheme == "http":
        return RelayReach.PLAIN_HTTP
    return RelayReach.INTERNET


def reach_warning(url: str) -> str | None:
    """One sentence for the invite dialog, or ``None`` for an https relay on the internet."""
    reach = reach_of(url)
    if reach is RelayReach.LOOPBACK:
        return (
            f"This group's server ({url}) is on this computer only: only this computer "
            "can reach it, so this invite will not work anywhere else. Use a server on "
            "the internet (https://…) to invite people."
        )
    if reach is RelayReach.PRIVATE:
        return (
            f"This group's server ({url}) has a local network address: only people on "
            "this network can reach it."
        )
    if reach is RelayReach.PLAIN_HTTP:
        return (
            f"This group's server ({url}) uses plain http://: the connection is not "
            "encrypted in transit (messages stay end-to-end encrypted, but who talks when "
            "is visible on the way). Use https."
        )
    return None


def lan_address() -> str | None:
    """This computer's address on its local network, or ``None`` when it has none.

    Asks the kernel which interface a datagram to a public address would leave from; a
    UDP ``connect`` sends nothing.
    """
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # TEST-NET-1: never routed to anyone
        host = str(probe.getsockname()[0])
    except OSError:
        return None
    finally:
        probe.close()
    try:
        address = ipaddress.ip_address(host)
        if address.is_loopback or address.is_unspecified:
            return None
    except ValueError:
        return None
    return host
