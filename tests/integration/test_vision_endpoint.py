"""The vision critic wired in end to end against a real local OpenAI-compatible server: `studio critique` runs it
when STUDIO_VISION_MODEL is set, and production's verdicts carry its result — a failure it sees sends the shot
back, a server error leaves it unavailable without failing the clip or stopping production."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from studio import events as ev
from studio.agents.llm import OfflineBackedDirector
from studio.config import load_settings
from studio.production import Production
from studio.show import parse_show
from studio.state import StudioContext
from studio.station import Station
from studio.tools.media import write_video
from studio.tools.registry import build_toolkit
from tests.integration.test_graph import SHOW
from tests.unit.critic_fixtures import clean_clip
from tests.unit.openai_server import Reply, chat_server

REPO = Path(__file__).resolve().parents[2]
PASSING = {"passed": True, "score": 0.9, "problems": [], "text_seen": [], "summary": "looks as asked"}
WRONG_WAY = {
    "passed": False, "score": 0.3, "summary": "the robot walks backwards",
    "problems": [{"kind": "direction", "detail": "the robot moves the wrong way", "frames": [2, 5]}], "text_seen": [],
}  # fmt: skip


def test_studio_critique_sends_the_frames_and_brief_and_reports_the_vision_verdict(tmp_path: Path) -> None:
    clip = clean_clip(8)
    path = tmp_path / "clip.mp4"
    write_video(clip.frames, clip.fps, path, width=clip.frames.shape[2], height=clip.frames.shape[1])
    with chat_server(Reply(WRONG_WAY)) as server:
        env = {**os.environ, "PYTHONPATH": str(REPO), "STUDIO_VISION_MODEL": "test-vl",
               "STUDIO_VISION_BASE_URL": server.base_url, "STUDIO_DATA_DIR": str(tmp_path / "data")}  # fmt: skip
        done = subprocess.run(
            [sys.executable, "-m", "studio.cli", "critique", str(path), "--prompt", clip.shot.prompt, "--json"],
            capture_output=True, text=True, env=env, timeout=600, check=False,
        )  # fmt: skip
    assert done.returncode == 1, done.stderr
    verdict = json.loads(done.stdout)
    vision = next(check for check in verdict["checks"] if check["check"] == "vision")
    assert vision["available"] and not vision["passed"] and "wrong way" in vision["detail"]
    assert [failure["check"] for failure in verdict["failures"]] == ["vision"]
    assert verdict["repair"]["restate_motion"], "a direction fault the model saw restates the motion"
    [request] = server.requests
    images = server.images(request)
    assert len(images) == 4 and all(url.startswith("data:image/jpeg;base64,") for url in images)
    assert f"Prompt: {clip.shot.prompt}" in server.texts(request)


def _events(station: Station, cls: type[ev.Event]) -> list[Any]:
    return [logged.event for logged in station.events() if isinstance(logged.event, cls)]


def test_production_verdicts_carry_the_vision_check_and_a_server_error_never_stops_them(tmp_path: Path) -> None:
    with chat_server(Reply(PASSING), script=[Reply(status=500), Reply(WRONG_WAY)]) as server:
        settings = load_settings(data_dir=tmp_path / "data", vision_model="test-vl", vision_base_url=server.base_url)
        station = Station(settings.data_dir / "station.sqlite")
        context = StudioContext(
            show=parse_show(SHOW.replace("{topic}]", "sorts the test tubes]"), "vision_lab.yaml"), settings=settings,
            toolkit=build_toolkit(settings), director=OfflineBackedDirector(), station=station, seed=5,
        )  # fmt: skip
        production = Production(context)
        production.make_episode(1)  # one shot: the server fails
        production.make_episode(2)  # one shot: the model sees it go the wrong way, then passes the re-render
    verdicts = _events(station, ev.VerdictGiven)
    assert len(verdicts) >= 3 and len(server.requests) == len(verdicts), "every clip judged went to the model once"
    visions = [next(c for c in v.verdict["checks"] if c["check"] == "vision") for v in verdicts]
    assert all("vision" in v.backend for v in verdicts)
    first, second = verdicts[0], verdicts[1]
    assert visions[0]["passed"] and visions[0]["evidence"]["available"] is False, "the 500 left it unavailable"
    assert not any(failure.startswith("vision") for failure in first.failures)
    assert not visions[1]["passed"] and any(failure.startswith("vision (") for failure in second.failures)
    assert not second.passed and second.repair == "rerender", "what the model saw sent the shot back"
    assert all(vision["evidence"]["available"] for vision in visions[1:])
    assert first.passed, "a server error never fails the clip"
    assert verdicts[2].passed and verdicts[2].shot == second.shot and verdicts[2].attempt == second.attempt + 1
    approved = _events(station, ev.SegmentApproved)
    assert sorted(event.episode for event in approved) == [1, 2], "production went on: both segments approved"
