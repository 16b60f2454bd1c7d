"""Issue 18's closing note: how long a script correction takes against a full render.

Renders the French sample (examples/articles/fr-chine-ia.json, ~80 s) through the service with
an empty narration cache (the full render), corrects the spoken text of one sentence
(``VideoService.correct``, what ``PUT /v1/videos/{id}/script`` does) and renders that; then
forces a plain rerender with the cache warm (every sentence cached), to separate narration from
drawing and encoding; and the same correction again with the layer cache off
(``VIDEOGEN_LAYER_CACHE_MB=0``), to show what reusing the prepared layers saves. Prints each
render's seconds, its narration, layers and frames stages and cache hits.

Run: ``PYTHONPATH=. python scripts/bench_script_correction.py [--height 1080] [--tts auto]``."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from videogen.render.article import load_articles
from videogen.render.cputime import children_cpu, process_cpu
from videogen.service.videos import JobOptions, VideoService
from videogen.settings import Settings

SAMPLE = Path(__file__).resolve().parent.parent / "examples" / "articles" / "fr-chine-ia.json"


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (ffmpeg, espeak-ng): steadier than
    wall time on a machine shared with other work."""
    return process_cpu() + children_cpu()


def run(svc: VideoService, job_id: str) -> dict[str, float]:
    t, cpu = time.perf_counter(), cpu_seconds()
    outcome = svc.run(job_id, "bench")
    seconds = time.perf_counter() - t
    cpu = cpu_seconds() - cpu
    assert outcome.status == "done", outcome
    job = svc.store.get(job_id)
    m = json.loads(b"".join(svc.storage.read(job.output or "", "manifest.json")))
    t = m["timings"]
    return {"seconds": round(seconds, 1), "cpu": round(cpu, 1), "load": round(os.getloadavg()[0], 1),
            "narration": t.get("narration", 0.0),
            "layers": t.get("layers", 0.0) + t.get("layers_overlapped", 0.0), "frames": t.get("frames", 0.0),
            "cache_hits": m["narration"]["cache_hits"], "lines": m["narration"]["lines"],
            "layer_hits": m.get("layer_cache", {}).get("hits", 0),
            "layer_misses": m.get("layer_cache", {}).get("misses", 0),
            "duration": m["duration"], "voice": m["narration"]["voice"]}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--height", type=int, default=None, help="render height (default: the template's)")
    p.add_argument("--tts", default="auto")
    p.add_argument("--article", type=Path, default=SAMPLE, help="article JSON (default: the French sample)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as home:
        svc = VideoService(Settings(home=Path(home)))
        svc.migrate()
        article = load_articles(args.article)[0]
        options = JobOptions(height=args.height, tts=args.tts, max_duration=120)
        job, _ = svc.enqueue(article, options, local=True)
        full = run(svc, job.id)
        sentences = [{"caption": c, "spoken": s} for c, s in svc.script_of(svc.store.get(job.id))]
        k = len(sentences) // 2
        sentences[k]["spoken"] = sentences[k]["spoken"].rstrip(".") + (", selon l'agence." if article.lang == "fr" else ", officials said.")
        corrected = run(svc, svc.correct(job.id, sentences).id)
        again, _ = svc.rerender(job.id)
        warm = run(svc, again.id)
        no_layers = VideoService(Settings(home=Path(home), layer_cache_mb=0))
        sentences[k]["spoken"] = sentences[k]["spoken"].rstrip(".") + " encore."  # another new sentence
        uncached = run(no_layers, no_layers.correct(job.id, sentences).id)
    print(f"load average {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} cores")
    for name, r in (("full render, cold caches", full), ("one sentence corrected", corrected),
                    ("full rerender, warm caches", warm), ("one sentence corrected, no layer cache", uncached)):
        print(f"{name:<40} {r['seconds']:6.1f} s (CPU {r['cpu']:5.1f} s, load {r['load']:4.1f})  narration {r['narration']:5.1f} s  layers {r['layers']:5.1f} s  "
              f"frames {r['frames']:5.1f} s  narration cache hits {r['cache_hits']}/{r['lines']}  "
              f"layer cache hits {r['layer_hits']}/{r['layer_hits'] + r['layer_misses']}  "
              f"clip {r['duration']:.1f} s  {r['voice']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
