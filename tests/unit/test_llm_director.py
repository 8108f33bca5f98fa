"""The LLM path: ChatOpenAI (langchain-openai) against a local OpenAI-compatible server that replies from a queue."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from studio.agents.llm import LLMDirector, OfflineBackedDirector, make_director
from studio.config import load_settings
from studio.plan import EpisodePlan, SegmentOutline
from studio.show import load_show
from tests.conftest import SHOWS


class FakeOpenAI:
    """Serves /v1/chat/completions: pops queued replies, records request bodies."""

    def __init__(self) -> None:
        self.replies: list[tuple[int, str]] = []
        self.requests: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append(body)
                status, content = fake.replies.pop(0) if fake.replies else (500, "no reply queued")
                payload = {
                    "id": "cmpl-1", "object": "chat.completion", "created": 0, "model": body["model"],
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": content}}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                } if status == 200 else {"error": {"message": content, "type": "server_error"}}  # fmt: skip
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def enqueue(self, content: str, status: int = 200) -> None:
        self.replies.append((status, content))


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI()
    yield fake
    fake.server.shutdown()


def test_no_endpoint_means_offline_director() -> None:
    director = make_director(load_settings())
    assert isinstance(director, OfflineBackedDirector) and director.backend == "offline-director"


def test_chat_openai_writes_the_episode_plan(fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.url)
    monkeypatch.setenv("STUDIO_LLM_MODEL", "tiny-local")
    director = make_director(load_settings())
    assert isinstance(director, LLMDirector)
    show = load_show(SHOWS / "cooking.yaml")
    reply = EpisodePlan(
        number=99, title="Soup Day", topic="onion soup", logline="Marisol braves the onions.",
        segments=[SegmentOutline(format="cold open", title="Hello soup", summary="They greet us.")],
    )  # fmt: skip
    fake_openai.enqueue(reply.model_dump_json())
    plan, backend = director.plan_episode(show, 4, seed=1, recent_topics=["tomato soup"], steering=["more onions"])
    assert plan.title == "Soup Day" and plan.number == 4  # the station, not the model, numbers episodes
    assert backend.startswith("openai-compatible:tiny-local@")
    request = fake_openai.requests[0]
    assert request["model"] == "tiny-local"
    assert request["response_format"]["type"] == "json_schema"
    user = request["messages"][-1]["content"]
    assert "more onions" in user and "tomato soup" in user and "Chef Marisol" in user


def test_endpoint_failure_falls_back_and_says_so(fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.url)
    director = make_director(load_settings())
    show = load_show(SHOWS / "cooking.yaml")
    fake_openai.enqueue("not json at all")
    plan, backend = director.plan_episode(show, 1, seed=7, recent_topics=[], steering=[])
    offline = OfflineBackedDirector().plan_episode(show, 1, seed=7, recent_topics=[], steering=[])[0]
    assert plan == offline
    assert backend.startswith("offline-director (fallback from openai-compatible:")


def test_a_fallback_reason_is_one_line(fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    """Invalid JSON makes pydantic raise a ValidationError of several lines; the label the log keeps (and the
    TUI and `studio log` print on one line) says it on one. Found by the soak (benchmarks/soak.py)."""
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.url)
    director = make_director(load_settings())
    fake_openai.enqueue('{"title": "Half an answer", "segments": [{"format": ')
    _, backend = director.plan_episode(load_show(SHOWS / "cooking.yaml"), 1, seed=7, recent_topics=[], steering=[])
    assert "ValidationError" in backend and "Invalid JSON" in backend
    assert "\n" not in backend and "  " not in backend
