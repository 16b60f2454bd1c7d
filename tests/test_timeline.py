import pytest

from videogen.render.templates import Timing
from videogen.render.timeline import LineAudio, build_timeline, clip_length, lines_within

T = Timing(lead_in=0.5, title_hold=0.7, sentence_pause=0.3, crossfade=0.5, tail=0.6, outro=3.0)


def make(durations=(3.0, 4.0, 2.0), scenes=((0,), (1, 2)), pages=None, pauses=None, fps=30):
    n = len(durations)
    return build_timeline(
        "Title", LineAudio(2.0), [f"s{i}" for i in range(n)],
        [LineAudio(d, tuple(pauses[i]) if pauses else ()) for i, d in enumerate(durations)],
        pages or [[f"s{i}"] for i in range(n)], list(scenes), T, fps,
    )


def test_cues_come_from_audio_durations():
    tl = make()
    starts = [c.start for c in tl.cues]
    ends = [c.end for c in tl.cues]
    assert starts == pytest.approx([0.5, 3.2, 6.5, 10.8])
    assert ends == pytest.approx([2.5, 6.2, 10.5, 12.8])
    assert tl.speech_starts == pytest.approx(starts)
    assert tl.cues[0].line == -1 and tl.cues[0].text == "Title"


def test_duration_is_whole_frames_and_matches_clip_length():
    tl = make()
    expected = clip_length(2.0, [3.0, 4.0, 2.0], T)
    assert expected == pytest.approx(0.5 + 2 + 0.7 + 9 + 0.6 + 0.6 + 3.0)
    assert tl.n_frames == 492  # 16.4 s * 30 fps
    assert tl.duration == pytest.approx(tl.n_frames / 30)
    assert tl.duration - expected < 1 / 30


def test_segments_cover_the_clip_with_crossfades_in_the_pauses():
    tl = make()
    kinds = [s.kind for s in tl.segments]
    assert kinds == ["title", "scene", "scene", "outro"]
    title, s1, s2, outro = tl.segments
    assert title.start == 0 and title.fade_in == 0
    # Crossfade centred in the pause after the title (2.5..3.2), half a second long.
    assert s1.start == pytest.approx(2.85 - 0.25) and title.end == pytest.approx(2.85 + 0.25)
    # Scene 2 starts in the pause before line 1 (6.2..6.5).
    assert s2.start == pytest.approx(6.35 - 0.25) and s1.end == pytest.approx(6.35 + 0.25)
    assert outro.start == pytest.approx(12.8 + 0.3 - 0.25)
    assert outro.end == pytest.approx(tl.duration)
    for a, b in zip(tl.segments, tl.segments[1:], strict=False):
        assert b.start < a.end, "segments must overlap for the crossfade"


def test_caption_pages_snap_to_pauses_and_hold_through_short_gaps():
    tl = make(durations=(4.0, 2.0), scenes=((0, 1),), pages=[["aaaa", "bbbb"], ["cc"]],
              pauses=[[(1.5, 1.7)], []])
    p0, p1, p2 = tl.pages
    assert p0.start == pytest.approx(3.2)
    # Proportional split would be at 3.2 + 2.0 = 5.2; the pause centre is 3.2 + 1.6 = 4.8.
    assert p0.end == pytest.approx(4.8) and p1.start == pytest.approx(4.8)
    assert p1.end == pytest.approx(p2.start)  # held through the 0.3 s pause
    assert p2.end == pytest.approx(tl.cues[-1].end)
    assert [p.cue for p in tl.pages] == [1, 1, 2]


def test_cap_keeps_whole_sentences():
    lines = [10.0] * 20
    n = lines_within(3.0, lines, T, 60.0)
    assert clip_length(3.0, lines[:n], T) <= 60.0 < clip_length(3.0, lines[: n + 1], T)
    # A first line that cannot fit is no longer kept (issue 16): the pipeline fits a start of it.
    assert lines_within(3.0, [500.0], T, 60.0) == 0
    assert lines_within(3.0, [], T, 60.0) == 0
