"""Judge a clip: one `ClipAnalysis`, every check over it, combined into a `Verdict` with a repair.

Also what `studio critique` needs for clips made elsewhere: a `Shot` from a person's prompt (the intended motion
read from its words by `studio.vocabulary.motion_from_prompt`) and `critique_file`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from studio.critic.analysis import JUDGED_SIZE, ClipAnalysis, ClipDecoding
from studio.critic.repair import plan_repair
from studio.plan import MotionSpec, Shot, ShotDesign, Verdict
from studio.vocabulary import motion_from_prompt

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    import numpy as np

    from studio.plan import CheckResult
    from studio.tools.base import Check


def is_available(result: CheckResult) -> bool:
    """False when a check could not run here (its engine is missing) and passed without measuring."""
    return result.evidence.get("available", True) is not False


SLOW_FIRST = ("vision", "text", "reversed", "artifact", "direction", "continuity")
"""Checks started first when they run side by side: the longest (a model's answer, OCR, the clip's optical flow,
the moving-lines search) so that the short ones fill the gaps. The moving-lines search starts before the direction
check, which would only wait for the flow the reversal check is computing."""


def default_workers() -> int:
    """Threads a clip's checks run on: one more than the cores there are, at most three (OCR, the flow and the
    moving-lines search are the long ones; the rest take milliseconds). One more because the text check mostly
    waits for readings OCR threads of its own are making (or `ClipDecoding.read_early` made), and a waiting check
    should not keep the flow and the moving-lines search from sharing the cores."""
    import os

    return max(1, min(3, (os.cpu_count() or 1) + 1))


def run_checks(
    clip: ClipAnalysis, shot: Shot, checks: Sequence[Check], *, workers: int | None = None
) -> list[CheckResult]:
    """Every check's result over `clip`, in the order of `checks`.

    With more than one worker the checks run side by side in a pool of this call's own: they read the same
    `ClipAnalysis`, which computes each shared analysis once, and the heavy work in them (onnxruntime, OpenCV,
    numpy) runs outside the GIL. The results are the same as one at a time."""
    workers = default_workers() if workers is None else workers
    if workers <= 1 or len(checks) <= 1:
        return [check.run(clip, shot) for check in checks]
    from concurrent.futures import ThreadPoolExecutor

    rank = {name: position for position, name in enumerate(SLOW_FIRST)}
    order = sorted(range(len(checks)), key=lambda index: rank.get(checks[index].name, len(rank)))
    with ThreadPoolExecutor(max_workers=min(workers, len(checks)), thread_name_prefix="critic-check") as pool:
        futures = {index: pool.submit(checks[index].run, clip, shot) for index in order}
        return [futures[index].result() for index in range(len(checks))]


def judge(clip: ClipAnalysis, shot: Shot, checks: Sequence[Check], *, workers: int | None = None) -> Verdict:
    """Run every check over `clip` (side by side on `workers` threads; `default_workers()` without).

    The verdict fails when any check fails, so an advisory check (the vision critic) can add failures but never
    clears a measured one. The score is the lowest score of the checks that ran."""
    results = run_checks(clip, shot, checks, workers=workers)
    failures = [result for result in results if not result.passed]
    score = min((result.score for result in results if is_available(result)), default=1.0)
    return Verdict(
        shot_id=shot.id,
        passed=not failures,
        score=score,
        checks=results,
        repair=plan_repair(results, shot) if failures else None,
    )


def shot_for(prompt: str, motion: MotionSpec, seconds: float, shot_id: str = "clip") -> Shot:
    """A `Shot` for judging a clip made elsewhere: its prompt, the intended motion and its own length."""
    seconds = max(seconds, 1e-3)
    design = ShotDesign(
        beat_index=0, framing="as rendered", action=prompt, camera=motion.camera, subjects=motion.subjects,
        place="unknown", seconds=min(seconds, 120.0),
    )  # fmt: skip
    return Shot(
        id=shot_id, segment_index=0, beat_index=0, prompt=prompt, negative_prompt="", motion=motion,
        place="unknown", seed=0, seconds=seconds, design=design,
    )  # fmt: skip


def critique_file(
    path: Path,
    prompt: str,
    motion: MotionSpec | str | None = None,
    *,
    contact_sheet: Path | None = None,
    checks: Sequence[Check] | None = None,
    max_width: int = JUDGED_SIZE[0],
    decoding: ClipDecoding | None = None,
) -> Verdict:
    """Judge any video file against the prompt it was made from, with `checks` (the default checks without).

    `motion` is a `MotionSpec`, its JSON, or words ("pans left, the ball falls"); without it the motion is read
    from the prompt. Frames wider than `max_width` (the width a station judges at) are scaled down first; a caller
    that started decoding `path` already (`ClipAnalysis.start(path, max_width=…)`) passes it as `decoding`. Writes
    a contact sheet when asked."""
    from pathlib import Path as _Path

    from studio.tools.checks import default_checks

    path = _Path(path)
    if decoding is None:
        decoding = ClipAnalysis.start(path, max_width=max_width)
    checks = list(checks) if checks is not None else default_checks()
    read_text_early(decoding, checks)
    if isinstance(motion, str):
        stripped = motion.strip()
        motion = MotionSpec.model_validate_json(stripped) if stripped.startswith("{") else motion_from_prompt(stripped)
    intent = motion if motion is not None else motion_from_prompt(prompt)
    clip = decoding.analysis()
    shot = shot_for(prompt, intent, clip.seconds, shot_id=path.stem)
    verdict = judge(clip, shot, checks)
    if contact_sheet is not None:
        from studio.critic.report import write_contact_sheet

        write_contact_sheet(clip.frames, verdict, contact_sheet)
    return verdict


def judge_clip(
    clip: Path, shot: Shot, checks: Sequence[Check], *, drawn: tuple[np.ndarray, float] | None = None
) -> tuple[Verdict, dict[str, str]]:
    """Judge a rendered clip as production does: the verdict, and its evidence pictures written beside the clip
    (`contact_sheet` as .sheet.jpg, `thumbnail` as .thumb.png; one that cannot be written is left out, never fails
    the verdict). `drawn`: the frames and rate the embedded renderer drew for this very file, judged instead of
    decoding it when they are at the judged size."""
    from studio.critic.report import write_contact_sheet, write_thumbnail
    from studio.errors import StudioError

    width, height = JUDGED_SIZE
    if drawn is not None and drawn[0].shape[1:3] == (height, width):
        # The embedded renderer's own frames, still in memory: what its near-lossless master holds.
        analysis = ClipAnalysis(*drawn)
    else:
        # OCR reads the frames the text check samples while the rest of the clip is still being decoded.
        decoding = ClipAnalysis.start(clip, width=width, height=height)
        read_text_early(decoding, checks)
        analysis = decoding.analysis()
    verdict = judge(analysis, shot, checks)
    evidence: dict[str, str] = {}
    for key, write, suffix in (("contact_sheet", write_contact_sheet, EVIDENCE_SUFFIXES["contact_sheet"]),
                               ("thumbnail", write_thumbnail, EVIDENCE_SUFFIXES["thumbnail"])):  # fmt: skip
        try:
            evidence[key] = str(write(analysis.frames, verdict, clip.with_suffix(suffix)))
        except StudioError:
            continue
    return verdict, evidence


EVIDENCE_SUFFIXES = {"contact_sheet": ".sheet.jpg", "thumbnail": ".thumb.png"}
"""Where `judge_clip` writes a clip's evidence pictures: beside it, with these suffixes."""


def read_text_early(decoding: ClipDecoding, checks: Sequence[Check]) -> None:
    """Have OCR read the frames the text check will read as soon as each is decoded (`ClipDecoding.read_early`),
    so that its readings are ready, or nearly, when the checks start."""
    for check in checks:
        frames_to_read = getattr(check, "frames_to_read", None)
        if frames_to_read is not None:
            decoding.read_early(frames_to_read(decoding.expected), max_width=getattr(check, "max_width", 1024))
            return
