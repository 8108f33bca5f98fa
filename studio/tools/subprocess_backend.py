"""Run an out-of-process backend's entry script: its own interpreter, logs in files, a timeout that ends the whole
process group, and every failure as a `ToolError` that carries the end of the script's stderr.

StreamingT2V (torch 2.0) and audiocraft (torch 2.1) pin libraries this environment cannot hold, so studio talks to
them only through a command line and files. This module is the part those backends share.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from studio.errors import ToolError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

log = logging.getLogger(__name__)

KILL_GRACE_S = 10.0
"""Seconds between SIGTERM and SIGKILL for a process group that ran out of time."""
STDERR_TAIL_LINES = 5
HIDDEN_VARIABLES = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
"""They would point the other interpreter at this environment's packages."""


@dataclass(frozen=True)
class EntryScript:
    """How to describe one out-of-process backend in its errors."""

    label: str
    """Its name in messages: "StreamingT2V", "audiocraft"."""
    timeout_advice: str
    """What to do when it runs out of time: "raise streamingt2v_timeout_s for long shots"."""
    oom_advice: str
    """What to do when its stderr says it ran out of GPU memory."""


def child_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Our environment without the variables that bind Python to this venv, unbuffered, plus `extra`."""
    environment = {key: value for key, value in os.environ.items() if key not in HIDDEN_VARIABLES}
    environment["PYTHONUNBUFFERED"] = "1"
    environment.update(extra or {})
    return environment


def run_entry(
    script: EntryScript,
    argv: Sequence[str],
    *,
    cwd: Path,
    logs: Path,
    timeout_s: float,
    extra_env: Mapping[str, str] | None = None,
) -> float:
    """Run `argv` in `cwd` in its own session, stdout and stderr into files under `logs`. Returns the seconds taken.

    Raises `ToolError` when it cannot start, exits non-zero or is killed (with the last lines of stderr), or runs
    past `timeout_s` (its whole process group is then stopped, workers included).
    """
    stdout_path, stderr_path = logs / "stdout.log", logs / "stderr.log"
    started = time.monotonic()
    with stdout_path.open("wb") as stdout, stderr_path.open("wb") as stderr:
        try:
            process = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=child_environment(extra_env),
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,  # its own process group, so a timeout kills its workers too
            )
        except OSError as error:
            raise ToolError(f"cannot start {script.label} ({argv[0]}): {error}") from error
        try:
            returncode = process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            kill_group(process)
            raise ToolError(
                f"{script.label} took longer than {timeout_s:g} s and was stopped ({script.timeout_advice})"
            ) from None
    elapsed = time.monotonic() - started
    log.debug("%s finished in %.1f s: %s", script.label, elapsed, stdout_path.read_text("utf-8", "replace")[-2000:])
    if returncode != 0:
        raise ToolError(failure_message(script, returncode, stderr_path.read_text("utf-8", "replace")))
    return elapsed


def failure_message(script: EntryScript, returncode: int, stderr: str) -> str:
    """`<label> failed with exit status N: <last lines of stderr>`, with the out-of-memory advice when it fits."""
    tail = stderr.strip().splitlines()[-STDERR_TAIL_LINES:]
    message = " | ".join(tail) or "no message on stderr"
    cause = f"was killed by signal {-returncode}" if returncode < 0 else f"failed with exit status {returncode}"
    if "out of memory" in message.lower():
        message += f" ({script.oom_advice})"
    return f"{script.label} {cause}: {message}"


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group, then SIGKILL what is left of it once the leader exits or `KILL_GRACE_S` pass."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=KILL_GRACE_S)
    except subprocess.TimeoutExpired:
        pass
    # Members that ignored SIGTERM (or outlived the leader) still hold the group id until they are gone.
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()
