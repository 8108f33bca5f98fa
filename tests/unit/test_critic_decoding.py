"""Decoding a clip in the background (`ClipAnalysis.start`) gives the analysis `ClipAnalysis.from_file` gives, and
OCR that reads the text check's frames as they are decoded makes the readings the check would make."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pytest

import studio.tools.checks.text as text_module
import studio.tools.media as media_module
from studio.critic.analysis import ClipAnalysis
from studio.critic.judge import judge, read_text_early
from studio.errors import ToolError
from studio.plan import CameraMove
from studio.tools.checks import default_checks
from studio.tools.checks.text import TextCheck, ocr_available
from studio.tools.media import write_video
from studio.tools.mp4 import mp4_video_track
from studio.vocabulary import motion_from_prompt
from tests.unit.critic_fixtures import SceneSpec, make_shot, overlay_text, render_scene

if TYPE_CHECKING:
    from pathlib import Path

ocr = pytest.mark.skipif(not ocr_available()[0], reason="rapidocr/onnxruntime not installed")


@pytest.fixture(scope="module")
def painted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = SceneSpec(seed=11, camera=CameraMove(kind="pan", direction="right", speed="medium"), subject="fall",
                     subject_direction="down", width=448, height=256, fps=12.0, seconds=2.0)  # fmt: skip
    frames, _ = overlay_text(render_scene(spec), "PUMPKIN", np.random.default_rng(3))
    path = tmp_path_factory.mktemp("decoding") / "painted.mp4"
    write_video(frames, 12.0, path, width=448, height=256)
    return path


def test_decoding_in_the_background_gives_the_frames_from_file_gives(painted: Path) -> None:
    for size in ({}, {"width": 320, "height": 192}):
        expected = ClipAnalysis.from_file(painted, **size)
        decoding = ClipAnalysis.start(painted, **size)
        clip = decoding.analysis()
        assert clip.fps == expected.fps
        assert np.array_equal(clip.frames, expected.frames)
    scaled = ClipAnalysis.start(painted, max_width=300).analysis()
    assert scaled.frames.shape[1:] == (172, 300, 3)


@pytest.mark.parametrize("claimed", [-3, 4])
def test_a_container_that_miscounts_its_frames_still_gives_every_frame(
    painted: Path, claimed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = ClipAnalysis.from_file(painted)
    track = media_module.video_track
    monkeypatch.setattr(media_module, "video_track", lambda path: track(path)._replace(frames=len(expected) + claimed))
    decoding = ClipAnalysis.start(painted)
    decoding.read_early([5, 9], max_width=1024)
    clip = decoding.analysis()
    assert np.array_equal(clip.frames, expected.frames)
    assert not clip._texts, "readings made for the claimed count's frames are dropped"


def test_a_clip_that_is_not_mp4_is_measured_by_probe(tmp_path: Path, painted: Path) -> None:
    """The MP4 reader answers for MP4s only; a Matroska clip's size and frame count come from PyAV's probe, and
    decoding it in the background still gives `from_file`'s frames."""
    matroska = tmp_path / "painted.mkv"
    frames = ClipAnalysis.from_file(painted).frames
    write_video(list(frames), 12.0, matroska, width=448, height=256)
    assert mp4_video_track(matroska) is None
    info = media_module.probe(matroska)
    assert media_module.video_track(matroska) == (info.width, info.height, info.fps, info.video_frames)
    clip = ClipAnalysis.start(matroska, max_width=300).analysis()
    assert np.array_equal(clip.frames, ClipAnalysis.from_file(matroska, width=300, height=172).frames)


def test_a_file_that_cannot_be_decoded_raises_tool_error(
    tmp_path: Path, painted: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    not_a_video = tmp_path / "notes.mp4"
    not_a_video.write_text("not a video")
    with pytest.raises(ToolError):
        ClipAnalysis.start(not_a_video)
    monkeypatch.setattr(media_module, "ffmpeg_exe", lambda: "false")  # ffmpeg fails without a frame
    decoding = ClipAnalysis.start(painted)
    with pytest.raises(ToolError, match="cannot decode"):
        decoding.analysis()


@ocr
def test_text_read_while_decoding_is_what_the_text_check_reads(painted: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prompt = "the camera pans right over a kitchen; an orange pumpkin falls"
    shot = make_shot(prompt, motion_from_prompt(prompt))
    checks = default_checks()
    decoding = ClipAnalysis.start(painted)
    read_text_early(decoding, checks)
    early = decoding.analysis()
    decoding._early.join()  # type: ignore[union-attr]
    check = next(check for check in checks if isinstance(check, TextCheck))
    assert sorted(index for index, _ in early._texts) == check.frames_to_read(len(early))
    reads: list[int] = []
    read_frame = text_module.read_frame
    monkeypatch.setattr(
        text_module, "read_frame", lambda frame, index, **kw: reads.append(index) or read_frame(frame, index, **kw)
    )
    verdict = judge(early, shot, checks).model_dump()
    assert reads == [], "the check found every reading made"
    monkeypatch.undo()
    assert verdict == judge(ClipAnalysis.from_file(painted), shot, checks).model_dump()
    text = next(result for result in verdict["checks"] if result["check"] == "text")
    assert not text["passed"] and "pumpkin" in [word.lower() for word in text["evidence"]["leaked"]]
