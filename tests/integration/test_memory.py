"""The show memory against a real Chroma directory in tmp_path: canon, premises, continuity, steering, restarts."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from langgraph.runtime import Runtime

from studio import events as ev
from studio.agents.llm import OfflineBackedDirector
from studio.agents.showrunner import showrunner
from studio.config import load_settings
from studio.errors import MemoryStoreError
from studio.memory import ShowMemory
from studio.memory.embedder import MiniLM
from studio.memory.index import Document, MemoryIndex
from studio.runtime import StationRuntime
from studio.show import load_show, parse_show
from studio.state import StudioContext
from studio.station import Station
from tests.conftest import TEST_SHOWS
from tests.integration.test_cli import studio

SHOW = TEST_SHOWS / "two_segments.yaml"
EMBEDDER = MiniLM()  # one model load for the module


def events_of(station: Station, cls: type[ev.Event]) -> list[Any]:
    return [logged for logged in station.events(types=[cls.__name__])]


def run_station(data_dir: Path, episodes: int, **settings: Any) -> Station:
    runtime = StationRuntime(
        load_show(SHOW), load_settings(data_dir=data_dir, port=0, playout_realtime=False, **settings), episodes=episodes
    )
    runtime.start()
    try:
        assert runtime.wait(600), "the station did not finish"
    finally:
        runtime.stop()
    return Station(data_dir / "station.sqlite")


# --- the index ---------------------------------------------------------------------------------------------------


def test_the_index_keeps_what_was_upserted_across_a_hard_exit(tmp_path: Path) -> None:
    code = f"""
import os, sys
sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
from studio.memory.embedder import MiniLM
from studio.memory.index import Document, MemoryIndex
index = MemoryIndex(__import__("pathlib").Path({str(tmp_path / "memory")!r}), "kitchen", MiniLM())
index.upsert([Document("a", "premise", "tomato soup: a cosy soup episode", 1),
              Document("b", "premise", "green pea falafel: crispy and green", 2)])
os._exit(0)  # no clean shutdown: what Chroma wrote must already be on disk
"""
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    index = MemoryIndex(tmp_path / "memory", "kitchen", EMBEDDER)
    [match] = index.query("a bowl of tomato soup", kinds=["premise"], k=1)
    assert match.text.startswith("tomato soup") and match.episode == 1 and match.similarity > 0.5
    assert [m.episode for m in index.query("soup", k=5, before_episode=2)] == [1]


@pytest.mark.slow
def test_a_corrupt_index_is_one_clear_error_and_a_rebuild_restores_it_from_the_store(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    station = run_station(data_dir, episodes=1)
    approved = [e.segment_id for e in station.rundown() if e.status == "aired"]
    station.close()
    assert approved
    (data_dir / "memory" / "chroma.sqlite3").write_bytes(b"this is not a database" * 100)
    runtime = StationRuntime(load_show(SHOW), load_settings(data_dir=data_dir, port=0, playout_realtime=False))
    with pytest.raises(MemoryStoreError, match=r"cannot be opened .*studio memory rebuild.*nothing approved is lost"):
        runtime.start()
    station = Station(data_dir / "station.sqlite")
    assert [e.segment_id for e in station.rundown() if e.status == "aired"] == approved, "the store is untouched"
    station.close()
    rebuilt = studio("memory", "rebuild", data_dir=data_dir)
    assert rebuilt.returncode == 0 and "memory index rebuilt from the station store" in rebuilt.stdout, rebuilt.stderr
    found = studio("memory", "search", "a robot rolls across the lab", "--k", "3", data_dir=data_dir)
    assert found.returncode == 0, found.stderr
    assert "prompt" in found.stdout and "Bo, robot, a small round orange robot" in found.stdout
    station = run_station(data_dir, episodes=1)
    assert len(events_of(station, ev.EpisodePlanned)) == 2, "the station starts again on the rebuilt index"
    listed = studio("memory", "list", data_dir=data_dir)
    assert listed.returncode == 0, listed.stderr
    assert "Bo, robot, a small round orange robot" in listed.stdout and "2 premises" in listed.stdout
    payload = json.loads(studio("memory", "export", data_dir=data_dir).stdout)
    assert [c["name"] for c in payload["canon"]] == ["Bo", "Mia", "Lab"]
    assert [p["episode"] for p in payload["premises"]] == [1, 2] and payload["prompts"] >= 8


def test_the_embedder_matches_the_transformers_model_however_its_texts_are_batched() -> None:
    """The numpy forward pass is the BERT of transformers, and a text's vector does not depend on the texts beside
    it: texts are batched by length (padding a 10-token premise to a 200-token shot prompt doubled the cost)."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from studio.memory.embedder import model_dir

    texts = [
        "bread",
        "Chef Rosa, a tall woman with curly red hair in a white apron, kneads dough on a wooden counter; " * 12,
        "episode 2, Fresh Bread: Rosa waves at the camera",
        "garden: the tomatoes ripen",
    ]
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(model_dir()))
    model = transformers.AutoModel.from_pretrained(str(model_dir())).eval()
    with torch.no_grad():
        batch = tokenizer(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
        mask = batch["attention_mask"].unsqueeze(-1).float()
        pooled = (model(**batch).last_hidden_state * mask).sum(1) / mask.sum(1)
        expected = torch.nn.functional.normalize(pooled, dim=1).numpy()
    together = EMBEDDER(texts)
    alone = np.stack([EMBEDDER([text])[0] for text in texts])
    assert np.abs(together - expected).max() < 1e-6
    assert np.abs(together - alone).max() < 1e-6
    assert len(tokenizer(texts[1], truncation=True, max_length=256)["input_ids"]) == 256, "the long one is cut"


def test_a_missing_embedding_model_says_how_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(MemoryStoreError, match="cannot load the embedding model"):
        MiniLM(tmp_path / "no-model")(["anything"])


# --- canon, pins and prompts --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_canon_is_verbatim_in_every_prompt_and_a_pin_is_in_every_later_prompt_and_none_before(tmp_path: Path) -> None:
    """Three episodes and two restarts with a real Chroma directory; a trait pinned between them."""
    data_dir = tmp_path / "data"
    run_station(data_dir, episodes=1).close()
    store = Station(data_dir / "station.sqlite")
    pin = store.add_command("station-test", "pin", {"kind": "character", "name": "bo", "trait": "wears a red scarf"})
    store.close()
    station = run_station(data_dir, episodes=2)
    [pinned] = [e for e in events_of(station, ev.CanonChanged) if e.event.command_id == pin]
    assert pinned.event.name == "Bo" and pinned.event.description.endswith("one big eye, wears a red scarf")
    assert "#c82828" in pinned.event.palette, "the red of the scarf is in Bo's palette for the renderer and critic"
    [applied] = [e.event for e in events_of(station, ev.CommandApplied) if e.event.command_id == pin]
    assert "Bo now:" in applied.effect
    original = "Bo, robot, a small round orange robot with one big eye"
    designed = events_of(station, ev.ShotsDesigned)
    assert {logged.event.episode for logged in designed} == {1, 2, 3}
    for logged in designed:
        for shot in logged.event.shots:
            if "Bo" not in shot.characters:
                continue
            if logged.id < pinned.id:
                assert f"{original}. " in shot.prompt and "red scarf" not in shot.prompt, shot.prompt
            else:
                assert f"{pinned.event.description}. " in shot.prompt, shot.prompt
    assert any("Bo" in s.characters for e in designed if e.id > pinned.id for s in e.event.shots)
    mia = "Mia, cat, a grey cat with a white chest"
    assert all(mia in s.prompt for e in designed for s in e.event.shots if "Mia" in s.characters)
    # Continuity: the screenwriter of a later episode is told what its characters did before.
    written = [e.event for e in events_of(station, ev.SegmentWritten)]
    assert all(w.previously == () for w in written if w.episode == 1)
    later = [w for w in written if w.episode == 3]
    assert later and all(w.previously and w.previously[0].startswith("episode 2: ") for w in later)


def test_a_steering_note_is_split_into_a_topic_and_a_trait_and_an_unknown_name_is_refused(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    store = Station(data_dir / "station.sqlite")
    note = store.add_command("station-test", "steer", {"note": "topic: saffron paella, and Mia wears a blue collar"})
    unknown = store.add_command("station-test", "steer", {"note": "Pepita: a red hat"})
    store.close()
    station = run_station(data_dir, episodes=1)
    [reading] = [e.event for e in events_of(station, ev.NoteInterpreted) if e.event.command_id == note]
    assert reading.topic == "saffron paella"
    assert reading.traits == (ev.TraitChange("Mia", "wears a blue collar"),)
    [plan] = [e.event for e in events_of(station, ev.EpisodePlanned)]
    assert plan.topic == "saffron paella" and plan.title.count("Saffron Paella") == 1
    assert "collar" not in plan.title.lower() and "collar" not in plan.logline.lower()
    [rejected] = [e.event for e in events_of(station, ev.CommandRejected) if e.event.command_id == unknown]
    assert "'Pepita' is not a character of the show (Bo, Mia)" in rejected.reason
    assert station.canon("station-test")[1].description.endswith("white chest, wears a blue collar")


# --- premises ------------------------------------------------------------------------------------------------------


SIX_TOPICS = """\
title: Six Dishes
premise: a chef cooks one dish an episode
tone: warm
visual_style: bright colours
characters:
  - {name: Ana, species: human chef, look: a tall woman with short grey hair, palette: [blue]}
places:
  - {name: Kitchen, description: a small yellow kitchen, palette: [yellow]}
formats:
  - {name: cook, description: Ana cooks, beats: ["{host} cooks {topic}"], seconds: 3}
topics: [tomato soup, green pea falafel, lemon pancakes, mushroom dumplings, pumpkin risotto, blueberry crumble]
music: {mood: calm}
channel: {episode_segments: 1, seed: 4}
"""


def test_no_premise_repeats_until_every_topic_has_aired_and_the_log_says_so_after(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "data")
    show = parse_show(SIX_TOPICS, "six.yaml")
    station = Station(tmp_path / "data" / "station.sqlite")
    memory = ShowMemory(station, show, "six-dishes", MemoryIndex(tmp_path / "data" / "memory", "six-dishes", EMBEDDER))
    station.subscribe(memory.ingest)
    context = StudioContext(
        show=show, settings=settings, toolkit=None, director=OfflineBackedDirector(), station=station, seed=4,  # type: ignore[arg-type]
        memory=memory,
    )  # fmt: skip
    plans = []
    for number in range(1, 13):
        update = showrunner({"episode_number": number}, Runtime(context=context))
        station.record_many([ev.event_from_dict(payload) for payload in update["events"]])
        plans.append(next(e.event for e in events_of(station, ev.EpisodePlanned) if e.event.episode == number))
    first_six = [plan.topic for plan in plans[:6]]
    assert sorted(first_six) == sorted(show.topics), first_six
    assert all(plan.novelty == "new" for plan in plans[:6])
    for plan in plans[6:]:
        assert plan.novelty == "variation" and plan.nearest_episode is not None and plan.nearest_similarity >= 0.8
        assert plans[plan.nearest_episode - 1].topic == plan.topic
        assert f"a variation of episode {plan.nearest_episode}" in plan.summary()
    nearest = [round(plan.nearest_similarity, 2) for plan in plans]
    print(f"\n12 episodes, 6 topics: {[p.topic for p in plans]}\nnearest earlier premise similarity: {nearest}")


def test_an_llm_premise_too_close_to_an_aired_one_is_planned_again(tmp_path: Path) -> None:
    from studio.agents.llm import LLMDirector
    from studio.plan import EpisodePlan, SegmentOutline
    from tests.scripted_chat import ScriptedChatModel

    show = parse_show(SIX_TOPICS, "six.yaml")
    station = Station(tmp_path / "data" / "station.sqlite")
    memory = ShowMemory(station, show, "six-dishes", MemoryIndex(tmp_path / "data" / "memory", "six-dishes", EMBEDDER))
    station.subscribe(memory.ingest)
    chat = ScriptedChatModel()
    outline = [SegmentOutline(format="cook", title="Cook", summary="Ana cooks.")]
    for title, topic, logline in (
        ("Soup Night", "tomato soup", "Ana makes a warm tomato soup for a cold night."),
        ("Tomato Soup Again", "tomato soup", "Ana cooks a warm tomato soup on a cold evening."),
        ("Falafel Friday", "green pea falafel", "Ana fries crisp green pea falafel."),
    ):
        chat.enqueue(EpisodePlan(number=1, title=title, topic=topic, logline=logline, segments=outline))
    context = StudioContext(
        show=show, settings=load_settings(data_dir=tmp_path / "data"), toolkit=None,  # type: ignore[arg-type]
        director=LLMDirector(chat, label="scripted"), station=station, seed=4, memory=memory,
    )  # fmt: skip
    for number in (1, 2):
        update = showrunner({"episode_number": number}, Runtime(context=context))
        station.record_many([ev.event_from_dict(payload) for payload in update["events"]])
    first, second = (e.event for e in events_of(station, ev.EpisodePlanned))
    assert first.topic == "tomato soup" and second.topic == "green pea falafel"
    assert second.rejected_premises == (
        "tomato soup: Tomato Soup Again. Ana cooks a warm tomato soup on a cold evening.",
    )
    assert "this premise has aired already" in chat.history[-1].user and "Tomato Soup Again" in chat.history[-1].user


# --- continuity and the server option -----------------------------------------------------------------------------


def test_the_index_runs_on_a_chroma_server_too(tmp_path: Path) -> None:
    chroma = subprocess.run(["which", "chroma"], capture_output=True, text=True).stdout.strip()
    if not chroma:
        pytest.skip("the chroma command is not installed (chromadb installs it)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [chroma, "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ, CHROMA_TELEMETRY="false"),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:
            with socket.socket() as attempt:
                if attempt.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert server.poll() is None and time.monotonic() < deadline, "chroma run did not start"
            time.sleep(0.2)
        index = MemoryIndex(tmp_path / "unused", "kitchen", EMBEDDER, url=f"http://127.0.0.1:{port}")
        for _ in range(50):  # the port opens a moment before the server answers
            try:
                index.open()
                break
            except MemoryStoreError:
                time.sleep(0.2)
        index.upsert([Document("x", "fact", "episode 1: Bo polishes the big red gear", 1)])
        [match] = index.query("who polished the gear?", k=1)
        assert match.text.endswith("big red gear") and not (tmp_path / "unused").exists()
    finally:
        server.terminate()
        server.wait(30)


def test_a_filtered_query_the_approximate_search_comes_back_short_on_is_searched_exhaustively(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 100k entries a filter keeping one premise among facts came back empty from Chroma's HNSW search
    (benchmarks/memory.py found it); the filtered entries are then searched in full."""
    index = MemoryIndex(tmp_path / "memory", "kitchen", EMBEDDER)
    index.open()
    index.upsert([Document(f"f{n}", "fact", f"Pepito stirs pot number {n}", n) for n in range(20)])
    index.upsert([Document("p1", "premise", "tomato soup: a cosy soup episode", 1)])
    short = {"ids": [[]], "documents": [[]], "metadatas": [[]], "distances": [[]]}
    monkeypatch.setattr(index.collection, "query", lambda **_: short)
    [match] = index.query("a bowl of tomato soup", kinds=["premise"], k=1)
    assert match.text.startswith("tomato soup") and match.kind == "premise" and match.similarity > 0.5
    assert index.query("a bowl of tomato soup", kinds=["prompt"], k=1) == []
