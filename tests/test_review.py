"""Review and publishing (issue 18 part A): versions of a clip, the review status, approve /
reject / unpublish / publish, signed preview links, named keys, editorial events and webhooks,
on SQLite and PostgreSQL, through the app's real HTTP routes and real (small) renders."""

from __future__ import annotations

import re
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from videogen.cli import main
from videogen.http.app import create_app
from videogen.render.article import parse_article
from videogen.service.publishing import article_key, preview_valid, sign_preview
from videogen.service.schema import clips
from videogen.service.store import JobStore
from videogen.service.videos import JobOptions, VideoService
from videogen.service.webhooks import event_for
from videogen.settings import Settings

from .helpers import short_article
from .services import fresh_database

DESK, PLAIN = "desk-key-0123456789abcdef", "plain-key-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {DESK}"}
SMALL = {"height": 120, "fps": 8, "tts": "espeak"}


@pytest.fixture(scope="module")
def pg_url():
    with fresh_database() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def api(request, tmp_path, settings, monkeypatch):
    url = f"sqlite:///{tmp_path / 'jobs.sqlite'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    # The callers' webhook host resolves to a loopback address that VIDEOGEN_WEBHOOK_HOSTS_ALLOW allows.
    monkeypatch.setattr("socket.getaddrinfo", lambda *a, **k: [(2, 1, 6, "", ("127.0.0.1", 443))])
    s = Settings(home=tmp_path / "home", cache_dir=settings.cache_path, api_keys=f"desk:{DESK},{PLAIN}", database=url,
                 public_url="http://testserver", webhook_hosts_allow="hooks.localhost")
    sent: list[tuple[str, int | None, str | None]] = []
    svc = VideoService(s, notify=lambda job, hook=None, event=None: sent.append((job.id, hook, event)))
    svc.migrate()
    if request.param == "postgresql":
        with svc.store.engine.begin() as c:
            for table in ("jobs", "job_events", "job_webhooks", "clips", "job_counts"):
                c.exec_driver_sql(f"DELETE FROM {table}")
    with TestClient(create_app(s, svc, run_sweeper=False)) as client:
        client.service, client.sent = svc, sent
        yield client
    svc.store.engine.dispose()


def _render(api, publish: str = "auto", **extra) -> str:
    opts = {**SMALL, "publish": publish, "webhook_url": "https://hooks.localhost/h", **extra}
    r = api.post("/v1/videos", json={**short_article(), "options": opts}, headers=AUTH)
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    assert api.service.run(job_id, "w").status == "done"
    return job_id


def _video_src(html: str) -> str:
    return re.search(r'<video[^>]* src="([^"]+)"', html).group(1)


def test_review_round_trip(api):
    job_id = _render(api, "review")
    job = api.get(f"/v1/videos/{job_id}", headers=AUTH).json()
    assert job["status"] == "review" and job["publish"] == "review"
    assert job["publication"] == {"state": "not published", "version": None}
    assert "review" not in job
    assert [(j, e) for j, h, e in api.sent if h] == [(job_id, "video.review_requested")]  # the caller's webhook
    assert event_for("review") == event_for("done", "video.review_requested") == "video.review_requested"
    assert event_for("done", "bogus") == "video.done"

    # Not published: nothing public, media only with a key.
    assert api.get(f"/embed/{job_id}").status_code == 404
    assert api.get(f"/v1/videos/{job_id}/snippet").status_code == 404
    assert api.get("/oembed", params={"url": f"http://testserver/embed/{job_id}"}).status_code == 404
    assert api.get(f"/v1/videos/{job_id}/video.mp4").status_code == 404
    keyed = api.get(f"/v1/videos/{job_id}/poster.jpg", headers=AUTH)
    assert keyed.status_code == 200 and keyed.content[:2] == b"\xff\xd8" and "private" in keyed.headers["cache-control"]
    assert job_id not in api.get("/sitemaps/videos.xml").text

    # Bad input: 4xx naming the field or the state; nothing changes.
    bad = api.post(f"/v1/videos/{job_id}/reject", json={}, headers=AUTH)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "reason"
    bad = api.post(f"/v1/videos/{job_id}/reject", json={"reason": "x" * 2001}, headers=AUTH)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "reason"
    bad = api.post(f"/v1/videos/{job_id}/approve", json={"now": True}, headers=AUTH)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "now"
    bad = api.post(f"/v1/videos/{job_id}/preview-link", json={"ttl": 8 * 86400}, headers=AUTH)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "ttl"
    assert api.post(f"/v1/videos/{job_id}/approve").status_code == 401
    assert api.service.store.get(job_id).status == "review"
    failed = api.post("/v1/videos", json={**short_article(id="other"), "options": SMALL}, headers=AUTH).json()["id"]
    api.service.store.fail(failed, None, "broken")
    r = api.post(f"/v1/videos/{failed}/approve", headers=AUTH)
    assert r.status_code == 409 and "failed" in r.json()["detail"]
    assert api.post(f"/v1/videos/{failed}/reject", json={"reason": "no"}, headers=AUTH).status_code == 409
    assert api.service.store.get(failed).status == "failed"

    # A signed preview link shows this version (player and files) until it expires.
    r = api.post(f"/v1/videos/{job_id}/preview-link", json={"ttl": 600}, headers=AUTH)
    assert r.status_code == 200, r.text
    link = r.json()["url"]
    assert link.startswith(f"http://testserver/embed/{job_id}?preview=")
    page = api.get(link.replace("http://testserver", ""))
    assert page.status_code == 200 and 'name="robots" content="noindex"' in page.text and "og:video" not in page.text
    src = _video_src(page.text)
    assert f"/v1/videos/{job_id}/video.mp4?preview=" in src
    assert api.get(src.replace("http://testserver", ""), headers={"Range": "bytes=0-99"}).status_code == 206
    token = link.split("preview=")[1]
    assert api.get(f"/embed/{job_id}?preview={token[:-1]}0").status_code == 404
    expired = sign_preview(api.service.settings.preview_key, job_id, int(time.time()) - 1)
    assert api.get(f"/embed/{job_id}?preview={expired}").status_code == 404
    assert api.get(f"/v1/videos/{job_id}/video.mp4?preview={expired}").status_code == 404
    assert not preview_valid(api.service.settings.preview_key, failed, token)  # bound to its job

    # Approve: published, by the key's name, announced.
    r = api.post(f"/v1/videos/{job_id}/approve", headers=AUTH)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "done" and body["publication"] == {"state": "published", "version": job_id}
    assert body["review"]["by"] == "desk" and body["review"]["reason"] is None
    assert (job_id, "video.published") in [(j, e) for j, _h, e in api.sent]
    assert api.post(f"/v1/videos/{job_id}/approve", headers=AUTH).status_code == 409
    page = api.get(f"/embed/{job_id}")
    assert page.status_code == 200 and f"/v1/videos/{job_id}/video.mp4" in _video_src(page.text)
    assert api.get(f"/v1/videos/{job_id}/video.mp4").headers["cache-control"].startswith("public")
    assert job_id in api.get("/sitemaps/videos.xml").text

    # A correction is a new version in review: the embed keeps the published one until approved.
    script = api.get(f"/v1/videos/{job_id}/script", headers=AUTH).json()["sentences"]
    script[1]["caption"] = "The city museum opened a new exhibition on Monday!"
    r = api.put(f"/v1/videos/{job_id}/script", json={"sentences": script}, headers={"Authorization": f"Bearer {PLAIN}"})
    assert r.status_code == 202, r.text
    new_id = r.json()["id"]
    assert api.service.store.get(new_id).options["publish"] == "review"
    assert api.service.run(new_id, "w").status == "done"
    assert api.service.store.get(new_id).status == "review"
    for asked in (job_id, new_id):  # any version's id shows the published one
        assert f"/v1/videos/{job_id}/video.mp4" in _video_src(api.get(f"/embed/{asked}").text)
    assert api.post(f"/v1/videos/{new_id}/approve", headers=AUTH).status_code == 200
    assert f"/v1/videos/{new_id}/video.mp4" in _video_src(api.get(f"/embed/{job_id}").text)
    snippet = api.get(f"/v1/videos/{job_id}/snippet")
    assert snippet.status_code == 200 and f"/v1/videos/{new_id}/video.mp4" in snippet.text
    oembed = api.get("/oembed", params={"url": f"http://testserver/embed/{job_id}"}).json()
    assert f"/embed/{new_id}" in oembed["html"]
    versions = api.get(f"/v1/videos/{job_id}/versions", headers=AUTH).json()
    assert [v["id"] for v in versions["versions"]] == [new_id, job_id]
    assert versions["published"] == new_id and versions["state"] == "published"
    sitemap = api.get("/sitemaps/videos.xml").text
    assert new_id in sitemap and job_id not in sitemap
    # The old (superseded) version's files: with a key only.
    assert api.get(f"/v1/videos/{job_id}/poster.jpg").status_code == 404
    assert api.get(f"/v1/videos/{job_id}/poster.jpg", headers=AUTH).status_code == 200

    # Unpublish: 410 everywhere, files kept; editing it is refused; publish restores.
    r = api.post(f"/v1/videos/{job_id}/unpublish", headers=AUTH)
    assert r.status_code == 200 and r.json()["publication"]["state"] == "unpublished"
    assert (new_id, "video.unpublished") in [(j, e) for j, _h, e in api.sent]
    for path in (f"/embed/{job_id}", f"/embed/{new_id}", f"/v1/videos/{new_id}/snippet", f"/v1/videos/{new_id}/video.mp4",
                 "/articles/short-en"):
        assert api.get(path).status_code == 410, path
    assert "no longer available" in api.get(f"/embed/{new_id}").text
    assert api.get("/oembed", params={"url": f"http://testserver/embed/{new_id}"}).status_code == 410
    assert api.get("/oembed", params={"url": short_article()["url"]}).status_code == 410  # by the story's own URL
    assert new_id not in api.get("/sitemaps/videos.xml").text
    assert api.get(f"/v1/videos/{new_id}/video.mp4", headers=AUTH).status_code == 200  # files kept
    assert api.post(f"/v1/videos/{job_id}/unpublish", headers=AUTH).status_code == 409
    r = api.put(f"/v1/videos/{new_id}/script", json={"sentences": script}, headers=AUTH)
    assert r.status_code == 409 and "unpublished" in r.json()["detail"]
    assert len(api.get(f"/v1/videos/{job_id}/versions", headers=AUTH).json()["versions"]) == 2  # no new version
    r = api.post(f"/v1/videos/{new_id}/publish", headers=AUTH)
    assert r.status_code == 200 and r.json()["publication"] == {"state": "published", "version": new_id}
    assert api.get(f"/embed/{job_id}").status_code == 200
    assert api.get("/articles/short-en").status_code == 200

    # Publishing an older done version makes it the published one.
    assert api.post(f"/v1/videos/{job_id}/publish", headers=AUTH).json()["publication"]["version"] == job_id
    assert f"/v1/videos/{job_id}/video.mp4" in _video_src(api.get(f"/embed/{new_id}").text)

    # Every editorial action is an event with who and when.
    events = api.get(f"/v1/videos/{job_id}/events", headers=AUTH).json()["items"]
    mine = [(e["event"], e["by"]) for e in events if e["by"]]
    assert mine == [("preview link", "desk"), ("approved", "desk"), ("published", "desk"), ("script corrected", "key2"),
                    ("unpublished", "desk"), ("published", "desk")]
    assert [(e["event"], e["by"]) for e in api.get(f"/v1/videos/{new_id}/events", headers=AUTH).json()["items"]
            if e["by"]] == [("approved", "desk"), ("published", "desk"), ("published", "desk")]
    assert all(e["at"] for e in events)


def test_reject_records_the_reason_and_counts_the_new_statuses(api):
    job_id = _render(api, "review")
    assert api.service.store.counts()["review"] == 1
    r = api.post(f"/v1/videos/{job_id}/reject", json={"reason": "wrong picture of the minister"}, headers=AUTH)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "rejected" and body["review"]["reason"] == "wrong picture of the minister"
    assert body["review"]["by"] == "desk"
    counts = api.service.store.counts()
    assert counts["rejected"] == 1 and counts["review"] == 0
    metrics = api.get("/metrics", headers=AUTH).text
    assert 'videogen_jobs{status="rejected"} 1' in metrics and 'videogen_jobs{status="review"} 0' in metrics
    assert api.get("/v1/videos", params={"status": "rejected"}, headers=AUTH).json()["items"][0]["id"] == job_id
    assert api.get(f"/embed/{job_id}").status_code == 404
    assert api.post(f"/v1/videos/{job_id}/approve", headers=AUTH).status_code == 409


def test_a_takedown_is_sticky_for_auto_versions(api):
    first = _render(api)
    assert api.get(f"/v1/videos/{first}", headers=AUTH).json()["publication"] == {"state": "published", "version": first}
    assert api.post(f"/v1/videos/{first}/unpublish", headers=AUTH).status_code == 200
    r = api.post(f"/v1/videos/{first}/rerender", headers=AUTH)
    second = r.json()["id"]
    assert api.service.run(second, "w").status == "done"
    assert api.service.store.get(second).status == "done"
    assert api.get(f"/embed/{second}").status_code == 410  # not brought back by an auto render
    r = api.post(f"/v1/videos/{second}/publish", headers=AUTH)
    assert r.status_code == 200 and r.json()["publication"] == {"state": "published", "version": second}
    assert api.post(f"/v1/videos/{second}/publish", headers=AUTH).status_code == 409  # already it


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_migration_8_publishes_each_clips_newest_done_version(backend, tmp_path, request):
    url = f"sqlite:///{tmp_path / 'jobs.sqlite'}" if backend == "sqlite" else request.getfixturevalue("pg_url")
    store = JobStore(url)
    store.migrate(7)
    if backend == "postgresql":
        with store.engine.begin() as c:
            c.exec_driver_sql("DELETE FROM jobs")
    made = []
    for n, (article_id, template) in enumerate([("a", "news"), ("a", "news"), ("a", "square"), ("", "news")]):
        job, _ = store.create(article_id=article_id, content_key=f"{n}" * 64, template=template, voice=None, tts=None,
                              options={}, article={"title": "t", "url": "https://x.example/s/"}, force=True)
        lease = store.claim(job.id, "w")
        store.finish(job.id, lease, output=f"out{n}", duration=1.0, render_seconds=1.0, engine="e")
        made.append(store.get(job.id))
        time.sleep(0.01)
    assert store.migrate() == [8]
    with store.engine.connect() as c:
        rows = {(r.template, r.article_key): (r.published, r.state) for r in c.execute(select(clips))}
    assert rows == {("news", "id:a"): (made[1].id, "published"), ("square", "id:a"): (made[2].id, "published"),
                    ("news", "url:https://x.example/s"): (made[3].id, "published")}
    assert article_key(made[3]) == "url:https://x.example/s"
    store.engine.dispose()


def test_named_keys_and_the_cli(tmp_path, monkeypatch):
    s = Settings(api_keys=f"desk:{DESK}, {PLAIN} ,night:n-0123456789abcdef")
    assert s.named_api_keys == [("desk", DESK), ("key2", PLAIN), ("night", "n-0123456789abcdef")]
    assert s.api_key_list == [DESK, PLAIN, "n-0123456789abcdef"]
    assert s.preview_key != Settings(api_keys=PLAIN).preview_key and Settings(signing_key="k").preview_key == "k"

    monkeypatch.setenv("VIDEOGEN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("VIDEOGEN_DATABASE", f"sqlite:///{tmp_path / 'jobs.sqlite'}")
    from videogen.settings import get_settings

    get_settings.cache_clear()
    try:
        svc = VideoService(get_settings())
        svc.migrate()

        job, _ = svc.enqueue(parse_article(short_article()), JobOptions(**SMALL, publish="review"))
        assert svc.run(job.id, "w").status == "done"
        assert main(["review", "list"]) == 0
        with pytest.raises(SystemExit) as exit_:
            main(["review", "reject", job.id])  # --reason is required
        assert exit_.value.code == 2
        assert main(["review", "publish", job.id]) == 2  # in review: approve it
        assert main(["review", "--by", "night-desk", "approve", job.id]) == 0
        assert svc.store.get(job.id).status == "done"
        assert main(["review", "approve", job.id]) == 2
        assert main(["review", "unpublish", job.id]) == 0
        assert svc.publishing.clip_of(svc.store.get(job.id)).state == "unpublished"
        assert main(["review", "publish", job.id]) == 0
        events = [(e.event, e.actor) for e in svc.store.events(job.id) if e.actor]
        assert events == [("approved", "night-desk"), ("published", "night-desk"), ("unpublished", "cli"),
                          ("published", "cli")]
        assert main(["review", "approve", "0" * 32]) == 2
    finally:
        get_settings.cache_clear()


def test_a_feeds_publish_mode_goes_to_its_jobs(tmp_path):
    from videogen.service.ingest.poller import FeedService
    from videogen.service.ingest.registry import FeedConfig

    feeds = FeedService(VideoService(Settings(home=tmp_path / "home")))
    assert feeds.job_options(FeedConfig(publish="review"), "news").publish == "review"
    assert feeds.job_options(FeedConfig(), "news").publish == "auto"


def test_retention_keeps_the_files_of_a_published_older_version(tmp_path):
    from datetime import timedelta

    from videogen.service.retention import collect
    from videogen.service.store import now

    s = Settings(home=tmp_path / "home", retain_superseded_days=1)
    svc = VideoService(s)
    svc.migrate()
    made = []
    for n in range(2):
        job, _ = svc.store.create(article_id="a", content_key=f"{n}" * 64, template="news", voice=None, tts=None,
                                  options={}, article={"title": "t"}, force=True)
        folder = s.media_path / job.content_key
        folder.mkdir(parents=True)
        (folder / "video.mp4").write_bytes(b"x" * 100)
        lease = svc.store.claim(job.id, "w")
        svc.store.finish(job.id, lease, output=job.content_key, duration=1.0, render_seconds=1.0, engine="e",
                         then=svc.publishing.on_finished(job))
        made.append(job.id)
        time.sleep(0.01)
    later = now() + timedelta(days=2)
    assert collect(svc.store, svc.storage, s, dry_run=True, at=later).media_sets == 1  # the older, superseded
    svc.publish(made[0], "desk")  # an editor puts the older version back
    assert collect(svc.store, svc.storage, s, dry_run=True, at=later).media_sets == 0
