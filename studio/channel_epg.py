"""The programme guide of a channel: the grid's slots for today and tomorrow, filled in from the agents' own plans
in the station store (episode numbers, titles, loglines, thumbnails), as `epg.json` and as XMLTV.

A slot that has begun lists the episode that started in it (`ProgrammeStarted`); a slot to come lists the show's
next episodes not yet on air, one per slot, in order; a slot with no episode planned lists the show's title and
premise. Times are ISO 8601 on the channel's clock.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from studio import events as ev
from studio.channel_grid import day_bounds, schedule

if TYPE_CHECKING:
    from collections.abc import Callable

    from studio.channel import Channel
    from studio.station import Station

XMLTV_DOCTYPE = '<!DOCTYPE tv SYSTEM "xmltv.dtd">'
GENERATOR = "studio"


def _episode_details(station: Station, show_key: str) -> dict[int, dict[str, Any]]:
    """Episode number → what its plan says (the latest plan of each number wins: a re-plan after a restart)."""
    details: dict[int, dict[str, Any]] = {}
    for logged in station.events(show=show_key, types=["EpisodePlanned"]):
        plan = logged.event
        if isinstance(plan, ev.EpisodePlanned) and plan.episode is not None:
            first = plan.segments[0].segment_id if plan.segments else ""
            details[plan.episode] = {"episode_title": plan.title, "summary": plan.logline, "first_segment": first}
    return details


def _started(station: Station, show_key: str) -> list[tuple[datetime, int]]:
    started = []
    for logged in station.events(show=show_key, types=["ProgrammeStarted"]):
        event = logged.event
        if isinstance(event, ev.ProgrammeStarted) and event.episode is not None:
            try:
                started.append((datetime.fromisoformat(event.air_time), event.episode))
            except ValueError:
                continue
    return started


def _upcoming(station: Station, show_key: str, started: set[int]) -> list[int]:
    """The show's planned episodes that have not begun to air, in order."""
    waiting = {entry.episode for entry in station.queue(show_key) if entry.status != "on_air"}
    on_air = {entry.episode for entry in station.rundown(show_key) if entry.status in ("aired", "on_air")}
    return sorted(number for number in waiting if number not in started and number not in on_air)


def _on_air_episode(station: Station, show_key: str) -> int | None:
    """The episode of the show's segment on air now, if one is (a single show's station records no programmes)."""
    on_air = [entry for entry in station.queue(show_key) if entry.status == "on_air"]
    return on_air[0].episode if on_air else None


def programme_guide(
    channel: Channel,
    station: Station,
    now: datetime,
    *,
    days: int = 2,
    has_picture: Callable[[str], bool] | None = None,
) -> dict[str, Any]:
    """The guide from the start of the channel's day at `now` for `days` days: `epg.json`."""
    start, _ = day_bounds(channel, now)
    end = day_bounds(channel, start + timedelta(days=days - 1, hours=12))[1]
    airings = schedule(channel, start, end)
    per_show: dict[str, tuple[dict[int, dict[str, Any]], list[tuple[datetime, int]], list[int]]] = {}
    for name, key in channel.keys.items():
        if any(airing.show == name for airing in airings):
            details = _episode_details(station, key)
            started = _started(station, key)
            per_show[name] = (details, started, _upcoming(station, key, {number for _, number in started}))
    programmes = []
    for airing in airings:
        show = channel.shows[airing.show]
        details, started, upcoming = per_show[airing.show]
        episode: int | None = None
        if airing.start <= now:
            episode = next((number for at, number in started if airing.covers(at)), None)
            if episode is None and airing.covers(now):
                episode = _on_air_episode(station, channel.keys[airing.show])
        elif upcoming:
            episode = upcoming.pop(0)
        planned = details.get(episode, {}) if episode is not None else {}
        first_segment = planned.get("first_segment", "")
        picture = ""
        if first_segment and (has_picture is None or has_picture(first_segment)):
            picture = f"/picture/{first_segment}.png"
        programmes.append({
            "show": airing.show, "show_key": channel.keys[airing.show], "title": show.title,
            "start": airing.start.astimezone(channel.zone).isoformat(),
            "stop": airing.end.astimezone(channel.zone).isoformat(),
            "slot": airing.slot, "episode": episode, "episode_title": planned.get("episode_title", ""),
            "summary": planned.get("summary") or show.premise, "picture": picture, "on_now": airing.covers(now),
        })  # fmt: skip
    return {
        "channel": channel.name,
        "timezone": channel.zone.key,
        "now": now.astimezone(channel.zone).isoformat(),
        "rotation": channel.rotation,
        "programmes": programmes,
        "ai_generated": True,
    }


def _xmltv_time(iso: str) -> str:
    moment = datetime.fromisoformat(iso)
    return moment.strftime("%Y%m%d%H%M%S %z")


def xmltv(guide: dict[str, Any], *, channel_id: str, base_url: str = "") -> bytes:
    """The guide as an XMLTV document (validates against the XMLTV DTD). `base_url` makes picture links absolute."""
    tv = ET.Element("tv", {"generator-info-name": GENERATOR, "source-info-name": guide["channel"]})
    channel = ET.SubElement(tv, "channel", {"id": channel_id})
    ET.SubElement(channel, "display-name").text = guide["channel"]
    if base_url:
        ET.SubElement(channel, "url").text = base_url
    for programme in guide["programmes"]:
        element = ET.SubElement(
            tv, "programme",
            {"start": _xmltv_time(programme["start"]), "stop": _xmltv_time(programme["stop"]), "channel": channel_id},
        )  # fmt: skip
        ET.SubElement(element, "title", {"lang": "en"}).text = programme["title"]
        if programme["episode_title"]:
            ET.SubElement(element, "sub-title", {"lang": "en"}).text = programme["episode_title"]
        ET.SubElement(element, "desc", {"lang": "en"}).text = (
            f"{programme['summary']} (AI-generated)" if programme["summary"] else "AI-generated"
        )
        ET.SubElement(element, "category", {"lang": "en"}).text = "AI-generated"
        if programme["picture"]:
            ET.SubElement(element, "icon", {"src": base_url.rstrip("/") + programme["picture"]})
        if programme["episode"] is not None:
            # xmltv_ns counts from 0: season unknown . episode . part.
            ET.SubElement(element, "episode-num", {"system": "xmltv_ns"}).text = f".{programme['episode'] - 1}."
    ET.indent(tv)
    body = ET.tostring(tv, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{XMLTV_DOCTYPE}\n{body}\n'.encode()
