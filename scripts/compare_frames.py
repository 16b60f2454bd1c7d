"""Are the frames the same as before a speed change? (issue 22)

Renders the benchmark's article (``videogen bench``: four photos, 13 sentences) with the code
of a git revision (``--before``, default ``main``; unpacked with ``git archive`` into a
temporary folder) and with this checkout, each through ``videogen render`` with the same
narration cache, for every template given (default: ``news``, sentence captions, and
``square``, the ``words`` style), then decodes frames of both clips at ``--times`` evenly
spread moments (title card, Ken Burns scenes, crossfades, captions, outro) and prints the PSNR
of each frame pair (8-bit RGB, dB; ``inf``: identical). Resampling noise alone stays above
40 dB; a moved window or a missing caption falls far below.

Usage: ``python scripts/compare_frames.py [--before main] [--height 360] [--times 24]``.
Exit status 1 when a frame falls below ``--min-psnr`` (default 40).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from videogen.cli.bench import write_article  # noqa: E402
from videogen.render.encode import ffmpeg_exe  # noqa: E402


def unpack(rev: str, into: Path) -> Path:
    """The tree of ``rev`` in ``into`` (code, templates and examples)."""
    into.mkdir(parents=True)
    archive = into.parent / "before.tar"
    subprocess.run(["git", "archive", "-o", str(archive), rev], cwd=ROOT, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    archive.unlink()
    return into


def render(tree: Path, article: Path, out: Path, template: str, height: int, fps: float, cache: Path) -> Path:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDEOGEN_")}
    env.update(PYTHONPATH=str(tree), VIDEOGEN_HOME=str(out.parent / "home"), VIDEOGEN_CACHE_DIR=str(cache))
    done = subprocess.run([sys.executable, "-m", "videogen.cli", "render", str(article), "-o", str(out), "-q",
                           "--template", template, "--height", str(height), "--fps", f"{fps:g}"],
                          cwd=tree, env=env, capture_output=True, text=True, check=True)
    return Path(done.stdout.strip().splitlines()[-1]) / "video.mp4"


def frame_at(video: Path, t: float) -> np.ndarray:
    """The frame shown at ``t`` seconds, as RGB."""
    probe = subprocess.run([ffmpeg_exe(), "-v", "error", "-ss", f"{t:.3f}", "-i", str(video), "-frames:v", "1",
                            "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True, check=True)
    w, h = size(video)
    return np.frombuffer(probe.stdout, np.uint8).reshape(h, w, 3)


def size(video: Path) -> tuple[int, int]:
    out = subprocess.run([ffmpeg_exe(), "-i", str(video)], capture_output=True, text=True).stderr
    for token in out.replace(",", " ").split():
        if "x" in token and token.split("x")[0].isdigit() and token.split("x")[1].isdigit():
            w, h = token.split("x")
            return int(w), int(h)
    raise RuntimeError(f"no frame size for {video}")


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--before", default="main", help="git revision of the old code (default main)")
    p.add_argument("--template", action="append", help="templates to compare (default news and square)")
    p.add_argument("--height", type=int, default=360)
    p.add_argument("--fps", type=float, default=25.0)
    p.add_argument("--times", type=int, default=24, help="frames compared per clip (default 24)")
    p.add_argument("--min-psnr", type=float, default=40.0)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    worst = math.inf
    results = {}
    with tempfile.TemporaryDirectory(prefix="compare-frames-") as tmp:
        work = Path(tmp)
        before = unpack(args.before, work / "before")
        article = write_article(work / "article")
        for template in args.template or ["news", "square"]:
            old = render(before, article, work / f"old-{template}", template, args.height, args.fps, work / "cache")
            new = render(ROOT, article, work / f"new-{template}", template, args.height, args.fps, work / "cache")
            duration = json.loads((new.parent / "manifest.json").read_text())["duration"]
            times = [duration * (k + 0.5) / args.times for k in range(args.times)]
            values = [psnr(frame_at(old, t), frame_at(new, t)) for t in times]
            worst = min(worst, *values)
            results[template] = {"times": [round(t, 2) for t in times], "psnr_db": [round(v, 2) for v in values]}
            shown = " ".join("inf" if math.isinf(v) else f"{v:.1f}" for v in values)
            finite = [v for v in values if math.isfinite(v)]
            print(f"{template}: {len(values)} frames, {len(values) - len(finite)} identical; PSNR dB min "
                  f"{min(values):.1f}, each: {shown}")
    if args.json:
        print(json.dumps(results))
    return 0 if worst >= args.min_psnr else 1


if __name__ == "__main__":
    sys.exit(main())
