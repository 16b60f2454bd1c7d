"""The S3 backend against a real S3-compatible server (moto in server mode, its own process):
atomic publication (manifest last), multipart uploads, Range reads, failures half-way."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import uuid
from pathlib import Path

import pytest

from videogen.errors import StorageError
from videogen.service.storage import open_storage
from videogen.service.storage.s3 import S3Storage

from .s3server import ACCESS_KEY, SECRET_KEY

KEY = "ab" * 16
MB = 1024 * 1024


def make_storage(s3_server, tmp_path: Path, **kw) -> S3Storage:
    bucket = s3_server.create_bucket(f"vg-{uuid.uuid4().hex[:12]}")
    return S3Storage(bucket, "videos", endpoint_url=s3_server.endpoint, access_key_id=ACCESS_KEY,
                     secret_access_key=SECRET_KEY, staging_root=tmp_path / "staging", **kw)


def render_folder(storage: S3Storage, video_bytes: int = 50_000) -> tuple[Path, dict[str, bytes]]:
    folder = storage.staging_dir() / "out"
    folder.mkdir()
    files = {"video.mp4": os.urandom(video_bytes), "poster.jpg": os.urandom(3000),
             "captions.vtt": b"WEBVTT\n\n00:00.000 --> 00:01.000\nHello\n",
             "captions.srt": b"1\n00:00:00,000 --> 00:00:01,000\nHello\n"}
    manifest = {"files": {n: {"sha256": hashlib.sha256(b).hexdigest(), "bytes": len(b)} for n, b in files.items()}}
    files["manifest.json"] = json.dumps(manifest).encode()
    for n, b in files.items():
        (folder / n).write_bytes(b)
    return folder, files


def objects(storage: S3Storage) -> dict[str, dict]:
    out = storage.client.list_objects_v2(Bucket=storage.bucket).get("Contents", [])
    return {o["Key"]: o for o in out}


def test_open_storage_picks_s3_from_the_url(s3_server, tmp_path):
    from videogen.settings import Settings

    s = Settings(home=tmp_path, storage_url="s3://bucket-x/some/prefix", s3_endpoint_url=s3_server.endpoint,
                 s3_serve="redirect")
    st = open_storage(s.storage_url, s.media_path, s)
    assert isinstance(st, S3Storage)
    assert (st.bucket, st.prefix, st.serve_mode, st.endpoint_url) == ("bucket-x", "some/prefix", "redirect", s3_server.endpoint)
    assert st.object_key(KEY, "video.mp4") == f"some/prefix/{KEY}/video.mp4"
    with pytest.raises(StorageError):
        st.object_key("../etc", "video.mp4")
    with pytest.raises(StorageError):
        st.check()  # no such bucket: a clear storage error, not a crash


def test_publish_read_range_and_delete(s3_server, tmp_path):
    st = make_storage(s3_server, tmp_path)
    st.check()
    assert not st.exists(KEY)
    folder, files = render_folder(st)
    assert st.publish(KEY, folder) is True
    assert not folder.exists(), "the staging folder is removed once published"
    assert st.exists(KEY)
    assert set(objects(st)) == {f"videos/{KEY}/{n}" for n in files}
    assert st.manifest(KEY) == json.loads(files["manifest.json"])
    for n, b in files.items():
        stored = st.stat(KEY, n)
        assert stored.size == len(b) and stored.content_type.split(";")[0] in ("video/mp4", "image/jpeg", "text/vtt", "application/x-subrip", "application/json")
        assert b"".join(st.read(KEY, n)) == b
    video = files["video.mp4"]
    assert b"".join(st.read(KEY, "video.mp4", 100, 199)) == video[100:200]
    assert b"".join(st.read(KEY, "video.mp4", len(video) - 10)) == video[-10:]
    assert b"".join(st.read(KEY, "video.mp4", 0, 0)) == video[:1]
    assert st.keys() == [KEY]
    # Without replace, a second publication keeps the first set.
    folder2, _ = render_folder(st)
    assert st.publish(KEY, folder2) is False
    assert b"".join(st.read(KEY, "video.mp4")) == video
    st.delete(KEY)
    assert not st.exists(KEY) and objects(st) == {}
    with pytest.raises(StorageError, match="not found"):
        st.stat(KEY, "video.mp4")
    with pytest.raises(StorageError, match="no manifest"):
        st.manifest(KEY)


def test_large_file_goes_up_in_parts_and_readers_never_see_a_partial_set(s3_server, tmp_path):
    st = make_storage(s3_server, tmp_path, multipart_threshold=8 * MB)
    folder, files = render_folder(st, video_bytes=9 * MB)
    reader = S3Storage(st.bucket, "videos", endpoint_url=s3_server.endpoint, access_key_id=ACCESS_KEY,
                       secret_access_key=SECRET_KEY)
    seen: list[bool] = []
    incomplete: list[str] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            present = reader.exists(KEY)
            seen.append(present)
            if present:  # whenever the manifest is there, every file is there in full
                for n, b in files.items():
                    try:
                        if reader.stat(KEY, n).size != len(b):
                            incomplete.append(n)
                    except StorageError:
                        incomplete.append(n)

    t = threading.Thread(target=watch)
    t.start()
    try:
        assert st.publish(KEY, folder)
    finally:
        stop.set()
        t.join()
    assert seen and not seen[0], "the watcher saw the upload from the start"
    assert not incomplete
    etag = objects(st)[f"videos/{KEY}/video.mp4"]["ETag"]
    assert etag.strip('"').endswith("-2"), f"9 MB with an 8 MB threshold goes up in 2 parts (ETag {etag})"
    assert hashlib.sha256(b"".join(reader.read(KEY, "video.mp4"))).hexdigest() == st.manifest(KEY)["files"]["video.mp4"]["sha256"]
    tail = b"".join(reader.read(KEY, "video.mp4", 9 * MB - 5, 9 * MB + 100))
    assert tail == files["video.mp4"][-5:]


def test_upload_failing_half_way_leaves_no_manifest(s3_server, tmp_path):
    st = make_storage(s3_server, tmp_path)
    folder, files = render_folder(st)

    def fail_on_captions(params, **_kw):  # a real error raised inside botocore's request path
        if params.get("Key", "").endswith("captions.vtt"):
            raise ConnectionResetError("link lost half-way")

    st.client.meta.events.register("before-parameter-build.s3.PutObject", fail_on_captions)
    with pytest.raises(StorageError, match="captions.vtt"):
        st.publish(KEY, folder)
    st.client.meta.events.unregister("before-parameter-build.s3.PutObject", fail_on_captions)
    names = {k.rsplit("/", 1)[1] for k in objects(st)}
    assert "manifest.json" not in names and "captions.vtt" not in names and "video.mp4" in names
    assert not st.exists(KEY), "files without a manifest are not a video"
    assert st.keys() == []
    # The next attempt publishes the whole set over the leftovers.
    assert st.publish(KEY, folder)
    assert st.exists(KEY) and b"".join(st.read(KEY, "captions.vtt")) == files["captions.vtt"]


def test_presigned_url_serves_ranges(s3_server, tmp_path):
    import httpx

    st = make_storage(s3_server, tmp_path)
    folder, files = render_folder(st)
    st.publish(KEY, folder)
    url = st.presigned_url(KEY, "video.mp4", 120)
    assert "X-Amz-Signature" in url
    r = httpx.get(url, headers={"Range": "bytes=10-19"})
    assert r.status_code == 206 and r.content == files["video.mp4"][10:20]
    assert httpx.get(url).content == files["video.mp4"]
