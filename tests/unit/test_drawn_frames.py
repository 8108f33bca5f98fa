"""The embedded renderer's frames handed to the critic in memory (`studio.tools.drawn_frames`): once, only while
the file is the one they were written to, bounded by bytes, and judged as the decoded file is."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np

from studio.config import Settings
from studio.critic.analysis import JUDGED_SIZE, ClipAnalysis
from studio.critic.judge import judge
from studio.plan import CameraMove, SubjectMotion
from studio.tools.base import Toolkit
from studio.tools.checks import default_checks
from studio.tools.drawn_frames import DrawnFrames
from studio.tools.video_procedural import ProceduralVideoGenerator
from tests.unit.critic_fixtures import make_shot
from tests.unit.test_video_procedural import _request

if TYPE_CHECKING:
    from pathlib import Path


def test_the_renderers_frames_reach_the_critic_once_and_are_the_files_pictures(tmp_path: Path) -> None:
    generator = ProceduralVideoGenerator(Settings())
    request = _request(
        CameraMove(kind="pan", direction="right", speed="medium"),
        [SubjectMotion(subject="chef", action="walks", direction="left")],
    )
    partial = generator.generate(request, tmp_path / ".shot.partial.mp4").path
    # The render stage renames the finished shot into place: the frames follow the file, not its name.
    clip = partial.rename(tmp_path / "shot.mp4")
    toolkit = Toolkit(video=generator, upscaler=None, extender=None, interpolator=None, music=None)  # type: ignore[arg-type]
    taken = toolkit.drawn_frames(clip)
    assert taken is not None and toolkit.drawn_frames(clip) is None, "handed over once"
    frames, fps = taken
    assert frames.shape == (24, 320, 576, 3) and fps == 8.0 and (576, 320) == JUDGED_SIZE
    decoded = ClipAnalysis.from_file(clip, width=576, height=320)
    # The master is near-lossless: the drawn frames are the file's pictures up to its encoding (about a grey level
    # on average: the RGB to 4:4:4 YUV round trip and CRF 10).
    assert float(np.abs(decoded.frames.astype(np.int16) - frames.astype(np.int16)).mean()) < 2.0
    # And the critic reaches the same verdict on either.
    prompt = "a chef in the kitchen; the camera pans right, the chef walks left"
    shot = make_shot(prompt, request.motion, seconds=3.0)
    checks = default_checks()
    in_memory = judge(ClipAnalysis(frames, fps), shot, checks)
    from_file = judge(decoded, shot, checks)
    assert [(c.check, c.passed) for c in in_memory.checks] == [(c.check, c.passed) for c in from_file.checks]
    for ours, theirs in zip(in_memory.checks, from_file.checks, strict=True):
        assert abs(ours.score - theirs.score) <= 0.05, (ours.check, ours.score, theirs.score)


def test_frames_of_a_file_rewritten_since_are_not_handed_over(tmp_path: Path) -> None:
    drawn = DrawnFrames()
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"first")
    drawn.keep(path, np.zeros((2, 4, 4, 3), np.uint8), 8.0)
    path.write_bytes(b"second take")
    os.utime(path, ns=(1, 1))
    assert drawn.take(path) is None, "another file now: decoded, not the first take's frames"
    drawn.keep(path, np.ones((2, 4, 4, 3), np.uint8), 8.0)
    taken = drawn.take(path)
    assert taken is not None and int(taken[0].max()) == 1


def test_the_oldest_frames_go_first_past_the_bound_and_a_clip_larger_than_it_is_never_kept(tmp_path: Path) -> None:
    frame_bytes = 10 * 4 * 4 * 3
    drawn = DrawnFrames(max_bytes=2 * frame_bytes)
    paths = [tmp_path / f"clip{index}.mp4" for index in range(3)]
    for index, path in enumerate(paths):
        path.write_bytes(b"x")
        drawn.keep(path, np.full((10, 4, 4, 3), index, np.uint8), 8.0)
    assert len(drawn) == 2 and drawn.nbytes == 2 * frame_bytes
    assert drawn.take(paths[0]) is None, "the oldest was dropped"
    taken = drawn.take(paths[2])
    assert taken is not None and int(taken[0][0, 0, 0, 0]) == 2
    big = tmp_path / "big.mp4"
    big.write_bytes(b"x")
    drawn.keep(big, np.zeros((30, 4, 4, 3), np.uint8), 8.0)
    assert drawn.take(big) is None and drawn.take(paths[1]) is not None
