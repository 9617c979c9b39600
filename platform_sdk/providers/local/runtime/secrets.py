"""`LocalSecret`: a local cloud secret (`file:///<root>/secrets/<name>`), its value one 0600 file.

The directory is the container `localcloud_secret` creates; the value is `<directory>/value`, replaced atomically
(written to a private temporary file, then renamed), so a reader sees the old value or the new one, never half.
Versions are the file's identity (inode and modification time): a rename makes a new one, which is how a running
function notices a rotation at once (`current_version` is a stat). Standard library only.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

from platform_sdk.runtime.secrets import SecretContainerMissingError, SecretValue

VALUE_FILE = "value"  # the name platform_sdk.localcloud.secret documents
FILE_MODE = 0o600


def _version(stat: os.stat_result) -> str:
    return f"{stat.st_ino}-{stat.st_mtime_ns}"


class LocalSecret:
    """One secret directory of the local cloud."""

    def __init__(self, url: str) -> None:
        parsed = urlparse(url)
        if parsed.scheme != "file" or not parsed.path:
            raise ValueError(f"not a local secret URL: {url!r} (expected file:///<root>/secrets/<name>)")
        self.url = url
        self.path = Path(url2pathname(parsed.path))

    def __repr__(self) -> str:
        return f"LocalSecret({self.url!r})"

    @property
    def value_file(self) -> Path:
        return self.path / VALUE_FILE

    def read(self) -> SecretValue | None:
        try:
            with open(self.value_file, encoding="utf-8") as handle:
                version = _version(os.fstat(handle.fileno()))
                return SecretValue(handle.read(), version)
        except FileNotFoundError:
            return None

    def current_version(self) -> str | None:
        try:
            return _version(self.value_file.stat())
        except FileNotFoundError:
            return ""  # no value any more: differs from every cached version, so the next read says so

    def write(self, value: str) -> str:
        if not self.path.is_dir():
            raise SecretContainerMissingError(f"secret directory {self.path} does not exist (Terraform creates it: "
                                              "run `platform apply` first)")
        temporary = self.path / f".{VALUE_FILE}.{uuid.uuid4().hex}.tmp"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(value)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temporary, FILE_MODE)  # whatever the umask said
            os.replace(temporary, self.value_file)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
            raise
        return _version(self.value_file.stat())

    def exists(self) -> bool:
        return self.path.is_dir()

    def has_value(self) -> bool:
        return self.value_file.is_file()


def open_secret(url: str) -> LocalSecret:
    """The plug-in hook `platform_sdk.runtime.secrets.open_secret` calls for `file://` URLs."""
    return LocalSecret(url)
