"""The vision-LLM critic against scripted fake chat models: frames are sent, the verdict is combined, never
replacing the measured checks."""

from __future__ import annotations

import base64
import json
from typing import Any

import cv2
import numpy as np
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import RunnableLambda

from studio.critic.analysis import ClipAnalysis
from studio.critic.judge import judge
from studio.critic.repair import lessons_from
from studio.tools.checks import default_checks
from studio.vision import VisionCritic, VisionVerdict, frame_data_url
from tests.unit.critic_fixtures import clean_clip


class ScriptedChatModel(BaseChatModel):
    """Replies with queued texts and records every list of messages it was sent."""

    replies: list[str]
    calls: list[list[BaseMessage]] = []

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None, **kwargs: Any) -> ChatResult:
        self.calls.append(list(messages))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=self.replies.pop(0)))])


class StructuredChatModel(ScriptedChatModel):
    """Supports structured output by parsing its scripted JSON into the schema."""

    def with_structured_output(self, schema: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        def answer(messages: list[BaseMessage]) -> Any:
            self.calls.append(list(messages))
            return schema.model_validate_json(self.replies.pop(0))

        return RunnableLambda(answer)


def _reply(**fields: Any) -> str:
    base = {"passed": True, "score": 0.9, "problems": [], "text_seen": [], "summary": "a pumpkin in a kitchen"}
    return json.dumps({**base, **fields})


def _images(messages: list[BaseMessage]) -> list[str]:
    human = messages[-1]
    assert isinstance(human.content, list)
    return [
        part["image_url"]["url"] for part in human.content if isinstance(part, dict) and part.get("type") == "image_url"
    ]


def test_frames_and_the_shot_spec_are_sent_as_data_urls() -> None:
    clip = clean_clip(31)
    model = ScriptedChatModel(replies=[_reply()])
    result = VisionCritic(model, frames=3).run(ClipAnalysis(clip.frames, clip.fps), clip.shot)
    assert result.check == "vision" and result.passed
    assert len(model.calls) == 1
    urls = _images(model.calls[0])
    assert len(urls) == 3
    for url in urls:
        assert url.startswith("data:image/jpeg;base64,")
        decoded = cv2.imdecode(np.frombuffer(base64.b64decode(url.split(",", 1)[1]), np.uint8), cv2.IMREAD_COLOR)
        assert decoded is not None and decoded.shape[1] == clip.frames.shape[2]
    brief = " ".join(
        part["text"] for part in model.calls[0][-1].content if isinstance(part, dict) and part.get("type") == "text"
    )
    assert clip.shot.prompt in brief and "Intended motion" in brief
    assert result.evidence["frames_sent"] == [int(i) for i in result.evidence["frames_sent"]]


def test_vision_failures_are_added_to_a_measured_pass() -> None:
    clip = clean_clip(32)
    shot = clip.shot.model_copy(update={"prompt": clip.shot.prompt + ", shot on IMAX"})
    reply = _reply(
        passed=False,
        score=0.3,
        problems=[{"kind": "text", "detail": "the word IMAX is written on the wall", "frames": [4]}],
        text_seen=["IMAX"],
    )
    model = ScriptedChatModel(replies=[reply])
    verdict = judge(ClipAnalysis(clip.frames, clip.fps), shot, [*default_checks(text=False), VisionCritic(model)])
    measured = [result for result in verdict.checks if result.check != "vision"]
    assert all(result.passed for result in measured)
    assert not verdict.passed
    assert [failure.check for failure in verdict.failures] == ["vision"]
    assert verdict.repair is not None and verdict.repair.remove_words == ["IMAX"]
    assert "text" in verdict.repair.add_negative
    assert lessons_from(verdict) == ["imax"]


def test_a_vision_pass_never_clears_a_measured_failure() -> None:
    clip = clean_clip(33)
    backwards = clip.frames[::-1].copy()
    model = StructuredChatModel(replies=[_reply(passed=True, score=1.0)])
    verdict = judge(ClipAnalysis(backwards, clip.fps), clip.shot, [*default_checks(text=False), VisionCritic(model)])
    assert not verdict.passed
    assert {"vision"} < {result.check for result in verdict.checks}
    assert next(result for result in verdict.checks if result.check == "vision").passed
    assert {failure.check for failure in verdict.failures} & {"reversed", "direction"}
    assert len(model.calls) == 1 and len(_images(model.calls[0])) == 4


def test_generic_fake_model_without_structured_output_is_parsed_from_text() -> None:
    clip = clean_clip(34)
    fenced = (
        "```json\n"
        + _reply(passed=False, score=0.4, problems=[{"kind": "artifact", "detail": "vertical lines"}])
        + "\n```"
    )
    model = GenericFakeChatModel(messages=iter([AIMessage(content=fenced)]))
    result = VisionCritic(model).run(ClipAnalysis(clip.frames, clip.fps), clip.shot)
    assert not result.passed and result.score == 0.4
    assert result.evidence["problems"][0]["kind"] == "artifact"


def test_a_broken_vision_model_is_reported_and_does_not_block() -> None:
    clip = clean_clip(35)
    model = ScriptedChatModel(replies=["this is not json"])
    verdict = judge(ClipAnalysis(clip.frames, clip.fps), clip.shot, [*default_checks(text=False), VisionCritic(model)])
    vision = next(result for result in verdict.checks if result.check == "vision")
    assert vision.passed and vision.evidence["available"] is False and "unavailable" in vision.detail
    assert verdict.passed


def test_frame_data_url_limits_the_long_side() -> None:
    frame = np.zeros((576, 1024, 3), np.uint8)
    url = frame_data_url(frame, max_side=256)
    decoded = cv2.imdecode(np.frombuffer(base64.b64decode(url.split(",", 1)[1]), np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape[:2] == (144, 256)
    assert VisionVerdict.model_validate_json(_reply()).passed
