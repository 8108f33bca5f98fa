"""Contact sheets for `studio report`: the picture of the critic's evidence for each clip, as JPEG bytes."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from studio.errors import StudioError

if TYPE_CHECKING:
    from studio import events as ev

JPEG_QUALITY = 85


class SheetMaker:
    """Contact sheets as JPEG bytes: the one the critic saved beside the clip, else one drawn again from the clip
    (`write_contact_sheet`), else a note that the clip is gone."""

    def __init__(self, scratch: Path, *, enabled: bool) -> None:
        self.scratch = scratch
        self.enabled = enabled

    def sheet(self, rendered: ev.ClipRendered | None, verdict: ev.VerdictGiven | None) -> tuple[bytes | None, str]:
        if rendered is None:
            return None, "no render of this attempt in the range"
        clip = Path(rendered.path)
        saved = Path(verdict.contact_sheet) if verdict is not None and verdict.contact_sheet else None
        if not self.enabled:
            return None, "contact sheets left out"
        if saved is not None and saved.is_file():
            gone = "" if clip.is_file() else f"; the clip itself was pruned from disk ({clip.name})"
            try:
                return _jpeg(saved.read_bytes()), f"the critic's contact sheet, saved beside the clip{gone}"
            except (OSError, ValueError):
                pass  # a damaged sheet: draw it again from the clip
        if not clip.is_file():
            return None, f"clip pruned from disk ({clip}): no contact sheet"
        if verdict is None:
            return None, "not judged: the critic gave no verdict on this clip in the range"
        try:
            return self._draw(clip, verdict), "contact sheet drawn again from the clip on disk"
        except (StudioError, OSError, ValueError) as error:
            return None, f"could not draw a contact sheet from {clip.name}: {error}"

    def _draw(self, clip: Path, verdict_event: ev.VerdictGiven) -> bytes:
        from studio.critic.judge import JUDGED_SIZE
        from studio.critic.report import write_contact_sheet
        from studio.plan import Verdict
        from studio.tools.media import read_video

        verdict = Verdict.model_validate(dict(verdict_event.verdict))
        # The frames the critic judged, so the OCR boxes and flow fall where it measured them.
        width, height = JUDGED_SIZE
        frames, _ = read_video(clip, width=width, height=height)
        path = self.scratch / f"{clip.stem}.sheet.png"
        write_contact_sheet(frames, verdict, path)
        return _jpeg(path.read_bytes())


def _jpeg(png: bytes) -> bytes:
    """A contact sheet as JPEG: a fifth of the PNG's size or less, and the arrows and boxes still read."""
    import cv2
    import numpy as np

    picture = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    if picture is None:
        raise ValueError("not a picture")
    ok, encoded = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ValueError("cannot encode it as JPEG")
    return encoded.tobytes()
