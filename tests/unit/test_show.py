from __future__ import annotations

from pathlib import Path

import pytest

from studio.errors import ShowFileError
from studio.show import load_show, parse_show
from tests.conftest import SHOWS, TEST_SHOWS


@pytest.mark.parametrize("path", sorted(SHOWS.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_shows_are_valid(path: Path) -> None:
    show = load_show(path)
    assert show.characters and show.places and show.formats
    assert all(c.palette[0].startswith("#") for c in show.characters)


def test_at_least_three_shows_of_different_kinds() -> None:
    titles = {load_show(p).title for p in SHOWS.glob("*.yaml")}
    assert {"Kitchen Quest", "Wild Margins", "Llama Ops"} <= titles


@pytest.mark.parametrize(
    ("name", "line", "field", "words"),
    [
        ("bad_unknown_key.yaml", 10, "characters.0.colour_scheme", "unknown key"),
        ("bad_missing_field.yaml", 6, "characters.0.look", "required field is missing"),
        ("bad_colour.yaml", 13, "places.0.palette.1", "unknown colour 'blurple'"),
        ("bad_yaml.yaml", 6, None, "not valid YAML"),
        ("bad_reference.yaml", 18, "formats.0.characters", "unknown character 'Bob'"),
        ("bad_placeholder.yaml", 17, "formats.0.beats", "unknown placeholder(s) ['kitchen']"),
        ("bad_brand_word.yaml", 4, "visual_style", "contains 'canon eos'"),
        ("bad_duplicate_key.yaml", 20, "tone", "duplicate key"),
    ],
)
def test_bad_show_files_name_file_line_and_field(name: str, line: int, field: str | None, words: str) -> None:
    path = TEST_SHOWS / name
    with pytest.raises(ShowFileError) as caught:
        load_show(path)
    problem = caught.value.problems[0]
    assert problem.startswith(f"{path}:{line}: "), problem
    if field is not None:
        assert f": {field}: " in problem
    assert words in problem


def test_every_problem_is_reported_at_once() -> None:
    text = (SHOWS / "cooking.yaml").read_text()
    text = text.replace("  seed: 7", "  seed: 7\n  sead: 3").replace("tone: warm", "tone_: warm")
    with pytest.raises(ShowFileError) as caught:
        parse_show(text, "cooking.yaml")
    fields = [problem.split(": ")[1] for problem in caught.value.problems]
    assert fields == ["tone", "tone_", "channel.sead"]


def test_missing_and_non_mapping_files(tmp_path: Path) -> None:
    with pytest.raises(ShowFileError, match="no such show file"):
        load_show(tmp_path / "nope.yaml")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(ShowFileError, match="list.yaml:1: a show file is a mapping"):
        load_show(tmp_path / "list.yaml")


def test_full_description_carries_look_and_wardrobe() -> None:
    show = load_show(SHOWS / "cooking.yaml")
    marisol = show.character("chef marisol")
    description = marisol.full_description()
    assert marisol.look in description and marisol.wardrobe in description
