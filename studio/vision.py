"""The vision-LLM critic: sampled frames plus the shot spec to a multimodal chat model, a structured verdict back.

Any OpenAI-compatible multimodal chat model works (a langchain `BaseChatModel`, injected, or built on first use from
the `STUDIO_VISION_*` settings by `make_vision_model`); frames go as base64 JPEG data URLs in one human message. Its
verdict becomes a `CheckResult` named `vision`, one more check in the toolkit's list (the registry adds it when
`STUDIO_VISION_MODEL` is set), so `studio.critic.judge` adds it to the measured checks — it can add failures, never
clear a measured one. A model that cannot do structured output is asked for the same JSON in plain text; a model
that cannot be reached or answers nonsense leaves the check unavailable, never failing the clip.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
from typing import TYPE_CHECKING, Any, Literal

import cv2
import numpy as np
from pydantic import ConfigDict, Field, ValidationError

from studio.model_docs import DocumentedModel
from studio.plan import CheckResult
from studio.tools.checks.text import leaked_words, sample_indices

if TYPE_CHECKING:
    from collections.abc import Callable

    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import BaseMessage

    from studio.config import Settings
    from studio.critic.analysis import ClipAnalysis
    from studio.plan import Shot

log = logging.getLogger(__name__)

VISION_SYSTEM_PROMPT = """You are the critic of a TV studio that makes its footage with a text-to-video model.
You see frames sampled in order from one generated clip and the shot it was meant to be. Judge only what you
can see. Typical faults of text-to-video: the clip plays backwards or something moves the wrong way; words from
the prompt appear written in the picture (a brand, "IMAX", the subject's name); a colour asked for is ignored;
moving vertical lines, waves, flicker or melting shapes; a camera brand or "drone footage" in the prompt makes a
camera or drone appear as an object. Reply with the JSON object the schema describes and nothing else."""

ProblemKind = Literal["reversed", "direction", "text", "colour", "artifact", "other"]


class _Model(DocumentedModel):
    model_config = ConfigDict(extra="forbid")


class VisionProblem(_Model):
    kind: ProblemKind
    """reversed, direction, text, colour, artifact or other."""
    detail: str
    """What is wrong, concretely, in one sentence."""
    frames: list[int] = []
    """Frame numbers (as labelled) where it shows."""


class VisionVerdict(_Model):
    """The vision critic's structured answer."""

    passed: bool
    """True when the clip can go on air as the shot describes it."""
    score: float = Field(ge=0.0, le=1.0)
    """1.0 is flawless."""
    problems: list[VisionProblem] = []
    """Every fault seen; empty when passed."""
    text_seen: list[str] = []
    """Any words or letters legible in the picture, exactly as written."""
    summary: str = ""
    """One sentence on what the clip shows."""


def frame_data_url(frame: np.ndarray, max_side: int = 384, quality: int = 85) -> str:
    """An RGB frame as a `data:image/jpeg;base64,…` URL, scaled so its long side is at most `max_side`."""
    height, width = frame.shape[:2]
    scale = min(1.0, max_side / max(height, width))
    if scale < 1.0:
        frame = cv2.resize(frame, (int(round(width * scale)), int(round(height * scale))), interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("cannot encode frame as JPEG")
    return "data:image/jpeg;base64," + base64.b64encode(encoded.tobytes()).decode("ascii")


def shot_brief(shot: Shot, fps: float, count: int) -> str:
    """The shot spec as the vision model reads it."""
    return "\n".join(
        [
            f"Prompt: {shot.prompt}",
            f"Negative prompt: {shot.negative_prompt or '(none)'}",
            f"Intended motion: {shot.motion.describe()}",
            f"Motion spec: {shot.motion.model_dump_json()}",
            f"Clip: {count} frames at {fps:g} fps ({count / fps if fps else 0:.1f} s).",
        ]
    )


def _parse_reply(content: Any) -> VisionVerdict:
    if isinstance(content, list):
        content = "".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in content)
    text = str(content).strip()
    fenced = re.search(r"```(?:json)?\s*(\{.*\})\s*```", text, re.S)
    if fenced:
        text = fenced.group(1)
    elif "{" in text:
        text = text[text.index("{") : text.rindex("}") + 1]
    return VisionVerdict.model_validate(json.loads(text))


def vision_configured(settings: Settings) -> bool:
    """Whether a vision model is named and an endpoint to ask it at is configured (its own or `OPENAI_*`)."""
    return bool(
        settings.vision_model
        and (settings.vision_base_url or settings.vision_api_key or settings.openai_base_url or settings.openai_api_key)
    )


def make_vision_model(settings: Settings) -> BaseChatModel:
    """`ChatOpenAI` for `settings.vision_model` at `vision_base_url` (else `OPENAI_BASE_URL`, else OpenAI's API)
    with `vision_api_key` (else `OPENAI_API_KEY`; local servers need none)."""
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        model=settings.vision_model or "",
        api_key=settings.vision_api_key or settings.openai_api_key or "not-needed",  # type: ignore[arg-type]
        base_url=settings.vision_base_url or settings.openai_base_url,
        timeout=settings.vision_timeout_s,
        max_retries=0,
        temperature=0.0,
    )


class VisionCritic:
    """A `Check` that asks a multimodal chat model about `frames` sampled frames of the clip.

    `model` is a chat model or a function that builds one, called once on first use (so configuring the critic
    imports no langchain until a clip is judged)."""

    name = "vision"

    def __init__(
        self,
        model: BaseChatModel | Callable[[], BaseChatModel],
        *,
        frames: int = 4,
        max_side: int = 384,
        structured: bool = True,
    ) -> None:
        self._model = model
        self._model_lock = threading.Lock()
        self.frames = frames
        self.max_side = max_side
        self.structured = structured

    @classmethod
    def from_settings(cls, settings: Settings) -> VisionCritic:
        """The critic `STUDIO_VISION_MODEL` names (see `make_vision_model`), sending `vision_frames` frames."""
        return cls(lambda: make_vision_model(settings), frames=settings.vision_frames)

    @property
    def model(self) -> BaseChatModel:
        with self._model_lock:
            if not hasattr(self._model, "invoke"):
                self._model = self._model()  # type: ignore[operator]
            return self._model  # type: ignore[return-value]

    def messages(self, frames: np.ndarray, fps: float, shot: Shot) -> list[BaseMessage]:
        """The system and human messages: the brief, the schema, then each sampled frame with its label."""
        from langchain_core.messages import HumanMessage, SystemMessage

        indices = sample_indices(len(frames), self.frames)
        content: list[str | dict[str, Any]] = [
            {
                "type": "text",
                "text": shot_brief(shot, fps, len(frames))
                + f"\n\nFrames follow in time order: {', '.join(f'frame {i}' for i in indices)}."
                + "\nAnswer with JSON matching this schema:\n"
                + json.dumps(VisionVerdict.model_json_schema()),
            }
        ]
        for index in indices:
            seconds = index / fps if fps else 0.0
            content.append({"type": "text", "text": f"frame {index} (t = {seconds:.2f} s)"})
            content.append({"type": "image_url", "image_url": {"url": frame_data_url(frames[index], self.max_side)}})
        return [SystemMessage(content=VISION_SYSTEM_PROMPT), HumanMessage(content=content)]

    def ask(self, messages: list[BaseMessage]) -> VisionVerdict:
        """Structured output when the model supports it, else JSON parsed from its text reply."""
        if self.structured:
            try:
                runnable = self.model.with_structured_output(VisionVerdict)
            except NotImplementedError:
                runnable = None
            if runnable is not None:
                try:
                    answer = runnable.invoke(messages)
                    return answer if isinstance(answer, VisionVerdict) else VisionVerdict.model_validate(answer)
                except (ValidationError, ValueError, NotImplementedError) as error:
                    log.info("vision model gave no structured output (%s); asking for plain JSON", error)
        reply = self.model.invoke(messages)
        return _parse_reply(reply.content)

    def run(self, clip: ClipAnalysis, shot: Shot) -> CheckResult:
        frames, fps = clip.frames, clip.fps
        indices = sample_indices(len(frames), self.frames)
        try:
            verdict = self.ask(self.messages(frames, fps, shot))
        except Exception as error:  # noqa: BLE001 - the vision critic is advisory: its failure never blocks a verdict
            reason = f"{type(error).__name__}: {str(error)[:200]}"
            return CheckResult(
                check="vision",
                passed=True,
                score=1.0,
                detail=f"unavailable, vision critic not consulted: {reason}",
                evidence={"available": False, "reason": reason, "frames_sent": indices},
            )
        leaked = leaked_words(verdict.text_seen, shot.prompt)
        problems = [problem.model_dump() for problem in verdict.problems]
        passed = verdict.passed and not any(problem.kind != "other" for problem in verdict.problems)
        detail = "; ".join(f"{problem.kind}: {problem.detail}" for problem in verdict.problems) or verdict.summary
        return CheckResult(
            check="vision",
            passed=passed,
            score=float(verdict.score if not passed else max(verdict.score, 0.5)),
            detail=detail or ("looks right" if passed else "rejected without a reason"),
            evidence={
                "available": True,
                "frames_sent": indices,
                "problems": problems,
                "text_seen": verdict.text_seen,
                "leaked": leaked,
                "summary": verdict.summary,
                "model": type(self.model).__name__,
            },
        )
