"""Members with real SQLCipher profiles, each talking to one real relay process through
its own transport of one ``Adversary``."""

from __future__ import annotations

import os
from pathlib import Path

from app.core.engine import Engine
from app.core.profile import create_profile
from tests.attacks.mitm import Adversary
from tests.attacks.relay_process import RelayProcess
from tests.core.harness import Clock, run


class AttackWorld:
    """``member(name)`` creates a profile the first time and returns its open engine.

    The clock starts at the wall clock and is shared by every member; the relay process
    keeps its own wall clock, so move the members' clock by minutes, not days (the relay
    refuses inbox reads stamped more than 300 s from its own time).
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.relay = RelayProcess(root / "relay.db")
        self.adversary = Adversary()
        self.clock = Clock()
        self.engines: dict[str, Engine] = {}

    def start(self) -> None:
        self.relay.start()

    def member(self, name: str) -> Engine:
        engine = self.engines.get(name)
        if engine is None:
            db = create_profile(
                self.home(name),
                name=name,
                relay_url=self.relay.url,
                passphrase=self.passphrase(name),
                rng=os.urandom,
                now=self.clock(),
                cost="interactive",
            )
            engine = Engine(db, transport=self.adversary.transport(name), clock_ms=self.clock)
            self.engines[name] = engine
        return engine

    def home(self, name: str) -> Path:
        return self.root / "profiles" / name

    @staticmethod
    def passphrase(name: str) -> str:
        return f"passphrase of {name}"

    def reopen(self, name: str) -> Engine:
        """Close the member's engine and open the profile again from disk."""
        self.close_member(name)
        engine = Engine.open(
            self.home(name),
            self.passphrase(name),
            transport=self.adversary.transport(name),
            clock_ms=self.clock,
        )
        self.engines[name] = engine
        return engine

    def close_member(self, name: str) -> None:
        engine = self.engines.pop(name, None)
        if engine is not None:
            run(engine.close())

    def close(self) -> None:
        for name in list(self.engines):
            self.close_member(name)
        self.relay.stop()
