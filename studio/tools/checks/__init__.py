"""Critic checks over decoded frames. Each is a `studio.tools.base.Check`."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from studio.tools.base import Check


def default_checks(*, text: bool = True) -> list[Check]:
    """The checks every rendered clip goes through, in the order they are reported.

    The motion-based checks share one optical-flow analysis per clip. `text=False` leaves out OCR (about a
    second per sampled frame) for callers that cannot afford it."""
    from studio.tools.checks.artifacts import (
        BlackFramesCheck,
        DurationCheck,
        DynamicDegreeCheck,
        FlickerCheck,
        FrozenFramesCheck,
        MovingLinesCheck,
    )
    from studio.tools.checks.colour import ColourCheck
    from studio.tools.checks.continuity import ContinuityCheck
    from studio.tools.checks.motion import DirectionCheck, ReversalCheck

    checks: list[Check] = [
        DurationCheck(),
        BlackFramesCheck(),
        FrozenFramesCheck(),
        ReversalCheck(),
        DirectionCheck(),
        ColourCheck(),
        ContinuityCheck(),
        MovingLinesCheck(),
        FlickerCheck(),
        DynamicDegreeCheck(),
    ]
    if text:
        from studio.tools.checks.text import TextCheck

        checks.append(TextCheck())
    return checks
