"""Embedded music backend: a small numpy synthesiser that scores a segment from its mood words.

`mood_parameters(prompt, tempo_bpm=..., key=...)` is a pure function from mood text to musical choices (tempo,
key and mode, chord progression, instruments, drum style, swing, dynamics); `SynthMusicGenerator` turns those into
a stereo 16-bit WAV: wavetable pads and strings, additive plucks, electric piano, bells, a bass line, a motif-based
melody, synthesised drums, a noise-impulse reverb (decorrelated per channel for width), gentle fades and a fixed
peak ceiling. Same request and seed, same samples.
"""

from __future__ import annotations

import math
import re
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from studio.errors import ToolError
from studio.tools.base import AudioTrack, MusicRequest
from studio.tools.media import write_wav

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from studio.config import Settings

Mode = Literal["major", "minor", "dorian"]
DrumStyle = Literal["none", "pop", "soft", "brushes", "bossa", "epic", "pulse", "light"]
Instrument = Literal["pad", "strings", "piano", "pluck", "nylon", "bell", "pizzicato"]
BassStyle = Literal["root", "pulse", "walking", "bossa", "pop", "staccato"]

PEAK_CEILING = 0.89
"""Highest absolute sample value written (below the 0.9 promised to the mixer)."""

SCALES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
}
NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_PITCH_CLASSES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


@dataclass(frozen=True)
class MusicParameters:
    """Everything the synthesiser needs to know about a piece, chosen from mood words."""

    tempo_bpm: float
    tonic: int
    """Pitch class of the key's tonic, 0 = C."""
    mode: Mode
    progression: tuple[int, ...]
    """Scale degrees (0 = tonic) of the chords, one per bar, looped."""
    sevenths: bool
    """Four-note chords (jazz, bossa) instead of triads."""
    instruments: tuple[Instrument, ...]
    """Harmony and melody voices; the first melodic one carries the tune."""
    bass: BassStyle
    drums: DrumStyle
    swing: float
    """Position of the off-beat eighth within the beat: 0.5 straight, ~0.64 swung."""
    energy: float
    """0 (hushed) … 1 (full): loudness, note density and brightness."""
    reverb: float
    """Wet level of the room."""
    moods: tuple[str, ...]
    """The mood words that were recognised, in the order they appear."""

    @property
    def key_name(self) -> str:
        return f"{NOTE_NAMES[self.tonic]} {self.mode}"


@dataclass(frozen=True)
class _Mood:
    tempo: float
    tonic: int
    mode: Mode
    progression: tuple[int, ...]
    instruments: tuple[Instrument, ...]
    bass: BassStyle
    drums: DrumStyle
    energy: float
    sevenths: bool = False
    swing: float = 0.5
    reverb: float = 0.18


_MOODS: dict[str, _Mood] = {
    "upbeat": _Mood(124, 7, "major", (0, 4, 5, 3), ("pluck", "pad", "piano"), "pop", "pop", 0.85),
    "happy": _Mood(116, 2, "major", (0, 3, 4, 0), ("pluck", "pad", "bell"), "pop", "soft", 0.75),
    "energetic": _Mood(140, 4, "minor", (0, 5, 6, 4), ("pluck", "strings", "pad"), "pulse", "pop", 0.95),
    "calm": _Mood(72, 5, "major", (0, 3, 5, 4), ("pad", "bell", "piano"), "root", "none", 0.35, reverb=0.3),
    "dreamy": _Mood(78, 11, "major", (0, 5, 3, 4), ("pad", "bell"), "root", "none", 0.3, True, reverb=0.35),
    "tense": _Mood(96, 2, "minor", (0, 0, 5, 4), ("strings", "pad", "pluck"), "pulse", "pulse", 0.6),
    "mysterious": _Mood(84, 9, "minor", (0, 5, 0, 1), ("pad", "bell", "pluck"), "root", "pulse", 0.45, reverb=0.3),
    "jazzy": _Mood(112, 5, "major", (1, 4, 0, 5), ("piano", "pluck"), "walking", "brushes", 0.6, True, 0.64),
    "bossa": _Mood(132, 0, "major", (0, 1, 4, 0), ("nylon", "piano", "pluck"), "bossa", "bossa", 0.55, True),
    "epic": _Mood(84, 2, "minor", (0, 5, 2, 6), ("strings", "pad", "pluck"), "root", "epic", 1.0, reverb=0.3),
    "whimsical": _Mood(118, 10, "major", (0, 3, 4, 0), ("pizzicato", "bell", "pluck"), "staccato", "light", 0.5),
    "melancholy": _Mood(66, 9, "minor", (0, 3, 5, 4), ("piano", "strings", "pad"), "root", "none", 0.3, reverb=0.3),
    "romantic": _Mood(76, 3, "major", (0, 5, 3, 4), ("piano", "strings"), "root", "none", 0.4, True, reverb=0.28),
    "nature": _Mood(88, 4, "major", (0, 3, 0, 4), ("strings", "bell", "pad"), "root", "soft", 0.5, reverb=0.28),
    "funky": _Mood(104, 7, "dorian", (0, 3, 0, 3), ("piano", "pluck"), "pulse", "pop", 0.7, True),
    "neutral": _Mood(100, 0, "major", (0, 5, 3, 4), ("pad", "pluck", "piano"), "root", "soft", 0.5),
}

_SYNONYMS: dict[str, str] = {
    "upbeat": "upbeat", "bright": "upbeat", "peppy": "upbeat", "lively": "upbeat", "bouncy": "upbeat",
    "happy": "happy", "cheerful": "happy", "sunny": "happy", "joyful": "happy", "warm": "happy",
    "energetic": "energetic", "driving": "energetic", "action": "energetic", "exciting": "energetic",
    "calm": "calm", "gentle": "calm", "relaxed": "calm", "peaceful": "calm", "soft": "calm", "quiet": "calm",
    "ambient": "dreamy", "dreamy": "dreamy", "floaty": "dreamy", "ethereal": "dreamy",
    "tense": "tense", "suspense": "tense", "suspenseful": "tense", "thriller": "tense", "urgent": "tense",
    "mysterious": "mysterious", "dark": "mysterious", "eerie": "mysterious", "spooky": "mysterious",
    "jazzy": "jazzy", "jazz": "jazzy", "swing": "jazzy", "lounge": "jazzy", "noir": "jazzy",
    "bossa": "bossa", "latin": "bossa", "samba": "bossa",
    "epic": "epic", "heroic": "epic", "triumphant": "epic", "cinematic": "epic", "dramatic": "epic",
    "whimsical": "whimsical", "playful": "whimsical", "quirky": "whimsical", "silly": "whimsical",
    "cartoon": "whimsical", "comedic": "whimsical", "funny": "whimsical",
    "melancholy": "melancholy", "melancholic": "melancholy", "sad": "melancholy", "wistful": "melancholy",
    "nostalgic": "melancholy", "somber": "melancholy", "sombre": "melancholy", "lonely": "melancholy",
    "romantic": "romantic", "tender": "romantic", "love": "romantic",
    "nature": "nature", "documentary": "nature", "wildlife": "nature", "pastoral": "nature", "wonder": "nature",
    "funky": "funky", "funk": "funky", "groovy": "funky",
}  # fmt: skip

_GENRES = frozenset({"jazzy", "bossa", "epic", "funky", "nature", "whimsical"})

_INSTRUMENT_WORDS: dict[str, Instrument] = {
    "piano": "piano", "keys": "piano", "rhodes": "piano", "strings": "strings", "violin": "strings",
    "cello": "strings", "orchestra": "strings", "orchestral": "strings", "guitar": "nylon", "nylon": "nylon",
    "bells": "bell", "bell": "bell", "glockenspiel": "bell", "celesta": "bell", "pizzicato": "pizzicato",
    "pizz": "pizzicato", "synth": "pad", "pad": "pad", "pads": "pad", "harp": "pluck", "plucked": "pluck",
}  # fmt: skip

_DRUM_WORDS: dict[str, DrumStyle] = {
    "brushed": "brushes",
    "brushes": "brushes",
    "brush": "brushes",
    "taiko": "epic",
    "percussion": "soft",
    "drums": "pop",
    "beat": "pop",
}

_WORD = re.compile(r"[a-z]+")
_KEY = re.compile(r"^\s*([A-Ga-g])\s*(#|b|♯|♭|sharp|flat)?\s*(m|min|minor|maj|major|dorian)?\s*$", re.IGNORECASE)


def parse_key(text: str) -> tuple[int, Mode]:
    """`"C"`, `"F# minor"`, `"Bbm"`, `"eb major"`, `"D dorian"` → (pitch class, mode). Raises ValueError."""
    match = _KEY.match(text)
    if not match:
        raise ValueError(f"cannot read key {text!r}: use a note name and optionally major/minor, e.g. 'F# minor'")
    letter, accidental, quality = match.groups()
    pitch = _PITCH_CLASSES[letter.upper()]
    if accidental:
        pitch += 1 if accidental.lower() in ("#", "♯", "sharp") else -1
    quality = (quality or "").lower()
    mode: Mode = "minor" if quality in ("m", "min", "minor") else "dorian" if quality == "dorian" else "major"
    if quality == "m" and match.group(3) == "M":
        mode = "major"
    return pitch % 12, mode


def mood_parameters(prompt: str, *, tempo_bpm: float | None = None, key: str | None = None) -> MusicParameters:
    """Musical choices for mood words. The first genre word found (jazzy, bossa, epic, …), else the first mood
    word, leads (key, progression, bass, tempo); the others nudge tempo and energy (a faster mood than neutral
    speeds the lead up a little) and add instruments. Instrument and drum words ("strings", "brushed
    drums", "no drums") and an explicit tempo or key override the mood's own."""
    words = _WORD.findall(prompt.lower())
    found: list[str] = []
    for word in words:
        mood = _SYNONYMS.get(word)
        if mood and mood not in found:
            found.append(mood)
    found.sort(key=lambda name: name not in _GENRES)  # a genre leads; adjectives only colour it
    lead = _MOODS[found[0]] if found else _MOODS["neutral"]
    others = [_MOODS[name] for name in found[1:]]
    neutral = _MOODS["neutral"]
    tempo = lead.tempo * math.prod((m.tempo / neutral.tempo) ** 0.3 for m in others)
    energy = min(1.0, max(0.1, lead.energy + sum(0.4 * (m.energy - neutral.energy) for m in others)))
    instruments: list[Instrument] = list(lead.instruments)
    for other in others:
        for instrument in other.instruments[:1]:
            if instrument not in instruments:
                instruments.append(instrument)
    asked = [_INSTRUMENT_WORDS[w] for w in words if w in _INSTRUMENT_WORDS]
    for instrument in reversed(asked):
        if instrument in instruments:
            instruments.remove(instrument)
        instruments.insert(0, instrument)
    drums = lead.drums
    if drums == "none":
        drums = next((m.drums for m in others if m.drums != "none"), "none")
    for word in words:
        asked_drums = _DRUM_WORDS.get(word)
        if asked_drums and (word != "drums" or drums == "none"):  # bare "drums" only switches them on
            drums = asked_drums
    if re.search(r"\b(no|without)\s+(drums|percussion|beat)\b", prompt.lower()):
        drums = "none"
    tonic, mode = lead.tonic, lead.mode
    if key:
        tonic, mode = parse_key(key)
    if tempo_bpm is not None:
        if not 20 <= tempo_bpm <= 300:
            raise ValueError(f"tempo {tempo_bpm} bpm is outside 20–300")
        tempo = float(tempo_bpm)
    return MusicParameters(
        tempo_bpm=round(tempo, 1),
        tonic=tonic,
        mode=mode,
        progression=lead.progression,
        sevenths=lead.sevenths or any(m.sevenths for m in others[:1]),
        instruments=tuple(instruments[:4]),
        bass=lead.bass,
        drums=drums,
        swing=max([lead.swing] + [m.swing for m in others]),
        energy=round(energy, 3),
        reverb=max([lead.reverb] + [m.reverb for m in others]),
        moods=tuple(found),
    )


# --- synthesis ------------------------------------------------------------------------------------------------------

_TABLE_SIZE = 4096


def _midi_hz(note: float) -> float:
    return 440.0 * 2.0 ** ((note - 69.0) / 12.0)


def _wavetable(amplitudes: list[float]) -> np.ndarray:
    phase = np.arange(_TABLE_SIZE) / _TABLE_SIZE
    table = np.zeros(_TABLE_SIZE)
    for harmonic, amplitude in enumerate(amplitudes, start=1):
        table += amplitude * np.sin(2 * math.pi * harmonic * phase)
    return (table / np.abs(table).max()).astype(np.float32)


_SOFT_SAW = _wavetable([1.0 / k * (0.8 ** (k - 1)) for k in range(1, 11)])
_WARM = _wavetable([1.0, 0.35, 0.18, 0.08, 0.05])
_BRIGHT_SAW = _wavetable([1.0 / k for k in range(1, 15)])


def _pan(mono: np.ndarray, pan: float) -> np.ndarray:
    """Equal-power pan, -1 left … +1 right, to shape (2, n)."""
    angle = (pan + 1.0) * math.pi / 4
    return np.stack([mono * math.cos(angle), mono * math.sin(angle)])


def _envelope(n: int, sr: int, attack: float, release: float) -> np.ndarray:
    env = np.ones(n, dtype=np.float32)
    a = min(n, max(1, int(attack * sr)))
    r = min(n - a, max(1, int(release * sr))) if n > a else 0
    env[:a] = np.linspace(0.0, 1.0, a, endpoint=False, dtype=np.float32)
    if r > 0:
        env[n - r :] *= np.linspace(1.0, 0.0, r, dtype=np.float32)
    return env


def _oscillator(table: np.ndarray, freq: float, n: int, sr: int, phase: float, vibrato: float = 0.0) -> np.ndarray:
    t = np.arange(n, dtype=np.float64) / sr
    cycles = freq * t + phase
    if vibrato:
        cycles += vibrato * freq / (2 * math.pi * 5.2) * np.sin(2 * math.pi * 5.2 * t)
    index = ((cycles % 1.0) * _TABLE_SIZE).astype(np.int64)
    return table[index % _TABLE_SIZE]


class _Voices:
    """Note renderers. Each returns a stereo (2, n) float32 array starting at the note's onset."""

    def __init__(self, sr: int, rng: np.random.Generator, brightness: float) -> None:
        self.sr = sr
        self.rng = rng
        self.brightness = brightness

    def pad(self, note: float, seconds: float, velocity: float) -> np.ndarray:
        n = int((seconds + 0.6) * self.sr)
        freq = _midi_hz(note)
        env = _envelope(n, self.sr, min(0.5, seconds / 3), 0.6)
        left = _oscillator(_SOFT_SAW, freq * 0.997, n, self.sr, float(self.rng.random()))
        right = _oscillator(_SOFT_SAW, freq * 1.003, n, self.sr, float(self.rng.random()))
        centre = _oscillator(_WARM, freq, n, self.sr, 0.0)
        return np.stack([left * 0.6 + centre * 0.4, right * 0.6 + centre * 0.4]) * (env * velocity * 0.5)

    def strings(self, note: float, seconds: float, velocity: float) -> np.ndarray:
        n = int((seconds + 0.5) * self.sr)
        freq = _midi_hz(note)
        env = _envelope(n, self.sr, min(0.35, seconds / 3), 0.5)
        voices = [
            _oscillator(_BRIGHT_SAW, freq * detune, n, self.sr, float(self.rng.random()), vibrato=0.004)
            for detune in (0.996, 1.0, 1.004)
        ]
        return np.stack([voices[0] * 0.7 + voices[1] * 0.3, voices[2] * 0.7 + voices[1] * 0.3]) * (
            env * velocity * 0.35
        )

    def _struck(self, note: float, seconds: float, velocity: float, partials: tuple[tuple[float, float, float], ...],
                pan: float) -> np.ndarray:  # fmt: skip
        """Sum of decaying sinusoids: (frequency ratio, amplitude, decay per second)."""
        length = min(seconds, 4.0)
        n = int(length * self.sr)
        t = np.arange(n, dtype=np.float32) / self.sr
        freq = _midi_hz(note)
        mono = np.zeros(n, dtype=np.float32)
        for ratio, amplitude, decay in partials:
            if freq * ratio < self.sr / 2.2:
                mono += amplitude * np.sin(2 * math.pi * freq * ratio * t) * np.exp(-decay * t)
        mono *= _envelope(n, self.sr, 0.003, min(0.08, length / 3))
        return _pan(mono * velocity, pan)

    def pluck(self, note: float, seconds: float, velocity: float, pan: float = -0.3) -> np.ndarray:
        b = self.brightness
        partials = tuple((float(k), (0.9 - 0.4 * b) ** (k - 1) / k**0.5, 2.5 + 1.8 * k) for k in range(1, 7))
        return self._struck(note, seconds + 0.4, velocity * 0.55, partials, pan)

    def nylon(self, note: float, seconds: float, velocity: float, pan: float = 0.25) -> np.ndarray:
        partials = tuple((float(k), 0.7 ** (k - 1), 2.0 + 2.5 * k) for k in range(1, 6))
        return self._struck(note, seconds + 0.5, velocity * 0.45, partials, pan)

    def pizzicato(self, note: float, seconds: float, velocity: float, pan: float = -0.2) -> np.ndarray:
        partials = tuple((float(k), 0.6 ** (k - 1), 9.0 + 4.0 * k) for k in range(1, 6))
        return self._struck(note, min(seconds, 0.35) + 0.1, velocity * 0.6, partials, pan)

    def bell(self, note: float, seconds: float, velocity: float, pan: float = 0.35) -> np.ndarray:
        partials = ((1.0, 1.0, 1.6), (2.76, 0.4, 3.5), (5.4, 0.18, 6.0), (8.93, 0.08, 9.0))
        return self._struck(note, seconds + 1.2, velocity * 0.35, partials, pan)

    def piano(self, note: float, seconds: float, velocity: float, pan: float = 0.15) -> np.ndarray:
        length = min(seconds + 0.5, 4.0)
        n = int(length * self.sr)
        t = np.arange(n, dtype=np.float32) / self.sr
        freq = _midi_hz(note)
        index = (1.2 + 1.5 * self.brightness) * np.exp(-4.0 * t)
        mono = np.sin(2 * math.pi * freq * t + index * np.sin(2 * math.pi * freq * t)) * np.exp(-1.1 * t)
        mono += 0.25 * np.sin(4 * math.pi * freq * t) * np.exp(-3.0 * t)
        mono *= _envelope(n, self.sr, 0.004, min(0.3, length / 3))
        return _pan(mono.astype(np.float32) * velocity * 0.4, pan)

    def bass(self, note: float, seconds: float, velocity: float) -> np.ndarray:
        length = seconds + 0.05
        n = int(length * self.sr)
        t = np.arange(n, dtype=np.float32) / self.sr
        freq = _midi_hz(note)
        mono = (np.sin(2 * math.pi * freq * t) + 0.3 * np.sin(4 * math.pi * freq * t)
                + 0.1 * np.sin(6 * math.pi * freq * t)) * np.exp(-1.6 * t)  # fmt: skip
        mono *= _envelope(n, self.sr, 0.006, min(0.06, length / 3))
        return _pan(mono * velocity * 0.6, 0.0)

    # --- drums ---

    def _noise(self, n: int) -> np.ndarray:
        return self.rng.standard_normal(n).astype(np.float32)

    def kick(self, velocity: float) -> np.ndarray:
        n = int(0.4 * self.sr)
        t = np.arange(n, dtype=np.float32) / self.sr
        freq = 45.0 + 75.0 * np.exp(-t * 30.0)
        phase = 2 * math.pi * np.cumsum(freq) / self.sr
        return _pan(np.sin(phase) * np.exp(-t * 9.0) * velocity * 0.9, 0.0)

    def snare(self, velocity: float) -> np.ndarray:
        n = int(0.25 * self.sr)
        t = np.arange(n, dtype=np.float32) / self.sr
        noise = np.diff(self._noise(n + 1)) * 0.5
        tone = np.sin(2 * math.pi * 190.0 * t) * np.exp(-t * 30.0)
        return _pan((noise * np.exp(-t * 18.0) * 0.6 + tone * 0.5) * velocity * 0.5, 0.05)

    def hat(self, velocity: float, pan: float = 0.4, decay: float = 45.0) -> np.ndarray:
        n = int(min(0.5, 6.0 / decay) * self.sr)
        t = np.arange(n, dtype=np.float32) / self.sr
        noise = np.diff(np.diff(self._noise(n + 2))) * 0.25
        return _pan(noise * np.exp(-t * decay) * velocity * 0.35, pan)

    def brush(self, velocity: float) -> np.ndarray:
        n = int(0.22 * self.sr)
        t = np.arange(n, dtype=np.float32) / self.sr
        noise = np.diff(self._noise(n + 1)) * 0.5
        env = (1 - np.exp(-t * 60.0)) * np.exp(-t * 14.0)
        return _pan(noise * env * velocity * 0.35, -0.1)

    def ride(self, velocity: float) -> np.ndarray:
        partials = tuple((ratio, 1.0 / (i + 1), 3.0 + i) for i, ratio in enumerate((1.0, 1.47, 1.93, 2.61, 3.37)))
        ping = self._struck(86.0, 1.2, velocity * 0.12, partials, -0.35)
        wash = self.hat(velocity * 0.5, pan=-0.35, decay=12.0)
        ping[:, : wash.shape[1]] += wash[:, : ping.shape[1]]
        return ping

    def rim(self, velocity: float) -> np.ndarray:
        return self._struck(92.0, 0.08, velocity * 0.5, ((1.0, 1.0, 60.0), (1.6, 0.5, 80.0)), 0.2)

    def woodblock(self, velocity: float) -> np.ndarray:
        return self._struck(81.0, 0.15, velocity * 0.6, ((1.0, 1.0, 35.0), (2.4, 0.3, 50.0)), 0.3)

    def tom(self, velocity: float) -> np.ndarray:
        n = int(0.9 * self.sr)
        t = np.arange(n, dtype=np.float32) / self.sr
        freq = 62.0 + 40.0 * np.exp(-t * 12.0)
        body = np.sin(2 * math.pi * np.cumsum(freq) / self.sr) * np.exp(-t * 4.0)
        skin = np.diff(self._noise(n + 1)) * np.exp(-t * 25.0) * 0.2
        return _pan((body + skin) * velocity * 0.9, 0.0)

    def crash(self, velocity: float) -> np.ndarray:
        return self.hat(velocity * 1.3, pan=0.1, decay=3.0)


class _Track:
    """A stereo buffer that notes are added into by onset time."""

    def __init__(self, samples: int, sr: int) -> None:
        self.sr = sr
        self.length = samples
        self.buffer = np.zeros((2, samples), dtype=np.float32)

    def add(self, onset: float, sound: np.ndarray, gain: float = 1.0) -> None:
        start = int(round(onset * self.sr))
        if start >= self.length or start + sound.shape[1] <= 0:
            return
        begin = max(0, -start)
        stop = min(sound.shape[1], self.length - start)
        self.buffer[:, start + begin : start + stop] += sound[:, begin:stop] * gain


class _Bus:
    """A group of parts (harmony, melody, bass, drums) mixed into one buffer at a fixed level."""

    def __init__(self, track: _Track, level: float) -> None:
        self.track = track
        self.level = level

    def add(self, onset: float, sound: np.ndarray, gain: float = 1.0) -> None:
        self.track.add(onset, sound, gain * self.level)


def _chord(params: MusicParameters, degree: int, octave_root: int) -> list[int]:
    """MIDI notes of the chord on `degree` (triad or seventh), stacked above `octave_root` + tonic."""
    scale = SCALES[params.mode]
    notes = []
    for step in (0, 2, 4, 6) if params.sevenths else (0, 2, 4):
        index = degree + step
        pitch = scale[index % 7] + 12 * (index // 7)
        if params.mode == "minor" and degree % 7 == 4 and step == 2:
            pitch += 1  # the raised leading tone: a major V pulls home
        notes.append(octave_root + params.tonic + pitch)
    return notes


def _scale_note(params: MusicParameters, index: int, octave_root: int) -> int:
    scale = SCALES[params.mode]
    return octave_root + params.tonic + scale[index % 7] + 12 * (index // 7)


_DRUM_PATTERNS: dict[str, dict[str, tuple[tuple[int, float], ...]]] = {
    # 16 steps per bar: (step, velocity)
    "pop": {"kick": ((0, 1.0), (8, 0.9), (10, 0.6)), "snare": ((4, 0.9), (12, 0.9)),
            "hat": tuple((s, 0.6 if s % 4 else 0.8) for s in range(0, 16, 2))},
    "soft": {"kick": ((0, 0.6), (10, 0.4)), "rim": ((4, 0.4), (12, 0.4)),
             "hat": tuple((s, 0.35) for s in range(0, 16, 2))},
    "brushes": {"kick": ((0, 0.25), (4, 0.2), (8, 0.25), (12, 0.2)), "brush": ((4, 0.8), (12, 0.8)),
                "ride": ((0, 0.8), (4, 0.7), (6, 0.5), (8, 0.8), (12, 0.7), (14, 0.5))},
    "bossa": {"kick": ((0, 0.7), (6, 0.5), (8, 0.7), (14, 0.5)), "rim": ((0, 0.6), (6, 0.6), (12, 0.6)),
              "hat": tuple((s, 0.25 + 0.1 * (s % 2 == 0)) for s in range(16))},
    "epic": {"tom": ((0, 1.0), (6, 0.7), (8, 0.9), (11, 0.6), (14, 0.8)), "kick": ((0, 0.9), (8, 0.8)),
             "snare": ((12, 0.6),)},
    "pulse": {"kick": ((0, 0.8), (3, 0.5), (8, 0.7), (11, 0.5)), "hat": tuple((s, 0.2) for s in range(16))},
    "light": {"kick": ((0, 0.45), (8, 0.4)), "woodblock": ((4, 0.6), (12, 0.5), (14, 0.3)),
              "hat": tuple((s, 0.25) for s in range(0, 16, 2))},
}  # fmt: skip

_BASS_PATTERNS: dict[str, tuple[tuple[float, int, float], ...]] = {
    # (beat, chord tone index (0 root, 1 third, 2 fifth; 3 = root an octave up), length in beats)
    "root": ((0.0, 0, 1.9), (2.0, 2, 1.9)),
    "pulse": tuple((b / 2, 0, 0.45) for b in range(8)),
    "pop": ((0.0, 0, 0.45), (0.5, 0, 0.45), (1.0, 3, 0.45), (1.5, 0, 0.45), (2.0, 0, 0.45), (2.5, 0, 0.45),
            (3.0, 3, 0.45), (3.5, 2, 0.45)),
    "bossa": ((0.0, 0, 1.4), (1.5, 2, 0.45), (2.0, 2, 1.4), (3.5, 0, 0.45)),
    "staccato": ((0.0, 0, 0.3), (1.0, 2, 0.3), (2.0, 0, 0.3), (3.0, 2, 0.3)),
}  # fmt: skip


class SynthMusicGenerator:
    """Scores segments with a numpy synthesiser; the always-available music backend."""

    name = "synth"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @classmethod
    def availability(cls, settings: Settings) -> tuple[bool, str]:
        return True, "embedded CPU backend (numpy synthesiser)"

    def generate(self, request: MusicRequest, output_path: Path) -> AudioTrack:
        try:
            params = mood_parameters(request.prompt, tempo_bpm=request.tempo_bpm, key=request.key)
        except ValueError as error:
            raise ToolError(str(error)) from None
        samples = render_music(params, request.seconds, request.seed, request.sample_rate)
        write_wav(samples, request.sample_rate, output_path)
        return AudioTrack(output_path, request.sample_rate, 2, len(samples) / request.sample_rate, self.name)


def render_music(params: MusicParameters, seconds: float, seed: int, sample_rate: int = 48_000) -> np.ndarray:
    """Float32 stereo samples (n, 2), n = round(seconds * sample_rate), peak <= `PEAK_CEILING`."""
    total = int(round(seconds * sample_rate))
    if total <= 0:
        raise ToolError(f"cannot write {seconds} s of music")
    rng = np.random.default_rng([seed & 0xFFFFFFFF, zlib.crc32(repr(params).encode())])
    sr = sample_rate
    beat = 60.0 / params.tempo_bpm
    bar = 4 * beat
    bars = int(math.ceil(seconds / bar)) + 1
    voices = _Voices(sr, rng, brightness=0.3 + 0.6 * params.energy)
    mixdown = _Track(total, sr)
    energy = params.energy
    harmony_bus = _Bus(mixdown, 0.55 + 0.15 * (1 - energy))
    melody_bus = _Bus(mixdown, 0.6)
    bass_bus = _Bus(mixdown, 0.55)
    drum_bus = _Bus(mixdown, 0.35 + 0.35 * energy)
    melodic = [i for i in params.instruments if i not in ("pad", "strings")] or ["pluck"]
    lead_voice = melodic[0]
    sustained = [i for i in params.instruments if i in ("pad", "strings")]
    comping = [i for i in params.instruments if i in ("piano", "nylon") and i != lead_voice]

    def swung(position_beats: float) -> float:
        whole = math.floor(position_beats)
        frac = position_beats - whole
        if abs(frac - 0.5) < 1e-6:
            frac = params.swing
        return (whole + frac) * beat

    def arc(bar_index: int) -> float:
        """Phrase dynamics: swell toward the end of each 4-bar phrase (more for energetic moods)."""
        return 0.8 + 0.2 * params.energy * ((bar_index % 4) / 3.0)

    motif = _motif(rng, params)
    for index in range(bars):
        start = index * bar
        degree = params.progression[index % len(params.progression)]
        chord = _chord(params, degree, 48)
        dyn = arc(index)
        for instrument in sustained:
            for note in chord:
                harmony_bus.add(start, getattr(voices, instrument)(note, bar, 0.55 * dyn), 1.0 / len(chord))
        for instrument in comping:
            hits = ((0.0, 1.4), (1.5, 0.9), (3.0, 0.9)) if instrument == "nylon" else ((0.0, 1.8), (2.5, 1.2))
            for at, length in hits:
                for note in chord:
                    harmony_bus.add(
                        start + swung(at), getattr(voices, instrument)(note + 12, length * beat, 0.5 * dyn), 0.5
                    )
        _bass_bar(bass_bus, voices, params, rng, chord, index, start, beat, dyn)
        phrase = motif[(index % 4) // 2] if index % 4 != 3 else motif[2]
        for at, step, length, velocity in phrase[index % 2]:
            tones = _chord(params, degree, 60)
            target = _scale_note(params, degree + step, 60)
            if at == 0.0 and target not in tones:  # downbeats land on chord tones
                target = min(tones, key=lambda t: abs(t - target))
            sound = getattr(voices, lead_voice)(target, length * beat, velocity * dyn)
            melody_bus.add(start + swung(at), sound)
        if params.drums != "none":
            _drum_bar(drum_bus, voices, params, index, start, beat, dyn, swung)

    mix = mixdown.buffer
    mix = _reverb(mix, sr, params.reverb, rng)
    fade_in = min(0.4, seconds / 6)
    fade_out = min(2.0, seconds / 4)
    mix *= _fades(total, sr, fade_in, fade_out)
    mix = np.tanh(mix * 1.2) / 1.2  # soft limiting keeps drum transients from setting the level alone
    peak = float(np.abs(mix).max())
    target = PEAK_CEILING * (0.7 + 0.3 * energy)
    if peak > 0:
        mix *= target / peak
    return np.ascontiguousarray(mix.T.astype(np.float32))


def _motif(rng: np.random.Generator, params: MusicParameters) -> list[list[list[tuple[float, int, float, float]]]]:
    """Three two-bar phrases (A, A', B) of (beat, scale step from the chord root, length in beats, velocity)."""
    density = 0.35 + 0.45 * params.energy

    def one_bar(previous: int) -> tuple[list[tuple[float, int, float, float]], int]:
        notes = []
        step = previous
        positions = [p / 2 for p in range(8)]
        chosen = [p for p in positions if p == 0.0 or rng.random() < (density if p % 1 == 0 else density * 0.6)]
        for i, at in enumerate(chosen):
            nxt = chosen[i + 1] if i + 1 < len(chosen) else 4.0
            step = int(np.clip(step + int(rng.choice([-2, -1, -1, 0, 1, 1, 2, 3, -3])), -2, 9))
            velocity = (0.9 if at % 1 == 0 else 0.7) * float(rng.uniform(0.85, 1.0))
            notes.append((at, step, max(0.4, nxt - at), velocity))
        return notes, step

    a1, last = one_bar(2)
    a2, _ = one_bar(last)
    variation = [
        (at, step + (1 if i == len(a2) - 1 else 0), length, vel) for i, (at, step, length, vel) in enumerate(a2)
    ]
    b1, last = one_bar(4)
    b2, _ = one_bar(last)
    return [[a1, a2], [a1, variation], [b1, b2]]


def _bass_bar(track: _Bus, voices: _Voices, params: MusicParameters, rng: np.random.Generator, chord: list[int],
              index: int, start: float, beat: float, dyn: float) -> None:  # fmt: skip
    root = chord[0] - 12 if chord[0] - 12 >= 36 else chord[0]
    root = root - 12 if root > 47 else root
    tones = [root, root + (chord[1] - chord[0]), root + (chord[2] - chord[0]), root + 12]
    if params.bass == "walking":
        next_degree = params.progression[(index + 1) % len(params.progression)]
        next_root = _chord(params, next_degree, 36)[0]
        walk = [tones[0], tones[1 + int(rng.integers(2))], tones[2], next_root + (1 if rng.random() < 0.5 else -1)]
        for b, note in enumerate(walk):
            track.add(start + b * beat, voices.bass(note, 0.95 * beat, 0.85 * dyn))
        return
    for at, tone, length in _BASS_PATTERNS[params.bass]:
        track.add(start + at * beat, voices.bass(tones[tone], length * beat, (0.9 if at % 1 == 0 else 0.7) * dyn))


def _drum_bar(track: _Bus, voices: _Voices, params: MusicParameters, index: int, start: float, beat: float,
              dyn: float, swung: Callable[[float], float]) -> None:  # fmt: skip
    pattern = _DRUM_PATTERNS[params.drums]
    for drum, hits in pattern.items():
        for step, velocity in hits:
            at = swung(step / 4) if params.swing > 0.5 else step / 4 * beat
            track.add(start + at, getattr(voices, drum)(velocity * dyn))
    if params.drums == "epic" and index % 4 == 0:
        track.add(start, voices.crash(0.6 * dyn))


def _fades(total: int, sr: int, fade_in: float, fade_out: float) -> np.ndarray:
    gain = np.ones(total, dtype=np.float32)
    n_in = min(total, max(1, int(fade_in * sr)))
    n_out = min(total, max(1, int(fade_out * sr)))
    gain[:n_in] *= (0.5 - 0.5 * np.cos(np.linspace(0, math.pi, n_in))).astype(np.float32)
    gain[total - n_out :] *= (0.5 + 0.5 * np.cos(np.linspace(0, math.pi, n_out))).astype(np.float32)
    return gain


def _reverb(dry: np.ndarray, sr: int, wet: float, rng: np.random.Generator) -> np.ndarray:
    """Convolution with a decaying noise tail, different per channel (which is what gives the width).

    Overlap-add in blocks keeps memory flat for long pieces."""
    tail_seconds = 1.2 + 2.0 * wet
    n_tail = int(tail_seconds * sr)
    t = np.arange(n_tail, dtype=np.float32) / sr
    decay = np.exp(-6.9 * t / tail_seconds) * (1 - np.exp(-t * 200.0))
    impulses = rng.standard_normal((2, n_tail)).astype(np.float32) * decay
    impulses /= np.sqrt((impulses**2).sum(axis=1, keepdims=True))
    block = 1 << 17
    size = 1 << int(math.ceil(math.log2(block + n_tail)))
    spectra = np.fft.rfft(impulses, n=size)
    total = dry.shape[1]
    wet_signal = np.zeros((2, total + n_tail), dtype=np.float32)
    for begin in range(0, total, block):
        chunk = dry[:, begin : begin + block]
        convolved = np.fft.irfft(np.fft.rfft(chunk, n=size) * spectra, n=size)
        end = min(begin + size, wet_signal.shape[1])
        wet_signal[:, begin:end] += convolved[:, : end - begin]
    return dry * (1.0 - 0.5 * wet) + wet_signal[:, :total] * wet * 0.9
