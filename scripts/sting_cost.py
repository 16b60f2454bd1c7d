"""What a sting costs a render: the sample brand (examples/brands/gazette) with and without its
``[intro]`` (a 2 s 640×360 video with sound, decoded by ffmpeg, letterboxed to the canvas and
encoded with the clip), full renders (x264 included): the frames stage's wall seconds, the
whole render's CPU seconds (Python and ffmpeg) and the frames added; and the sting alone (its
frames decoded and letterboxed into frame buffers, its sound levelled, no render).

    PYTHONPATH=. python scripts/sting_cost.py [--height 1080] [--repeat 2] [--alone]

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


def variant(folder: Path, with_intro: bool) -> Path:
    """A copy of the sample brand, its intro sting kept or removed."""
    shutil.copytree(ROOT / "examples" / "brands" / "gazette", folder)
    toml = folder / "template.toml"
    if not with_intro:
        toml.write_text(toml.read_text(encoding="utf-8").split("[intro]")[0], encoding="utf-8")
    return toml


def sting_alone(height: int) -> dict[str, float]:
    """The intro's frames alone, no x264: ffmpeg decoding and letterboxing them to the canvas
    and each copied into a frame buffer (CPU ms per frame, ffmpeg's included), and its sound
    decoded and levelled (CPU ms)."""
    import time

    from videogen.render.cputime import children_cpu, process_cpu
    from videogen.render.stings import plan_stings
    from videogen.render.templates import load_template

    template = load_template(ROOT / "examples" / "brands" / "gazette", ROOT / "templates").at_size(height)
    stings = plan_stings(template)

    def cpu() -> float:
        return process_cpu() + children_cpu()

    t0, w0 = cpu(), time.perf_counter()
    source, _ = stings.frame_sources(template.width, template.height)
    assert source is not None
    buf = bytearray(template.width * template.height * 3 // 2)
    for _ in range(stings.intro_frames):
        source.fill(buf)
    source.close()
    frames_cpu, frames_wall = cpu() - t0, time.perf_counter() - w0
    t0 = cpu()
    stings.sounds(22050, template)
    return {"frames": stings.intro_frames, "cpu_ms_per_frame": round(1000 * frames_cpu / stings.intro_frames, 2),
            "wall_ms_per_frame": round(1000 * frames_wall / stings.intro_frames, 2),
            "sound_cpu_ms": round(1000 * (cpu() - t0), 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--article", default=str(ROOT / "examples" / "articles" / "en-space-exhibition.json"))
    ap.add_argument("--height", type=int, default=1080)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--alone", action="store_true", help="only the sting's frames and sound, no render")
    args = ap.parse_args()
    if args.alone:
        print(json.dumps({"height": args.height, "loadavg": os.getloadavg(), "sting_alone": sting_alone(args.height)}))
        return 0
    work = Path(tempfile.mkdtemp(prefix="sting-cost-"))
    cache = work / "cache"
    runs = {"intro": variant(work / "with", True), "no intro": variant(work / "without", False)}
    render(ROOT, runs["intro"], Path(args.article), 144, cache, work / "warm")
    results: dict[str, list[dict]] = {name: [] for name in runs}
    for k in range(args.repeat):
        for name, toml in runs.items():
            results[name].append(render(ROOT, toml, Path(args.article), args.height, cache, work / f"{k}-{name}"))
    summary = {}
    for name, rs in results.items():
        frames = [r["timings"]["frames"] for r in rs]
        cpu = [r["cpu_s"] for r in rs]
        summary[name] = {"frames_s_median": round(statistics.median(frames), 3), "frames_s": frames,
                         "cpu_s_median": round(statistics.median(cpu), 3), "cpu_s": cpu,
                         "n_frames": rs[0]["frames"], "duration": rs[0]["duration"]}
    added = summary["intro"]["n_frames"] - summary["no intro"]["n_frames"]
    extra = summary["intro"]["frames_s_median"] - summary["no intro"]["frames_s_median"]
    per_frame = summary["no intro"]["frames_s_median"] / summary["no intro"]["n_frames"]
    print(json.dumps({"height": args.height, "loadavg": os.getloadavg(), "runs": summary, "sting_frames": added,
                      "sting_extra_frames_s": round(extra, 3),
                      "sting_ms_per_frame": round(1000 * extra / max(1, added), 2),
                      "narrated_ms_per_frame": round(1000 * per_frame, 2),
                      "sting_alone": sting_alone(args.height),
                      "sting_extra_cpu_s": round(summary["intro"]["cpu_s_median"] - summary["no intro"]["cpu_s_median"], 3)},
                     indent=2))
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
