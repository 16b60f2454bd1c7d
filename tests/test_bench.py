"""``videogen bench --quick``: the benchmark runs end to end and reports sane numbers. No
timing assertions: timings depend on the machine."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from .helpers import ROOT


def test_quick_bench_reports_project_floor_and_stages(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDEOGEN_")}
    out = subprocess.run([sys.executable, "-m", "videogen.cli", "bench", "--quick", "--skip-reference", "--json", "--repeat", "2"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    r = json.loads(out.stdout)
    assert r["machine"]["cpus"] >= 1
    quick = r["resolutions"]["quick"]
    cold, warm, floor, floor_av = quick["project_cold"], quick["project_warm"], quick["floor"], quick["floor_with_audio"]
    for m in (cold, warm, floor, floor_av):
        assert m["wall_s"] > 0 and m["cpu_s"] > 0
        assert 20 < m["peak_rss_mb"] < 4000, m  # the whole tree: at least a Python or an ffmpeg
    # Each measured twice, interleaved; the median run is reported with every run beside it.
    for m in (cold, warm, floor, floor_av):
        assert len(m["runs"]) == 2 and m["wall_s"] in [x["wall_s"] for x in m["runs"]]
        assert m["max_peak_rss_mb"] == max(x["peak_rss_mb"] for x in m["runs"])
    # The same clip twice: the second time every sentence comes from the narration cache.
    assert cold["extra"]["cache_hits"] == 0
    assert warm["extra"]["cache_hits"] > 0
    assert cold["extra"]["frames"] == warm["extra"]["frames"] == floor["extra"]["frames"] == floor_av["extra"]["frames"] > 0
    assert floor_av["cpu_s"] > floor["cpu_s"]  # the same frames, plus the audio
    assert abs(cold["extra"]["frames"] / quick["fps"] - cold["extra"]["duration_s"]) < 0.1
    # Project renders include narration and the encoder; the floor is ffmpeg alone encoding the
    # same frames and audio.
    assert cold["cpu_s"] > floor["cpu_s"]
    assert quick["ratio_cold_to_floor"] == round(cold["wall_s"] / floor["wall_s"], 2)
    for stage in ("script", "narration", "timeline", "layers", "frames", "publish", "total"):
        assert cold["extra"]["stages_s"][stage] >= 0
    assert cold["extra"]["stages_s"]["frames"] <= cold["extra"]["stages_s"]["total"] <= cold["wall_s"]
    assert "reference" not in quick
    assert not list(tmp_path.iterdir()), "the benchmark left files behind in the working folder"


def test_bench_table_is_readable(tmp_path):
    out = subprocess.run([sys.executable, "-m", "videogen.cli", "bench", "--quick", "--skip-reference",
                          "--reference-seconds", "quick=100", "--repeat", "1"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    text = out.stdout
    for word in ("project cold", "project warm", "floor", "floor with audio", "reference (given)", "stages (cold)", "peak RSS"):
        assert word in text, text


def test_bench_refuses_zero_repeats():
    out = subprocess.run([sys.executable, "-m", "videogen.cli", "bench", "--quick", "--repeat", "0"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "--repeat" in out.stderr
