"""The critic's measured checks on a labelled set the tests generate: floors on recall and false positives."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from studio.critic.analysis import ClipAnalysis
from studio.plan import MotionSpec, SubjectMotion
from studio.tools.checks import default_checks
from studio.tools.checks.artifacts import (
    BlackFramesCheck,
    DynamicDegreeCheck,
    FlickerCheck,
    FrozenFramesCheck,
    MovingLinesCheck,
    _median_rows,
)
from studio.tools.checks.colour import ColourCheck, colour_claims
from studio.tools.checks.motion import (
    FORWARD_ARROW,
    DirectionCheck,
    ReversalCheck,
    _fit_similarity,
    analyse_motion,
    arrow_of_time,
    assess,
    change_arrow,
)
from studio.tools.checks.text import TextCheck, allowed_text, leaked_words, ocr_available
from tests.unit.critic_fixtures import (
    CameraMove,
    LabelledClip,
    SceneSpec,
    clean_clip,
    inject_lines,
    labelled_set,
    make_shot,
    render_scene,
)

# One worker runs them all (they share the labelled clips, the module's `clips`, 9 s of CPU): `--dist loadgroup`,
# scripts/test.
pytestmark = pytest.mark.xdist_group("test_critic_checks")

if TYPE_CHECKING:
    from studio.tools.base import Check

ocr = pytest.mark.skipif(not ocr_available()[0], reason="rapidocr/onnxruntime not installed")


@pytest.fixture(scope="module")
def clips() -> list[LabelledClip]:
    return labelled_set(8, start_seed=100, text_count=4)


def _rates(clips: list[LabelledClip], check: Check, label: str) -> tuple[float, float]:
    """(recall on clips labelled `label`, false-positive rate on clean clips)."""
    positives = [clip for clip in clips if label in clip.labels]
    clean = [clip for clip in clips if not clip.labels]
    caught = 0
    for clip in positives:
        result = check.run(ClipAnalysis(clip.frames, clip.fps), clip.shot)
        caught += not result.passed
    false_alarms = sum(not check.run(ClipAnalysis(clip.frames, clip.fps), clip.shot).passed for clip in clean)
    return caught / max(len(positives), 1), false_alarms / max(len(clean), 1)


def _motion_fault(clip: LabelledClip) -> set[str]:
    failed = set()
    for check in (ReversalCheck(), DirectionCheck()):
        if not check.run(ClipAnalysis(clip.frames, clip.fps), clip.shot).passed:
            failed.add(check.name)
    return failed


def test_reversed_clips_are_caught_and_clean_clips_pass(clips: list[LabelledClip]) -> None:
    reversed_clips = [clip for clip in clips if "reversed" in clip.labels]
    clean = [clip for clip in clips if not clip.labels]
    caught = sum(bool(_motion_fault(clip) & ({"reversed"} | clip.accept)) for clip in reversed_clips)
    exact = sum(_motion_fault(clip) == {"reversed"} for clip in reversed_clips)
    false_alarms = sum(bool(_motion_fault(clip)) for clip in clean)
    assert caught / len(reversed_clips) >= 0.9
    assert exact / len(reversed_clips) >= 0.85
    assert false_alarms / len(clean) <= 0.1


def test_wrong_direction_clips_are_caught(clips: list[LabelledClip]) -> None:
    wrong = [clip for clip in clips if "direction" in clip.labels]
    caught = sum(bool(_motion_fault(clip) & ({"direction"} | clip.accept)) for clip in wrong)
    assert caught / len(wrong) >= 0.9
    # Where another motion still goes the right way, or the pixels say time runs forward, it is never "reversed".
    mixed = [clip for clip in wrong if clip.meta.get("mixed")]
    assert all(_motion_fault(clip) == {"direction"} for clip in mixed)


def test_reversed_fall_is_reversal_not_acceleration() -> None:
    """A reversed fall also accelerates downward; it is caught by direction against intent + dissipation."""
    spec = SceneSpec(seed=5, subject="fall", subject_direction="down", subject_colour="green")
    frames = render_scene(spec)
    shot = make_shot(
        "a green pumpkin falls",
        MotionSpec(subjects=[SubjectMotion(subject="green pumpkin", action="falls", direction="down")]),
    )
    assert ReversalCheck().run(ClipAnalysis(frames, spec.fps), shot).passed
    backwards = ReversalCheck().run(ClipAnalysis(frames[::-1].copy(), spec.fps), shot)
    assert not backwards.passed
    assert backwards.evidence["arrow_of_time"] < 0


def test_arrow_of_time_reads_impacts_and_launches() -> None:
    fall = np.zeros((20, 2), np.float32)
    fall[4:12, 1] = np.linspace(1, 8, 8)  # accelerating down, then stopped dead
    fall[12, 1] = -2.0
    assert arrow_of_time(fall, "falls") > 0.3
    assert arrow_of_time(fall[::-1] * -1, "falls") < -0.3
    kick = np.zeros((20, 2), np.float32)
    kick[5:15, 0] = 8 * np.exp(-0.3 * np.arange(10))  # sudden start, dying out
    assert arrow_of_time(kick, "is kicked and rolls") > 0.3
    assert arrow_of_time(kick[::-1] * -1, "is kicked and rolls") < -0.3
    assert arrow_of_time(kick, "walks") == 0.0
    # A sudden start at the frame's edge is the subject entering the picture, not a launch.
    edge = np.tile(np.array([[0.03, 0.5]], np.float32), (20, 1))
    assert arrow_of_time(kick, "is kicked and rolls", edge) == 0.0


def test_change_arrow_reads_a_fall_past_its_squash_wobble() -> None:
    # Changed share of the frame per pair: rest, a fall speeding up, the impact, a squash wobble, rest.
    fall = np.concatenate([np.zeros(4), np.linspace(0.002, 0.03, 10), [0.012, 0.016, 0.008, 0.004], np.zeros(5)])
    assert change_arrow(fall, "falls") > 0.3
    assert change_arrow(fall[::-1], "falls") < -0.3
    assert change_arrow(fall, "walks") == 0.0
    assert change_arrow(np.full(23, 0.001), "falls") == 0.0


def _through_the_pipeline(frames: np.ndarray, fps_out: float, tmp: Path) -> tuple[np.ndarray, float]:
    """8 fps frames → 384x216 lanczos upscale → blended interpolation to `fps_out` → decoded at 576x320, as
    the production pipeline and `StudioContext.critique` do."""
    from studio.tools.interpolate_ffmpeg import interpolate_argv, interpolated_frame_count, upscale_argv
    from studio.tools.media import read_video, write_video

    height, width = frames.shape[1:3]
    write_video(frames, 8.0, tmp / "a.mp4", width=width, height=height)
    subprocess.run(["ffmpeg", "-loglevel", "error", *upscale_argv(tmp / "a.mp4", tmp / "b.mp4", 384, 216)], check=True)
    count = interpolated_frame_count(len(frames), 8.0, fps_out)
    argv = interpolate_argv(tmp / "b.mp4", tmp / "c.mp4", fps_out, count, "blend")
    subprocess.run(["ffmpeg", "-loglevel", "error", *argv], check=True)
    return read_video(tmp / "c.mp4", width=576, height=320)


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")
@pytest.mark.parametrize(
    ("seed", "speed", "fps_out"), [(1, "slow", 24.0), (5, "slow", 12.0), (2, "medium", 24.0), (3, "fast", 12.0)]
)
def test_reversed_procedural_fall_through_the_pipeline_reads_reversed(
    seed: int, speed: str, fps_out: float, tmp_path: Path
) -> None:
    """A small figure falling fast jumps farther than its size between frames, where flow loses it, and its
    squash wobble looks like an abrupt event: the arrow must still point the right way after blending."""
    from studio.tools.base import Figure, SceneHint, VideoRequest
    from studio.tools.video_procedural import ShotRenderer

    motion = MotionSpec(subjects=[SubjectMotion(subject="Bo", action="falls", direction="down", speed=speed)])
    scene = SceneHint(place="kitchen", place_palette=("#dddddd", "#2244aa"), figures=(Figure("Bo", ("#e08020",)),))
    request = VideoRequest(prompt="Bo falls down onto the floor", negative_prompt="", motion=motion, width=256,
                           height=144, num_frames=24, fps=8.0, seed=seed, scene=scene)  # fmt: skip
    rendered = np.stack(list(ShotRenderer(request).frames(0, 24, 8.0)))
    shot = make_shot("Bo falls down onto the floor", motion)
    (tmp_path / "fwd").mkdir()
    (tmp_path / "rev").mkdir()
    forward = assess(analyse_motion(*_through_the_pipeline(rendered, fps_out, tmp_path / "fwd")), shot)
    backward = assess(analyse_motion(*_through_the_pipeline(rendered[::-1].copy(), fps_out, tmp_path / "rev")), shot)
    assert forward.fault == "none" and forward.arrow > 0
    assert backward.fault == "reversed" and backward.arrow < FORWARD_ARROW


def test_locked_off_shot_that_pans_fails_direction() -> None:
    spec = SceneSpec(seed=3, camera=CameraMove(kind="pan", direction="left", speed="medium"))
    shot = make_shot("a quiet kitchen, the camera holds still", MotionSpec())
    result = DirectionCheck().run(ClipAnalysis(render_scene(spec), spec.fps), shot)
    assert not result.passed
    assert "still" in result.detail


@ocr
def test_text_check_catches_overlaid_words_and_names_them(clips: list[LabelledClip]) -> None:
    text_clips = [clip for clip in clips if "text" in clip.labels]
    check = TextCheck(samples=2)
    results = [check.run(ClipAnalysis(clip.frames, clip.fps), clip.shot) for clip in text_clips]
    caught = sum(not result.passed for result in results)
    named = sum(clip.leaked[0] in result.evidence["leaked"] for clip, result in zip(text_clips, results, strict=True))
    assert all(clip.text_height >= 14 for clip in text_clips)
    assert caught / len(text_clips) >= 0.9
    assert named / len(text_clips) >= 0.75
    clean = [clip for clip in clips if not clip.labels][:4]
    assert all(check.run(ClipAnalysis(clip.frames, clip.fps), clip.shot).passed for clip in clean)


def test_text_check_reports_itself_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    import studio.tools.checks.text as text_module

    def missing() -> None:
        raise ImportError("No module named 'rapidocr'", name="rapidocr")

    monkeypatch.setattr(text_module, "ocr_engine", missing)
    clip = clean_clip(1)
    result = TextCheck().run(ClipAnalysis(clip.frames, clip.fps), clip.shot)
    assert result.passed
    assert result.evidence["available"] is False
    assert "unavailable" in result.detail and "pip install" in result.detail


def test_leaked_word_matching_allows_for_ocr_lookalikes() -> None:
    prompt = "a llama in flames on a stage, shot on IMAX, the camera pans left"
    assert leaked_words(["IMAX Ilama"], prompt) == ["llama", "IMAX"]
    assert leaked_words(["LLAMAS"], prompt) == ["llama"]
    assert leaked_words(["hello"], prompt) == []
    assert leaked_words(["left"], prompt) == []  # direction words are not leaks
    assert allowed_text('a shop sign that says "OPEN" above the door') == ["OPEN"]


def test_colour_check_catches_swapped_subjects(clips: list[LabelledClip]) -> None:
    recall, false_positive_rate = _rates(clips, ColourCheck(), "colour")
    assert recall >= 0.9
    assert false_positive_rate <= 0.1


def test_colour_claims_come_from_subject_names_or_prompt() -> None:
    shot = make_shot(
        "a green pumpkin rolls",
        MotionSpec(subjects=[SubjectMotion(subject="green pumpkin", action="rolls", direction="left")]),
    )
    assert [(c.colour, c.subject) for c in colour_claims(shot)] == [("green", "green pumpkin")]
    shot = make_shot(
        "a bright red ball and a blue door",
        MotionSpec(subjects=[SubjectMotion(subject="ball", action="rolls", direction="left")]),
    )
    assert [(c.colour, c.subject) for c in colour_claims(shot)] == [("red", "ball")]


def test_moving_lines_and_waves_are_caught(clips: list[LabelledClip]) -> None:
    recall, false_positive_rate = _rates(clips, MovingLinesCheck(), "artifact")
    assert recall >= 0.9
    assert false_positive_rate <= 0.1


def test_vertical_scenery_under_pan_and_zoom_is_not_an_artifact() -> None:
    for camera in (CameraMove(kind="pan", direction="right", speed="slow"), CameraMove(kind="zoom", direction="in")):
        spec = SceneSpec(seed=11, camera=camera, subject="roll", subject_direction="right", backdrop="planks")
        frames = render_scene(spec)
        shot = make_shot("planks", MotionSpec(camera=camera))
        assert MovingLinesCheck().run(ClipAnalysis(frames, spec.fps), shot).passed, camera
        assert (
            not MovingLinesCheck()
            .run(ClipAnalysis(inject_lines(frames, np.random.default_rng(1)), spec.fps), shot)
            .passed
        )


def test_flicker_is_caught(clips: list[LabelledClip]) -> None:
    recall, false_positive_rate = _rates(clips, FlickerCheck(), "flicker")
    assert recall >= 0.9
    assert false_positive_rate <= 0.1


def test_low_dynamic_degree_fails_only_when_motion_was_asked() -> None:
    clip = clean_clip(2)
    still = np.repeat(clip.frames[:1], len(clip.frames), axis=0)
    noisy = np.clip(still + np.random.default_rng(0).normal(0, 2, still.shape), 0, 255).astype(np.uint8)
    panning = make_shot("pan", MotionSpec(camera=CameraMove(kind="pan", direction="left")))
    assert not DynamicDegreeCheck().run(ClipAnalysis(noisy, clip.fps), panning).passed
    assert DynamicDegreeCheck().run(ClipAnalysis(noisy, clip.fps), make_shot("still", MotionSpec())).passed
    assert DynamicDegreeCheck().run(ClipAnalysis(clip.frames, clip.fps), clip.shot).passed


def test_black_and_frozen_frames() -> None:
    clip = clean_clip(4)
    black = np.zeros_like(clip.frames)
    assert not BlackFramesCheck().run(ClipAnalysis(black, clip.fps), clip.shot).passed
    assert BlackFramesCheck().run(ClipAnalysis(clip.frames, clip.fps), clip.shot).passed
    frozen = np.repeat(clip.frames[:1], len(clip.frames), axis=0)
    assert not FrozenFramesCheck().run(ClipAnalysis(frozen, clip.fps), clip.shot).passed
    assert FrozenFramesCheck().run(ClipAnalysis(clip.frames, clip.fps), clip.shot).passed


def test_default_checks_cover_every_failure_kind() -> None:
    names = [check.name for check in default_checks()]
    for name in (
        "duration",
        "black",
        "frozen",
        "reversed",
        "direction",
        "colour",
        "artifact",
        "flicker",
        "dynamic",
        "text",
    ):
        assert name in names
    assert "text" not in [check.name for check in default_checks(text=False)]


def test_camera_fit_gives_the_least_squares_answer_and_ignores_the_outlying_30_percent() -> None:
    """The similarity fit solves its normal equations directly: the answer must be the one a general least-squares
    solver gives on the points it keeps, and a moving subject (a block of outliers) must not drag it."""
    rng = np.random.default_rng(7)
    height, width = 108, 192
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    xs, ys = xx - width / 2, yy - height / 2
    inner = np.zeros((height, width), bool)
    inner[9:-9, 16:-16] = True
    tx, ty, scale, rotation = 1.5, -0.75, 0.012, -0.004
    flow = np.stack([tx + scale * xs - rotation * ys, ty + scale * ys + rotation * xs], axis=-1)
    flow = (flow + rng.normal(0.0, 0.05, flow.shape)).astype(np.float32)
    flow[30:60, 60:110] += np.float32([6.0, -4.0])  # a subject running across the scene
    fitted = _fit_similarity(flow, xs, ys, inner)
    assert np.allclose(fitted, [tx, ty, scale, rotation], atol=[0.03, 0.03, 5e-4, 5e-4])
    # The same answer as numpy's least squares on every inner point when there are no outliers to drop.
    clean = np.stack([tx + scale * xs - rotation * ys, ty + scale * ys + rotation * xs], axis=-1).astype(np.float32)
    x, y = xs[::2, ::2][inner[::2, ::2]], ys[::2, ::2][inner[::2, ::2]]
    u, v = clean[::2, ::2, 0][inner[::2, ::2]], clean[::2, ::2, 1][inner[::2, ::2]]
    ones, zeros = np.ones_like(x), np.zeros_like(x)
    design = np.concatenate([np.stack([ones, zeros, x, -y], 1), np.stack([zeros, ones, y, x], 1)])
    reference, *_ = np.linalg.lstsq(design, np.concatenate([u, v]), rcond=None)
    assert np.allclose(_fit_similarity(clean, xs, ys, inner), reference, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("rows", [7, 8])
def test_column_medians_are_numpys_median(rows: int) -> None:
    stack = np.random.default_rng(rows).normal(size=(5, rows, 11)).astype(np.float32)
    assert np.allclose(_median_rows(stack), np.median(stack, axis=1), rtol=0, atol=1e-6)
