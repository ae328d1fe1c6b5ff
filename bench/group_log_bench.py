"""How long replaying a group log takes: 300 members added, then re-keys up to N entries.

``GroupState.replay`` verifies every entry's signature and hash chain, so this is the cost
of opening a group from its stored log. Target: 1,000 entries well under a second (the
figure moved here from tests/crypto/test_group_log.py, which now checks only the result).

    python bench/group_log_bench.py [--entries 1000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crypto.group_log import EntryKind, GroupState, LogEntry, MemberRecord, Role, add_body
from crypto.group_log import author_entry as author
from crypto.identity import Identity
from tests.crypto.group_support import T0, Group, SeededRng, identity


def build_log(total: int) -> tuple[list[bytes], GroupState]:
    """The encoded entries of a log of ``total`` entries and the state they lead to."""
    alice = identity("alice")
    group = Group.create(alice)
    rng = SeededRng(b"bench")
    state, entries = group.state, list(group.entries)
    for i in range(min(300, total - len(entries))):
        member = MemberRecord.for_identity(Identity.generate(rng, T0), f"m{i}", Role.MEMBER)
        entry, _, state = author(state, alice, EntryKind.ADD, add_body(member), T0 + i, rng)
        entries.append(entry)
    while len(entries) < total:
        entry, _, state = author(state, alice, EntryKind.REKEY, b"", T0, rng)
        entries.append(entry)
    return [e.encode() for e in entries], state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3, help="best of this many runs")
    args = parser.parse_args()
    encoded, state = build_log(args.entries)
    best = float("inf")
    for _ in range(args.rounds):
        started = time.perf_counter()
        replayed = GroupState.replay(LogEntry.decode(raw) for raw in encoded)
        best = min(best, time.perf_counter() - started)
        if replayed != state:
            raise SystemExit("replay gave a different state")
    print(f"replay of {len(encoded)} entries: {best * 1000:.0f} ms (target < 500 ms)")


if __name__ == "__main__":
    main()
