"""Leaked text: OCR on a few sampled frames with an offline engine, and the prompt words that leaked.

The engine is RapidOCR 3.x's pipeline on onnxruntime (`studio.tools.checks.ocr`: the same steps and readings
without RapidOCR's start-up); its wheel carries the PP-OCR detection and recognition models, so nothing is
downloaded at run time. It is imported lazily; without it the check reports itself unavailable and passes, saying
what to install.
"""

from __future__ import annotations

import difflib
import re
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from studio.plan import CheckResult

if TYPE_CHECKING:
    from collections.abc import Mapping

    from studio.critic.analysis import ClipAnalysis
    from studio.plan import Shot

INSTALL_HINT = "pip install 'rapidocr>=3.10,<4' 'onnxruntime>=1.18'"

STOPWORDS = frozenset(
    """a an the and or but of in on at to from by with for into onto over under as is are was were be been its it
    this that these those his her their our your my very slowly quickly steady steadily pace speed shot camera frame
    across toward towards away while then than who which what when where there here some any each every one two
    medium slow fast wide close up down left right naturally moving forward time""".split()
)

# OCR confuses these glyphs; leaked-word matching folds them together.
_CONFUSABLE = str.maketrans({"1": "l", "i": "l", "|": "l", "!": "l", "0": "o", "5": "s", "$": "s", "8": "b"})


@dataclass(frozen=True)
class TextFound:
    """One line of text read in one frame."""

    frame: int
    text: str
    score: float
    box: list[list[float]]
    """Four corner points (x, y) in the frame's pixels."""


_engine_lock = threading.Lock()
_engine: Any = None


OCR_PARAMS = {"Global.log_level": "error", "Global.use_cls": False, "Det.limit_type": "max", "Det.limit_side_len": 1024}
"""RapidOCR settings every engine here starts from (the critic's, the safety gate's): quiet, no angle classifier,
detection at the frame's own size up to 1024 px. The critic's own engine (`studio.tools.checks.ocr.OnnxOCR`) runs
RapidOCR's pipeline with exactly these settings."""


class _RapidOCRLines:
    """`rapidocr.RapidOCR` behind `OnnxOCR.read`'s interface: the fallback when the wheel's models are not the ones
    `OnnxOCR` runs (another rapidocr release). Its pipeline objects keep state between calls: one read at a time."""

    def __init__(self, params: Mapping[str, Any] | None = None) -> None:
        """`params`: RapidOCR settings over the critic's (the safety gate's lower detection thresholds)."""
        from rapidocr import RapidOCR

        self._engine = RapidOCR(
            params={**OCR_PARAMS, "EngineConfig.onnxruntime.intra_op_num_threads": 1, **(params or {})}
        )
        self._lock = threading.Lock()

    def read(self, image: np.ndarray) -> list[tuple[Any, str, float]]:
        with self._lock:
            output = self._engine(image)
        if output.txts is None:
            return []
        return list(zip(output.boxes, output.txts, output.scores, strict=True))


def ocr_engine() -> Any:
    """The process-wide OCR engine (built on first use; its models load when a frame first needs them): an
    `OnnxOCR`, or RapidOCR itself when the installed wheel carries other models. Raises ImportError when it is not
    installed."""
    global _engine
    with _engine_lock:
        if _engine is None:
            from studio.tools.checks.ocr import OnnxOCR

            # Detection at the frame's own size: upscaling to RapidOCR's default 736 px short side costs 6x the
            # time and adds false readings on texture, and text 16 px high is found without it. One onnxruntime
            # thread: on the 2 shared cores the critic runs on, a pool of spinning threads took 0.28 s of CPU and
            # 0.76 s of wall per 576 px frame against 0.19 s and 0.34 s for one (same readings).
            try:
                _engine = OnnxOCR(threads=1)
            except FileNotFoundError:
                _engine = _RapidOCRLines()
        return _engine


def ocr_available() -> tuple[bool, str]:
    """Whether the OCR engine can be imported, and why not."""
    try:
        ocr_engine()
    except ImportError as error:
        return False, f"{error.name or 'rapidocr'} is not installed: {INSTALL_HINT}"
    except Exception as error:  # noqa: BLE001 - a broken engine must not take the critic down
        return False, f"OCR engine failed to start: {error}"
    return True, "rapidocr"


def warm_up() -> None:
    """Build the OCR engine and load its detection model now, not at the first frame (nothing when there is no
    engine: the text check says why)."""
    try:
        engine = ocr_engine()
        if hasattr(engine, "detector"):
            engine.detector()
    except Exception:  # noqa: BLE001, S110 - ocr_available() reports what is wrong when the check runs
        pass


def read_text(frame: np.ndarray, frame_index: int = 0, *, min_score: float = 0.5) -> list[TextFound]:
    """Every text line the OCR engine reads in one RGB frame, with its confidence and box."""
    lines = ocr_engine().read(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    found: list[TextFound] = []
    for box, text, score in lines:
        if float(score) >= min_score and text.strip():
            found.append(TextFound(frame_index, text.strip(), float(score), np.asarray(box, float).tolist()))
    return found


def read_frame(
    frame: np.ndarray, frame_index: int, *, max_width: int = 1024, min_score: float = 0.0
) -> list[TextFound]:
    """`read_text` on `frame` scaled down to at most `max_width` wide, boxes back in the frame's own pixels."""
    scale = 1.0
    if frame.shape[1] > max_width:
        scale = max_width / frame.shape[1]
        frame = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return [
        TextFound(item.frame, item.text, item.score, [[x / scale, y / scale] for x, y in item.box])
        for item in read_text(frame, frame_index, min_score=min_score)
    ]


def prompt_words(prompt: str) -> list[str]:
    """Content words of a prompt that could be rendered as text (3+ letters, no stopwords), in prompt order."""
    seen: dict[str, str] = {}
    for word in re.findall(r"[A-Za-z0-9][A-Za-z0-9'\-]*[A-Za-z0-9]", prompt):
        key = word.lower()
        if len(key) >= 3 and key not in STOPWORDS and key not in seen:
            seen[key] = word
    return list(seen.values())


def allowed_text(prompt: str) -> list[str]:
    """Text the prompt asks to see: quoted strings and what a sign "says" or "reads"."""
    allowed = re.findall(r"[\"“']([^\"”']{2,})[\"”']", prompt)
    allowed += re.findall(r"\b(?:says|saying|reads|reading|spelling|spells)\s+([A-Za-z0-9][\w\- ]{1,30})", prompt)
    return [text.strip() for text in allowed if text.strip()]


def _fold(text: str) -> str:
    return re.sub(r"[^a-z]", "", text.lower().translate(_CONFUSABLE).replace("rn", "m"))


def leaked_words(texts: list[str], prompt: str) -> list[str]:
    """The prompt's words that appear (allowing for OCR's look-alike glyphs and small misreads) in `texts`."""
    read = [_fold(token) for text in texts for token in re.split(r"[\s,.;:]+", text) if _fold(token)]
    joined = [_fold(text) for text in texts]
    leaked: list[str] = []
    for word in prompt_words(prompt):
        target = _fold(word)
        if len(target) < 3:
            continue
        hit = any(token == target for token in read)
        if not hit and len(target) >= 4:
            hit = any(target in text for text in joined) or any(
                difflib.SequenceMatcher(None, token, target).ratio() >= 0.8 for token in read
            )
        if hit:
            leaked.append(word)
    return leaked


def _is_allowed(text: str, allowed: list[str]) -> bool:
    folded = _fold(text)
    return bool(folded) and any(folded in _fold(wanted) or _fold(wanted) in folded for wanted in allowed)


def is_legible(text: str, prompt_words: frozenset[str] = frozenset()) -> bool:
    """Three or more letters or digits, not all bare vertical strokes (posts and planks read as "II") nor one
    repeated round glyph (a pair of eyes reads as "oo" or "00"); two characters only when they spell a prompt word
    ("4K")."""
    characters = re.sub(r"[^A-Za-z0-9]", "", text)
    if not re.sub(r"[Iil1]", "", characters):
        return False
    if len(characters) == 2:
        return characters.casefold() in prompt_words
    return len(characters) >= 3 and len(set(_fold(characters))) >= 2


def sample_indices(count: int, samples: int) -> list[int]:
    """`samples` frame indices spread over the clip, away from the very first and last frames."""
    if count <= 0:
        return []
    if samples >= count:
        return list(range(count))
    return sorted({int(round(position)) for position in np.linspace(0.12, 0.88, samples) * (count - 1)})


class TextCheck:
    """Fails when legible text (a line of 3+ letters or digits read with confidence ≥ `min_score`) appears in
    any of `samples` frames, unless the prompt asked for that text; names the prompt words that leaked."""

    name = "text"

    def __init__(self, samples: int = 4, min_score: float = 0.75, max_width: int = 1024) -> None:
        self.samples = samples
        self.min_score = min_score
        self.max_width = max_width

    def frames_to_read(self, count: int) -> list[int]:
        """The frames of a clip of `count` frames this check reads, in the order it reads them."""
        return sample_indices(count, self.samples)

    def run(self, clip: ClipAnalysis, shot: Shot) -> CheckResult:
        available, reason = ocr_available()
        if not available:
            return CheckResult(
                check="text",
                passed=True,
                score=1.0,
                detail=f"unavailable, text not checked: {reason}",
                evidence={"available": False, "reason": reason},
            )
        indices = self.frames_to_read(len(clip))
        # Every frame planned in order (read, or the same picture as one before it), then the readings not made
        # yet (`ClipDecoding.read_early` may have made them) two at a time: onnxruntime runs outside the GIL.
        planned = [clip.plan_text(index, max_width=self.max_width) for index in indices]
        reads = [read for _, read in planned if read is not None]
        if len(reads) > 1:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=2, thread_name_prefix="ocr") as pool:
                list(pool.map(lambda read: read(), reads))
        else:
            for read in reads:
                read()
        found = [item for readings, _ in planned for item in readings.result() if item.score >= self.min_score]
        allowed = allowed_text(shot.prompt)
        prompt_words = frozenset(re.findall(r"[a-z0-9]+", shot.prompt.casefold()))
        legible = [item for item in found if is_legible(item.text, prompt_words)]
        unwanted = [item for item in legible if not _is_allowed(item.text, allowed)]
        leaked = leaked_words([item.text for item in unwanted], shot.prompt)
        frames_with_text = sorted({item.frame for item in unwanted})
        if unwanted:
            lines = ", ".join(f"{item.text!r} ({item.score:.2f}) in frame {item.frame}" for item in unwanted[:6])
            words = f"; prompt words leaked: {', '.join(leaked)}" if leaked else ""
            detail = f"text in the picture: {lines}{words}"
        else:
            detail = f"no legible text in frames {indices}"
        return CheckResult(
            check="text",
            passed=not unwanted,
            score=1.0 - len(frames_with_text) / max(len(indices), 1),
            detail=detail,
            evidence={
                "available": True,
                "frames_read": indices,
                "texts": [
                    {"frame": item.frame, "text": item.text, "score": round(item.score, 3),
                     "box": [[round(x, 1), round(y, 1)] for x, y in item.box]}
                    for item in legible
                ],
                "leaked": leaked,
                "allowed": allowed,
            },
        )  # fmt: skip
