"""Script corrections: ``GET /v1/videos/{id}/script`` and ``PUT`` the same shape → a new job
rendering the corrected script with the job's options; unchanged sentences come from the
narration cache; captions show the corrected caption; bad scripts are 4xx naming the field."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from videogen.http.app import create_app
from videogen.render.script import corrected_lines
from videogen.service.videos import VideoService
from videogen.settings import Settings

from .helpers import short_article

KEY = "script-key-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}
SMALL = {"height": 120, "fps": 8, "tts": "espeak"}


@pytest.fixture()
def api(tmp_path):
    s = Settings(home=tmp_path / "home", api_keys=KEY)  # its own narration cache: hits are counted
    svc = VideoService(s)
    with TestClient(create_app(s, svc, run_sweeper=False)) as client:
        client.service = svc
        yield client


def _done_job(api) -> str:
    job_id = api.post("/v1/videos", json={**short_article(), "options": SMALL}, headers=AUTH).json()["id"]
    assert api.service.run(job_id, "w").status == "done"
    return job_id


def _manifest(api, job_id):
    job = api.service.store.get(job_id)
    return json.loads(b"".join(api.service.storage.read(job.output, "manifest.json")))


def test_get_script_then_put_a_correction_renders_only_the_changed_sentence(api):
    job_id = _done_job(api)
    assert api.get(f"/v1/videos/{job_id}/script").status_code == 401
    r = api.get(f"/v1/videos/{job_id}/script", headers=AUTH)
    assert r.status_code == 200
    sentences = r.json()["sentences"]
    assert sentences[0]["caption"] == short_article()["title"]
    assert len(sentences) == _manifest(api, job_id)["narration"]["lines"] == 3
    sentences[2] = {"caption": "Visitors can step inside a capsule replica.", "spoken": "Visitors can step inside a capsule copy."}
    sentences[1]["caption"] = "The city museum opened a new exhibition on Monday!"  # shown only: same speech
    assert api.put(f"/v1/videos/{job_id}/script", json={"sentences": sentences}).status_code == 401
    r = api.put(f"/v1/videos/{job_id}/script", json={"sentences": sentences}, headers=AUTH)
    assert r.status_code == 202, r.text
    new_id = r.json()["id"]
    assert new_id != job_id
    new = api.service.store.get(new_id)
    assert new.options["height"] == 120 and new.options["tts"] == "espeak"  # the job's options
    assert api.service.run(new_id, "w").status == "done"
    m = _manifest(api, new_id)
    assert m["narration"]["cache_hits"] == 2  # title and the first sentence: only one spoken again
    vtt = b"".join(api.service.storage.read(api.service.store.get(new_id).output, "captions.vtt")).decode()
    assert "Monday!" in vtt and "replica" in vtt
    again = api.get(f"/v1/videos/{new_id}/script", headers=AUTH).json()["sentences"]
    assert again[2]["spoken"] == "Visitors can step inside a capsule copy."
    r = api.post(f"/v1/videos/{new_id}/rerender", headers=AUTH)  # a re-render keeps the correction
    assert r.status_code == 202, r.text
    kept = api.get(f"/v1/videos/{r.json()['id']}/script", headers=AUTH).json()["sentences"]
    assert kept[2] == {"caption": "Visitors can step inside a capsule replica.",
                       "spoken": "Visitors can step inside a capsule copy."}


@pytest.mark.parametrize(("body", "status", "field"), [
    ({"sentences": []}, 422, "sentences"),
    ({"sentences": [{"caption": "a", "spoken": "a"}] * 10_000}, 422, "sentences"),
    ({"sentences": [{"caption": "Title", "spoken": "x" * 100_000}]}, 422, "sentences[0].spoken"),
    ({"sentences": [{"caption": "Ti\x07tle", "spoken": "Title"}]}, 422, "sentences[0].caption"),
    ({"sentences": [{"caption": "Title"}]}, 422, "sentences[0].spoken"),
    ({"sentences": [{"caption": "T", "spoken": "T", "x": 1}]}, 422, "sentences[0].x"),
    ({"sentences": "Title"}, 422, "sentences"),
    ({"other": 1}, 422, "other"),
])
def test_bad_scripts_are_refused_naming_the_field_and_queue_nothing(api, body, status, field):
    job_id = _done_job(api)
    r = api.put(f"/v1/videos/{job_id}/script", json=body, headers=AUTH)
    assert r.status_code == status, r.text
    assert field in [e["field"] for e in r.json()["errors"]]
    assert len(api.service.store.list()) == 1


def test_unknown_job_is_404_and_a_queued_job_409(api):
    assert api.get("/v1/videos/" + "0" * 32 + "/script", headers=AUTH).status_code == 404
    job_id = api.post("/v1/videos", json={**short_article(), "options": SMALL}, headers=AUTH).json()["id"]
    body = {"sentences": [{"caption": "T", "spoken": "T"}]}
    assert api.put(f"/v1/videos/{job_id}/script", json=body, headers=AUTH).status_code == 409


def test_new_spoken_text_is_read_like_article_text_and_old_kept_verbatim():
    served = [("Title", "Title."), ("It costs 3 000 euros.", "It costs trois mille euros.")]
    edited = [("Title", "Title."), ("It costs 3 000 euros.", "Il coûte 4 000 euros."),
              ("x", "It costs trois mille euros.")]
    out = corrected_lines(edited, served, "fr", {"euros": "euroz"})
    assert out[0] == ("Title", "Title.")
    assert out[1][1] == "Il coûte quatre mille euroz."
    assert out[2][1] == "It costs trois mille euros."
