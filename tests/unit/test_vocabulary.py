"""The one vocabulary: the painted-word matcher, strip_words, and the motion language both the offline director
and the critic read."""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys

import pytest

from studio.agents.offline import _subject_motions
from studio.plan import Beat
from studio.show import load_show
from studio.vocabulary import (
    CAMERA_AND_BRAND_WORDS,
    banned_words,
    find_word,
    motion_from_prompt,
    read_direction,
    read_motion,
    read_speed,
    strip_words,
    subject_phrase,
    word_pattern,
)
from tests.conftest import SHOWS

# --- painted words --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "words", "found"),
    [
        ("shot on Canon EOS in a field", CAMERA_AND_BRAND_WORDS, "Canon EOS"),  # longest first
        ("a DJI Phantom 4 Pro over the sea", CAMERA_AND_BRAND_WORDS, "DJI Phantom 4 Pro"),
        ("a canon firing", CAMERA_AND_BRAND_WORDS, "canon"),
        ("IMAX", CAMERA_AND_BRAND_WORDS, "IMAX"),  # any case
        ("iMaX, ultra sharp", CAMERA_AND_BRAND_WORDS, "iMaX"),
        ("imaxed sunsets", CAMERA_AND_BRAND_WORDS, None),  # whole words only
        ("a 4k-ready screen", CAMERA_AND_BRAND_WORDS, None),  # not inside a hyphenated word
        ("sub-imax", CAMERA_AND_BRAND_WORDS, None),
        ("4K sunrise", CAMERA_AND_BRAND_WORDS, "4K"),
        ("trending on ArtStation today", CAMERA_AND_BRAND_WORDS, "trending on ArtStation"),
        ("written in c++ today", ["c++"], "c++"),  # regex characters are words like any other
        ("a llama", ["", "llama"], "llama"),  # empty words are ignored
        ("anything at all", [], None),  # no words: nothing matches
        ("anything at all", [""], None),
    ],
)
def test_the_painted_word_matcher(text: str, words: list[str], found: str | None) -> None:
    assert find_word(text, words) == found


def test_the_matcher_is_compiled_once_per_word_list() -> None:
    assert word_pattern(["canon", "canon eos"]) is word_pattern(("canon eos", "canon", "canon"))


@pytest.mark.parametrize(
    ("text", "words", "stripped"),
    [
        ("a llama, IMAX, under a llamas' roof", ["imax", "llama"], "a, under a llamas' roof"),
        ("4K sunrise", ["4k"], "sunrise"),
        ("Lorenzo types, shot on Canon EOS, IMAX, 8K", CAMERA_AND_BRAND_WORDS, "Lorenzo types, shot on"),
        ("IMAX; 8K: a sunrise", CAMERA_AND_BRAND_WORDS, "a sunrise"),
        ("a sunrise , IMAX .", CAMERA_AND_BRAND_WORDS, "a sunrise,."),
        ("a   wide   shot", [], "a wide shot"),
        ("the 4k-ready screen shows 4K", ["4k"], "the 4k-ready screen shows"),
        ("a Canon EOS camera", ["canon", "canon eos"], "a camera"),
    ],
)
def test_strip_words_is_whole_word_and_tidy(text: str, words: list[str], stripped: str) -> None:
    assert strip_words(text, words) == stripped


def _strip_one_word_at_a_time(text: str, words: list[str] | tuple[str, ...]) -> str:
    """How the cinematographer stripped words before the matcher was shared: one pass per word, longest first."""
    for word in sorted(set(words), key=len, reverse=True):
        text = re.sub(rf"(?i)(?<![\w-]){re.escape(word)}(?![\w-])", "", text)
    text = re.sub(r"\s+([,.;:])", r"\1", text)
    text = re.sub(r"([,;:])(\s*[,;:])+", r"\1", text)
    return re.sub(r"\s{2,}", " ", text).strip(" ,;")


@pytest.mark.parametrize("name", ["cooking", "nature", "llama_sitcom"])
def test_one_pass_strips_what_one_pass_per_word_stripped(name: str) -> None:
    show = load_show(SHOWS / f"{name}.yaml")
    words = banned_words(show.avoid_words, ["llama", "monitor"])
    texts = [show.visual_style, *(c.look for c in show.characters), *(p.description for p in show.places)]
    texts += [f"{text}, shot on Canon EOS, IMAX 8K; trending on artstation" for text in texts]
    for text in texts:
        assert strip_words(text, words) == _strip_one_word_at_a_time(text, words), text


def test_banned_words_are_camera_brand_show_and_lesson_words() -> None:
    words = banned_words(["Monitor", "LOGO"], ["pixel"])
    assert words[: len(CAMERA_AND_BRAND_WORDS)] == list(CAMERA_AND_BRAND_WORDS)
    assert words[len(CAMERA_AND_BRAND_WORDS) :] == ["monitor", "logo", "pixel"]


# --- directions and speeds ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "direction"),
    [
        ("from left to right", "right"),
        ("from the right side to the left", "left"),
        ("from left to left", "left"),
        ("to the left", "left"),
        ("rightward", "right"),
        ("toward the camera", "toward_camera"),
        ("towards us", "toward_camera"),
        ("up to the camera", "toward_camera"),  # walks up to the camera: it comes closer, it does not rise
        ("away from the camera", "away_from_camera"),
        ("away", "away_from_camera"),  # walks away
        ("away from the dog", None),
        ("in from the left", "right"),  # coming from the left goes right
        ("from the right side of the frame", "left"),
        ("along the left-handed kite", None),  # not a side inside a hyphenated word
        ("upward", "up"),
        ("overhead", "up"),
        ("down onto the mat", "down"),
        ("across the keyboard", None),
        ("", None),
    ],
)
def test_read_direction(text: str, direction: str | None) -> None:
    assert read_direction(text) == direction


@pytest.mark.parametrize(
    ("text", "speed"),
    [
        ("slowly", "slow"),
        ("at a fast steady speed", "fast"),
        ("at a medium steady speed", "medium"),
        ("steadily", "medium"),
        ("whip", "fast"),
        ("across the room", None),
    ],
)
def test_read_speed(text: str, speed: str | None) -> None:
    assert read_speed(text) == speed


@pytest.mark.parametrize(
    ("words", "phrase"),
    [
        ("a green pumpkin ", "green pumpkin"),
        ("pepito sniffs the steam ", "steam"),
        ("wide shot at eye level of pepito ", "pepito"),
        ("then chef marisol slowly ", "chef marisol"),
        ("the ball that ", "ball"),
        ("pepito is ", "pepito"),
    ],
)
def test_subject_phrase(words: str, phrase: str) -> None:
    assert subject_phrase(words) == phrase


# --- the motion language, as the critic reads it --------------------------------------------------------------------

Reading = tuple[tuple[str, str], list[tuple[str, str, str]]]


@pytest.mark.parametrize(
    ("text", "reading"),
    [
        ("a ball is kicked and rolls right", (("static", "none"), [("ball", "rolls", "right")])),
        ("the red ball is kicked and rolls to the right", (("static", "none"), [("red ball", "rolls", "right")])),
        ("a red ball appears and it rolls left", (("static", "none"), [("it", "rolls", "left")])),
        (
            "a pumpkin tumbles down the hill and rolls to the right",
            (("static", "none"), [("pumpkin", "tumbles", "down"), ("pumpkin", "rolls", "right")]),
        ),
        ("the camera trucks right as Pepito walks left", (("truck", "right"), [("pepito", "walks", "left")])),
        ("Pepito walks up to the camera", (("static", "none"), [("pepito", "walks", "toward_camera")])),
        ("Pepito walks away", (("static", "none"), [("pepito", "walks", "away_from_camera")])),
        ("Pepito enters from the left", (("static", "none"), [("pepito", "enters", "right")])),
        ("Pepito climbs the ladder", (("static", "none"), [("pepito", "climbs", "up")])),
        ("Pepito climbs down the ladder", (("static", "none"), [("pepito", "climbs", "down")])),
        ("Rusty steps out from cover", (("static", "none"), [("rusty", "steps out", "toward_camera")])),
        ("Pepito peeks in from the side", (("static", "none"), [("pepito", "peeks in", "toward_camera")])),
        ("Rusty pounces downward into the grass", (("static", "none"), [("rusty", "pounces", "down")])),
        ("Pepito sniffs the steam rising from the pot", (("static", "none"), [("steam", "rising", "up")])),
        ("autumn leaves fall slowly", (("static", "none"), [("autumn leaves", "fall", "down")])),
        ("Bramble snuffles through the leaves nearby", (("static", "none"), [])),  # leaves: a noun, not a verb
        ("Pepito jumps", (("static", "none"), [])),  # a jump says no direction by itself
        ("Pepito walks toward the table", (("static", "none"), [])),  # nor does walking toward a table
        ("Chef Marisol lifts the bread that falls down", (("static", "none"), [("chef marisol", "lifts", "up")])),
        # a person's prompt describes in apposition: the subject is the name the phrases open with
        (
            "Flat colours. Bo, a small round orange robot with one big eye, rolls from right to left. Setting: a lab",
            (("static", "none"), [("bo", "rolls", "left")]),
        ),
        ("A ball is kicked, rolls right", (("static", "none"), [("ball", "rolls", "right")])),
        (
            "wide shot at eye level of Pepito peeks in. the camera holds still on a locked-off tripod; "
            "Pepito peeks in toward the camera at a slow pace, moving forward in time naturally",
            (("static", "none"), [("pepito", "peeks in", "toward_camera")]),  # said twice, one motion
        ),
    ],
)
def test_motion_from_prompt(text: str, reading: Reading) -> None:
    motion = motion_from_prompt(text)
    camera, subjects = reading
    assert (motion.camera.kind, motion.camera.direction) == camera
    assert [(s.subject, s.action, s.direction) for s in motion.subjects] == subjects


def test_a_stated_speed_wins_over_a_default_one() -> None:
    said_twice = motion_from_prompt("of Pepito peeks in. Pepito peeks in toward the camera at a slow pace")
    assert [s.speed for s in said_twice.subjects] == ["slow"]
    assert [s.speed for s in motion_from_prompt("Pepito slowly walks left").subjects] == ["slow"]
    assert [s.speed for s in motion_from_prompt("Pepito runs quickly to the left").subjects] == ["fast"]
    assert [s.speed for s in motion_from_prompt("a slow train rolls left").subjects] == ["medium"]


# --- the motion language, as the offline director reads it ----------------------------------------------------------


def _offline(text: str, characters: list[str], props: list[str] = (), seed: int = 0) -> list[tuple[str, str, str]]:
    beat = Beat(description=text, characters=characters, place="Studio Kitchen", props=list(props), seconds=2)
    return [(m.subject, m.action, m.direction) for m in _subject_motions(beat, random.Random(seed))]


SIDEWAYS = "left or right"


@pytest.mark.parametrize(
    ("text", "characters", "props", "expected"),
    [
        ("Pepito falls down onto the floor", ["Pepito"], [], ("Pepito", "falls", "down")),
        ("Chef Marisol waves hello as Pepito peeks in", ["Chef Marisol", "Pepito"], [],
         ("Pepito", "peeks in", "toward_camera")),
        ("Pepito lifts the soup onto the counter", ["Pepito"], [], ("Pepito", "lifts", "up")),
        ("Rusty pounces downward into the grass", ["Rusty"], [], ("Rusty", "pounces", "down")),
        ("Rusty steps out from cover at Meadow Edge", ["Rusty"], [], ("Rusty", "steps out", "toward_camera")),
        ("Lorenzo types fast while Pixel walks across the keyboard", ["Lorenzo", "Pixel"], [],
         ("Pixel", "walks", SIDEWAYS)),
        ("Pepito walks away", ["Pepito"], [], ("Pepito", "walks", "away_from_camera")),
        ("Pepito walks up to the camera", ["Pepito"], [], ("Pepito", "walks", "toward_camera")),
        ("the red ball rolls left", [], ["red ball"], ("red ball", "rolls", "left")),
        ("the camera trucks right as Pepito walks left", ["Pepito"], [], ("Pepito", "walks", "left")),
        ("a ball is kicked and rolls right", [], ["red ball"], ("red ball", "rolls", "right")),
        ("the pot slides to the right", ["Pepito"], ["copper pot"], ("copper pot", "slides", "right")),
        ("Pepito walks to the stove and drops the egg", ["Pepito"], [], ("Pepito", "drops", "down")),
        ("Pepito jumps onto the table", ["Pepito"], [], ("Pepito", "jumps", SIDEWAYS)),
        ("Pepito walks toward the table", ["Pepito"], [], ("Pepito", "walks", SIDEWAYS)),
        ("walks slowly to the left", ["Pepito"], [], ("Pepito", "walks", "left")),  # no subject: the one on screen
        # Nothing on screen moves: the leaves are a noun, the steam and the pumpkin are not the show's.
        ("Bramble snuffles through the leaves nearby", ["Bramble"], [], None),
        ("Pepito sniffs the steam rising from the copper pot", ["Pepito"], ["copper pot"], None),
        ("A green pumpkin falls", ["Pepito"], [], None),
        ("mist drifts across Meadow Edge as the light comes up", ["Rusty"], [], None),
        ("the camera rises up", ["Pepito"], [], None),
    ],
)  # fmt: skip
def test_the_offline_director_reads_a_beats_motion(
    text: str, characters: list[str], props: list[str], expected: tuple[str, str, str] | None
) -> None:
    for seed in range(4):
        motions = _offline(text, characters, props, seed)
        if expected is None:
            assert motions == []
            continue
        [(subject, action, direction)] = motions
        assert (subject, action) == expected[:2]
        assert direction in ("left", "right") if expected[2] == SIDEWAYS else direction == expected[2]


def test_the_offline_director_keeps_a_stated_speed() -> None:
    beat = Beat(description="Pepito runs quickly to the left", characters=["Pepito"], place="x", seconds=2)
    assert {_subject_motions(beat, random.Random(seed))[0].speed for seed in range(8)} == {"fast"}


@pytest.mark.parametrize(
    "text",
    [
        "Pepito falls",
        "Pepito rises slowly",
        "Pepito walks from left to right across the kitchen",
        "Pepito rolls to the left",
        "Pepito walks away from the camera",
        "Pepito approaches",
        "Pepito walks up to the camera",
        "Pepito enters from the right",
        "Pepito is kicked and rolls right",
        "the camera pans left while Pepito slides to the right",
        "Chef Marisol waves as Pepito peeks in from the side",
        "Pepito runs quickly to the left",
    ],
)
def test_the_director_and_the_critic_read_the_same_motion(text: str) -> None:
    [offline] = _subject_motions(Beat(description=text, characters=["Pepito"], place="x", seconds=2), random.Random(0))
    [critic] = motion_from_prompt(text).subjects
    assert (offline.subject.lower(), offline.action, offline.direction) == (
        critic.subject,
        critic.action,
        critic.direction,
    )
    if read_speed(text.lower()) is not None:
        assert offline.speed == critic.speed


def test_read_motion_gives_the_camera_and_every_clause_with_a_motion_verb() -> None:
    camera, moving = read_motion("Slow pan left across the market while a red ball rolls to the right; a dog runs")
    assert camera is not None and (camera.kind, camera.direction, camera.speed) == ("pan", "left", "slow")
    assert [(m.subject, m.verb, m.direction) for m in moving] == [("red ball", "rolls", "right"), ("dog", "runs", None)]


# --- a leaf module --------------------------------------------------------------------------------------------------


def _studio_modules_after(code: str) -> list[str]:
    script = (
        f"import json, sys\n{code}\nprint(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'studio')))"
    )
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def test_the_show_schema_never_imports_the_agents() -> None:
    # Validating a show checks its descriptions for painted words: that takes the vocabulary, not the agents.
    loaded = _studio_modules_after(f"from studio.show import load_show\nload_show({str(SHOWS / 'cooking.yaml')!r})")
    assert "studio.vocabulary" in loaded
    assert [name for name in loaded if name == "studio.agents" or name.startswith("studio.agents.")] == []


def test_the_vocabulary_is_a_leaf() -> None:
    assert set(_studio_modules_after("import studio.vocabulary")) <= {
        "studio", "studio.vocabulary", "studio.plan", "studio.model_docs", "studio.colours"
    }  # fmt: skip
