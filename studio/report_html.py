"""The report `studio report` writes: one self-contained HTML file (CSS inline, pictures as data: URIs, no script,
nothing fetched). Every text that came from a model, a show file or a person goes through `html.escape`, and a
Content-Security-Policy forbids scripts and every network fetch besides."""

from __future__ import annotations

import base64
import contextlib
import html
import json
import os
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.errors import ConfigError

if TYPE_CHECKING:
    from studio import events as ev
    from studio.report import ClipRecord, EpisodeRecord, Report, SegmentRecord, ShotRecord, SteeringRecord

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
EVIDENCE_CHARS = 1200
"""A check's evidence is printed as JSON up to this length (OCR boxes and flow can run long)."""

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1180px;padding:16px 24px;color:#1d1d1f;background:#fafafa}
h1{margin:0 0 4px}h2{border-bottom:2px solid #333;padding-bottom:2px;margin-top:32px}h3{margin:20px 0 6px}
table{border-collapse:collapse;margin:6px 0 12px;width:100%}th,td{border:1px solid #ccc;padding:3px 6px;
text-align:left;vertical-align:top}th{background:#eee}td.n{text-align:right;font-variant-numeric:tabular-nums}
.pass{color:#12661f;font-weight:600}.fail{color:#b00020;font-weight:600}.muted{color:#666}
section.segment{background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px 14px;margin:12px 0}
.clip{border-left:4px solid #12661f;padding:4px 10px;margin:10px 0}.clip.failed{border-color:#b00020}
.clip img{max-width:100%;border:1px solid #999;display:block;margin:6px 0}
pre{white-space:pre-wrap;word-break:break-word;background:#f1f1f1;padding:4px 6px;margin:2px 0;font-size:12px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px}dt{font-weight:600}dd{margin:0}
.prompt{font-family:ui-monospace,monospace;font-size:12.5px}
"""


def e(value: Any) -> str:
    """Text for HTML: every value from the log is escaped, quotes included."""
    return html.escape(str(value), quote=True)


def clock(at: float | None) -> str:
    return datetime.fromtimestamp(at).strftime("%Y-%m-%d %H:%M:%S") if at else ""


def data_uri(jpeg: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")


def write_report(report: Report, path: Path) -> Path:
    """Write the report atomically (`.partial`, then renamed). An unwritable place is one clear `ConfigError`."""
    text = render_report(report)
    partial = path.with_name(path.name + ".partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, path)
    except OSError as error:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
        raise ConfigError(
            f"cannot write the report to {path} ({error.strerror or error}): pass --html a file in a writable folder"
        ) from None
    return path


def render_report(report: Report) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        f"<title>{e(report.title)} — studio report</title><style>{_CSS}</style></head><body>",
        _header(report),
        _airing(report),
        _rates(report),
        _steering(report),
        '<h2 id="episodes">Episodes: every decision</h2>',
    ]
    if not report.episodes:
        parts.append('<p class="muted">No episode was planned or made in this range.</p>')
    parts += [_episode(episode) for episode in report.episodes]
    parts.append(f'<p class="muted">Written by studio from the station store, {e(clock(report.generated_at))}.</p>')
    parts.append("</body></html>")
    return "\n".join(parts)


def _header(report: Report) -> str:
    started = report.started
    rows = [
        ("show", f"{e(report.title)} <span class=muted>({e(report.show)})</span>"),
        ("range", e(report.range_text)),
        ("generated", e(clock(report.generated_at))),
    ]
    if started is not None:
        backends = "".join(f"<li>{e(kind)}: {e(name)}</li>" for kind, name in started.backends.items())
        rows += [
            ("LLM writer", e(started.writer)),
            ("backends", f"<ul>{backends}</ul>"),
            ("station", e(f"studio {started.version}, seed {started.seed}, started {clock(started.at)}, filler "
                          f"{started.filler or '?'}, outputs {', '.join(started.outputs)}")),
        ]  # fmt: skip
    else:
        rows.append(("LLM writer", '<span class="muted">unknown: no station start in the log</span>'))
    counts = report.counts
    summary = (
        f"{len(report.episodes)} episode(s); {counts.get('SegmentApproved', 0)} segments approved,"
        f" {counts.get('SegmentAired', 0)} aired, {counts.get('SegmentSkipped', 0)} skipped,"
        f" {counts.get('SegmentDropped', 0)} dropped; {report.verdicts} verdicts,"
        f" {counts.get('ShotRepaired', 0)} repairs, {counts.get('ShotDropped', 0)} shots dropped;"
        f" {len(report.steering)} steering command(s)"
    )
    rows.append(("in short", e(summary)))
    items = "".join(f"<dt>{label}</dt><dd>{value}</dd>" for label, value in rows)
    return f"<h1>{e(report.title)}: decision-log report</h1><dl>{items}</dl>"


def _airing(report: Report) -> str:
    if not report.airing:
        return '<h2 id="aired">What aired</h2><p class="muted">Nothing went on air in this range.</p>'
    rows = []
    for row in report.airing:
        what = e(row.segment_id) if row.segment_id else "<i>filler</i>"
        status_class = "fail" if row.status == "skipped" else "pass" if row.status.startswith("aired") else ""
        rows.append(
            f'<tr class="airing" data-status="{e(row.status)}"><td>{what}</td><td>{e(row.episode or "")}</td>'
            f"<td>{e(clock(row.at))}</td><td class=n>{row.seconds:.2f}</td>"
            f'<td><span class="{status_class}">{e(row.status)}</span>{": " + e(row.why) if row.why else ""}</td>'
            f"<td class=n>{row.filler_seconds:.1f}</td></tr>"
        )
    aired = sum(row.seconds for row in report.airing if row.status.startswith("aired"))
    filler = sum(row.filler_seconds for row in report.airing)
    return (
        '<h2 id="aired">What aired</h2><table><thead><tr><th>segment</th><th>episode</th><th>on air at</th>'
        "<th>seconds</th><th>aired / skipped, and why</th><th>filler seconds</th></tr></thead><tbody>"
        + "".join(rows)
        + f"</tbody><tfoot><tr><th colspan=3>total</th><td class=n>{aired:.2f}</td><td></td>"
        f"<td class=n>{filler:.1f}</td></tr></tfoot></table>"
    )


def _rates(report: Report) -> str:
    head = f'<h2 id="failure-rates">Critic failures per check</h2><p>{report.verdicts} verdict(s) in this range.</p>'
    if not report.rates:
        return head + '<p class="muted">No clip was judged.</p>'
    rows = "".join(
        f'<tr class="rate" data-check="{e(rate.check)}"><td>{e(rate.check)}</td><td class=n>{rate.failed}</td>'
        f"<td class=n>{rate.judged}</td><td class=n>{rate.rate:.0%}</td></tr>"
        for rate in report.rates
    )
    table = (
        "<table><thead><tr><th>check</th><th>failed</th><th>judged</th><th>failure rate</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )
    return head + table + _bar_chart(report)


def _bar_chart(report: Report) -> str:
    """An inline SVG: one bar per check, its length the failure rate."""
    bar_height, label_width, width = 18, 110, 520
    height = bar_height * len(report.rates) + 8
    bars = []
    for row, rate in enumerate(report.rates):
        y = 4 + row * bar_height
        length = max(1.0, rate.rate * (width - label_width - 60)) if rate.failed else 0.0
        bars.append(
            f'<text x="{label_width - 6}" y="{y + 13}" text-anchor="end" font-size="12">{e(rate.check)}</text>'
            f'<rect x="{label_width}" y="{y + 2}" width="{length:.1f}" height="{bar_height - 5}" fill="#b00020"/>'
            f'<text x="{label_width + length + 4:.1f}" y="{y + 13}" font-size="12">{rate.failed}/{rate.judged}</text>'
        )
    return (
        f'<svg role="img" aria-label="failure rate per check" width="{width}" height="{height}">{"".join(bars)}</svg>'
    )


def _steering(report: Report) -> str:
    head = '<h2 id="steering">Steering and its effects</h2>'
    if not report.steering:
        return head + '<p class="muted">No person steered the station in this range.</p>'
    return head + "".join(_command(record) for record in report.steering)


def _command(record: SteeringRecord) -> str:
    command = record.command
    args = ", ".join(f"{key}: {value}" for key, value in command.args.items())
    answer = record.answer
    if answer is None:
        verdict = f'<span class="muted">{e(command.status)}: no answer yet</span>'
    else:
        word, css = ("applied", "pass") if answer.type == "CommandApplied" else ("rejected", "fail")
        said = getattr(answer, "effect", "") or getattr(answer, "reason", "")
        verdict = f'<span class="{css}">{word}</span> at {e(clock(answer.at))}: {e(said)}'
    effects = "".join(
        f"<li>{e(clock(event.at))} {e(event.type)}: {e(event.summary())}</li>" for event in record.effects
    )
    if record.followed_in is not None:
        plan = record.followed_in
        effects += (
            f"<li>{e(clock(plan.at))} EpisodePlanned: episode {e(plan.episode)} {e(repr(plan.title))} follows the"
            f" note (topic {e(repr(plan.topic))})</li>"
        )
    return (
        f'<div class="command" data-command="{command.id}"><h3>command {command.id}: {e(command.kind)}</h3>'
        f"<p>asked {e(clock(command.ts))}: <q>{e(args)}</q></p><p>{verdict}</p>"
        + (f"<ul>{effects}</ul>" if effects else "")
        + "</div>"
    )


def _episode(episode: EpisodeRecord) -> str:
    plan = episode.planned
    parts = [f'<section class="episode" id="episode-{episode.number}">']
    if plan is not None:
        parts.append(f"<h2>Episode {episode.number}: {e(plan.title)}</h2>")
        steering = ", ".join(plan.steering) or "none"
        novelty = plan.novelty + (f" of episode {plan.nearest_episode}" if plan.novelty != "new" else "")
        parts.append(
            f"<p><b>showrunner</b> <span class=muted>[{e(plan.backend)}]</span>: topic {e(repr(plan.topic))};"
            f" {e(plan.logline)} {len(plan.segments)} segments, {plan.planned_seconds:g} s planned; following notes:"
            f" {e(steering)}; {e(novelty)}.</p>"
        )
        segment_plans = plan.plan.get("segments", []) if isinstance(plan.plan, dict) else []
        if segment_plans:
            items = "".join(
                f"<li>{e(item.get('title', ''))} ({e(item.get('format', ''))}): {e(item.get('summary', ''))}</li>"
                for item in segment_plans
                if isinstance(item, dict)
            )
            parts.append(f"<ol>{items}</ol>")
    else:
        parts.append(f"<h2>Episode {episode.number}</h2><p class=muted>Planned before this range.</p>")
    parts += [_segment(segment) for segment in episode.segments]
    parts += [f"<p><b>{e(event.type)}</b>: {e(event.summary())}</p>" for event in episode.outcome]
    parts.append("</section>")
    return "".join(parts)


def _segment(segment: SegmentRecord) -> str:
    entry = segment.entry
    status = f"{entry.status}{': ' + entry.note if entry.note else ''}" if entry is not None else "not in the rundown"
    parts = [
        f'<section class="segment" data-segment="{e(segment.segment_id)}" id="{e(segment.segment_id)}">'
        f"<h3>{e(segment.title)} <span class=muted>{e(segment.segment_id)} · {e(status)}</span></h3>"
    ]
    written = segment.written
    if written is not None:
        beats = "".join(f"<li>{e(beat)}</li>" for beat in written.beats)
        before = f"<p>previously: {e('; '.join(written.previously))}</p>" if written.previously else ""
        parts.append(
            f"<p><b>screenwriter</b> <span class=muted>[{e(written.backend)}]</span>: mood {e(repr(written.mood))},"
            f" {written.seconds:g} s</p><ol>{beats}</ol>{before}"
        )
    parts += [_shot(shot) for shot in segment.shots]
    parts += [f"<p><b>{e(event.type)}</b>: {e(event.summary())}</p>" for event in segment.outcome]
    parts.append("</section>")
    return "".join(parts)


def _shot(shot: ShotRecord) -> str:
    design = shot.designed
    parts = [
        f'<div class="shot" data-shot="{e(design.shot_id)}"><h4>shot {e(design.shot_id)}</h4>'
        f"<p><b>cinematographer</b>: {design.seconds:g} s, seed {design.seed}, characters"
        f" {e(', '.join(design.characters) or 'none')}, place {e(design.place or '?')}</p>"
        f'<p class="prompt">prompt: {e(design.prompt)}</p><p class="prompt muted">negative: {e(design.negative_prompt)}</p>'
        f"<p>motion: {e(shot.motion or 'not recorded')}</p>"
    ]
    parts += [_clip(clip) for clip in shot.clips]
    if shot.dropped is not None:
        parts.append(f'<p class="fail">dropped: {e(shot.dropped.reason)}</p>')
    parts.append("</div>")
    return "".join(parts)


def _clip(clip: ClipRecord) -> str:
    verdict = clip.verdict
    failed = verdict is not None and not verdict.passed
    parts = [f'<div class="clip{" failed" if failed else ""}" data-attempt="{clip.attempt}">']
    if clip.repaired is not None:
        repaired = clip.repaired
        parts.append(
            f"<p><b>re-render</b> (attempt {clip.attempt}, {e(repaired.action)}): {e(repaired.note)}; seed"
            f' {repaired.seed}</p><p class="prompt">new prompt: {e(repaired.prompt)}</p>'
        )
    if clip.reprompted is not None:
        parts.append(f'<p><b>re-prompted by a person</b>: <span class="prompt">{e(clip.reprompted.prompt)}</span></p>')
    rendered = clip.rendered
    if rendered is not None:
        stages = " → ".join(f"{stage}:{info.get('backend', '?')}" for stage, info in rendered.stages.items()
                            if isinstance(info, dict))  # fmt: skip
        reused = " (a saved render, reused)" if rendered.reused else ""
        parts.append(f"<p>render attempt {clip.attempt}: {rendered.seconds:g} s, seed {rendered.seed}, {e(stages)}{reused}"
                     f' <span class="muted">{e(rendered.path)}</span></p>')  # fmt: skip
    if verdict is not None:
        parts.append(_verdict(verdict))
    if clip.sheet_jpeg is not None:
        parts.append(f'<img class="sheet" alt="contact sheet of {e(clip.shot_id)} attempt {clip.attempt}" '
                     f'src="{data_uri(clip.sheet_jpeg)}">')  # fmt: skip
    parts.append(f'<p class="muted sheet-note">{e(clip.sheet_note)}</p></div>')
    return "".join(parts)


def _verdict(verdict: ev.VerdictGiven) -> str:
    word = '<span class="pass">PASSED</span>' if verdict.passed else '<span class="fail">FAILED</span>'
    repair = f"; repair asked: <b>{e(verdict.repair)}</b>: {e(verdict.repair_note)}" if verdict.repair else ""
    rows = []
    for check in verdict.verdict.get("checks", []):
        if not isinstance(check, dict):
            continue
        passed = bool(check.get("passed"))
        evidence = json.dumps(check.get("evidence", {}), default=str)
        if len(evidence) > EVIDENCE_CHARS:
            evidence = evidence[:EVIDENCE_CHARS] + f" … ({len(evidence)} characters in all: `studio log -v`)"
        rows.append(
            f'<tr class="check" data-check="{e(check.get("check", ""))}" data-passed="{str(passed).lower()}">'
            f'<td>{e(check.get("check", ""))}</td><td class="{"pass" if passed else "fail"}">'
            f"{'pass' if passed else 'FAIL'}</td><td class=n>{float(check.get('score', 0.0)):.2f}</td>"
            f"<td>{e(check.get('detail', ''))}<details><summary>evidence</summary><pre>{e(evidence)}</pre>"
            "</details></td></tr>"
        )
    return (
        f'<p class="verdict"><b>critic</b> <span class=muted>[{e(verdict.backend)}]</span>: {word}, score'
        f" {verdict.score:.2f}{repair}</p><details{'' if verdict.passed else ' open'}><summary>{len(rows)} checks,"
        f" {len(rows) - len(verdict.failures)} passed</summary><table><thead><tr><th>check</th><th></th><th>score</th>"
        f"<th>measured</th></tr></thead><tbody>{''.join(rows)}</tbody></table></details>"
    )
