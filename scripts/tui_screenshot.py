"""Take the README's picture of the TUI: a fresh cooking channel on the embedded defaults, the TUI attached, and
an SVG saved once a segment is on air and the next episode is being made.

    python scripts/tui_screenshot.py [--out docs/tui.svg] [--size 120x34]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from studio import events as ev  # noqa: E402
from studio.config import load_settings  # noqa: E402
from studio.runtime import StationRuntime  # noqa: E402
from studio.show import load_show  # noqa: E402
from studio.tui.app import StudioApp  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "tui.svg")
    parser.add_argument("--size", default="120x34")
    parser.add_argument("--show", type=Path, default=REPO / "shows" / "cooking.yaml")
    args = parser.parse_args()
    width, height = (int(part) for part in args.size.split("x"))
    with tempfile.TemporaryDirectory() as scratch:
        data_dir = Path(scratch) / "data"
        show = load_show(args.show)
        runtime = StationRuntime(show, load_settings(data_dir=data_dir, port=0))
        runtime.start()
        try:
            app = StudioApp(data_dir / "station.sqlite", runtime.show_key, attached=True, title=show.title)

            async def take() -> None:
                async with app.run_test(size=(width, height)) as pilot:
                    deadline = time.monotonic() + 900
                    while time.monotonic() < deadline:
                        await pilot.pause(0.5)
                        on_air = app.view.on_air
                        making = any(isinstance(logged.event, ev.RenderStarted) and (logged.event.episode or 0) >= 2
                                     for logged in app.view.log)  # fmt: skip
                        if on_air is not None and not on_air.is_filler and app.view.thumbnail() and making:
                            break
                    await pilot.pause(1.0)
                    args.out.parent.mkdir(parents=True, exist_ok=True)
                    app.save_screenshot(filename=args.out.name, path=str(args.out.parent))

            asyncio.run(take())
        finally:
            runtime.stop()
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
