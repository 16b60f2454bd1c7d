"""``videogen bench``: how fast and how lean the render is, against two reference points.

In one run, on this machine:

- **project**: ``videogen render`` (a subprocess, exactly what a user runs) of a 60 s article
  equivalent to the reference storyboard (the same French title and 13 sentences, four
  photos), narration included, first with an empty narration cache (cold), then again with
  it filled (warm);
- **reference**: the naive MoviePy render in ``--reference DIR`` (default ``shared/bench``
  beside the checkout; ``naive.py``), the way popular MoviePy tools do it (or a previously
  measured time given with ``--reference-seconds``);
- **floor**: ffmpeg alone encoding the very frames of the project's clip (decoded beforehand
  into a raw I420 file, not timed) with the project's own x264 settings: the least any
  renderer with these settings can cost. Also **floor with audio**: the same plus the clip's
  audio track (decoded into a WAV) encoded to AAC in the same ffmpeg, i.e. the same MP4 the
  project writes, with the same encoder tuning (``VIDEOGEN_X264_THREADS`` and the other
  encoder settings apply to both). On this 2-core machine AAC inside x264's process costs about 2 CPU-s and
  1 s of wall per minute of clip (0.8 CPU-s on its own), so the two floors differ.

A shared 2-core machine is noisy (the same ffmpeg command varies by ±10 % from one minute to
the next), so each measurement is repeated ``--repeat`` times (3 by default; the project
cold, warm and the floor interleaved, a fresh narration cache for every cold render) and the
median is reported, with every value kept in the JSON.

A busy machine makes the ratios lie: the floor needs both cores and slows down far more than
the render, which already shares them with itself. So the 1-minute load average is recorded
before every run (waiting up to ``--wait-quiet`` seconds for it to fall below ``--busy-load``,
1.0 by default: the previous run's own load decays in well under a minute); a run that still
starts at or above it is flagged, and the ratios are then not printed unless ``--allow-busy``
(they are then marked "busy machine"). The project's CPU-seconds are also reported by part
(x264/ffmpeg, frame drawing, pipe writer, narration, images, layers, audio, the rest; and the
start-up until the first frame), from the render's own clocks in the manifest's ``timings``
(``render.cputime``): CPU time depends far less on the machine's load than wall time.

Each is measured as wall time, CPU time (user + system, children included) and peak RSS of
the whole process tree (``/proc`` sampled every 50 ms: the sum over the process and all its
descendants). Also: ``--long`` (a 5-minute clip: peak RSS must not grow with length) and
``--service`` (clips per hour through ``videogen serve`` with one and two workers).

Not a test: timings depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from videogen.render.config import EncoderTuning
from videogen.render.cputime import children_cpu

if TYPE_CHECKING:
    from videogen.render.templates import Template

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "articles"
SHARED = ROOT.parent / "shared"  # beside the checkout: the reference render and the day's stories
REFERENCE_DIR = SHARED / "bench"
HOT_NEWS = [SHARED / "articles" / "hot-news-fr.jsonl", EXAMPLES / "hot-news-fr.jsonl"]
#: Settings passed on to the renders the benchmark starts (every other VIDEOGEN_* variable is
#: dropped): the encoder tuning, which the floor uses too.
TUNING_VARIABLES = tuple(f"VIDEOGEN_{f.name.upper()}" for f in fields(EncoderTuning))

# The reference storyboard's texts (shared/bench/storyboard.py): the same words to narrate and
# caption, so both clips carry the same content.
TITLE = ("La Chine propose une nouvelle organisation internationale de coopération en intelligence "
         "artificielle pour promouvoir une gouvernance mondiale inclusive")
SENTENCES = [
    "Pékin a présenté ce lundi un projet d'organisation mondiale pour l'IA.",
    "L'initiative vise à coordonner les règles entre pays développés et en développement.",
    "Selon le ministère, plus de trente États ont déjà manifesté leur intérêt.",
    "Le siège provisoire serait installé à Shanghai dès l'année prochaine.",
    "Les experts y voient une réponse aux initiatives américaines et européennes.",
    "La question de la sécurité des modèles reste au cœur des discussions.",
    "Bruxelles appelle à la prudence et à la transparence sur la gouvernance.",
    "Les entreprises du secteur saluent une volonté de dialogue international.",
    "Des ONG s'inquiètent toutefois de la place accordée aux droits humains.",
    "Un premier sommet pourrait se tenir avant la fin de l'année.",
    "L'ONU a indiqué qu'elle suivrait attentivement ces développements.",
    "Le texte fondateur doit encore être négocié entre les pays membres.",
    "Affaire à suivre dans les prochaines semaines.",
]
PHOTOS = ["astronaut.jpg", "rocket.jpg", "deep-field.jpg", "coffee.jpg"]
RESOLUTIONS = {"1080": (1080, 30.0), "720": (720, 25.0)}
QUICK = (180, 10.0)


# --- measuring a process tree ------------------------------------------------------------------

def rss_kb(pid: int) -> int:
    """Resident memory of one process in KiB (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):  # children started by any of its threads
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, their children, …)."""
    out: list[int] = []
    stack, seen = _children(pid), {pid}
    while stack:
        p = stack.pop()
        if p in seen:
            continue
        seen.add(p)
        out.append(p)
        stack += _children(p)
    return out


def tree_rss_kb(pid: int) -> int:
    """Resident memory of ``pid`` and all its descendants, in KiB."""
    return rss_kb(pid) + sum(rss_kb(p) for p in descendants(pid))


class TreeSampler:
    """Samples the tree RSS of ``pid`` every ``interval`` seconds in a thread; keeps the peak."""

    def __init__(self, pid: int, interval: float = 0.05):
        self.pid, self.interval, self.peak_kb = pid, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_kb = max(self.peak_kb, tree_rss_kb(self.pid))
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Measure:
    name: str
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    extra: dict[str, Any] = field(default_factory=dict)
    load_before: float | None = None  # 1-minute load average just before the run
    busy: bool = False  # load_before was at or above the busy threshold


@dataclass(frozen=True)
class Quiet:
    """When the machine counts as quiet enough to measure on."""

    busy_load: float = 1.0  # a run starting at this 1-minute load average or above is flagged
    wait_s: float = 0.0  # how long to wait, before each run, for the load to fall below it


def load_average() -> float:
    return os.getloadavg()[0]


def wait_for_quiet(quiet: Quiet, sleep: Any = time.sleep) -> tuple[float, bool]:
    """Wait up to ``quiet.wait_s`` for the 1-minute load average to fall below
    ``quiet.busy_load``; returns the load average then and whether the machine is still busy."""
    deadline = time.monotonic() + quiet.wait_s
    load = load_average()
    while load >= quiet.busy_load and time.monotonic() < deadline:
        sleep(min(2.0, max(0.0, deadline - time.monotonic())))
        load = load_average()
    return round(load, 2), load >= quiet.busy_load


def measured_quietly(quiet: Quiet, measure: Any, *args: Any, **kwargs: Any) -> Any:
    """``measure(*args, **kwargs)`` (returning a Measure, or a tuple starting with one) once the
    machine is quiet or the wait is over, its load average before it recorded."""
    load, busy = wait_for_quiet(quiet)
    if busy:
        _log(f"load average {load:.2f} ≥ {quiet.busy_load:g}: this run is flagged (busy machine)")
    out = measure(*args, **kwargs)
    m = out[0] if isinstance(out, tuple) else out
    m.load_before, m.busy = load, busy
    return out


def run_measured(name: str, cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None,
                 timeout: float = 3600) -> tuple[Measure, subprocess.CompletedProcess]:
    """Run ``cmd`` and measure it: wall, CPU of it and its descendants, peak tree RSS."""
    cpu0 = children_cpu()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sampler = TreeSampler(proc.pid)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    finally:
        sampler.stop()
    wall = time.perf_counter() - t0
    cpu = children_cpu() - cpu0
    done = subprocess.CompletedProcess(cmd, proc.returncode, out, err)
    if proc.returncode != 0:
        raise RuntimeError(f"{name}: {' '.join(cmd[:4])}… exited {proc.returncode}:\n{err[-2000:]}")
    return Measure(name, round(wall, 2), round(cpu, 2), round(sampler.peak_kb / 1024, 1)), done


# --- the inputs ------------------------------------------------------------------------------------

def write_article(folder: Path, n_sentences: int | None = None, repeat: int = 1, article_id: str = "bench") -> Path:
    """The benchmark article (JSON) in ``folder``, with its photos copied beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    sentences = SENTENCES[:n_sentences] if n_sentences else SENTENCES
    sentences = sentences * repeat
    (folder / "images").mkdir(exist_ok=True)
    for name in PHOTOS:
        shutil.copy(EXAMPLES / "images" / name, folder / "images" / name)
    data = {
        "id": article_id, "language": "fr", "source": "Agence de presse", "title": TITLE,
        "summary": " ".join(sentences), "url": "https://news.example.org/fr/bench",
        "published_at": "2026-11-28T09:00:00Z",
        "images": [{"src": f"images/{n}", "credit": "NASA"} for n in PHOTOS],
    }
    path = folder / f"{article_id}.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def _env(home: Path, cache: Path) -> dict[str, str]:
    env = dict(os.environ)
    for k in [k for k in env if k.startswith("VIDEOGEN_") and k not in TUNING_VARIABLES]:
        del env[k]
    env.update(VIDEOGEN_HOME=str(home), VIDEOGEN_CACHE_DIR=str(cache), PYTHONUNBUFFERED="1")
    return env


def render_project(name: str, article: Path, out: Path, height: int, fps: float, home: Path, cache: Path,
                   max_duration: float | None = None) -> tuple[Measure, dict[str, Any]]:
    cmd = [sys.executable, "-m", "videogen.cli", "render", str(article), "-o", str(out), "-q",
           "--height", str(height), "--fps", f"{fps:g}"]
    if max_duration:
        cmd += ["--max-duration", f"{max_duration:g}"]
    m, done = run_measured(name, cmd, env=_env(home, cache), cwd=ROOT)
    folder = Path(done.stdout.strip().splitlines()[-1])
    manifest = json.loads((folder / "manifest.json").read_text())
    m.extra = {"duration_s": manifest["duration"], "frames": manifest["frames"],
               "stages_s": manifest["timings"], "cache_hits": manifest["narration"]["cache_hits"],
               "narration": manifest["narration"]["voice"], "video_mb": round(manifest["files"]["video.mp4"]["bytes"] / 1e6, 2),
               "video": str(folder / "video.mp4")}
    return m, manifest


def floor_inputs(video: Path, work: Path, height: int, frames: int) -> tuple[Path, Path]:
    """The project's clip decoded into raw I420 frames and a WAV (in the page cache), for the
    floor to read for free."""
    from videogen.render.encode import ffmpeg_exe

    raw, wav = work / "frames.yuv", work / "audio.wav"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", str(video), "-f", "rawvideo", "-pix_fmt", "yuv420p",
                    str(raw), "-vn", "-ac", "1", "-ar", "22050", str(wav)], check=True)
    t = _template(height)
    assert raw.stat().st_size == frames * t.width * t.height * 3 // 2, (raw.stat().st_size, frames)
    for path in (raw, wav):
        with open(path, "rb") as f:
            while f.read(1 << 24):
                pass
    return raw, wav


def _template(height: int) -> Template:
    """The benchmark's template (news) at ``height``: its frame size and encoder settings."""
    from videogen.render.templates import load_template

    return load_template("news", ROOT / "templates").at_size(height)


def encode_floor(raw: Path, wav: Path | None, work: Path, height: int, fps: float, frames: int) -> Measure:
    """ffmpeg alone encoding the clip's own frames (and audio, given ``wav``) with the
    project's settings."""
    from videogen.render.encode import aac_args, ffmpeg_exe, x264_args
    from videogen.render.memory import child_env

    t = _template(height)
    enc, w, h = t.encoding, t.width, t.height
    out = work / "floor.mp4"
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", "-loglevel", "error",
           "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{w}x{h}", "-framerate", f"{fps:g}", "-i", str(raw),
           *(["-i", str(wav), "-map", "0:v:0", "-map", "1:a:0"] if wav else []),
           *x264_args(enc, fps, encoder_tuning()),
           *(aac_args(enc) if wav else ["-an"]),
           "-movflags", "+faststart", str(out)]
    m, _ = run_measured("floor with audio" if wav else "floor", cmd, env=child_env())  # ffmpeg's malloc as in a render
    m.extra = {"frames": frames, "video_mb": round(out.stat().st_size / 1e6, 2)}
    return m


def encoder_tuning() -> EncoderTuning:
    """The encoder tuning the project's renders get (from the same variables: see ``_env``)."""
    from videogen.settings import Settings

    return Settings().render_config().encoder


def reference_render(res: str, fps: float, work: Path, reference_dir: Path) -> Measure:
    ref = work / "refbench"
    if not ref.exists():
        shutil.copytree(reference_dir, ref)
        subprocess.run([sys.executable, "assets.py"], cwd=ref, check=True, capture_output=True)
    cmd = [sys.executable, "naive.py", "--res", res, "--fps", f"{fps:g}", "--out", str(work / f"naive_{res}.mp4")]
    m, done = run_measured(f"reference {res}p", cmd, cwd=ref)
    for line in done.stderr.splitlines():
        if line.startswith("RESULT "):
            m.extra["own_report"] = json.loads(line[7:])
    return m


def service_throughput(workers: int, work: Path) -> Measure:
    jsonl = next(p for p in HOT_NEWS if p.exists())
    n = sum(1 for line in jsonl.read_text().splitlines() if line.strip())
    home = work / f"service{workers}"
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "videogen.cli", "serve", str(jsonl), "--workers", str(workers),
           "--exit-when-done", "--port", str(port)]
    m, _ = run_measured(f"service, {workers} worker(s)", cmd, env=_env(home, home / "cache"), cwd=work)
    m.extra = {"clips": n, "clips_per_hour": round(n / m.wall_s * 3600, 1), "stories": str(jsonl)}
    return m


# --- the run -----------------------------------------------------------------------------------------

def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="videogen-bench-"))
    quiet = Quiet(args.busy_load, args.wait_quiet)
    results: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "load_avg_at_start": os.getloadavg(),
                                           "busy_load": quiet.busy_load, "allow_busy": args.allow_busy},
                               "quick": args.quick, "resolutions": {}}
    ref_given = dict(args.reference_seconds or [])
    try:
        if args.quick:
            article = write_article(work / "article", n_sentences=2)
            plans = [("quick", QUICK[0], QUICK[1])]
        else:
            article = write_article(work / "article")
            plans = [(r, *RESOLUTIONS[r]) for r in (args.res or ["1080", "720"])]
        for res, height, fps in plans:
            r: dict[str, Any] = {"height": height, "fps": fps}
            runs: dict[str, list[Measure]] = {"project_cold": [], "project_warm": [], "floor": [], "floor_with_audio": []}
            inputs = None
            for k in range(args.repeat):
                cache = work / f"cache-{res}-{k}"
                _log(f"{res}: project render, cold narration cache ({k + 1}/{args.repeat})")
                cold, _ = measured_quietly(quiet, render_project, "project cold", article, work / f"out-{res}", height,
                                           fps, work / "home", cache)
                _log(f"{res}: project render, warm narration cache ({k + 1}/{args.repeat})")
                warm, _ = measured_quietly(quiet, render_project, "project warm", article, work / f"out-{res}-warm",
                                           height, fps, work / "home", cache)
                if inputs is None:
                    inputs = floor_inputs(Path(cold.extra["video"]), work, height, cold.extra["frames"])
                _log(f"{res}: encode floor ({k + 1}/{args.repeat})")
                floor = measured_quietly(quiet, encode_floor, inputs[0], None, work, height, fps, cold.extra["frames"])
                floor_av = measured_quietly(quiet, encode_floor, *inputs, work, height, fps, cold.extra["frames"])
                for key, m in (("project_cold", cold), ("project_warm", warm), ("floor", floor), ("floor_with_audio", floor_av)):
                    runs[key].append(m)
            for path in inputs or ():
                path.unlink()
            for key, ms in runs.items():
                r[key] = median_measure(ms)
            cold_w, warm_w, floor_w = r["project_cold"]["wall_s"], r["project_warm"]["wall_s"], r["floor"]["wall_s"]
            busy_runs = sum(m.busy for ms in runs.values() for m in ms)
            r["busy_runs"] = busy_runs
            r["cpu_parts_cold"] = cpu_parts(runs["project_cold"])
            r["cpu_parts_warm"] = cpu_parts(runs["project_warm"])
            if busy_runs and not args.allow_busy:
                for key in ("ratio_cold_to_floor", "ratio_warm_to_floor", "ratio_cold_to_floor_with_audio"):
                    r[key] = None
            else:
                r["ratio_cold_to_floor"] = round(cold_w / floor_w, 2)
                r["ratio_warm_to_floor"] = round(warm_w / floor_w, 2)
                r["ratio_cold_to_floor_with_audio"] = round(cold_w / r["floor_with_audio"]["wall_s"], 2)
            if res in ref_given:
                r["reference"] = {"name": "reference (given)", "wall_s": ref_given[res], "cpu_s": None,
                                  "peak_rss_mb": None, "extra": {"note": "measured earlier, passed with --reference-seconds"}}
            elif not args.skip_reference and res in RESOLUTIONS and args.reference.exists():
                _log(f"{res}: reference render (naive MoviePy; minutes)")
                r["reference"] = asdict(reference_render(res, fps, work, args.reference))
            if r.get("reference") and r["ratio_cold_to_floor"] is not None:
                r["speedup_vs_reference_cold"] = round(r["reference"]["wall_s"] / cold_w, 1)
            results["resolutions"][res] = r
        if args.long:
            _log("long: 5-minute clip")
            long_article = write_article(work / "long", repeat=7, article_id="bench-long")
            height, fps = QUICK if args.quick else RESOLUTIONS["1080"]
            m, _ = measured_quietly(quiet, render_project, "project 5 min", long_article, work / "out-long", height, fps, work / "home",
                                  work / "cache-long", max_duration=300)
            results["long"] = asdict(m)
        if args.service:
            results["service"] = {}
            for n in (1, 2):
                _log(f"service: {n} worker(s)")
                results["service"][str(n)] = asdict(measured_quietly(quiet, service_throughput, n, work))
        results["machine"]["load_avg_at_end"] = os.getloadavg()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return results


def median_measure(ms: list[Measure]) -> dict[str, Any]:
    """The run of median wall time (its CPU, RSS and stages with it), every run's wall time,
    CPU time and peak RSS beside it, and the largest peak RSS."""
    ordered = sorted(ms, key=lambda m: m.wall_s)
    out = asdict(ordered[(len(ordered) - 1) // 2])
    out["runs"] = [{"wall_s": m.wall_s, "cpu_s": m.cpu_s, "peak_rss_mb": m.peak_rss_mb, "load_before": m.load_before,
                    "busy": m.busy} for m in ms]
    out["max_peak_rss_mb"] = max(m.peak_rss_mb for m in ms)
    return out


#: The CPU-seconds parts of the manifest's timings (``render.cputime``), in the table's order,
#: with the names the table gives them.
CPU_PARTS = {"x264": "x264/ffmpeg", "drawing": "frame drawing", "writer": "pipe writer", "narration": "narration",
             "images": "images", "layers": "layers", "audio": "audio", "other": "other"}


def cpu_parts(ms: list[Measure]) -> dict[str, float] | None:
    """The median over runs of each part's CPU-seconds, of the process total and of the
    start-up's (``cpu_<part>`` in the manifest timings); None for a render without them."""
    stages = [m.extra.get("stages_s", {}) for m in ms]
    if not all("cpu_total" in st for st in stages):
        return None
    keys = [k for k in (*CPU_PARTS, "total", "startup") if all(f"cpu_{k}" in st for st in stages)]
    return {k: round(float(statistics.median(st[f"cpu_{k}"] for st in stages)), 2) for k in keys}


def _log(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def _fmt(v: Any, unit: str = "") -> str:
    return "—" if v is None else f"{v:g}{unit}" if isinstance(v, float | int) else str(v)


def table(results: dict[str, Any]) -> str:
    lines = []
    for res, r in results["resolutions"].items():
        lines.append(f"\n{res} ({r['height']}p, {r['fps']:g} fps; clip {r['project_cold']['extra']['duration_s']:g} s, "
                     f"{r['project_cold']['extra']['frames']} frames)")
        lines.append(f"  {'median of ' + str(len(r['floor'].get('runs', [0]))) + ' runs':<22}{'wall s':>9}{'CPU s':>9}{'peak RSS MB':>13}  notes")
        for key in ("project_cold", "project_warm", "floor", "floor_with_audio", "reference"):
            m = r.get(key)
            if not m:
                continue
            note = ""
            if key.startswith("project"):
                note = f"{m['extra']['video_mb']} MB, cache hits {m['extra']['cache_hits']}"
            elif key.startswith("floor"):
                note = f"{m['extra']['video_mb']} MB"
            elif m["extra"].get("note"):
                note = m["extra"]["note"]
            if m.get("runs"):
                note += ("; " if note else "") + "each run (wall s @ load average before) " + " / ".join(
                    f"{x['wall_s']:g}@{_fmt(x['load_before'])}{' BUSY' if x['busy'] else ''}" for x in m["runs"])
                note += f", largest RSS {m['max_peak_rss_mb']:g} MB"
            lines.append(f"  {m['name']:<22}{_fmt(m['wall_s']):>9}{_fmt(m['cpu_s']):>9}{_fmt(m['peak_rss_mb']):>13}  {note}")
        if r["ratio_cold_to_floor"] is None:
            lines.append(f"  no ratio: {r['busy_runs']} run(s) started at a load average ≥ {la_threshold(results)} (busy machine); "
                         "measure on a quiet machine (--wait-quiet waits for one) or pass --allow-busy")
        else:
            busy = "  [busy machine: runs started at a high load average]" if r["busy_runs"] else ""
            lines.append(f"  project cold / floor: {r['ratio_cold_to_floor']}×   warm / floor: {r['ratio_warm_to_floor']}×"
                         f"   cold / floor with audio: {r['ratio_cold_to_floor_with_audio']}×"
                         + (f"   reference / project cold: {r['speedup_vs_reference_cold']}×" if "speedup_vs_reference_cold" in r else "")
                         + busy)
        st = r["project_cold"]["extra"]["stages_s"]
        lines.append("  stages (cold), wall s: " + ", ".join(f"{k} {v:g}" for k, v in st.items() if not k.startswith("cpu_")))
        for temp in ("cold", "warm"):
            parts = r.get(f"cpu_parts_{temp}")
            if parts:
                lines.append(f"  CPU-s by part ({temp}, median): " + ", ".join(
                    f"{name} {parts[k]:g}" for k, name in CPU_PARTS.items() if k in parts)
                    + f"; total {parts['total']:g}" + (f"; start-up until the first frame {parts['startup']:g}" if "startup" in parts else ""))
    if "long" in results:
        m = results["long"]
        lines.append(f"\n5-minute clip ({m['extra']['duration_s']:g} s): wall {m['wall_s']} s, peak RSS {m['peak_rss_mb']} MB")
    for n, m in results.get("service", {}).items():
        lines.append(f"service, {n} worker(s): {m['extra']['clips']} clips in {m['wall_s']} s → {m['extra']['clips_per_hour']} clips/hour"
                     f" (peak RSS {m['peak_rss_mb']} MB)")
    la = results["machine"]
    lines.append(f"\nmachine: {la['cpus']} CPUs, load average at start {la['load_avg_at_start'][0]:.2f}, "
                 f"at end {la.get('load_avg_at_end', [0])[0]:.2f}")
    return "\n".join(lines).lstrip("\n")


def la_threshold(results: dict[str, Any]) -> str:
    return f"{results['machine']['busy_load']:g}"


def parse_ref(text: str) -> tuple[str, float]:
    try:
        res, secs = text.split("=")
        return res.removesuffix("p"), float(secs)
    except ValueError:
        raise argparse.ArgumentTypeError("expected RES=SECONDS, e.g. 1080=222") from None


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quick", action="store_true", help="a short, small render only (smoke test)")
    p.add_argument("--res", action="append", choices=sorted(RESOLUTIONS), help="1080 (1080p30) and/or 720 (720p25); default both")
    p.add_argument("--skip-reference", action="store_true", help="do not run the naive MoviePy reference render")
    p.add_argument("--reference", type=Path, default=REFERENCE_DIR, metavar="DIR",
                   help="folder of the naive MoviePy reference (naive.py, assets.py; default: ../shared/bench "
                        "beside the checkout); skipped when missing")
    p.add_argument("--reference-seconds", action="append", type=parse_ref, metavar="RES=SECONDS",
                   help="use a reference wall time measured before instead of running it, e.g. 1080=222")
    p.add_argument("--long", action="store_true", help="also a 5-minute clip (peak RSS flat with length)")
    p.add_argument("--service", action="store_true", help="also clips/hour through `videogen serve`, 1 and 2 workers")
    p.add_argument("--repeat", type=int, default=3, metavar="N",
                   help="runs of the project (cold and warm) and of the floor, interleaved; medians reported (default 3)")
    p.add_argument("--busy-load", type=float, default=1.0, metavar="LOAD",
                   help="a run starting at this 1-minute load average or above is flagged busy, and the ratios are "
                        "not printed (default 1.0; 0: every run counts as busy)")
    p.add_argument("--wait-quiet", type=float, default=90.0, metavar="SECONDS",
                   help="before each run, wait up to this long for the load average to fall below --busy-load "
                        "(default 90; 0: do not wait)")
    p.add_argument("--allow-busy", action="store_true",
                   help="print the ratios even when runs were flagged busy (marked \"busy machine\")")
    p.add_argument("--json", action="store_true", help="print the results as JSON")


def main(args: argparse.Namespace) -> int:
    if args.repeat < 1:
        print("videogen bench: error: --repeat must be at least 1", file=sys.stderr)
        return 2
    if args.busy_load < 0 or args.wait_quiet < 0:
        print("videogen bench: error: --busy-load and --wait-quiet must be at least 0", file=sys.stderr)
        return 2
    results = run(args)
    print(json.dumps(results, indent=2) if args.json else table(results))
    return 0
