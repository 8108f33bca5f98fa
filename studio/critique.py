"""Judge a rendered clip: run the checks, combine them into a `Verdict`, propose a repair."""

from __future__ import annotations

from typing import TYPE_CHECKING

from studio.plan import Repair, Verdict

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np

    from studio.plan import Shot
    from studio.tools.base import Check


def judge(frames: np.ndarray, fps: float, shot: Shot, checks: Sequence[Check]) -> Verdict:
    results = [check.run(frames, fps, shot) for check in checks]
    failures = [result for result in results if not result.passed]
    score = min((result.score for result in results), default=1.0)
    repair = None
    if failures:
        names = ", ".join(result.check for result in failures)
        repair = Repair(action="rerender", new_seed=True, note=f"failed {names}: render again with a new seed")
    return Verdict(shot_id=shot.id, passed=not failures, score=score, checks=results, repair=repair)
