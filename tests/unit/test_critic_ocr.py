"""The critic's OCR (`studio.tools.checks.ocr.OnnxOCR`) reads what RapidOCR reads, box for box and score for score:
it runs RapidOCR's pipeline without RapidOCR's start-up, so the two must not drift apart (a rapidocr upgrade that
changes a step fails here)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.unit.critic_fixtures import labelled_set

rapidocr = pytest.importorskip("rapidocr")
pytest.importorskip("onnxruntime")


def _frames() -> list[tuple[str, np.ndarray]]:
    frames: list[tuple[str, np.ndarray]] = []
    for clip in labelled_set(2, start_seed=70, text_count=2, variety=True):
        if not clip.labels or "text" in clip.labels:
            frames.append((clip.name, clip.frames[len(clip.frames) // 2]))
    # RapidOCR's other paths: a strip low enough to be padded above and below, a picture wide enough to be
    # padded, one over 1024 px (detection scaled down) and one over 2000 px (the whole picture scaled down).
    strip = np.full((28, 300, 3), 230, np.uint8)
    cv2.putText(strip, "PUMPKIN SOUP", (6, 21), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (20, 20, 20), 2, cv2.LINE_AA)
    wide = np.full((120, 1100, 3), 40, np.uint8)
    cv2.putText(wide, "orange pumpkin falls", (20, 80), cv2.FONT_HERSHEY_SIMPLEX, 1.6, (250, 250, 250), 3)
    large = cv2.resize(frames[-1][1], (1280, 720))
    cv2.putText(large, "KITCHEN 4K", (300, 400), cv2.FONT_HERSHEY_DUPLEX, 2.0, (255, 255, 0), 3, cv2.LINE_AA)
    huge = cv2.resize(large, (2400, 1350))
    frames += [("strip", strip), ("wide", wide), ("large", large), ("huge", huge)]
    return frames


@pytest.mark.parametrize("who", ["critic", "gate"])
def test_onnx_ocr_reads_what_rapidocr_reads(who: str) -> None:
    """With the critic's settings, and with the safety gate's lower detection thresholds."""
    from studio.gate import GATE_RAPIDOCR_PARAMS, gate_ocr_engine
    from studio.tools.checks.ocr import OnnxOCR
    from studio.tools.checks.text import OCR_PARAMS

    params = {**OCR_PARAMS, "EngineConfig.onnxruntime.intra_op_num_threads": 1}
    if who == "gate":
        params.update(GATE_RAPIDOCR_PARAMS)
        ours = gate_ocr_engine()
        assert isinstance(ours, OnnxOCR)
    else:
        ours = OnnxOCR()
    reference = rapidocr.RapidOCR(params=params)
    lines = 0
    for name, rgb in _frames():
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        output = reference(bgr)
        expected = (
            []
            if output.txts is None
            else [(np.asarray(box, float).tolist(), text, float(score))
                  for box, text, score in zip(output.boxes, output.txts, output.scores, strict=True)]
        )  # fmt: skip
        got = [(np.asarray(box, float).tolist(), text, float(score)) for box, text, score in ours.read(bgr)]
        assert got == expected, name
        lines += len(expected)
    assert lines >= 6, "the frames hold text to compare"


def test_onnx_ocr_loads_the_recogniser_only_for_a_picture_with_text() -> None:
    from studio.tools.checks.ocr import OnnxOCR

    ocr = OnnxOCR()
    assert ocr.read(np.full((320, 576, 3), 128, np.uint8)) == []
    assert ocr._det is not None and ocr._rec is None
    picture = np.full((320, 576, 3), 200, np.uint8)
    cv2.putText(picture, "PUMPKIN", (100, 180), cv2.FONT_HERSHEY_SIMPLEX, 2.0, (0, 0, 0), 4, cv2.LINE_AA)
    assert [text for _, text, _ in ocr.read(picture)] == ["PUMPKIN"]
    assert ocr._rec is not None


@pytest.fixture
def wheel_with_other_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """The installed rapidocr wheel carries models `OnnxOCR` does not run; no OCR engine is built yet."""
    import studio.gate as gate_module
    import studio.tools.checks.ocr as ocr_module
    import studio.tools.checks.text as text_module

    def other_models() -> None:
        raise FileNotFoundError("rapidocr's wheel has no PP-OCRv6_det_small.onnx")

    monkeypatch.setattr(ocr_module, "model_dir", other_models)
    monkeypatch.setattr(text_module, "_engine", None)
    monkeypatch.setattr(gate_module, "_engine", None)


def _painted(text: str) -> np.ndarray:
    picture = np.full((320, 576, 3), 200, np.uint8)
    cv2.putText(picture, text, (100, 180), cv2.FONT_HERSHEY_SIMPLEX, 2.0, (0, 0, 0), 4, cv2.LINE_AA)
    return picture


@pytest.mark.usefixtures("wheel_with_other_models")
def test_rapidocr_itself_reads_when_the_wheel_carries_other_models() -> None:
    import studio.tools.checks.text as text_module

    assert [found.text for found in text_module.read_text(_painted("PUMPKIN"))] == ["PUMPKIN"]
    assert type(text_module.ocr_engine()).__name__ == "_RapidOCRLines"


@pytest.mark.usefixtures("wheel_with_other_models")
def test_the_gate_reads_with_rapidocr_itself_at_its_thresholds_when_the_wheel_carries_other_models() -> None:
    import studio.gate as gate_module

    seen = gate_module.read_frame(_painted("$4"), 0.0, min_score=0.9, corners=False)
    assert [item.text for item in seen] == ["$4"]
    engine = gate_module.gate_ocr_engine()
    assert type(engine).__name__ == "_RapidOCRLines"
    assert engine._engine.text_det.postprocess_op.thresh == gate_module.GATE_DET_THRESH


def test_the_detector_input_is_rapidocrs_for_every_level() -> None:
    """`_det_tensor` normalises in float32 what RapidOCR normalises with a float64 mean and deviation: the same
    float32 for each of the 256 levels a picture can hold, in the same (1, 3, H, W) layout."""
    from studio.tools.checks.ocr import _det_tensor

    levels = np.arange(256, dtype=np.uint8)
    picture = np.stack([levels, levels[::-1], np.roll(levels, 7)], axis=-1).reshape(8, 32, 3)
    rapidocr_way = (picture.astype("float32") * (1 / 255.0) - np.array([0.5, 0.5, 0.5])) / np.array([0.5, 0.5, 0.5])
    expected = np.expand_dims(rapidocr_way.transpose((2, 0, 1)), axis=0).astype(np.float32)
    got = _det_tensor(picture)
    assert got.dtype == np.float32 and got.shape == (1, 3, 8, 32) and got.flags.c_contiguous
    assert got.tobytes() == expected.tobytes()


def test_the_optimised_graphs_are_kept_in_the_cache_and_read_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The first engine optimises each model and keeps the graph in the studio cache; the next loads it as it is
    and reads the same lines to the bit; a damaged kept graph is optimised and kept again; without a cache, each
    engine optimises its own."""
    from studio.tools.checks.ocr import DET_MODEL, REC_MODEL, OnnxOCR, model_dir, optimised_model

    monkeypatch.setenv("STUDIO_CACHE_DIR", str(tmp_path / "cache"))
    picture = _painted("PUMPKIN")
    kept = {name: optimised_model(model_dir() / name) for name in (DET_MODEL, REC_MODEL)}
    assert all(path is not None and path.parent == tmp_path / "cache" / "ocr" for path in kept.values())
    assert not any(path.exists() for path in kept.values())  # type: ignore[union-attr]

    first = OnnxOCR().read(picture)
    assert [text for _, text, _ in first] == ["PUMPKIN"]
    written = {name: path.stat().st_mtime_ns for name, path in kept.items()}  # type: ignore[union-attr]
    assert sorted(p.name for p in (tmp_path / "cache" / "ocr").iterdir()) == sorted(p.name for p in kept.values())

    def same(lines: list[tuple[np.ndarray, str, float]]) -> bool:
        return [(box.tolist(), text, score) for box, text, score in lines] == [
            (box.tolist(), text, score) for box, text, score in first
        ]

    assert same(OnnxOCR().read(picture))
    assert {name: path.stat().st_mtime_ns for name, path in kept.items()} == written, "loaded, not optimised again"

    kept[DET_MODEL].write_bytes(b"half a graph")  # type: ignore[union-attr]
    assert same(OnnxOCR().read(picture))
    assert kept[DET_MODEL].stat().st_size > 1_000_000  # type: ignore[union-attr]

    # Another onnxruntime release, model file or CPU gets a graph of its own; the old one is cleared away.
    import onnxruntime

    monkeypatch.setattr(onnxruntime, "__version__", "0.0.0-other")
    other = optimised_model(model_dir() / DET_MODEL)
    assert other is not None and other != kept[DET_MODEL]
    assert same(OnnxOCR().read(picture))
    assert other.exists() and not kept[DET_MODEL].exists()  # type: ignore[union-attr]

    # A graph that cannot be written where it would be kept (here a folder stands in the way of the file being
    # written): the engine is built all the same, and nothing half-written is kept.
    monkeypatch.setattr(onnxruntime, "__version__", "0.0.0-blocked")
    blocked = optimised_model(model_dir() / DET_MODEL)
    assert blocked is not None
    blocker = blocked.with_name(f".{blocked.name}.{os.getpid()}.{threading.get_ident()}")
    blocker.mkdir()
    assert same(OnnxOCR().read(picture))
    assert not blocked.exists() and blocker.is_dir()
    assert "EP Error" not in capsys.readouterr().out, "onnxruntime's failure reached stdout"

    # No cache to keep graphs in (its path is a file): every engine optimises afresh.
    monkeypatch.setenv("STUDIO_CACHE_DIR", str(tmp_path / "a-file"))
    (tmp_path / "a-file").write_text("not a folder")
    assert optimised_model(model_dir() / DET_MODEL) is None
    assert same(OnnxOCR().read(picture))
