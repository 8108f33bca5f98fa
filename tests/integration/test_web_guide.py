"""The web page a viewer opens: the channel with now playing and up next (pictures from the show), today's grid, an
AI-generated label, no JS library — against a real running station, over HTTP and in a real headless Chromium."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from studio import events as ev
from studio.runtime import StationRuntime
from studio.show import load_show
from studio.station import Station
from tests.conftest import require_system_tool
from tests.integration.test_playout import free_port, wait_for_page
from tests.integration.test_runtime import SHOW, of_type, settings_for, wait_for
from tests.unit.test_channel_epg import assert_valid_xmltv

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def get(url: str) -> tuple[int, bytes, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read(), response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers.get("Content-Type", "")


def guide_once(url: str, predicate: Any, timeout: float = 300.0) -> dict[str, Any]:
    """The first `/now.json` that `predicate` accepts (the channel moves on while the test looks)."""
    deadline = time.monotonic() + timeout
    seen: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status, body, content_type = get(url + "now.json")
        assert status == 200 and content_type == "application/json", (status, body[:200])
        seen = json.loads(body)
        if predicate(seen):
            return seen
        time.sleep(0.3)
    raise AssertionError(f"no such guide within {timeout:.0f} s; last: {seen}")


def test_the_page_shows_now_and_next_with_pictures_and_the_ai_label(tmp_path: Path) -> None:
    chromium = require_system_tool("chromium")
    import websockets.sync.client as websockets_sync

    runtime = StationRuntime(load_show(SHOW), settings_for(tmp_path / "data"))
    runtime.start()
    station = Station(tmp_path / "data" / "station.sqlite")
    browser = None
    try:
        url = runtime.player_url
        opening = guide_once(url, lambda g: g["now"] is not None)
        assert opening["title"] == "Station Test" and opening["ai_generated"] is True
        wait_for(station, of_type(ev.SegmentOnAir))
        guide = guide_once(url, lambda g: g["now"] is not None and g["now"]["kind"] == "segment" and g["next"])
        now = guide["now"]
        entry = station.segment(now["segment_id"])
        assert entry is not None and (now["title"], now["episode"]) == (entry.title, entry.episode)
        episode_titles = {row["number"]: row["title"] for row in station.episodes("station-test")}
        assert now["episode_title"] == episode_titles[entry.episode] and now["episode_title"]
        for upcoming in guide["next"]:
            queued = station.segment(upcoming["segment_id"])
            assert (
                queued is not None and queued.title == upcoming["title"] and upcoming["segment_id"] != now["segment_id"]
            )
        # A single show's guide: the show all day, the episode on air listed in the slot on now; valid XMLTV.
        status, body, content_type = get(url + "epg.json")
        [on_now] = [p for p in json.loads(body)["programmes"] if p["on_now"]]
        assert status == 200 and on_now["title"] == "Station Test" and on_now["episode"] in episode_titles, on_now
        status, document, content_type = get(url + "epg.xml")
        assert status == 200 and content_type == "application/xml"
        assert_valid_xmltv(document)
        status, picture, content_type = get(url + now["picture"].lstrip("/"))
        assert status == 200 and content_type == "image/png" and picture.startswith(PNG_SIGNATURE)
        for bad in ("picture/..%2Fstation.sqlite.png", "picture/station-test-e0099-s01.png", "picture/%00.png"):
            assert get(url + bad)[0] == 404, bad

        debug_port = free_port()
        browser = subprocess.Popen(
            [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--autoplay-policy=no-user-gesture-required",
             f"--remote-debugging-port={debug_port}", f"--user-data-dir={tmp_path / 'chromium'}", url],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        expression = """JSON.stringify({
            label: document.getElementById('ai-label').textContent,
            segment: document.getElementById('now').dataset.segment || '',
            now: [...document.querySelectorAll('#now .what')].map((e) => e.textContent),
            pictures: [...document.querySelectorAll('#now img, #next img')].filter((i) => i.complete && i.naturalWidth > 0).length,
            next: [...document.querySelectorAll('#next .what')].map((e) => e.textContent),
        })"""
        shown: dict[str, Any] = {}
        with websockets_sync.connect(wait_for_page(debug_port), max_size=None) as devtools:
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                devtools.send(json.dumps({"id": 1, "method": "Runtime.evaluate",
                                          "params": {"expression": expression, "returnByValue": True}}))  # fmt: skip
                value = json.loads(devtools.recv(timeout=10))["result"]["result"].get("value")
                shown = json.loads(value) if value else {}
                if shown.get("segment") and shown.get("pictures", 0) >= 1 and shown.get("next"):
                    break
                time.sleep(0.5)
    finally:
        if browser is not None:
            browser.kill()
            browser.wait()
        runtime.stop()
    assert shown.get("label") == "AI-generated", shown
    on_page = station.segment(shown["segment"])
    assert on_page is not None and shown["now"] == [on_page.title], shown
    assert shown["pictures"] >= 1, "the segment's picture loaded in the page"
    titles = {entry.title for entry in station.rundown("station-test")}
    assert shown["next"] and set(shown["next"]) <= titles, shown
    station.close()


def test_the_page_shows_todays_grid_with_the_slot_on_air_highlighted(tmp_path: Path) -> None:
    """The channel's grid under now and next, drawn by the page's own script from /epg.json (no library)."""
    chromium = require_system_tool("chromium")
    import websockets.sync.client as websockets_sync

    from studio.broadcast.web import PlayerServer
    from studio.channel import load_channel
    from studio.channel_epg import programme_guide
    from tests.unit.test_channel_epg import CHANNELS, plan

    channel = load_channel(CHANNELS / "day.yaml")
    station = Station(tmp_path / "station.sqlite")
    station.record_many([
        plan("station-test", 1, "The Tidy Shelf", "Bo & Mia sort <b>boxes</b>."),
        ev.ProgrammeStarted(show="station-test", episode=1, title="Station Test", air_time="2026-12-07T06:00:00+00:00"),
    ])  # fmt: skip
    now = datetime(2026, 12, 7, 7, 30, tzinfo=UTC)
    server = PlayerServer(
        tmp_path / "hls", port=0, title=channel.name, guide=lambda: programme_guide(channel, station, now)
    )
    server.start()
    browser = None
    shown: dict[str, Any] = {}
    try:
        status, body, content_type = get(server.url + "epg.json")
        assert status == 200 and content_type == "application/json" and json.loads(body)["programmes"]
        debug_port = free_port()
        browser = subprocess.Popen(
            [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", f"--remote-debugging-port={debug_port}",
             f"--user-data-dir={tmp_path / 'chromium'}", server.url],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        expression = """JSON.stringify({
            heading: document.getElementById('today-heading').textContent,
            rows: [...document.querySelectorAll('#today .slot')].map((row) => ({
                when: row.querySelector('.when').textContent, what: row.querySelector('.what').textContent,
                where: row.querySelector('.where').textContent, on: row.classList.contains('on'),
                past: row.classList.contains('past'), bold: row.querySelectorAll('b').length})),
            label: document.getElementById('ai-label').textContent,
        })"""
        with websockets_sync.connect(wait_for_page(debug_port), max_size=None) as devtools:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                devtools.send(json.dumps({"id": 1, "method": "Runtime.evaluate",
                                          "params": {"expression": expression, "returnByValue": True}}))  # fmt: skip
                value = json.loads(devtools.recv(timeout=10))["result"]["result"].get("value")
                shown = json.loads(value) if value else {}
                if shown.get("rows"):
                    break
                time.sleep(0.5)
    finally:
        if browser is not None:
            browser.kill()
            browser.wait()
        server.stop()
        station.close()
    assert shown.get("heading") == "TODAY (UTC)" and shown.get("label") == "AI-generated", shown
    rows = shown["rows"]
    assert [(row["when"], row["what"]) for row in rows] == [
        ("00:00–06:00", "Garden Hour"), ("06:00–12:00", "Station Test"), ("12:00–18:00", "Garden Hour"),
        ("18:00–00:00", "Night Lab"),
    ], rows  # fmt: skip
    assert [row["on"] for row in rows] == [False, True, False, False] and rows[0]["past"] and not rows[2]["past"]
    assert rows[1]["where"] == "Episode 1 · The Tidy Shelf — Bo & Mia sort <b>boxes</b>.", "titles are text, never HTML"
    assert all(row["bold"] == 0 for row in rows)
