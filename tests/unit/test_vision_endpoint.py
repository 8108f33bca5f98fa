"""The vision critic as a registered check, against a real local OpenAI-compatible server (tests/unit/openai_server.py):
what it sends (the shot's brief and the frames as JPEG data URIs), what its verdict adds, and that a server that
fails or answers nonsense leaves it unavailable without failing the clip."""

from __future__ import annotations

import base64

import cv2
import numpy as np
import pytest

from studio.config import Settings
from studio.critic.analysis import ClipAnalysis
from studio.critic.judge import judge
from studio.tools.checks import default_checks
from studio.tools.registry import critic_checks
from studio.vision import VisionCritic, shot_brief
from tests.unit.critic_fixtures import clean_clip
from tests.unit.openai_server import Reply, chat_server

PASSING = {"passed": True, "score": 0.9, "problems": [], "text_seen": [], "summary": "a pumpkin falls"}


def _settings(base_url: str, **overrides: object) -> Settings:
    return Settings(vision_model="test-vl", vision_base_url=base_url, vision_timeout_s=20, **overrides)  # type: ignore[arg-type]


def test_the_vision_check_is_registered_only_when_a_model_is_named() -> None:
    assert [check.name for check in critic_checks(Settings())] == [check.name for check in default_checks()]
    checks = critic_checks(Settings(vision_model="test-vl", vision_base_url="http://127.0.0.1:9/v1"))
    assert checks[-1].name == "vision" and isinstance(checks[-1], VisionCritic)
    assert checks[-1].frames == 4


def test_the_request_carries_the_brief_and_the_frames_and_a_fault_fails_the_clip() -> None:
    clip = clean_clip(3)
    leaked = clip.shot.prompt.split()[1]
    verdict_reply = {
        "passed": False, "score": 0.2, "summary": "a word is painted on the wall",
        "problems": [{"kind": "text", "detail": f"the word {leaked} is written on the wall", "frames": [3]}],
        "text_seen": [leaked.upper()],
    }  # fmt: skip
    with chat_server(Reply(verdict_reply)) as server:
        settings = _settings(server.base_url, vision_frames=3)
        analysis = ClipAnalysis(clip.frames, clip.fps)
        verdict = judge(analysis, clip.shot, [*default_checks(text=False), *critic_checks(settings)[-1:]])
    assert server.requests, "the vision model was asked"
    request = server.requests[-1]
    assert request["model"] == "test-vl"
    images = server.images(request)
    assert len(images) == 3 and all(url.startswith("data:image/jpeg;base64,") for url in images)
    decoded = cv2.imdecode(np.frombuffer(base64.b64decode(images[0].split(",", 1)[1]), np.uint8), cv2.IMREAD_COLOR)
    assert decoded is not None and max(decoded.shape[:2]) <= 384
    assert shot_brief(clip.shot, clip.fps, len(clip.frames)) in server.texts(request)
    vision = next(result for result in verdict.checks if result.check == "vision")
    assert not vision.passed and vision.evidence["available"] is True
    assert leaked.lower() in [word.lower() for word in vision.evidence["leaked"]]
    assert not verdict.passed and [result.check for result in verdict.failures] == ["vision"]
    assert verdict.repair is not None and leaked.lower() in [w.lower() for w in verdict.repair.remove_words]


@pytest.mark.parametrize(
    "reply",
    [Reply(status=500), Reply("this is not JSON at all"), Reply({"passed": "maybe"})],
    ids=["500", "prose", "bad-schema"],
)
def test_a_failing_or_nonsensical_server_leaves_the_check_unavailable_and_the_clip_judged(reply: Reply) -> None:
    clip = clean_clip(4)
    with chat_server(reply) as server:
        checks = [*default_checks(text=False), VisionCritic.from_settings(_settings(server.base_url))]
        verdict = judge(ClipAnalysis(clip.frames, clip.fps), clip.shot, checks)
    assert server.requests, "the server was asked"
    vision = next(result for result in verdict.checks if result.check == "vision")
    assert vision.passed and vision.evidence["available"] is False
    assert vision.detail.startswith("unavailable")
    assert verdict.passed, [f"{r.check}: {r.detail}" for r in verdict.failures]


def test_a_passing_vision_verdict_never_clears_a_measured_failure() -> None:
    clip = clean_clip(5)
    black = np.zeros_like(clip.frames)
    with chat_server(Reply(PASSING)) as server:
        checks = [*default_checks(text=False), VisionCritic.from_settings(_settings(server.base_url))]
        verdict = judge(ClipAnalysis(black, clip.fps), clip.shot, checks)
    assert next(r for r in verdict.checks if r.check == "vision").passed
    assert not verdict.passed and "black" in [r.check for r in verdict.failures]
