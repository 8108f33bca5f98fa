"""The procedural renderer and extender: real files, read back and measured with optical flow."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from studio.config import Settings
from studio.plan import CameraMove, MotionSpec, SubjectMotion
from studio.tools.base import Clip, Figure, SceneHint, VideoRequest
from studio.tools.media import probe, read_video, write_video
from studio.tools.video_procedural import (
    CAMERA_RATES,
    ProceduralExtender,
    ProceduralVideoGenerator,
    ShotRenderer,
)

KITCHEN = SceneHint(
    place="kitchen",
    place_palette=("cream", "brown", "teal", "red"),
    figures=(
        Figure("Rosa", ("red", "peach", "navy")),
        Figure("Milo", ("green", "tan")),
        Figure("pumpkin", ("orange",), kind="prop"),
    ),
)
# A marker colour that appears nowhere else in the scene, so the subject can be found by colour.
MARKED = SceneHint(
    place="studio floor",
    place_palette=("#8c8c8c", "#5a5a5a", "#a0a0b4"),
    figures=(Figure("Blip", ("#ff00ff", "#ff00ff", "#ff00ff")), Figure("Crate", ("#00ffff",), kind="prop")),
)


def _request(
    camera: CameraMove | None = None,
    subjects: list[SubjectMotion] | None = None,
    *,
    scene: SceneHint = KITCHEN,
    seed: int = 7,
    num_frames: int = 24,
    width: int = 576,
    height: int = 320,
) -> VideoRequest:
    motion = MotionSpec(camera=camera or CameraMove(), subjects=subjects or [])
    return VideoRequest(
        prompt="a cooking show", negative_prompt="", motion=motion, width=width, height=height,
        num_frames=num_frames, fps=8.0, seed=seed, scene=scene,
    )  # fmt: skip


@pytest.fixture
def generator() -> ProceduralVideoGenerator:
    return ProceduralVideoGenerator(Settings())


def _render(generator: ProceduralVideoGenerator, request: VideoRequest, path: Path) -> np.ndarray:
    clip = generator.generate(request, path)
    frames, _ = read_video(clip.path)
    return frames


def _mean_flow(frames: np.ndarray) -> np.ndarray:
    """Mean Farneback flow (dx, dy) per consecutive pair, +dx right, +dy down, plus mean radial component."""
    grey = [cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) for frame in frames]
    height, width = grey[0].shape
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    rx, ry = xs - width / 2, ys - height / 2
    norm = np.sqrt(rx * rx + ry * ry) + 1e-6
    rows = []
    for prev, nxt in zip(grey[:-1], grey[1:], strict=True):
        flow = cv2.calcOpticalFlowFarneback(prev, nxt, None, 0.5, 3, 15, 3, 5, 1.2, 0)
        radial = (flow[..., 0] * rx + flow[..., 1] * ry) / norm
        rows.append((float(flow[..., 0].mean()), float(flow[..., 1].mean()), float(radial.mean())))
    return np.array(rows)


def _marker_track(frames: np.ndarray, rgb: tuple[int, int, int]) -> np.ndarray:
    """Per frame: centroid x, centroid y and area of the pixels close to `rgb`."""
    target = np.array(rgb, dtype=np.int16)
    rows = []
    for frame in frames:
        mask = np.abs(frame.astype(np.int16) - target).max(axis=-1) < 40
        ys, xs = np.nonzero(mask)
        rows.append((xs.mean(), ys.mean(), float(mask.sum())) if len(xs) else (np.nan, np.nan, 0.0))
    return np.array(rows)


def test_generate_writes_the_requested_clip(generator: ProceduralVideoGenerator, tmp_path: Path) -> None:
    request = _request(CameraMove(kind="pan", direction="left", speed="slow"))
    clip = generator.generate(request, tmp_path / "shot.mkv")
    assert clip == Clip(tmp_path / "shot.mkv", 8.0, 24, 576, 320, "procedural")
    info = probe(clip.path)
    assert (info.width, info.height, info.video_frames, info.video_codec) == (576, 320, 24, "utvideo")
    assert info.fps == pytest.approx(8.0)
    frames, fps = read_video(clip.path)
    assert frames.shape == (24, 320, 576, 3) and fps == pytest.approx(8.0)
    assert frames.std() > 20, "a textured picture, not a flat card"


def test_same_request_gives_identical_frames_and_seeds_vary_the_layout(
    generator: ProceduralVideoGenerator, tmp_path: Path
) -> None:
    first = _render(generator, _request(seed=3, num_frames=8), tmp_path / "a.mkv")
    again = _render(generator, _request(seed=3, num_frames=8), tmp_path / "b.mkv")
    other = _render(generator, _request(seed=4, num_frames=8), tmp_path / "c.mkv")
    assert np.array_equal(first, again)
    assert np.abs(first.astype(np.int16) - other.astype(np.int16)).mean() > 10


def test_renderer_is_a_pure_function_of_time() -> None:
    request = _request(CameraMove(kind="truck", direction="right", speed="fast"))
    assert np.array_equal(ShotRenderer(request).frame(1.375), ShotRenderer(request).frame(1.375))


@pytest.mark.parametrize(
    ("camera", "axis", "sign"),
    [
        (CameraMove(kind="pan", direction="right", speed="medium"), 0, -1),
        (CameraMove(kind="pan", direction="left", speed="medium"), 0, +1),
        (CameraMove(kind="tilt", direction="up", speed="medium"), 1, +1),
        (CameraMove(kind="tilt", direction="down", speed="medium"), 1, -1),
        (CameraMove(kind="zoom", direction="in", speed="medium"), 2, +1),
        (CameraMove(kind="dolly", direction="out", speed="fast"), 2, -1),
    ],
    ids=["pan-right", "pan-left", "tilt-up", "tilt-down", "zoom-in", "dolly-out"],
)
def test_camera_moves_measured_by_optical_flow(
    generator: ProceduralVideoGenerator, tmp_path: Path, camera: CameraMove, axis: int, sign: int
) -> None:
    frames = _render(generator, _request(camera, num_frames=12), tmp_path / "cam.mkv")
    flow = _mean_flow(frames)
    per_pair = flow[:, axis] * sign
    assert (per_pair > 0.3).all(), f"{camera.describe()}: flow {flow[:, axis]}"
    if camera.kind == "pan":
        expected = CAMERA_RATES["medium"] * 576 / 8.0
        assert abs(flow[:, 0]).mean() == pytest.approx(expected, rel=0.25)
        assert abs(flow[:, 1]).mean() < 0.5


def test_static_camera_holds_still(generator: ProceduralVideoGenerator, tmp_path: Path) -> None:
    """The backdrop does not move; only the characters' idle breathing and gestures do."""
    frames = _render(generator, _request(num_frames=8), tmp_path / "static.mkv")
    grey = [cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) for frame in frames]
    for prev, nxt in zip(grey[:-1], grey[1:], strict=True):
        flow = cv2.calcOpticalFlowFarneback(prev, nxt, None, 0.5, 3, 15, 3, 5, 1.2, 0)
        magnitude = np.hypot(flow[..., 0], flow[..., 1])
        assert float(np.median(magnitude)) < 0.05
        assert float((magnitude > 0.5).mean()) < 0.15


@pytest.mark.parametrize(
    ("direction", "column", "sign"),
    [("right", 0, +1), ("left", 0, -1), ("up", 1, -1), ("down", 1, +1), ("toward_camera", 2, +1), ("out", 2, -1)],
)
def test_subject_moves_the_asked_way(
    generator: ProceduralVideoGenerator, tmp_path: Path, direction: str, column: int, sign: int
) -> None:
    subjects = [SubjectMotion(subject="blip", action="moves", direction=direction, speed="medium")]  # type: ignore[arg-type]
    frames = _render(generator, _request(subjects=subjects, scene=MARKED), tmp_path / "subject.mkv")
    track = _marker_track(frames, (255, 0, 255))
    assert track[0, 2] > 500, "the subject is visible at the start"
    change = (track[-1, column] - track[0, column]) * sign
    assert change > (0.25 * track[0, 2] if column == 2 else 40), f"{direction}: {track[[0, -1]]}"
    still = _marker_track(frames, (0, 255, 255))
    assert np.nanmax(np.abs(still[:, 0] - still[0, 0])) < 1.0, "the prop that was not asked to move stays put"


def test_fall_accelerates_from_rest_and_stops_abruptly(generator: ProceduralVideoGenerator, tmp_path: Path) -> None:
    subjects = [SubjectMotion(subject="Crate", action="falls", direction="down", speed="medium")]
    frames = _render(generator, _request(subjects=subjects, scene=MARKED), tmp_path / "fall.mkv")
    heights = _marker_track(frames, (0, 255, 255))[:, 1]
    steps = np.diff(heights)
    fastest = int(np.argmax(steps))
    assert steps[0] < 0.3 * steps[fastest], "starts from rest"
    assert np.all(np.diff(steps[: fastest + 1]) > 0), "accelerates all the way down"
    assert abs(steps[fastest + 1]) < 0.35 * steps[fastest], "stops abruptly on impact"
    assert np.abs(steps[fastest + 4 :]).max() < 1.5, "then settles"


def test_walker_bobs_with_its_gait(generator: ProceduralVideoGenerator, tmp_path: Path) -> None:
    subjects = [SubjectMotion(subject="Blip", action="walks", direction="right", speed="slow")]
    frames = _render(generator, _request(subjects=subjects, scene=MARKED), tmp_path / "walk.mkv")
    track = _marker_track(frames, (255, 0, 255))
    assert np.all(np.diff(track[4:, 0]) > 0)
    assert np.ptp(track[:, 1]) > 1.0


def test_unknown_subject_is_still_drawn_and_moved() -> None:
    scene = SceneHint(place="studio floor", place_palette=("#8c8c8c", "#5a5a5a"), style_palette=("#ffff00",))
    subjects = [SubjectMotion(subject="Comet", action="drifts", direction="left", speed="fast")]
    with_comet = ShotRenderer(_request(subjects=subjects, scene=scene))
    without = ShotRenderer(_request(scene=scene))
    centres = []
    for t in (0.0, 2.0):
        changed = np.abs(with_comet.frame(t).astype(np.int16) - without.frame(t).astype(np.int16)).max(axis=-1) > 30
        assert changed.sum() > 100
        centres.append(np.nonzero(changed)[1].mean())
    assert centres[1] < centres[0] - 40


def test_extender_continues_its_own_clip_seamlessly(generator: ProceduralVideoGenerator, tmp_path: Path) -> None:
    request = _request(
        CameraMove(kind="pan", direction="right", speed="medium"),
        [SubjectMotion(subject="Rosa", action="walks", direction="left", speed="slow")],
    )
    clip = generator.generate(request, tmp_path / "first.mkv")
    extended = ProceduralExtender(Settings()).extend(clip, request, 40, tmp_path / "longer.mkv")
    assert (extended.num_frames, extended.fps, extended.backend) == (40, 8.0, "procedural")
    assert probe(extended.path).video_frames == 40
    original, _ = read_video(clip.path)
    frames, _ = read_video(extended.path)
    assert frames.shape == (40, 320, 576, 3)
    assert np.abs(frames[:24].astype(np.int16) - original.astype(np.int16)).max() <= 2
    steps = np.abs(np.diff(frames.astype(np.int16), axis=0)).mean(axis=(1, 2, 3))
    assert steps[23] <= 1.5 * np.median(steps), f"join step {steps[23]:.2f} vs median {np.median(steps):.2f}"
    rendered_whole = _render(generator, _request(request.motion.camera, request.motion.subjects, num_frames=40),
                             tmp_path / "whole.mkv")  # fmt: skip
    assert np.abs(frames[24:].astype(np.int16) - rendered_whole[24:].astype(np.int16)).max() <= 2


def test_extender_carries_a_foreign_clip_along_the_camera_move(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    texture = cv2.GaussianBlur(rng.uniform(0, 255, (160, 288, 3)).astype(np.uint8), (0, 0), 2)
    foreign = [np.roll(texture, -3 * i, axis=1) for i in range(8)]
    write_video(foreign, 8.0, tmp_path / "foreign.mkv", width=288, height=160)
    clip = Clip(tmp_path / "foreign.mkv", 8.0, 8, 288, 160, "zeroscope")
    request = _request(CameraMove(kind="pan", direction="right", speed="slow"), width=288, height=160)
    extended = ProceduralExtender(Settings()).extend(clip, request, 16, tmp_path / "carried.mkv")
    frames, _ = read_video(extended.path)
    assert frames.shape == (16, 160, 288, 3)
    flow = _mean_flow(frames[7:])
    assert (flow[:, 0] < -0.3).all(), "the continuation keeps panning right (content flows left)"
    steps = np.abs(np.diff(frames.astype(np.int16), axis=0)).mean(axis=(1, 2, 3))
    assert steps[7] <= 1.5 * np.median(steps)


def test_extender_rejects_shrinking(generator: ProceduralVideoGenerator, tmp_path: Path) -> None:
    request = _request(num_frames=8)
    clip = generator.generate(request, tmp_path / "short.mkv")
    with pytest.raises(Exception, match="fewer"):
        ProceduralExtender(Settings()).extend(clip, request, 4, tmp_path / "shorter.mkv")


def test_extender_matches_a_clip_upscaled_since_it_was_rendered(
    generator: ProceduralVideoGenerator, tmp_path: Path
) -> None:
    from studio.tools.interpolate_ffmpeg import FFmpegUpscaler

    request = _request(
        CameraMove(kind="pan", direction="left", speed="medium"),
        [SubjectMotion(subject="Milo", action="walks", direction="right", speed="medium")],
        num_frames=8, width=288, height=160,
    )  # fmt: skip
    small = generator.generate(request, tmp_path / "small.mkv")
    large = FFmpegUpscaler(Settings()).upscale(small, request, 576, 320, tmp_path / "large.mkv")
    extended = ProceduralExtender(Settings()).extend(large, request, 16, tmp_path / "longer.mkv")
    frames, _ = read_video(extended.path)
    assert frames.shape == (16, 320, 576, 3)
    expected = cv2.resize(ShotRenderer(request).frame(12 / 8.0), (576, 320), interpolation=cv2.INTER_LANCZOS4)
    assert np.abs(frames[12].astype(np.int16) - expected.astype(np.int16)).mean() < 3, "rendered, not carried"
    steps = np.abs(np.diff(frames.astype(np.int16), axis=0)).mean(axis=(1, 2, 3))
    assert steps[7] <= 1.5 * np.median(steps)
