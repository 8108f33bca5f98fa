"""Colour adherence: the colour the prompt gives its subject ("green pumpkin") against the measured hue of the
moving subject region (from the shared motion analysis)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from studio.colours import NAMED_COLOURS
from studio.plan import CheckResult
from studio.tools.checks.motion import colour_mask

if TYPE_CHECKING:
    from studio.critic.analysis import ClipAnalysis
    from studio.plan import Shot

_SHADES = {"light", "pale", "dark", "deep", "bright", "vivid"}
# Words between a colour and its noun that do not break the pairing ("green striped pumpkin").
_FILLERS = {"and", "striped", "spotted", "shiny", "glossy", "ripe", "little", "big", "small", "large", "old", "new"}


@dataclass(frozen=True)
class ColourClaim:
    """A colour the prompt gives to a subject."""

    colour: str
    subject: str


def colour_claims(shot: Shot) -> list[ColourClaim]:
    """Colours attached to the shot's moving subjects: from their names ("green pumpkin"), else from the prompt
    words right before a subject's noun, else — for a free prompt with no cast, as `studio critique` gets — the
    first colour + noun in the prompt."""
    claims: list[ColourClaim] = []
    for motion in shot.motion.subjects:
        for word in re.findall(r"[a-z]+", motion.subject.lower()):
            if word in NAMED_COLOURS:
                claims.append(ColourClaim(word, motion.subject))
                break
    if claims:
        return claims
    tokens = re.findall(r"[a-z]+", shot.prompt.lower())
    nouns = {word for motion in shot.motion.subjects for word in re.findall(r"[a-z]+", motion.subject.lower())}
    nouns |= {word for name in [*shot.characters, *shot.props] for word in re.findall(r"[a-z]+", name.lower())}
    pairs: list[ColourClaim] = []
    for index, token in enumerate(tokens):
        if token not in NAMED_COLOURS:
            continue
        following = [word for word in tokens[index + 1 : index + 4] if word not in _FILLERS and word not in _SHADES]
        if following and following[0] not in NAMED_COLOURS:
            pairs.append(ColourClaim(token, following[0]))
    matching = [pair for pair in pairs if pair.subject in nouns]
    if matching or shot.characters or shot.props:
        # A composed prompt describes every character and the topic too ("green pea falafel"): only colours
        # attached to a named moving subject are that subject's colour.
        return matching
    return pairs[:1]


def _hue_name(hue_deg: float, saturation: float, value: float) -> str:
    """The nearest named colour to a measured HSV (degrees, 0–255, 0–255)."""
    best, best_gap = "grey", 1e9
    for name, rgb in NAMED_COLOURS.items():
        ref = cv2.cvtColor(np.uint8([[rgb]]), cv2.COLOR_RGB2HSV_FULL)[0, 0].astype(float)
        if saturation < 60:
            gap = abs(ref[2] - value) + (0 if ref[1] < 60 else 200)
        else:
            hue_gap = abs(ref[0] * 360 / 256 - hue_deg) % 360
            gap = min(hue_gap, 360 - hue_gap) * 2 + abs(ref[2] - value) * 0.3 + (200 if ref[1] < 60 else 0)
        if gap < best_gap:
            best, best_gap = name, gap
    return best


def _hue_of(colour: str) -> float:
    rgb = np.uint8([[NAMED_COLOURS[colour]]])
    return float(cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV_FULL)[0, 0, 0]) * 360 / 256


def _achromatic(colour: str) -> bool:
    rgb = np.uint8([[NAMED_COLOURS[colour]]])
    return int(cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV_FULL)[0, 0, 1]) < 60


def _saturated(small: np.ndarray) -> np.ndarray:
    hsv = np.stack([cv2.cvtColor(frame, cv2.COLOR_RGB2HSV_FULL) for frame in small])
    return (hsv[..., 1] >= 70) & (hsv[..., 2] > 40)


class ColourCheck:
    """Fails when the moving subject region does not show the colour the prompt names for it.

    Passes when at least `min_share` of the region's pixels match the named colour (hue within ±35° for
    chromatic colours, lightness for greys). Without a moving region it looks for the colour anywhere in the
    picture (at least `min_share_anywhere` of it)."""

    name = "colour"

    def __init__(self, min_share: float = 0.25, min_share_anywhere: float = 0.01) -> None:
        self.min_share = min_share
        self.min_share_anywhere = min_share_anywhere

    def run(self, clip: ClipAnalysis, shot: Shot) -> CheckResult:
        claims = [claim for claim in colour_claims(shot) if claim.colour in NAMED_COLOURS]
        if not claims:
            return CheckResult(check="colour", passed=True, score=1.0, detail="no colour named for a subject")
        analysis = clip.motion
        small = analysis.small[:-1] if analysis.pairs else analysis.small
        region = analysis.moving if analysis.pairs else np.zeros(small.shape[:3], bool)
        use_region = region.mean() >= 0.003
        measured: list[dict[str, object]] = []
        failures: list[str] = []
        score = 1.0
        for claim in claims:
            matches = colour_mask(small, claim.colour)
            where = region if use_region else np.ones_like(region)
            if use_region and not _achromatic(claim.colour):
                # Text, lines and grey scenery can move too; a subject's colour is judged among coloured pixels.
                coloured = where & _saturated(small)
                where = coloured if coloured.sum() >= 0.001 * where.size else where
            share = float(matches[where].mean()) if where.any() else 0.0
            needed = self.min_share if use_region else self.min_share_anywhere
            seen, peak_hue = self._dominant(small, where)
            if use_region and not _achromatic(claim.colour) and peak_hue is not None:
                # The region's main hue decides; a share alone can come from coloured scenery moving past.
                gap = abs(peak_hue - _hue_of(claim.colour)) % 360
                if min(gap, 360 - gap) > 40 and share < 2 * needed:
                    share = min(share, needed * 0.99)
            measured.append(
                {"colour": claim.colour, "subject": claim.subject, "share": round(share, 3), "seen": seen,
                 "region": "moving subject" if use_region else "whole frame"}
            )  # fmt: skip
            if share < needed:
                failures.append(
                    f"{claim.subject} should be {claim.colour} but looks {seen} ({share:.0%} {claim.colour})"
                )
            score = min(score, min(1.0, share / needed))
        where_text = "moving region" if use_region else "whole frame (no moving region)"
        detail = (
            "; ".join(failures)
            if failures
            else ", ".join(f"{m['subject']}: {m['share']:.0%} {m['colour']} in the {where_text}" for m in measured)
        )
        return CheckResult(
            check="colour", passed=not failures, score=score, detail=detail, evidence={"claims": measured}
        )

    @staticmethod
    def _dominant(small: np.ndarray, where: np.ndarray) -> tuple[str, float | None]:
        """The nearest colour name to the region's main colour, and its hue in degrees (None for greys)."""
        if not where.any():
            return "nothing", None
        hsv = np.stack([cv2.cvtColor(frame, cv2.COLOR_RGB2HSV_FULL) for frame in small])[where].astype(float)
        saturated = hsv[hsv[:, 1] >= 70]
        if len(saturated) >= 0.25 * len(hsv):
            hues = saturated[:, 0] * 360 / 256
            histogram, edges = np.histogram(hues, bins=24, range=(0, 360))
            peak = int(np.argmax(histogram))
            in_peak = saturated[(hues >= edges[peak]) & (hues < edges[peak + 1])]
            hue = float(np.median(hues[(hues >= edges[peak]) & (hues < edges[peak + 1])]))
            return _hue_name(hue, float(in_peak[:, 1].mean()), float(in_peak[:, 2].mean())), hue
        return _hue_name(0.0, float(hsv[:, 1].mean()), float(hsv[:, 2].mean())), None
