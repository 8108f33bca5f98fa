"""The studio's words: what video models paint into the picture, what every negative prompt carries, and the
motion language (directions, speeds, camera moves and moving subjects read from plain English).

One vocabulary for every reader: the show schema refuses painted words in descriptions, the cinematographer strips
them from free text, the offline director reads a beat's motion from its words and the critic reads the intended
motion back from a person's prompt, all through the functions here. The words the cinematographer *writes* are
`CameraMove.describe` and `SubjectMotion.describe` in `studio.plan`; `motion_from_prompt` reads every one of them
back.

A leaf module: it imports nothing from `studio` but `studio.plan`'s models (which import nothing from `studio`).
Colour names live in `studio.colours`, the one table the schema, renderer and critic share.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from studio.plan import CameraMove, MotionSpec, SubjectMotion

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from studio.plan import Direction, Speed

# --- words video models paint in ------------------------------------------------------------------------------------

# Words text-to-video models render as text or as objects ("IMAX" as letters, "Canon EOS" as a camera in shot).
CAMERA_AND_BRAND_WORDS: tuple[str, ...] = (
    "imax", "canon eos", "canon", "nikon", "sony a7", "arri alexa", "red epic", "dji phantom 4 pro", "dji phantom",
    "dji", "gopro", "drone footage", "drone shot", "go pro", "4k", "8k", "16k", "uhd", "hdr",
    "trending on artstation", "artstation", "unreal engine", "octane render", "35mm film", "film grain",
)  # fmt: skip

# Always in the negative prompt: what the critic fails most often.
BASE_NEGATIVE: tuple[str, ...] = (
    "text", "letters", "words", "captions", "subtitles", "watermark", "logo", "signature", "blurry", "low quality",
    "deformed", "distorted", "flickering", "vertical lines", "frame border", "camera equipment",
)  # fmt: skip


def banned_words(avoid_words: Iterable[str] = (), lessons: Iterable[str] = ()) -> list[str]:
    """The words no prompt may carry: camera and brand words, a show's `avoid_words` and the lessons it learned."""
    return [*CAMERA_AND_BRAND_WORDS, *(word.lower() for word in avoid_words), *lessons]


@lru_cache(maxsize=256)
def _compiled(words: tuple[str, ...]) -> re.Pattern[str]:
    if not words:
        return re.compile(r"(?!)")
    return re.compile(rf"(?i)(?<![\w-])(?:{'|'.join(map(re.escape, words))})(?![\w-])")


def word_pattern(words: Iterable[str]) -> re.Pattern[str]:
    """One compiled matcher for any of `words`: whole words only (never inside a word or a hyphenated word), any
    case, and where two start at the same place the longer one ("canon eos", not "canon"). Empty words are
    ignored; with none left it matches nothing."""
    return _compiled(tuple(sorted({word for word in words if word}, key=lambda word: (-len(word), word))))


def find_word(text: str, words: Iterable[str]) -> str | None:
    """The first of `words` in `text`, as written there, or None."""
    found = word_pattern(words).search(text)
    return found.group(0) if found is not None else None


def strip_words(text: str, words: Iterable[str]) -> str:
    """Remove whole-word, case-insensitive occurrences of `words` (longest first) and tidy the punctuation."""
    text = word_pattern(words).sub("", text)
    text = re.sub(r"\s+([,.;:])", r"\1", text)
    text = re.sub(r"([,;:])(\s*[,;:])+", r"\1", text)
    return re.sub(r"\s{2,}", " ", text).strip(" ,;")


# --- speeds and directions ------------------------------------------------------------------------------------------

SPEED_WORDS: tuple[tuple[re.Pattern[str], Speed], ...] = (
    (re.compile(r"\b(slow|slowly|gentle|gently|leisurely|lazily)\b"), "slow"),
    (re.compile(r"\b(fast|quick|quickly|rapid|rapidly|swift|swiftly|whip|speeding|racing)\b"), "fast"),
    (re.compile(r"\b(medium|moderate|steady|steadily)\b"), "medium"),
)
# Speed adverbs that may stand before their verb ("slowly walks"); adjectives there describe the subject instead.
_SPEED_ADVERBS = re.compile(r"\b(slowly|gently|leisurely|lazily|quickly|rapidly|swiftly|steadily)\b")


def read_speed(text: str) -> Speed | None:
    """The speed `text` states (lowercase words), or None."""
    for pattern, speed in SPEED_WORDS:
        if pattern.search(text):
            return speed
    return None


_LOOKER = r"(?:the\s+)?(?:camera|viewer|lens|us|screen)\b"
_LEFT_RIGHT = re.compile(r"\bfrom (?:the )?(left|right)(?: side)? to (?:the )?(left|right)\b")
_FROM_SIDE = re.compile(r"\bfrom (?:the )?(left|right)\b(?!(?: side)? to\b)")
_TOWARD = re.compile(rf"\b(?:toward|towards|at|into|closer to|up to)\s+{_LOOKER}")
_AWAY = re.compile(rf"\baway from\s+{_LOOKER}|\baway\b(?!\s+from\b)")
# Bare words, never inside a hyphenated word ("left-handed", "up-close").
_LEFT = re.compile(r"(?<![\w-])(?:leftwards?|left)(?![\w-])")
_RIGHT = re.compile(r"(?<![\w-])(?:rightwards?|right)(?![\w-])")
_UP = re.compile(r"(?<![\w-])(?:upwards?|up|skyward|skywards|overhead)(?![\w-])")
_DOWN = re.compile(r"(?<![\w-])(?:downwards?|down)(?![\w-])")


def read_direction(text: str) -> Direction | None:
    """The direction `text` states (lowercase words), or None. A span ("from left to right") and the camera as the
    reference ("toward the camera", "walks away") come before a bare side; coming "from the left" goes right."""
    match = _LEFT_RIGHT.search(text)
    if match and match.group(1) != match.group(2):
        return match.group(2)  # type: ignore[return-value]
    if _AWAY.search(text):
        return "away_from_camera"
    if _TOWARD.search(text):
        return "toward_camera"
    if match := _FROM_SIDE.search(text):
        return "right" if match.group(1) == "left" else "left"
    if _LEFT.search(text):
        return "left"
    if _RIGHT.search(text):
        return "right"
    if _UP.search(text):
        return "up"
    if _DOWN.search(text):
        return "down"
    return None


# --- motion verbs ---------------------------------------------------------------------------------------------------

# Verbs of motion, each with the direction it means by itself (None: the words around it must say). Phrasal verbs
# come first: their particle is part of the motion ("steps out" comes toward the camera). Base forms are left out
# where they are mostly nouns in a scene ("kitchen sink", "ski lift", "oil spill"), and "leaves" is left out
# altogether (autumn leaves, bay leaves); any form right after a determiner is read as a noun ("the drops").
MOTION_VERBS: tuple[tuple[str, Direction | None], ...] = (
    ("step out|steps out|stepping out|peek in|peeks in|peeking in", "toward_camera"),
    ("fall|falls|falling|drop|drops|dropping|tumble|tumbles|tumbling|sinks|sinking|descend|descends|descending|"
     "pour|pours|pouring|spills|spilling|trickle|trickles|trickling|dive|dives|diving|lowers|lowering", "down"),
    ("rise|rises|rising|ascend|ascends|ascending|soar|soars|soaring|climb|climbs|climbing|lifts|lifting", "up"),
    ("approach|approaches|approaching|come|comes|coming", "toward_camera"),
    ("recede|recedes|receding|retreats|retreating|leave|leaving", "away_from_camera"),
    ("walk|walks|walking|run|runs|running|roll|rolls|rolling|slide|slides|sliding|glide|glides|gliding|move|moves|"
     "moving|drives|driving|swim|swims|swimming|crawl|crawls|crawling|march|marches|marching|stroll|strolls|"
     "strolling|travel|travels|travelling|traveling|crosses|crossing|drift|drifts|drifting|hop|hops|hopping|races|"
     "racing|ride|rides|riding|go|goes|going|heads|heading|bounce|bounces|bouncing|float|floats|floating|fly|flies|"
     "flying|jump|jumps|jumping|leap|leaps|leaping|trot|trots|trotting|carry|carries|carrying|spray|sprays|spraying|"
     "pounce|pounces|pouncing|enters|entering|exits|exiting", None),
)  # fmt: skip
_VERB_DIRECTION: dict[str, Direction | None] = {
    form: direction for forms, direction in MOTION_VERBS for form in forms.split("|")
}
_VERB = re.compile(r"\b(?:" + "|".join(forms.replace(" ", r"\s+") for forms, _ in MOTION_VERBS) + r")\b")
_DETERMINERS = "a|an|the|his|her|its|their|our|my|your|some|each|every|one|two|three"
_AFTER_DETERMINER = re.compile(rf"\b(?:{_DETERMINERS})\W*$")
_LAST_DETERMINER = re.compile(rf"^.*\b(?:{_DETERMINERS}|of)\s+")
_LEADING = re.compile(rf"^(?:(?:and|then|while|as|where|this|that|these|those|{_DETERMINERS})\s+)+")
_FILLER = re.compile(r"\b(slowly|quickly|gently|suddenly|then|is|are|was|were|starts to|begins to|keeps)\b")
_RELATIVE = re.compile(r"\s+(?:that|which|who)$")
_AUXILIARY = re.compile(r"\b(?:is|are|was|were|gets|get|got|has|have|had|being|been)\b")
_PRONOUNS = frozenset({"he", "she", "it", "they"})
_NOT_A_SUBJECT = re.compile(r"\b(camera|shot|frame|time)\b")


@dataclass(frozen=True)
class MotionWords:
    """One moving subject as a text's words put it (lowercase)."""

    subject: str
    """Who or what moves, the noun phrase before the verb ("red ball"); carried over from an earlier clause when
    the verb's own clause starts with it ("a ball is kicked and rolls right"); "" when no words say."""
    verb: str
    """The motion verb as written: "falls", "steps out"."""
    direction: Direction | None
    """Stated after the verb in its clause (up to the next motion verb), else the verb's own (falls: down), else
    None."""
    speed: Speed | None
    """Stated after the verb, or by an adverb before it ("slowly walks"); None when not said."""
    before: str
    """The whole text before the verb."""

    def who(self, names: Sequence[str]) -> str | None:
        """Which of `names` (characters and props) moves: the one the subject phrase names (the last, if it names
        several). When the words name no subject, or only a pronoun, the name nearest before the verb, else the
        first one; None when the subject is something else ("the steam rising") or there are no names."""
        if self.subject and self.subject not in _PRONOUNS:
            named = [name for name in names if name.lower() in self.subject]
            if not named:  # "the ball" for the red ball, "the pot" for the copper pot
                head = self.subject.split()[-1]
                named = [name for name in names if name.lower().split()[-1:] == [head]]
            return max(named, key=lambda name: self.subject.rfind(name.lower()), default=None)
        return max(names, key=lambda name: self.before.rfind(name.lower()), default=None)


def motion_verbs(clause: str) -> list[re.Match[str]]:
    """The motion verbs in `clause` (lowercase), in order, skipping nouns that look like verbs ("the drops")."""
    return [match for match in _VERB.finditer(clause) if not _AFTER_DETERMINER.search(clause[: match.start()])]


def subject_phrase(words: str) -> str:
    """The noun phrase that ends `words` (the text before a verb), from its last determiner or "of" on:
    "pepito sniffs the steam" → "steam", "wide shot at eye level of pepito" → "pepito"."""
    phrase = _LEADING.sub("", words.strip(" ,"))
    phrase = _RELATIVE.sub("", " ".join(_FILLER.sub("", phrase).split()))
    cut = _LAST_DETERMINER.sub("", phrase)
    return cut or phrase


def _carried(clause: str) -> str:
    """The subject a clause without a motion verb names before its auxiliary ("a ball is kicked" → "ball")."""
    match = _AUXILIARY.search(clause)
    return subject_phrase(clause[: match.start()]) if match else ""


# --- camera moves ---------------------------------------------------------------------------------------------------

_STILL = re.compile(r"\b(locked[- ]off|static|holds still|stays still|still camera|tripod)\b")
_ZOOM = re.compile(r"\bzoom(?:s|ing|ed)?\s+(in|into|out)\b")
_PUSH_IN = re.compile(
    r"\b(push(?:es|ing)?|dolly|dollies|dollying|moves?|moving|tracks?|creeps?)\s+(?:\w+\s+)?(in|into|closer|forward)\b"
)
_PULL_OUT = re.compile(
    r"\b(pull(?:s|ing)?|dolly|dollies|dollying|moves?|moving|tracks?|backs?)\s+(?:\w+\s+)?(back|out|away)\b"
)
_PAN = re.compile(r"\bpan(?:s|ning|ned)?\b")
_TILT = re.compile(r"\btilt(?:s|ing|ed)?\b")
_TRUCK = re.compile(
    r"\b(trucks?|trucking|tracks?|tracking|glides?|gliding|slides?|sliding|strafes?|dolly|dollies|moves?|moving)\b"
)
_PEDESTAL = re.compile(r"\b(cranes?|craning|booms?|pedestals?|rises|rising|lowers|lowering|descends|ascends|moves?)\b")
_LOWERS = re.compile(r"\b(lowers|lowering|descends)\b")
_CAMERA_FIRST = re.compile(
    r"^(?:(?:a|an|the|slow|slowly|fast|quick|quickly|gentle|gently|steady|smooth|smoothly|then)\s+)*"
    r"(?:pans?|panning|tilts?|tilting|zooms?|zooming|push(?:es)?|pushing|pulls?|pulling|dollies|dolly|trucks?|"
    r"cranes?|booms?)\b"
)
_ABOUT_CAMERA = re.compile(r"\b(camera|shot|lens|we)\b")


def camera_move(clause: str) -> CameraMove | None:
    """The camera move a clause (lowercase) describes, or None: "pans from left to right", "pushes in", "holds
    still on a locked-off tripod". An unstated speed reads as slow."""
    speed = read_speed(clause) or "slow"
    if _STILL.search(clause):
        return CameraMove()
    if match := _ZOOM.search(clause):
        return CameraMove(kind="zoom", direction="out" if match.group(1) == "out" else "in", speed=speed)
    if _PUSH_IN.search(clause):
        return CameraMove(kind="dolly", direction="in", speed=speed)
    if _PULL_OUT.search(clause):
        return CameraMove(kind="dolly", direction="out", speed=speed)
    direction = read_direction(clause)
    if _PAN.search(clause) and direction in ("left", "right"):
        return CameraMove(kind="pan", direction=direction, speed=speed)
    if _TILT.search(clause) and direction in ("up", "down"):
        return CameraMove(kind="tilt", direction=direction, speed=speed)
    if _TRUCK.search(clause) and direction in ("left", "right"):
        return CameraMove(kind="truck", direction=direction, speed=speed)
    if _PEDESTAL.search(clause) and direction in ("up", "down"):
        return CameraMove(kind="pedestal", direction=direction, speed=speed)
    if _LOWERS.search(clause):
        return CameraMove(kind="pedestal", direction="down", speed=speed)
    return None


# --- whole texts ----------------------------------------------------------------------------------------------------

_CLAUSE_BREAK = re.compile(r"[.;:!?]|,|\bwhile\b|\bas\b|\bwhereas\b|\band then\b|\bthen\b|\band\b")


def clauses(text: str) -> list[tuple[int, str]]:
    """The clauses of `text` with where each starts: split at punctuation and at while, as, whereas, then, and."""
    found: list[tuple[int, str]] = []
    start = 0
    for part in [*_CLAUSE_BREAK.finditer(text), None]:
        end = part.start() if part is not None else len(text)
        piece = text[start:end]
        if piece.strip():
            found.append((start + len(piece) - len(piece.lstrip()), piece.strip()))
        if part is not None:
            start = part.end()
    return found


def read_motion(text: str) -> tuple[CameraMove | None, list[MotionWords]]:
    """The camera move and the moving subjects `text` describes, clause by clause, in order of appearance.

    A clause about the camera ("the camera", "we", "shot") or opening with a camera verb ("slow pan left") is read
    as a camera move first; the first camera move that is not static wins. Every other clause gives at most one
    moving subject, from its first motion verb."""
    lowered = text.lower().replace("’", "'")
    camera: CameraMove | None = None
    moving: list[MotionWords] = []
    carried = ""
    head = ""  # the noun a run of comma-separated phrases opened with: "bo, a small robot, rolls left" → "bo"
    for start, clause in clauses(lowered):
        if not lowered[:start].rstrip().endswith(","):
            head = ""
        if _ABOUT_CAMERA.search(clause) or _CAMERA_FIRST.match(clause):
            found = camera_move(clause)
            if found is not None:
                camera = found if camera is None or camera.kind == "static" else camera
                continue
        verbs = motion_verbs(clause)
        if not verbs:
            named = _carried(clause)
            carried = named or carried
            head = head or named or subject_phrase(clause)
            continue
        verb = verbs[0]
        subject = subject_phrase(clause[: verb.start()])
        if not subject and head:
            subject = head
        elif not subject or subject in _PRONOUNS:
            subject = carried or subject
        elif not _NOT_A_SUBJECT.search(subject):
            carried = subject
        # What the verb's words say runs up to the next motion verb ("lifts the bread that falls": lifts goes up).
        rest = clause[verb.end() : verbs[1].start() if len(verbs) > 1 else len(clause)]
        adverbs = " ".join(_SPEED_ADVERBS.findall(clause[: verb.start()]))
        name = " ".join(verb.group(0).split())
        moving.append(
            MotionWords(
                subject=subject,
                verb=name,
                direction=read_direction(rest) or _VERB_DIRECTION[name],
                speed=read_speed(rest) or read_speed(adverbs),
                before=lowered[: start + verb.start()],
            )
        )
    return camera, moving


def motion_from_prompt(text: str) -> MotionSpec:
    """The intended motion in a person's words: "the camera pans from left to right", "tilts down", "pushes in",
    "a pumpkin falls", "a woman walks toward the camera". Unstated camera motion reads as static; a subject whose
    direction the words don't give is left out (there is nothing to check it against)."""
    camera, moving = read_motion(text)
    # The same motion said twice ("… of pepito peeks in. … pepito peeks in toward the camera at a slow pace") is
    # one motion, at the speed the words give.
    said: dict[tuple[str, Direction], MotionWords] = {}
    for words in moving:
        subject = " ".join(words.subject.split()[-4:])
        if words.direction is None or not subject or _NOT_A_SUBJECT.search(subject):
            continue
        first = said.get((subject, words.direction))
        if first is None or (first.speed is None and words.speed is not None):
            said[(subject, words.direction)] = words
    subjects = [
        SubjectMotion(subject=subject, action=words.verb, direction=direction, speed=words.speed or "medium")
        for (subject, direction), words in said.items()
    ]
    return MotionSpec(camera=camera or CameraMove(), subjects=subjects)
