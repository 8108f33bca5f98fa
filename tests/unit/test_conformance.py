"""One conformance test over every registered embedded backend: each does its kind's job, through the protocol.

Called with a real request, each writes the file it was given and describes it truthfully: frames, size, frame
rate and duration as asked, readable back, labelled with its own name (the log says which backend ran). The GPU
backends keep the same contract on tiny random models in their own test files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from studio.config import Settings
from studio.plan import CameraMove, MotionSpec, SubjectMotion
from studio.tools.base import (
    AudioTrack,
    Clip,
    Extender,
    Figure,
    Interpolator,
    MusicGenerator,
    MusicRequest,
    SceneHint,
    Upscaler,
    VideoGenerator,
    VideoRequest,
)
from studio.tools.media import probe, read_video, read_wav
from studio.tools.registry import BACKENDS, BackendSpec, _load

EMBEDDED = [spec for spec in BACKENDS if spec.embedded]
PROTOCOLS = {"video": VideoGenerator, "upscale": Upscaler, "extend": Extender, "interpolate": Interpolator,
             "music": MusicGenerator}  # fmt: skip
REQUEST = VideoRequest(
    prompt="a small orange robot rolls from left to right across a white lab",
    negative_prompt="text",
    motion=MotionSpec(
        camera=CameraMove(kind="pan", direction="right"),
        subjects=[SubjectMotion(subject="Bo", action="rolls", direction="right")],
    ),
    width=160, height=96, num_frames=12, fps=8.0, seed=3,
    scene=SceneHint(place="lab", place_palette=("white", "blue"), figures=(Figure("Bo", ("orange", "white")),)),
)  # fmt: skip


def first_clip(tmp_path: Path) -> Clip:
    from studio.tools.video_procedural import ProceduralVideoGenerator

    return ProceduralVideoGenerator(Settings()).generate(REQUEST, tmp_path / "first.mkv")


def check_clip(clip: Clip, path: Path, *, frames: int, width: int, height: int, fps: float, backend: str) -> None:
    assert clip.path == path and path.is_file()
    assert (clip.num_frames, clip.width, clip.height, clip.fps, clip.backend) == (frames, width, height, fps, backend)
    decoded, decoded_fps = read_video(path)
    assert decoded.shape == (frames, height, width, 3) and decoded_fps == pytest.approx(fps)
    assert decoded.std() > 5, "a picture, not a flat frame"
    assert clip.seconds == pytest.approx(frames / fps)


def run(spec: BackendSpec, backend: Any, tmp_path: Path) -> None:
    out = tmp_path / f"{spec.kind}-out.mkv"
    match spec.kind:
        case "video":
            clip = backend.generate(REQUEST, out)
            check_clip(clip, out, frames=12, width=160, height=96, fps=8.0, backend=spec.name)
        case "extend":
            clip = backend.extend(first_clip(tmp_path), REQUEST, 30, out)
            check_clip(clip, out, frames=30, width=160, height=96, fps=8.0, backend=spec.name)
        case "upscale":
            clip = backend.upscale(first_clip(tmp_path), REQUEST, 320, 192, out)
            check_clip(clip, out, frames=12, width=320, height=192, fps=8.0, backend=spec.name)
        case "interpolate":
            out = out.with_suffix(".mp4")
            clip = backend.interpolate(first_clip(tmp_path), 24.0, out)
            check_clip(clip, out, frames=36, width=160, height=96, fps=24.0, backend=spec.name)
            assert probe(out).video_seconds == pytest.approx(1.5, abs=0.05), "duration kept"
        case "music":
            out = out.with_suffix(".wav")
            track: AudioTrack = backend.generate(MusicRequest(prompt="calm", seconds=2.5, seed=1), out)
            samples, rate = read_wav(out)
            assert (track.path, track.sample_rate, track.channels, track.backend) == (out, 48_000, 2, spec.name)
            assert rate == 48_000 and samples.shape == (120_000, 2) and track.seconds == pytest.approx(2.5)
            assert np.abs(samples).max() > 0.05, "sound, not silence"
        case _:
            pytest.fail(f"no conformance check for kind {spec.kind!r}")


def test_every_kind_has_an_embedded_backend() -> None:
    assert {spec.kind for spec in EMBEDDED} == set(PROTOCOLS)


@pytest.mark.parametrize("spec", EMBEDDED, ids=lambda spec: f"{spec.kind}:{spec.name}")
def test_embedded_backend_conforms(spec: BackendSpec, tmp_path: Path) -> None:
    cls = _load(spec)
    assert cls is not None and cls.name == spec.name
    settings = Settings()
    available, reason = cls.availability(settings)
    assert available and reason.startswith("embedded CPU backend")
    backend = cls(settings)
    assert isinstance(backend, PROTOCOLS[spec.kind])
    run(spec, backend, tmp_path)
