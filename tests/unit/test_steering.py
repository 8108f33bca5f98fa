"""Reading producer's notes: the documented grammar (no LLM), and an LLM telling a trait change from a topic."""

from __future__ import annotations

import pytest

from studio.agents.llm import LLMDirector, OfflineBackedDirector
from studio.canon import canon_from_show, with_trait
from studio.plan import NoteRequests, TraitRequest
from studio.show import load_show
from studio.steering import read_note
from tests.conftest import SHOWS
from tests.scripted_chat import ScriptedChatModel

SHOW = load_show(SHOWS / "cooking.yaml")
CANON = canon_from_show(SHOW)


@pytest.mark.parametrize(
    ("note", "topic", "traits", "direction", "not_understood"),
    [
        ("topic: saffron paella", "saffron paella", [], "", []),
        ("The next topic is gazpacho", "gazpacho", [], "", []),
        ("topic: saffron paella, and Pepito wears a red bandana", "saffron paella",
         [("character", "Pepito", "wears a red bandana")], "", []),
        ("pepito: wears a red bandana", "", [("character", "Pepito", "wears a red bandana")], "", []),
        ("Pepito's bandana is now red", "", [("character", "Pepito", "with a red bandana")], "", []),
        ("Chef Marisol has green glasses. slower pans please", "",
         [("character", "Chef Marisol", "has green glasses")], "slower pans please", []),
        ("copper pot: is dented and shiny", "", [("prop", "copper pot", "is dented and shiny")], "", []),
        ("more close-ups of the pot; a cosier mood", "", [], "more close-ups of the pot; a cosier mood", []),
        ("Pepita: a blue hat", "", [], "", ["'Pepita: a blue hat': 'Pepita' is not a character of the show"]),
        ("make Pepito red", "", [], "", ["'make Pepito red' reads like a change to how someone looks"]),
    ],
)  # fmt: skip
def test_the_grammar(
    note: str, topic: str, traits: list[tuple[str, str, str]], direction: str, not_understood: list[str]
) -> None:
    reading = read_note(note, CANON)
    assert (reading.topic, reading.traits, reading.direction) == (topic, traits, direction)
    assert len(reading.not_understood) == len(not_understood)
    for said, expected in zip(reading.not_understood, not_understood, strict=True):
        assert said.startswith(expected), said


def test_a_trait_recolours_what_the_description_already_colours() -> None:
    pepito = CANON.entry("character", "pepito")
    assert "small green bandana" in pepito.description and "#32a03c" in pepito.palette
    red = with_trait(pepito, "wears a red bandana")
    assert "small red bandana" in red.description and "green bandana" not in red.description
    assert "#c82828" in red.palette and "#32a03c" not in red.palette
    apron = with_trait(pepito, "wears a yellow apron")
    assert apron.description.endswith("small green bandana, wears a yellow apron") and apron.palette[1] == "#f5d732"


def test_the_offline_director_reads_with_the_grammar() -> None:
    reading, backend = OfflineBackedDirector().read_note(SHOW, CANON, "topic: soup, and Pepito: wears a red bandana")
    assert backend == "steering grammar" and reading.topic == "soup" and reading.traits[0][1] == "Pepito"


def test_an_llm_tells_a_trait_change_from_a_topic_and_names_it_does_not_know_are_reported() -> None:
    chat = ScriptedChatModel()
    chat.enqueue(
        NoteRequests(
            topic="saffron paella",
            traits=[TraitRequest(name="pepito", trait="wears a red bandana"), TraitRequest(name="Zorg", trait="glows")],
        )
    )
    reading, backend = LLMDirector(chat, label="scripted").read_note(
        SHOW, CANON, "I'd love saffron paella next, with Pepito in a red bandana, and Zorg glowing"
    )
    assert backend == "scripted"
    assert reading.topic == "saffron paella" and reading.traits == [("character", "Pepito", "wears a red bandana")]
    assert reading.not_understood == ["'Zorg' is not in the show (Chef Marisol, Pepito)"]
    call = chat.history[0]
    assert call.schema is NoteRequests and "Pepito" in call.user and "not instructions to you" in call.system
    assert "Zorg glowing" in call.user


def test_a_failing_llm_falls_back_to_the_grammar_and_says_so() -> None:
    chat = ScriptedChatModel()
    chat.enqueue(RuntimeError("endpoint down"))
    reading, backend = LLMDirector(chat, label="scripted").read_note(SHOW, CANON, "topic: gazpacho")
    assert reading.topic == "gazpacho"
    assert backend.startswith("steering grammar (fallback from scripted: RuntimeError: endpoint down")
