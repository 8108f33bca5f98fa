"""`studio report`: the HTML report of a real station's run, read back as a parsed document and opened in a real
headless Chromium; and its clean errors.

The station is the one the other station tests run (embedded CPU tools, fast playout), with a video model that
paints a prompt word into the picture (as text-to-video models do), so the critic fails a clip and the repair makes
it again; two steering notes wait in the store before it starts, one of them carrying a `<script>`.
"""

from __future__ import annotations

import base64
import dataclasses
import re
import subprocess
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from studio import events as ev
from studio.config import load_settings
from studio.production import open_station
from studio.runtime import StationRuntime
from studio.show import parse_show
from studio.station import Station
from studio.tools.registry import build_toolkit
from tests.conftest import require_system_tool
from tests.html_dom import Node, parse
from tests.integration.test_cli import _one_clean_error_line, studio
from tests.integration.test_cli_paths import build_store, station_events
from tests.integration.test_graph import LeakyGenerator

# One worker runs them all (they read one real run, the module's `run`, 18 s): `--dist loadgroup`,
# scripts/test.
pytestmark = pytest.mark.xdist_group("test_report")

SHOW_KEY = "report-lab"
SHOW = """\
title: Report Lab
premise: a robot tidies a lab
tone: dry
visual_style: flat bright colours
characters:
  - name: Bo
    species: robot
    look: a small round orange robot with one big eye
    palette: [orange, white]
places:
  - name: Lab
    description: a white lab with blue tiles
    palette: [white, blue]
formats:
  - name: opening
    description: Bo starts the day
    beats: ["{host} rolls from left to right across the lab"]
    seconds: 1
  - name: chore
    description: Bo does one thing
    beats: ["{host} polishes the {topic}"]
    seconds: 1
topics: [gears, cups]
music:
  mood: calm
channel:
  width: 192
  height: 108
  fps: 12
  episode_segments: 2
  seed: 5
"""
HOSTILE_NOTE = "<script>document.body.dataset.pwned='yes'</script> more Bo"


# --- the run ------------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Run:
    data_dir: Path
    pruned_clip: Path
    redrawn_clip: Path
    saved_sheet: np.ndarray
    """The contact sheet the critic saved for the clip whose sheet the test then deleted."""


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    data_dir = tmp_path_factory.mktemp("report") / "data"
    settings = load_settings(data_dir=data_dir, port=0, playout_realtime=False, max_repairs=2)
    store = open_station(settings)
    store.add_command(SHOW_KEY, "steer", {"note": "topic: zebra statue"})
    store.add_command(SHOW_KEY, "steer", {"note": HOSTILE_NOTE})
    store.close()
    toolkit = build_toolkit(settings)
    toolkit.video = LeakyGenerator(settings, "zebra")
    runtime = StationRuntime(parse_show(SHOW, "report_lab.yaml"), settings, episodes=1, toolkit=toolkit)
    runtime.start()
    try:
        assert runtime.wait(600), "the station made and aired its one episode"
    finally:
        runtime.stop()
    station = Station(data_dir / "station.sqlite")
    renders = [logged.event for logged in station.events(types=["ClipRendered"])]
    verdicts = [logged.event for logged in station.events(types=["VerdictGiven"])]
    station.close()
    assert any(not verdict.passed for verdict in verdicts), "the leaky model made the critic fail a clip"
    # One clip pruned from disk with its contact sheet; another, a failed one, whose sheet is gone (the report draws
    # it again). Which clip the critic fails first depends on the order segments are made in: the pruned clip is
    # the first rendered that is not that one.
    failed = next(verdict for verdict in verdicts if not verdict.passed)
    first = next(r for r in renders if (r.shot, r.attempt) != (failed.shot, failed.attempt))
    pruned = Path(first.path)
    first_sheet = next(Path(v.contact_sheet) for v in verdicts if (v.shot, v.attempt) == (first.shot, first.attempt))
    pruned.unlink()
    first_sheet.unlink()
    saved_sheet = cv2.imread(failed.contact_sheet)
    assert saved_sheet is not None, failed.contact_sheet
    Path(failed.contact_sheet).unlink()
    redrawn = next(Path(r.path) for r in renders if (r.shot, r.attempt) == (failed.shot, failed.attempt))
    return Run(data_dir, pruned, redrawn, saved_sheet)


def write_report(run: Run, tmp_path: Path, *args: str) -> tuple[str, Node]:
    report = tmp_path / "report.html"
    result = studio("report", *args, "--html", str(report), data_dir=run.data_dir)
    assert result.returncode == 0, result.stderr
    assert str(report) in result.stdout and "KiB" in result.stdout
    text = report.read_text(encoding="utf-8")
    return text, parse(text)


def test_the_report_of_a_real_run_shows_every_segment_verdict_repair_rate_and_steering(
    run: Run, tmp_path: Path
) -> None:
    text, document = write_report(run, tmp_path)
    station = Station(run.data_dir / "station.sqlite")
    try:
        rundown = station.rundown(SHOW_KEY)
        verdicts = [logged.event for logged in station.events(types=["VerdictGiven"])]
        repairs = [logged.event for logged in station.events(types=["ShotRepaired"])]
        failures = station.critic_failures(SHOW_KEY)
        counts = station.event_counts(SHOW_KEY)
        filler = station.total_seconds(SHOW_KEY, "FillerAired")
        commands = station.commands(show=SHOW_KEY)
        started = station.events(types=["StationStarted"])[0].event
    finally:
        station.close()
    assert isinstance(started, ev.StationStarted)

    header = document.all("dl")[0].content()
    assert "Report Lab" in header and started.writer in header and "the whole log" in header
    assert all(name in header for name in started.backends.values())

    # Every segment, with its agents' decisions.
    sections = {node.attrs["data-segment"]: node for node in document.all("section", class_="segment")}
    assert set(sections) == {entry.segment_id for entry in rundown} and len(rundown) == 2
    for entry in rundown:
        assert entry.title in sections[entry.segment_id].content()
        assert "screenwriter" in sections[entry.segment_id].content()
        assert "prompt:" in sections[entry.segment_id].content() and "motion:" in sections[entry.segment_id].content()

    # One block per verdict, each check in a row with its measured detail; the failure and its repair.
    clips = [clip for clip in document.all("div", class_="clip") if clip.all("p", class_="verdict")]
    assert len(clips) == len(verdicts) == counts["VerdictGiven"] == 3
    rows = document.all("tr", class_="check")
    assert len(rows) == sum(len(verdict.verdict["checks"]) for verdict in verdicts)
    failed_rows = [row for row in rows if row.attrs["data-passed"] == "false"]
    assert [row.attrs["data-check"] for row in failed_rows] == ["text"]
    assert "'ZEBRA'" in failed_rows[0].content() and '"leaked": ["zebra"]' in failed_rows[0].content()
    [failed_clip] = document.all("div", class_="failed")
    [failed] = [verdict for verdict in verdicts if not verdict.passed]
    assert "FAILED" in failed_clip.content() and failed.repair_note in failed_clip.content()
    [repair] = repairs
    rerendered = next(clip for clip in clips if "re-render" in clip.content())
    assert repair.note in rerendered.content() and repair.prompt in rerendered.content()
    assert "zebra" not in repair.prompt.lower()

    # Failure rates per check: the store's own counts.
    rates = {
        row.attrs["data-check"]: [cell.content() for cell in row.all("td")] for row in document.all("tr", class_="rate")
    }
    assert set(failures) <= set(rates) and failures == {"text": 1}
    for check, (_, failed_count, judged, rate) in rates.items():
        assert int(failed_count) == failures.get(check, 0) and int(judged) == counts["VerdictGiven"]
        assert rate == f"{failures.get(check, 0) / counts['VerdictGiven']:.0%}"
    assert document.all("svg") and document.all("rect")

    # Contact sheets: inline pictures only; the pruned clip said to be gone, the other drawn again from the clip.
    images = document.all("img")
    assert len(images) == 2 and all(image.attrs["src"].startswith("data:image/jpeg;base64,") for image in images)
    notes = [node.content() for node in document.all("p", class_="sheet-note")]
    assert sum("clip pruned from disk" in note and run.pruned_clip.name in note for note in notes) == 1
    assert sum("drawn again from the clip" in note for note in notes) == 1
    pictures = {}
    for clip in document.all("div", class_="clip"):
        for image in clip.all("img"):
            encoded = image.attrs["src"].split(",", 1)[1]
            pictures[clip.all("p", class_="sheet-note")[0].content()] = cv2.imdecode(
                np.frombuffer(base64.b64decode(encoded), np.uint8), cv2.IMREAD_COLOR
            )
    [redrawn] = [picture for note, picture in pictures.items() if "drawn again" in note]
    # Drawn from the frames the critic judged: the same picture it saved (OCR boxes and arrows where it measured).
    assert redrawn.shape == run.saved_sheet.shape
    assert np.abs(redrawn.astype(int) - run.saved_sheet.astype(int)).mean() < 4.0

    # Self-contained: nothing to fetch, no script.
    assert not document.all("script") and not document.all("link") and not document.all("iframe")
    for node in document.all("*"):
        for name in ("src", "href", "action", "srcset", "poster"):
            assert not node.attrs.get(name) or node.attrs[name].startswith("data:"), (node.tag, name)
    assert not re.search(r"https?://", text), re.search(r".{40}https?://.{40}", text)

    # What aired, with the filler seconds; steering and what it did.
    airing = document.all("tr", class_="airing")
    aired = [row for row in airing if row.attrs["data-status"] == "aired"]
    assert {entry.segment_id for entry in rundown} == {row.all("td")[0].content() for row in aired}
    filler_rows = [row for row in airing if row.attrs["data-status"] == "filler"]
    assert sum(float(row.all("td")[-1].content()) for row in filler_rows) == pytest.approx(
        filler, abs=0.1 * len(filler_rows)
    )
    blocks = {int(node.attrs["data-command"]): node.content() for node in document.all("div", class_="command")}
    assert set(blocks) == {command.id for command in commands} and len(blocks) == 2
    for command in commands:
        assert "applied" in blocks[command.id] and command.outcome in blocks[command.id]
        assert "follows the note" in blocks[command.id] and "NoteInterpreted" in blocks[command.id]
    assert HOSTILE_NOTE in blocks[commands[1].id]  # shown as text …
    assert "&lt;script&gt;document.body.dataset.pwned" in text and "<script" not in text  # … never as markup


def test_one_episode_and_a_time_range_narrow_the_report(run: Run, tmp_path: Path) -> None:
    _, episode = write_report(run, tmp_path, "1")
    assert len(episode.all("section", class_="segment")) == 2 and "episode 1" in episode.all("dl")[0].content()
    _, later = write_report(run, tmp_path, "--since", "2099-01-01 00:00")
    assert not later.all("section", class_="segment") and not later.all("tr", class_="rate")
    assert "no event in it" in later.all("dl")[0].content()


def test_the_report_opens_in_headless_chromium_with_its_pictures_and_the_script_inert(run: Run, tmp_path: Path) -> None:
    chromium = require_system_tool("chromium")
    write_report(run, tmp_path)
    report = tmp_path / "report.html"
    browser = [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'chromium'}"]
    screenshot = tmp_path / "report.png"
    subprocess.run(
        [*browser, "--window-size=1280,2400", "--hide-scrollbars", f"--screenshot={screenshot}", report.as_uri()],
        capture_output=True, timeout=180, check=False,
    )  # fmt: skip
    assert screenshot.is_file() and screenshot.stat().st_size > 50_000, "a real page, not a blank one"
    picture = cv2.imread(str(screenshot))
    assert picture is not None and picture.shape[:2] == (2400, 1280)
    grey = cv2.cvtColor(picture, cv2.COLOR_BGR2GRAY)
    assert grey.std() > 20, "text, tables and pictures, not an empty page"
    assert (np.abs(picture.astype(int) - [32, 0, 176]).sum(axis=2) < 40).sum() > 200, "the red failure-rate bar"
    dom = subprocess.run(
        [*browser, "--dump-dom", report.as_uri()], capture_output=True, text=True, timeout=180, check=False
    ).stdout
    assert "Report Lab: decision-log report" in dom and "data-segment" in dom
    assert "pwned" in dom and 'data-pwned="yes"' not in dom, "the note's script never ran"


# --- clean errors ----------------------------------------------------------------------------------------------


def test_report_errors_are_one_line_that_says_what_to_do(tmp_path: Path) -> None:
    empty = tmp_path / "nothing-here"
    _one_clean_error_line(
        studio("report", "--html", str(tmp_path / "r.html"), data_dir=empty), f"no station in {empty}", "studio run"
    )
    assert not (empty / "station.sqlite").exists()
    data_dir = tmp_path / "station"
    build_store(data_dir, station_events())
    _one_clean_error_line(
        studio("report", "7", "--html", str(tmp_path / "r.html"), data_dir=data_dir),
        "no episode 7", "kitchen-quest", "it has episodes 1–2",
    )  # fmt: skip
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    _one_clean_error_line(
        studio("report", "--html", str(blocker / "r.html"), data_dir=data_dir), "cannot write the report", "--html"
    )
    _one_clean_error_line(
        studio("report", "--since", "yesterday", "--html", str(tmp_path / "r.html"), data_dir=data_dir), "--since"
    )
    assert not (tmp_path / "r.html").exists()


def test_a_report_of_a_store_whose_clips_are_gone_says_so_and_shows_a_skip_and_its_effect(tmp_path: Path) -> None:
    data_dir = tmp_path / "station"
    history: list[Any] = station_events()
    skipped = ev.SegmentSkipped(
        show="kitchen-quest",
        episode=2,
        segment_id="kitchen-quest-e0002-s01",
        reason="its file is missing",
        command_id=None,
    )
    rendered = ev.ClipRendered(
        show="kitchen-quest", episode=1, segment=0, shot="e0001-s01-sh01", attempt=2, path=str(tmp_path / "gone.mp4"),
        seconds=3.0, seed=42,
    )  # fmt: skip
    store = Station(data_dir / "station.sqlite")
    skip = store.add_command("kitchen-quest", "skip")
    store.close()
    skipped = dataclasses.replace(skipped, reason="cut by a person", command_id=skip)
    applied = ev.CommandApplied(
        show="kitchen-quest", command_id=skip, kind="skip", effect="cut kitchen-quest-e0002-s01"
    )
    build_store(data_dir, [*history, rendered, applied, skipped])
    report = tmp_path / "out" / "report.html"
    result = studio("report", "--html", str(report), data_dir=data_dir)
    assert result.returncode == 0, result.stderr
    document = parse(report.read_text(encoding="utf-8"))
    [skip_row] = [row for row in document.all("tr", class_="airing") if row.attrs["data-status"] == "skipped"]
    assert "kitchen-quest-e0002-s01" in skip_row.content() and "cut by a person" in skip_row.content()
    [block] = document.all("div", class_="command")
    assert "applied" in block.content() and "SegmentSkipped: skipped kitchen-quest-e0002-s01" in block.content()
    notes = [node.content() for node in document.all("p", class_="sheet-note")]
    assert any("clip pruned from disk" in note and "gone.mp4" in note for note in notes), notes
    assert not document.all("img")


def test_an_episode_report_counts_the_failures_of_that_episode_only(tmp_path: Path) -> None:
    data_dir = tmp_path / "station"
    build_store(data_dir, station_events())
    station = Station(data_dir / "station.sqlite")
    by_episode = {number: station.critic_failures("kitchen-quest", episode=number) for number in (1, 2)}
    station.close()
    assert by_episode == {1: {"text": 1}, 2: {}}
    for number, (failed, judged) in ((1, (1, 2)), (2, (0, 1))):
        report = tmp_path / f"e{number}.html"
        assert studio("report", str(number), "--html", str(report), data_dir=data_dir).returncode == 0
        document = parse(report.read_text(encoding="utf-8"))
        [row] = document.all("tr", class_="rate")
        assert row.attrs["data-check"] == "text"
        assert [cell.content() for cell in row.all("td")][1:3] == [str(failed), str(judged)]
        assert [node.attrs["data-segment"] for node in document.all("section", class_="segment")][:1] == [
            f"kitchen-quest-e{number:04d}-s01"
        ]


def test_a_hold_shows_the_repeats_it_caused_until_the_release(tmp_path: Path) -> None:
    data_dir = tmp_path / "station"
    store = Station(data_dir / "station.sqlite")
    hold, release = store.add_command("kitchen-quest", "hold"), store.add_command("kitchen-quest", "release")
    store.close()
    first = "kitchen-quest-e0001-s01"
    history = [event for event in station_events() if not isinstance(event, ev.CommandApplied)]
    start = history[-1].at + 1
    again = ev.SegmentAired(show="kitchen-quest", episode=1, segment_id=first, seconds=3.0, repeat=True)
    build_store(data_dir, [
        *history,
        ev.CommandApplied(show="kitchen-quest", command_id=hold, kind="hold", effect=f"{first} repeats", at=start),
        dataclasses.replace(again, at=start + 1), dataclasses.replace(again, at=start + 2, event_id="second-repeat"),
        ev.CommandApplied(show="kitchen-quest", command_id=release, kind="release", effect="moves on", at=start + 3),
        dataclasses.replace(again, at=start + 4, event_id="after-the-release"),
    ])  # fmt: skip
    report = tmp_path / "report.html"
    assert studio("report", "--html", str(report), data_dir=data_dir).returncode == 0
    blocks = {int(node.attrs["data-command"]): node for node in parse(report.read_text()).all("div", class_="command")}
    assert len(blocks[hold].all("li")) == 2 and f"aired {first} (3.00 s) again (hold)" in blocks[hold].content()
    assert not blocks[release].all("li")
