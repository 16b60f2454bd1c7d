"""WebVTT captions: one cue per spoken sentence, times equal to the narration's."""

from __future__ import annotations

from videogen.render.timeline import Cue


def vtt_time(t: float) -> str:
    ms = int(round(max(0.0, t) * 1000))
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def escape_cue_text(text: str) -> str:
    """Cue payload text: '&', '<' and '>' escaped, no line may be empty or hold '-->'."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = text.replace("-->", "-&gt;")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return "\n".join(lines) or "…"


def to_webvtt(cues: list[Cue], language: str | None = None) -> str:
    out = ["WEBVTT"]
    if language:
        out[0] += f"\nLanguage: {language}"
    out.append("")
    for n, cue in enumerate(cues, 1):
        out.append(str(n))
        out.append(f"{vtt_time(cue.start)} --> {vtt_time(cue.end)}")
        out.append(escape_cue_text(cue.text))
        out.append("")
    return "\n".join(out)


def parse_webvtt(text: str) -> list[tuple[float, float, str]]:
    """(start, end, text) of every cue: used by tests and by the API's checks."""

    def secs(stamp: str) -> float:
        parts = stamp.strip().split(":")
        h, m, s = (["0"] * (3 - len(parts)) + parts)[-3:]
        return int(h) * 3600 + int(m) * 60 + float(s)

    cues = []
    blocks = text.replace("\r\n", "\n").split("\n\n")
    for block in blocks:
        lines = [ln for ln in block.split("\n") if ln.strip()]
        for i, line in enumerate(lines):
            if "-->" in line:
                a, b = line.split("-->")
                payload = "\n".join(lines[i + 1 :])
                payload = payload.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
                cues.append((secs(a), secs(b.split()[0]), payload))
                break
    return cues
