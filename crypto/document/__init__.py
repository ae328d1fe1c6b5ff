"""Signed documents: chunked encryption, minisign signatures, announcements (docs/documents.md).

``stream`` encrypts and decrypts a document's relay chunks, ``minisign`` reads and writes
minisign key and signature files, ``announce`` holds the group-message formats that
publish and acknowledge a document version, ``hashing`` reads and hashes files in pieces.
"""

__all__ = ["announce", "hashing", "minisign", "stream"]
