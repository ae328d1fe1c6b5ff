"""``caucus daemon``: one unlocked profile kept running, served as JSON-RPC 2.0 over a
Unix socket, one JSON object per line (docs/daemon.md; README "Scripting").

- ``protocol``: framing, error codes and the request and reply values;
- ``methods``: what each method does with the engine, and events as notifications;
- ``server``: the socket (mode 0600, one daemon per path), connections, stopping;
- ``client``: ``caucus rpc``, the zero-KDF path for scripts.
"""
