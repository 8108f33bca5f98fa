"""What a person reads of a verdict: the verdict as JSON, a contact sheet (sampled frames with flow arrows and OCR
boxes under the verdict) and a thumbnail."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from studio.critic.judge import is_available
from studio.critic.repair import lessons_from

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np

    from studio.plan import Verdict

# The failure names `verdict_json` reports; finer checks fold into these with a `kind`.
REPORTED_AS = {"flicker": "artifact", "dynamic": "artifact"}


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
    # The arrows sit a step (20 px) apart: flow measured at half the tile's size places them as well, at a
    # quarter of the cost (a sheet is drawn for every clip judged).
    half_w, half_h = max(8, width // 2), max(8, height // 2)
    grey = [cv2.cvtColor(cv2.resize(frame, (half_w, half_h), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
            for frame in (current, following)]  # fmt: skip
    flow = cv2.calcOpticalFlowFarneback(grey[0], grey[1], None, 0.5, 3, 15, 3, 5, 1.2, 0)
    flow *= np.array([width / half_w, height / half_h], np.float32)
    median = np.median(flow.reshape(-1, 2), axis=0)
    step = max(12, width // 16)
    gain = 4.0
    for y in range(step // 2, height, step):
        for x in range(step // 2, width, step):
            dx, dy = flow[min(half_h - 1, y * half_h // height), min(half_w - 1, x * half_w // width)]
            if np.hypot(dx, dy) < 0.3:
                continue
            own = np.hypot(dx - median[0], dy - median[1]) > max(1.0, 0.5 * np.hypot(*median))
            colour = (255, 60, 60) if own else (255, 230, 0)
            end = (int(round(x + dx * gain)), int(round(y + dy * gain)))
            cv2.arrowedLine(tile, (x, y), end, colour, 1, cv2.LINE_AA, tipLength=0.3)
