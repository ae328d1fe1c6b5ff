"""Mailbox epoch rules of protocol 6.1 as pure functions over plain values.

A mailbox keeps a list of epochs ``(cap_hash, first_seq, last_seq)``; only the current
one (``last_seq`` unset) may write.  Which capability may do what:

| capability presented          | write (item, commit, delete) | read                     |
|-------------------------------|------------------------------|--------------------------|
| current epoch's               | allowed                      | ``first_seq ..`` (open)  |
| a past epoch's                | 409 ``stale_epoch``          | ``first_seq .. last_seq``|
| none of this mailbox's        | 403 ``forbidden``            | 403 ``forbidden``        |

A read of a past epoch whose items have all been read (``after >= last_seq``) is 410
``epoch_ended``: the reader must continue with the next epoch's capability, which the
commit at ``last_seq`` delivers to every member who stays.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Epoch", "ReadWindow", "after_commit", "read_window"]


@dataclass(frozen=True)
class Epoch:
    """One epoch's range of sequence numbers; ``last_seq is None`` while it is current."""

    first_seq: int
    last_seq: int | None = None

    @property
    def current(self) -> bool:
        return self.last_seq is None


@dataclass(frozen=True)
class ReadWindow:
    """What a fetch may return: seqs ``low..high`` inclusive (empty when ``high < low``).

    ``visible_last`` is the ``X-Caucus-Last`` header: the highest seq this capability can
    read now, or ``first_seq - 1`` while its epoch has no item yet.
    """

    low: int
    high: int
    visible_last: int
    ended: bool

    @property
    def empty(self) -> bool:
        return self.high < self.low


def read_window(epoch: Epoch, mailbox_last: int, after: int) -> ReadWindow:
    """The part of the mailbox an epoch's capability may read after seq ``after``."""
    visible = mailbox_last if epoch.last_seq is None else min(epoch.last_seq, mailbox_last)
    visible = max(visible, epoch.first_seq - 1)
    ended = epoch.last_seq is not None and after >= epoch.last_seq
    return ReadWindow(
        low=max(after + 1, epoch.first_seq), high=visible, visible_last=visible, ended=ended
    )


def after_commit(current: Epoch, commit_seq: int) -> tuple[Epoch, Epoch]:
    """A commit stored at ``commit_seq`` closes ``current`` there and opens the next epoch."""
    if not current.current or commit_seq < current.first_seq:
        raise ValueError("only the current epoch can be closed, at or after its start")
    return Epoch(current.first_seq, commit_seq), Epoch(commit_seq + 1)
