"""Pictures per version: ``GET /v1/videos/{id}/pictures``, ``PUT`` the same shape → a new
version showing the chosen images in the chosen order (decoded frames), ``POST`` an image by
multipart upload (kept in storage as ``upload:<sha256>``) or by URL (fetched now, SSRF-checked);
bad input is a 4xx naming the field and changes nothing stored. And the reuse of unchanged
layers: a second render reads its cards and backgrounds back (the manifest counts the hits)
and its frames are the same."""

from __future__ import annotations

import hashlib
import io
import json
import struct
import subprocess
import uuid
import zlib
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from videogen.errors import StorageError
from videogen.http.app import create_app
from videogen.render.article import parse_article
from videogen.render.encode import ffmpeg_exe
from videogen.render.layercache import LayerCache, layer_key
from videogen.service.storage import LocalStorage, S3Storage
from videogen.service.videos import JobOptions, VideoService
from videogen.settings import Settings

from .helpers import decode_frame, ffprobe, short_article, stream
from .ingest_server import FixtureServer, Route
from .s3server import ACCESS_KEY, SECRET_KEY

KEY = "pictures-key-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}
SMALL = {"height": 120, "fps": 8, "tts": "espeak"}
COLOURS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 220)}


def solid(colour: str, fmt: str = "PNG", size: tuple[int, int] = (320, 180)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, COLOURS[colour]).save(buf, fmt)
    return buf.getvalue()


def noise_png(size: tuple[int, int] = (320, 180)) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def png_bomb(width: int = 30_000, height: int = 30_000) -> bytes:
    """A PNG of a few bytes whose header claims ``width`` × ``height`` pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def server():
    with FixtureServer() as srv:
        for name in COLOURS:
            srv.routes[f"/photos/{name}.png"] = Route(solid(name), "image/png")
        yield srv


def _client(home: Path):
    s = Settings(home=home, api_keys=KEY, image_hosts_allow="127.0.0.1")
    svc = VideoService(s)
    with TestClient(create_app(s, svc, run_sweeper=False)) as client:
        client.service = svc
        client.uploads = s.media_path / "uploads"
        yield client


@pytest.fixture()
def api(tmp_path, server):
    yield from _client(tmp_path / "home")


@pytest.fixture(scope="module")
def refused(tmp_path_factory, server):
    """One API and one done job for the bad-input cases: each checks that it changed nothing,
    so they can share them."""
    for client in _client(tmp_path_factory.mktemp("refused") / "home"):
        yield client, _done_job(client, server)


def _done_job(api, server) -> str:
    images = [server.url("/photos/red.png"), server.url("/photos/green.png")]
    job_id = api.post("/v1/videos", json={**short_article(images=images), "options": SMALL}, headers=AUTH).json()["id"]
    assert api.service.run(job_id, "w").status == "done"
    return job_id


def _video(api, job_id: str) -> Path:
    job = api.service.store.get(job_id)
    path = api.service.storage.root / job.output / "video.mp4"
    assert path.is_file()
    return path


def _manifest(api, job_id: str) -> dict:
    return api.service.storage.manifest(api.service.store.get(job_id).output)


def _photos_seen(video: Path) -> list[str]:
    """The solid photos shown in the middle of the frame, in order of appearance (4 frames a
    second, decoded by one ffmpeg; cards, backgrounds and blends match none)."""
    info = stream(ffprobe(video), "video")
    w, h = info["width"], info["height"]
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(video), "-vf", "fps=4", "-f", "rawvideo",
                          "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
    frames = np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3).astype(int)
    seen: list[str] = []
    for frame in frames:
        mid = frame[h * 2 // 5 : h * 3 // 5, w * 2 // 5 : w * 3 // 5].reshape(-1, 3).mean(axis=0)
        for name, rgb in COLOURS.items():
            if np.abs(mid - np.array(rgb)).max() < 40 and (not seen or seen[-1] != name):
                seen.append(name)
    return seen


def _stored(api) -> tuple[int, list[str]]:
    uploads = sorted(p.name for p in api.uploads.iterdir()) if api.uploads.is_dir() else []
    return len(api.service.store.list()), uploads


def test_reorder_drop_and_upload_make_a_new_version_showing_the_chosen_pictures(api, server):
    job_id = _done_job(api, server)
    assert _photos_seen(_video(api, job_id)) == ["red", "green"]
    assert api.get(f"/v1/videos/{job_id}/pictures").status_code == 401
    r = api.get(f"/v1/videos/{job_id}/pictures", headers=AUTH)
    assert r.status_code == 200
    assert r.json() == {"images": [{"src": server.url("/photos/red.png"), "caption": None, "credit": "NASA", "focus": None},
                                   {"src": server.url("/photos/green.png"), "caption": None, "credit": "NASA", "focus": None}]}

    blue = solid("blue", "JPEG", (400, 300))
    r = api.post(f"/v1/videos/{job_id}/pictures", files={"file": ("blue.jpg", blue, "image/jpeg")}, headers=AUTH)
    assert r.status_code == 201, r.text
    assert r.json() == {"src": f"upload:{hashlib.sha256(blue).hexdigest()}", "width": 400, "height": 300}
    upload = r.json()["src"]
    assert (api.uploads / upload.removeprefix("upload:")).read_bytes() == blue

    r = api.post(f"/v1/videos/{job_id}/pictures", json={"url": server.url("/photos/green.png")}, headers=AUTH)
    assert r.status_code == 201, r.text
    assert r.json() == {"src": server.url("/photos/green.png"), "width": 320, "height": 180}

    # The upload first, with a focal point, then red; green dropped.
    chosen = [{"src": upload, "caption": "Blue", "credit": "Desk", "focus": [0.25, 0.75]},
              {"src": server.url("/photos/red.png"), "caption": None, "credit": "NASA", "focus": None}]
    r = api.put(f"/v1/videos/{job_id}/pictures", json={"images": chosen}, headers=AUTH)
    assert r.status_code == 202, r.text
    new_id = r.json()["id"]
    assert new_id != job_id
    new = api.service.store.get(new_id)
    assert new.options["height"] == 120 and new.options["tts"] == "espeak"  # the job's options
    assert api.get(f"/v1/videos/{new_id}/pictures", headers=AUTH).json() == {"images": chosen}
    assert api.get(f"/v1/videos/{job_id}/pictures", headers=AUTH).json()["images"][1]["src"].endswith("green.png")
    assert api.service.run(new_id, "w").status == "done"  # the worker reads the upload from storage
    assert _photos_seen(_video(api, new_id)) == ["blue", "red"]
    m = _manifest(api, new_id)
    assert m["narration"]["cache_hits"] == 3  # same script: nothing spoken again
    assert m["layer_cache"]["hits"] >= 2  # the outro card and the red photo's framing at least


def test_a_corrected_script_is_kept_by_a_pictures_change(api, server):
    job_id = _done_job(api, server)
    sentences = api.get(f"/v1/videos/{job_id}/script", headers=AUTH).json()["sentences"]
    sentences[2]["caption"] = "Visitors can step inside a capsule replica!"
    fixed = api.put(f"/v1/videos/{job_id}/script", json={"sentences": sentences}, headers=AUTH).json()["id"]
    assert api.service.run(fixed, "w").status == "done"
    r = api.put(f"/v1/videos/{fixed}/pictures", json={"images": [{"src": server.url("/photos/blue.png")}]}, headers=AUTH)
    assert r.status_code == 202, r.text
    new = api.service.store.get(r.json()["id"])
    assert new.options["script"][2][0] == "Visitors can step inside a capsule replica!"
    events = api.get(f"/v1/videos/{fixed}/events", headers=AUTH).json()["items"]
    assert [(e["event"], e["detail"], e["by"]) for e in events if e["event"] == "pictures changed"] == [
        ("pictures changed", f"new version {new.id}", "key1")]


def test_a_pictures_change_keeps_the_review_mode(api, server):
    images = [server.url("/photos/red.png")]
    body = {**short_article(images=images), "options": {**SMALL, "publish": "review"}}
    job_id = api.post("/v1/videos", json=body, headers=AUTH).json()["id"]
    assert api.service.run(job_id, "w").status == "done"
    assert api.service.store.get(job_id).status == "review"
    r = api.put(f"/v1/videos/{job_id}/pictures", json={"images": [{"src": server.url("/photos/blue.png")}]}, headers=AUTH)
    assert r.status_code == 202, r.text
    new_id = r.json()["id"]
    assert api.service.store.get(new_id).options["publish"] == "review"
    assert api.service.run(new_id, "w").status == "done"
    assert api.service.store.get(new_id).status == "review"


@pytest.mark.parametrize(("body", "field"), [
    ({"images": [{"src": "http://127.0.0.1/x.png", "focus": [1.2, 0.5]}]}, "images[0].focus"),
    ({"images": [{"src": "http://127.0.0.1/x.png", "focus": [-0.1, 0.5]}]}, "images[0].focus"),
    ({"images": [{"src": "http://127.0.0.1/x.png", "focus": [0.5]}]}, "images[0].focus"),
    ({"images": [{"src": "http://127.0.0.1/x.png", "focus": {"x": 0.5, "y": 0.5}}]}, "images[0].focus"),
    ({"images": [{"src": "upload:" + "ab" * 32}]}, "images[0].src"),  # never uploaded
    ({"images": [{"src": "upload:nothex"}]}, "images[0].src"),
    ({"images": [{"src": "http://10.0.0.7/internal.png"}]}, "images[0].src"),  # a private address
    ({"images": [{"src": "/etc/passwd"}]}, "images[0].src"),
    ({"images": [{"src": "file:///etc/passwd"}]}, "images[0].src"),
    ({"images": [{"caption": "no src"}]}, "images[0].src"),
    ({"images": [{"src": "http://127.0.0.1/x.png", "x": 1}]}, "images[0].x"),
    ({"images": [{"src": "http://127.0.0.1/x.png", "caption": "c" * 501}]}, "images[0].caption"),
    ({"images": [{"src": "http://127.0.0.1/x.png"}] * 31}, "images"),
    ({"images": "red.png"}, "images"),
    ({"pictures": []}, "pictures"),
    ({}, "images"),
])
def test_bad_pictures_are_refused_naming_the_field_and_change_nothing(refused, body, field):
    api, job_id = refused
    before = _stored(api)
    r = api.put(f"/v1/videos/{job_id}/pictures", json=body, headers=AUTH)
    assert r.status_code == 422, r.text
    assert field in [e["field"] for e in r.json()["errors"]], r.json()
    assert _stored(api) == before


@pytest.mark.parametrize(("data", "message"), [
    (b"GIF89a not really an image at all", "not a readable"),
    (b"%PDF-1.4\n" + b"x" * 200, "not a readable"),
    (png_bomb(), "decompression bomb"),
    (png_bomb(8000, 6000), "pixels"),  # 48 M pixels: over VIDEOGEN_MAX_IMAGE_PIXELS, under Pillow's own bomb limit
    (noise_png()[:20_000], "damaged or truncated"),
    (solid("red", "GIF"), "GIF images are not accepted"),
    (b"", "empty"),
])
def test_bad_uploads_are_refused_naming_the_file_and_store_nothing(refused, data, message):
    api, job_id = refused
    before = _stored(api)
    r = api.post(f"/v1/videos/{job_id}/pictures", files={"file": ("x.png", data, "image/png")}, headers=AUTH)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "file"
    assert message in r.json()["errors"][0]["message"]
    assert _stored(api) == before


def test_upload_limits_url_checks_and_states(api, server):
    job_id = _done_job(api, server)
    before = _stored(api)
    # Not fetched: a private address (the SSRF-checked fetch), a page that is not an image, a 404.
    for url, field in [("http://10.0.0.7/internal.png", "url"), ("http://169.254.169.254/latest/meta-data", "url"),
                       (server.url("/pages/none.html"), "url"), ("ftp://example.org/a.png", "url"), (3, "url")]:
        r = api.post(f"/v1/videos/{job_id}/pictures", json={"url": url}, headers=AUTH)
        assert r.status_code == 422, (url, r.text)
        assert r.json()["errors"][0]["field"] == field
    assert api.post(f"/v1/videos/{job_id}/pictures", json={"url": server.url("/x"), "y": 1}, headers=AUTH).status_code == 422
    r = api.post(f"/v1/videos/{job_id}/pictures", files={"other": ("a.png", solid("red"), "image/png")}, headers=AUTH)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "file"
    r = api.post(f"/v1/videos/{job_id}/pictures", content=b"x", headers={**AUTH, "Content-Type": "text/plain"})
    assert r.status_code == 415
    # Bodies over the image byte limit are refused before they are read.
    too_big = b"x" * (api.service.settings.max_image_bytes + 100_000)
    r = api.post(f"/v1/videos/{job_id}/pictures", files={"file": ("big.png", too_big, "image/png")}, headers=AUTH)
    assert r.status_code == 413
    assert _stored(api) == before
    assert api.post(f"/v1/videos/{job_id}/pictures", json={"url": server.url("/photos/red.png")}).status_code == 401
    assert api.get("/v1/videos/" + "0" * 32 + "/pictures", headers=AUTH).status_code == 404
    # Only a finished render's pictures can be changed.
    queued = api.post("/v1/videos", json={**short_article(), "options": {**SMALL, "max_duration": 30}}, headers=AUTH).json()["id"]
    r = api.put(f"/v1/videos/{queued}/pictures", json={"images": []}, headers=AUTH)
    assert r.status_code == 409


def test_unchanged_layers_are_read_back_and_draw_the_same_frames(tmp_path, server):
    """A rerender of the same clip reads every card, background and framed photo back from the
    layer cache (the manifest counts them) and its frames are the very same. (The photos'
    subjects are found again in this process's own memory: not looked up.)"""
    s = Settings(home=tmp_path / "home", image_hosts_allow="127.0.0.1")
    svc = VideoService(s)
    svc.migrate()
    article = parse_article(short_article(images=[server.url("/photos/red.png"), server.url("/photos/blue.png")]))
    job, _ = svc.enqueue(article, JobOptions(**SMALL))
    assert svc.run(job.id, "w").status == "done"
    job = svc.store.get(job.id)
    first = svc.storage.manifest(job.output)
    assert first["layer_cache"]["hits"] == 0 and first["layer_cache"]["misses"] >= 4
    video = svc.storage.root / job.output / "video.mp4"
    times = [0.3, first["duration"] / 2, first["duration"] - 0.3]
    before = [decode_frame(video, t) for t in times]

    again, _ = svc.rerender(job.id)
    assert svc.run(again.id, "w").status == "done"
    again = svc.store.get(again.id)
    second = svc.storage.manifest(again.output)
    assert second["layer_cache"]["misses"] == 0 and second["layer_cache"]["hits"] >= first["layer_cache"]["misses"] - 2
    assert (svc.storage.root / again.output / "video.mp4").is_file()
    for t, frame in zip(times, before, strict=True):
        assert np.array_equal(decode_frame(svc.storage.root / again.output / "video.mp4", t), frame), t
    assert json.dumps(second["captions"]) == json.dumps(first["captions"])


def _upload_round_trip(storage) -> None:
    data = solid("blue", "JPEG")
    digest = hashlib.sha256(data).hexdigest()
    assert not storage.has_upload(digest)
    with pytest.raises(StorageError, match="not found"):
        storage.read_upload(digest)
    storage.put_upload(digest, data)
    storage.put_upload(digest, data)  # the same bytes again: stored once, no error
    assert storage.has_upload(digest) and storage.read_upload(digest) == data
    with pytest.raises(StorageError, match="invalid upload digest"):
        storage.read_upload("../../etc/passwd")


def test_uploads_round_trip_in_local_storage(tmp_path):
    storage = LocalStorage(tmp_path / "media")
    _upload_round_trip(storage)
    assert [p.name for p in (tmp_path / "media" / "uploads").iterdir()] == [hashlib.sha256(solid("blue", "JPEG")).hexdigest()]


def test_uploads_round_trip_in_s3_storage(s3_server, tmp_path):
    bucket = s3_server.create_bucket(f"vg-{uuid.uuid4().hex[:12]}")
    _upload_round_trip(S3Storage(bucket, "videos", endpoint_url=s3_server.endpoint, access_key_id=ACCESS_KEY,
                                 secret_access_key=SECRET_KEY, staging_root=tmp_path / "staging"))


def test_layer_cache_is_bounded_survives_damage_and_counts(tmp_path):
    cache = LayerCache(tmp_path / "layers", max_bytes=250_000)
    drawn: list[str] = []

    def draw(name: str, fill: int):
        def make():
            drawn.append(name)
            return {"buf": np.full(100_000, fill, np.uint8)}, {"name": name}
        return make

    for i in range(3):
        arrays, meta = cache.get_or_make(layer_key("t", i), draw(f"l{i}", i))
        assert meta == {"name": f"l{i}"} and int(arrays["buf"][0]) == i
    assert cache.counts() == {"hits": 0, "misses": 3}
    kept = sorted(p.name for p in (tmp_path / "layers").glob("*.npz"))
    assert len(kept) == 2  # 300 kB drawn, 250 kB kept: the oldest went
    assert not list((tmp_path / "layers").glob(".*"))  # no temporary file left
    arrays, _ = cache.get_or_make(layer_key("t", 2), draw("again", 9))
    assert int(arrays["buf"][0]) == 2 and cache.hits == 1
    (tmp_path / "layers" / f"{layer_key('t', 2)}.npz").write_bytes(b"damaged")
    arrays, _ = cache.get_or_make(layer_key("t", 2), draw("redrawn", 2))
    assert drawn[-1] == "redrawn" and int(arrays["buf"][0]) == 2
    assert LayerCache(tmp_path / "layers", max_bytes=0).get_or_make(layer_key("t", 2), draw("off", 2))
    assert drawn[-1] == "off"  # a cache of 0 bytes reads nothing either


def test_an_upload_gone_from_storage_is_skipped_with_a_warning(api, server):
    job_id = _done_job(api, server)
    data = solid("blue")
    upload = api.post(f"/v1/videos/{job_id}/pictures", files={"file": ("b.png", data, "image/png")}, headers=AUTH).json()["src"]
    r = api.put(f"/v1/videos/{job_id}/pictures", json={"images": [{"src": upload}, {"src": server.url("/photos/red.png")}]},
                headers=AUTH)
    new_id = r.json()["id"]
    (api.uploads / upload.removeprefix("upload:")).unlink()  # removed by hand between the PUT and the render
    assert api.service.run(new_id, "w").status == "done"
    assert any(w.startswith("images[0] skipped") and "no longer stored" in w for w in _manifest(api, new_id)["warnings"])
    assert _photos_seen(_video(api, new_id)) == ["red"]
