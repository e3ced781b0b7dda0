"""Share-request attachments (公函、审批表): stored by content under ``<data_dir>/attachments/<sha256>``.

A requester uploads a file first and puts the returned reference (:class:`~xueliang.sharing.share_common.Attachment`:
name, path, sha256, size) in the share request. The store names files by their SHA-256 only, so a client-supplied
name never reaches the file system (no path tricks) and the same file uploaded twice is stored once; the name is
kept, cleaned, only as the label shown and offered on download. Uploads are bounded (:data:`MAX_ATTACHMENT_BYTES`).

Errors: :class:`AttachmentTooLargeError` (413), :class:`AttachmentMissingError` (422: a reference to nothing stored).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import unicodedata
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import BinaryIO, Final

from xueliang.sharing.share_common import Attachment, SharingError

MAX_ATTACHMENT_BYTES: Final = 20 * 1024 * 1024
MAX_NAME_LENGTH: Final = 200
FOLDER: Final = "attachments"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1024 * 1024


class AttachmentTooLargeError(SharingError):
    status = 413

    def __init__(self, limit: int) -> None:
        mib = limit // (1024 * 1024)
        super().__init__(f"附件超过 {mib} MB", f"the attachment exceeds {mib} MiB")


class AttachmentMissingError(SharingError):
    status = 422

    def __init__(self, name: str) -> None:
        super().__init__(
            f"附件 {name} 未上传或已损坏，请重新上传", f"attachment {name!r} is not stored: upload it again"
        )


def clean_name(name: str | None) -> str:
    """The last path component of ``name``, without control characters, at most 200 characters."""
    raw = name or ""
    base = PureWindowsPath(PurePosixPath(raw).name).name  # both separators: "..\\a/b.pdf" -> "b.pdf"
    kept = "".join(c for c in base if unicodedata.category(c)[0] != "C").strip().lstrip(".")
    return kept[:MAX_NAME_LENGTH] or "attachment"


class AttachmentStore:
    def __init__(self, data_dir: Path, max_bytes: int = MAX_ATTACHMENT_BYTES) -> None:
        self.data_dir = data_dir
        self.root = data_dir / FOLDER
        self.max_bytes = max_bytes

    def save(self, name: str | None, source: BinaryIO) -> Attachment:
        """Store what ``source`` holds (read to its end); AttachmentTooLargeError past the limit."""
        self.root.mkdir(parents=True, exist_ok=True)
        digest, size = hashlib.sha256(), 0
        handle, temporary = tempfile.mkstemp(prefix=".upload-", dir=self.root)
        try:
            with os.fdopen(handle, "wb") as out:
                while chunk := source.read(_CHUNK):
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise AttachmentTooLargeError(self.max_bytes)
                    digest.update(chunk)
                    out.write(chunk)
            sha256 = digest.hexdigest()
            os.replace(temporary, self.root / sha256)  # same content, same name: a second upload changes nothing
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return Attachment(clean_name(name), f"{FOLDER}/{sha256}", sha256, size)

    def path(self, sha256: str) -> Path | None:
        """The stored file with this digest, or None."""
        if not _SHA256.match(sha256):
            return None
        found = self.root / sha256
        return found if found.is_file() else None

    def reference(self, name: str, sha256: str, size: int) -> Attachment:
        """A request's reference checked against the store (the stored size wins over nothing: they must agree)."""
        found = self.path(sha256)
        if found is None or found.stat().st_size != size:
            raise AttachmentMissingError(clean_name(name))
        return Attachment(clean_name(name), f"{FOLDER}/{sha256}", sha256, size)
