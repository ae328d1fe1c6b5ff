"""The Caucus relay: stores opaque items for capability holders and learns nothing else.

``create_app(RelayConfig(db_path=...))`` gives the ASGI app; ``relay.embedded`` runs it on
a loopback socket in a thread; ``python -m relay serve`` is the server command.
"""

from relay.config import RelayConfig
from relay.http import RelayApp, create_app

__all__ = ["RelayApp", "RelayConfig", "create_app"]
