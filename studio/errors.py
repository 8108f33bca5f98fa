"""One error base with flat subclasses. The CLI turns any `StudioError` into one line on stderr."""

from __future__ import annotations


class StudioError(Exception):
    """Something the user can act on. The message says what went wrong and what to do."""


class ShowFileError(StudioError):
    """A show file is missing, malformed or invalid. `problems` lists every `file:line: field: message`."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or [message]


class ConfigError(StudioError):
    """Settings or command-line values that cannot work (unwritable data dir, port in use …)."""


class ToolError(StudioError):
    """A tool (renderer, encoder, model) failed on one request. Nodes turn this into state, never a crash."""


class BackendUnavailable(StudioError):
    """A backend cannot run here: missing extra, no CUDA, no weights. The message names the fix."""


class BroadcastError(StudioError):
    """Playout or streaming cannot start or continue (unreachable RTMP server, HLS dir unwritable …)."""


class MemoryStoreError(StudioError):
    """The show memory cannot be used: a corrupt or locked Chroma directory, a missing embedding model. The message
    says what to do; the station store and approved segments are never touched by it."""
