"""What the agents write: episode plans, segment scripts, shots, motion specs and verdicts.

The models whose names end in `Plan`, `Script`, `List` or `Design` are the structured outputs an LLM returns; the
offline director returns the same types. `Shot` is composed from a `ShotDesign` by the cinematographer so that
every prompt carries the full descriptions from the show file whatever wrote the design.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from studio.model_docs import DocumentedModel

CameraKind = Literal["static", "pan", "tilt", "zoom", "dolly", "truck", "pedestal"]
Direction = Literal["none", "left", "right", "up", "down", "in", "out", "toward_camera", "away_from_camera"]
Speed = Literal["slow", "medium", "fast"]
CheckName = Literal[
    "duration",
    "black",
    "frozen",
    "reversed",
    "direction",
    "text",
    "colour",
    "artifact",
    "flicker",
    "dynamic",
    "vision",
    "continuity",
]

# Camera kinds and the directions that make sense for them.
CAMERA_DIRECTIONS: dict[str, tuple[str, ...]] = {
    "static": ("none",),
    "pan": ("left", "right"),
    "truck": ("left", "right"),
    "tilt": ("up", "down"),
    "pedestal": ("up", "down"),
    "zoom": ("in", "out"),
    "dolly": ("in", "out"),
}


class _Model(DocumentedModel):
    model_config = ConfigDict(extra="forbid")


class CameraMove(_Model):
    kind: CameraKind = "static"
    """static, pan (turns left/right), tilt (turns up/down), zoom (in/out), dolly (moves in/out), truck (moves
    left/right), pedestal (moves up/down)."""
    direction: Direction = "none"
    """Which way the camera goes; `none` only for static."""
    speed: Speed = "slow"
    """How fast the move is."""

    def describe(self) -> str:
        if self.kind == "static" or self.direction == "none":
            return "the camera holds still on a locked-off tripod"
        verbs = {
            "pan": f"pans {_towards(self.direction)}",
            "truck": f"glides sideways {_towards(self.direction)}",
            "tilt": f"tilts {self.direction}",
            "pedestal": f"rises {self.direction}" if self.direction == "up" else "lowers down",
            "zoom": "zooms in" if self.direction == "in" else "zooms out",
            "dolly": "pushes in toward the subject" if self.direction == "in" else "pulls back away from the subject",
        }
        return f"the camera {verbs[self.kind]} at a {self.speed} steady speed"


class SubjectMotion(_Model):
    subject: str
    """Who or what moves: a character or prop name from the show file."""
    action: str
    """The movement as a verb phrase: "walks", "slides the pan", "falls"."""
    direction: Direction
    """Which way the subject moves in the picture."""
    speed: Speed = "medium"
    """How fast."""

    def describe(self) -> str:
        where = {
            "none": "in place",
            "left": "from right to left across the frame",
            "right": "from left to right across the frame",
            "up": "upward",
            "down": "downward",
            "in": "toward the camera",
            "out": "away from the camera",
            "toward_camera": "toward the camera",
            "away_from_camera": "away from the camera",
        }[self.direction]
        return f"{self.subject} {self.action} {where} at a {self.speed} pace, moving forward in time naturally"


class MotionSpec(_Model):
    camera: CameraMove = CameraMove()
    """The camera's move for the whole shot."""
    subjects: list[SubjectMotion] = []
    """Each moving subject with its direction and speed."""

    def describe(self) -> str:
        parts = [self.camera.describe()] + [motion.describe() for motion in self.subjects]
        return "; ".join(parts)


def _towards(direction: str) -> str:
    return {"left": "from right to left", "right": "from left to right"}.get(direction, direction)


# --- showrunner ---------------------------------------------------------------------------------------------------


class SegmentOutline(_Model):
    format: str
    """Name of a segment format from the show file."""
    title: str
    """Title of this segment in the rundown."""
    summary: str
    """One or two sentences: what happens."""


class EpisodePlan(_Model):
    number: int = Field(ge=1)
    """Episode number on this channel."""
    title: str
    """Episode title."""
    topic: str
    """What this episode is about (dish, animal, case …)."""
    logline: str
    """One sentence pitch."""
    segments: list[SegmentOutline] = Field(min_length=1)
    """The rundown of this episode, in airing order."""


# --- screenwriter ---------------------------------------------------------------------------------------------------


class Beat(_Model):
    description: str
    """What the audience sees, concretely, in one sentence."""
    characters: list[str]
    """Who is on screen (names from the show file)."""
    place: str
    """Where (a place name from the show file)."""
    props: list[str] = []
    """Props on screen (names from the show file)."""
    seconds: float = Field(gt=0, le=120)
    """Screen time of this beat."""


class SegmentScript(_Model):
    title: str
    """Segment title (from the outline)."""
    format: str
    """Segment format name."""
    mood: str
    """Music mood for this segment: words for the score."""
    beats: list[Beat] = Field(min_length=1)
    """The beats, in order."""


# --- cinematographer -------------------------------------------------------------------------------------------------


class ShotDesign(_Model):
    beat_index: int = Field(ge=0)
    """Which beat this shot covers."""
    framing: str
    """Shot size and angle in plain words: "wide shot at eye level", "close-up from slightly below"."""
    action: str
    """What happens in the shot, in plain visual words (no camera brands, no text on screen)."""
    camera: CameraMove
    """The camera move."""
    subjects: list[SubjectMotion] = []
    """Moving subjects with explicit direction and speed."""
    characters: list[str] = []
    """Characters in shot (names from the show file)."""
    place: str
    """Place name from the show file."""
    props: list[str] = []
    """Props in shot (names from the show file)."""
    seconds: float = Field(gt=0, le=120)
    """Shot length on air."""


class ShotList(_Model):
    shots: list[ShotDesign] = Field(min_length=1)
    """Shots in order."""


class Shot(_Model):
    """A shot ready to render: composed prompt plus everything the tools and the critic need."""

    id: str
    """Stable id: `e0001-s02-sh03`."""
    segment_index: int
    beat_index: int
    prompt: str
    negative_prompt: str
    motion: MotionSpec
    characters: list[str] = []
    place: str
    props: list[str] = []
    seed: int
    seconds: float
    attempt: int = 0
    """0 for the first render; each repair adds one."""
    reverse_only: bool = False
    """Repair by playing the last render backwards instead of rendering again."""
    removed_words: list[str] = []
    """Words the critic's repairs took out of this shot's prompt so far."""
    palettes: dict[str, list[str]] = {}
    """Canonical colours (hex, main first) of everything in shot, by name — characters, props and the place — as
    the memory held them when the shot was designed: the renderer draws them, the continuity check holds to them."""
    design: ShotDesign
    written_prompt: str = ""
    """A prompt a person wrote for this shot (re-prompt); repairs work on it instead of composing from `design`."""


# --- critic ---------------------------------------------------------------------------------------------------------


class CheckResult(_Model):
    check: CheckName
    passed: bool
    score: float = Field(ge=0.0, le=1.0)
    """1.0 is a clean pass; the threshold is the check's own."""
    detail: str
    """Measured values a person can read."""
    evidence: dict[str, object] = {}
    """Frame indices, boxes, flow summary."""


class Repair(_Model):
    action: Literal["rerender", "reverse", "drop"]
    """`rerender` with the changes below, `reverse` the clip in time, or `drop` the shot."""
    remove_words: list[str] = []
    """Words to take out of the prompt (leaked text)."""
    add_negative: list[str] = []
    """Words to add to the negative prompt."""
    restate_motion: bool = False
    """Spell out the intended direction again, more emphatically."""
    emphasise: list[str] = []
    """Phrases the render ignored, to state again more emphatically ("green pumpkin" when it came out orange)."""
    new_seed: bool = True
    note: str = ""
    """Why, for the log."""


class Verdict(_Model):
    shot_id: str
    passed: bool
    score: float = Field(ge=0.0, le=1.0)
    checks: list[CheckResult]
    repair: Repair | None = None

    @property
    def failures(self) -> list[CheckResult]:
        return [check for check in self.checks if not check.passed]


# --- steering ---------------------------------------------------------------------------------------------------


class TraitRequest(_Model):
    name: str
    """The character (or place, or prop) whose look changes, named as in the show bible."""
    trait: str
    """The change in plain visual words, said of them: "wears a red bandana", "has green glasses"."""


class NoteRequests(_Model):
    """What a producer's note asks for (the showrunner's reading of it)."""

    topic: str = ""
    """A topic for the next episode, when the note asks for one."""
    direction: str = ""
    """Anything else the next plan should follow (pacing, who is in it, a mood), in the producer's words."""
    traits: list[TraitRequest] = []
    """Changes to how a character, place or prop looks, from now on."""
    not_understood: list[str] = []
    """Parts of the note that are neither, quoted: said, never guessed."""
