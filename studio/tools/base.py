"""One small protocol per kind of tool, and the request/result types they share.

Every backend writes its result to the path it is given and returns a description of that file. Clips between
stages are files (lossless FFV1 in Matroska by default), never arrays held in graph state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy as np

    from studio.critic.analysis import ClipAnalysis
    from studio.plan import CheckResult, MotionSpec, Shot


@dataclass(frozen=True)
class Figure:
    """Something drawn in the scene: a character or a prop, with its colours from the show file."""

    name: str
    palette: tuple[str, ...]
    """Hex colours, main colour first."""
    kind: str = "character"
    """`character` or `prop`."""


@dataclass(frozen=True)
class SceneHint:
    """Structured scene facts for renderers that cannot read prompts (the procedural renderer).

    Real text-to-video backends ignore it: for them everything is in the prompt.
    """

    place: str
    place_palette: tuple[str, ...]
    """Hex colours of the place, background first."""
    figures: tuple[Figure, ...] = ()
    style_palette: tuple[str, ...] = ()


@dataclass(frozen=True)
class VideoRequest:
    prompt: str
    negative_prompt: str
    motion: MotionSpec
    width: int
    height: int
    num_frames: int
    fps: float
    seed: int
    scene: SceneHint
    shot_id: str = ""


@dataclass(frozen=True)
class Clip:
    path: Path
    fps: float
    num_frames: int
    width: int
    height: int
    backend: str
    """Which backend wrote this file, for the decision log."""

    @property
    def seconds(self) -> float:
        return self.num_frames / self.fps


@dataclass(frozen=True)
class MusicRequest:
    prompt: str
    """Mood words: "upbeat bossa nova with brushed drums"."""
    seconds: float
    seed: int
    tempo_bpm: float | None = None
    key: str | None = None
    sample_rate: int = 48_000


@dataclass(frozen=True)
class AudioTrack:
    path: Path
    sample_rate: int
    channels: int
    seconds: float
    backend: str


@dataclass(frozen=True)
class BackendStatus:
    """What `studio doctor` prints for one backend."""

    kind: str
    name: str
    available: bool
    reason: str
    selected: bool = False


@runtime_checkable
class VideoGenerator(Protocol):
    name: str

    def generate(self, request: VideoRequest, output_path: Path) -> Clip: ...


@runtime_checkable
class Upscaler(Protocol):
    name: str

    def upscale(self, clip: Clip, request: VideoRequest, width: int, height: int, output_path: Path) -> Clip:
        """Bring `clip` to width x height. Diffusion upscalers use the SAME prompt as the first pass."""
        ...


@runtime_checkable
class Extender(Protocol):
    name: str

    def extend(self, clip: Clip, request: VideoRequest, num_frames: int, output_path: Path) -> Clip:
        """Continue `clip` seamlessly until it has `num_frames` frames (at the clip's own fps)."""
        ...


@runtime_checkable
class Interpolator(Protocol):
    name: str

    def interpolate(self, clip: Clip, fps: float, output_path: Path) -> Clip:
        """Resample `clip` to `fps` by synthesising in-between frames; duration is unchanged."""
        ...


@runtime_checkable
class MusicGenerator(Protocol):
    name: str

    def generate(self, request: MusicRequest, output_path: Path) -> AudioTrack:
        """Write a stereo WAV at `request.sample_rate` lasting exactly `request.seconds`."""
        ...


@runtime_checkable
class Check(Protocol):
    """One critic check over a clip's `ClipAnalysis` (decoded frames, uint8 (T, H, W, 3) RGB, and the analyses
    the checks share: flow, OCR readings, luma). A check keeps nothing about a clip on itself, so one instance
    judges several clips at once; one that cannot run here passes with `evidence["available"] = False`."""

    name: str

    def run(self, clip: ClipAnalysis, shot: Shot) -> CheckResult: ...


@dataclass
class Toolkit:
    """The backends one station uses, chosen once by the registry."""

    video: VideoGenerator
    upscaler: Upscaler
    extender: Extender
    interpolator: Interpolator
    music: MusicGenerator
    checks: list[Check] = field(default_factory=list)
    statuses: list[BackendStatus] = field(default_factory=list)
    fallbacks: dict[str, Callable[[], Any]] = field(default_factory=dict)
    """Tool kind → factory of its embedded backend, for kinds whose selected backend is not the embedded one:
    a shot whose backend fails mid-run is finished by it."""
    _fallback_instances: dict[str, Any] = field(default_factory=dict, repr=False)

    KINDS = {"video": "video", "upscale": "upscaler", "extend": "extender", "interpolate": "interpolator",
             "music": "music"}  # fmt: skip

    def drawn_frames(self, path: Path) -> tuple[np.ndarray, float] | None:
        """The frames (and fps) the embedded renderer drew for the clip at `path`, handed over once to the critic
        so it need not decode the file (`studio.tools.drawn_frames`); None when no renderer of this toolkit still
        holds them."""
        for backend in (self.video, self._fallback_instances.get("video")):
            drawn = getattr(backend, "drawn", None)
            if drawn is not None and (taken := drawn.take(path)) is not None:
                return taken
        return None

    def backend(self, kind: str) -> Any:
        """The selected backend of a tool kind (`video`, `upscale`, `extend`, `interpolate`, `music`)."""
        return getattr(self, self.KINDS[kind])

    def fallback(self, kind: str) -> Any | None:
        """The embedded backend that takes over `kind` when the selected one fails, or None when the selected one
        is already the embedded backend (or no fallback is known)."""
        if kind not in self.fallbacks:
            return None
        if kind not in self._fallback_instances:
            self._fallback_instances[kind] = self.fallbacks[kind]()
        return self._fallback_instances[kind]
