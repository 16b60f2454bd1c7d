"""``videogen bench --quick``: the benchmark runs end to end and reports sane numbers. No
timing assertions: timings depend on the machine."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from videogen.cli import bench

from .helpers import ROOT


def test_quick_bench_reports_project_floor_and_stages(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDEOGEN_")}
    # Tests run on a busy machine: no waiting for a quiet one, ratios printed anyway.
    out = subprocess.run([sys.executable, "-m", "videogen.cli", "bench", "--quick", "--skip-reference", "--json", "--repeat", "2",
                          "--wait-quiet", "0", "--allow-busy"],
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
    # Every run has the load average it started at, flagged against the threshold (1.0).
    runs = [x for m in (cold, warm, floor, floor_av) for x in m["runs"]]
    assert all(x["load_before"] >= 0 and x["busy"] == (x["load_before"] >= 1.0) for x in runs)
    assert quick["busy_runs"] == sum(x["busy"] for x in runs)
    # CPU-seconds by part from the render's own clocks: the encoder child, the frame drawing
    # and pipe threads, narration (cold: synthesised), images, layers, audio, the rest.
    parts = quick["cpu_parts_cold"]
    for part in ("x264", "drawing", "writer", "narration", "images", "layers", "audio", "other", "total", "startup"):
        assert parts[part] >= 0, (part, parts)
    assert parts["x264"] > 0 and parts["drawing"] > 0 and parts["narration"] > 0
    named = sum(parts[k] for k in ("x264", "drawing", "writer", "narration", "images", "layers", "audio", "other"))
    assert abs(named - parts["total"]) < 0.05 * parts["total"] + 0.1  # medians of parts: close to the total's
    assert parts["startup"] < parts["total"]
    assert parts["total"] <= cold["cpu_s"] * 1.05 + 0.1  # the bench's own measure of the whole tree
    assert quick["cpu_parts_warm"]["narration"] < parts["narration"]  # from the cache
    assert not list(tmp_path.iterdir()), "the benchmark left files behind in the working folder"


def test_bench_table_is_readable(tmp_path):
    out = subprocess.run([sys.executable, "-m", "videogen.cli", "bench", "--quick", "--skip-reference",
                          "--reference-seconds", "quick=100", "--repeat", "1", "--wait-quiet", "0", "--allow-busy"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    text = out.stdout
    for word in ("project cold", "project warm", "floor", "floor with audio", "reference (given)", "stages (cold)", "peak RSS",
                 "CPU-s by part (cold, median): x264/ffmpeg", "frame drawing", "start-up until the first frame",
                 "project cold / floor:", "load average before"):
        assert word in text, text


def test_bench_refuses_a_ratio_measured_on_a_busy_machine(tmp_path):
    """Threshold 0: every run counts as busy. Without --allow-busy no ratio is printed."""
    out = subprocess.run([sys.executable, "-m", "videogen.cli", "bench", "--quick", "--skip-reference", "--repeat", "1",
                          "--busy-load", "0", "--wait-quiet", "0", "--json"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    quick = json.loads(out.stdout)["resolutions"]["quick"]
    assert quick["busy_runs"] == 4  # cold, warm, floor, floor with audio
    assert quick["ratio_cold_to_floor"] is None and quick["ratio_warm_to_floor"] is None
    assert all(x["busy"] for x in quick["project_cold"]["runs"])
    assert "flagged (busy machine)" in out.stderr
    table = bench.table(json.loads(out.stdout))
    assert "no ratio" in table and "--allow-busy" in table and "cold / floor:" not in table


def test_waiting_for_a_quiet_machine_gives_up_after_the_wait(monkeypatch):
    loads = iter([3.0, 2.0, 1.5, 0.5])
    monkeypatch.setattr(bench, "load_average", lambda: next(loads))
    slept: list[float] = []
    assert bench.wait_for_quiet(bench.Quiet(1.0, 60.0), sleep=slept.append) == (0.5, False)
    assert len(slept) == 3  # looked again until it fell below the threshold
    monkeypatch.setattr(bench, "load_average", lambda: 2.0)
    assert bench.wait_for_quiet(bench.Quiet(1.0, 0.0)) == (2.0, True)  # no wait: flagged at once


def test_bench_refuses_zero_repeats():
    out = subprocess.run([sys.executable, "-m", "videogen.cli", "bench", "--quick", "--repeat", "0"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "--repeat" in out.stderr


def test_cpu_parts_nest_without_counting_twice():
    from videogen.render.cputime import CpuParts

    def spin(seconds: float) -> None:
        import time

        end = time.thread_time() + seconds
        while time.thread_time() < end:
            pass

    cpu = CpuParts()
    with cpu.thread("layers"):
        spin(0.05)
        with cpu.thread("audio"):  # the outer part's clock stops meanwhile
            spin(0.1)
        spin(0.05)
    assert 0.1 <= cpu.seconds["audio"] < 0.13
    assert 0.1 <= cpu.seconds["layers"] < 0.13
    timed = cpu.timed("images", spin)
    timed(0.05)
    t = cpu.timings()
    assert t["cpu_images"] >= 0.05 and t["cpu_total"] >= t["cpu_layers"] + t["cpu_audio"] + t["cpu_images"]
    assert "cpu_startup" not in t  # no frame drawn
    cpu.mark_first_frame()
    assert cpu.timings()["cpu_startup"] > 0 and cpu.timings()["first_frame"] >= 0
