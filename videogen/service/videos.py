"""The render service's logic, shared by the HTTP API, the CLI and the Celery workers:
enqueue with idempotency, cancel, re-render, run a job on a worker (claim, heartbeat,
render, publish, finish) and sweep for lost work. The broker is reached only through the
``dispatch`` function given to it, so this module knows nothing of Celery."""

from __future__ import annotations

import functools
import logging
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from videogen.errors import (
    Cancelled,
    InvalidArticle,
    InvalidInput,
    JobConflict,
    LeaseLost,
    VideogenError,
)
from videogen.net import check_url, resolve_checked
from videogen.outputs import OUTPUT_FILES
from videogen.render.article import Article, parse_article
from videogen.render.brand import check_brand
from videogen.render.config import TtsChoice
from videogen.render.keys import content_key, lexicon_for
from videogen.render.narration import NarrationChain
from videogen.render.pipeline import RenderOptions, render_article
from videogen.render.script import build_script, check_corrections, corrected_lines
from videogen.render.templates import (
    TEMPLATE_NAME,
    Template,
    TemplateDirs,
    available_templates,
    load_template,
)
from videogen.service.lexicon import Lexicons
from videogen.service.pictures import StoredUploads, check_addresses, check_sources, parse_pictures
from videogen.service.publishing import (
    Clip,
    ClipState,
    Publishing,
    PublishMode,
    Review,
    check_ttl,
    preview_valid,
    sign_preview,
)
from videogen.service.retention import collect
from videogen.service.storage import Storage, open_storage
from videogen.service.store import Job, JobStore, now, store_unreachable
from videogen.service.views import (
    ArticleRef,
    FailedJob,
    JobOut,
    QueueOut,
    RunningJob,
    WebhookState,
    WorkerStats,
    scrub_paths,
    webhook_summary,
)
from videogen.settings import Settings

log = logging.getLogger(__name__)

Dispatch = Callable[[Job], None]
Notify = Callable[..., None]  # (job) for a job's legacy jobs.webhook_url, (job, webhook id) for a job_webhooks row
BrokerDepth = Callable[[], int]

#: Statuses of a version an editor can see and edit: a finished render with files.
EDITABLE = ("done", "review", "rejected")

SEND_GRACE = 5.0
"""Seconds after which a queued job's wake-up call counts as being in the broker: a sweep
compares the broker's depth with the queued jobs sent at least this long ago, so a call
still on its way (counted in neither, or in one only) is not taken for a lost one."""


class JobOptions(BaseModel):
    """How to render an enqueued article."""

    model_config = ConfigDict(extra="forbid")

    template: str = Field("news", max_length=64, description="Template name (see GET /v1/templates).")
    voice: str | None = Field(None, max_length=128, description="Voice id; default: the best offline voice.")
    tts: TtsChoice = "auto"
    priority: int = Field(5, ge=0, le=9, description="0 (lowest) to 9 (highest).")
    webhook_url: str | None = Field(None, max_length=2048, description="POSTed to when the job is done or failed.")
    webhook_secret: str | None = Field(None, max_length=256, description="HMAC-SHA256 key for the webhook signature.")
    force: bool = Field(False, description="Render again even if the same content was already rendered.")
    max_duration: float | None = Field(None, gt=5, le=900)
    height: int | None = Field(None, ge=90, le=2160, description="Render smaller than the template (previews).")
    fps: float | None = Field(None, ge=5, le=60)
    publish: PublishMode = Field("auto", description='"auto": a finished render goes live (status done); "review": it waits '
                                                     "for an editor (status review) to approve or reject it.")

    @field_validator("webhook_url")
    @classmethod
    def _webhook(cls, v: str | None) -> str | None:
        if v is not None and not v.lower().startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return v


def check_template_name(name: str, templates_dir: TemplateDirs) -> None:
    """Refuse anything but the name of an available template (never a path: whether a file
    exists on the server is not the caller's business), listing the available names."""
    names = available_templates(templates_dir)
    if not TEMPLATE_NAME.match(name) or name not in names:
        raise InvalidInput("options.template", f"unknown template {name[:64]!r}; the API takes a template name: "
                           + ", ".join(names))


def check_bounds(options: JobOptions, template: Template, max_duration: float) -> None:
    """Per-request options may shrink a render, never grow it: height and fps at most the
    template's, ``max_duration`` at most the configured one (``VIDEOGEN_MAX_DURATION``)."""
    if options.height is not None and options.height > template.height:
        raise InvalidInput("options.height", f"{options.height} is higher than the {template.name} template's "
                           f"{template.height}; at most {template.height}")
    if options.fps is not None and options.fps > template.fps:
        raise InvalidInput("options.fps", f"{options.fps:g} is more than the {template.name} template's "
                           f"{template.fps:g} fps; at most {template.fps:g}")
    if options.max_duration is not None and options.max_duration > max_duration:
        raise InvalidInput("options.max_duration", f"{options.max_duration:g} s is longer than the configured "
                           f"maximum; at most {max_duration:g}")


@dataclass
class RunOutcome:
    status: Literal["done", "failed", "retry", "skipped", "lost"]
    error: str | None = None


class VideoService:
    def __init__(self, settings: Settings, dispatch: Dispatch | None = None, notify: Notify | None = None,
                 store: JobStore | None = None, storage: Storage | None = None, broker_depth: BrokerDepth | None = None):
        self.settings = settings
        self.store = store or JobStore(settings.database, pool_size=settings.db_pool_size,
                                       max_overflow=settings.db_max_overflow, pool_timeout=settings.db_pool_timeout)
        self.storage = storage or open_storage(settings.storage_url, settings.media_path, settings)
        self.dispatch = dispatch
        self.broker_depth = broker_depth  # messages waiting in the broker, read now (sweeps)
        self._queue_webhook = notify
        self._migrated = False
        self.lexicons = Lexicons(self.store.engine)
        self.publishing = Publishing(self.store)

    @functools.cached_property
    def chain(self) -> NarrationChain:
        """Voices known here, for validating enqueued jobs (cached: listing them reads files)."""
        return NarrationChain.from_config(self.settings.render_config())

    def migrate(self) -> None:
        if not self._migrated:
            self.store.migrate()
            self._migrated = True

    # --- enqueue ----------------------------------------------------------------------------
    def check(self, article: Article, options: JobOptions, local: bool = False,
              script: list[tuple[str, str]] | None = None) -> dict[str, Any]:
        """Everything ``enqueue`` would store, or the InvalidInput it would raise: lets a batch
        be checked whole before any of it is queued. ``local`` marks the CLI: it may name a
        template by path and read images from disk; the API names templates only."""
        if not local:
            check_template_name(options.template, self.settings.templates_dirs)
        template = load_template(options.template, self.settings.templates_dirs)
        try:  # a broken brand is refused here, not by the worker after the job was queued
            check_brand(template)
        except InvalidInput as e:
            raise InvalidInput("options.template", e.message) from None
        check_bounds(options, template, self.settings.max_duration)
        self.chain.candidates(article.lang, options.tts, options.voice)
        if not local:
            check_sources(article, self.storage)
        if options.webhook_url:
            try:
                _scheme, host, port = check_url(options.webhook_url)
                resolve_checked(host, port, self.settings.webhook_hosts)
            except VideogenError as e:
                raise InvalidInput("options.webhook_url", str(e)) from None
        max_duration = options.max_duration or self.settings.max_duration
        # The lexicon is taken now: the entries that apply to the article are part of the job
        # (and of its content key, so a changed entry makes a new render).
        lexicon = lexicon_for(article, self.lexicons.get(article.lang))
        key = content_key(article, template.at_size(options.height, options.fps), options.voice, options.tts, max_duration,
                          lexicon, script)
        opts = options.model_dump(exclude={"webhook_url", "webhook_secret", "priority"})
        opts["max_duration"] = max_duration
        if lexicon:
            opts["lexicon"] = lexicon
        if script:
            opts["script"] = [list(pair) for pair in script]
        if local and article.base_dir is not None:
            opts["base_dir"] = str(article.base_dir)
        return dict(
            article_id=article.id or "", content_key=key, template=template.name, voice=options.voice,
            tts=options.tts, options=opts, article=article.model_dump(mode="json", exclude_none=True),
            priority=options.priority, webhook_url=options.webhook_url,
            webhook_secret=options.webhook_secret or self.settings.webhook_secret or None, force=options.force,
        )

    def enqueue(self, article: Article, options: JobOptions, local: bool = False,
                script: list[tuple[str, str]] | None = None) -> tuple[Job, bool]:
        """Queue ``article``; the same content (article, template, voice, renderer) enqueued
        again returns the existing job unless ``options.force``. ``local`` marks a trusted
        caller (the CLI) whose image paths may be read from disk; ``script``, an editor's
        corrected script (``correct``)."""
        values = self.check(article, options, local, script)
        url, secret = values.pop("webhook_url"), values.pop("webhook_secret")
        job, created = self.store.create(**values)
        if url:  # each caller's own webhook, also when it joins a job another caller started
            hook = self.store.add_webhook(job.id, url, secret)
            if not created:
                job = self.store.get(job.id)
                if job.finished:  # the shared render is already done: call this caller now
                    self._notify_hook(job, hook.id)
            else:
                job = self.store.get(job.id)
        if created:
            self.send(job)
        return job, created

    def send(self, job: Job) -> bool:
        """Wake a worker for ``job``. A broker that is down is not an error: the job stays
        queued in the store and the sweeper sends it again later."""
        if self.dispatch is None:
            return False
        started = time.monotonic()
        try:
            self.dispatch(job)
        except Exception as e:  # noqa: BLE001 - any broker failure leaves the job queued for the sweeper
            log.warning("could not dispatch job %s (it stays queued): %s", job.id, e)
            self.store.mark_undispatched(job.id)
            return False
        # Every caller set dispatched_at just before (create, retry, requeue, the sweeper's
        # claim): it is refreshed only when the send itself took long, which saves a write
        # per enqueued job.
        if time.monotonic() - started > SEND_GRACE / 5:
            self.store.mark_dispatched(job.id)
        return True

    def retry(self, job_id: str) -> Job:
        """An operator's retry of a failed or cancelled job: same id, attempts reset, queued
        again (raises ``JobConflict`` in another state)."""
        job = self.store.retry(job_id)
        self.send(job)
        return self.store.get(job_id)

    def cancel(self, job_id: str) -> Job:
        return self.store.cancel(job_id)

    def script_of(self, job: Job) -> list[tuple[str, str]]:
        """What ``job`` says and shows, (caption, spoken) per sentence, the title first: the
        editor's script it was given, else its article's script with its lexicon, as many
        sentences as its clip kept when it is done."""
        edited = _editors_script(job)
        if edited:
            return edited
        script = build_script(self.article_of(job), job.options.get("lexicon") or {})
        lines = [script.title, *script.lines]
        if job.status == "done" and job.output:
            try:
                manifest = self.storage.manifest(job.output)
                lines = lines[: int(manifest["narration"]["lines"])]
            except (OSError, ValueError, KeyError, TypeError, VideogenError) as e:
                log.warning("job %s: no manifest to count its sentences (%s)", job.id, e)
        return [(ln.text, ln.spoken) for ln in lines]

    def correct(self, job_id: str, sentences: object, by: str | None = None) -> Job:
        """A new render of ``job_id``'s article with an editor's script (``sentences``: the
        shape ``script_of`` gives, as dicts): the job's options (publish mode included), forced;
        sentences whose spoken text is unchanged are read from the narration cache. Raises
        InvalidInput naming the field, JobConflict unless the job is a finished render (done,
        in review or rejected) of a clip not taken down. ``by``: who, for the job's events."""
        old = self.store.get(job_id)
        edited = check_corrections(sentences)
        self._check_editable(old, "script")
        article = self.article_of(old)
        lexicon = self.lexicons.get(article.lang)  # the lexicon of now, as a rerender's
        script = corrected_lines(edited, self.script_of(old), article.lang, lexicon)
        options, local = self._options_again(old)
        job, _created = self.enqueue(article, options, local=local, script=script)
        return self._new_version(old, job, "script corrected", by)

    def repicture(self, job_id: str, images: object, by: str | None = None) -> Job:
        """A new render of ``job_id``'s article with an editor's pictures (``images``: the
        shape ``pictures_of`` gives: chosen, ordered, dropped, with focal points; sources are
        http(s) URLs or ``upload:`` ones): the job's options (publish mode included), forced,
        and its corrected script if it had one. Raises InvalidInput naming the field,
        JobConflict as ``correct``; nothing is stored then. ``by``: who, for the job's events."""
        old = self.store.get(job_id)
        pictures = parse_pictures(images, self.settings.max_images)
        self._check_editable(old, "pictures")
        data = {**old.article, "images": pictures}
        try:
            article = parse_article(data, base_dir=self.article_of(old).base_dir, limits=self.settings.article_limits())
        except InvalidArticle as e:  # the article model's checks of src, caption and credit
            raise InvalidInput(e.field, e.message) from None
        options, local = self._options_again(old)
        if not local:
            check_addresses(article, self.settings.image_hosts)
        job, _created = self.enqueue(article, options, local=local, script=_editors_script(old))
        return self._new_version(old, job, "pictures changed", by)

    def _check_editable(self, job: Job, what: str) -> None:
        """An editor's correction starts from a finished render (done, in review or rejected)
        of a clip not taken down: JobConflict otherwise."""
        if job.status not in EDITABLE:
            raise JobConflict(f"job {job.id} is {job.status}: only a done, in review or rejected version's {what} "
                              "can be corrected")
        self.publishing.check_editable(job)

    def _new_version(self, old: Job, job: Job, event: str, by: str | None) -> Job:
        """After an editor's correction: the old version's callers hear of the new one (review,
        publish) and the old version's events say who made it."""
        self._carry_webhooks(old, job)
        self.store.add_event(old.id, event, f"new version {job.id}", by)
        return self.store.get(job.id)

    def _options_again(self, old: Job) -> tuple[JobOptions, bool]:
        """``old``'s options for a new render of it (forced, its priority and webhook), and
        whether it came from the CLI (local images or a template path)."""
        opts = {k: v for k, v in old.options.items() if k in JobOptions.model_fields and k not in ("force",)}
        options = JobOptions(**opts, force=True, priority=old.priority, webhook_url=old.webhook_url,
                             webhook_secret=old.webhook_secret)
        # Only the CLI can have queued a job with local images or a template path.
        local = "base_dir" in old.options or not TEMPLATE_NAME.match(str(old.options.get("template", "news")))
        return options, local

    def rerender(self, job_id: str) -> tuple[Job, bool]:
        """Render ``job_id`` again: its article, options and, for a corrected version, the
        editor's script (a re-render must not undo a correction)."""
        old = self.store.get(job_id)
        article = self.article_of(old)
        options, local = self._options_again(old)
        job, created = self.enqueue(article, options, local=local, script=_editors_script(old))
        self._carry_webhooks(old, job)
        return (self.store.get(job.id) if created else job), created

    def _carry_webhooks(self, old: Job, job: Job) -> None:
        """Every caller of ``old``'s render hears of ``job``, its new render."""
        for hook in self.store.webhooks(old.id):
            self.store.add_webhook(job.id, hook.url, hook.secret)

    def queue_overview(self, broker_depth: Callable[[], int] | None = None, failed: int = 20) -> dict[str, Any]:
        """What the operator sees (GET /v1/queue, ``videogen queue``): broker queue depth, jobs
        per status, running jobs with their worker and heartbeat age, recent failures, and
        renders per worker."""
        depth, broker_error = None, None
        if broker_depth is not None:
            try:
                depth = broker_depth()
            except Exception as e:  # noqa: BLE001 - the view must show a broker that is down
                broker_error = scrub_paths(f"{type(e).__name__}: {str(e)[:200]}")
        t = now()
        running = [RunningJob(
            id=j.id, article_id=j.article_id, title=j.article.get("title"), worker=j.worker, stage=j.stage,
            percent=j.percent, attempts=j.attempts, started_at=_iso(j.started_at), heartbeat_at=_iso(j.heartbeat_at),
            heartbeat_age=round((t - j.heartbeat_at).total_seconds(), 1) if j.heartbeat_at else None,
        ) for j in self.store.running()]
        failed_jobs = [FailedJob(
            id=j.id, article_id=j.article_id, title=j.article.get("title"), error=scrub_paths(j.error), attempts=j.attempts,
            worker=j.worker, finished_at=_iso(j.finished_at),
        ) for j in self.store.recent_failed(failed)]
        workers = [WorkerStats(worker=w, renders=n, render_seconds=round(s, 3)) for w, n, s in self.store.workers()]
        return QueueOut(broker_queue_depth=depth, broker_error=broker_error, counts=self.store.counts(),
                        stale_after=self.settings.stale_after, running=running, failed=failed_jobs,
                        workers=sorted(workers, key=lambda w: w.worker), generated_at=_iso(t)).model_dump()

    # --- publishing (``videogen.service.publishing``) -----------------------------------------------
    def public_version(self, job: Job) -> tuple[ClipState, Job | None]:
        """What the public surfaces show for any version's id (see ``Publishing.public_version``)."""
        return self.publishing.public_version(job)

    def approve(self, job_id: str, by: str) -> Job:
        job = self.publishing.approve(job_id, by)
        self.notify_event(job, "video.published")
        return job

    def reject(self, job_id: str, by: str, reason: object) -> Job:
        return self.publishing.reject(job_id, by, reason)

    def unpublish(self, job_id: str, by: str) -> Job:
        job = self.publishing.unpublish(job_id, by)
        clip = self.publishing.clip_of(job)
        self.notify_event(job, "video.unpublished")
        if clip.published and clip.published != job.id:
            self.notify_event(self.store.get(clip.published), "video.unpublished")
        return self.store.get(job_id)

    def publish(self, job_id: str, by: str) -> Job:
        job, current = self.publishing.publish(job_id, by)
        self.notify_event(current, "video.published")
        if current.id != job.id:
            self.notify_event(job, "video.published")
        return self.store.get(job_id)

    def preview_link(self, job_id: str, ttl: object, by: str) -> tuple[str, int]:
        """A signed preview token of ``job_id`` (a finished render with files) and its expiry
        (Unix seconds); the link is recorded as an event."""
        seconds = check_ttl(ttl)
        job = self.store.get(job_id)
        if job.status not in EDITABLE or not job.output:
            raise JobConflict(f"job {job_id} is {job.status}; only a rendered version (done, in review or rejected) can be previewed")
        expires = int(time.time()) + seconds
        self.store.add_event(job_id, "preview link", f"expires {_iso(datetime.fromtimestamp(expires, UTC))}", by)
        return sign_preview(self.settings.preview_key, job_id, expires), expires

    def preview_allowed(self, job: Job, token: str | None) -> bool:
        """Whether ``token`` is a live preview token of ``job`` (which has files to show)."""
        return bool(job.output) and job.status in EDITABLE and preview_valid(self.settings.preview_key, job.id, token)

    def job_views(self, found: list[Job], base_url: str = "") -> list[dict[str, Any]]:
        """``public_job`` of each job with its clip's publication and its review (two queries)."""
        clips = self.publishing.clips_of(found)
        reviews = self.publishing.reviews_of([j.id for j in found])
        return [public_job(j, base_url, clips[j.id], reviews.get(j.id)) for j in found]

    def job_view(self, job: Job, base_url: str = "") -> dict[str, Any]:
        return self.job_views([job], base_url)[0]

    def notify_event(self, job: Job, event: str) -> None:
        """Queue an editorial event (``video.published``, ``video.unpublished``) to each of the
        job's callers' webhooks. Never raises: a webhook must not undo an editor's action."""
        if self._queue_webhook is None:
            return
        try:
            targets: list[int | None] = ([None] if job.webhook_url else []) + [h.id for h in self.store.webhooks(job.id)]
            for webhook_id in targets:
                self._queue_webhook(job, webhook_id, event=event)
        except Exception as e:  # noqa: BLE001 - a webhook must never undo the action
            log.warning("could not queue %s webhooks of job %s: %s", event, job.id, e)

    def article_of(self, job: Job) -> Article:
        base = job.options.get("base_dir")
        return parse_article(job.article, base_dir=Path(base) if base else None, limits=self.settings.article_limits())

    # --- recovery -------------------------------------------------------------------------------
    def sweep(self) -> dict[str, int]:
        """Requeue jobs whose worker went silent and resend lost wake-up calls. Safe to run
        from many processes at once."""
        s = self.settings
        requeued, failed = self.store.requeue_stale(s.stale_after, s.max_attempts)
        for job_id in failed:
            job = self.store.get(job_id)
            log.error("job %s failed: %s", job_id, job.error)
            self.notify(job)
        self.storage.clean_staging(s.task_time_limit + 60)
        sent = 0
        for job_id in requeued:  # this process won the compare-and-set: it alone re-sends them
            sent += self.send(self.store.get(job_id))
        for job in self.resend_candidates():
            if self.store.claim_dispatch(job.id, s.redispatch_after):  # one sender among many sweepers
                sent += self.send(job)
        if requeued:
            log.warning("requeued %d job(s) whose worker stopped: %s", len(requeued), ", ".join(requeued))
        return {"requeued": len(requeued), "failed": len(failed), "dispatched": sent}

    def resend_candidates(self) -> list[Job]:
        """Queued jobs whose wake-up call is to be sent again: every one never sent (the broker
        was down), and of those sent over ``redispatch_after`` seconds ago only as many as
        the broker lost — the queued jobs sent (``SEND_GRACE`` ago or more) beyond the
        messages it holds. A job merely waiting its turn has its message in the broker, so it
        gets no duplicate, however long the queue. Without ``broker_depth`` every job sent
        long ago is sent again; when the broker's depth cannot be read, none is (the send
        would fail too)."""
        waiting = self.store.undispatched(self.settings.redispatch_after)
        never = [j for j in waiting if j.dispatched_at is None]
        sent_long_ago = [j for j in waiting if j.dispatched_at is not None]
        if not sent_long_ago or self.broker_depth is None:
            return never + sent_long_ago
        try:
            depth = self.broker_depth()  # read before the count: a job taken meanwhile is in neither
        except Exception as e:  # noqa: BLE001 - a broker that is down cannot be sent to either
            log.warning("cannot read the broker's queue depth (%s); no wake-up call re-sent", e)
            return never
        lost = lost_wakeups(self.store.queued_sent(SEND_GRACE), depth)
        if lost:
            log.warning("the broker holds %d message(s) for more queued jobs: re-sending %d wake-up call(s)",
                        depth, min(lost, len(sent_long_ago)))
        return never + sent_long_ago[:lost]

    def start_sweeper(self, stop: threading.Event) -> threading.Thread:
        """The sweeper thread: ``sweep`` every ``sweep_interval`` seconds, and the retention run
        (``videogen.service.retention``) every ``gc_every`` seconds when that is set."""
        def loop() -> None:
            last_gc = time.monotonic()
            while not stop.wait(self.settings.sweep_interval):
                try:
                    self.sweep()
                except Exception:  # noqa: BLE001 - a database hiccup must not kill the sweeper
                    log.exception("sweep failed; trying again in %ss", self.settings.sweep_interval)
                if self.settings.gc_every > 0 and time.monotonic() - last_gc >= self.settings.gc_every:
                    last_gc = time.monotonic()
                    try:
                        collect(self.store, self.storage, self.settings)
                    except Exception:  # noqa: BLE001 - as above
                        log.exception("retention run failed; trying again in %ss", self.settings.gc_every)

        t = threading.Thread(target=loop, name="videogen-sweeper", daemon=True)
        t.start()
        return t

    # --- worker side ----------------------------------------------------------------------------
    def run(self, job_id: str, worker: str) -> RunOutcome:
        """Render one job on this worker. Never raises for a job's own failure: the outcome
        says what happened (``retry`` asks the caller to retry later)."""
        lease = self.store.claim(job_id, worker)
        if lease is None:
            return RunOutcome("skipped")
        job = self.store.get(job_id)
        beat = _Heartbeat(self.store, job_id, lease, self.settings.heartbeat_interval)
        staging: Path | None = None
        started = time.monotonic()
        try:
            beat.start()
            article = self.article_of(job)
            o = job.options
            options = RenderOptions(
                template=o.get("template", "news"), voice=o.get("voice"), tts=o.get("tts"),
                max_duration=o.get("max_duration"), height=o.get("height"), fps=o.get("fps"),
                allow_local_images="base_dir" in o, allow_outside_paths=False,
                skip_unreachable_images=job.attempts >= self.settings.max_attempts,
                lexicon=o.get("lexicon") or {},
                script=tuple((c, s) for c, s in o["script"]) if o.get("script") else None,
                image_bytes=StoredUploads(article, self.storage),
            )
            staging = self.storage.staging_dir()

            def progress(stage: str, fraction: float) -> None:
                if beat.lost.is_set():
                    raise Cancelled(job_id)
                beat.report(stage, fraction * 100)

            result = render_article(article, options, staging / "out", self.settings.render_config(), progress=progress)
            beat.stop()
            beat.check()
            self.storage.publish(job.content_key, staging / "out", replace=bool(o.get("force")))
            m = result.manifest
            self.store.finish(job_id, lease, output=job.content_key, duration=m["duration"],
                              render_seconds=round(time.monotonic() - started, 3), engine=m["narration"]["voice"],
                              status="review" if o.get("publish") == "review" else "done",
                              then=self.publishing.on_finished(job))
        except (Cancelled, LeaseLost):
            log.warning("job %s was cancelled or taken over; dropping this attempt", job_id)
            return RunOutcome("lost")
        except InvalidInput as e:
            return self._failed(job_id, lease, str(e))
        except VideogenError as e:
            if e.transient and job.attempts < self.settings.max_attempts:
                if self.store.release(job_id, lease, f"attempt {job.attempts} failed: {e}"):
                    return RunOutcome("retry", str(e))
                return RunOutcome("lost")
            return self._failed(job_id, lease, str(e))
        except Exception as e:  # noqa: BLE001 - a bug must fail the job with a message, not hang it
            if store_unreachable(e):
                # This host lost the job store (network cut?): it can neither prove it still
                # holds the job nor record a result, so it publishes nothing; once the
                # heartbeat is stale a sweeper elsewhere gives the job to another worker.
                log.error("job %s: job store unreachable (%s); dropping this attempt", job_id, str(e).splitlines()[0])
                return RunOutcome("lost", str(e))
            log.exception("job %s crashed", job_id)
            return self._failed(job_id, lease, f"internal error: {type(e).__name__}: {e}")
        finally:
            beat.stop()
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)
        self.notify(self.store.get(job_id))
        return RunOutcome("done")

    def _failed(self, job_id: str, lease: str, error: str) -> RunOutcome:
        """Fail the job under this worker's lease. A worker that lost the job (requeued to
        another worker, or cancelled) changes nothing and fires no webhook."""
        if not self.store.fail(job_id, lease, error):
            log.warning("job %s was taken from this worker; not failing it (%s)", job_id, error)
            return RunOutcome("lost", error)
        self.notify(self.store.get(job_id))
        return RunOutcome("failed", error)

    def notify(self, job: Job) -> None:
        """Queue the webhooks of a finished (done or failed) job: its legacy ``webhook_url`` and
        each caller's ``job_webhooks`` row not sent yet. Never raises: a webhook that cannot be
        queued is logged; it must not fail the job."""
        if self._queue_webhook is None:
            return
        if job.webhook_url:
            try:
                if job.status == "review":
                    self._queue_webhook(job, None, event="video.review_requested")
                else:
                    self._queue_webhook(job)
            except Exception as e:  # noqa: BLE001 - a webhook must never fail the job
                log.warning("could not queue the webhook of job %s: %s", job.id, e)
        try:
            hooks = self.store.webhooks(job.id)
        except Exception as e:  # noqa: BLE001 - a webhook must never fail the job
            log.warning("could not read the webhooks of job %s: %s", job.id, e)
            return
        for hook in hooks:
            if hook.status is None:
                self._notify_hook(job, hook.id)

    def _notify_hook(self, job: Job, webhook_id: int) -> None:
        """Queue one caller's webhook, once: of all processes that try, the one that claims the
        row queues it. A render waiting for review names its event in the message (an editor
        may approve it before the message is delivered)."""
        if self._queue_webhook is None or not self.store.claim_webhook(webhook_id):
            return
        try:
            if job.status == "review":
                self._queue_webhook(job, webhook_id, event="video.review_requested")
            else:
                self._queue_webhook(job, webhook_id)
        except Exception as e:  # noqa: BLE001 - a webhook must never fail the job
            log.warning("could not queue webhook %s of job %s: %s", webhook_id, job.id, e)
            self.store.set_hook_status(webhook_id, "could not be queued")


#: Longest time between two checks that a rendering job is still this worker's (a cancel is
#: noticed within this, even when the heartbeat interval is longer).
CANCEL_POLL = 1.0


class _Heartbeat:
    """Writes the job's heartbeat (and latest progress) every ``interval`` seconds; notices
    when the lease is lost (job cancelled or given to another worker), checking at least every
    ``CANCEL_POLL`` seconds."""

    def __init__(self, store: JobStore, job_id: str, lease: str, interval: float):
        self.store, self.job_id, self.lease, self.interval = store, job_id, lease, interval
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._stage: str | None = None
        self._percent: float | None = None
        self._thread = threading.Thread(target=self._loop, name=f"heartbeat-{job_id[:8]}", daemon=True)

    def start(self) -> None:
        """The first beat is written before this returns (so it cannot land after anything the
        render does), the others by the thread."""
        self._guarded_beat()
        self._thread.start()

    def report(self, stage: str, percent: float) -> None:
        self._stage, self._percent = stage, percent

    def _beat(self) -> None:
        try:
            self.store.heartbeat(self.job_id, self.lease, self._stage, self._percent)
        except LeaseLost:
            self.lost.set()
            self._stop.set()

    def _guarded_beat(self) -> None:
        try:
            self._beat()
        except Exception:  # noqa: BLE001 - keep beating through a database hiccup
            log.warning("heartbeat of job %s failed", self.job_id, exc_info=True)

    def _loop(self) -> None:
        poll = min(self.interval, CANCEL_POLL)
        next_beat = time.monotonic() + self.interval
        while not self._stop.wait(max(0.0, min(poll, next_beat - time.monotonic()))):
            if time.monotonic() >= next_beat - 1e-3:
                self._guarded_beat()
                next_beat = time.monotonic() + self.interval
            else:
                self._guarded_check()

    def _guarded_check(self) -> None:
        try:
            if not self.store.holds(self.job_id, self.lease):
                self.lost.set()
                self._stop.set()
        except Exception:  # noqa: BLE001 - the next beat tries again
            log.warning("lease check of job %s failed", self.job_id, exc_info=True)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=10)

    def check(self) -> None:
        if self.lost.is_set():
            raise LeaseLost(self.job_id)
        self.store.heartbeat(self.job_id, self.lease, "publishing", 99.0)


def _editors_script(job: Job) -> list[tuple[str, str]] | None:
    """The corrected script ``job`` was rendered with, (caption, spoken) per sentence, or None."""
    return [(c, s) for c, s in job.options["script"]] if job.options.get("script") else None


def lost_wakeups(queued_sent: int, broker_depth: int) -> int:
    """How many wake-up calls the broker lost: queued jobs whose call was sent beyond the
    messages it holds (never below 0; messages of jobs no longer queued only hide losses
    until a worker drops them, in milliseconds)."""
    return max(0, queued_sent - broker_depth)


def public_job(job: Job, base_url: str = "", clip: Clip | None = None, review: Review | None = None) -> dict[str, Any]:
    """What the API and ``videogen status --json`` show of a job: never a webhook's URL or
    secret (``webhook.url`` is ``"set"``), and no filesystem path in the error. ``clip`` and
    ``review`` (``VideoService.job_views`` reads them) add its publication and review."""
    statuses = ([job.webhook_status] if job.webhook_url else []) + list(job.hooks)
    links = {"self": f"{base_url}/v1/videos/{job.id}"}
    if job.status in EDITABLE and job.output:
        for f in OUTPUT_FILES:
            links[f.link] = f"{base_url}/v1/videos/{job.id}/{f.name}"
    return JobOut(
        id=job.id, status=job.status, stage=job.stage, percent=job.percent, error=scrub_paths(job.error), attempts=job.attempts,
        article=ArticleRef(id=job.article_id, title=job.article.get("title"), language=job.article.get("language"),
                           url=job.article.get("url")),
        template=job.template, voice=job.voice, tts=job.tts, priority=job.priority, content_key=job.content_key,
        worker=job.worker, heartbeat_at=_iso(job.heartbeat_at), created_at=_iso(job.created_at),
        started_at=_iso(job.started_at), finished_at=_iso(job.finished_at), duration=job.duration,
        render_seconds=job.render_seconds, engine=job.engine,
        webhook=WebhookState(status=webhook_summary(statuses), count=len(statuses)) if statuses else None,
        links=links, publish="review" if job.options.get("publish") == "review" else "auto",
        publication=clip.as_json() if clip is not None else None,
        review=review.as_json() if review is not None else None,
    ).model_dump(exclude={"deduplicated"} | ({"publication"} if clip is None else set())
                 | ({"review"} if review is None else set()))  # an enqueue answer adds deduplicated


def _iso(value: Any) -> str | None:
    return value.isoformat(timespec="milliseconds") if value is not None else None
