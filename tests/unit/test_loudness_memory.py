"""Loudness measured in memory (studio.tools.loudness) against ffmpeg's EBU R128 meter, and post's choice between a
plain gain and loudnorm."""

from __future__ import annotations

import math
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from studio.broadcast import commands
from studio.config import Settings
from studio.post import normalisation
from studio.show import load_show
from studio.tools.base import MusicRequest
from studio.tools.loudness import integrated_loudness, measure_samples, true_peak
from studio.tools.media import ffmpeg_exe, read_wav, write_wav
from studio.tools.music_synth import SynthMusicGenerator

SHOWS = sorted((Path(__file__).parents[2] / "shows").glob("*.yaml"))
RATE = 48_000


def ebur128(path: Path) -> tuple[float, float]:
    """Integrated loudness (LUFS) and true peak (dBFS) as ffmpeg's ebur128 filter reads them."""
    result = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostats", "-i", str(path), "-af", "ebur128=peak=true", "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    summary = result.stderr[result.stderr.rfind("Summary:") :]
    return float(re.findall(r"I:\s+(-?[\d.]+) LUFS", summary)[0]), float(re.findall(r"Peak:\s+(-?[\d.]+)", summary)[0])


@pytest.mark.parametrize("show_path", SHOWS, ids=[path.stem for path in SHOWS])
def test_every_shows_music_measures_as_ffmpegs_meter_reads_it(show_path: Path, tmp_path: Path) -> None:
    mood = load_show(show_path).music.mood
    track = SynthMusicGenerator(Settings()).generate(MusicRequest(mood, 7.0, seed=5), tmp_path / "music.wav")
    samples, rate = read_wav(track.path)
    measured = measure_samples(samples, rate)
    integrated, peak = ebur128(track.path)
    assert measured.integrated_lufs == pytest.approx(integrated, abs=0.15)
    assert measured.true_peak_dbtp == pytest.approx(peak, abs=0.2)


def test_a_full_scale_sine_in_one_channel_reads_minus_3_01_lufs() -> None:
    """BS.1770-4: a 0 dBFS 997 Hz sine in the left (or right) channel reads -3.01 LKFS."""
    t = np.arange(10 * RATE) / RATE
    left = np.sin(2 * np.pi * 997 * t)
    stereo = np.stack([left, np.zeros_like(left)], axis=1)
    assert integrated_loudness(stereo, RATE) == pytest.approx(-3.01, abs=0.02)
    quieter = stereo * 10 ** (-20 / 20)
    assert integrated_loudness(quieter, RATE) == pytest.approx(-23.01, abs=0.02)


def test_the_true_peak_sees_between_the_samples() -> None:
    """A sine at a quarter of the sample rate, sampled 45 degrees off its crests: every sample reads 0.707 of its
    peak (-3 dBFS), the signal itself reaches 1.0 (0 dBTP)."""
    n = np.arange(RATE)
    samples = np.sin(np.pi / 2 * n + np.pi / 4)[:, None]
    assert float(np.abs(samples).max()) == pytest.approx(math.sqrt(0.5))
    assert true_peak(samples) == pytest.approx(0.0, abs=0.1)


def test_silence_has_no_loudness_and_is_not_normalised(tmp_path: Path) -> None:
    silent = np.zeros((3 * RATE, 2))
    assert integrated_loudness(silent, RATE) == -math.inf and true_peak(silent) == -math.inf
    write_wav(silent, RATE, tmp_path / "silent.wav")
    assert normalisation(tmp_path / "silent.wav", target_lufs=-23.0, true_peak_dbtp=-1.0) is None


def test_post_gains_the_music_when_its_peaks_allow_and_else_lets_loudnorm_limit_them(tmp_path: Path) -> None:
    track = SynthMusicGenerator(Settings()).generate(MusicRequest("upbeat", 6.0, seed=2), tmp_path / "music.wav")
    gain = normalisation(track.path, target_lufs=-23.0, true_peak_dbtp=-1.0)
    assert isinstance(gain, commands.Gain)
    assert gain.measured_lufs + gain.gain_db == pytest.approx(-23.0, abs=0.001)
    assert gain.filter() == f"volume={gain.gain_db:g}dB"
    # Quiet noise with loud clicks: the gain to -16 LUFS would push the clicks far over -1 dBTP.
    rng = np.random.default_rng(1)
    spiky = rng.normal(0.0, 0.01, (6 * RATE, 2))
    spiky[:: RATE // 2] = 0.9
    write_wav(spiky, RATE, tmp_path / "spiky.wav")
    limited = normalisation(tmp_path / "spiky.wav", target_lufs=-16.0, true_peak_dbtp=-1.0)
    assert isinstance(limited, commands.Loudness), "loudnorm's dynamic mode, measured by ffmpeg as before"
