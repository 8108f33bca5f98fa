from __future__ import annotations

import pytest

from studio.agents.critic import route_after_critic
from studio.plan import CheckResult, Repair, Verdict
from studio.post import route_after_post


def _verdict(passed: bool, action: str | None) -> Verdict:
    check = CheckResult(check="black", passed=passed, score=1.0 if passed else 0.0, detail="")
    repair = Repair(action=action) if action else None  # type: ignore[arg-type]
    return Verdict(shot_id="a", passed=passed, score=check.score, checks=[check], repair=repair)


@pytest.mark.parametrize(
    ("verdicts", "pending", "expected"),
    [
        ({"a": _verdict(True, None)}, ["a"], "post"),
        ({"a": _verdict(False, "rerender")}, ["a"], "cinematographer"),
        ({"a": _verdict(False, "reverse")}, ["a"], "cinematographer"),
        ({"a": _verdict(False, "drop")}, ["a"], "post"),
        ({"a": _verdict(False, "rerender")}, [], "post"),
    ],
)
def test_route_after_critic(verdicts: dict[str, Verdict], pending: list[str], expected: str) -> None:
    assert route_after_critic({"verdicts": verdicts, "pending": pending}) == expected


@pytest.mark.parametrize(("awaiting", "expected"), [(None, "__end__"), ({"segment_id": "x"}, "review")])
def test_route_after_post(awaiting: dict[str, str] | None, expected: str) -> None:
    """A segment's thread ends after post, unless a person must approve the segment first."""
    assert route_after_post({"awaiting": awaiting}) == expected
