"""Attachment files under the data folder, named by the SHA-256 of their content
(``ab/cd/abcd…``): the name a sender chose is never part of a path, so no name can
escape the folder, and the same file attached twice is stored once.

Files are written to a temporary name, fsynced, then renamed, before the mail's
transaction commits; a crash in between leaves at most an unreferenced file. They are a
cache of the raw message kept in the database: a missing file is rebuilt from it."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

_HEX = re.compile(r"^[0-9a-f]{64}$")


class AttachmentStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        if not _HEX.match(sha256):
            raise ValueError("not a SHA-256 hex digest")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        target = self.path(digest)
        if target.exists() and target.stat().st_size == len(data):
            return digest
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = target.with_name(f".{digest}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return digest

    def get(self, sha256: str) -> bytes | None:
        """The file's bytes, or None when missing or not matching its hash."""
        target = self.path(sha256)
        try:
            data = target.read_bytes()
        except FileNotFoundError:
            return None
        return data if hashlib.sha256(data).hexdigest() == sha256 else None
