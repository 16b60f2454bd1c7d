"""The HTML side of the service: what article pages embed and what the operator looks at.

- ``GET /embed/{id}``: a tiny player page for an ``<iframe>`` (any size; the clip letterboxes),
  with a "rendering… NN%" state that follows the job until the video is ready.
- ``GET /oembed``: oEmbed 1.0 (JSON, ``type: video``) for the embed URL or the article's URL.
- ``GET /v1/videos/{id}/snippet``: the block an article page pastes under the story (heading,
  ``<video>`` and schema.org ``VideoObject`` JSON-LD); ``videogen snippet ID`` prints the same.
- ``GET /articles/{article id}``: a demo news page with the snippet under the story.
- ``GET /``: the job dashboard (live progress, filters, enqueue form, re-render, cancel).
- ``GET /review/{id}``: an editor's review page of one version (player, script, lexicon,
  pictures, approve / reject / unpublish / publish), all read and written through the API.

Plain server-rendered Jinja pages (``templates/pages/``) with a little vanilla JavaScript; no
third-party scripts or fonts. Media is served by the API's own routes (Range, ETag).
"""

from __future__ import annotations

import html
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from videogen.errors import JobNotFound, StorageError
from videogen.http.auth import Auth
from videogen.http.problems import JOB_ID, Problem, problems
from videogen.render import i18n
from videogen.render.templates import available_templates
from videogen.service.store import STATUSES, Job
from videogen.service.videos import VideoService
from videogen.service.views import scrub_paths
from videogen.settings import PROJECT_ROOT, Settings

ARTICLE_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
EMBED_PATH = re.compile(r"^/embed/([a-f0-9]{32})/?$")
ARTICLE_PATH = re.compile(r"^/articles/([A-Za-z0-9._-]{1,128})/?$")
DEFAULT_EMBED_SIZE = 640  # oEmbed size of the long side when the consumer gives no maximum
LANGUAGE_NAMES = {"en": "English", "fr": "Français", "de": "Deutsch", "es": "Español", "ru": "Русский",
                  "el": "Ελληνικά", "ar": "العربية", "he": "עברית", "hi": "हिन्दी", "zh": "中文",
                  "ja": "日本語", "ko": "한국어"}


def pages_dir(settings: Settings) -> Path:
    """Page templates: ``pages`` in the first templates folder that has one (a newsroom's
    own), else ours."""
    for folder in settings.templates_dirs:
        if (folder / "pages").is_dir():
            return folder / "pages"
    return PROJECT_ROOT / "templates" / "pages"


def environment(settings: Settings) -> Environment:
    env = Environment(loader=FileSystemLoader(str(pages_dir(settings))),
                      autoescape=select_autoescape(["html"], default_for_string=True, default=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["jsonld"] = jsonld
    return env


# --- pure helpers (tested directly) ---------------------------------------------------------

def jsonld(data: Any) -> Markup:
    """JSON for a ``<script type="application/ld+json">``: ``<``, ``>`` and ``&`` are written as
    ``\\u003c`` etc., so no string inside can close the script element or open a comment."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return Markup(text)  # noqa: S704 - every character that could end the script element is escaped above


def iso_duration(seconds: float) -> str:
    """ISO 8601 duration: 40.4 → 'PT40.4S', 75.5 → 'PT1M15.5S', 3600 → 'PT1H'."""
    ms = round(max(0.0, seconds) * 1000)
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s = rest / 1000
    out = "PT" + (f"{h}H" if h else "") + (f"{m}M" if m else "")
    if s or out == "PT":
        out += (f"{s:.3f}".rstrip("0").rstrip(".")) + "S"
    return out


def fit(width: int, height: int, maxwidth: int | None, maxheight: int | None) -> tuple[int, int]:
    """Display size of a ``width``×``height`` clip inside the consumer's maximum box, keeping
    the aspect ratio (scaled up or down to fill it); 640 px on the long side without a box."""
    if width <= 0 or height <= 0:
        raise ValueError("size must be positive")
    scales = [b / n for b, n in ((maxwidth, width), (maxheight, height)) if b]
    scale = min(scales) if scales else DEFAULT_EMBED_SIZE / max(width, height)
    w, h = max(1, int(width * scale + 1e-9)), max(1, int(height * scale + 1e-9))
    return min(w, maxwidth or w), min(h, maxheight or h)


def _lang(job: Job) -> str:
    return str(job.article.get("language") or "en")


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


# --- what the pages show of a job ---------------------------------------------------------------

class Pages:
    """Builds the pages and the snippet from the job store and the storage."""

    def __init__(self, settings: Settings, service: VideoService):
        self.settings, self.service = settings, service
        self.env = environment(settings)

    def base(self, request: Request | None = None) -> str:
        """Absolute base URL for links others copy (iframe src, JSON-LD): the configured
        public URL, else the one this request came to."""
        if self.settings.public_url:
            return self.settings.public_url.rstrip("/")
        if request is not None:
            return str(request.base_url).rstrip("/")
        return f"http://{self.settings.api_host}:{self.settings.api_port}"

    def job(self, job_id: str) -> Job | None:
        if not re.match(JOB_ID, job_id):
            return None
        try:
            return self.service.store.get(job_id)
        except JobNotFound:
            return None

    def video(self, job: Job, base: str, preview: str | None = None) -> dict[str, Any]:
        """Everything the player, snippet and oEmbed say about a done job's video (``preview``:
        a preview token the media links carry)."""
        try:
            manifest = self.service.storage.manifest(job.output or "")
        except StorageError:
            manifest = {}
        tpl = manifest.get("template", {})
        lang = _lang(job)
        title = str(job.article.get("title") or "")
        media = f"{base}/v1/videos/{job.id}"
        q = "?" + urlencode({"preview": preview}) if preview else ""
        uploaded = job.finished_at or job.created_at
        return {
            "id": job.id, "title": title, "lang": lang, "dir": i18n.text_direction(lang),
            "lang_name": LANGUAGE_NAMES.get(lang.split("-")[0].lower(), lang),
            "description": str(job.article.get("summary") or job.article.get("body") or title)[:500],
            "width": int(tpl.get("width") or 1920), "height": int(tpl.get("height") or 1080),
            "duration": float(manifest.get("duration") or job.duration or 0.0),
            "video_url": f"{media}/video.mp4{q}", "poster_url": f"{media}/poster.jpg{q}",
            "captions_url": f"{media}/captions.vtt{q}", "embed_url": f"{base}/embed/{job.id}",
            "upload_date": uploaded.isoformat(timespec="seconds"), "source": job.article.get("source"),
            "article_url": job.article.get("url"),
        }

    def video_object(self, v: dict[str, Any]) -> dict[str, Any]:
        """schema.org VideoObject of a video (for the snippet's JSON-LD)."""
        return {
            "@context": "https://schema.org", "@type": "VideoObject",
            "name": v["title"], "description": v["description"], "thumbnailUrl": [v["poster_url"]],
            "uploadDate": v["upload_date"], "duration": iso_duration(v["duration"]),
            "contentUrl": v["video_url"], "embedUrl": v["embed_url"], "inLanguage": v["lang"],
            "width": v["width"], "height": v["height"],
            "caption": {"@type": "MediaObject", "contentUrl": v["captions_url"], "encodingFormat": "text/vtt",
                        "inLanguage": v["lang"]},
        }

    def snippet(self, job: Job, base: str) -> str:
        """The HTML block an article page pastes under the story (job must be done)."""
        v = self.video(job, base)
        heading = i18n.text("watch_video_about", v["lang"], title=v["title"])
        return self.env.get_template("snippet.html").render(v=v, heading=heading, ld=self.video_object(v))

    def latest_for_article(self, article_id: str) -> Job | None:
        """The newest job of an article, whatever its state (its article page's progress)."""
        jobs = self.service.store.list(limit=1, article_id=article_id)
        return jobs[0] if jobs else None

    def gone(self) -> HTMLResponse:
        """The neutral page of a clip an editor took down (410: it existed, it is withdrawn)."""
        return self.render("player.html", 410, job=None, v=None, lang="en", dir="ltr", title="",
                           message="This video is no longer available.")

    def render(self, name: str, code: int = 200, **values: Any) -> HTMLResponse:
        body = self.env.get_template(name).render(**values)
        return HTMLResponse(body, status_code=code, headers={
            "X-Content-Type-Options": "nosniff", "Referrer-Policy": "strict-origin-when-cross-origin"})


def page_router(settings: Settings, service: VideoService, auth: Auth | None = None) -> APIRouter:
    """The HTML routes; ``videogen.http.app.create_app`` includes them. When API keys are set,
    the public surfaces (player, article page, snippet, oEmbed) show published clips only and
    the dashboard carries no job data (its script asks for a key and reads the API with it)."""
    pages = Pages(settings, service)
    router = APIRouter()
    auth = auth or Auth(settings)
    private = auth.required  # keys set: nothing unpublished is shown without one

    # --- player -----------------------------------------------------------------------------
    @router.get("/embed/{job_id}", include_in_schema=False)
    def embed(job_id: str, request: Request, preview: str | None = Query(None, max_length=64)) -> HTMLResponse:
        """Any version's id shows its clip's published version; ``?preview=<token>`` shows this
        version itself until the token expires (a bad or expired one counts as none)."""
        missing = dict(job=None, v=None, lang="en", dir="ltr", message="This video does not exist.")
        job = pages.job(job_id)
        if job is None:
            return pages.render("player.html", 404, **missing)
        base = pages.base(request)
        if preview and service.preview_allowed(job, preview):
            lang = _lang(job)
            return pages.render("player.html", v=pages.video(job, base, preview), job=job, lang=lang, preview=True,
                                dir=i18n.text_direction(lang), oembed=None, title=str(job.article.get("title") or ""))
        state, shown = service.public_version(job)
        if state == "unpublished":
            return pages.gone()
        # Not published: a version waiting for (or turned down by) an editor is not shown at all;
        # without keys, the progress of an auto render is (as before versions existed).
        if shown is None and (private or job.status in ("review", "rejected") or job.options.get("publish") == "review"):
            return pages.render("player.html", 404, **missing)
        job = shown or job
        lang = _lang(job)
        oembed = f"{base}/oembed?" + urlencode({"url": f"{base}/embed/{job.id}", "format": "json"})
        common: dict[str, Any] = dict(job=job, lang=lang, dir=i18n.text_direction(lang), oembed=oembed,
                      title=str(job.article.get("title") or ""), error=scrub_paths(job.error))
        if shown is not None:
            return pages.render("player.html", v=pages.video(job, base), **common)
        message = {"failed": "This video could not be rendered.",
                   "cancelled": "This video was cancelled."}.get(job.status, "")
        return pages.render("player.html", v=None, message=message, **common)

    # --- oEmbed -----------------------------------------------------------------------------
    @router.get("/oembed", include_in_schema=False)
    def oembed(request: Request, url: str = Query(..., max_length=2048),
               maxwidth: int | None = Query(None, ge=1, le=10_000), maxheight: int | None = Query(None, ge=1, le=10_000),
               format: str = Query("json", max_length=16)) -> Response:  # noqa: A002 - the oEmbed parameter's name
        if format != "json":
            raise Problem(501, "Not Implemented", f"oEmbed format {format!r} is not supported; use format=json")
        job, state = None, "not published"
        path = urlsplit(url).path
        if m := EMBED_PATH.match(path):
            asked = pages.job(m.group(1))
            if asked is not None:
                state, job = service.public_version(asked)
        elif m := ARTICLE_PATH.match(path):
            state, job = service.publishing.by_article(m.group(1))
        if job is None and state != "unpublished":
            state, job = service.publishing.by_article_url(url)
        if job is None and state == "unpublished":
            raise Problem(410, "Gone", "this video was withdrawn")
        if job is None:
            raise Problem(404, "Not Found", "no finished video for this URL")
        base = pages.base(request)
        v = pages.video(job, base)
        w, h = fit(v["width"], v["height"], maxwidth, maxheight)
        iframe = (f'<iframe src="{html.escape(v["embed_url"])}" width="{w}" height="{h}" frameborder="0" '
                  f'allow="autoplay; fullscreen; picture-in-picture" allowfullscreen '
                  f'title="{html.escape(v["title"])}"></iframe>')
        body = {
            "version": "1.0", "type": "video", "title": v["title"],
            "provider_name": v["source"] or "videogen", "provider_url": base,
            "html": iframe, "width": w, "height": h, "cache_age": 3600,
            "thumbnail_url": v["poster_url"], "thumbnail_width": v["width"], "thumbnail_height": v["height"],  # the poster is a frame-sized JPEG
        }
        return JSONResponse(body, headers={"Access-Control-Allow-Origin": "*", "Cache-Control": "public, max-age=300"})

    # --- snippet ------------------------------------------------------------------------------
    @router.get("/v1/videos/{job_id}/snippet", summary="HTML block for an article page (heading, video, JSON-LD)",
                response_class=HTMLResponse,
                responses={200: {"content": {"text/html": {}}, "description": "The snippet"}, **problems(404, 409)})
    def snippet(job_id: str, request: Request) -> HTMLResponse:
        job = pages.job(job_id)
        if job is None:
            raise Problem(404, "Not Found", f"no video {job_id[:40]!r}")
        state, shown = service.public_version(job)
        if state == "unpublished":
            raise Problem(410, "Gone", "this video was withdrawn")
        if shown is None and not auth.valid(request):
            raise Problem(404, "Not Found", f"no video {job_id[:40]!r}")
        if shown is None:
            raise Problem(409, "Conflict", f"the video is {job.status} and its clip {state}",
                          headers={"Retry-After": "5"} if job.status in ("queued", "rendering") else None)
        return HTMLResponse(pages.snippet(shown, pages.base(request)), headers={"X-Content-Type-Options": "nosniff"})

    # --- demo article page ------------------------------------------------------------------------
    @router.get("/articles/{article_id}", include_in_schema=False)
    def article_page(article_id: str, request: Request) -> HTMLResponse:
        state, job = service.publishing.by_article(article_id) if ARTICLE_ID.match(article_id) else ("not published", None)
        if state == "unpublished":
            return pages.gone()
        if job is None and ARTICLE_ID.match(article_id) and not private:  # keys set: published stories only
            job = pages.latest_for_article(article_id)
            if job is not None and job.options.get("publish") == "review":
                job = None  # a version for an editor is never on the public page
        if job is None:
            return pages.render("article.html", 404, a=None, lang="en", dir="ltr")
        a = job.article
        lang = _lang(job)
        published = _date(a.get("published_at"))
        body = [p.strip() for p in re.split(r"\n\s*\n|\n", str(a.get("body") or "")) if p.strip()]
        base = pages.base(request)
        done = state == "published"
        return pages.render(
            "article.html", a=a, lang=lang, dir=i18n.text_direction(lang), paragraphs=body,
            date=i18n.long_date(published, lang) if published else None,
            published_iso=published.isoformat() if published else None,
            snippet=Markup(pages.snippet(job, base)) if done else None,  # noqa: S704 - rendered by an autoescaping template
            card=pages.video(job, base) if done else None, card_url=a.get("url") or f"{base}/articles/{article_id}",
            pending=None if done else job, video_label=i18n.text("video", lang))

    # --- dashboard --------------------------------------------------------------------------------
    @router.get("/", include_in_schema=False)
    def dashboard(request: Request, status: str | None = Query(None, max_length=16)) -> HTMLResponse:
        if status not in STATUSES:
            status = None
        # Keys set: the page carries no job data; its script asks for a key (kept in the tab's
        # sessionStorage) and reads the API with an Authorization header.
        jobs = [] if private else service.store.list(status=status, limit=50)
        counts = dict.fromkeys(STATUSES, 0) if private else service.store.counts()
        voices = sorted((v for v in service.chain.voices() if v.offline), key=lambda v: (v.language, -v.quality))
        return pages.render(
            "dashboard.html", jobs=service.job_views(jobs), counts=counts,
            statuses=STATUSES, status=status, templates=available_templates(settings.templates_dirs),
            voices=voices, keys_required=bool(settings.api_key_list), lang="en", dir="ltr")

    # --- review page --------------------------------------------------------------------------------
    @router.get("/review/{job_id}", include_in_schema=False)
    def review(job_id: str) -> HTMLResponse:
        # Like the dashboard with keys set, always: no job data here, not even whether the job
        # exists; the page's script reads everything from the API with the tab's key.
        code = 200 if re.match(JOB_ID, job_id) else 404
        return pages.render("review.html", code, job_id=job_id if code == 200 else None,
                            keys_required=bool(settings.api_key_list), lang="en", dir="ltr")

    return router
