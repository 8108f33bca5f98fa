"""Hostile show files: whatever the file, loading it ends within 2 s with clear `file:line: message` problems."""

from __future__ import annotations

import codecs
import gzip
import os
import random
import resource
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

import studio.yamlfile
from studio.errors import ShowFileError
from studio.show import Show, load_show, parse_show
from studio.yamlfile import MAX_SHOW_BYTES
from tests.conftest import REPO, SHOWS

pytestmark = pytest.mark.timeout(60)  # a loader that blocks (a FIFO, a device) fails instead of hanging the run

BUDGET_S = 2.0
"""CPU seconds a hostile file may cost (an exponential alias or nesting blow-up takes minutes). CPU time, not wall
time: it is the work the loader did, the same on a machine busy with other work."""
GOOD = (SHOWS / "cooking.yaml").read_text(encoding="utf-8")
MINIMAL = """\
title: T
premise: p
tone: dry
visual_style: flat colours
characters: [{name: Bo, species: robot, look: a small orange robot, palette: [orange]}]
places: [{name: Lab, description: a white lab, palette: [white]}]
formats: [{name: only, description: d, beats: ["{host} waves"]}]
music: {mood: calm}
"""
ANY_LINE = -1


def billion_laughs() -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Hostile:
    name: str
    content: bytes
    line: int | None  # None: the problem names the file only; ANY_LINE: some line
    words: tuple[str, ...]


HOSTILE = [
    Hostile("deep_flow_lists.yaml", b"[" * 100_000, 1, ("nesting is deeper than 40 levels",)),
    Hostile("deep_flow_maps.yaml", b"{a: " * 60_000, 1, ("nesting is deeper than 40 levels",)),
    Hostile(
        "deep_block_maps.yaml",
        "".join(" " * depth + "a:\n" for depth in range(100)).encode(),
        41,
        ("nesting is deeper than 40 levels", "a show file needs about 5"),
    ),
    Hostile("laughs.yaml", billion_laughs().encode(), 5, ("more than 10,000 values", "aliases are expanded")),
    Hostile(
        "long_text_bomb.yaml",
        (f"x: &x {'y' * 100_000}\ntopics: [" + ",".join(["*x"] * 20) + "]\n").encode(),
        2,
        ("more than 1,048,576 characters", "aliases are expanded"),
    ),
    Hostile("self_alias.yaml", b"title: &t [1, *t]\n", 1, ("alias *t is inside the value &t", "never ends")),
    Hostile("undefined_alias.yaml", b"title: t\npremise: *nope\n", 2, ("alias *nope has no anchor &nope",)),
    Hostile("twice_anchor.yaml", b"a: &x 1\nb: &x 2\n", 2, ("anchor &x is defined twice (first at line 1)",)),
    Hostile("nul.yaml", b"title: x\npremise: \x00\n", 2, ("not a text file (found a NUL byte at line 2)",)),
    Hostile("random.bin", random.Random(7).randbytes(4096), ANY_LINE, ("not a text file",)),
    Hostile(
        "picture.png",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x02\x00\x00\x00",
        1,
        ("not a text file (it starts like a PNG image)",),
    ),
    Hostile("show.yaml.gz", gzip.compress(GOOD.encode()), 1, ("not a text file (it starts like a gzip archive)",)),
    Hostile(
        "utf16_no_bom.yaml",
        GOOD.encode("utf-16-le"),
        1,
        ("not a text file (found a NUL byte at line 1)", "UTF-16", "save it as UTF-8"),
    ),
    Hostile("latin1.yaml", "title: café\n".encode("latin-1"), 1, ("not UTF-8 text (byte 0xe9 at line 1, column 11)",)),
    Hostile(
        "latin1_line2.yaml",
        b"title: T\npremise: \xc3\xbc caf\xe9\n",
        2,
        ("not UTF-8 text (byte 0xe9 at line 2, column 15); save it as UTF-8",),
    ),
    Hostile("bad_utf16.yaml", codecs.BOM_UTF16_LE + b"t\x00i\x00\x00\xdc", 1, ("not valid UTF-16 text",)),
    Hostile("control.yaml", b"title: T\npremise: a\x01b\n", 2, ("control character U+0001 at line 2, column 11",)),
    Hostile("empty.yaml", b"", 1, ("a show file is a mapping", "this file is empty")),
    Hostile("comments.yaml", b"# only\n# comments\n", 1, ("a show file is a mapping", "holds only comments")),
    Hostile("blank.yaml", b"\n\n   \n", 1, ("a show file is a mapping", "this file is empty")),
    Hostile("list.yaml", b"- a\n- b\n", 1, ("a show file is a mapping", "holds a list")),
    Hostile("scalar.yaml", b"just some words\n", 1, ("a show file is a mapping", "the single value 'just some words'")),
    Hostile(
        "two_documents.yaml",
        (MINIMAL + "---\ntitle: again\n").encode(),
        9,
        ("a second YAML document starts here", "remove this `---`"),
    ),
    Hostile("int_key.yaml", (MINIMAL + "1: x\n").encode(), 9, ("(top level): key '1' is read as a number",)),
    Hostile("list_key.yaml", (MINIMAL + "[a, b]: c\n").encode(), 9, ("(top level): a list is used as a key",)),
    Hostile("map_key.yaml", (MINIMAL + "? {a: 1}\n: d\n").encode(), 9, ("(top level): a mapping is used as a key",)),
    Hostile(
        "bool_key.yaml",
        MINIMAL.replace("music: {mood: calm}", "music: {mood: calm, yes: 1}").encode(),
        8,
        ("music: key 'yes' is read as true/false", "keys here are mood, tempo_bpm, key"),
    ),
    Hostile(
        "python_tag.yaml",
        MINIMAL.replace("title: T", "title: !!python/object/apply:os.system [echo hi]").encode(),
        1,
        ("title: tag !!python/object/apply:os.system is not used in show files; remove it",),
    ),
    Hostile(
        "bad_int.yaml",
        (MINIMAL + "channel: {seed: !!int twelve}\n").encode(),
        9,
        ("channel.seed: cannot read 'twelve' as a number",),
    ),
    Hostile(
        "bad_date.yaml",
        (MINIMAL + "topics: [2024-02-30]\n").encode(),
        9,
        ("topics.0: cannot read '2024-02-30' as a date (day is out of range for month); quote it",),
    ),
    Hostile(
        "huge_int.yaml",
        (MINIMAL + "channel: {seed: " + "9" * 10_000 + "}\n").encode(),
        9,
        ("channel.seed: cannot read '9999", "as a number"),
    ),
]


def timed_load(path: Path) -> tuple[list[str], float]:
    started = time.process_time()
    with pytest.raises(ShowFileError) as caught:
        load_show(path)
    return caught.value.problems, time.process_time() - started


def assert_located(problems: list[str], path: Path, line: int | None, words: tuple[str, ...]) -> None:
    if line is None:
        prefix = f"{path}: "
    elif line == ANY_LINE:
        prefix = f"{path}:"
    else:
        prefix = f"{path}:{line}: "
    matching = [problem for problem in problems if problem.startswith(prefix) and all(w in problem for w in words)]
    assert matching, f"no problem starts with {prefix!r} and says {words}: {problems}"
    assert all(problem.startswith(f"{path}:") for problem in problems), problems
    assert all("\n" not in problem and len(problem) <= 700 for problem in problems), problems


@pytest.fixture(params=["C", "pure-Python"])
def yaml_loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Runs a test with libyaml's loader and with PyYAML's own, the fallback where libyaml is missing."""
    if request.param == "C":
        if not hasattr(yaml, "CSafeLoader"):
            pytest.skip("PyYAML is built without libyaml here")
        monkeypatch.setattr(studio.yamlfile, "Loader", yaml.CSafeLoader)
    else:
        monkeypatch.setattr(studio.yamlfile, "Loader", yaml.SafeLoader)
    return str(request.param)


@pytest.mark.parametrize("case", HOSTILE, ids=lambda case: case.name)
def test_hostile_file_gets_a_fast_located_error(case: Hostile, tmp_path: Path, yaml_loader: str) -> None:
    path = tmp_path / case.name
    path.write_bytes(case.content)
    problems, seconds = timed_load(path)
    assert_located(problems, path, case.line, case.words)
    assert seconds < BUDGET_S, f"{case.name} took {seconds:.2f} s with the {yaml_loader} loader"


def test_a_huge_file_is_refused_by_its_size_without_reading_it(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as sparse:
        sparse.truncate(5_452_595)
    problems, seconds = timed_load(path)
    assert problems == [
        f"{path}: 5.2 MiB is larger than the 256 KiB a show file may be"
        " (a real one is a few KB; check that this is the show file you meant)"
    ]
    assert seconds < BUDGET_S


def test_a_file_that_lies_about_its_size_is_read_only_up_to_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "growing.yaml"
    path.write_bytes(b"# pad\n" * MAX_SHOW_BYTES)
    real_stat, real_read = os.stat, os.read
    read: list[int] = []

    def zero_size_stat(target: object, *args: object, **kwargs: object) -> os.stat_result:
        info = real_stat(target, *args, **kwargs)  # type: ignore[arg-type]
        return os.stat_result((info.st_mode, info.st_ino, info.st_dev, info.st_nlink, info.st_uid, info.st_gid, 0,
                               int(info.st_atime), int(info.st_mtime), int(info.st_ctime)))  # fmt: skip

    def counting_read(descriptor: int, size: int) -> bytes:
        chunk = real_read(descriptor, size)
        read.append(len(chunk))
        return chunk

    monkeypatch.setattr(os, "stat", zero_size_stat)
    monkeypatch.setattr(os, "read", counting_read)
    problems, _ = timed_load(path)
    assert problems == [
        f"{path}: it is larger than the 256 KiB a show file may be"
        " (a real one is a few KB; check that this is the show file you meant)"
    ]
    assert sum(read) == MAX_SHOW_BYTES + 1


def test_a_file_just_under_the_limit_loads(tmp_path: Path) -> None:
    path = tmp_path / "padded.yaml"
    padding = MAX_SHOW_BYTES - len(GOOD.encode())
    path.write_bytes(GOOD.encode() + b"#" * (padding - 1) + b"\n")
    assert path.stat().st_size == MAX_SHOW_BYTES
    assert load_show(path).title == "Kitchen Quest"


@pytest.mark.parametrize(
    "encoding", ["utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"]
)
def test_text_with_a_byte_order_mark_loads(encoding: str, tmp_path: Path) -> None:
    mark = {
        "utf-16-le": codecs.BOM_UTF16_LE,
        "utf-16-be": codecs.BOM_UTF16_BE,
        "utf-32-le": codecs.BOM_UTF32_LE,
        "utf-32-be": codecs.BOM_UTF32_BE,
    }.get(encoding, b"")
    path = tmp_path / "cooking.yaml"
    path.write_bytes(mark + GOOD.replace("Kitchen Quest", "Kitchen Quest ☕").encode(encoding))
    show = load_show(path)
    assert show.title == "Kitchen Quest ☕"
    assert show == load_show(SHOWS / "cooking.yaml").model_copy(update={"title": "Kitchen Quest ☕"})


def test_aliases_used_as_meant_keep_working(tmp_path: Path) -> None:
    text = GOOD.replace("palette: [white, red, navy]", "palette: &warm [white, red, navy]")
    text = text.replace("palette: [cream, green, white]", "palette: *warm")
    text = text.replace("  - name: Pepito\n", "  - &pepito\n    name: Pepito\n")
    text = text.replace("    characters: [Chef Marisol, Pepito]\n", "    characters: &pair [Chef Marisol, Pepito]\n", 1)
    text = text.replace("    characters: [Chef Marisol, Pepito]\n", "    characters: *pair\n")
    path = tmp_path / "aliased.yaml"
    path.write_text(text, encoding="utf-8")
    show = load_show(path)
    assert show.characters[1].palette == show.characters[0].palette == ["#f5f5f0", "#c82828", "#19235a"]
    assert show.formats[2].characters == ["Chef Marisol", "Pepito"]


def test_merge_keys_keep_working() -> None:
    text = MINIMAL.replace(
        "characters: [{name: Bo, species: robot, look: a small orange robot, palette: [orange]}]",
        "characters:\n  - &bo {name: Bo, species: robot, look: a small orange robot, palette: [orange]}\n"
        "  - {<<: *bo, name: Bip}",
    )
    show = parse_show(text, "merged.yaml")
    assert [c.name for c in show.characters] == ["Bo", "Bip"]
    assert show.characters[1].look == "a small orange robot"


@pytest.mark.parametrize("kind", ["directory", "fifo", "/dev/zero", "/dev/stdin", "/dev/null"])
def test_what_is_not_a_regular_file_is_refused_before_it_is_opened(kind: str, tmp_path: Path) -> None:
    if kind == "directory":
        path = tmp_path / "shows.yaml"
        path.mkdir()
    elif kind == "fifo":
        if not hasattr(os, "mkfifo"):
            pytest.skip("no named pipes here")
        path = tmp_path / "pipe.yaml"
        os.mkfifo(path)  # nobody writes to it: opening it for reading would block forever
    else:
        path = Path(kind)
        if not path.exists() or stat.S_ISREG(os.stat(path).st_mode):
            pytest.skip(f"{kind} is missing or a regular file here")
    problems, seconds = timed_load(path)
    assert len(problems) == 1 and problems[0].startswith(f"{path}: is "), problems
    assert "not a regular file" in problems[0]
    if kind == "fifo":
        assert "named pipe" in problems[0]
    if kind == "directory":
        assert "a directory" in problems[0]
    assert seconds < BUDGET_S


def test_an_unreadable_file_says_permission_denied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "locked.yaml"
    path.write_text(GOOD, encoding="utf-8")
    path.chmod(0)
    if os.name != "posix" or os.geteuid() == 0:  # root reads anything: make the open fail as it would for a user
        real_open = os.open

        def refusing_open(target: object, flags: int, *args: object) -> int:
            if Path(str(target)) == path:
                raise PermissionError(13, "Permission denied", str(target))
            return real_open(target, flags, *args)  # type: ignore[arg-type]

        monkeypatch.setattr(os, "open", refusing_open)
    try:
        problems, _ = timed_load(path)
    finally:
        path.chmod(0o644)
    assert problems == [f"{path}: permission denied: cannot read the file (make it readable: chmod a+r)"]


def test_a_missing_file_and_a_file_below_a_file(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("x")
    for path in (tmp_path / "nope.yaml", tmp_path / "plain" / "show.yaml"):
        problems, _ = timed_load(path)
        assert problems == [f"{path}: no such show file (try one of the files in shows/)"]


def test_very_long_lines_give_short_problem_lines(tmp_path: Path, yaml_loader: str) -> None:
    path = tmp_path / "long.yaml"
    long_colour = "blurple" * 30_000
    path.write_text(MINIMAL.replace("palette: [orange]", f"palette: [{long_colour}]") + "k" * 1_000 + ": 1\n")
    problems, seconds = timed_load(path)
    assert_located(problems, path, 5, ("characters.0.palette.0: unknown colour 'blurpleblurple", "characters left out"))
    assert len(problems) == 2 and all(len(problem) <= 700 for problem in problems), problems
    assert seconds < BUDGET_S


def test_many_problems_are_capped_with_a_count(tmp_path: Path, yaml_loader: str) -> None:
    path = tmp_path / "unknown_keys.yaml"
    path.write_text(MINIMAL + "".join(f"colour_scheme_{i}: red\n" for i in range(3_000)), encoding="utf-8")
    problems, seconds = timed_load(path)
    assert len(problems) == 51
    assert problems[0].startswith(f"{path}:9: colour_scheme_0: unknown key (check the spelling; allowed here: title")
    assert problems[-1] == f"{path}: … and 2950 more problems (fix these first)"
    assert seconds < BUDGET_S


def test_every_kind_of_key_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "keys.yaml"
    path.write_text(MINIMAL + "1: x\n[a, b]: c\n? {a: 1}\n: d\ntitle: again\nsead: 3\n", encoding="utf-8")
    problems, _ = timed_load(path)
    assert [problem.split(": ", 2)[0:2] for problem in problems] == [
        [f"{path}:9", "(top level)"],
        [f"{path}:10", "(top level)"],
        [f"{path}:11", "(top level)"],
        [f"{path}:13", "title"],
        [f"{path}:14", "sead"],
    ]


def test_the_document_is_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[str] = []
    loader = studio.yamlfile.Loader

    class CountingLoader(loader):  # type: ignore[misc, valid-type]
        def __init__(self, stream: str) -> None:
            made.append(stream)
            super().__init__(stream)

    monkeypatch.setattr(studio.yamlfile, "Loader", CountingLoader)
    for name in ("compose", "safe_load", "load", "compose_all"):
        monkeypatch.setattr(yaml, name, lambda *args, **kwargs: pytest.fail("parsed a second time"))
    assert isinstance(parse_show(GOOD, "cooking.yaml"), Show)
    assert made == [GOOD]


def _hostile_files(folder: Path) -> list[Path]:
    files = {
        "deep.yaml": b"[" * 100_000,
        "laughs.yaml": billion_laughs().encode(),
        "keys.yaml": (MINIMAL + "1: x\n[a, b]: c\nsead: 3\n").encode(),
        "picture.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(17),
    }
    for name, content in files.items():
        (folder / name).write_bytes(content)
    return [folder / name for name in files]


def _studio(*args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    """The command's result and the CPU seconds it used (start-up included), however busy the machine is."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run(
        [sys.executable, "-m", "studio.cli", *args], capture_output=True, text=True, timeout=60, cwd=REPO
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return result, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def test_validate_reports_hostile_files_one_line_per_problem(tmp_path: Path) -> None:
    paths = _hostile_files(tmp_path)
    expected: list[str] = []
    for path in paths:
        with pytest.raises(ShowFileError) as caught:
            load_show(path)
        expected += caught.value.problems
    result, seconds = _studio("validate", *map(str, paths))
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == expected
    assert len(expected) == 3 + 3  # one each, and three for keys.yaml
    # The requirement is 2 s on a person's machine; a busy CI runner spends most of that starting Python.
    assert seconds < 10, f"studio validate took {seconds:.1f} CPU s"


def test_run_refuses_a_fifo_at_once(tmp_path: Path) -> None:
    if not hasattr(os, "mkfifo"):
        pytest.skip("no named pipes here")
    pipe = tmp_path / "pipe.yaml"
    os.mkfifo(pipe)
    result, seconds = _studio("run", str(pipe), "--headless", "--data-dir", str(tmp_path / "data"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        f"studio: error: {pipe}: is a named pipe (FIFO), not a regular file;"
        " give the path of a show file such as shows/cooking.yaml"
    )
    assert seconds < 10


def test_many_avoid_words_and_characters_are_checked_quickly(tmp_path: Path, yaml_loader: str) -> None:
    """Every description is checked against every banned word in one pass, however many words there are."""
    path = tmp_path / "big_but_fine.yaml"
    characters = "".join(
        f"  - {{name: c{i}, species: x, look: a small round robot number {i}, palette: [red]}}\n" for i in range(300)
    )
    text = MINIMAL.replace(
        "characters: [{name: Bo, species: robot, look: a small orange robot, palette: [orange]}]",
        "characters:\n" + characters,
    )
    path.write_text(text + "avoid_words: [" + ", ".join(f"w{i}" for i in range(2_000)) + ", robot]\n")
    started = time.process_time()
    with pytest.raises(ShowFileError) as caught:
        load_show(path)
    elapsed = time.process_time() - started
    assert len(caught.value.problems) == 51  # 300 looks contain "robot": the first 50 lines, then the count
    assert "characters.0.look: contains 'robot', a camera, brand or avoided word" in caught.value.problems[0]
    assert elapsed < BUDGET_S, f"{elapsed:.2f} CPU s"
