"""Critic benchmark: precision, recall and false-positive rate per check on a generated labelled set, and the
critic's time per 3-second clip.

    python benchmarks/critic.py [--scenes 60] [--text 60] [--seed 1000] [--continuity 60]

The set comes from `tests/unit/critic_fixtures.py`: for each random scene (camera pan/tilt/zoom/dolly/truck or
locked off; a subject that falls and bounces, is kicked and rolls, walks, floats or approaches; sizes 320x192 to
576x320 at 8, 12 or 24 fps) a clean clip and one copy per fault: time-reversed, rendered with a wrong direction,
a prompt word overlaid in a Hershey font 16–34 px high, moving vertical lines or waves, flicker, and the prompt
naming a different colour for the subject. Targets from issue 4: reversal/direction recall ≥ 0.95 at FPR ≤ 0.05;
text recall ≥ 0.90 (text ≥ 16 px) at FPR ≤ 0.05.

The continuity section renders its own set with the procedural renderer: for each random scene (one to three
characters, sometimes a prop, one of seven places, any camera move, walking, falling, rising, approaching or
receding figures, 320x192 to 1024x576) the clip in the canonical palettes and one with a character's hues turned,
the character drawn in another's colours, its main colour changed, or the place's hues turned.

False-positive rate is measured on clean clips. "Cross-talk" is the rate at which a check fails clips that carry
a different fault (a clip with waves over it may also read as the wrong direction); it is reported separately.
A reversed clip whose motion carries no arrow of time (a pan, a steady walk) is pixel-for-pixel a wrong-way
render: either motion label counts as caught for it, and the exact-label rate is printed beside.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CHECKS = ("reversed", "direction", "text", "colour", "artifact", "flicker", "dynamic", "frozen", "black", "duration")


def _timing(runs: int) -> dict[str, float]:
    """Seconds per 3-second clip for the default checks, with and without OCR, at Zeroscope's sizes."""
    import numpy as np

    from studio.critic.analysis import ClipAnalysis
    from studio.critic.judge import judge
    from studio.plan import CameraMove, MotionSpec, SubjectMotion
    from studio.tools.checks import default_checks
    from tests.unit.critic_fixtures import SceneSpec, make_shot, render_scene

    results: dict[str, float] = {}
    for width, height, fps in ((576, 320, 8.0), (576, 320, 24.0), (1024, 576, 24.0)):
        spent = {"with OCR": 0.0, "without OCR": 0.0}
        for run in range(runs):
            spec = SceneSpec(seed=500 + run, camera=CameraMove(kind="pan", direction="right", speed="medium"),
                             subject="fall", subject_direction="down", width=width, height=height, fps=fps)  # fmt: skip
            frames = render_scene(spec)
            motion = MotionSpec(
                camera=spec.camera, subjects=[SubjectMotion(subject="orange pumpkin", action="falls", direction="down")]
            )
            shot = make_shot(f"An orange pumpkin; {motion.describe()}", motion)
            for label, text in (("with OCR", True), ("without OCR", False)):
                # A fresh copy so the flow cache does not carry over between the two timings.
                copy = np.ascontiguousarray(frames.copy())
                copy[0, 0, 0, 0] ^= 1 + run + text
                started = time.perf_counter()
                judge(ClipAnalysis(copy, fps), shot, default_checks(text=text))
                spent[label] += time.perf_counter() - started
        for label, seconds in spent.items():
            results[f"{width}x{height} @ {fps:g} fps, {label}"] = seconds / runs
    return results


def _continuity(scenes: int, seed: int, chunk: int = 10) -> None:
    """Recall and false-positive rate of the continuity check on clips the procedural renderer draws with the
    canonical palettes and with one drifted (`tests.unit.critic_fixtures.continuity_set`), and its seconds per clip."""
    from studio.critic.analysis import ClipAnalysis
    from studio.tools.checks.continuity import ContinuityCheck
    from tests.unit.critic_fixtures import CONTINUITY_SIZES, continuity_set

    check = ContinuityCheck()
    tally: dict[str, int] = defaultdict(int)
    kinds: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    misses: list[str] = []
    spent, measured, started = 0.0, 0, time.perf_counter()
    for first in range(0, scenes, chunk):
        # In chunks: a clip decoded at 576x320 is 13 MB.
        for clip in continuity_set(min(chunk, scenes - first), start_seed=seed + first,
                                   sizes=(*CONTINUITY_SIZES, (1024, 576))):  # fmt: skip
            began = time.perf_counter()
            result = check.run(ClipAnalysis(clip.frames, clip.fps), clip.shot)
            spent += time.perf_counter() - began
            measured += 1
            if "continuity" in clip.labels:
                tally["tp" if not result.passed else "fn"] += 1
                kinds[str(clip.meta["kind"])][0] += not result.passed
                kinds[str(clip.meta["kind"])][1] += 1
                if result.passed:
                    misses.append(f"{clip.name}: {clip.meta['drifted']} drifted, {result.detail[:90]}")
            elif clip.accept:
                tally["weak failed" if not result.passed else "weak passed"] += 1
            else:
                tally["fp" if not result.passed else "tn"] += 1
                if not result.passed:
                    misses.append(f"{clip.name}: false continuity, {result.detail[:90]}")
    positives, negatives = tally["tp"] + tally["fn"], tally["fp"] + tally["tn"]
    weak = tally["weak failed"] + tally["weak passed"]
    print()
    print(f"continuity on {scenes} procedural scenes ({measured} clips: each scene's correct clip and one drifted, "
          f"ProceduralVideoGenerator -> H.264 -> 576x320; made in {time.perf_counter() - started:.0f} s)")  # fmt: skip
    print(f"{'check':<10} {'pos':>4} {'recall':>7} {'precision':>9} {'clean':>5} {'FPR':>6} {'weak failed':>11}")
    recall = f"{tally['tp'] / positives:.3f}" if positives else "-"
    flagged = tally["tp"] + tally["fp"]
    precision = f"{tally['tp'] / flagged:.3f}" if flagged else "-"
    fpr = f"{tally['fp'] / negatives:.3f}" if negatives else "-"
    weak_rate = f"{tally['weak failed']}/{weak}" if weak else "-"
    print(f"{'continuity':<10} {positives:>4} {recall:>7} {precision:>9} {negatives:>5} {fpr:>6} {weak_rate:>11}")
    print(
        "recall by drift: " + ", ".join(f"{kind} {caught}/{total}" for kind, (caught, total) in sorted(kinds.items()))
    )
    print("'weak': drifts that leave every canonical colour drawn somewhere in the picture, or as a shade of the set")
    print("(the figure now wears the scene's other colours, or had only achromatic ones): either verdict is accepted.")
    print(f"continuity seconds per 3-second clip at 576x320 @ 8 fps: {spent / max(measured, 1):.3f} s")
    for line in misses[:30]:
        print("  " + line)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenes", type=int, default=60, help="clean scenes (each gives 6-7 labelled clips)")
    parser.add_argument("--text", type=int, default=60, help="how many of them also get a leaked-word copy")
    parser.add_argument("--seed", type=int, default=1000)
    parser.add_argument("--timing-runs", type=int, default=3)
    parser.add_argument("--continuity", type=int, default=60, help="procedural scenes for the continuity check")
    args = parser.parse_args()

    from studio.critic.analysis import ClipAnalysis
    from studio.tools.checks import default_checks
    from studio.tools.checks.text import ocr_available
    from tests.unit.critic_fixtures import labelled_set

    print(f"critic benchmark on {os.cpu_count()} CPU cores; OCR: {ocr_available()[1]}")
    started = time.perf_counter()
    clips = labelled_set(args.scenes, start_seed=args.seed, text_count=args.text, variety=True)
    print(f"generated {len(clips)} labelled clips in {time.perf_counter() - started:.0f} s")
    checks = default_checks()
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    exact_motion = defaultdict(int)
    text_words = {"named": 0, "total": 0}
    check_seconds: dict[str, float] = defaultdict(float)
    misses: list[str] = []
    for clip in clips:
        failed: set[str] = set()
        for check in checks:
            # OCR runs on clean and text clips only; the other faults do not draw text.
            if check.name == "text" and clip.labels and "text" not in clip.labels:
                continue
            began = time.perf_counter()
            result = check.run(ClipAnalysis(clip.frames, clip.fps), clip.shot)
            check_seconds[check.name] += time.perf_counter() - began
            if not result.passed:
                failed.add(result.check)
                if result.check == "text" and clip.leaked:
                    text_words["named"] += clip.leaked[0] in result.evidence.get("leaked", [])
        if "text" in clip.labels:
            text_words["total"] += 1
        for name in CHECKS:
            if name in clip.labels:
                caught = name in failed or bool(clip.accept & failed)
                counts[name]["tp" if caught else "fn"] += 1
                if not caught:
                    misses.append(f"{clip.name}: {name} missed")
                if name in ("reversed", "direction"):
                    exact_motion[f"{name} exact"] += name in failed and not (
                        failed & ({"reversed", "direction"} - {name})
                    )
                    exact_motion[f"{name} total"] += 1
            elif not clip.labels:
                counts[name]["fp" if name in failed else "tn"] += 1
                if name in failed:
                    misses.append(f"{clip.name}: false {name}")
            elif name not in clip.accept:
                counts[name]["xfp" if name in failed else "xtn"] += 1
    print()
    print(f"{'check':<10} {'pos':>4} {'recall':>7} {'precision':>9} {'clean':>5} {'FPR':>6} {'cross-talk':>10}")
    for name in CHECKS:
        tally = counts[name]
        positives = tally["tp"] + tally["fn"]
        negatives = tally["fp"] + tally["tn"]
        others = tally["xfp"] + tally["xtn"]
        recall = f"{tally['tp'] / positives:.3f}" if positives else "-"
        flagged = tally["tp"] + tally["fp"]
        precision = f"{tally['tp'] / flagged:.3f}" if flagged and positives else "-"
        fpr = f"{tally['fp'] / negatives:.3f}" if negatives else "-"
        cross = f"{tally['xfp'] / others:.3f}" if others else "-"
        print(f"{name:<10} {positives:>4} {recall:>7} {precision:>9} {negatives:>5} {fpr:>6} {cross:>10}")
    print()
    for name in ("reversed", "direction"):
        total = exact_motion[f"{name} total"]
        if total:
            print(f"{name}: labelled exactly '{name}' in {exact_motion[f'{name} exact'] / total:.3f} of {total} clips")
    if text_words["total"]:
        print(f"text: the leaked prompt word was named in {text_words['named'] / text_words['total']:.3f} of "
              f"{text_words['total']} text clips")  # fmt: skip
    print()
    per_clip = {name: seconds / len(clips) for name, seconds in check_seconds.items()}
    print("mean seconds per labelled clip and check: " + ", ".join(f"{k} {v:.3f}" for k, v in per_clip.items()))
    if args.continuity:
        _continuity(args.continuity, args.seed)
    print()
    print("critic seconds per 3-second clip (default checks, one process, 2 cores):")
    for label, seconds in _timing(args.timing_runs).items():
        print(f"  {label:<36} {seconds:6.2f} s")
    if misses:
        print()
        print(f"{len(misses)} misses and false alarms:")
        for line in misses[:60]:
            print("  " + line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
