"""Are the frames the same as before a speed change? (issue 22)

Renders the benchmark's article (``videogen bench``: four photos, 13 sentences) with the code
of a git revision (``--before``, default ``main``; unpacked with ``git archive`` into a
temporary folder) and with this checkout, each through ``videogen render`` with the same
narration cache, for every template given (default: ``news``, sentence captions, and
``square``, the ``words`` style). Every ``--every``-th frame is kept as drawn, before the
encoder (its I420 buffer, caught in ``VideoEncoder.encode_frames``: x264 would turn one
changed frame into noise over the frames after it), from the title card through the Ken
Burns scenes, crossfades and captions to the outro; the PSNR of each pair is printed (all
three planes, dB; ``inf``: identical). Resampling noise alone stays above 40 dB; a window
moved by a pixel or a missing caption falls far below.

Usage: ``python scripts/compare_frames.py [--before main] [--height 360] [--every 10]``.
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


def unpack(rev: str, into: Path) -> Path:
    """The tree of ``rev`` in ``into`` (code, templates and examples)."""
    into.mkdir(parents=True)
    archive = into.parent / "before.tar"
    subprocess.run(["git", "archive", "-o", str(archive), rev], cwd=ROOT, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    archive.unlink()
    return into


#: Run in the tree compared: ``videogen render`` with every EVERY-th frame written, as drawn,
#: to FOLDER/<index>.yuv.
KEEP_FRAMES = """
import sys
from pathlib import Path
from videogen.render import encode
folder, every = Path(sys.argv[1]), int(sys.argv[2])
encode_frames = encode.VideoEncoder.encode_frames
def keeping(self, n, draw):
    def draw_and_keep(i, buf):
        draw(i, buf)
        if i % every == 0:
            (folder / f"{i}.yuv").write_bytes(bytes(buf))
    return encode_frames(self, n, draw_and_keep)
encode.VideoEncoder.encode_frames = keeping
from videogen.cli import main
raise SystemExit(main(sys.argv[3:]))
"""


def render(tree: Path, article: Path, out: Path, template: str, height: int, fps: float, cache: Path,
           every: int) -> Path:
    """Render with the code of ``tree``; returns the folder of the frames kept."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDEOGEN_")}
    env.update(PYTHONPATH=str(tree), VIDEOGEN_HOME=str(out.parent / "home"), VIDEOGEN_CACHE_DIR=str(cache))
    frames = out.with_name(out.name + "-frames")
    frames.mkdir()
    subprocess.run([sys.executable, "-c", KEEP_FRAMES, str(frames), str(every), "render", str(article), "-o", str(out),
                    "-q", "--template", template, "--height", str(height), "--fps", f"{fps:g}"],
                   cwd=tree, env=env, capture_output=True, text=True, check=True)
    return frames


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--before", default="main", help="git revision of the old code (default main)")
    p.add_argument("--template", action="append", help="templates to compare (default news and square)")
    p.add_argument("--height", type=int, default=360)
    p.add_argument("--fps", type=float, default=25.0)
    p.add_argument("--every", type=int, default=10, help="compare every N-th frame (default 10)")
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
            old = render(before, article, work / f"old-{template}", template, args.height, args.fps, work / "cache",
                         args.every)
            new = render(ROOT, article, work / f"new-{template}", template, args.height, args.fps, work / "cache",
                         args.every)
            indices = sorted(int(p.stem) for p in new.glob("*.yuv"))
            if indices != sorted(int(p.stem) for p in old.glob("*.yuv")):
                print(f"{template}: the clips differ in length")
                return 1
            values = [psnr(np.fromfile(old / f"{i}.yuv", np.uint8), np.fromfile(new / f"{i}.yuv", np.uint8))
                      for i in indices]
            worst = min(worst, *values)
            results[template] = {"frames": indices, "psnr_db": [round(v, 2) for v in values]}
            finite = [v for v in values if math.isfinite(v)]
            lowest = sorted(zip(values, indices, strict=True))[:5]
            print(f"{template}: {len(values)} frames (every {args.every}th), {len(values) - len(finite)} identical; "
                  f"PSNR of the others min {min(values):.1f} dB, median "
                  f"{float(np.median(finite)) if finite else math.inf:.1f} dB; lowest: "
                  + ", ".join(f"frame {i} {v:.1f} dB" for v, i in lowest))
    if args.json:
        print(json.dumps(results))
    return 0 if worst >= args.min_psnr else 1


if __name__ == "__main__":
    sys.exit(main())
