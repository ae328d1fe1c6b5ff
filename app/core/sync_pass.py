"""What one sync pass learns on its way: the warnings for its report and the relays that
did not answer, so the rest of the pass skips them instead of waiting on each again
(docs/protocol.md section 7.2)."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.core.errors import ClientError
from crypto.errors import RemoteError

__all__ = ["STEP_ERRORS", "SyncPass"]

# What one step of a sync (one relay's inbox, one invite, one group, one group's outbox)
# may fail with without stopping the others: the relay unreachable or refusing
# (``RelayError``), bad data from it or a peer (``RemoteError``), or a state the user can
# act on (``ClientError``). Anything else is our bug and still propagates.
STEP_ERRORS = (RemoteError, ClientError)


@dataclass
class SyncPass:
    """Accumulates over one pass; a fresh one per ``sync`` or per tick of ``run``."""

    warnings: list[str] = field(default_factory=list)
    down: set[str] = field(default_factory=set)

    def is_down(self, relay_url: str) -> bool:
        return relay_url.rstrip("/") in self.down
