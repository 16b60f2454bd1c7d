"""Issue 16, defect 3 and two lesser items: what a caller without a key may read when API keys
are set, webhook URLs never echoed and each caller's webhook called for a shared render, no
filesystem paths in error texts, cross-site writes refused in no-key mode, wrong keys rate
limited per address, and Host headers outside the allowed list refused."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient

from videogen.cli.serve import open_warning
from videogen.http.app import create_app
from videogen.http.guards import host_name
from videogen.render.article import parse_article
from videogen.service.videos import JobOptions, VideoService, public_job
from videogen.service.views import scrub_paths, webhook_summary
from videogen.settings import Settings

from .helpers import short_article

K1, K2 = "newsroom-key-one-000", "newsroom-key-two-000"
SMALL = {"height": 120, "fps": 8}


def make(tmp_path, settings, notify=None, **overrides):
    s = Settings(home=tmp_path / "home", cache_dir=settings.cache_path, **overrides)
    svc = VideoService(s, notify=notify)
    client = TestClient(create_app(s, svc, run_sweeper=False))
    client.service = svc
    return client


def key(k):
    return {"Authorization": f"Bearer {k}"}


# --- pure helpers ---------------------------------------------------------------------------------

def test_scrub_paths_keeps_urls_and_drops_directories():
    assert scrub_paths("[Errno 28] No space left on device: '/srv/vg/media/ab12/video.mp4'") == \
        "[Errno 28] No space left on device: '…/video.mp4'"
    assert scrub_paths("template '/etc/videogen/x.toml' does not exist") == "template '…/x.toml' does not exist"
    assert scrub_paths("OperationalError: unable to open sqla+sqlite:////home/u/.videogen/broker.sqlite") == \
        "OperationalError: unable to open <path>"
    assert scrub_paths("webhook to https://hooks.example/a/b answered 500") == "webhook to https://hooks.example/a/b answered 500"
    assert scrub_paths("1/2 of the frames, w/o audio") == "1/2 of the frames, w/o audio"
    assert scrub_paths(None) is None


def test_webhook_summary_and_host_name():
    assert webhook_summary([]) is None
    assert webhook_summary([None, None]) is None
    assert webhook_summary(["delivered (204)", "delivered (204)"]) == "delivered (204)"
    assert webhook_summary(["delivered (204)", None]) == "1× delivered (204), 1× pending"
    assert host_name("Example.org:8000") == "example.org"
    assert host_name("[::1]:8000") == "::1"
    assert host_name("::1") == "::1"


def test_default_allowed_hosts_come_from_the_configuration():
    s = Settings(allowed_hosts="", public_url="https://news.example/video", api_host="0.0.0.0")  # noqa: S104
    assert s.allowed_host_list == ["localhost", "127.0.0.1", "::1", "news.example"]
    assert "10.1.2.3" in Settings(allowed_hosts="", api_host="10.1.2.3").allowed_host_list
    assert "testserver" not in Settings(allowed_hosts="").allowed_host_list


def test_open_warning_on_a_non_loopback_address_without_keys():
    assert open_warning("127.0.0.1", []) is None and open_warning("localhost", []) is None
    assert open_warning("0.0.0.0", ["k"]) is None  # noqa: S104
    w = open_warning("0.0.0.0", [])  # noqa: S104
    assert w and "WARNING" in w and "VIDEOGEN_API_KEYS" in w


def test_public_job_never_shows_a_webhook_url_or_a_path(tmp_path, settings):
    s = Settings(home=tmp_path / "home", cache_dir=settings.cache_path)
    svc = VideoService(s)
    svc.migrate()
    job, _ = svc.enqueue(parse_article(short_article(id="p1")), JobOptions(**SMALL))
    lease = svc.store.claim(job.id, "w:1")
    svc.store.fail(job.id, lease, f"cannot write {tmp_path}/home/media/x/video.mp4: disk full")
    out = public_job(svc.store.get(job.id))
    assert out["error"] == "cannot write …/video.mp4: disk full"
    assert str(tmp_path) not in json.dumps(out)


# --- keys set: what a caller without a key may read ------------------------------------------------

def test_every_v1_read_needs_a_key_and_metrics_too_unless_public(tmp_path, settings):
    with make(tmp_path, settings, api_keys=f"{K1},{K2}") as api:
        r = api.post("/v1/videos", json={**short_article(id="s1"), "options": SMALL}, headers=key(K1))
        job_id = r.json()["id"]
        for path in ("/v1/videos", f"/v1/videos/{job_id}", f"/v1/videos/{job_id}/events", "/v1/queue",
                     "/v1/templates", "/metrics"):
            r = api.get(path)
            assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json", path
            assert "s1" not in r.text and "Astronaut" not in r.text
            assert api.get(path, headers=key(K2)).status_code == 200, path
        assert api.get("/health").status_code == 200
        assert api.get("/v1/videos", params={"api_key": K1}).status_code == 401, "never a key in the query"
        assert api.get("/v1/videos", headers={"Cookie": f"api_key={K1}"}).status_code == 401, "never a key in a cookie"
    with make(tmp_path, settings, api_keys=K1, metrics_public=True) as api:
        assert api.get("/metrics").status_code == 200
        assert api.get("/v1/queue").status_code == 401


def test_media_and_snippet_of_a_published_clip_are_public_nothing_else(tmp_path, settings):
    with make(tmp_path, settings, api_keys=K1) as api:
        done = api.post("/v1/videos", json={**short_article(id="pub"), "options": SMALL}, headers=key(K1)).json()["id"]
        queued = api.post("/v1/videos", json={**short_article(id="embargo", body="Under embargo until noon."),
                                              "options": SMALL}, headers=key(K1)).json()["id"]
        assert api.service.run(done, "w:1").status == "done"
        assert api.get(f"/v1/videos/{done}/video.mp4").status_code == 200
        assert api.get(f"/v1/videos/{done}/captions.vtt").status_code == 200
        assert api.get(f"/v1/videos/{done}/snippet").status_code == 200
        r = api.get(f"/v1/videos/{queued}/video.mp4")
        assert r.status_code == 404 and "queued" not in r.text, "no key: not even the job's state"
        assert "queued" in api.get(f"/v1/videos/{queued}/video.mp4", headers=key(K1)).text
        assert api.get(f"/v1/videos/{queued}/snippet").status_code == 404
        art = api.get("/articles/embargo")
        assert art.status_code == 404 and "embargo until noon" not in art.text
        assert api.get(f"/embed/{queued}").status_code == 404
        assert api.get("/articles/pub").status_code == 200 and api.get(f"/embed/{done}").status_code == 200
        page = api.get("/").text
        assert done not in page and "pub" not in page.split("<script>")[0].split("</header>")[1]


def test_no_key_mode_stays_open_and_the_dashboard_escapes(tmp_path, settings):
    evil = "<script>alert(1)</script>"
    with make(tmp_path, settings) as api:
        r = api.post("/v1/videos", json={**short_article(id="open", title=evil), "options": SMALL})
        assert r.status_code == 202
        assert api.get("/v1/videos").status_code == 200 and api.get("/v1/queue").status_code == 200
        page = api.get("/").text
        assert r.json()["id"] in page and "&lt;script&gt;alert(1)" in page and "<script>alert(1)" not in page
        assert "rendering" in api.get(f"/embed/{r.json()['id']}").text


# --- wrong keys --------------------------------------------------------------------------------------

def test_wrong_keys_are_limited_per_address_and_a_right_key_works_elsewhere(tmp_path, settings):
    s = Settings(home=tmp_path / "home", cache_dir=settings.cache_path, api_keys=K1, auth_fail_limit=10)
    app = create_app(s, VideoService(s), run_sweeper=False)
    with TestClient(app, client=("203.0.113.7", 4000)) as guesser, TestClient(app, client=("198.51.100.2", 4000)) as other:
        assert {guesser.get("/v1/videos").status_code for _ in range(20)} == {401}, "no key guesses nothing"
        codes = [guesser.get("/v1/videos", headers=key(f"guess-{i}")).status_code for i in range(30)]
        assert codes[:10] == [401] * 10 and codes[10:] == [429] * 20
        r = guesser.get("/v1/videos", headers=key(K1))
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1, "a blocked address learns nothing"
        assert guesser.post("/v1/videos", json=short_article(), headers=key("guess")).status_code == 429
        assert other.get("/v1/videos", headers=key(K1)).status_code == 200
        assert other.get("/v1/videos", headers=key("typo")).status_code == 401


# --- no-key mode: browser cross-site writes ------------------------------------------------------------

def test_cross_site_and_non_json_writes_are_refused(tmp_path, settings):
    body = json.dumps({**short_article(id="csrf"), "options": SMALL})
    with make(tmp_path, settings) as api:
        r = api.post("/v1/videos", content=body, headers={"Content-Type": "text/plain", "Origin": "http://evil.example"})
        assert r.status_code == 403 and r.json()["errors"][0]["field"] == "Origin"
        r = api.post("/v1/videos", content=body, headers={"Content-Type": "text/plain"})
        assert r.status_code == 415 and r.json()["errors"][0]["field"] == "Content-Type"
        r = api.post("/v1/videos", content="title=x&summary=y",
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert r.status_code == 415
        r = api.post("/v1/videos", content=body, headers={"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"})
        assert r.status_code == 403 and r.json()["errors"][0]["field"] == "Sec-Fetch-Site"
        assert api.get("/v1/videos").json()["items"] == [], "nothing was queued"
        r = api.post("/v1/videos", content=body, headers={"Content-Type": "application/json", "Origin": "http://testserver",
                                                          "Sec-Fetch-Site": "same-origin"})
        assert r.status_code == 202
        job_id = r.json()["id"]
        assert api.delete(f"/v1/videos/{job_id}", headers={"Origin": "https://evil.example"}).status_code == 403
        assert api.delete(f"/v1/videos/{job_id}", headers={"Origin": "null"}).status_code == 403
        assert api.get("/v1/videos", headers={"Origin": "http://evil.example"}).status_code == 200, "reads are not writes"
        assert api.delete(f"/v1/videos/{job_id}").status_code == 200, "no Origin: not a browser's cross-site write"


# --- Host header ------------------------------------------------------------------------------------------

def test_unknown_host_is_refused_unless_a_public_url_is_set(tmp_path, settings):
    with make(tmp_path, settings, allowed_hosts="testserver,news.example") as api:
        r = api.get("/health", headers={"Host": "attacker.example"})
        assert r.status_code == 400 and r.json()["errors"][0]["field"] == "Host"
        assert api.get("/health", headers={"Host": "news.example:8000"}).status_code == 200
    with make(tmp_path, settings, allowed_hosts="testserver", public_url="https://video.news.example") as api:
        job_id = api.post("/v1/videos", json={**short_article(id="h"), "options": SMALL}).json()["id"]
        assert api.service.run(job_id, "w:1").status == "done"
        r = api.get("/oembed", params={"url": f"https://video.news.example/embed/{job_id}"},
                    headers={"Host": "attacker.example"})
        assert r.status_code == 200 and "attacker" not in r.text and "https://video.news.example/embed/" in r.text


# --- webhooks: never echoed, each caller's called for a shared render -------------------------------------

class Receiver:
    """A local webhook receiver: records (path, body) of every POST; a path in ``fail_once``
    answers 500 the first time."""

    def __init__(self):
        self.calls: list[tuple[str, dict]] = []
        self.fail_once = set()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.calls.append((self.path, body))
                code = 500 if self.path in outer.fail_once else 204
                outer.fail_once.discard(self.path)
                self.send_response(code)
                self.end_headers()

            def log_message(self, *_a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture()
def receiver():
    r = Receiver()
    yield r
    r.server.shutdown()


def test_two_keys_one_job_both_webhooks_delivered_none_echoed(tmp_path, settings, monkeypatch, receiver):
    import workers.tasks as tasks

    queued: list[tuple] = []
    api = make(tmp_path, settings, notify=lambda job, wid=None: queued.append((job.id, wid)),
               api_keys=f"{K1},{K2}", webhook_hosts_allow="127.0.0.1", rate_limit=0)
    monkeypatch.setattr(tasks, "service", lambda: api.service)
    receiver.fail_once.add("/two?token=bbb")
    article = {**short_article(id="shared"), "options": SMALL}
    with api:
        one = api.post("/v1/videos", json={**article, "options": {**SMALL, "webhook_url": f"{receiver.url}/one?token=aaa"}},
                       headers=key(K1)).json()
        two = api.post("/v1/videos", json={**article, "options": {**SMALL, "webhook_url": f"{receiver.url}/two?token=bbb",
                                                                  "webhook_secret": "s2"}}, headers=key(K2)).json()
        assert two["id"] == one["id"] and two["deduplicated"] is True
        for shown in (json.dumps(one), json.dumps(two), api.get(f"/v1/videos/{one['id']}", headers=key(K2)).text,
                      api.get("/v1/videos", headers=key(K1)).text, api.get(f"/v1/videos/{one['id']}/events", headers=key(K1)).text):
            assert "token=" not in shown and "127.0.0.1" not in shown and "s2" not in shown
        assert two["webhook"] == {"url": "set", "status": None, "count": 2}
        assert api.service.run(one["id"], "w:1").status == "done"
        assert len(queued) == 2 and {w for _, w in queued} != {None}
        api.service.notify(api.service.store.get(one["id"]))  # a second notify sends nothing again
        assert len(queued) == 2
        for job_id, wid in queued:  # the worker's task, run here: retries with backoff per webhook
            tasks.send_webhook.apply(args=[job_id, wid])
        paths = sorted(p for p, _ in receiver.calls)
        assert paths == ["/one?token=aaa", "/two?token=bbb", "/two?token=bbb"], "each called; the failing one retried alone"
        for _, body in receiver.calls:
            assert body["event"] == "video.done" and body["job"]["webhook"]["url"] == "set"
            assert "token=" not in json.dumps(body)
        job = api.get(f"/v1/videos/{one['id']}", headers=key(K1)).json()
        assert job["webhook"] == {"url": "set", "status": "delivered (204)", "count": 2}
        # A third caller joining the finished render is called at once.
        three = api.post("/v1/videos", json={**article, "options": {**SMALL, "webhook_url": f"{receiver.url}/three"}},
                         headers=key(K2)).json()
        assert three["id"] == one["id"] and len(queued) == 3
        tasks.send_webhook.apply(args=list(queued[-1]))
        assert receiver.calls[-1][0] == "/three"


def test_the_cli_bind_address_is_an_allowed_host(tmp_path, settings):
    from videogen.cli.serve import _make_app

    s = Settings(home=tmp_path / "home", cache_dir=settings.cache_path, allowed_hosts="", api_host="127.0.0.1")
    with TestClient(_make_app(VideoService(s), "10.77.0.2"), base_url="http://10.77.0.2:8000") as api:
        assert api.get("/docs").status_code == 200
        assert api.get("/docs", headers={"Host": "other.example"}).status_code == 400
