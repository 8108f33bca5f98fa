"""The critic holds no global state: one `ClipAnalysis` per clip, shared by every check, and several clips judged at
once in threads get exactly the verdicts they get one at a time."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

import studio.tools.checks.motion as motion_module
from studio.critic.analysis import ClipAnalysis
from studio.critic.judge import judge
from studio.tools.checks import default_checks
from studio.tools.checks.text import ocr_available
from tests.unit.critic_fixtures import labelled_set


def _clips() -> list:
    # One clean clip and one copy per fault (reversed, wrong direction, leaked text, lines, flicker, colour):
    # different clips whose verdicts differ.
    return labelled_set(1, start_seed=40)


def test_several_clips_judged_at_once_get_the_verdicts_they_get_one_at_a_time() -> None:
    clips = _clips()
    checks = default_checks(text=ocr_available()[0])
    alone = [judge(ClipAnalysis(clip.frames, clip.fps), clip.shot, checks).model_dump() for clip in clips]
    assert len({(v["passed"], tuple(c["check"] for c in v["checks"] if not c["passed"])) for v in alone}) >= 4, (
        "the clips are judged differently"
    )
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(
            pool.map(lambda clip: judge(ClipAnalysis(clip.frames, clip.fps), clip.shot, checks).model_dump(), clips)
        )
    for clip, one, concurrent in zip(clips, alone, together, strict=True):
        assert concurrent == one, clip.name


def test_a_clip_is_analysed_once_however_many_checks_read_its_flow(monkeypatch) -> None:  # noqa: ANN001
    calls: list[int] = []
    analyse = motion_module.analyse_motion

    def counted(frames: np.ndarray, fps: float) -> motion_module.MotionAnalysis:
        calls.append(len(frames))
        return analyse(frames, fps)

    monkeypatch.setattr(motion_module, "analyse_motion", counted)
    clip = _clips()[0]
    analysis = ClipAnalysis(clip.frames, clip.fps)
    judge(analysis, clip.shot, default_checks(text=False))
    assert calls == [len(clip.frames)], "direction, reversal, colour and dynamic share one flow analysis"
    other = ClipAnalysis(clip.frames[::-1].copy(), clip.fps)
    assert other.motion is not analysis.motion, "each clip has its own analysis"
    assert len(calls) == 2


def test_the_critic_modules_keep_no_clip_state() -> None:
    assert not hasattr(motion_module, "_cache"), "the flow of a clip lives on its ClipAnalysis, not in the module"


def test_ocr_reads_only_frames_that_change(monkeypatch) -> None:  # noqa: ANN001
    import studio.tools.checks.text as text_module
    from studio.tools.checks.text import TextCheck

    reads: list[int] = []

    def counted(frame: np.ndarray, index: int, **options: object) -> list:
        reads.append(index)
        return [text_module.TextFound(index, "PUMPKIN", 0.99, [[1.0, 1.0], [9.0, 1.0], [9.0, 5.0], [1.0, 5.0]])]

    monkeypatch.setattr(text_module, "read_frame", counted)
    monkeypatch.setattr(text_module, "ocr_available", lambda: (True, "test"))
    clip = _clips()[0]
    still = ClipAnalysis(np.repeat(clip.frames[:1], len(clip.frames), axis=0), clip.fps)
    result = TextCheck().run(still, clip.shot)
    assert len(reads) == 1, "a still picture is read once"
    assert sorted({item["frame"] for item in result.evidence["texts"]}) == result.evidence["frames_read"]
    moving = ClipAnalysis(clip.frames, clip.fps)
    TextCheck().run(moving, clip.shot)
    assert len(reads) == 1 + 4, "a moving picture is read at every sampled frame"


def test_a_clips_checks_run_side_by_side_with_the_verdicts_they_get_one_at_a_time() -> None:
    import threading

    from studio.plan import CheckResult

    class Meets:
        """Passes only when another check runs at the same time (both wait for each other)."""

        def __init__(self, name: str, barrier: threading.Barrier) -> None:
            self.name, self.barrier = name, barrier

        def run(self, clip: ClipAnalysis, shot: object) -> CheckResult:
            self.barrier.wait(timeout=10)
            return CheckResult(check=self.name, passed=True, score=1.0, detail="met")

    barrier = threading.Barrier(2)
    clip = _clips()[0]
    verdict = judge(ClipAnalysis(clip.frames, clip.fps), clip.shot, [Meets("duration", barrier), Meets("black", barrier)],
                    workers=2)  # fmt: skip
    assert [check.check for check in verdict.checks] == ["duration", "black"]
    checks = default_checks(text=ocr_available()[0])
    for clip in _clips()[:4]:
        alone = judge(ClipAnalysis(clip.frames, clip.fps), clip.shot, checks, workers=1).model_dump()
        side_by_side = judge(ClipAnalysis(clip.frames, clip.fps), clip.shot, checks, workers=3).model_dump()
        assert side_by_side == alone, clip.name
