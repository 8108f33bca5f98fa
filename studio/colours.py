"""Colour names a show file or a prompt may use, as sRGB triples. One table for the schema, renderer and critic."""

from __future__ import annotations

import re

NAMED_COLOURS: dict[str, tuple[int, int, int]] = {
    "black": (20, 20, 22),
    "white": (245, 245, 240),
    "grey": (128, 128, 128),
    "gray": (128, 128, 128),
    "silver": (192, 192, 196),
    "red": (200, 40, 40),
    "crimson": (170, 20, 50),
    "maroon": (110, 25, 30),
    "orange": (240, 130, 30),
    "amber": (255, 180, 40),
    "gold": (218, 165, 32),
    "yellow": (245, 215, 50),
    "cream": (250, 240, 210),
    "beige": (225, 205, 170),
    "tan": (200, 160, 110),
    "brown": (120, 72, 40),
    "chocolate": (90, 50, 25),
    "copper": (184, 115, 51),
    "green": (50, 160, 60),
    "lime": (150, 210, 50),
    "olive": (110, 120, 40),
    "sage": (150, 175, 130),
    "mint": (170, 230, 190),
    "teal": (30, 130, 130),
    "turquoise": (60, 200, 190),
    "cyan": (40, 200, 220),
    "sky": (135, 195, 235),
    "blue": (40, 80, 200),
    "navy": (25, 35, 90),
    "indigo": (70, 40, 130),
    "purple": (130, 60, 160),
    "violet": (150, 90, 200),
    "lavender": (190, 170, 225),
    "magenta": (210, 50, 160),
    "pink": (240, 150, 180),
    "peach": (250, 190, 150),
    "coral": (245, 120, 100),
}

_HEX = re.compile(r"^#?([0-9a-fA-F]{6})$")


def parse_colour(text: str) -> tuple[int, int, int]:
    """`#rrggbb`, `rrggbb`, or a name from `NAMED_COLOURS` (optionally `light`/`dark`/`pale`/`deep` + name)."""
    value = text.strip().lower()
    match = _HEX.match(value)
    if match:
        digits = match.group(1)
        return (int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16))
    shade, _, base = value.partition(" ")
    if base and shade in {"light", "pale", "dark", "deep"} and base in NAMED_COLOURS:
        r, g, b = NAMED_COLOURS[base]
        if shade in {"light", "pale"}:
            return (r + (255 - r) // 2, g + (255 - g) // 2, b + (255 - b) // 2)
        return (r * 3 // 5, g * 3 // 5, b * 3 // 5)
    if value in NAMED_COLOURS:
        return NAMED_COLOURS[value]
    raise ValueError(f"unknown colour {text!r}: use #rrggbb or one of {', '.join(sorted(NAMED_COLOURS))}")


def to_hex(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)
