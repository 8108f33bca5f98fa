"""Critic checks over decoded frames. Each is a `studio.tools.base.Check`."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from studio.tools.base import Check


def default_checks() -> list[Check]:
    """The checks every rendered clip goes through, in the order they are reported."""
    from studio.tools.checks.artifacts import BlackFramesCheck, DurationCheck, FrozenFramesCheck

    return [DurationCheck(), BlackFramesCheck(), FrozenFramesCheck()]
