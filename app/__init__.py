"""The Caucus client: the headless engine (``app.core``), the CLI and the desktop app.

Every process of ours (the app, the CLI, the signature and ballot-check workers) imports
this package first, so the one process-wide setting lives here: ``rbcl`` writes its copy
of libsodium to a temporary file to load it, and we delete that file once it is loaded
(``crypto/ballot/ristretto.py``), so no process leaves one behind.
"""

from __future__ import annotations

import contextlib
import os

from crypto.ballot import ristretto


def _delete_loaded_library(path: str) -> None:
    # Windows keeps a loaded library's file: there it stays in the user's temp folder.
    with contextlib.suppress(OSError):
        os.unlink(path)


ristretto.after_load(_delete_loaded_library)
