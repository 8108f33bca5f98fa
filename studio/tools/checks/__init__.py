"""Critic checks over a clip's `studio.critic.analysis.ClipAnalysis`. Each is a `studio.tools.base.Check`."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from studio.tools.base import Check


def default_checks(*, text: bool = True) -> list[Check]:
    """The checks every rendered clip goes through, in the order they are reported.

    The motion-based checks share the clip's one optical-flow analysis (`ClipAnalysis.motion`). `text=False`
    leaves out OCR (about 0.1 s of CPU per sampled frame at 576 px, 4 frames a clip) for callers that cannot afford
    it."""
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
