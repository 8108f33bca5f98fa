"""Judge a rendered clip: run the checks, combine them into a `Verdict`, propose a concrete repair.

Also the pieces `studio critique` needs for clips made elsewhere: the intended motion read from a person's words
(by `studio.vocabulary.motion_from_prompt`), the verdict as JSON, a contact sheet to look at, and the words that
leaked (lessons for the show).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from studio.plan import MotionSpec, Repair, Shot, ShotDesign, Verdict
from studio.vocabulary import motion_from_prompt

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    import numpy as np
    from langchain_core.language_models import BaseChatModel

    from studio.plan import CheckResult
    from studio.tools.base import Check

TEXT_NEGATIVES = ["text", "letters", "words", "watermark", "caption", "subtitles", "logo", "signage"]
NEGATIVES: dict[str, list[str]] = {
    "reversed": ["reversed motion", "playing backwards"],
    "direction": ["wrong direction", "reversed motion"],
    "artifact": ["vertical lines", "stripes", "waves", "scanlines", "glitch", "distortion"],
    "flicker": ["flicker", "strobing", "flashing lights"],
    "frozen": ["still image", "frozen frame", "static"],
    "dynamic": ["still image", "static", "motionless"],
    "black": ["black screen", "fade to black", "darkness"],
}
JUDGED_SIZE = (576, 320)
"""The critic reads a station's clips at this size (width, height): its evidence (OCR boxes, flow) is measured there."""
# The failure names `verdict_json` reports; finer checks fold into these with a `kind`.
REPORTED_AS = {"flicker": "artifact", "dynamic": "artifact"}


def is_available(result: CheckResult) -> bool:
    """False when a check could not run here (its engine is missing) and passed without measuring."""
    return result.evidence.get("available", True) is not False


def judge(
    frames: np.ndarray,
    fps: float,
    shot: Shot,
    checks: Sequence[Check],
    vision: Check | BaseChatModel | None = None,
) -> Verdict:
    """Run `checks` (and the vision critic when given: a `Check` or a multimodal chat model) over `frames`.

    The verdict fails when any check fails; the vision critic can add failures but never clears a measured
    one. The score is the lowest score of the checks that ran."""
    results = [check.run(frames, fps, shot) for check in checks]
    if vision is not None:
        critic = vision if hasattr(vision, "run") else _vision_critic(vision)
        results.append(critic.run(frames, fps, shot))
    failures = [result for result in results if not result.passed]
    score = min((result.score for result in results if is_available(result)), default=1.0)
    return Verdict(
        shot_id=shot.id,
        passed=not failures,
        score=score,
        checks=results,
        repair=plan_repair(results, shot) if failures else None,
    )


def _vision_critic(model: BaseChatModel) -> Check:
    from studio.vision import VisionCritic

    return VisionCritic(model)


def _vision_kinds(result: CheckResult) -> set[str]:
    problems = result.evidence.get("problems", [])
    return {str(problem.get("kind", "other")) for problem in problems if isinstance(problem, dict)}


def plan_repair(results: Sequence[CheckResult], shot: Shot) -> Repair:
    """The cheapest repair that addresses every failure in `results`.

    A clean time reversal (the only fault, and not already a reversed render) is fixed by playing the clip
    backwards. Anything else renders again with a new seed: leaked words out of the prompt and text words into
    the negative prompt, the motion restated, an ignored colour or a drifted canonical look ("Pepito in red and
    cream") emphasised, artifact words as negatives."""
    failures = [result for result in results if not result.passed]
    kinds = {result.check for result in failures if result.check != "vision"}
    for result in failures:
        if result.check == "vision":
            kinds |= {kind for kind in _vision_kinds(result) if kind != "other"} or {"vision"}
    if kinds == {"reversed"} and not shot.reverse_only:
        return Repair(
            action="reverse",
            new_seed=False,
            note="clean time reversal: every intended motion runs backwards; play the clip backwards",
        )
    remove_words: list[str] = []
    add_negative: list[str] = []
    emphasise: list[str] = []
    reasons: list[str] = []
    for result in failures:
        if result.check == "text":
            leaked = [str(word) for word in result.evidence.get("leaked", [])]
            remove_words += leaked
            reasons.append(f"text in the picture (leaked: {', '.join(leaked)})" if leaked else "text in the picture")
        elif result.check == "colour":
            claims = result.evidence.get("claims", [])
            emphasise += [f"{claim['colour']} {_noun(str(claim['subject']), str(claim['colour']))}"
                          for claim in claims if isinstance(claim, dict)]  # fmt: skip
            seen = [f"{claim['seen']} {_noun(str(claim['subject']), str(claim['colour']))}"
                    for claim in claims if isinstance(claim, dict) and claim.get("seen") not in (None, "nothing")]  # fmt: skip
            add_negative += seen
            reasons.append(f"colour ignored ({result.detail})")
        elif result.check == "continuity":
            emphasise += [str(look) for look in result.evidence.get("emphasise", [])]
            reasons.append(f"canonical colours drifted ({result.detail})")
        elif result.check == "vision":
            remove_words += [str(word) for word in result.evidence.get("leaked", [])]
            reasons.append(f"vision critic: {result.detail}")
        else:
            reasons.append(f"{result.check}: {result.detail.split(':')[0]}")
    if "text" in kinds:
        add_negative += TEXT_NEGATIVES
    for kind in sorted(kinds):
        add_negative += NEGATIVES.get(kind, [])
    restate = bool(kinds & {"reversed", "direction", "frozen", "dynamic"})
    changes = [
        f"remove {', '.join(dict.fromkeys(remove_words))}" if remove_words else "",
        "restate the motion" if restate else "",
        f"emphasise {', '.join(emphasise)}" if emphasise else "",
        "new seed",
    ]
    return Repair(
        action="rerender",
        remove_words=list(dict.fromkeys(remove_words)),
        add_negative=list(dict.fromkeys(add_negative)),
        restate_motion=restate,
        emphasise=list(dict.fromkeys(emphasise)),
        new_seed=True,
        note="; ".join(reasons) + " → " + ", ".join(change for change in changes if change),
    )


def _noun(subject: str, colour: str) -> str:
    words = [word for word in subject.split() if word.lower() != colour]
    return " ".join(words) or subject


def lessons_from(verdict: Verdict) -> list[str]:
    """Prompt words that leaked into the picture as text, lowercased, for the show's memory."""
    words: list[str] = []
    for result in verdict.checks:
        if result.check in ("text", "vision") and not result.passed:
            words += [str(word).lower() for word in result.evidence.get("leaked", [])]
    return list(dict.fromkeys(words))


# --- clips from anywhere ------------------------------------------------------------------------------------------


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
    vision: Check | BaseChatModel | None = None,
    checks: Sequence[Check] | None = None,
    max_width: int = 640,
) -> Verdict:
    """Judge any video file against the prompt it was made from.

    `motion` is a `MotionSpec`, its JSON, or words ("pans left, the ball falls"); without it the motion is read
    from the prompt. Frames wider than `max_width` are scaled down first. Writes a contact sheet when asked."""
    from pathlib import Path as _Path

    from studio.tools.checks import default_checks
    from studio.tools.media import probe, read_video

    path = _Path(path)
    if isinstance(motion, str):
        stripped = motion.strip()
        motion = MotionSpec.model_validate_json(stripped) if stripped.startswith("{") else motion_from_prompt(stripped)
    intent = motion if motion is not None else motion_from_prompt(prompt)
    info = probe(path)
    width, height = info.width, info.height
    if width > max_width:
        height = max(2, int(round(height * max_width / width / 2)) * 2)
        width = max_width
    frames, fps = read_video(path, width=width, height=height)
    fps = fps or 24.0
    shot = shot_for(prompt, intent, len(frames) / fps, shot_id=path.stem)
    verdict = judge(frames, fps, shot, list(checks) if checks is not None else default_checks(), vision=vision)
    if contact_sheet is not None:
        write_contact_sheet(frames, verdict, contact_sheet)
    return verdict


def verdict_json(verdict: Verdict) -> dict[str, Any]:
    """The verdict as plain JSON: `passed`, `score`, `failures` (check, kind, detail, evidence), every check,
    the repair and the lessons."""
    failures = []
    for result in verdict.failures:
        failures.append(
            {
                "check": REPORTED_AS.get(result.check, result.check),
                "kind": str(result.evidence.get("kind", result.check)),
                "detail": result.detail,
                "evidence": result.evidence,
            }
        )
    return {
        "shot_id": verdict.shot_id,
        "passed": verdict.passed,
        "score": round(verdict.score, 4),
        "failures": failures,
        "checks": [
            {
                "check": result.check,
                "passed": result.passed,
                "available": is_available(result),
                "score": round(result.score, 4),
                "detail": result.detail,
                "evidence": result.evidence,
            }
            for result in verdict.checks
        ],
        "repair": verdict.repair.model_dump(mode="json") if verdict.repair else None,
        "lessons": lessons_from(verdict),
    }


# --- contact sheet ------------------------------------------------------------------------------------------------


def write_contact_sheet(frames: np.ndarray, verdict: Verdict, path: Path, *, tiles: int = 6) -> Path:
    """A picture a person can look at (PNG, or JPEG when `path` ends in .jpg: a sixth of the size, what the station
    keeps for every clip it judges): `tiles` sampled frames with optical-flow arrows (yellow, moving subjects
    red) and OCR boxes (magenta, with the text read), under a header with the verdict and repair."""
    from pathlib import Path as _Path

    import cv2
    import numpy as np

    path = _Path(path)
    count = len(frames)
    text_result = next((r for r in verdict.checks if r.check == "text"), None)
    ocr = [item for item in (text_result.evidence.get("texts", []) if text_result else []) if isinstance(item, dict)]
    indices = sorted(set(np.linspace(0, max(count - 2, 0), tiles).round().astype(int).tolist()) | {
        int(item["frame"]) for item in ocr if int(item["frame"]) < count})[: max(tiles, 1) + 3]  # fmt: skip
    tile_w = min(320, frames.shape[2])
    tile_h = int(round(frames.shape[1] * tile_w / frames.shape[2]))
    scale = tile_w / frames.shape[2]
    rendered: list[np.ndarray] = []
    for index in indices:
        tile = cv2.resize(frames[index], (tile_w, tile_h), interpolation=cv2.INTER_AREA).copy()
        if index + 1 < count:
            _draw_flow(tile, frames[index], frames[index + 1])
        for item in ocr:
            if int(item["frame"]) != index:
                continue
            box = (np.asarray(item["box"], float) * scale).round().astype(np.int32)
            cv2.polylines(tile, [box], True, (255, 0, 255), 2)
            label_y = int(max(10, box[:, 1].min() - 4))
            cv2.putText(tile, str(item["text"])[:24], (int(box[:, 0].min()), label_y),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 0, 255), 1, cv2.LINE_AA)  # fmt: skip
        cv2.putText(tile, f"frame {index}", (4, tile_h - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1,
                    cv2.LINE_AA)  # fmt: skip
        rendered.append(tile)
    columns = 3
    while len(rendered) % columns:
        rendered.append(np.zeros_like(rendered[0]))
    rows = [np.concatenate(rendered[start : start + columns], axis=1) for start in range(0, len(rendered), columns)]
    grid = np.concatenate(rows, axis=0)
    lines = [f"{'PASS' if verdict.passed else 'FAIL'}  {verdict.shot_id}  score {verdict.score:.2f}"]
    lines += [f"{r.check}: {r.detail}"[:110] for r in verdict.failures]
    if verdict.repair is not None:
        lines.append(f"repair: {verdict.repair.action} - {verdict.repair.note}"[:110])
    header = np.full((18 * len(lines) + 8, grid.shape[1], 3), 24, np.uint8)
    for number, line in enumerate(lines):
        colour = (120, 230, 120) if verdict.passed and number == 0 else (255, 120, 120) if number else (255, 255, 255)
        cv2.putText(header, line, (6, 18 * number + 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1, cv2.LINE_AA)
    sheet = np.concatenate([header, grid], axis=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    options = [cv2.IMWRITE_JPEG_QUALITY, 90] if path.suffix.lower() in (".jpg", ".jpeg") else []
    if not cv2.imwrite(str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), options):
        from studio.errors import ToolError

        raise ToolError(f"cannot write the contact sheet {path}")
    return path


def write_thumbnail(frames: np.ndarray, verdict: Verdict | None, path: Path, *, width: int = 192) -> Path:
    """The clip's middle frame, `width` pixels wide, as a PNG (what the TUI shows of the shot on air)."""
    from pathlib import Path as _Path

    import cv2

    path = _Path(path)
    frame = frames[len(frames) // 2]
    height = max(2, int(round(frame.shape[0] * width / frame.shape[1])))
    small = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(small, cv2.COLOR_RGB2BGR)):
        from studio.errors import ToolError

        raise ToolError(f"cannot write the thumbnail {path}")
    return path


def _draw_flow(tile: np.ndarray, current: np.ndarray, following: np.ndarray) -> None:
    import cv2
    import numpy as np

    height, width = tile.shape[:2]
    grey = [cv2.cvtColor(cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
            for frame in (current, following)]  # fmt: skip
    flow = cv2.calcOpticalFlowFarneback(grey[0], grey[1], None, 0.5, 3, 15, 3, 5, 1.2, 0)
    median = np.median(flow.reshape(-1, 2), axis=0)
    step = max(12, width // 16)
    gain = 4.0
    for y in range(step // 2, height, step):
        for x in range(step // 2, width, step):
            dx, dy = flow[y, x]
            if np.hypot(dx, dy) < 0.3:
                continue
            own = np.hypot(dx - median[0], dy - median[1]) > max(1.0, 0.5 * np.hypot(*median))
            colour = (255, 60, 60) if own else (255, 230, 0)
            end = (int(round(x + dx * gain)), int(round(y + dy * gain)))
            cv2.arrowedLine(tile, (x, y), end, colour, 1, cv2.LINE_AA, tipLength=0.3)
