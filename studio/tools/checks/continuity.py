"""Continuity: the rendered clip keeps the canonical colours of everything in shot (`Shot.palettes`).

A character whose blue sweater comes out red in the next clip is the drift this check catches. It has no mask of
where each figure is, so it asks what a colour check can answer without one: is each canonical colour there, the
way a figure of that colour would be?

- **Characters.** For each character in shot with a palette, its main colour and its second (skin, fur, face),
  when chromatic and distinct from the main, must each form a coherent region — the largest 8-connected patch of
  pixels within `tolerance` of the colour in CIEDE2000 (lightness weighted down by `K_L`: shade and light do not
  change a colour), after a 3x3 opening that removes anti-aliased edges and specks — of at least `min_region` of
  the picture, in at least `min_presence` of the sampled frames. The share of frames is deliberately low: a
  figure that walks out of shot or is carried off by a fast camera move is still in its opening frames, while a
  figure drawn in another colour shows its canonical colour in no frame at all.
- **The place.** Its background colours (the first two of its palette: wall or sky, floor or ground) must account
  for at least `place_share` of the coloured (chromatic) pixels of the frame border — pixels of the place's
  accents or of a character or prop in shot set aside — in at least `min_presence` of the frames that have
  enough coloured border to judge. Backdrops are lit unevenly, so the place's tolerance is wider.
- **Achromatic colours** (white, grey, black, cream, beige: CIE C*ab under `CHROMA_MIN`) are weak evidence —
  every white wall, highlight and shadow matches them — and never fail anything on their own: a character or
  place with nothing but achromatic main colours passes and is listed as `weak`.

When a colour is missing, what the picture shows instead is the largest coherent region of a chromatic colour
that no palette in shot explains ("the figure reads green"). Everything runs on up to `samples` frames at
`ANALYSIS_WIDTH` pixels wide; a colour difference is one table look-up per pixel (the RGB cube quantised to 32
levels a channel, ΔE2000 to each canonical colour computed once per colour).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from studio.colours import NAMED_COLOURS, parse_colour, to_hex
from studio.plan import CheckResult

if TYPE_CHECKING:
    from studio.critic.analysis import ClipAnalysis
    from studio.plan import Shot

ANALYSIS_WIDTH = 192
CHROMA_MIN = 22.0
"""CIE C*ab under which a colour is achromatic (white, grey, black, cream, beige): weak evidence."""
K_L = 1.5
"""CIEDE2000 lightness weight: a surface in shade or in light is still its colour (red stays red, not coral)."""
_BITS = 5  # the RGB cube is quantised to 32 levels a channel: one table look-up per pixel and colour
_STEP = 1 << (8 - _BITS)
_KERNEL = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))


# --- colour science ------------------------------------------------------------------------------------------------


def lab_of(rgb: np.ndarray | tuple[int, int, int]) -> np.ndarray:
    """CIE L*a*b* (D65) of sRGB 0–255 values, shape (..., 3)."""
    values = np.asarray(rgb, np.float32)
    lab = cv2.cvtColor(values.reshape(-1, 1, 3) / 255.0, cv2.COLOR_RGB2Lab)
    return lab.reshape(values.shape)


def delta_e2000(first: np.ndarray, second: np.ndarray, k_l: float = 1.0) -> np.ndarray:
    """CIEDE2000 colour difference between L*a*b* arrays (broadcast over leading axes). `k_l` > 1 discounts
    lightness, as for surfaces under changing light."""
    l1, a1, b1 = first[..., 0], first[..., 1], first[..., 2]
    l2, a2, b2 = second[..., 0], second[..., 1], second[..., 2]
    c_mean = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2
    g = 0.5 * (1 - np.sqrt(c_mean**7 / (c_mean**7 + 25.0**7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360
    both = c1p * c2p > 0
    dh = h2p - h1p
    dh = np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh)) * both
    d_l, d_c = l2 - l1, c2p - c1p
    d_h = 2 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh / 2))
    l_mean, cp_mean = (l1 + l2) / 2, (c1p + c2p) / 2
    h_sum = h1p + h2p
    wrapped = np.where(h_sum < 360, h_sum + 360, h_sum - 360) / 2
    h_mean = np.where(~both, h_sum, np.where(np.abs(h1p - h2p) <= 180, h_sum / 2, wrapped))
    t = (
        1
        - 0.17 * np.cos(np.radians(h_mean - 30))
        + 0.24 * np.cos(np.radians(2 * h_mean))
        + 0.32 * np.cos(np.radians(3 * h_mean + 6))
        - 0.20 * np.cos(np.radians(4 * h_mean - 63))
    )
    rotation = 30 * np.exp(-(((h_mean - 275) / 25) ** 2))
    r_c = 2 * np.sqrt(cp_mean**7 / (cp_mean**7 + 25.0**7))
    s_l = 1 + 0.015 * (l_mean - 50) ** 2 / np.sqrt(20 + (l_mean - 50) ** 2)
    s_c = 1 + 0.045 * cp_mean
    s_h = 1 + 0.015 * cp_mean * t
    r_t = -np.sin(np.radians(2 * rotation)) * r_c
    terms = (d_l / (k_l * s_l)) ** 2 + (d_c / s_c) ** 2 + (d_h / s_h) ** 2 + r_t * (d_c / s_c) * (d_h / s_h)
    return np.sqrt(np.maximum(terms, 0.0)).astype(np.float32)


@functools.lru_cache(maxsize=1)
def _cube_lab() -> np.ndarray:
    """L*a*b* of the centre of every cell of the quantised RGB cube, (32768, 3)."""
    levels = np.arange(1 << _BITS, dtype=np.float32) * _STEP + _STEP / 2
    r, g, b = np.meshgrid(levels, levels, levels, indexing="ij")
    return lab_of(np.stack([r, g, b], axis=-1).reshape(-1, 3))


@functools.lru_cache(maxsize=1)
def _cube_chroma() -> np.ndarray:
    lab = _cube_lab()
    return np.hypot(lab[:, 1], lab[:, 2]).astype(np.float32)


@functools.lru_cache(maxsize=512)
def distance_table(colour: str) -> np.ndarray:
    """ΔE2000 (lightness weighted by `K_L`) from `colour` (hex or a colour name) to every cell of the quantised RGB
    cube."""
    target = lab_of(parse_colour(colour))
    return delta_e2000(_cube_lab(), target[None, :], k_l=K_L)


def chroma(colour: str) -> float:
    lab = lab_of(parse_colour(colour))
    return float(np.hypot(lab[1], lab[2]))


def is_chromatic(colour: str) -> bool:
    return chroma(colour) >= CHROMA_MIN


def colour_distance(first: str, second: str) -> float:
    """ΔE2000 (lightness weighted by `K_L`) between two colours, as the check compares them."""
    return float(delta_e2000(lab_of(parse_colour(first)), lab_of(parse_colour(second)), k_l=K_L))


@functools.lru_cache(maxsize=512)
def colour_name(colour: str) -> str:
    """The nearest name in `NAMED_COLOURS` (ΔE2000)."""
    names = [name for name in NAMED_COLOURS if name != "gray"]
    labs = lab_of(np.array([NAMED_COLOURS[name] for name in names], np.float32))
    return names[int(np.argmin(delta_e2000(labs, lab_of(parse_colour(colour))[None, :])))]


def quantised(frames: np.ndarray) -> np.ndarray:
    """Cell index of every pixel in the quantised RGB cube, (T, h, w) int32."""
    q = (frames >> (8 - _BITS)).astype(np.int32)
    return (q[..., 0] << (2 * _BITS)) | (q[..., 1] << _BITS) | q[..., 2]


def _valid(colours: list[str]) -> list[str]:
    """Hex spellings of the colours that parse (a palette may hold names; a bad entry is skipped)."""
    valid = []
    for colour in colours:
        try:
            valid.append(to_hex(parse_colour(str(colour))))
        except ValueError:
            continue
    return valid


def phrase(name: str, palette: list[str], *, count: int = 2) -> str:
    """How a prompt says someone's canonical look, in the first `count` distinct colour names of their palette:
    "Pepito in red and cream"."""
    names = list(dict.fromkeys(colour_name(colour) for colour in _valid(palette)))[:count]
    if not names:
        return name
    said = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"{name} in {said}"


# --- measuring -----------------------------------------------------------------------------------------------------


def sample_frames(frames: np.ndarray, samples: int, width: int = ANALYSIS_WIDTH) -> np.ndarray:
    """Up to `samples` evenly spaced frames, resized to `width` pixels wide (area filter)."""
    count, height, frame_w = frames.shape[:3]
    indices = np.unique(np.linspace(0, count - 1, min(samples, count)).round().astype(int))
    small_w = min(width, frame_w)
    small_h = max(8, int(round(height * small_w / frame_w)))
    if small_w == frame_w:
        return np.ascontiguousarray(frames[indices])
    return np.stack([cv2.resize(frames[i], (small_w, small_h), interpolation=cv2.INTER_AREA) for i in indices])


def largest_regions(mask: np.ndarray, *, pixels: bool = False) -> tuple[np.ndarray, list[np.ndarray]]:
    """Per frame of a (T, h, w) mask: the share of the frame in its largest coherent region (8-connected, after a
    3x3 opening), and with `pixels` that region as a boolean mask per frame."""
    area = mask.shape[1] * mask.shape[2]
    shares = np.zeros(len(mask), np.float32)
    regions: list[np.ndarray] = []
    for index, frame in enumerate(mask):
        opened = cv2.morphologyEx(frame.astype(np.uint8), cv2.MORPH_OPEN, _KERNEL)
        region = np.zeros(frame.shape, bool)
        if opened.any():
            _, labels, stats, _ = cv2.connectedComponentsWithStats(opened, connectivity=8)
            best = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
            shares[index] = stats[best, cv2.CC_STAT_AREA] / area
            region = labels == best if pixels else region
        if pixels:
            regions.append(region)
    return shares, regions


def _border(height: int, width: int, fraction: float) -> np.ndarray:
    ring = np.zeros((height, width), bool)
    by, bx = max(1, int(round(height * fraction))), max(1, int(round(width * fraction)))
    ring[:by], ring[-by:], ring[:, :bx], ring[:, -bx:] = True, True, True, True
    return ring


@dataclass(frozen=True)
class Measured:
    """One canonical colour (or the place) and the sampled frames it is seen in."""

    name: str
    colour: str
    """Hex; for the place, its main chromatic colour."""
    role: str
    """`main`, `second` or `place`."""
    seen: np.ndarray
    """(S,) bool per sampled frame; for the place, per judged frame."""

    @property
    def share(self) -> float:
        return float(self.seen.mean()) if len(self.seen) else 1.0


class ContinuityCheck:
    """Fails when a character in shot (or the place) has lost a canonical colour: see the module docstring.

    The defaults — ΔE2000 12 (K_L 1.5) for figures and 20 for backdrops, a region of 0.1 % of the picture, seen in
    at least 20 % of 12 sampled frames (3 of them), half the coloured border for the place — are set on the
    procedural renderer's clips (benchmarks/critic.py): a correct clip's colours are seen in 40 % of the frames or
    more even when figures leave the picture, a drifted colour in almost none."""

    name = "continuity"

    def __init__(
        self,
        *,
        tolerance: float = 12.0,
        place_tolerance: float = 20.0,
        min_region: float = 0.001,
        min_presence: float = 0.2,
        place_share: float = 0.5,
        samples: int = 12,
        border: float = 0.15,
    ) -> None:
        self.tolerance = tolerance
        self.place_tolerance = place_tolerance
        self.min_region = min_region
        self.min_presence = min_presence
        self.place_share = place_share
        self.samples = samples
        self.border = border

    def run(self, clip: ClipAnalysis, shot: Shot) -> CheckResult:
        frames = clip.frames
        if not shot.palettes:
            return CheckResult(check="continuity", passed=True, score=1.0, detail="no canonical palettes")
        if len(frames) == 0:
            return CheckResult(check="continuity", passed=True, score=1.0, detail="no frames to compare")
        by_name = {name.casefold(): (name, _valid(list(colours))) for name, colours in shot.palettes.items()}
        small = sample_frames(frames, self.samples)
        cells = quantised(small)
        measured: list[Measured] = []
        weak: list[str] = []
        for character in dict.fromkeys(shot.characters):
            name, palette = by_name.get(character.casefold(), (character, []))
            if not palette:
                continue
            keys = self._key_colours(palette)
            if not keys:
                weak.append(name)
            for role, colour in keys:
                shares, _ = largest_regions(distance_table(colour)[cells] <= self.tolerance)
                measured.append(Measured(name, colour, role, shares >= self.min_region))
        place_name, place_palette = by_name.get(shot.place.casefold(), (shot.place, []))
        place = None
        if place_palette:
            others = [c for key, (_, p) in by_name.items() if key != shot.place.casefold() for c in p[:3]]
            place = self._place(cells, place_name, place_palette, others)
            if place is None:
                weak.append(place_name)
            else:
                measured.append(place)
        missing = [m for m in measured if m.share < self.min_presence]
        score = min([1.0, *(m.share / self.min_presence for m in measured)])
        evidence: dict[str, object] = {
            "samples": len(small),
            "shares": {f"{m.name}: {colour_name(m.colour)}": round(m.share, 3) for m in measured},
            "weak": weak,
        }
        if not missing:
            shown = ", ".join(f"{m.name} {colour_name(m.colour)} in {m.share:.0%}" for m in measured)
            detail = f"canonical colours seen: {shown}" if shown else "nothing but achromatic colours to hold to"
            if weak:
                detail += f" (achromatic, weak evidence: {', '.join(weak)})"
            return CheckResult(check="continuity", passed=True, score=score, detail=detail, evidence=evidence)
        reads = self._reads(
            cells, [p for key, (_, p) in by_name.items() if key != shot.place.casefold()], place_palette
        )
        lines: list[str] = []
        emphasise: list[str] = []
        for name in dict.fromkeys(m.name for m in missing):
            lost = [m for m in missing if m.name == name]
            absent = max(int(round((1 - m.share) * len(m.seen))) for m in lost)
            frames_said = f"in {absent} of {max(len(m.seen) for m in lost)} frames"
            if lost[0].role == "place":
                said = " or ".join(colour_name(c) for c in place_palette[:2] if is_chromatic(c))
                lines.append(
                    f"{name}: the background is not {said} {frames_said}" + (f"; it reads {reads}" if reads else "")
                )
                emphasise.append(phrase(f"the {name}", place_palette, count=3))
            else:
                colours = " and ".join(f"{colour_name(m.colour)} ({m.colour})" for m in lost)
                instead = f"the figure reads {reads}" if reads else "the picture shows only the shot's other colours"
                verb = "is" if len(lost) == 1 else "are"
                lines.append(f"{name}: {colours} {verb} missing {frames_said}; {instead}")
                emphasise.append(phrase(name, by_name[name.casefold()][1]))
        evidence["missing"] = [
            {"name": m.name, "colour": colour_name(m.colour), "hex": m.colour, "role": m.role,
             "share": round(m.share, 3), "reads": reads}
            for m in missing
        ]  # fmt: skip
        evidence["emphasise"] = list(dict.fromkeys(emphasise))
        return CheckResult(check="continuity", passed=False, score=score, detail="; ".join(lines), evidence=evidence)

    def _key_colours(self, palette: list[str]) -> list[tuple[str, str]]:
        """The main colour and the second, each when chromatic; the second only when it is not the main again."""
        keys: list[tuple[str, str]] = []
        for role, colour in zip(("main", "second"), palette[:2], strict=False):
            if not is_chromatic(colour):
                continue
            if keys and colour_distance(keys[0][1], colour) <= self.tolerance:
                continue
            keys.append((role, colour))
        return keys

    def _place(self, cells: np.ndarray, name: str, palette: list[str], others: list[str]) -> Measured | None:
        """Whether the place's background colours (its first two) account for the coloured border, in frames with
        coloured border to judge; None when neither is chromatic (weak evidence). Border pixels of the place's
        accents or of a character or prop in shot are set aside."""
        background = [colour for colour in palette[:2] if is_chromatic(colour)]
        if not background:
            return None
        ring = _border(cells.shape[1], cells.shape[2], self.border)
        border = cells[:, ring]
        aside = np.zeros(border.shape, bool)
        for colour in [*palette[2:], *others]:
            aside |= distance_table(colour)[border] <= self.tolerance
        placed = np.zeros(border.shape, bool)
        for colour in background:
            placed |= distance_table(colour)[border] <= self.place_tolerance
        coloured = (_cube_chroma()[border] >= CHROMA_MIN * 0.7) & (placed | ~aside)
        counts = coloured.sum(axis=1)
        judged = counts >= 0.08 * border.shape[1]
        if judged.sum() < max(2, 0.25 * len(cells)):
            return Measured(name, background[0], "place", np.ones(0, bool))
        share = (placed & coloured).sum(axis=1)[judged] / counts[judged]
        return Measured(name, background[0], "place", share >= self.place_share)

    def _reads(self, cells: np.ndarray, palettes: list[list[str]], place_palette: list[str]) -> str:
        """The colour of the largest coherent chromatic region that no palette in shot explains, when there is one
        in at least `min_presence` of the frames; else ""."""
        explained = np.zeros(cells.shape, bool)
        for colour in {c for palette in palettes for c in palette}:
            explained |= distance_table(colour)[cells] <= self.tolerance
        for colour in place_palette:
            explained |= distance_table(colour)[cells] <= self.place_tolerance
        stray = (_cube_chroma()[cells] >= CHROMA_MIN) & ~explained
        shares, regions = largest_regions(stray, pixels=True)
        found = shares >= self.min_region
        if found.mean() < self.min_presence:
            return ""
        picked = np.concatenate([cells[index][regions[index]] for index in np.flatnonzero(found)])
        mask = (1 << _BITS) - 1
        channels = ((picked >> (2 * _BITS)) & mask, (picked >> _BITS) & mask, picked & mask)
        rgb = tuple(int(np.median(channel)) * _STEP + _STEP // 2 for channel in channels)
        return colour_name(to_hex(rgb))  # type: ignore[arg-type]
