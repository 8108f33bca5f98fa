"""The three LLM calls through the real showrunner, screenwriter and cinematographer nodes.

`LLMDirector` is driven by `ScriptedChatModel` (a real LangChain chat model that answers from a queue) for what the
nodes do with an LLM's answer, and by ChatOpenAI against the local `FakeOpenAI` server for what goes over the wire
(function calling, HTTP errors, timeouts). Every failure must give exactly what the offline director writes.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from langgraph.runtime import Runtime

from studio import events as ev
from studio.agents import prompts
from studio.agents.cinematographer import cinematographer
from studio.agents.llm import Director, LLMDirector, OfflineBackedDirector, make_director
from studio.agents.screenwriter import screenwriter
from studio.agents.showrunner import showrunner
from studio.config import load_settings
from studio.plan import (
    Beat,
    CameraMove,
    EpisodePlan,
    SegmentOutline,
    SegmentScript,
    ShotDesign,
    ShotList,
    SubjectMotion,
)
from studio.show import Show, parse_show
from studio.state import EpisodeState, StudioContext
from studio.station import Station
from studio.tools.base import Toolkit
from studio.tools.registry import build_toolkit
from tests.scripted_chat import ScriptedChatModel, ScriptExhausted
from tests.unit.test_llm_director import FakeOpenAI

SHOW = """\
title: Scripted Lab
premise: a robot and a cat keep a small lab and its garden tidy
tone: dry
visual_style: flat bright colours, soft shadows
characters:
  - name: Bo
    species: robot
    look: a small round orange robot with one big eye
    wardrobe: a tiny blue scarf
    palette: [orange, white]
  - name: Mia
    species: cat
    look: a grey cat with a white chest
    palette: [grey, white]
places:
  - name: Lab
    description: a white lab with blue tiles
    palette: [white, blue]
  - name: Garden
    description: a small green garden with a stone path
    palette: [green, grey]
    lighting: warm afternoon sun
props:
  - name: Box
    description: a cardboard box with red tape
    colour: brown
formats:
  - name: opening
    description: Bo starts the day
    beats: ["{host} rolls from left to right across the lab", "{host} waves at {cohost}"]
    seconds: 2
    characters: [Bo, Mia]
    place: Lab
  - name: tidy
    description: the two tidy up
    beats: ["{host} slides the Box to the right", "{cohost} jumps up onto a shelf"]
    seconds: 3
    place: Garden
topics: [boxes, shelves, lamps]
avoid_words: [glitter]
music:
  mood: calm
channel:
  width: 192
  height: 108
  fps: 12
  episode_segments: 2
  seed: 3
"""

SEED = 3
# Camera, brand and resolution words an LLM likes to write, and the show's own avoided word.
PAINTED = re.compile(r"(?i)(?<![\w-])(imax|canon|eos|4k|8k|hdr|glitter)(?![\w-])")


@pytest.fixture(scope="module")
def show() -> Show:
    return parse_show(SHOW, "scripted_lab.yaml")


@pytest.fixture(scope="module")
def toolkit(tmp_path_factory: pytest.TempPathFactory) -> Toolkit:
    """The embedded tools, as production builds them (the writer nodes never call them; built once, it is slow)."""
    return build_toolkit(load_settings(data_dir=tmp_path_factory.mktemp("tools")))


@pytest.fixture
def station(tmp_path: Path) -> Iterator[Station]:
    store = Station(tmp_path / "station.sqlite")
    yield store
    store.close()


@dataclass
class Studio:
    """Runs one writer node the way the compiled graph does: `node(state, Runtime(context=...))`."""

    show: Show
    station: Station
    toolkit: Toolkit
    data_dir: Path

    def context(self, director: Director) -> StudioContext:
        settings = load_settings(data_dir=self.data_dir)
        return StudioContext(
            show=self.show, settings=settings, toolkit=self.toolkit, director=director, station=self.station, seed=SEED
        )

    def run(self, node: Callable[..., dict[str, Any]], director: Director, state: EpisodeState) -> dict[str, Any]:
        update = node(state, Runtime(context=self.context(director)))
        return {**update, "events": [ev.event_from_dict(event) for event in update["events"]]}


@pytest.fixture
def studio(show: Show, station: Station, toolkit: Toolkit, tmp_path: Path) -> Studio:
    return Studio(show=show, station=station, toolkit=toolkit, data_dir=tmp_path / "data")


def scripted(*replies: Any, method: str = "json_schema") -> tuple[LLMDirector, ScriptedChatModel]:
    chat = ScriptedChatModel().enqueue(*replies)
    return LLMDirector(chat, label="scripted", method=method), chat


def only(events: list[ev.Event], cls: type[ev.Event]) -> Any:
    [event] = [event for event in events if isinstance(event, cls)]
    return event


# --- inputs of each node, and what the LLM answers --------------------------------------------------------------


def plan_state(show: Show) -> EpisodeState:
    return {"episode_number": 1}


def script_state(show: Show) -> EpisodeState:
    plan = OfflineBackedDirector().plan_episode(show, 1, seed=SEED, recent_topics=[], steering=[])[0]
    return {"episode_number": 1, "plan": plan, "segment_index": 1}


def shots_state(show: Show) -> EpisodeState:
    script = SegmentScript(
        title="Opening: boxes", format="opening", mood="calm and bright",
        beats=[
            Beat(description="Bo rolls from left to right along the garden path", characters=["Bo"], place="Garden",
                 props=["Box"], seconds=1.0),
            Beat(description="Bo waves at Mia in the lab", characters=["Bo", "Mia"], place="Lab", seconds=1.0),
        ],
    )  # fmt: skip
    return {"episode_number": 1, "segment_index": 0, "script": script}


LLM_PLAN = EpisodePlan(
    number=77, title="Lamp Night", topic="lamps", logline="Bo and Mia chase the last working lamp.",
    segments=[
        SegmentOutline(format="opening", title="Lights out", summary="Bo finds the lab dark."),
        SegmentOutline(format="tidy", title="Bulb hunt", summary="Mia and Bo sort the bulbs."),
    ],
)  # fmt: skip

LLM_SCRIPT = SegmentScript(
    title="Bulb hunt", format="tidy", mood="hushed plucked strings",
    beats=[
        Beat(description="Bo slides the Box of bulbs to the right", characters=["Bo"], place="Garden",
             props=["Box"], seconds=4),
        Beat(description="Mia jumps up onto a shelf with a bulb", characters=["Mia"], place="Garden", seconds=2),
    ],
)  # fmt: skip

LLM_SHOTS = ShotList(
    shots=[
        ShotDesign(
            beat_index=0, framing="wide shot at eye level in 8K HDR",
            action="Bo rolls the Box along the path, IMAX, shot on Canon EOS, 4K, glitter everywhere",
            camera=CameraMove(kind="pan", direction="right", speed="slow"),
            subjects=[
                SubjectMotion(subject="Bo", action="rolls", direction="right", speed="medium"),
                SubjectMotion(subject="Zorg", action="flies", direction="left", speed="fast"),
            ],
            characters=["bo", "Zorg"], place="Moon Base", props=["Box", "laser sword"], seconds=1.0,
        ),
        ShotDesign(
            beat_index=1, framing="medium shot at eye level", action="Bo waves at Mia by the blue tiles",
            camera=CameraMove(kind="static", direction="none"), characters=["Mia", "Bo"], place="lab",
            seconds=1.0,
        ),
    ]
)  # fmt: skip

# (node, its input state, the field of its update that the director's answer becomes)
NODES = {
    "showrunner": (showrunner, plan_state, "plan"),
    "screenwriter": (screenwriter, script_state, "script"),
    "cinematographer": (cinematographer, shots_state, "shots"),
}
BACKEND_OF = {"showrunner": ev.EpisodePlanned, "screenwriter": ev.SegmentWritten, "cinematographer": ev.ShotsDesigned}


# --- the LLM writes --------------------------------------------------------------------------------------------


def test_llm_plan_lands_in_the_plan_and_the_event_and_its_prompt_carries_steering_and_recent_topics(
    studio: Studio,
) -> None:
    first = LLM_PLAN.model_copy(update={"title": "Box Day", "topic": "boxes"})
    director, chat = scripted(first, LLM_PLAN)
    studio.station.record_many(studio.run(showrunner, director, {"episode_number": 1})["events"])
    command_id = studio.station.add_command("scripted-lab", "steer", {"note": "more cardboard"})
    # The station receives it (as its command loop does); the showrunner follows received notes.
    studio.station.record(
        ev.CommandReceived(show="scripted-lab", command_id=command_id, kind="steer", args={"note": "more cardboard"})
    )

    update = studio.run(showrunner, director, {"episode_number": 2, "steering": ["topic: lamps"]})

    plan = update["plan"]
    assert plan == LLM_PLAN.model_copy(update={"number": 2})  # the station, not the model, numbers episodes
    planned = only(update["events"], ev.EpisodePlanned)
    assert planned.backend == "scripted"
    assert (planned.episode, planned.title, planned.topic, planned.logline) == (2, "Lamp Night", "lamps", plan.logline)
    assert [(s.title, s.format, s.seconds) for s in planned.segments] == [
        ("Lights out", "opening", 2),
        ("Bulb hunt", "tidy", 3),
    ]
    assert planned.segments[0].segment_id == "scripted-lab-e0002-s01" and planned.planned_seconds == 5
    assert planned.plan == plan.model_dump(mode="json")
    assert planned.steering == ("more cardboard", "topic: lamps")
    applied = only(update["events"], ev.CommandApplied)
    assert applied.command_id == command_id and "'Lamp Night'" in applied.effect

    call = chat.history[-1]
    assert call.schema is EpisodePlan and call.method == "json_schema"
    assert call.system == prompts.SHOWRUNNER_SYSTEM
    assert "more cardboard" in call.user and "topic: lamps" in call.user
    # episode 1's topic, from the station, as data
    assert 'Recent topics to avoid repeating:\n<data name="recent_topics">\n["boxes"]\n</data>' in call.user
    assert '["opening", "tidy"]' in call.user and "a small round orange robot" in call.user
    assert "Steering notes" not in chat.history[0].user
    chat.assert_exhausted()


def test_segments_in_unknown_formats_are_dropped_and_known_ones_take_the_show_file_spelling(studio: Studio) -> None:
    reply = LLM_PLAN.model_copy(
        update={
            "segments": [
                SegmentOutline(format="interpretive dance", title="Twirl", summary="Bo twirls."),
                SegmentOutline(format="TIDY", title="Bulb hunt", summary="They sort bulbs."),
            ]
        }
    )
    director, chat = scripted(reply)
    update = studio.run(showrunner, director, plan_state(studio.show))
    assert [(s.format, s.title) for s in update["plan"].segments] == [("tidy", "Bulb hunt")]
    planned = only(update["events"], ev.EpisodePlanned)
    assert [(s.format, s.seconds) for s in planned.segments] == [("tidy", 3)] and planned.planned_seconds == 3
    assert planned.backend == "scripted"
    chat.assert_exhausted()


def test_a_plan_naming_no_known_format_gets_the_show_formats_in_order(studio: Studio) -> None:
    reply = LLM_PLAN.model_copy(
        update={
            "segments": [
                SegmentOutline(format="cold open", title="One", summary="First."),
                SegmentOutline(format="the recipe", title="Two", summary="Second."),
                SegmentOutline(format="taste test", title="Three", summary="Third."),
            ]
        }
    )
    director, chat = scripted(reply)
    update = studio.run(showrunner, director, plan_state(studio.show))
    expected = [("opening", "One"), ("tidy", "Two"), ("opening", "Three")]
    assert [(s.format, s.title) for s in update["plan"].segments] == expected
    planned = only(update["events"], ev.EpisodePlanned)
    assert [(s.format, s.title) for s in planned.segments] == expected and planned.planned_seconds == 7
    # The screenwriter can then write every segment of that plan.
    script_director, _ = scripted(LLM_SCRIPT)
    state: EpisodeState = {"episode_number": 1, "plan": update["plan"], "segment_index": 2}
    written = only(studio.run(screenwriter, script_director, state)["events"], ev.SegmentWritten)
    assert written.seconds == 2 and written.backend == "scripted"


def test_llm_beats_are_scaled_to_the_format_seconds(studio: Studio) -> None:
    director, chat = scripted(LLM_SCRIPT)
    state = script_state(studio.show)
    update = studio.run(screenwriter, director, state)

    script = update["script"]
    assert [beat.seconds for beat in script.beats] == [2.0, 1.0]  # 4 s + 2 s written, the tidy format lasts 3 s
    assert [beat.description for beat in script.beats] == [beat.description for beat in LLM_SCRIPT.beats]
    assert (script.title, script.mood) == ("Bulb hunt", "hushed plucked strings")
    written = only(update["events"], ev.SegmentWritten)
    assert written.backend == "scripted" and written.seconds == 3 and written.segment == 1
    assert written.beats == tuple(beat.description for beat in LLM_SCRIPT.beats)
    assert written.script == script.model_dump(mode="json")
    assert (update["shots"], update["pending"], update["clips"]) == ([], [], {})

    [call] = chat.history
    assert call.schema is SegmentScript and call.system == prompts.SCREENWRITER_SYSTEM
    outline = state["plan"].segments[1]
    assert outline.title in call.user and "Segment length: 3 seconds" in call.user and '"Garden"' in call.user
    chat.assert_exhausted()


def test_llm_shots_keep_only_what_the_show_file_knows_and_no_painted_words(studio: Studio) -> None:
    director, chat = scripted(LLM_SHOTS)
    update = studio.run(cinematographer, director, shots_state(studio.show))
    show = studio.show
    bo, mia = show.character("Bo").full_description(), show.character("Mia").full_description()
    lab, garden = show.place("Lab").full_description(), show.place("Garden").full_description()

    first, second = update["shots"]
    # Moon Base is no place of the show: the beat's place (Garden), not the show's first place (Lab).
    assert (first.characters, first.props, first.place) == (["Bo"], ["Box"], "Garden")
    assert [motion.subject for motion in first.motion.subjects] == ["Bo"]
    assert bo in first.prompt and "the Box, a cardboard box with red tape" in first.prompt
    assert f"setting: {garden}" in first.prompt
    for invented in ("Zorg", "laser sword", "Moon Base"):
        assert invented.lower() not in first.prompt.lower()
    assert mia not in first.prompt and lab not in first.prompt
    assert "Bo rolls the Box along the path" in first.prompt and "Bo rolls from left to right" in first.prompt

    assert (second.characters, second.place) == (["Mia", "Bo"], "Lab")
    assert mia in second.prompt and bo in second.prompt and f"setting: {lab}" in second.prompt

    for shot in update["shots"]:
        assert PAINTED.search(shot.prompt) is None, shot.prompt
    assert update["pending"] == [first.id, second.id] == ["e0001-s01-sh01", "e0001-s01-sh02"]

    designed = only(update["events"], ev.ShotsDesigned)
    assert designed.backend == "scripted" and designed.segment_title == "Opening: boxes"
    assert [(s.characters, s.place) for s in designed.shots] == [(("Bo",), "Garden"), (("Mia", "Bo"), "Lab")]
    assert [s.prompt for s in designed.shots] == [first.prompt, second.prompt]

    [call] = chat.history
    assert call.schema is ShotList and call.system == prompts.CINEMATOGRAPHER_SYSTEM
    assert '"imax"' in call.user and '"glitter"' in call.user and "along the garden path" in call.user
    chat.assert_exhausted()


# --- function calling --------------------------------------------------------------------------------------------


def test_function_calling_method_reaches_the_chat_model_and_its_tool_call_is_parsed(studio: Studio) -> None:
    director, chat = scripted(LLM_PLAN, method="function_calling")
    update = studio.run(showrunner, director, plan_state(studio.show))
    assert update["plan"] == LLM_PLAN.model_copy(update={"number": 1})
    assert only(update["events"], ev.EpisodePlanned).backend == "scripted"
    [call] = chat.history
    assert (call.schema, call.method) == (EpisodePlan, "function_calling")
    chat.assert_exhausted()


@dataclass(frozen=True)
class ToolCall:
    """A reply whose message calls the function `name` with `arguments` (a JSON string)."""

    name: str
    arguments: str


@dataclass(frozen=True)
class Slow:
    """A reply sent only after `seconds` (or when the test ends): a valid answer that comes too late."""

    seconds: float
    content: str


class ScriptableOpenAI(FakeOpenAI):
    """`FakeOpenAI` that can also answer with a tool call, or answer late. Other replies are the base server's."""

    def __init__(self) -> None:
        super().__init__()
        self.released = threading.Event()
        fake, base = self, self.server.RequestHandlerClass

        class Handler(base):  # type: ignore[misc, valid-type]
            def do_POST(self) -> None:  # noqa: N802
                reply = fake.replies[0] if fake.replies else None
                if not isinstance(reply, ToolCall | Slow):
                    super().do_POST()
                    return
                fake.replies.pop(0)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append(body)
                if isinstance(reply, Slow):
                    fake.released.wait(reply.seconds)
                    message, finish = {"role": "assistant", "content": reply.content}, "stop"
                else:
                    call = {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": reply.name, "arguments": reply.arguments},
                    }
                    message, finish = {"role": "assistant", "content": None, "tool_calls": [call]}, "tool_calls"
                payload = {
                    "id": "cmpl-1", "object": "chat.completion", "created": 0, "model": body["model"],
                    "choices": [{"index": 0, "finish_reason": finish, "message": message}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                }  # fmt: skip
                data = json.dumps(payload).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client gave up waiting
                    pass

        self.server.RequestHandlerClass = Handler

    def enqueue_reply(self, reply: ToolCall | Slow) -> None:
        self.replies.append(reply)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def shared_server() -> Iterator[ScriptableOpenAI]:
    """One server for the module (each shutdown waits out the server's half-second poll)."""
    fake = ScriptableOpenAI()
    yield fake
    fake.released.set()
    fake.server.shutdown()
    fake.server.server_close()


@pytest.fixture
def server(shared_server: ScriptableOpenAI, monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptableOpenAI]:
    """The shared server with empty queues, configured as this test's endpoint."""
    shared_server.replies.clear()
    shared_server.requests.clear()
    shared_server.released = threading.Event()
    monkeypatch.setenv("OPENAI_BASE_URL", shared_server.url)
    monkeypatch.setenv("STUDIO_LLM_MODEL", "tiny-local")
    yield shared_server
    shared_server.released.set()  # a late reply still waiting is sent now, to a client that has gone


def test_function_calling_over_http_sends_tools_not_response_format_and_parses_the_tool_call(
    studio: Studio, server: ScriptableOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STUDIO_LLM_STRUCTURED_METHOD", "function_calling")
    director = make_director(load_settings())
    assert isinstance(director, LLMDirector) and director.method == "function_calling"
    server.enqueue_reply(ToolCall("EpisodePlan", LLM_PLAN.model_dump_json()))

    update = studio.run(showrunner, director, plan_state(studio.show))

    assert update["plan"] == LLM_PLAN.model_copy(update={"number": 1})
    assert only(update["events"], ev.EpisodePlanned).backend.startswith("openai-compatible:tiny-local@")
    [request] = server.requests
    assert "response_format" not in request
    assert request["tool_choice"] == {"type": "function", "function": {"name": "EpisodePlan"}}
    [tool] = request["tools"]
    assert tool["type"] == "function" and tool["function"]["name"] == "EpisodePlan"
    assert set(tool["function"]["parameters"]["required"]) == {"number", "title", "topic", "logline", "segments"}
    assert request["parallel_tool_calls"] is False
    assert "Scripted Lab" in request["messages"][-1]["content"]


# --- failures fall back to the offline director -----------------------------------------------------------------


def assert_offline_fallback(studio: Studio, node_name: str, director: Director, *reason: str) -> str:
    """Runs the node with `director` and with the offline director: same output, and a label giving the reason."""
    node, state_of, field = NODES[node_name]
    state = state_of(studio.show)
    update = studio.run(node, director, state)
    offline = studio.run(node, OfflineBackedDirector(), state)
    assert update[field] == offline[field]
    backend = only(update["events"], BACKEND_OF[node_name]).backend
    assert backend.startswith(f"offline-director (fallback from {director.backend}: "), backend
    for part in reason:
        assert part in backend, backend
    return backend


SCHEMA_INVALID = {
    "showrunner": {"title": "No rundown", "topic": "lamps", "logline": "?", "segments": []},
    "screenwriter": {"title": "No beats", "format": "tidy", "mood": "calm"},
    "cinematographer": {"shots": [{"beat_index": 0, "framing": "wide", "action": "Bo", "place": "Lab", "seconds": -1}]},
}


@pytest.mark.parametrize("node_name", list(NODES))
@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        ("http 500", ("Error code: 500", "the model crashed")),
        ("invalid json", ("ValidationError", "Invalid JSON")),
        ("fails the schema", ("ValidationError",)),
    ],
)
def test_http_failures_fall_back_to_the_offline_director(
    studio: Studio, server: ScriptableOpenAI, node_name: str, failure: str, reason: tuple[str, ...]
) -> None:
    if failure == "http 500":
        server.enqueue("the model crashed", status=500)
        server.enqueue("the model crashed", status=500)  # ChatOpenAI retries once
    elif failure == "invalid json":
        server.enqueue("Sure! Here is your plan: {title: Lamp Night")
    else:
        server.enqueue(json.dumps(SCHEMA_INVALID[node_name]))
    director = make_director(load_settings())
    assert_offline_fallback(studio, node_name, director, *reason)
    assert server.requests, "the endpoint was asked"


def test_a_timeout_falls_back_to_the_offline_director(
    studio: Studio, server: ScriptableOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STUDIO_LLM_TIMEOUT_S", "1")
    for _ in range(2):  # ChatOpenAI retries once; both answers would be valid, but come after 3 s
        server.enqueue_reply(Slow(3.0, LLM_PLAN.model_dump_json()))
    director = make_director(load_settings())
    assert_offline_fallback(studio, "showrunner", director, "TimeoutError", "timed out")


@pytest.mark.parametrize("node_name", list(NODES))
@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (RuntimeError("the model crashed"), ("RuntimeError: the model crashed",)),
        ("{title: Lamp Night", ("OutputParserException", "invalid JSON")),
        ("schema", ("ValidationError",)),
    ],
    ids=["exception", "invalid json", "fails the schema"],
)
def test_scripted_failures_fall_back_to_the_offline_director(
    studio: Studio, node_name: str, reply: Any, reason: tuple[str, ...]
) -> None:
    director, chat = scripted(SCHEMA_INVALID[node_name] if reply == "schema" else reply)
    assert_offline_fallback(studio, node_name, director, *reason)
    assert len(chat.history) == 1
    chat.assert_exhausted()


@pytest.mark.parametrize("method", ["json_schema", "function_calling"])
def test_scripted_failures_fall_back_with_function_calling_too(studio: Studio, method: str) -> None:
    director, chat = scripted("not json", method=method)
    reason = "invalid tool call" if method == "function_calling" else "invalid JSON"
    assert_offline_fallback(studio, "showrunner", director, "OutputParserException", reason)
    assert chat.history[0].method == method


def test_the_scripted_model_says_when_it_has_no_reply_left(studio: Studio) -> None:
    chat = ScriptedChatModel()
    with pytest.raises(ScriptExhausted, match="no reply queued"):
        chat.with_structured_output(EpisodePlan, method="json_schema").invoke([("human", "plan")])
    assert isinstance(ScriptExhausted(), AssertionError)
    # Through the director, an unscripted call is visible in the label rather than silently offline.
    backend = assert_offline_fallback(studio, "showrunner", LLMDirector(chat, label="scripted"), "ScriptExhausted")
    assert "no reply queued" in backend and len(chat.history) == 2


def test_the_offline_showrunner_does_not_repeat_the_previous_episodes_topic(studio: Studio) -> None:
    topics = []
    for number in range(1, 9):
        update = studio.run(showrunner, OfflineBackedDirector(), {"episode_number": number})
        studio.station.record_many(update["events"])
        topics.append(update["plan"].topic)
    assert all(a != b for a, b in zip(topics, topics[1:], strict=False)), topics
