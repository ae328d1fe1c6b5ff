"""Setting this computer up as a linked device from its first run (docs/protocol.md 8.4).

``link_new_profile`` does what ``caucus device add CODE --wait`` does, for the desktop
app's "Link this computer" door: it creates the profile (the relay comes from the code),
posts the link request, and waits until the member's first device answered and the bundle
is installed. If anything fails first (the code is garbled, used or expired, the relay
cannot be reached, the person cancels), the profile is deleted again, so nothing
half-made stands in the way of the next try. On success the caller opens the profile
afresh: only an engine opened after the bundle acts as the member.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.core.commands_devices import link_code_relay_url
from app.core.database import Database
from app.core.devices import LINK_TTL_MS
from app.core.engine import Engine, wall_clock_ms
from app.core.errors import ClientError, RelayRejected, RelayUnavailable
from app.core.profile import create_profile_with_key, delete_new_profile, open_with_key
from app.core.store import devices as device_store
from crypto.device_link import LinkCode, LinkKind, LinkSecrets, open_link_item
from crypto.errors import RemoteError

__all__ = ["LinkCancelled", "LinkNotAnswered", "link_new_profile"]

_POLL_S = 20.0  # one long poll of the link mailbox; a bundle ends it at once
_CANCEL_CHECK_S = 0.1


class LinkCancelled(ClientError):
    """The person stopped waiting; the new profile is gone again."""


class LinkNotAnswered(ClientError):
    """The code was used already, expired, or was answered for another computer."""


_ELSEWHERE = (
    "your other computer answered another request made with this code (a cancelled "
    "try, or someone else's): show a new code there and paste it here"
)
_USED = (
    "this link code was used already or has expired: show a new one on your other "
    "computer and paste it here"
)


def link_new_profile(
    home: Path,
    *,
    code: str,
    device_name: str,
    passphrase: str,
    cancel: threading.Event,
    on_waiting: Callable[[], None] = lambda: None,
    cost: str = "moderate",
    clock_ms: Callable[[], int] = wall_clock_ms,
    **engine_options: Any,
) -> tuple[Database, bytes]:
    """Create the profile in ``home``, link it with ``code`` and wait for the bundle.

    ``on_waiting`` is called (on this thread) once the request is on the relay. Returns a
    fresh connection to the linked profile and its raw key. Blocks: run it off the GUI
    thread. Raises ``ClientError`` with a message for a person; the profile is then gone.
    """
    relay_url = link_code_relay_url(code)  # a garbled code fails before any file exists
    rng = engine_options.pop("rng", os.urandom)
    db, key = create_profile_with_key(
        home,
        name=device_name,
        relay_url=relay_url,
        passphrase=passphrase,
        rng=rng,
        now=clock_ms(),
        cost=cost,
    )
    try:
        engine = Engine(db, rng=rng, clock_ms=clock_ms, **engine_options)
    except BaseException:
        db.close()
        delete_new_profile(home)
        raise
    try:
        asyncio.run(_ask_and_wait(engine, code, relay_url, cancel, on_waiting, clock_ms))
    except BaseException:
        delete_new_profile(home)
        raise
    return open_with_key(home, key), key


async def _ask_and_wait(
    engine: Engine,
    code: str,
    relay_url: str,
    cancel: threading.Event,
    on_waiting: Callable[[], None],
    clock_ms: Callable[[], int],
) -> None:
    try:
        try:
            await engine.devices.add(code)
        except RelayUnavailable:
            raise ClientError(
                f"the server in this code ({relay_url}) cannot be reached right now: "
                "check the connection and try again"
            ) from None
        except RelayRejected as exc:
            if exc.status == 404:
                raise LinkNotAnswered(_USED) from None
            raise
        on_waiting()
        started = clock_ms()
        secret = LinkCode.parse(code).secret
        while engine.devices.own_cert() is None:
            bundle_seq = await _step(engine, secret, cancel)
            await engine.sync()
            if (
                bundle_seq
                and engine.devices.own_cert() is None
                and _read_past(engine, secret, bundle_seq)
            ):
                raise LinkNotAnswered(_ELSEWHERE)
            if engine.devices.own_cert() is None and clock_ms() - started > LINK_TTL_MS:
                raise LinkNotAnswered(
                    "your other computer did not answer within 10 minutes: open Caucus "
                    "there, show a new code and paste it here"
                )
    finally:
        await engine.close()


def _read_past(engine: Engine, secret: bytes, seq: int) -> bool:
    """Whether the sync read the link mailbox up to ``seq`` (it did not fail first)."""
    links = [r for r in device_store.open_links(engine.db, "add") if r.secret == secret]
    return not links or links[0].cursor >= seq


async def _step(engine: Engine, secret: bytes, cancel: threading.Event) -> int:
    """Wait until the link mailbox holds something new (or a poll passed); refuse a
    mailbox that is gone: the code expired, or another computer was linked with it.
    Returns the sequence number of a link bundle that arrived (else 0): if the sync that
    follows reads it and does not install it, it was sealed for another computer."""
    if cancel.is_set():
        raise LinkCancelled("linking cancelled")
    links = [r for r in device_store.open_links(engine.db, "add") if r.secret == secret]
    if not links:
        return 0  # installed (or given up) by the last sync
    link = links[0]
    secrets = LinkCode(link.relay_url, link.secret).secrets
    relay = engine.relay(link.relay_url)
    poll = asyncio.ensure_future(
        relay.fetch(secrets.mailbox_id, secrets.capability, link.cursor, wait=_POLL_S)
    )
    stop = asyncio.ensure_future(_until_set(cancel))
    try:
        await asyncio.wait({poll, stop}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (poll, stop):
            task.cancel()
        await asyncio.gather(poll, stop, return_exceptions=True)
    if cancel.is_set():
        raise LinkCancelled("linking cancelled")
    error = poll.exception() if poll.done() and not poll.cancelled() else None
    if isinstance(error, RelayRejected) and error.status == 404:
        raise LinkNotAnswered(_USED)
    if error is not None:
        await _pause(cancel, 2.0)  # the relay is down or busy for a moment: keep waiting
        return 0
    return max((seq for seq, item in poll.result().items if _is_bundle(secrets, item)), default=0)


def _is_bundle(secrets: LinkSecrets, item: bytes) -> bool:
    try:
        return open_link_item(secrets, item)[0] == LinkKind.BUNDLE
    except RemoteError:
        return False


async def _until_set(event: threading.Event) -> None:
    while not event.is_set():
        await asyncio.sleep(_CANCEL_CHECK_S)


async def _pause(cancel: threading.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(_until_set(cancel), timeout=seconds)
    except TimeoutError:
        return
