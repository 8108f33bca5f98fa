"""The CLI paths the README advertises that no other test runs: `studio critique`, `studio models`, `studio log`
(every filter, `--json`, `-v`, `--follow`), bad `STUDIO_*` variables and `STUDIO_DEBUG`, backend selection and
`studio doctor`'s reasons, and the steering verbs when no station is running.

Every test runs the real command (`python -m studio.cli …` in a subprocess). Station stores are built by recording
typed events straight into `station.sqlite`, so the log tests are fast and deterministic; `--follow` watches events
the test appends while it runs. Nothing waits on wall-clock thresholds: waits are on lines and files, with generous
ceilings.
"""

from __future__ import annotations

import dataclasses
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np
import pytest

from studio import events as ev
from studio.events import EVENT_TYPES, event_from_dict, where
from studio.plan import CameraMove, MotionSpec, SubjectMotion
from studio.station import Station
from studio.tools.device import cuda_present, missing_packages
from studio.tools.media import write_video
from tests.conftest import SHOWS, TEST_SHOWS
from tests.integration.test_cli import _one_clean_error_line, studio
from tests.unit.critic_fixtures import SceneSpec, render_scene

SHOW = "kitchen-quest"
OTHER_SHOW = "night-garden"
SECRET_KEY = "sk-test-DO-NOT-PRINT-0123456789abcdef"
LINE_CEILING_S = 120.0
"""How long `--follow` may take to print one line (it polls every 0.5 s; this is for a loaded machine)."""
STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ")

# --- helpers: station stores ---------------------------------------------------------------------------------------


def segment_id(show: str, episode: int, index: int) -> str:
    return f"{show}-e{episode:04d}-s{index:02d}"


def planned(show: str, episode: int, title: str = "Saffron Paella") -> ev.EpisodePlanned:
    return ev.EpisodePlanned(
        show=show, episode=episode, title=title, topic="saffron paella", logline="Rosa cooks a paella.",
        segments=(
            ev.PlannedSegment(segment_id(show, episode, 1), "Cold open", "cold_open", 3.0),
            ev.PlannedSegment(segment_id(show, episode, 2), "The dish", "recipe", 4.0),
        ),
        planned_seconds=7.0, steering=("topic: saffron paella",), plan={"number": episode, "title": title},
        backend="offline-director", duration_ms=12.0,
    )  # fmt: skip


def verdict(show: str, episode: int, attempt: int, passed: bool) -> ev.VerdictGiven:
    return ev.VerdictGiven(
        show=show, episode=episode, segment=0, shot=f"e{episode:04d}-s01-sh01", attempt=attempt, passed=passed,
        score=0.9 if passed else 0.3, failures=() if passed else ("text (leaked: IMAX)",),
        repair="" if passed else "rerender", repair_note="" if passed else "remove IMAX, new seed",
        verdict={"checks": [{"check": "text", "passed": passed, "evidence": {"leaked": [] if passed else ["IMAX"]}}]},
        backend="critic", duration_ms=1400.0,
    )  # fmt: skip


def station_events(show: str = SHOW) -> list[ev.Event]:
    """A short, realistic history: a station starts, episode 1 is made and aired, episode 2 is planned."""
    first = segment_id(show, 1, 1)
    return [
        ev.StationStarted(
            show=show, version="0.1.0", writer="offline-director", backends={"video": "procedural (embedded)"},
            seed=7, data_dir="/srv/studio", player_url="http://127.0.0.1:8090/", outputs=("hls",),
            backend="offline-director",
        ),
        planned(show, 1),
        ev.SegmentWritten(
            show=show, episode=1, segment=0, title="Cold open", format="cold_open", mood="bright",
            beats=("Rosa waves at the camera", "Rosa lifts the lid"), seconds=3.0, script={"beats": 2},
            backend="offline-director",
        ),
        ev.ShotsDesigned(
            show=show, episode=1, segment=0, segment_title="Cold open",
            shots=(ev.DesignedShot("e0001-s01-sh01", "Rosa waves", "text", 3.0, 42, ("Rosa",), "kitchen"),),
            backend="offline-director",
        ),
        verdict(show, 1, 1, passed=False),
        verdict(show, 1, 2, passed=True),
        ev.SegmentApproved(show=show, episode=1, segment=0, segment_id=first, path="/srv/s01.mp4", seconds=3.0, shots=1),
        ev.SegmentOnAir(show=show, episode=1, segment_id=first, seconds=3.0),
        ev.SegmentAired(show=show, episode=1, segment_id=first, seconds=3.0),
        planned(show, 2, title="Midnight Churros"),
        verdict(show, 2, 1, passed=True),
        ev.CommandApplied(show=show, command_id=1, kind="pause", effect="production pauses after this step"),
    ]  # fmt: skip


def build_store(data_dir: Path, events: list[ev.Event]) -> list[tuple[int, ev.Event]]:
    """Record `events` into `data_dir/station.sqlite`; returns (row id, event) for each, oldest first."""
    station = Station(data_dir / "station.sqlite")
    try:
        ids = [station.record(event) for event in events]
    finally:
        station.close()
    assert all(row_id is not None for row_id in ids)
    return [(int(row_id), event) for row_id, event in zip(ids, events, strict=True) if row_id is not None]


def logged_ids(data_dir: Path, *args: str) -> list[int]:
    """The row ids `studio log --json ARGS` prints."""
    result = studio("log", "--json", *args, data_dir=data_dir)
    assert result.returncode == 0, result.stderr
    return [json.loads(line)["id"] for line in result.stdout.splitlines()]


def rows_where(recorded: list[tuple[int, ev.Event]], keep: object) -> list[int]:
    """The row ids of the recorded events `keep` accepts: what a filter should print (never nothing)."""
    chosen = [row for row, event in recorded if keep(event)]  # type: ignore[operator]
    assert chosen, "the filter must select something to prove anything"
    return chosen


def record(data_dir: Path, event: ev.Event) -> int:
    """Append one event to the store, as a running station would."""
    return build_store(data_dir, [event])[0][0]


def event_lines(stdout: str) -> list[str]:
    """The event lines of `studio log` text output (not the JSON blocks `-v` prints under them)."""
    return [line for line in stdout.splitlines() if STAMP.match(line)]


def stamp(data_dir: Path, row_id: int) -> str:
    """How `studio log` prints the time of the event with this row id."""
    station = Station(data_dir / "station.sqlite")
    try:
        [logged] = [item for item in station.events() if item.id == row_id]
    finally:
        station.close()
    return datetime.fromtimestamp(logged.ts).strftime("%Y-%m-%d %H:%M:%S")


def assert_line_shows(line: str, event: ev.Event) -> None:
    """One text line of `studio log`: time, agent, type, where it belongs, the summary and the backend."""
    assert STAMP.match(line), line
    _, _, agent, type_name, *_ = line.split()
    assert (agent, type_name) == (event.agent, event.type), line
    assert event.summary() in line, line
    if where(event):
        assert f" {where(event)} " in line, line
    if event.backend:
        assert f"[{event.backend}]" in line, line


def event_fields(type_name: str) -> set[str]:
    return {item.name for item in dataclasses.fields(EVENT_TYPES[type_name])}


# --- helpers: processes and output ---------------------------------------------------------------------------------


class LineReader:
    """Reads a process's stdout on a thread, so the test can wait for each line with a ceiling."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def next(self, timeout: float = LINE_CEILING_S) -> str:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no line within {timeout:g} s") from None
        assert line is not None, "the process closed its output"
        return line


def follow(*args: str, data_dir: Path) -> subprocess.Popen[str]:
    """`studio log --follow …` as a person starts it in another terminal (Ctrl-C delivers SIGINT)."""
    env = dict(os.environ, STUDIO_DATA_DIR=str(data_dir))
    return subprocess.Popen(
        [sys.executable, "-m", "studio.cli", "log", "--follow", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        # A shell without job control starts background jobs with SIGINT ignored; a terminal never does.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip


def interrupt(process: subprocess.Popen[str]) -> str:
    """Ctrl-C: send SIGINT, wait for the exit, and return what it wrote on stderr."""
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=LINE_CEILING_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise AssertionError("studio log --follow did not stop on SIGINT") from None
    assert process.stderr is not None
    return process.stderr.read()


def doctor_rows(stdout: str) -> dict[tuple[str, str], tuple[str, str]]:
    """`studio doctor`'s table as (tool, backend) → (status, why). Run it with a wide COLUMNS so rows don't wrap."""
    rows: dict[tuple[str, str], tuple[str, str]] = {}
    for line in stdout.splitlines():
        if line.startswith("│"):
            tool, backend, status, why = (cell.strip() for cell in line.strip().strip("│").split("│"))
            assert tool and backend, f"a wrapped row: {line!r} (is COLUMNS wide enough?)"
            rows[(tool, backend)] = (status, why)
    return rows


def files_under(path: Path) -> list[Path]:
    return sorted(item for item in path.rglob("*") if item.is_file()) if path.exists() else []


gpu_extras = pytest.mark.skipif(
    bool(missing_packages("torch", "diffusers", "transformers", "accelerate", "scipy", "huggingface_hub"))
    or cuda_present(),
    reason="the doctor's reasons asserted here are those of a CPU machine with the gpu extra installed",
)


@pytest.fixture
def hf_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Hugging Face cache and no network for the hub: nothing can be downloaded."""
    home = tmp_path / "hf-home"
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return home


@pytest.fixture
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rich tables as wide as they need to be (no wrapped cells)."""
    monkeypatch.setenv("COLUMNS", "400")


# --- helpers: clips for the critic ---------------------------------------------------------------------------------

MOVING = SceneSpec(seed=8, camera=CameraMove(kind="pan", direction="right", speed="medium"), subject="fall",
                   subject_direction="down", subject_colour="orange")  # fmt: skip
MOVING_MOTION = MotionSpec(
    camera=MOVING.camera, subjects=[SubjectMotion(subject="orange pumpkin", action="falls", direction="down")]
)
MOVING_PROMPT = f"An orange pumpkin in a barn; {MOVING_MOTION.describe()}"
"""Says in words what `MOVING` shows: the camera pans right while an orange pumpkin falls."""


@dataclasses.dataclass(frozen=True)
class Clips:
    moving: Path
    """Textured scene, camera panning right, an orange pumpkin falling: matches `MOVING_PROMPT`."""
    first_frame: np.ndarray
    black: Path
    """The same length and size, every frame black."""


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Clips:
    folder = tmp_path_factory.mktemp("clips")
    frames = render_scene(MOVING)
    size = {"width": MOVING.width, "height": MOVING.height}
    write_video(frames, MOVING.fps, folder / "pumpkin.mp4", **size)
    write_video(np.zeros_like(frames), MOVING.fps, folder / "black.mp4", **size)
    return Clips(folder / "pumpkin.mp4", frames[0], folder / "black.mp4")


# --- studio critique -----------------------------------------------------------------------------------------------


def test_critique_passes_a_clip_that_matches_its_prompt_and_draws_a_contact_sheet(tmp_path: Path, clips: Clips) -> None:
    sheet = tmp_path / "sheets" / "pumpkin.png"
    result = studio("critique", str(clips.moving), "--prompt", MOVING_PROMPT, "--contact-sheet", str(sheet))
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("PASS score "), lines
    checks = {line.split()[1] for line in lines[1:] if line.startswith("  ok ")}
    assert {"duration", "black", "frozen", "reversed", "direction", "colour", "artifact", "text"} <= checks, lines
    assert not any("FAIL" in line for line in lines)

    image = cv2.imread(str(sheet))
    assert image is not None, "no PNG written"
    # One header line (PASS), then 6 sampled frames as 2 rows of 3 tiles at the clip's own size (320x192).
    assert image.shape == (18 + 8 + 2 * MOVING.height, 3 * MOVING.width, 3), image.shape
    assert image.std() > 15 and len(np.unique(image.reshape(-1, 3), axis=0)) > 500, "the sheet is blank"
    tile = image[26 : 26 + MOVING.height, : MOVING.width].astype(float)
    first = cv2.cvtColor(clips.first_frame, cv2.COLOR_RGB2BGR).astype(float)
    assert np.corrcoef(tile.ravel(), first.ravel())[0, 1] > 0.5, "the first tile is not the clip's first frame"


def test_critique_fails_a_black_clip_with_exit_1_and_json_names_the_black_check(clips: Clips) -> None:
    result = studio("critique", str(clips.black), "--prompt", MOVING_PROMPT, "--json")
    assert result.returncode == 1, result.stderr
    payload = json.loads(result.stdout)
    assert payload["passed"] is False and payload["shot_id"] == "black"
    black = next(failure for failure in payload["failures"] if failure["check"] == "black")
    frames = round(MOVING.seconds * MOVING.fps)
    assert black["detail"].startswith(f"{frames} of {frames} frames black"), black
    assert {"black": False} == {c["check"]: c["passed"] for c in payload["checks"] if c["check"] == "black"}
    assert payload["repair"]["action"] == "rerender" and "black screen" in payload["repair"]["add_negative"]


def test_critique_motion_json_overrides_what_the_prompt_says(clips: Clips) -> None:
    """The prompt states no motion; `--motion` says what was intended, and the verdict follows it."""
    prompt = "An orange pumpkin in a barn"
    right = json.dumps({"camera": {"kind": "pan", "direction": "right", "speed": "medium"}})
    left = json.dumps({"camera": {"kind": "pan", "direction": "left", "speed": "medium"}})
    agrees = studio("critique", str(clips.moving), "--prompt", prompt, "--motion", right, "--json")
    assert agrees.returncode == 0, agrees.stdout
    assert json.loads(agrees.stdout)["passed"] is True
    against = studio("critique", str(clips.moving), "--prompt", prompt, "--motion", left, "--json")
    assert against.returncode == 1, against.stdout
    failed = {failure["check"] for failure in json.loads(against.stdout)["failures"]}
    assert failed and failed <= {"direction", "reversed"}, failed


@pytest.mark.parametrize("motion", ["not json", '{"camera": {"kind": "spin"}}', '{"camera": 3}'])
def test_critique_bad_motion_json_is_one_clean_error_naming_motion(clips: Clips, motion: str) -> None:
    _one_clean_error_line(
        studio("critique", str(clips.moving), "--prompt", "x", "--motion", motion), "--motion", "motion spec JSON"
    )


def test_critique_missing_or_unreadable_clip_is_a_clean_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.mp4"
    _one_clean_error_line(studio("critique", str(missing), "--prompt", "x"), str(missing), "no such video file")
    not_video = tmp_path / "notes.mp4"
    not_video.write_text("these are not frames\n")
    _one_clean_error_line(studio("critique", str(not_video), "--prompt", "x"), str(not_video))


def test_critique_without_a_vision_model_loads_neither_the_settings_nor_pyav(clips: Clips) -> None:
    """`studio critique` has 1 s per clip, start-up included (`benchmarks/critique_cli.py`). Without a vision model
    the critic is the measured checks alone: the settings are not loaded (pydantic-settings imports asyncio), an
    MP4's size and frame count come from its boxes rather than PyAV, and OCR needs no shapely (with a vision model,
    `tests/integration/test_vision_endpoint.py` runs the command against a server)."""
    command = [sys.executable, "-X", "importtime", "-m", "studio.cli", "critique", str(clips.moving),
               "--prompt", MOVING_PROMPT, "--json"]  # fmt: skip
    env = {name: value for name, value in os.environ.items() if name.upper() != "STUDIO_VISION_MODEL"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}
    assert {"numpy", "cv2", "onnxruntime", "studio.critic.judge"} <= imported, "not the critique that was timed"
    assert not {"pydantic_settings", "asyncio", "av", "shapely"} & imported
    assert json.loads(result.stdout)["passed"] is True


# --- studio models -------------------------------------------------------------------------------------------------


def test_models_list_names_every_model_and_downloads_nothing(hf_home: Path, wide: None) -> None:
    from studio.models import MODELS

    result = studio("models", "list")
    assert result.returncode == 0, result.stderr
    rows = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if line.startswith("│")}
    assert set(rows) == set(MODELS), rows
    for name, spec in MODELS.items():
        cells = [cell.strip() for cell in rows[name].strip("│").split("│")]
        assert cells == [name, spec.repo_id, "no", "-"], cells
    assert files_under(hf_home) == [], "models list wrote into the HF cache"


def test_models_list_shows_a_cached_model_as_present_with_its_size(hf_home: Path, wide: None) -> None:
    pytest.importorskip("huggingface_hub")
    from tests.unit.test_models import ZEROSCOPE_FILES, put_in_cache

    put_in_cache(hf_home / "hub", "cerspense/zeroscope_v2_576w", ZEROSCOPE_FILES)
    before = files_under(hf_home)
    result = studio("models", "list")
    assert result.returncode == 0, result.stderr
    cells = {
        parts[0]: parts
        for line in result.stdout.splitlines()
        if line.startswith("│")
        for parts in [[cell.strip() for cell in line.strip("│").split("│")]]
    }
    assert cells["zeroscope"] == ["zeroscope", "cerspense/zeroscope_v2_576w", "yes", "10.0 kB"]
    assert cells["xl"][2:] == ["no", "-"]
    assert files_under(hf_home) == before


def test_models_pull_offline_is_a_clean_error_that_says_what_to_do(hf_home: Path) -> None:
    pytest.importorskip("huggingface_hub")
    result = studio("models", "pull", "film")
    _one_clean_error_line(result, "could not download nguu/film-pytorch", "HF_HUB_OFFLINE", "studio models pull film")
    assert result.stdout.startswith("film: nguu/film-pytorch (~0.14 GB)")
    assert files_under(hf_home / "hub" / "models--nguu--film-pytorch" / "snapshots") == []


@pytest.mark.slow
def test_models_pull_with_no_network_is_a_clean_error_not_a_traceback(
    hf_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No HF_HUB_OFFLINE, but nothing answers: huggingface_hub retries (its own warnings), then one clean line."""
    pytest.importorskip("huggingface_hub")
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    result = studio("models", "pull", "film", timeout=300)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    *retries, last = result.stderr.strip().splitlines()
    assert last.startswith("studio: error: could not download nguu/film-pytorch: "), last
    assert "check the network, then run `studio models pull film` again" in last, last
    assert all("Retry" in line or "thrown while requesting" in line for line in retries), retries


def test_models_pull_unknown_name_lists_the_valid_names(hf_home: Path) -> None:
    from studio.models import MODELS

    result = studio("models", "pull", "bogus")
    _one_clean_error_line(result, "unknown model 'bogus'", *MODELS, "all")
    assert result.stdout == "", "nothing was attempted"


# --- studio log ----------------------------------------------------------------------------------------------------


def test_log_prints_one_line_per_event_with_agent_and_summary(tmp_path: Path) -> None:
    data_dir = tmp_path / "station"
    recorded = build_store(data_dir, station_events())
    result = studio("log", data_dir=data_dir)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(recorded), lines
    for line, (row_id, event) in zip(lines, recorded, strict=True):
        assert_line_shows(line, event)
        assert line.startswith(stamp(data_dir, row_id)), line


def test_log_verbose_prints_every_field_as_json_under_each_line(tmp_path: Path) -> None:
    data_dir = tmp_path / "station"
    recorded = build_store(data_dir, station_events())
    result = studio("log", "-v", data_dir=data_dir)
    assert result.returncode == 0, result.stderr
    blocks: list[tuple[str, list[str]]] = []
    for line in result.stdout.splitlines():
        if STAMP.match(line):
            blocks.append((line, []))
        else:
            assert blocks, f"output before the first event line: {line!r}"
            blocks[-1][1].append(line)
    assert len(blocks) == len(recorded)
    for (line, body), (_, event) in zip(blocks, recorded, strict=True):
        assert_line_shows(line, event)
        assert json.loads("\n".join(body)) == json.loads(json.dumps(event.to_dict(), default=str)), line


def test_log_limit_keeps_only_the_last_n_oldest_first(tmp_path: Path) -> None:
    data_dir = tmp_path / "station"
    recorded = build_store(data_dir, station_events())
    result = studio("log", "--limit", "3", "--json", data_dir=data_dir)
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == [row for row, _ in recorded[-3:]]


def test_log_filters_by_agent_type_episode_and_show(tmp_path: Path) -> None:
    data_dir = tmp_path / "station"
    recorded = build_store(data_dir, [*station_events(), *station_events(OTHER_SHOW)])

    def ids(*args: str) -> list[int]:
        return logged_ids(data_dir, *args)

    def expected(keep: object) -> list[int]:
        return rows_where(recorded, keep)

    assert ids("--agent", "critic") == expected(lambda e: e.agent == "critic")
    assert ids("--type", "VerdictGiven", "--type", "SegmentAired") == expected(
        lambda e: e.type in ("VerdictGiven", "SegmentAired")
    )
    assert ids("--episode", "2") == expected(lambda e: e.episode == 2)
    assert ids("--show", OTHER_SHOW) == expected(lambda e: e.show == OTHER_SHOW)
    both = expected(lambda e: e.agent == "critic" and e.episode == 1 and e.show == SHOW)
    assert ids("--agent", "critic", "--episode", "1", "--show", SHOW, "--limit", "1") == both[-1:]
    # The text output filters the same way.
    text = studio("log", "--agent", "critic", "--show", SHOW, data_dir=data_dir)
    lines = event_lines(text.stdout)
    critic = [event for _, event in recorded if event.agent == "critic" and event.show == SHOW]
    assert len(lines) == len(critic)
    for line, event in zip(lines, critic, strict=True):
        assert_line_shows(line, event)


def test_log_filters_by_check_verdict_and_time_range(tmp_path: Path) -> None:
    import dataclasses
    import time as clock
    from datetime import datetime

    data_dir = tmp_path / "station"
    hour_ago = clock.time() - 3600
    history = station_events()
    # The first half of the history happened three hours ago, the rest within the last minutes.
    events = [
        dataclasses.replace(
            event, at=hour_ago - 7200 + index if index < len(history) // 2 else clock.time() - 60 + index
        )
        for index, event in enumerate(history)
    ]
    events.append(dataclasses.replace(verdict(SHOW, 2, 2, passed=False), failures=("direction (Rosa: opposite)",)))
    recorded = build_store(data_dir, events)

    def ids(*args: str) -> list[int]:
        return logged_ids(data_dir, *args)

    def expected(keep: object) -> list[int]:
        return rows_where(recorded, keep)

    verdicts = [event for _, event in recorded if isinstance(event, ev.VerdictGiven)]
    assert {event.passed for event in verdicts} == {True, False}
    assert ids("--verdict", "failed") == expected(lambda e: isinstance(e, ev.VerdictGiven) and not e.passed)
    assert ids("--verdict", "passed") == expected(lambda e: isinstance(e, ev.VerdictGiven) and e.passed)
    assert ids("--check", "text") == expected(
        lambda e: isinstance(e, ev.VerdictGiven) and "text (leaked: IMAX)" in e.failures
    )
    assert ids("--check", "direction") == [recorded[-1][0]]
    assert ids("--check", "tex") == []  # a check's whole name, not a part of it
    assert ids("--since", "1h") == expected(lambda e: e.at >= hour_ago)
    assert ids("--until", "1h") == expected(lambda e: e.at < hour_ago)
    moment = datetime.fromtimestamp(hour_ago).isoformat(sep=" ", timespec="seconds")
    assert ids("--since", moment, "--verdict", "failed") == expected(
        lambda e: e.at >= hour_ago and isinstance(e, ev.VerdictGiven) and not e.passed
    )
    _one_clean_error_line(studio("log", "--since", "yesterday", data_dir=data_dir), "--since 'yesterday'", "30m")


def test_log_unknown_type_is_a_clean_error_listing_the_known_types(tmp_path: Path) -> None:
    data_dir = tmp_path / "station"
    build_store(data_dir, station_events())
    result = studio("log", "--type", "VerdictGiven", "--type", "Bogus", data_dir=data_dir)
    _one_clean_error_line(result, "unknown event type(s) Bogus", *EVENT_TYPES)
    assert result.stdout == ""


def test_log_unknown_agent_or_show_is_a_clean_error_listing_the_known_ones(tmp_path: Path) -> None:
    from studio.events import AGENTS

    data_dir = tmp_path / "station"
    build_store(data_dir, [*station_events(), *station_events(OTHER_SHOW)])
    result = studio("log", "--agent", "critics", data_dir=data_dir)
    _one_clean_error_line(result, "unknown agent 'critics'", *AGENTS)
    result = studio("log", "--show", "kitchen", data_dir=data_dir)
    _one_clean_error_line(result, "no show 'kitchen'", SHOW, OTHER_SHOW)
    assert result.stdout == ""


def test_log_json_has_every_field_of_each_event_and_round_trips(tmp_path: Path) -> None:
    data_dir = tmp_path / "station"
    recorded = build_store(data_dir, station_events())
    result = studio("log", "--json", data_dir=data_dir)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(recorded)
    for line, (row_id, event) in zip(lines, recorded, strict=True):
        payload = json.loads(line)
        assert {"type", "agent", "id"} | event_fields(payload["type"]) <= set(payload), line
        assert (payload["id"], payload["type"], payload["agent"]) == (row_id, event.type, event.agent)
        assert event_from_dict(payload) == event


def test_log_follow_prints_new_events_as_they_are_recorded_and_stops_cleanly_on_sigint(tmp_path: Path) -> None:
    data_dir = tmp_path / "station"
    recorded = build_store(data_dir, station_events()[:2])
    process = follow("--json", data_dir=data_dir)
    try:
        reader = LineReader(process)
        assert [json.loads(reader.next())["id"] for _ in recorded] == [row for row, _ in recorded]
        for event in (verdict(SHOW, 1, 1, passed=True), ev.StationStopped(show=SHOW, reason="stopped by a signal")):
            row_id = record(data_dir, event)
            payload = json.loads(reader.next())
            assert (payload["id"], payload["event_id"]) == (row_id, event.event_id)
            assert event_from_dict(payload) == event
    finally:
        stderr = interrupt(process)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr


def test_log_follow_text_applies_its_filter_to_new_events(tmp_path: Path) -> None:
    """Piped text output reaches the reader line by line, and only the events the filter asks for."""
    data_dir = tmp_path / "station"
    build_store(data_dir, station_events())
    process = follow("--agent", "critic", "--limit", "1", data_dir=data_dir)
    try:
        reader = LineReader(process)
        assert_line_shows(reader.next(), station_events()[-2])  # the last critic event already in the store
        record(data_dir, ev.SegmentAired(show=SHOW, episode=2, segment_id=segment_id(SHOW, 2, 1), seconds=3.0))
        critic = verdict(SHOW, 2, 2, passed=False)
        record(data_dir, critic)
        # The broadcast event went in first: the next line being the critic's proves it was filtered out.
        assert_line_shows(reader.next(), critic)
    finally:
        stderr = interrupt(process)
    assert process.returncode == 0 and "Traceback" not in stderr, stderr


def test_log_without_a_station_is_a_clean_error(tmp_path: Path) -> None:
    empty = tmp_path / "nothing-here"
    _one_clean_error_line(studio("log", data_dir=empty), f"no station in {empty}", "studio run SHOW")
    _one_clean_error_line(studio("log", "--follow", data_dir=empty), f"no station in {empty}")
    assert not (empty / "station.sqlite").exists(), "reading the log must not create a station"


# --- bad STUDIO_* variables ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value", "command"),
    [
        ("STUDIO_PORT", "abc", ["doctor"]),
        ("STUDIO_MAX_REPAIRS", "99", ["run", str(SHOWS / "cooking.yaml"), "--headless", "--episodes", "1"]),
        ("STUDIO_VIDEO_BACKEND", "nope", ["run", str(TEST_SHOWS / "minimal.yaml"), "--headless", "--port", "0"]),
        ("STUDIO_BUFFER_TARGET_S", "-5", ["doctor"]),
        ("STUDIO_LLM_STRUCTURED_METHOD", "xml", ["log"]),
        ("STUDIO_ZEROSCOPE_CPU_OFFLOAD", "maybe", ["steer", "topic: lamps"]),
    ],
)
def test_a_bad_studio_variable_is_one_clean_line_naming_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, variable: str, value: str, command: list[str]
) -> None:
    monkeypatch.setenv(variable, value)
    monkeypatch.setenv("OPENAI_API_KEY", SECRET_KEY)
    result = studio(*command, data_dir=tmp_path / "station", timeout=180)
    _one_clean_error_line(result, "invalid settings", f"{variable}: ", f"(got {value!r})")
    assert SECRET_KEY not in result.stdout + result.stderr
    assert not (tmp_path / "station" / "station.sqlite").exists(), "nothing starts with bad settings"


def test_several_bad_variables_are_named_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STUDIO_PORT", "70000")
    monkeypatch.setenv("STUDIO_INTERPOLATE_MODE", "smooth")
    monkeypatch.setenv("STUDIO_OPENAI_API_KEY", SECRET_KEY)
    result = studio("doctor")
    _one_clean_error_line(result, "STUDIO_PORT: ", "(got '70000')", "STUDIO_INTERPOLATE_MODE: ", "(got 'smooth')")
    assert SECRET_KEY not in result.stdout + result.stderr


def test_the_api_key_is_masked_where_doctor_names_the_writer(monkeypatch: pytest.MonkeyPatch, wide: None) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET_KEY)
    result = studio("doctor")
    assert result.returncode == 0, result.stderr
    assert SECRET_KEY not in result.stdout + result.stderr
    status, why = doctor_rows(result.stdout)[("writer", "llm")]
    assert status == "selected" and why.startswith("OpenAI-compatible gpt-4o-mini at api.openai.com (key "), why


def test_doctor_names_the_critics_vision_model_with_its_key_and_url_password_masked(
    monkeypatch: pytest.MonkeyPatch, wide: None
) -> None:
    monkeypatch.setenv("STUDIO_VISION_MODEL", "qwen2.5-vl")
    monkeypatch.setenv("STUDIO_VISION_BASE_URL", "http://user:hunter2pass@127.0.0.1:9/v1")
    monkeypatch.setenv("STUDIO_VISION_API_KEY", SECRET_KEY)
    result = studio("doctor")
    assert result.returncode == 0, result.stderr
    assert SECRET_KEY not in result.stdout + result.stderr and "hunter2pass" not in result.stdout
    status, why = doctor_rows(result.stdout)[("critic", "vision")]
    assert status == "selected" and why.startswith("measured checks + qwen2.5-vl at http://user:"), why


def test_an_unknown_studio_variable_is_an_error_naming_the_setting_it_was_meant_to_be(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """pydantic-settings alone ignores a misspelt `STUDIO_*` variable (`extra="forbid"` applies to keyword
    arguments and dotenv files only), so the typo would silently do nothing: studio refuses it instead."""
    monkeypatch.setenv("STUDIO_NOT_A_SETTING", "1")
    monkeypatch.setenv("STUDIO_MAX_REPAIR", "5")  # a typo of STUDIO_MAX_REPAIRS
    result = studio("doctor")
    _one_clean_error_line(result, "unknown settings", "STUDIO_MAX_REPAIR (did you mean STUDIO_MAX_REPAIRS?)")
    assert "STUDIO_NOT_A_SETTING" in result.stderr
    monkeypatch.delenv("STUDIO_NOT_A_SETTING")
    monkeypatch.delenv("STUDIO_MAX_REPAIR")
    monkeypatch.setenv("STUDIO_DEBUG", "0")  # not a setting, but studio's own switch
    monkeypatch.setenv("STUDIO_CACHE_DIR", str(tmp_path / "cache"))  # read by the OCR, not a setting either
    assert studio("doctor").returncode == 0


@pytest.mark.parametrize(
    ("variable", "value", "command", "last_line"),
    [
        ("STUDIO_PORT", "abc", ["doctor"], "studio.errors.ConfigError: invalid settings: STUDIO_PORT: "),
        ("STUDIO_MAX_REPAIRS", "99", ["log"], "studio.errors.ConfigError: invalid settings: STUDIO_MAX_REPAIRS: "),
    ],
)
def test_studio_debug_shows_the_traceback_instead_of_the_line(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, command: list[str], last_line: str
) -> None:
    monkeypatch.setenv(variable, value)
    monkeypatch.setenv("OPENAI_API_KEY", SECRET_KEY)
    monkeypatch.setenv("STUDIO_DEBUG", "1")
    result = studio(*command)
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("Traceback (most recent call last):"), result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(last_line), result.stderr
    assert "studio: error:" not in result.stderr
    assert SECRET_KEY not in result.stdout + result.stderr


def test_studio_debug_shows_the_traceback_of_a_missing_clip(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("STUDIO_DEBUG", "1")
    result = studio("critique", str(tmp_path / "nope.mp4"), "--prompt", "x")
    assert result.returncode == 1 and "Traceback (most recent call last):" in result.stderr, result.stderr
    assert (
        result.stderr.strip().splitlines()[-1]
        == f"studio.errors.ConfigError: {tmp_path / 'nope.mp4'}: no such video file"
    )


# --- backend selection and studio doctor ---------------------------------------------------------------------------

EMBEDDED = {
    ("video", "procedural"): "embedded CPU backend (procedural renderer, numpy + OpenCV)",
    ("upscale", "ffmpeg"): "embedded CPU backend (ffmpeg lanczos scaling)",
    ("extend", "procedural"): "embedded CPU backend (continues the procedural shot, or carries the camera move on)",
    ("interpolate", "ffmpeg"): "embedded CPU backend (ffmpeg framerate/minterpolate)",
    ("music", "synth"): "embedded CPU backend (numpy synthesiser)",
}
NO_STREAMINGT2V = "streamingt2v_dir not set (a StreamingT2V checkout with its own environment; see README)"


@gpu_extras
def test_a_forced_zeroscope_without_cuda_is_one_clean_line_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "station"
    monkeypatch.setenv("STUDIO_VIDEO_BACKEND", "zeroscope")
    result = studio("run", str(TEST_SHOWS / "minimal.yaml"), "--headless", "--port", "0", data_dir=data_dir,
                    timeout=180)  # fmt: skip
    _one_clean_error_line(result, "video_backend=zeroscope cannot run here: no CUDA")
    station = Station(data_dir / "station.sqlite")
    try:
        assert station.events(types=["StationStarted"]) == [], "the station must not start"
    finally:
        station.close()


@gpu_extras
def test_doctor_device_cpu_and_auto_give_each_backend_its_reason(hf_home: Path, wide: None) -> None:
    cpu = studio("doctor", "--device", "cpu")
    auto = studio("doctor", "--device", "auto")
    assert cpu.returncode == 0 and auto.returncode == 0, cpu.stderr + auto.stderr
    zeroscope_cpu = "device=cpu: Zeroscope needs CUDA (hours per clip on a CPU)"
    expected_cpu = {
        ("video", "zeroscope"): ("no", zeroscope_cpu),
        ("upscale", "zeroscope_xl"): ("no", zeroscope_cpu),
        ("extend", "streamingt2v"): ("no", NO_STREAMINGT2V),
        ("interpolate", "film"): ("no", "weights not in HF cache (run `studio models pull film`)"),
        ("music", "musicgen"): ("no", "weights not in HF cache (run `studio models pull musicgen`)"),
        ("music", "audiocraft"): (
            "no",
            "audiocraft_python not set (the Python of a separate environment with audiocraft; see README)",
        ),
        **{key: ("selected", why) for key, why in EMBEDDED.items()},
        ("critic", "measured"): (
            "selected",
            "measured checks (set STUDIO_VISION_MODEL and an endpoint to add a multimodal model's verdict)",
        ),
    }
    expected_auto = {
        **expected_cpu,
        ("video", "zeroscope"): ("no", "no CUDA"),
        ("upscale", "zeroscope_xl"): ("no", "no CUDA"),
        ("interpolate", "film"): ("no", "no CUDA (set device=cpu to run FILM on the CPU, slowly)"),
        ("music", "musicgen"): ("no", "no CUDA (set device=cpu to run MusicGen on the CPU, slower than real time)"),
    }
    cpu_rows, auto_rows = doctor_rows(cpu.stdout), doctor_rows(auto.stdout)
    assert {key: row for key, row in cpu_rows.items() if key[0] != "writer"} == expected_cpu
    assert {key: row for key, row in auto_rows.items() if key[0] != "writer"} == expected_auto
    for rows in (cpu_rows, auto_rows):
        assert rows[("writer", "offline")][0] == "selected"


@gpu_extras
def test_the_device_flag_wins_over_studio_device(hf_home: Path, wide: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STUDIO_DEVICE", "cpu")
    from_env = doctor_rows(studio("doctor").stdout)
    flag = doctor_rows(studio("doctor", "--device", "auto").stdout)
    assert from_env[("video", "zeroscope")] == ("no", "device=cpu: Zeroscope needs CUDA (hours per clip on a CPU)")
    assert flag[("video", "zeroscope")] == ("no", "no CUDA")


@gpu_extras
def test_a_forced_film_without_weights_is_a_clean_error(
    hf_home: Path, wide: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("STUDIO_INTERPOLATE_BACKEND", "film")
    monkeypatch.setenv("STUDIO_DEVICE", "cpu")  # past "no CUDA": the weights are what is missing
    show = str(TEST_SHOWS / "minimal.yaml")
    result = studio("run", show, "--headless", "--port", "0", data_dir=tmp_path / "station", timeout=180)
    _one_clean_error_line(
        result, "interpolate_backend=film cannot run here: weights not in HF cache (run `studio models pull film`)"
    )
    doctor = studio("doctor")
    assert (
        doctor.returncode == 1 and "studio run will refuse: interpolate_backend=film cannot run here" in doctor.stdout
    )
    rows = doctor_rows(doctor.stdout)
    assert rows[("interpolate", "film")] == ("no", "weights not in HF cache (run `studio models pull film`)")
    assert rows[("interpolate", "ffmpeg")][0] != "selected", "film was asked for: ffmpeg is not what runs"
    missing_file = tmp_path / "film_net_fp32.pt"
    monkeypatch.setenv("STUDIO_FILM_MODEL_PATH", str(missing_file))
    result = studio("run", show, "--headless", "--port", "0", data_dir=tmp_path / "station", timeout=180)
    _one_clean_error_line(
        result, f"interpolate_backend=film cannot run here: film_model_path {missing_file} does not exist"
    )


# --- steering verbs without a running station ----------------------------------------------------------------------

VERBS = [
    ["steer", "topic: lamps"], ["skip"], ["pause"], ["resume"], ["hold"], ["release"],
    ["reject", segment_id(SHOW, 1, 1)], ["approve", segment_id(SHOW, 1, 1)], ["drop", segment_id(SHOW, 1, 1)],
]  # fmt: skip
ONE_VERB_PER_PATH = [VERBS[0], VERBS[2], VERBS[6]]
"""`steer` (its own handler), a plain verb, and a verb with a segment: each verb costs a few seconds of imports."""


def two_show_store(data_dir: Path) -> None:
    build_store(data_dir, [planned(SHOW, 1), planned(OTHER_SHOW, 1)])


def commands_in(data_dir: Path) -> list[tuple[str, str, dict[str, object], str]]:
    station = Station(data_dir / "station.sqlite")
    try:
        return [(command.show, command.kind, command.args, command.status) for command in station.commands()]
    finally:
        station.close()


@pytest.mark.parametrize("verb", VERBS, ids=lambda verb: verb[0])
def test_a_steering_verb_on_a_data_dir_with_no_station_is_a_clean_error(tmp_path: Path, verb: list[str]) -> None:
    empty = tmp_path / "nothing-here"
    _one_clean_error_line(studio(*verb, data_dir=empty), f"no station in {empty}")
    assert not (empty / "station.sqlite").exists()


@pytest.mark.parametrize("verb", ONE_VERB_PER_PATH, ids=lambda verb: verb[0])
def test_a_steering_verb_without_show_on_a_two_show_station_lists_both(tmp_path: Path, verb: list[str]) -> None:
    data_dir = tmp_path / "station"
    two_show_store(data_dir)
    _one_clean_error_line(studio(*verb, data_dir=data_dir), f"several shows ({SHOW}, {OTHER_SHOW})", "--show")
    assert commands_in(data_dir) == [], "nothing is queued"


def test_a_steering_verb_for_an_unknown_show_is_a_clean_error(tmp_path: Path) -> None:
    data_dir = tmp_path / "station"
    two_show_store(data_dir)
    result = studio("skip", "--show", "no-such-show", data_dir=data_dir)
    _one_clean_error_line(result, "no show 'no-such-show'", f"it has {SHOW}, {OTHER_SHOW}")
    assert commands_in(data_dir) == []


def test_pause_with_no_station_running_is_queued_in_the_store(tmp_path: Path) -> None:
    data_dir = tmp_path / "station"
    two_show_store(data_dir)
    # A station that ran here and stopped leaves its lock file behind, unlocked: still none running.
    (data_dir / "station.lock").write_text("12345")
    result = studio("pause", "--show", SHOW, data_dir=data_dir)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        f"command 1 (pause) queued for {SHOW}: no station is running on {data_dir}; it is applied when one starts"
    )
    assert commands_in(data_dir) == [(SHOW, "pause", {}, "pending")]


def test_reprompt_queues_the_shot_and_its_words_and_an_empty_prompt_is_a_clean_error(tmp_path: Path) -> None:
    data_dir = tmp_path / "station"
    build_store(data_dir, station_events())
    first = segment_id(SHOW, 1, 1)
    queued = studio("reprompt", first, "e0001-s01-sh01", "  Rosa  waves\nfrom left to right ", data_dir=data_dir)
    assert queued.returncode == 0 and f"command 1 (reprompt) queued for {SHOW}" in queued.stdout, queued.stderr
    _one_clean_error_line(studio("reprompt", first, "e0001-s01-sh01", "  ", data_dir=data_dir), "the prompt is empty")
    unknown = segment_id(SHOW, 99, 1)
    _one_clean_error_line(studio("reprompt", unknown, "x", "y", data_dir=data_dir), f"no segment {unknown!r}")
    assert commands_in(data_dir) == [
        (SHOW, "reprompt", {"segment_id": first, "shot_id": "e0001-s01-sh01", "prompt": "Rosa waves from left to right"},
         "pending"),
    ]  # fmt: skip


def test_segment_verbs_queue_their_segment_and_reject_an_unknown_one(tmp_path: Path) -> None:
    data_dir = tmp_path / "station"
    build_store(data_dir, station_events())
    first, second = segment_id(SHOW, 1, 1), segment_id(SHOW, 1, 2)
    rejected = studio("reject", second, "--reason", "too dark", data_dir=data_dir)
    assert rejected.returncode == 0 and f"command 1 (reject) queued for {SHOW}" in rejected.stdout, rejected.stderr
    dropped = studio("drop", first, data_dir=data_dir)
    assert dropped.returncode == 0 and "command 2 (drop) queued" in dropped.stdout, dropped.stderr
    unknown = segment_id(SHOW, 99, 1)
    _one_clean_error_line(studio("approve", unknown, data_dir=data_dir), f"no segment {unknown!r} in the rundown")
    assert commands_in(data_dir) == [
        (SHOW, "reject", {"segment_id": second, "reason": "too dark"}, "pending"),
        (SHOW, "drop", {"segment_id": first}, "pending"),
    ]
