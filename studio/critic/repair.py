"""The repair for a failed verdict and the lessons a show keeps from it.

The cheapest change that addresses every failure: a clean time reversal is played backwards; anything else is
rendered again with leaked words out of the prompt, fault words in the negative prompt, the motion restated and
an ignored colour or drifted look emphasised.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from studio.plan import Repair

if TYPE_CHECKING:
    from collections.abc import Sequence

    from studio.plan import CheckResult, Shot, Verdict

TEXT_NEGATIVES = ["text", "letters", "words", "watermark", "caption", "subtitles", "logo", "signage"]
NEGATIVES: dict[str, list[str]] = {
    "reversed": ["reversed motion", "playing backwards"],
    "direction": ["wrong direction", "reversed motion"],
    "artifact": ["vertical lines", "stripes", "waves", "scanlines", "glitch", "distortion"],
    "flicker": ["flicker", "strobing", "flashing lights"],
    "frozen": ["still image", "frozen frame", "static"],
    "dynamic": ["still image", "static", "motionless"],
    "black": ["black screen", "fade to black", "darkness"],
}


def _vision_kinds(result: CheckResult) -> set[str]:
    problems = result.evidence.get("problems", [])
    return {str(problem.get("kind", "other")) for problem in problems if isinstance(problem, dict)}


def plan_repair(results: Sequence[CheckResult], shot: Shot) -> Repair:
    """The cheapest repair that addresses every failure in `results`.

    A clean time reversal (the only fault, and not already a reversed render) is fixed by playing the clip
    backwards. Anything else renders again with a new seed: leaked words out of the prompt and text words into
    the negative prompt, the motion restated, an ignored colour or a drifted canonical look ("Pepito in red and
    cream") emphasised, artifact words as negatives."""
    failures = [result for result in results if not result.passed]
    kinds = {result.check for result in failures if result.check != "vision"}
    for result in failures:
        if result.check == "vision":
            kinds |= {kind for kind in _vision_kinds(result) if kind != "other"} or {"vision"}
    if kinds == {"reversed"} and not shot.reverse_only:
        return Repair(
            action="reverse",
            new_seed=False,
            note="clean time reversal: every intended motion runs backwards; play the clip backwards",
        )
    remove_words: list[str] = []
    add_negative: list[str] = []
    emphasise: list[str] = []
    reasons: list[str] = []
    for result in failures:
        if result.check == "text":
            leaked = [str(word) for word in result.evidence.get("leaked", [])]
            remove_words += leaked
            reasons.append(f"text in the picture (leaked: {', '.join(leaked)})" if leaked else "text in the picture")
        elif result.check == "colour":
            claims = result.evidence.get("claims", [])
            emphasise += [f"{claim['colour']} {_noun(str(claim['subject']), str(claim['colour']))}"
                          for claim in claims if isinstance(claim, dict)]  # fmt: skip
            seen = [f"{claim['seen']} {_noun(str(claim['subject']), str(claim['colour']))}"
                    for claim in claims if isinstance(claim, dict) and claim.get("seen") not in (None, "nothing")]  # fmt: skip
            add_negative += seen
            reasons.append(f"colour ignored ({result.detail})")
        elif result.check == "continuity":
            emphasise += [str(look) for look in result.evidence.get("emphasise", [])]
            reasons.append(f"canonical colours drifted ({result.detail})")
        elif result.check == "vision":
            remove_words += [str(word) for word in result.evidence.get("leaked", [])]
            reasons.append(f"vision critic: {result.detail}")
        else:
            reasons.append(f"{result.check}: {result.detail.split(':')[0]}")
    if "text" in kinds:
        add_negative += TEXT_NEGATIVES
    for kind in sorted(kinds):
        add_negative += NEGATIVES.get(kind, [])
    restate = bool(kinds & {"reversed", "direction", "frozen", "dynamic"})
    changes = [
        f"remove {', '.join(dict.fromkeys(remove_words))}" if remove_words else "",
        "restate the motion" if restate else "",
        f"emphasise {', '.join(emphasise)}" if emphasise else "",
        "new seed",
    ]
    return Repair(
        action="rerender",
        remove_words=list(dict.fromkeys(remove_words)),
        add_negative=list(dict.fromkeys(add_negative)),
        restate_motion=restate,
        emphasise=list(dict.fromkeys(emphasise)),
        new_seed=True,
        note="; ".join(reasons) + " → " + ", ".join(change for change in changes if change),
    )


def _noun(subject: str, colour: str) -> str:
    words = [word for word in subject.split() if word.lower() != colour]
    return " ".join(words) or subject


def lessons_from(verdict: Verdict) -> list[str]:
    """Prompt words that leaked into the picture as text, lowercased, for the show's memory."""
    words: list[str] = []
    for result in verdict.checks:
        if result.check in ("text", "vision") and not result.passed:
            words += [str(word).lower() for word in result.evidence.get("leaked", [])]
    return list(dict.fromkeys(words))
