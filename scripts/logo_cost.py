"""What the logo bug costs a render: the sample brand (examples/brands/gazette) with and without
its ``[logo]`` table, the frames composited as for the encoder but not encoded (the CPU seconds
of that thread; see caption_cost.py, whose render runner this uses), plus the layers stage.

    PYTHONPATH=. python scripts/logo_cost.py [--height 1080] [--repeat 3] [--encode]

Runs interleaved, each in its own process, the narration cache warmed first; medians printed
with every value. Not a test: timings depend on the machine and its load."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from caption_cost import render  # noqa: E402


def variant(folder: Path, with_logo: bool) -> Path:
    """A copy of the sample brand, its logo kept or removed."""
    shutil.copytree(ROOT / "examples" / "brands" / "gazette", folder)
    toml = folder / "template.toml"
    if not with_logo:
        toml.write_text(toml.read_text(encoding="utf-8").split("[logo]")[0], encoding="utf-8")
    else:  # the logo alone: without the intro sting that follows it
        toml.write_text(toml.read_text(encoding="utf-8").split("[intro]")[0], encoding="utf-8")
    return toml


def blend_cost(height: int, n: int = 2000) -> dict[str, float]:
    """The logo alone: CPU ms to draw its overlay once (layers stage) and per blend (a frame)."""
    import time

    from videogen.render.brand import logo_overlay
    from videogen.render.compose import OverlayPlanes, Planes
    from videogen.render.templates import load_template

    template = load_template(ROOT / "examples" / "brands" / "gazette", ROOT / "templates").at_size(height)
    t0 = time.thread_time()
    overlay = OverlayPlanes(logo_overlay(template), template.width, template.height)
    made = time.thread_time() - t0
    frame = Planes(template.width, template.height)
    frame.buf[:] = 128
    t0 = time.thread_time()
    for _ in range(n):
        overlay.blend(frame)
    return {"overlay_made_ms": round(1000 * made, 2), "blend_ms_per_frame": round(1000 * (time.thread_time() - t0) / n, 4)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--article", default=str(ROOT / "examples" / "articles" / "en-space-exhibition.json"))
    ap.add_argument("--height", type=int, default=1080)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--encode", action="store_true", help="time the real frames stage (x264 included, wall s)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="logo-cost-"))
    cache = work / "cache"
    runs = {"logo": variant(work / "with", True), "no logo": variant(work / "without", False)}
    render(ROOT, runs["logo"], Path(args.article), 144, cache, work / "warm")
    results: dict[str, list[dict]] = {name: [] for name in runs}
    for k in range(args.repeat):
        for name, toml in runs.items():
            results[name].append(render(ROOT, toml, Path(args.article), args.height, cache, work / f"{k}-{name}",
                                        "encode" if args.encode else "compose"))
    summary = {}
    for name, rs in results.items():
        frames = [r["timings"]["frames"] if args.encode else round(r["compose_cpu"], 3) for r in rs]
        layers = [r["timings"]["layers"] for r in rs]
        summary[name] = {"frames_s_median": round(statistics.median(frames), 3), "frames_s": frames,
                         "layers_s_median": round(statistics.median(layers), 3), "layers_s": layers,
                         "n_frames": rs[0]["frames"]}
    extra = summary["logo"]["frames_s_median"] - summary["no logo"]["frames_s_median"]
    measure = "frames stage wall s (x264 included)" if args.encode else "compositing CPU s (frames stage less x264)"
    print(json.dumps({"height": args.height, "measure": measure, "loadavg": os.getloadavg(), "runs": summary,
                      "logo_extra_s": round(extra, 3), "logo_alone": blend_cost(args.height),
                      "logo_extra_ms_per_frame": round(1000 * extra / summary["logo"]["n_frames"], 3)}, indent=2))
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
