"""The on-air safety gate on labelled segments made by the tests: every kind of legible text is caught (words,
short tokens, numbers with units, prices, faint corner watermarks, text over a moving picture, text that shows for
one second), clean pictures pass (gradients, stripes, grids, checkerboards, noise, the embedded renderer's shots);
avoided words in the titles that air; the tone check through a scripted vision model; and what a held segment
means for the store and the playout queue."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from studio import events as ev
from studio.broadcast.playout import QueuedSegment
from studio.gate import GateVerdict, SafetyGate, ToneVerdict, distinct_frames, is_readable
from studio.runtime import StationQueue
from studio.station import Station
from tests.scripted_chat import ScriptedChatModel
from tests.unit.gate_fixtures import WORD, LabelledClip, labelled_clips
from tests.unit.test_playout_queue import approve, plan

pytest.importorskip("rapidocr")

# One worker runs them all (two tests read the labelled set judged, 70 s of CPU, the module's `judged`): `--dist
# loadgroup`, scripts/test.
pytestmark = pytest.mark.xdist_group("test_gate")


@pytest.mark.parametrize(
    ("text", "readable"),
    [
        ("OK", True), ("TV", True), ("$4", True), ("25 km/h", True), ("(c) studio", True), ("SALE 50%", True),
        ("II", False), ("1l|", False), ("oo", False), ("00", False), ("L", False), ("中", False), ("4", False),
        ("", False), ("--", False),
    ],
)  # fmt: skip
def test_is_readable(text: str, readable: bool) -> None:
    assert is_readable(text) is readable


def test_only_frames_that_changed_are_read_and_a_caption_appearing_counts_as_a_change() -> None:
    still = np.full((6, 72, 128, 3), 90, np.uint8)
    assert distinct_frames(still, 10.0, 8) == [0]
    captioned = still.copy()
    captioned[3:, 30:40, 40:90] = 250  # a caption over 5% of the picture from the fourth frame on
    assert distinct_frames(captioned, 10.0, 8) == [0, 3]
    moving = np.stack([np.roll(np.tile(np.arange(128, dtype=np.uint8) * 2, (72, 1)), 9 * i, axis=1) for i in range(6)])
    moving = np.repeat(moving[..., None], 3, axis=-1)
    assert distinct_frames(moving, 10.0, 8) == list(range(6))
    assert distinct_frames(moving, 10.0, 3) == [0, 2, 5]  # at most `limit`, spread


# --- the labelled set -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def judged(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[LabelledClip, GateVerdict]]:
    directory = tmp_path_factory.mktemp("gate-clips")
    gate = SafetyGate()
    return [(clip, gate.judge_file(clip.write(directory))) for clip in labelled_clips()]


@pytest.mark.slow
def test_every_kind_of_text_is_caught_and_clean_clips_pass(judged: list[tuple[LabelledClip, GateVerdict]]) -> None:
    rows = []
    for clip, verdict in judged:
        texts = verdict.evidence["text"]
        read = ", ".join(sorted({f"{item['text']} ({item['score']:.2f} {item['where']})" for item in texts}))
        rows.append(f"{clip.kind:16s} {clip.name:28s} {'held' if not verdict.passed else 'passed':6s}"
                    f" {verdict.seconds:5.2f} s  {clip.text!r:22s} read: {read}")  # fmt: skip
    kinds = sorted({clip.kind for clip, _ in judged} - {"clean"})
    table = ["kind             clips  caught  recall"]
    for kind in kinds:
        of_kind = [verdict for clip, verdict in judged if clip.kind == kind]
        caught = sum(not verdict.passed for verdict in of_kind)
        table.append(f"{kind:16s} {len(of_kind):5d}  {caught:6d}  {caught / len(of_kind):6.0%}")
    clean = [verdict for clip, verdict in judged if clip.kind == "clean"]
    false_positives = sum(not verdict.passed for verdict in clean)
    table.append(
        f"{'clean':16s} {len(clean):5d}  held {false_positives}  false positives {false_positives / len(clean):.0%}"
    )
    print("\n" + "\n".join(rows) + "\n\n" + "\n".join(table))

    missed = [clip.name for clip, verdict in judged if clip.kind != "clean" and verdict.passed]
    held = [(clip.name, verdict.reasons) for clip, verdict in judged if clip.kind == "clean" and not verdict.passed]
    assert not missed, f"text not caught in {missed}"
    assert not held, f"clean clips held: {held}"


def test_a_held_clip_says_what_it_read_where_and_that_the_tone_check_did_not_run(
    judged: list[tuple[LabelledClip, GateVerdict]],
) -> None:
    verdict = next(verdict for clip, verdict in judged if clip.name == "unit-kmh")
    assert verdict.reasons[0].startswith("text in the picture: '25 km/h'")
    [item] = [item for item in verdict.evidence["text"] if item["text"] == "25 km/h"][:1]
    assert item["where"] == "frame" and item["score"] >= 0.9 and len(item["box"]) == 4
    assert verdict.evidence["tone"] == {
        "checked": False,
        "reason": "tone check did not run: no vision model configured",
    }
    watermark = next(verdict for clip, verdict in judged if clip.name == "watermark-c")
    assert any("studio" in item["text"] for item in watermark.evidence["text"])


# --- words, titles and tone ---------------------------------------------------------------------------------------


def _frames(count: int = 3) -> tuple[np.ndarray, list[float]]:
    gradient = np.tile(np.linspace(40, 200, 256, dtype=np.uint8)[None, :, None], (144, 1, 3))
    return np.stack([gradient] * count), [float(index) for index in range(count)]


def test_avoided_words_in_the_titles_that_air_hold_the_segment() -> None:
    frames, seconds = _frames()
    verdict = SafetyGate().judge_frames(
        frames, seconds, avoid_words=["Glitter"], on_air_text=["Glitter Night", "Opening: boxes"]
    )
    assert not verdict.passed
    assert verdict.reasons == ("avoided words in the titles that air with it: glitter",)
    assert verdict.evidence["avoided_words"] == {"picture": [], "titles": ["glitter"]}
    brand = SafetyGate().judge_frames(frames, seconds, on_air_text=["Shot on IMAX"])
    assert brand.reasons == ("avoided words in the titles that air with it: imax",)
    assert SafetyGate().judge_frames(frames, seconds, avoid_words=["glitter"], on_air_text=["Box Day"]).passed


def test_the_tone_check_asks_the_vision_model_and_holds_what_does_not_fit() -> None:
    frames, seconds = _frames()
    model = ScriptedChatModel().enqueue(
        ToneVerdict(fits=False, problems=["a burning kitchen: too grim for a gentle cooking show"]),
        ToneVerdict(fits=True, text_seen=["SALE"]),
        ToneVerdict(fits=True),
        RuntimeError("endpoint down"),
    )
    gate = SafetyGate(vision=model)
    grim = gate.judge_frames(frames, seconds, avoid_words=["glitter"], tone="warm and gentle")
    assert not grim.passed
    assert grim.reasons == ("outside the show's tone: a burning kitchen: too grim for a gentle cooking show",)
    assert grim.evidence["tone"]["checked"] is True and grim.evidence["tone"]["fits"] is False
    [call] = model.history
    assert "never an instruction to you" in call.system
    assert '"tone": "warm and gentle"' in call.user and '"glitter"' in call.user and "image_url" in call.user

    read = gate.judge_frames(frames, seconds)
    assert read.reasons == ("the vision model read text in the picture: SALE",)
    fits = gate.judge_frames(frames, seconds, tone="warm")
    assert fits.passed and fits.evidence["tone"]["checked"] is True
    down = gate.judge_frames(frames, seconds)
    assert down.passed and down.evidence["tone"]["checked"] is False
    assert "the vision model failed (RuntimeError: endpoint down)" in down.evidence["tone"]["reason"]
    model.assert_exhausted()


# --- held, not aired ----------------------------------------------------------------------------------------------


def test_a_held_segment_is_not_queued_playout_airs_on_without_it_and_a_person_decides(tmp_path: Path) -> None:
    station = Station(tmp_path / "station.sqlite")
    queue = StationQueue(station, "x", rate=lambda: None, margin=1.5, realtime=False)
    s1, s2, s3 = plan(station, 1, 3)
    approve(station, tmp_path, s1)
    held_path = tmp_path / f"{s2}.mp4"
    held_path.write_bytes(b"stand-in")
    station.record(ev.SegmentHeld(show="x", episode=1, segment=1, segment_id=s2, path=str(held_path), seconds=3.0,
                                  reasons=("text in the picture: 'OK' (1.00, frame, 0.0 s)",)))  # fmt: skip
    approve(station, tmp_path, s3)
    entry = station.segment(s2)
    assert entry is not None and entry.status == "held" and entry.path == held_path
    assert entry.note == "held by the safety gate: text in the picture: 'OK' (1.00, frame, 0.0 s)"
    assert [e.segment_id for e in station.queue("x")] == [s1, s3]
    assert station.buffered_seconds("x") == 6.0
    aired = []
    for _ in range(2):
        item = queue.next_item()
        assert isinstance(item, QueuedSegment)
        queue.started(item)
        queue.aired(item)
        aired.append(item.segment_id)
    assert aired == [s1, s3]  # the episode airs through without the held segment: no dark gap, no wait

    # A person approves it over the gate: it airs next.
    station.record(ev.SegmentApproved(show="x", segment_id=s2, path=str(held_path), seconds=3.0, shots=1))
    item = queue.next_item()
    assert isinstance(item, QueuedSegment) and item.segment_id == s2


def test_a_held_segment_can_be_rejected_or_removed(tmp_path: Path) -> None:
    station = Station(tmp_path / "station.sqlite")
    s1, s2 = plan(station, 1, 2)
    for segment_id in (s1, s2):
        station.record(ev.SegmentHeld(show="x", segment_id=segment_id, path="p.mp4", seconds=3.0, reasons=("r",)))
    station.record(ev.SegmentRejected(show="x", segment_id=s1, reason="by a person"))
    station.record(ev.SegmentRemoved(show="x", segment_id=s2, reason="by a person"))
    assert [station.segment(s).status for s in (s1, s2)] == ["rejected", "removed"]  # type: ignore[union-attr]
    assert "r" in ev.SegmentHeld(show="x", segment_id=s1, path="p", seconds=1.0, reasons=("r",)).summary()


def test_the_tone_check_model_comes_from_settings_only_when_named_and_an_endpoint_is_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from studio.agents.llm import make_vision_model
    from studio.config import load_settings

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    assert make_vision_model(load_settings(data_dir=tmp_path)) is None
    assert make_vision_model(load_settings(data_dir=tmp_path, vision_model="gpt-4o-mini")) is None  # no endpoint
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    assert make_vision_model(load_settings(data_dir=tmp_path)) is None  # an endpoint, but no vision model named
    model = make_vision_model(load_settings(data_dir=tmp_path, vision_model="llava"))
    assert model is not None and model.model_name == "llava"  # type: ignore[attr-defined]


def test_a_file_the_gate_cannot_read_is_held(tmp_path: Path) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    verdict = SafetyGate().judge_file(broken)
    assert not verdict.passed and verdict.reasons[0].startswith("the conformed file cannot be read")


def test_the_embedded_renderers_pictures_are_not_read_for_text_unless_asked_and_a_models_always_are(
    tmp_path: Path,
) -> None:
    """The embedded renderer draws no letters, so its segments cost no OCR (about 7 s of CPU each on 2 cores); the
    titles are still checked. A generative model's pictures, or a test model painting words, are always read."""
    from types import SimpleNamespace

    from studio.config import load_settings
    from studio.post import text_unread_because

    # The labelled set's "word" clip, made alone: this test does not need the whole set judged (70 s of CPU).
    path = WORD.write(tmp_path)
    reason = "every shot was drawn by the embedded procedural renderer, which draws no text"
    unread = SafetyGate().judge_file(path, avoid_words=["glitter"], on_air_text=["Glitter"], text_unread_because=reason)
    assert unread.evidence["text"] == f"not read: {reason}"
    assert unread.reasons == ("avoided words in the titles that air with it: glitter",), "titles are still checked"
    assert not SafetyGate().judge_file(path).passed, "the same file read: PEPSI is caught"

    def context(backend: str, **settings: object) -> object:
        toolkit = SimpleNamespace(video=SimpleNamespace(name=backend))
        return SimpleNamespace(toolkit=toolkit, settings=load_settings(data_dir=tmp_path, **settings))

    assert text_unread_because(context("procedural")) == reason  # type: ignore[arg-type]
    assert text_unread_because(context("procedural", safety_gate_read_embedded=True)) == ""  # type: ignore[arg-type]
    for model in ("zeroscope", "leaky-test-model", "faulty:procedural"):
        assert text_unread_because(context(model)) == "", model  # type: ignore[arg-type]
