"""Measure what subject-aware framing costs and shows (issue 19): the time the frames stage
and the frame function take for one article in one template, the face detection time per
photo, and PNG frames of every photo scene, with the height of the faces seen in them.

    PYTHONPATH=$PWD .venv/bin/python scripts/bench_framing.py \
        [--article examples/articles/en-space-exhibition.json] [--template vertical] \
        [--height 360] [--fps 30] [--repeat 3] [--png DIR]

Runs on any checkout (the tree on ``PYTHONPATH`` is measured, with its own templates), so the
same command gives the numbers before and after a change. Faces in the saved frames are found
with OpenCV's Haar cascade directly (not through the code measured): the fraction printed is
the tallest face's height over the frame height. Not a test: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

import videogen
from videogen.render import compose
from videogen.render.article import load_article
from videogen.render.images import ImageLimits, load_images
from videogen.render.pipeline import RenderOptions, render_article
from videogen.settings import Settings

ROOT = Path(videogen.__file__).resolve().parents[1]


def faces_in(rgb: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Frontal faces in an RGB frame (x, y, w, h), OpenCV's stock cascade."""
    cascade = cv2.CascadeClassifier(os.path.join(cv2.data.haarcascades, "haarcascade_frontalface_default.xml"))
    gray = cv2.equalizeHist(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
    found = cascade.detectMultiScale(gray, scaleFactor=1.05, minNeighbors=5, minSize=(12, 12))
    return [tuple(int(v) for v in f) for f in found]


def check_faces(seen: list, renderer: compose.FrameRenderer) -> None:
    """Print, per scene, the frames where a face was seen, the face heights and the frames
    where a face touches the frame's edge (a cut face); then the geometric check."""
    per_scene: dict[int, list] = {}
    for scene, faces, shape in seen:
        per_scene.setdefault(scene, []).append((faces, shape))
    for scene, frames in sorted(per_scene.items()):
        heights = [f[3] / shape[0] for faces, shape in frames for f in faces]
        touching = sum(1 for faces, shape in frames
                       if any(x <= 0 or y <= 0 or x + w >= shape[1] or y + h >= shape[0] for x, y, w, h in faces))
        with_face = sum(1 for faces, _ in frames if faces)
        span = f", face height {min(heights):.1%}-{max(heights):.1%} of the frame" if heights else ""
        print(f"  scene{scene}: {len(frames)} frames (crossfades left out), a face in {with_face}{span}, "
              f"{touching} frame(s) with a face touching the edge")
    body = renderer.layers.ready_body()
    scenes = [s for s in renderer.tl.segments if s.kind == "scene"]
    for k, seg in enumerate(scenes):
        layer = body.scenes[k]
        keep = getattr(layer.move, "keep", None)
        if keep is None:
            continue
        cw, ch = layer.canvas.w, layer.canvas.h
        n = bad = 0
        for i in range(int(seg.start * renderer.tl.fps), int(seg.end * renderer.tl.fps) + 1):
            s, x0, y0 = layer.matrix((i + 0.5) / renderer.tl.fps - seg.start)
            n += 1
            inside = (x0 <= keep.x0 * cw + 1e-6 and y0 <= keep.y0 * ch + 1e-6
                      and x0 + layer.out_w * s >= keep.x1 * cw - 1e-6 and y0 + layer.out_h * s >= keep.y1 * ch - 1e-6)
            bad += not inside
        print(f"  scene{k}: kept box {[round(v, 3) for v in (keep.x0, keep.y0, keep.x1, keep.y1)]} of the canvas, "
              f"inside the Ken Burns window in {n - bad} of {n} frames")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--article", type=Path, default=ROOT / "examples" / "articles" / "en-space-exhibition.json")
    p.add_argument("--template", default="vertical")
    p.add_argument("--height", type=int, default=360)
    p.add_argument("--fps", type=float, default=30)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--tts", default="espeak")
    p.add_argument("--passes", type=int, default=5,
                   help="then draw every frame of the last render again this many times, without the encoder "
                        "(the best pass is the least disturbed by other work on the machine)")
    p.add_argument("--png", type=Path, help="save the middle frame of every scene here")
    p.add_argument("--check-faces", action="store_true",
                   help="one more render, not timed: faces in every frame of every scene (none may touch the frame's edge), "
                        "and, where the tree has subject framing, the kept box inside the Ken Burns window of every frame")
    args = p.parse_args()

    home = Path(tempfile.mkdtemp(prefix="bench-framing-"))
    config = Settings(home=home, templates_dir=str(ROOT / "templates")).render_config()
    article = load_article(args.article)
    opts = RenderOptions(template=args.template, height=args.height, fps=args.fps, tts=args.tts,  # type: ignore[arg-type]
                         allow_outside_paths=True)
    print(f"tree {ROOT}  opencv {cv2.__version__}  load {os.getloadavg()[0]:.2f}")

    # Face detection per photo, where the tree has it.
    try:
        from videogen.render import framing
    except ImportError:
        framing = None  # type: ignore[assignment]
    if framing is not None:
        cv2.setNumThreads(1)  # as in a render
        loaded, _ = load_images(article, ImageLimits(allow_outside=True))
        for li in loaded:
            times = []
            for _ in range(5):
                t = time.perf_counter()
                subject = framing.subject_box(li.image)
                times.append(time.perf_counter() - t)
            box = subject.box.as_list() if subject.box else None
            print(f"detect images[{li.index}] {li.image.width}x{li.image.height}: {statistics.median(times) * 1000:.1f} ms "
                  f"(min {min(times) * 1000:.1f}) -> {subject.kind}, focus {[round(v, 3) for v in subject.focus]}, box {box}")

    # The frame function timed inside a real render; chosen frames kept (outside the timing).
    spent: list[float] = []
    keep_idx: dict[int, str] = {}
    shots: dict[str, np.ndarray] = {}
    checking: dict[str, list] = {}
    renderers: list[compose.FrameRenderer] = []
    original = compose.FrameRenderer.frame

    def timed(self: compose.FrameRenderer, i: int, out: compose.Planes | None = None) -> compose.Planes:
        t = time.perf_counter()
        res = original(self, i, out)
        spent.append(time.perf_counter() - t)
        if not renderers or renderers[-1] is not self:
            renderers.append(self)
        if "faces" in checking:
            seen = self.active((i + 0.5) / self.tl.fps)
            seg = seen[-1][0] if seen else None
            if seg is not None and seg.kind == "scene" and len(seen) == 1:
                rgb = res.to_rgb()
                checking["faces"].append((seg.scene, faces_in(rgb), rgb.shape))
        if not keep_idx:
            fps = self.tl.fps
            for k, seg in enumerate(s for s in self.tl.segments if s.kind == "scene"):
                keep_idx[int((seg.start + seg.end) / 2 * fps)] = f"scene{k}-mid"
        if args.png and i in keep_idx:
            shots[keep_idx[i]] = res.to_rgb().copy()
        return res

    compose.FrameRenderer.frame = timed  # type: ignore[method-assign]
    frames_s, layers_s, per_frame_ms = [], [], []
    for r in range(args.repeat + 1):  # the first run fills the narration cache and is not counted
        spent.clear()
        out = home / f"clip{r}"
        res = render_article(article, opts, out, config)
        if r == 0:
            continue
        frames_s.append(res.manifest["timings"]["frames"])
        layers_s.append(res.manifest["timings"]["layers"])
        per_frame_ms.append(sum(spent) / len(spent) * 1000)
    last = renderers[-1]
    best, cpu = [], []
    for _ in range(args.passes):
        again = compose.FrameRenderer(last.tl, last.layers, last.w, last.h)
        t, c = time.perf_counter(), time.thread_time()
        for i in range(last.tl.n_frames):
            original(again, i)
        best.append((time.perf_counter() - t) / last.tl.n_frames * 1000)
        cpu.append((time.thread_time() - c) / last.tl.n_frames * 1000)
    if args.check_faces:
        checking["faces"] = []
        render_article(article, opts, home / "clip-check", config)
        check_faces(checking["faces"], renderers[-1])
    n = res.manifest["frames"]
    print(f"{args.template} {args.height}p{args.fps:g}, {n} frames, {args.repeat} runs (median; all values in brackets)")
    print(f"  frames stage   {statistics.median(frames_s):.3f} s  {frames_s}")
    print(f"  layers stage   {statistics.median(layers_s):.3f} s  {layers_s}")
    print(f"  frame function {statistics.median(per_frame_ms):.3f} ms/frame  {[round(v, 3) for v in per_frame_ms]}")
    if best:
        print(f"  frame function alone, best of {len(best)} passes: {min(best):.3f} ms/frame  {[round(v, 3) for v in best]}")
        print(f"  frame function alone, CPU time (this thread), median of {len(cpu)} passes: {statistics.median(cpu):.3f} ms/frame  "
              f"{[round(v, 3) for v in cpu]}")

    if args.png:
        args.png.mkdir(parents=True, exist_ok=True)
        for name, rgb in sorted(shots.items()):
            path = args.png / f"{args.template}-{name}.png"
            Image.fromarray(rgb).save(path)
            faces = faces_in(rgb)
            tallest = max((f[3] for f in faces), default=0)
            print(f"  {path}: {len(faces)} face(s) {faces}, tallest {tallest / rgb.shape[0]:.1%} of the frame height")
    print(json.dumps({"frames_s": frames_s, "layers_s": layers_s, "frame_ms": per_frame_ms, "frame_only_ms": best, "frame_only_cpu_ms": cpu}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
