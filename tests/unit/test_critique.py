"""Verdict, repair policy, the repair loop, reading intent from words, and the `studio critique` pieces."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import cv2
import numpy as np
import pytest

from studio.critic.analysis import ClipAnalysis
from studio.critic.judge import critique_file, judge
from studio.critic.repair import lessons_from, plan_repair
from studio.critic.report import verdict_json, write_contact_sheet
from studio.plan import CAMERA_DIRECTIONS, CameraMove, CheckResult, MotionSpec, SubjectMotion
from studio.tools.checks import default_checks
from studio.tools.checks.text import ocr_available
from studio.tools.media import write_video
from studio.vocabulary import motion_from_prompt, strip_words
from tests.unit.critic_fixtures import SceneSpec, clean_clip, inject_lines, make_shot, overlay_text, render_scene

if TYPE_CHECKING:
    from pathlib import Path

ocr = pytest.mark.skipif(not ocr_available()[0], reason="rapidocr/onnxruntime not installed")

REPORTED = {"reversed", "direction", "text", "colour", "artifact", "frozen", "black", "duration", "vision"}


def _result(check: str, passed: bool, **evidence: object) -> CheckResult:
    return CheckResult(
        check=check, passed=passed, score=1.0 if passed else 0.2, detail=f"{check}: measured", evidence=evidence
    )  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "camera", "subjects"),
    [
        ("The camera pans from left to right over a red fox", ("pan", "right"), []),
        ("the camera pans from right to left across the harbour", ("pan", "left"), []),
        ("The camera tilts down to the chopping board", ("tilt", "down"), []),
        ("The camera slowly pushes in on the chef", ("dolly", "in"), []),
        ("camera pulls back to reveal the kitchen", ("dolly", "out"), []),
        ("Zoom out slowly from the lighthouse", ("zoom", "out"), []),
        ("A green pumpkin falls", ("static", "none"), [("green pumpkin", "down")]),
        ("A woman walks toward the camera", ("static", "none"), [("woman", "toward_camera")]),
        ("a dog runs away from the camera", ("static", "none"), [("dog", "away_from_camera")]),
        (
            "Slow pan left across the market while a red ball rolls to the right",
            ("pan", "left"),
            [("red ball", "right")],
        ),
        ("a balloon rises into the sky and the camera tilts up", ("tilt", "up"), [("balloon", "up")]),
        ("drone footage of a beach, shot on IMAX", ("static", "none"), []),
    ],
)
def test_motion_from_prompt_reads_a_persons_words(
    text: str, camera: tuple[str, str], subjects: list[tuple[str, str]]
) -> None:
    motion = motion_from_prompt(text)
    assert (motion.camera.kind, motion.camera.direction) == camera
    assert [(s.subject, s.direction) for s in motion.subjects] == subjects


def test_motion_from_prompt_reads_back_every_spec_the_cinematographer_writes() -> None:
    for kind, directions in CAMERA_DIRECTIONS.items():
        for direction in directions:
            for speed in ("slow",) if kind == "static" else ("slow", "medium", "fast"):
                camera = CameraMove(kind=kind, direction=direction, speed=speed)  # type: ignore[arg-type]
                subject = SubjectMotion(subject="red kettle", action="slides", direction="left", speed="fast")
                spec = MotionSpec(camera=camera, subjects=[subject])
                assert motion_from_prompt(f"A kitchen; {spec.describe()}") == spec, spec.describe()


def test_a_clean_time_reversal_is_repaired_by_reversing() -> None:
    shot = make_shot("p", MotionSpec())
    repair = plan_repair([_result("duration", True), _result("reversed", False)], shot)
    assert repair.action == "reverse" and not repair.new_seed
    again = plan_repair([_result("reversed", False)], shot.model_copy(update={"reverse_only": True}))
    assert again.action == "rerender" and again.restate_motion


def test_repairs_name_what_to_change() -> None:
    shot = make_shot("a llama in flames, shot on IMAX", MotionSpec())
    text = plan_repair([_result("text", False, leaked=["llama", "IMAX"])], shot)
    assert text.action == "rerender" and text.new_seed
    assert text.remove_words == ["llama", "IMAX"]
    assert {"text", "letters", "words", "watermark", "caption"} <= set(text.add_negative)
    direction = plan_repair([_result("direction", False)], shot)
    assert direction.restate_motion and direction.new_seed
    both = plan_repair([_result("reversed", False), _result("text", False, leaked=["IMAX"])], shot)
    assert both.action == "rerender" and both.restate_motion and both.remove_words == ["IMAX"]
    colour = plan_repair(
        [_result("colour", False, claims=[{"colour": "green", "subject": "green pumpkin", "seen": "orange"}])], shot
    )
    assert colour.emphasise == ["green pumpkin"] and "orange pumpkin" in colour.add_negative and colour.new_seed
    lines = plan_repair([_result("artifact", False), _result("flicker", False)], shot)
    assert {"vertical lines", "flicker"} <= set(lines.add_negative) and lines.new_seed


@ocr
def test_repair_loop_leaked_text_is_removed_and_the_rerender_passes() -> None:
    clip = clean_clip(21)
    prompt = f"{clip.shot.prompt}, cinematic, shot on IMAX"
    shot = clip.shot.model_copy(update={"prompt": prompt})
    frames, _ = overlay_text(clip.frames, "IMAX", np.random.default_rng(3), min_height=20, max_height=28)
    verdict = judge(ClipAnalysis(frames, clip.fps), shot, default_checks())
    assert not verdict.passed
    assert [failure.check for failure in verdict.failures] == ["text"]
    assert verdict.repair is not None and verdict.repair.action == "rerender"
    assert verdict.repair.remove_words == ["IMAX"] and "text" in verdict.repair.add_negative
    assert lessons_from(verdict) == ["imax"]
    # The cinematographer's own cleaning of free text, as a repair applies it (the graph test runs the whole loop).
    repaired_prompt = strip_words(prompt, verdict.repair.remove_words)
    assert "imax" not in repaired_prompt.lower() and repaired_prompt.endswith("shot on")
    # The fixture renders the repaired prompt: without the word, nothing is written into the picture.
    rerendered = clean_clip(21).frames
    again = judge(
        ClipAnalysis(rerendered, clip.fps), shot.model_copy(update={"prompt": repaired_prompt}), default_checks()
    )
    assert again.passed, [f.detail for f in again.failures]


def test_repair_loop_reversed_clip_is_fixed_by_time_reversal() -> None:
    spec = SceneSpec(seed=8, camera=CameraMove(kind="pan", direction="right", speed="medium"), subject="fall",
                     subject_direction="down", subject_colour="orange")  # fmt: skip
    motion = MotionSpec(
        camera=spec.camera, subjects=[SubjectMotion(subject="orange pumpkin", action="falls", direction="down")]
    )
    shot = make_shot(f"An orange pumpkin in a barn; {motion.describe()}", motion)
    backwards = render_scene(spec)[::-1].copy()
    verdict = judge(ClipAnalysis(backwards, spec.fps), shot, default_checks(text=False))
    assert [failure.check for failure in verdict.failures] == ["reversed"]
    assert verdict.repair is not None and verdict.repair.action == "reverse"
    fixed = judge(
        ClipAnalysis(backwards[::-1].copy(), spec.fps),
        shot.model_copy(update={"reverse_only": True}),
        default_checks(text=False),
    )
    assert fixed.passed, [f.detail for f in fixed.failures]


def test_artifacts_lead_to_a_new_seed_with_negatives() -> None:
    clip = clean_clip(5)
    verdict = judge(
        ClipAnalysis(inject_lines(clip.frames, np.random.default_rng(0)), clip.fps),
        clip.shot,
        default_checks(text=False),
    )
    assert "artifact" in {failure.check for failure in verdict.failures}
    assert verdict.repair is not None and verdict.repair.new_seed and "vertical lines" in verdict.repair.add_negative


@ocr
def test_critique_file_reads_intent_from_the_prompt_and_writes_json_and_a_contact_sheet(tmp_path: Path) -> None:
    spec = SceneSpec(seed=4, camera=CameraMove(kind="pan", direction="right", speed="medium"), subject="walk",
                     subject_direction="left", subject_colour="red", width=384, height=224, fps=12.0)  # fmt: skip
    frames = render_scene(spec)
    frames, _ = overlay_text(frames, "llama", np.random.default_rng(2), min_height=22, max_height=26)
    clip_path = tmp_path / "made_elsewhere.mkv"
    write_video(frames[::-1], spec.fps, clip_path, width=spec.width, height=spec.height)
    prompt = "The camera pans from left to right while a red llama walks from right to left"
    sheet = tmp_path / "sheet.png"
    verdict = critique_file(clip_path, prompt, contact_sheet=sheet)
    payload = verdict_json(verdict)
    json.dumps(payload)
    assert payload["passed"] is False
    failed = {failure["check"] for failure in payload["failures"]}
    assert failed <= REPORTED
    assert {"reversed", "text"} <= failed
    text_failure = next(f for f in payload["failures"] if f["check"] == "text")
    assert "llama" in text_failure["evidence"]["leaked"]
    assert payload["repair"]["action"] == "rerender" and "llama" in payload["repair"]["remove_words"]
    assert payload["lessons"] == ["llama"]
    assert all({"check", "passed", "available", "score", "detail", "evidence"} <= set(c) for c in payload["checks"])
    image = cv2.imread(str(sheet))
    assert image is not None and image.shape[0] > 2 * 100 and image.shape[1] >= 3 * 300
    assert_draws_frames(image, frames[::-1])
    # The OCR boxes are drawn in magenta (BGR 255, 0, 255) around what was read.
    magenta = (image[:, :, 0] > 230) & (image[:, :, 1] < 40) & (image[:, :, 2] > 230)
    assert magenta.sum() > 100, "no OCR box on the sheet"


def test_verdict_json_folds_fine_checks_into_the_reported_names() -> None:
    clip = clean_clip(6)
    flat = np.repeat(clip.frames[:1], len(clip.frames), axis=0)
    verdict = judge(ClipAnalysis(flat, clip.fps), clip.shot, default_checks(text=False))
    payload = verdict_json(verdict)
    checks = {failure["check"] for failure in payload["failures"]}
    assert "frozen" in checks and checks <= REPORTED
    assert any(failure["kind"] == "low_dynamic" for failure in payload["failures"])


def test_contact_sheet_draws_frames_even_for_a_passing_clip(tmp_path: Path) -> None:
    clip = clean_clip(7)
    verdict = judge(ClipAnalysis(clip.frames, clip.fps), clip.shot, default_checks(text=False))
    assert verdict.passed, [f.detail for f in verdict.failures]
    path = write_contact_sheet(clip.frames, verdict, tmp_path / "ok.png")
    image = cv2.imread(str(path))
    assert image is not None
    assert_draws_frames(image, clip.frames)
    # The header says PASS in green (BGR 120, 230, 120); a failing sheet would be red.
    header = image[:26]
    assert ((header[:, :, 1] > 200) & (header[:, :, 0] < 160) & (header[:, :, 2] < 160)).sum() > 20


def assert_draws_frames(image: np.ndarray, frames: np.ndarray) -> None:
    """The sheet is not blank: its first tile is the clip's first frame (scaled), under a header."""
    assert image.std() > 15 and len(np.unique(image.reshape(-1, 3), axis=0)) > 500
    tile_w = min(320, frames.shape[2])
    tile_h = int(round(frames.shape[1] * tile_w / frames.shape[2]))
    first = cv2.cvtColor(cv2.resize(frames[0], (tile_w, tile_h), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2BGR)
    header_h = next(18 * lines + 8 for lines in range(1, 20) if (image.shape[0] - 18 * lines - 8) % tile_h == 0)
    found = image[header_h : header_h + tile_h, :tile_w].astype(float)
    # Arrows, OCR boxes and labels are drawn over it: compare the picture, not every pixel (a blank or
    # wrong tile correlates near 0).
    correlation = np.corrcoef(found.ravel(), first.astype(float).ravel())[0, 1]
    assert correlation > 0.5, f"the first tile is not the first frame (correlation {correlation:.2f})"


@pytest.mark.parametrize(
    ("camera", "subjects"),
    [
        (CameraMove(kind="pan", direction="right", speed="medium"), []),
        (CameraMove(), [SubjectMotion(subject="pumpkin", action="rolls", direction="left", speed="fast")]),
        (
            CameraMove(kind="tilt", direction="up"),
            [SubjectMotion(subject="Chef Rosa", action="walks", direction="right")],
        ),
        (CameraMove(kind="zoom", direction="in", speed="medium"), []),
        (CameraMove(), [SubjectMotion(subject="Chef Rosa", action="walks", direction="toward_camera")]),
    ],
)
def test_the_embedded_renderer_passes_and_its_reversals_are_caught(
    camera: CameraMove, subjects: list[SubjectMotion]
) -> None:
    """The station's CPU renderer must get its clean clips through the critic, or every shot loops on repairs."""
    from studio.tools.base import Figure, SceneHint, VideoRequest
    from studio.tools.video_procedural import ShotRenderer

    scene = SceneHint(
        place="kitchen",
        place_palette=("#d8c8a8", "#8a6a4a", "#c0c0c0"),
        figures=(Figure("Chef Rosa", ("#c83030", "#ffffff")), Figure("pumpkin", ("#f08020",), kind="prop")),
    )
    motion = MotionSpec(camera=camera, subjects=subjects)
    fps = 8.0
    request = VideoRequest(prompt="", negative_prompt="", motion=motion, width=384, height=216,
                           num_frames=24, fps=fps, seed=3, scene=scene)  # fmt: skip
    frames = np.stack(list(ShotRenderer(request).frames(0, request.num_frames, fps)))
    shot = make_shot(f"Chef Rosa and an orange pumpkin in a kitchen; {motion.describe()}", motion)
    forward = judge(ClipAnalysis(frames, fps), shot, default_checks(text=False))
    assert forward.passed, [f.detail for f in forward.failures]
    backwards = judge(ClipAnalysis(frames[::-1].copy(), fps), shot, default_checks(text=False))
    assert {f.check for f in backwards.failures} & {"reversed", "direction"}
