"""The showrunner's buffer watch: how much approved airtime is queued, how fast production makes more, and what the
next episode must therefore be — as planned, lean (shorter segments, fewer repairs), or lean with reruns of what
already aired filling the gap — with the reason in words.

On a GPU production is slower than real time, so this is the normal case: an episode of 21 s planned with 120 s
buffered and production making 0.1 on-air seconds per wall second cannot be made before the buffer runs dry, and
the channel would air its ident for minutes. The decision uses the same model as the playout gate
(`can_air_through`): an episode that starts airing when the buffer runs out must have each segment made before it
is due.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

NORMAL = "normal"
LEAN = "lean"
RERUNS = "reruns"

GAP_ALLOWANCE_S = 10.0
"""A gap between episodes a viewer accepts (a coming-up card and a moment of the ident): an episode whose first
segment is made within this much of the buffer running dry is in time."""
MIN_SEGMENT_SECONDS = 2.0
"""A lean segment is never shorter than this (a shot shorter than a second or two says nothing)."""


@dataclass(frozen=True)
class Strategy:
    """How the next episode is made, and why."""

    name: str = NORMAL
    """normal, lean (shorter segments and fewer repairs), or reruns (lean, no repairs, and reruns of aired segments
    fill the gaps between episodes until production catches up)."""
    segment_scale: float = 1.0
    """Each segment lasts its format's seconds times this."""
    max_repairs: int | None = None
    """Repairs a failing shot gets in this episode; None: the settings' `max_repairs`."""
    reason: str = ""


def segment_seconds(format_seconds: float, scale: float) -> float:
    """How long a segment of a format lasts in an episode planned at `scale` (1: as the format says)."""
    if scale >= 1:
        return format_seconds
    return round(max(MIN_SEGMENT_SECONDS, format_seconds * scale), 2)


def can_make_in_time(
    segments: Sequence[tuple[float, bool]], *, rate: float, margin: float, runway_s: float = 0.0
) -> bool:
    """Whether an episode whose segments are `(seconds, made)` in airing order, starting to air in `runway_s` wall
    seconds, can air through without a break: production (making `rate` on-air seconds per wall second, slowed by
    `margin` for safety) finishes each unmade segment before the segments ahead of it have aired."""
    airs_at = runway_s
    to_make = 0.0
    for length, made in segments:
        if not made:
            to_make += length
            if to_make * margin / rate > airs_at:
                return False
        airs_at += length
    return True


def choose_strategy(
    format_seconds: list[float],
    *,
    buffered_s: float,
    rate: float | None,
    margin: float,
    max_repairs: int,
    min_scale: float = 0.5,
    gap_allowance_s: float = GAP_ALLOWANCE_S,
) -> Strategy:
    """The strategy for an episode whose segments last `format_seconds` as planned, with `buffered_s` approved ahead
    of the playhead and production making `rate` on-air seconds per wall second (None: not measured yet)."""
    planned = sum(format_seconds)
    if rate is None or rate <= 0:
        return Strategy(reason="no production rate measured yet: the episode is made as planned")
    facts = f"{buffered_s:.0f} s buffered, production at {rate:.2f} on-air s per wall s"

    def in_time(scale: float) -> bool:
        lengths = [segment_seconds(length, scale) for length in format_seconds]
        return can_make_in_time(
            [(length, False) for length in lengths], rate=rate, margin=margin, runway_s=buffered_s + gap_allowance_s
        )

    if in_time(1.0):
        return Strategy(reason=f"{facts}: the {planned:.0f} s episode is made before the buffer runs dry")
    # Every repair renders a shot again: a lean episode affords at most one per shot (the measured rate includes
    # the repairs made so far, so the time saved is not counted in advance).
    lean_repairs = min(max_repairs, 1)
    scale = 1.0
    while scale > min_scale:
        scale = max(min_scale, round(scale - 0.1, 2))
        if in_time(scale):
            return Strategy(
                name=LEAN, segment_scale=scale, max_repairs=lean_repairs,
                reason=(
                    f"{facts}: at full length ({planned:.0f} s) the buffer runs dry before the episode is made;"
                    f" segments at {scale:.0%} of their length and at most {lean_repairs} repair per shot keep it on air"
                ),
            )  # fmt: skip
    return Strategy(
        name=RERUNS, segment_scale=min_scale, max_repairs=0,
        reason=(
            f"{facts}: even at {min_scale:.0%} length with no repairs the episode cannot be made before the buffer runs"
            " dry; reruns of aired segments fill the gap until production catches up"
        ),
    )  # fmt: skip
