"""The client store: every SQL statement of the profile database, one module per area.

Each module (``ballots``, ``documents``, ``groups``, ...) holds the statements on its
tables as plain functions over a ``app.core.database.Database`` (like ``relay/store.py``).
They take and return typed rows (frozen dataclasses), never positional tuples, and
statuses are the enums of ``app.core.status`` (ballot states those of ``crypto.ballot``):
a status column changes only by an ``UPDATE`` guarded by the old status its transition
table allows. The feature parts above call these functions and write no SQL themselves.
"""
