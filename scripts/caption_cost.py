"""What each caption style costs: the frames stage (compositing + x264) of the same article in
the ``vertical`` template with ``caption_style`` sentence, words and none, optionally against
another checkout (e.g. main, "today's" sentence captions).

    PYTHONPATH=. python scripts/caption_cost.py [--height 1920] [--repeat 3] [--baseline /work/main]

By default the frames are composited exactly as for the encoder but not encoded, and the
CPU seconds of that thread are reported (stable under load; x264's share does not depend on
the caption style); ``--encode`` times the real frames stage instead. Each render runs in its
own process (``render_article`` from the checkout named), the
narration cache shared and warmed first, runs interleaved; the median of ``--repeat`` runs is
printed with every value. Not a test: timings depend on the machine and its load."""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from videogen.render.cputime import children_cpu

ROOT = Path(__file__).resolve().parent.parent

_RENDER = """
import json, sys, time
from pathlib import Path
import numpy as np
import videogen.render.pipeline as pipeline
from videogen.render.compose import Planes
compose_cpu = []

def composite_only(renderer, timeline, wav, video, template, tuning, progress, stings=None):
    # Every frame composited as for the encoder, no x264: this thread's CPU seconds.
    out = Planes(template.width, template.height)
    t0 = time.thread_time()
    for i in range(timeline.n_frames):
        renderer.frame(i, out)
    compose_cpu.append(time.thread_time() - t0)
    video.write_bytes(b"")

if sys.argv[6] == "compose":
    pipeline._encode = composite_only
from videogen.render.article import parse_article
from videogen.render.config import RenderConfig
from videogen.render.pipeline import RenderOptions, render_article
article_path, template, height, cache, out = sys.argv[1:6]
data = json.loads(Path(article_path).read_text())
article = parse_article(data, base_dir=Path(article_path).parent)
config = RenderConfig(templates_dir=Path(template).parent, cache_dir=Path(cache))
r = render_article(article, RenderOptions(template=template, height=int(height), allow_outside_paths=True), Path(out), config)
print(json.dumps({"timings": r.manifest["timings"], "pages": r.manifest["captions"].get("pages"),
                  "compose_cpu": compose_cpu[0] if compose_cpu else None,
                  "duration": r.manifest["duration"], "frames": r.manifest["frames"]}))
"""


def template_variant(tree: Path, style: str | None, folder: Path) -> Path:
    """``vertical.toml`` of ``tree`` with ``caption_style`` set (None: as the tree has it)."""
    text = (tree / "templates" / "vertical.toml").read_text(encoding="utf-8")
    if style is not None:
        text = re.sub(r'caption_style = "\w+"', f'caption_style = "{style}"', text)
    name = f"v{abs(hash((str(tree), style))) % 10**8}"
    text = re.sub(r'^name = "vertical"', f'name = "{name}"', text, flags=re.M)
    path = folder / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def render(tree: Path, template: Path, article: Path, height: int, cache: Path, out: Path, mode: str = "encode") -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    before = children_cpu()
    proc = subprocess.run([sys.executable, "-c", _RENDER, str(article), str(template), str(height), str(cache), str(out),
                           mode],
                          env=env, capture_output=True, text=True, check=True)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    # The whole render's CPU (Python and ffmpeg): steadier than wall time on a shared machine.
    result["cpu_s"] = round(children_cpu() - before, 3)
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--article", default=str(ROOT / "examples" / "articles" / "en-space-exhibition.json"))
    ap.add_argument("--height", type=int, default=1920)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--baseline", help="another checkout: its vertical template as it is (today's captions)")
    ap.add_argument("--styles", default="sentence,words,none", help="caption styles to render from this checkout")
    ap.add_argument("--encode", action="store_true",
                    help="time the real frames stage (with x264: wall time, noisy under load) instead of "
                         "the CPU seconds of compositing the frames alone (the default)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="caption-cost-"))
    cache = work / "cache"
    runs: list[tuple[str, Path, Path]] = []
    if args.baseline:
        runs.append(("baseline", Path(args.baseline), template_variant(Path(args.baseline), None, work)))
    for style in args.styles.split(","):
        runs.append((style, ROOT, template_variant(ROOT, style, work)))
    for _, tree, template in runs:  # warm the narration cache (and the Piper patch) per checkout
        render(tree, template, Path(args.article), 144, cache, work / "warm")
    results: dict[str, list[dict]] = {name: [] for name, _, _ in runs}
    for k in range(args.repeat):
        for name, tree, template in runs:
            results[name].append(render(tree, template, Path(args.article), args.height, cache, work / f"{name}-{k}",
                                        "encode" if args.encode else "compose"))
    summary = {}
    for name, rs in results.items():
        frames = [r["timings"]["frames"] if args.encode else round(r["compose_cpu"], 3) for r in rs]
        layers = [r["timings"]["layers"] for r in rs]
        cpu = [r["cpu_s"] for r in rs]
        summary[name] = {"frames_s_median": round(statistics.median(frames), 3), "frames_s": frames,
                         "render_cpu_s_median": round(statistics.median(cpu), 3), "render_cpu_s": cpu,
                         "layers_s_median": round(statistics.median(layers), 3), "pages": rs[0]["pages"],
                         "clip_s": rs[0]["duration"], "n_frames": rs[0]["frames"]}
    measure = "frames stage wall s (x264 included)" if args.encode else "compositing CPU s (frames stage less x264)"
    print(json.dumps({"height": args.height, "measure": measure, "loadavg": os.getloadavg(), "styles": summary}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
