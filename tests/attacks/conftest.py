from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.attacks.world import AttackWorld


@pytest.fixture
def attack_world(tmp_path: Path) -> Iterator[AttackWorld]:
    """A real relay process, started; members are created on first use."""
    world = AttackWorld(tmp_path)
    world.start()
    try:
        yield world
    finally:
        world.close()
