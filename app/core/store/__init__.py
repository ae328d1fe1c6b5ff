"""The client's store: every SQL statement of the profile database, one module per area.

Each module holds plain functions over a ``Database`` and returns typed rows (frozen
dataclasses); statuses come from ``app.core.status``. No other module of ``app/core``
writes SQL for these tables.
"""
