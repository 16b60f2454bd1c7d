"""Feeds and article pages against a local HTTP server (tests/ingest_server.py): polls make one
job per new item and template, re-polls make none (304, or unchanged items), a changed item
renders again, every bad input gets a recorded reason and nothing queued, two pollers at once
enqueue each item once; the CLI (`videogen ingest`, `videogen feeds …`) and the HTTP API
(`POST /v1/ingest`, `/v1/feeds…`). No job is rendered here (no worker): the ingest benchmark
(scripts/bench_ingest.py) measures item → finished clip."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from videogen.http.app import create_app
from videogen.service.ingest.poller import FeedService, backoff
from videogen.service.ingest.registry import FAILING_AFTER, FeedConfig
from videogen.service.store import JobStore
from videogen.service.videos import VideoService
from videogen.settings import Settings

from .ingest_server import FixtureServer, Route
from .services import fresh_database

KEY = "feeds-key-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture()
def srv():
    with FixtureServer() as s:
        s.routes["/culture/piscine"] = Route(s.fixture("page_og.html"), "text/html")
        yield s


def make_feeds(tmp_path: Path, srv: FixtureServer, database: str | None = None, **extra) -> FeedService:
    # Only this server's host:port is exempt from the address check (another port of 127.0.0.1 is not).
    s = Settings(home=tmp_path / "home", database_url=database, fetch_hosts_allow=f"127.0.0.1:{srv.base.rsplit(':', 1)[1]}", **extra)
    videos = VideoService(s)
    videos.migrate()
    return FeedService(videos)


@pytest.fixture()
def feeds(tmp_path, srv):
    return make_feeds(tmp_path, srv)


def add(feeds: FeedService, srv: FixtureServer, path: str, **config) -> str:
    feed, created = feeds.registry.add(srv.url(path), FeedConfig(**config))
    assert created
    return feed.id


@pytest.mark.parametrize("path, titles", [
    ("/feeds/wordpress.rss", ["City council votes to extend the tram line to the airport", "Storm warning for the coast on Thursday",
                              "Local bakery wins national croissant prize"]),
    ("/feeds/atom.xml", ["Le marché de Noël ouvre ses portes sur la place du Port", "La piscine municipale rouvre après travaux"]),
    ("/feeds/feed.json", ["The old lighthouse becomes a museum", "Fishing quotas cut by a fifth"]),
])
def test_each_fixture_feed_makes_one_job_per_item_and_a_repoll_makes_none(feeds, srv, path, titles):
    feed_id = add(feeds, srv, path)
    first = feeds.poll(feed_id)
    assert first.status == "200" and [i.status for i in first.items] == ["enqueued"] * len(titles)
    jobs = [feeds.videos.store.get(j) for j in first.job_ids]
    assert sorted(j.article["title"] for j in jobs) == sorted(titles) and {j.status for j in jobs} == {"queued"}
    state = feeds.registry.get(feed_id)
    assert state.items_seen == len(titles) and state.etag and state.state == "ok"
    again = feeds.poll(feed_id, force=True)
    assert again.status == "304" and again.job_ids == [] and srv.hits[path] == 2
    assert len(feeds.videos.store.list()) == len(titles)


def test_atom_teaser_is_extracted_from_its_page(feeds, srv):
    result = feeds.poll(add(feeds, srv, "/feeds/atom.xml"))
    teaser = feeds.videos.store.get(result.items[0].job_ids[0]).article
    assert srv.hits["/pages/page_og.html"] == 1  # the teaser's page was fetched, the full item's was not
    assert srv.hits["/culture/piscine"] == 0
    assert teaser["summary"].startswith("Le marché de Noël a ouvert vendredi soir") and "Lire aussi" not in teaser["body"]


def test_several_templates_and_options_per_item(feeds, srv):
    feed_id = add(feeds, srv, "/feeds/feed.json", templates=["news", "vertical"], options={"height": 144, "priority": 7})
    jobs = [feeds.videos.store.get(j) for j in feeds.poll(feed_id).job_ids]
    assert sorted(j.template for j in jobs) == ["news", "news", "vertical", "vertical"]
    assert {j.priority for j in jobs} == {7} and {j.options["height"] for j in jobs} == {144}


def test_unchanged_items_make_nothing_and_a_changed_item_renders_again_as_the_same_article(feeds, srv):
    feed_id = add(feeds, srv, "/feeds/wordpress.rss")
    first = feeds.poll(feed_id)
    body = srv.fixture("wordpress.rss")
    # A new ETag (a comment changed) but the same items: nothing new.
    srv.routes["/feeds/wordpress.rss"] = Route(body + b"<!-- rebuilt -->", "application/rss+xml")
    assert feeds.poll(feed_id, force=True).status == "200"
    assert len(feeds.videos.store.list()) == 3
    srv.routes["/feeds/wordpress.rss"] = Route(body.replace(b"Storm warning for the coast on Thursday",
                                                            b"Storm warning: ferries cancelled on Thursday"), "application/rss+xml")
    changed = feeds.poll(feed_id, force=True)
    assert [i.status for i in changed.items] == ["unchanged", "enqueued", "unchanged"]
    new = feeds.videos.store.get(changed.job_ids[0])
    old = next(feeds.videos.store.get(j) for j in first.job_ids if feeds.videos.store.get(j).article["title"].startswith("Storm"))
    assert new.article_id == old.article_id and new.id != old.id and new.content_key != old.content_key


def test_bad_items_get_recorded_reasons_and_nothing_is_queued_for_them(feeds, srv):
    srv.routes["/bad.rss"] = Route(
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>Bad</title><language>en</language>'
        b"<item><guid>1</guid><description>An item without any title at all, long enough to be a summary of something.</description></item>"
        b"<item><guid>2</guid><title>Future</title><pubDate>Tue, 01 Dec 2099 09:00:00 +0000</pubDate><description>x</description></item>"
        b"<item><guid>3</guid><title>Unreadable date</title><pubDate>soon</pubDate><description>x</description></item>"
        b"<item><guid>4</guid><title>First with this GUID, a good one</title><description>The harbour authority said on Monday that the new "
        b"quay will open in spring, after two years of work and a budget of twelve million euros.</description></item>"
        b"<item><guid>4</guid><title>Second with the same GUID</title><description>Another text entirely, long enough to be a "
        b"summary of its own, about a different story altogether in the town.</description></item>"
        b"</channel></rss>", "application/rss+xml")
    feed_id = add(feeds, srv, "/bad.rss")
    result = feeds.poll(feed_id)
    by_status = [(i.status, i.reason) for i in result.items]
    assert by_status[0] == ("skipped", "the item has no title")
    assert by_status[1][0] == "skipped" and by_status[1][1].startswith("the item is dated in the future")
    assert by_status[2] == ("skipped", "the item's date 'soon' cannot be read")
    assert by_status[3] == ("enqueued", None)
    assert by_status[4] == ("skipped", "duplicate GUID in the feed (the first item with it is used)")
    assert len(result.job_ids) == 1 and len(feeds.videos.store.list()) == 1
    recorded = {i.title: i.reason for i in feeds.registry.items(feed_id)}
    assert recorded["Future"].startswith("the item is dated in the future") and recorded[None] == "the item has no title"
    assert feeds.poll(feed_id, force=True).status == "304"


def test_a_feed_of_5000_items_takes_the_newest_n(feeds, srv):
    items = b"".join(b'<item><guid isPermaLink="false">g%d</guid><title>Story number %d</title>'
                     b"<pubDate>%s</pubDate><description>The story number %d is told here in enough words to be a real "
                     b"summary of what happened in the town on that day.</description></item>"
                     % (n, n, (datetime(2026, 12, 1, tzinfo=UTC) - timedelta(minutes=n)).strftime("%a, %d %b %Y %H:%M:%S +0000").encode(), n)
                     for n in range(5000))
    srv.routes["/big.rss"] = Route(b'<?xml version="1.0"?><rss version="2.0"><channel><title>Big</title><language>en</language>'
                                   + items + b"</channel></rss>", "application/rss+xml")
    result = feeds.poll(add(feeds, srv, "/big.rss", max_items=5))
    assert len(result.items) == 5 and result.skipped_older == 4995 and len(result.job_ids) == 5
    assert [i.title for i in result.items] == [f"Story number {n}" for n in range(5)]
    assert feeds.registry.get(result.feed_id).last_status == "200: 5 item(s) enqueued, 4995 older left out"


@pytest.mark.parametrize("route, reason", [
    (Route(b"x" * 20_000_000, "text/html"), "feed is 20000000 bytes; the limit is 5000000"),  # a 20 MB answer
    (Route(b"", "text/html", 302, {"Location": "http://127.0.0.1:9/feed.rss"}), "resolves to a non-public address"),
    (Route(b"", "text/html", 302, {"Location": "http://169.254.169.254/latest"}), "non-public address"),
    (Route(b"<html><head><title>Oops</title></head><body>Server error</body></html>", "application/rss+xml"),
     "not a feed: the URL answered an HTML page"),
    (None, "invalid XML"),
    (Route(b"gone", "text/html", 404), "answered 404"),
])
def test_a_failing_feed_records_its_error_backs_off_and_is_flagged_after_repeated_failures(feeds, srv, route, reason):
    srv.routes["/feed"] = route or Route(srv.fixture("invalid.xml"), "application/rss+xml")
    feed_id = add(feeds, srv, "/feed", every=60)
    for n in range(FAILING_AFTER):
        result = feeds.poll(feed_id, force=True)
        assert result.status == "failed" and reason in result.error
        feed = feeds.registry.get(feed_id)
        assert feed.failures == n + 1 and reason in feed.last_error
        wait = (feed.next_poll_at - feed.last_poll_at).total_seconds()
        assert 60 * 2 ** (n + 1) * 0.85 < wait < 60 * 2 ** (n + 1) * 1.15  # backoff doubles
    assert feeds.registry.get(feed_id).state == "failing"
    assert feeds.videos.store.list() == []
    srv.routes["/feed"] = Route(srv.fixture("feed.json"), "application/feed+json")  # fixed: back to ok
    assert feeds.poll(feed_id, force=True).status == "200" and feeds.registry.get(feed_id).state == "ok"


def test_backoff_is_jittered_and_capped():
    import random

    rng = random.Random(1)
    values = [backoff(300, 0, rng) for _ in range(50)]
    assert min(values) >= 270 and max(values) <= 330 and len(set(values)) > 40
    assert backoff(300, 30, rng) <= 6 * 3600 * 1.1


def test_a_teaser_page_that_fails_for_now_is_tried_again_next_poll(feeds, srv):
    srv.routes["/pages/page_og.html"] = Route(b"busy", "text/html", 503)
    feed_id = add(feeds, srv, "/feeds/atom.xml")
    first = feeds.poll(feed_id)
    assert [i.status for i in first.items] == ["failed", "enqueued"] and "503" in first.items[0].reason
    assert "503" in feeds.registry.get(feed_id).last_error and feeds.registry.get(feed_id).failures == 0
    del srv.routes["/pages/page_og.html"]
    srv.routes["/feeds/atom.xml"] = Route(srv.fixture("atom.xml") + b" ", "application/atom+xml")  # new ETag
    assert [i.status for i in feeds.poll(feed_id, force=True).items] == ["enqueued", "unchanged"]


def _two_pollers_enqueue_each_item_once(tmp_path, srv, database=None):
    a = make_feeds(tmp_path, srv, database)
    b = FeedService(VideoService(a.settings, store=JobStore(a.settings.database)))
    feed_id = add(a, srv, "/feeds/wordpress.rss")
    barrier = threading.Barrier(2)
    results = []

    def run(svc: FeedService) -> None:
        barrier.wait()
        feed = svc.registry.get(feed_id)
        results.append(svc._poll_claimed(feed))  # past the poll claim: the item insert alone decides

    threads = [threading.Thread(target=run, args=(s,)) for s in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    enqueued = [i for r in results for i in r.items if i.status == "enqueued"]
    assert len(enqueued) == 3 and len(a.videos.store.list()) == 3
    # And the claim: of two pollers asking at once, one polls, the other hears "busy".
    assert sorted(r.status for r in [a.poll(feed_id, force=True), b.poll(feed_id, force=True)]) in (["304", "304"],)
    assert a.registry.claim(feed_id, 60, due_only=False) and not b.registry.claim(feed_id, 60, due_only=False)


def test_two_pollers_at_once_enqueue_each_item_once(tmp_path, srv):
    _two_pollers_enqueue_each_item_once(tmp_path, srv)


@pytest.mark.postgres
def test_two_pollers_at_once_enqueue_each_item_once_on_postgres(tmp_path, srv):
    with fresh_database("videogen_feeds") as url:
        _two_pollers_enqueue_each_item_once(tmp_path, srv, url)


def test_poll_due_polls_only_due_feeds_and_the_poller_thread_runs_them(feeds, srv):
    due = add(feeds, srv, "/feeds/feed.json", every=3600)
    assert [r.feed_id for r in feeds.poll_due()] == [due]
    assert feeds.poll_due() == []  # polled: due again in an hour
    stop = threading.Event()
    later = add(feeds, srv, "/feeds/wordpress.rss")
    thread = feeds.start_poller(stop, tick=0.05)
    try:
        for _ in range(200):
            if feeds.registry.get(later).last_poll_at:
                break
            threading.Event().wait(0.05)
    finally:
        stop.set()
        thread.join(5)
    assert feeds.registry.get(later).items_seen == 3


# --- ingest of one URL -----------------------------------------------------------------------------

def test_ingest_a_page_and_a_feed(feeds, srv):
    jobs, skipped = feeds.ingest([srv.url("/pages/page_jsonld.html")], FeedConfig(templates=["news", "vertical"]))
    assert len(jobs) == 2 and {j.article["title"] for j in jobs} == {"Harbour bridge reopens after eight months of repairs"}
    jobs, skipped = feeds.ingest([srv.url("/feeds/feed.json")])
    assert [j.article["title"] for j in jobs] == ["The old lighthouse becomes a museum", "Fishing quotas cut by a fifth"]


@pytest.mark.parametrize("path, reason", [
    ("/pages/no_article.html", "no article on the page"),
    ("/big.html", "article page or feed is larger than 5000000 bytes"),  # 20 MB, no Content-Length
    ("/feeds/invalid.xml", "invalid XML"),
    ("/missing", "answered 404"),
    ("/pages/error_page.html", "no article on the page"),
])
def test_ingest_of_what_is_no_article_raises_and_queues_nothing(feeds, srv, path, reason):
    from videogen.service.ingest.pages import NotAnArticle

    srv.routes["/big.html"] = Route(b"<html><body>" + b"<p>word </p>" * 2_000_000, "text/html", length=False)
    with pytest.raises(NotAnArticle, match=reason):
        feeds.ingest([srv.url("/pages/page_og.html"), srv.url(path)])
    assert feeds.videos.store.list() == []  # the good URL before it was not queued either


def test_private_addresses_are_refused_without_the_allow_list(tmp_path, srv):
    from videogen.service.ingest.pages import NotAnArticle

    closed = FeedService(VideoService(Settings(home=tmp_path / "h2")))
    closed.videos.migrate()
    with pytest.raises(NotAnArticle, match="non-public address"):
        closed.ingest([srv.url("/pages/page_og.html")])
    legacy = FeedService(VideoService(Settings(home=tmp_path / "h3", image_hosts_allow="127.0.0.1")))
    legacy.videos.migrate()
    assert len(legacy.ingest([srv.url("/pages/page_og.html")])[0]) == 1  # VIDEOGEN_IMAGE_HOSTS_ALLOW still counts


# --- CLI ---------------------------------------------------------------------------------------------

@pytest.fixture()
def cli(tmp_path, srv, monkeypatch, capsys):
    """``cli(*args)`` → (exit code, stdout, stderr) of ``videogen`` run in this process with its
    own home (a subprocess per call would cost seconds of imports each)."""
    from videogen.cli import main
    from videogen.settings import get_settings
    from workers.celery_app import default_app

    monkeypatch.setenv("VIDEOGEN_HOME", str(tmp_path / "cli-home"))
    monkeypatch.setenv("VIDEOGEN_FETCH_HOSTS_ALLOW", "127.0.0.1")
    get_settings.cache_clear()
    default_app.cache_clear()

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out = capsys.readouterr()
        return code, out.out, out.err

    yield run
    get_settings.cache_clear()
    default_app.cache_clear()


def test_cli_ingest_prints_job_ids_and_exits_2_queueing_nothing_for_what_is_no_article(tmp_path, srv, cli):
    code, out, err = cli("ingest", srv.url("/pages/page_jsonld.html"), srv.url("/feeds/feed.json"), "-t", "news", "-t", "vertical")
    assert code == 0, err
    ids = out.split()
    assert len(ids) == 6 and all(len(i) == 32 for i in ids)
    for path, message in (("/pages/no_article.html", "no article on the page"), ("/feeds/invalid.xml", "invalid XML"),
                          ("/missing", "answered 404"), ("/feeds/error_page.html", "no article on the page")):
        code, out, err = cli("ingest", srv.url("/feeds/wordpress.rss"), srv.url(path))
        assert code == 2 and message in err and out == "", err
    code, out, _ = cli("queue", "--json")
    import json

    assert json.loads(out)["counts"]["queued"] == 6  # nothing more was queued


def test_cli_feeds_add_list_poll_remove(tmp_path, srv, cli):
    import json

    code, out, err = cli("feeds", "add", srv.url("/feeds/wordpress.rss"), "--every", "5", "--template", "news",
                         "--language", "en", "--review")
    assert code == 0, err
    feed_id = out.strip()
    assert cli("feeds", "add", "ftp://x/feed")[0] == 2
    code, _, err = cli("feeds", "add", srv.url("/x"), "--every", "1")
    assert code == 2 and "--every" in err and "greater than or equal to 5" in err
    code, out, err = cli("feeds", "poll", feed_id)
    assert code == 0 and len(out.split()) == 3, err
    code, out, _ = cli("feeds", "list", "--json")
    [view] = json.loads(out)
    assert view["id"] == feed_id and view["items_seen"] == 3 and view["publish"] == "review" and view["every"] == 5
    assert view["policy"]["languages"] == ["en"]
    code, out, _ = cli("feeds", "list")
    assert feed_id in out and "ok" in out
    assert cli("feeds", "remove", feed_id)[0] == 0
    code, _, err = cli("feeds", "remove", feed_id)
    assert code == 2 and f"no feed {feed_id}" in err


def test_cli_entry_point_ingests(tmp_path, srv):
    env = {**os.environ, "VIDEOGEN_HOME": str(tmp_path / "cli-home"), "VIDEOGEN_FETCH_HOSTS_ALLOW": "127.0.0.1"}
    r = subprocess.run([sys.executable, "-m", "videogen.cli", "ingest", srv.url("/pages/page_og.html")], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and len(r.stdout.split()) == 1, r.stderr


# --- HTTP API -----------------------------------------------------------------------------------------

@pytest.fixture()
def api(tmp_path, srv):
    s = Settings(home=tmp_path / "api-home", api_keys=KEY, fetch_hosts_allow="127.0.0.1")
    svc = VideoService(s)
    with TestClient(create_app(s, svc, run_sweeper=False)) as client:
        yield client


def test_api_ingest(api, srv):
    r = api.post("/v1/ingest", json={"url": srv.url("/pages/page_og.html"), "options": {"templates": ["news", "vertical"],
                                                                                         "height": 144}}, headers=AUTH)
    assert r.status_code == 202, r.text
    body = r.json()
    assert len(body["job_ids"]) == 2 and {j["article"]["title"] for j in body["jobs"]} == {"Le marché de Noël ouvre ses portes sur la place du Port"}
    assert api.post("/v1/ingest", json={"url": srv.url("/pages/page_og.html")}).status_code == 401
    r = api.post("/v1/ingest", json={"url": srv.url("/pages/no_article.html")}, headers=AUTH)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "url" and "no article" in r.json()["detail"]
    r = api.post("/v1/ingest", json={"url": "file:///etc/passwd"}, headers=AUTH)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "url"
    r = api.post("/v1/ingest", json={"url": srv.url("/pages/page_og.html"), "options": {"template": "nope"}}, headers=AUTH)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "options.templates[0]"
    r = api.post("/v1/ingest", json={"url": srv.url("/pages/page_og.html"), "options": {"height": 5}}, headers=AUTH)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "options.height"


def test_api_feeds_crud_and_poll(api, srv):
    assert api.post("/v1/feeds", json={"url": srv.url("/feeds/wordpress.rss")}).status_code == 401
    r = api.post("/v1/feeds", json={"url": srv.url("/feeds/wordpress.rss"), "every": 30, "templates": ["news"],
                                    "policy": {"exclude_categories": ["Food"]}}, headers=AUTH)
    assert r.status_code == 201, r.text
    feed = r.json()
    assert feed["state"] == "new" and feed["every"] == 30 and r.headers["location"].endswith(feed["id"])
    assert api.post("/v1/feeds", json={"url": srv.url("/feeds/wordpress.rss")}, headers=AUTH).status_code == 200
    r = api.post("/v1/feeds", json={"url": srv.url("/x"), "every": 1}, headers=AUTH)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "every"
    r = api.post("/v1/feeds", json={"url": srv.url("/x"), "templates": ["../etc"]}, headers=AUTH)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "templates[0]"
    r = api.post(f"/v1/feeds/{feed['id']}/poll", headers=AUTH)
    assert r.status_code == 200 and r.json()["counts"] == {"enqueued": 2, "skipped": 1}
    detail = api.get(f"/v1/feeds/{feed['id']}", headers=AUTH).json()
    assert detail["items_seen"] == 3 and detail["state"] == "ok"
    skipped = next(i for i in detail["items"] if i["status"] == "skipped")
    assert skipped["reason"] == "category 'food' is excluded" and skipped["jobs"] == []
    assert all(j["status"] == "queued" for i in detail["items"] for j in i["jobs"])
    assert api.get(f"/v1/feeds/{feed['id']}").status_code == 401
    r = api.patch(f"/v1/feeds/{feed['id']}", json={"every": 600, "policy": {"min_words": 10}}, headers=AUTH)
    assert r.status_code == 200 and r.json()["every"] == 600 and r.json()["policy"]["exclude_categories"] == ["Food"]
    assert api.patch(f"/v1/feeds/{feed['id']}", json={"every": "soon"}, headers=AUTH).status_code == 422
    assert [f["id"] for f in api.get("/v1/feeds", headers=AUTH).json()["items"]] == [feed["id"]]
    assert api.delete(f"/v1/feeds/{feed['id']}", headers=AUTH).status_code == 204
    assert api.get(f"/v1/feeds/{feed['id']}", headers=AUTH).status_code == 404
    assert api.post(f"/v1/feeds/{feed['id']}/poll", headers=AUTH).status_code == 404


# --- production polling: Celery beat ------------------------------------------------------------------

def test_beat_schedules_the_poll_task_that_polls_due_feeds(tmp_path, srv, monkeypatch):
    from ruamel.yaml import YAML

    from videogen.cli import COMMANDS, build_parser
    from workers import tasks
    from workers.celery_app import POLL_FEEDS_TASK, make_app

    app = make_app(Settings(home=tmp_path / "beat", feed_tick=7))
    [entry] = [e for e in app.conf.beat_schedule.values() if e["task"] == POLL_FEEDS_TASK]
    assert entry["schedule"] == 7 and entry["options"]["priority"] == 9
    assert tasks.poll_feeds.name == POLL_FEEDS_TASK
    feeds = make_feeds(tmp_path, srv)
    add(feeds, srv, "/feeds/feed.json")
    monkeypatch.setattr(tasks, "service", lambda: feeds.videos)
    assert tasks.poll_feeds() == {"polled": 1, "jobs": 2, "failed": 0}
    assert tasks.poll_feeds() == {"polled": 0, "jobs": 0, "failed": 0}  # not due again yet
    compose = YAML(typ="safe").load((Path(__file__).parent.parent / "docker-compose.yml").read_text())
    beat = compose["services"]["beat"]
    assert build_parser().parse_args(beat["command"]).command == "beat" and "beat" in COMMANDS
    assert build_parser().parse_args(["worker", "--beat"]).beat
    assert compose["services"]["api"]["environment"]["VIDEOGEN_FEED_POLLER"] == "false"


def test_the_api_process_polls_registered_feeds_by_itself(tmp_path, srv):
    """What `videogen serve` (and `videogen api`) run: the app's lifespan starts the poller."""
    s = Settings(home=tmp_path / "serve-home", fetch_hosts_allow="127.0.0.1", feed_tick=0.1, sweep_interval=60)
    with TestClient(create_app(s, VideoService(s))) as client:
        feed = client.post("/v1/feeds", json={"url": srv.url("/feeds/feed.json"), "every": 5}).json()
        for _ in range(100):
            if client.get(f"/v1/feeds/{feed['id']}").json()["items_seen"]:
                break
            threading.Event().wait(0.1)
        detail = client.get(f"/v1/feeds/{feed['id']}").json()
    assert detail["items_seen"] == 2 and [i["status"] for i in detail["items"]] == ["enqueued", "enqueued"]
    off = Settings(home=tmp_path / "off-home", fetch_hosts_allow="127.0.0.1", feed_tick=0.1, feed_poller=False)
    with TestClient(create_app(off, VideoService(off))) as client:
        feed = client.post("/v1/feeds", json={"url": srv.url("/feeds/feed.json")}).json()
        threading.Event().wait(0.5)
        assert client.get(f"/v1/feeds/{feed['id']}").json()["last_poll_at"] is None  # VIDEOGEN_FEED_POLLER=0
