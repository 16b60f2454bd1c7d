"""The service with S3 storage (a real S3 server in its own process): a tiny clip rendered by
the service is published to the bucket and served by the API, streamed with Range support or
by redirect to a presigned URL."""

from __future__ import annotations

import hashlib
import uuid

import httpx
import pytest
from fastapi.testclient import TestClient

from videogen.http.app import create_app
from videogen.service.storage.s3 import S3Storage
from videogen.service.videos import JobOptions, VideoService
from videogen.settings import Settings

from .helpers import ffprobe, short_article, stream
from .s3server import ACCESS_KEY, SECRET_KEY


@pytest.fixture(scope="module")
def s3_done(s3_server, tmp_path_factory, settings):
    """One tiny clip rendered by the service into S3: (settings, service, job)."""
    from videogen.render.article import parse_article

    bucket = s3_server.create_bucket(f"vg-api-{uuid.uuid4().hex[:8]}")
    s = Settings(home=tmp_path_factory.mktemp("s3home"), cache_dir=settings.cache_path,
                 storage_url=f"s3://{bucket}/clips", s3_endpoint_url=s3_server.endpoint,
                 s3_access_key_id=ACCESS_KEY, s3_secret_access_key=SECRET_KEY)
    svc = VideoService(s)
    svc.migrate()
    assert isinstance(svc.storage, S3Storage)
    job, _ = svc.enqueue(parse_article(short_article(id="s3-clip")), JobOptions(height=120, fps=8))
    outcome = svc.run(job.id, "test-worker:1")
    assert outcome.status == "done", outcome
    job = svc.store.get(job.id)
    keys = {o["Key"] for o in s3_server.client().list_objects_v2(Bucket=bucket)["Contents"]}
    assert keys == {f"clips/{job.content_key}/{n}" for n in ("video.mp4", "poster.jpg", "captions.vtt", "captions.srt", "manifest.json")}
    assert not list((s.staging_path).glob("*/*")), "nothing left in the local staging folder"
    yield s, svc, job


def test_stream_from_s3_with_range(s3_done, tmp_path):
    s, svc, job = s3_done
    manifest = svc.storage.manifest(job.content_key)
    with TestClient(create_app(s, svc, run_sweeper=False)) as api:
        r = api.get(f"/v1/videos/{job.id}/video.mp4")
        assert r.status_code == 200 and r.headers["content-type"] == "video/mp4"
        body = r.content
        assert hashlib.sha256(body).hexdigest() == manifest["files"]["video.mp4"]["sha256"]
        (tmp_path / "v.mp4").write_bytes(body)
        assert stream(ffprobe(tmp_path / "v.mp4"), "video")["codec_name"] == "h264"
        r = api.get(f"/v1/videos/{job.id}/video.mp4", headers={"Range": "bytes=100-1099"})
        assert r.status_code == 206 and r.content == body[100:1100]
        assert r.headers["content-range"] == f"bytes 100-1099/{len(body)}"
        r = api.get(f"/v1/videos/{job.id}/video.mp4", headers={"Range": "bytes=-500"})
        assert r.status_code == 206 and r.content == body[-500:]
        r = api.get(f"/v1/videos/{job.id}/video.mp4", headers={"Range": f"bytes={len(body)}-"})
        assert r.status_code == 416
        etag = api.get(f"/v1/videos/{job.id}/poster.jpg").headers["etag"]
        assert api.get(f"/v1/videos/{job.id}/poster.jpg", headers={"If-None-Match": etag}).status_code == 304
        assert api.head(f"/v1/videos/{job.id}/video.mp4").headers["content-length"] == str(len(body))
        vtt = api.get(f"/v1/videos/{job.id}/captions.vtt")
        assert vtt.status_code == 200 and vtt.text.startswith("WEBVTT")
        assert api.get("/health").json()["checks"]["storage"] == "ok"


def test_redirect_to_presigned_url(s3_done):
    s, _svc, job = s3_done
    s2 = s.model_copy(update={"s3_serve": "redirect"})
    svc2 = VideoService(s2, store=_svc.store)
    assert svc2.storage.serve_mode == "redirect"
    with TestClient(create_app(s2, svc2, run_sweeper=False)) as api:
        r = api.get(f"/v1/videos/{job.id}/video.mp4", follow_redirects=False)
        assert r.status_code == 302
        url = r.headers["location"]
        assert url.startswith(s.s3_endpoint_url) and "X-Amz-Signature" in url
        full = httpx.get(url)
        assert full.status_code == 200
        assert hashlib.sha256(full.content).hexdigest() == svc2.storage.manifest(job.content_key)["files"]["video.mp4"]["sha256"]
        part = httpx.get(url, headers={"Range": "bytes=0-99"})
        assert part.status_code == 206 and part.content == full.content[:100]
        # HEAD is answered by the API itself (a presigned GET URL does not sign HEAD).
        h = api.head(f"/v1/videos/{job.id}/video.mp4")
        assert h.status_code == 200 and h.headers["content-length"] == str(len(full.content))
