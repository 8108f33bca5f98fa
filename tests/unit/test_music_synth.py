"""The embedded synthesiser: mood words to parameters, and the WAV it writes."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from studio.config import Settings
from studio.errors import ToolError
from studio.tools.base import MusicGenerator, MusicRequest
from studio.tools.media import read_wav
from studio.tools.music_synth import PEAK_CEILING, SynthMusicGenerator, mood_parameters, parse_key


@pytest.fixture
def synth() -> SynthMusicGenerator:
    return SynthMusicGenerator(Settings())


def test_backend_contract() -> None:
    settings = Settings()
    assert isinstance(SynthMusicGenerator(settings), MusicGenerator)
    assert SynthMusicGenerator.name == "synth"
    assert SynthMusicGenerator.availability(settings)[0]


@pytest.mark.parametrize("seconds", [3.0, 2.345678, 7.5])
def test_wav_is_sample_exact_stereo_48k_and_below_the_peak(
    synth: SynthMusicGenerator, tmp_path: Path, seconds: float
) -> None:
    track = synth.generate(MusicRequest("upbeat bossa nova with brushed drums", seconds, seed=5), tmp_path / "m.wav")
    with wave.open(str(track.path), "rb") as handle:
        assert (handle.getnchannels(), handle.getframerate(), handle.getsampwidth()) == (2, 48_000, 2)
        assert handle.getnframes() == round(seconds * 48_000)
    samples, rate = read_wav(track.path)
    assert rate == 48_000 and samples.shape == (round(seconds * 48_000), 2)
    assert (track.sample_rate, track.channels, track.backend) == (48_000, 2, "synth")
    assert track.seconds == pytest.approx(seconds, abs=1 / 48_000)
    peak = float(np.abs(samples).max())
    assert 0.3 < peak <= 0.9
    assert peak <= PEAK_CEILING + 1e-4
    assert np.sqrt((samples**2).mean()) > 0.03, "audible, not silence"
    assert abs(samples[:, 0] - samples[:, 1]).mean() > 0.005, "stereo, not two copies of mono"


def test_fades_in_and_out(synth: SynthMusicGenerator, tmp_path: Path) -> None:
    track = synth.generate(MusicRequest("epic", 6.0, seed=1), tmp_path / "m.wav")
    samples, _ = read_wav(track.path)
    assert np.abs(samples[:48]).max() < 0.01
    assert np.abs(samples[-48:]).max() < 0.01
    middle = np.abs(samples[len(samples) // 2 - 24_000 : len(samples) // 2 + 24_000]).max()
    assert middle > 0.3


def test_same_seed_is_identical_and_seeds_differ(synth: SynthMusicGenerator, tmp_path: Path) -> None:
    request = MusicRequest("whimsical", 4.0, seed=9)
    first = synth.generate(request, tmp_path / "a.wav")
    again = synth.generate(request, tmp_path / "b.wav")
    other = synth.generate(MusicRequest("whimsical", 4.0, seed=10), tmp_path / "c.wav")
    assert first.path.read_bytes() == again.path.read_bytes()
    assert first.path.read_bytes() != other.path.read_bytes()


def test_moods_pick_different_music() -> None:
    moods = ["upbeat", "calm", "tense", "jazzy", "bossa nova", "epic", "whimsical", "melancholy", "nature documentary"]
    chosen = {mood: mood_parameters(mood) for mood in moods}
    signatures = {(p.tempo_bpm, p.tonic, p.mode) for p in chosen.values()}
    assert len(signatures) == len(moods)
    assert chosen["upbeat"].tempo_bpm > chosen["calm"].tempo_bpm > chosen["melancholy"].tempo_bpm
    assert chosen["melancholy"].mode == chosen["tense"].mode == "minor"
    assert chosen["upbeat"].mode == chosen["whimsical"].mode == "major"
    assert chosen["jazzy"].swing > 0.6 and chosen["jazzy"].sevenths and chosen["jazzy"].drums == "brushes"
    assert chosen["bossa nova"].drums == "bossa" and chosen["bossa nova"].bass == "bossa"
    assert chosen["calm"].drums == "none" and chosen["epic"].drums == "epic"
    assert chosen["epic"].energy > chosen["calm"].energy


def test_mood_words_combine_and_instruments_and_drums_are_honoured() -> None:
    bossa = mood_parameters("upbeat bossa nova with brushed drums")
    assert bossa.moods == ("bossa", "upbeat")
    assert bossa.drums == "brushes" and bossa.bass == "bossa"
    assert bossa.tempo_bpm > mood_parameters("bossa nova").tempo_bpm > mood_parameters("calm bossa nova").tempo_bpm
    assert mood_parameters("calm with strings").instruments[0] == "strings"
    assert mood_parameters("upbeat, no drums").drums == "none"
    assert mood_parameters("Something Unusual").moods == ()


def test_explicit_tempo_and_key_override_the_mood(synth: SynthMusicGenerator, tmp_path: Path) -> None:
    params = mood_parameters("melancholy", tempo_bpm=150, key="Eb major")
    assert (params.tempo_bpm, params.tonic, params.mode, params.key_name) == (150, 3, "major", "Eb major")
    track = synth.generate(MusicRequest("melancholy", 2.0, seed=1, tempo_bpm=150, key="F# minor"), tmp_path / "k.wav")
    assert track.seconds == pytest.approx(2.0)
    with pytest.raises(ToolError):
        synth.generate(MusicRequest("calm", 2.0, seed=1, key="H major"), tmp_path / "bad.wav")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("C", (0, "major")), ("F# minor", (6, "minor")), ("Bbm", (10, "minor")), ("eb major", (3, "major")),
     ("A min", (9, "minor")), ("D dorian", (2, "dorian")), ("Cb", (11, "major"))],
)  # fmt: skip
def test_parse_key(text: str, expected: tuple[int, str]) -> None:
    assert parse_key(text) == expected


def test_tempo_is_audible_in_the_onsets(tmp_path: Path, synth: SynthMusicGenerator) -> None:
    """The beat period measured from the onset envelope matches the chosen tempo."""
    track = synth.generate(MusicRequest("upbeat", 8.0, seed=2, tempo_bpm=120), tmp_path / "beat.wav")
    samples, rate = read_wav(track.path)
    mono = samples.mean(axis=1)
    hop = 480
    energy = np.sqrt(np.add.reduceat(mono**2, np.arange(0, len(mono), hop)))
    onset = np.maximum(np.diff(energy), 0)
    onset -= onset.mean()
    correlation = np.correlate(onset, onset, mode="full")[len(onset) - 1 :]
    lags = np.arange(len(correlation)) * hop / rate
    window = (lags > 0.3) & (lags < 0.8)
    best = lags[window][np.argmax(correlation[window])]
    assert best == pytest.approx(0.5, abs=0.03)


def test_rejects_empty_duration(synth: SynthMusicGenerator, tmp_path: Path) -> None:
    with pytest.raises(ToolError):
        synth.generate(MusicRequest("calm", 0.0, seed=1), tmp_path / "none.wav")
