"""One station per data dir: an exclusive lock on `station.lock`, held while a station runs there.

Light on purpose: the CLI's steering verbs ask "is a station running?" without importing the runtime.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from typing import IO, TYPE_CHECKING

from studio.errors import ConfigError

if TYPE_CHECKING:
    from pathlib import Path

LOCK_NAME = "station.lock"


class StationLock:
    """An exclusive lock on `station.lock` in the data dir, held while a station runs there (released by the OS
    if the process dies, so a crashed station never blocks the next one)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_NAME
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        handle = open(self.path, "a+")  # noqa: SIM115 - held for the station's lifetime
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            pid = handle.read().strip() or "?"
            handle.close()
            raise ConfigError(
                f"a station is already running on {self.path.parent} (pid {pid}): steer it with `studio steer|skip|"
                "pause …`, stop it first, or pass another --data-dir"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


def running_station_pid(data_dir: Path) -> int | None:
    """The pid of the station running on `data_dir`, or None when none runs."""
    path = data_dir / LOCK_NAME
    if not path.exists():
        return None
    with open(path) as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            text = handle.read().strip()
            return int(text) if text.isdigit() else -1
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None
