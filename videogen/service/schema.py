"""The job store's tables (SQLAlchemy Core): ``jobs``, ``job_events`` and ``videogen_schema``.
Migrations (``migrations.py``) create them step by step; the store (``store.py``) reads and
writes them."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)

#: Upper bounds (seconds) of the render-seconds histogram buckets (``/metrics``); the job
#: counters (``job_counts``) keep one row per bucket, ``BUCKET_INF`` standing for +Inf.
HISTOGRAM_BUCKETS = (5, 10, 20, 30, 60, 120, 300, 600)
BUCKET_INF = 1e12
#: Longest article URL kept in ``jobs.canonical_url`` (an index key must stay small).
CANONICAL_URL_MAX = 1000

#: ``review``: a finished render waiting for an editor (``options.publish == "review"``);
#: ``rejected``: one an editor turned down (the reason is its ``rejected`` event's detail).
STATUSES = ("queued", "rendering", "review", "done", "failed", "rejected", "cancelled")
ACTIVE = ("queued", "rendering")
#: Statuses of a render that ended (nothing more happens unless an editor or operator acts).
FINISHED = ("review", "done", "failed", "rejected", "cancelled")
#: What a clip's publication can be (``clips.state``).
CLIP_STATES = ("published", "unpublished", "not published")
#: Longest article key of a clip ("id:" + article id, "url:" + canonical URL or "job:" + job id).
ARTICLE_KEY_MAX = CANONICAL_URL_MAX + 8

metadata = MetaData()

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("article_id", String(128), nullable=False, index=True),
    Column("content_key", String(64), nullable=False, index=True),
    Column("template", String(64), nullable=False),
    Column("voice", String(128)),
    Column("tts", String(16)),
    Column("options", Text, nullable=False),  # JSON: render options
    Column("article", Text, nullable=False),  # JSON: the validated article
    Column("status", String(16), nullable=False, index=True),
    Column("stage", String(32)),
    Column("percent", Float, nullable=False, default=0.0),
    Column("error", Text),
    Column("attempts", Integer, nullable=False, default=0),
    Column("priority", Integer, nullable=False, default=5),
    Column("worker", String(200)),
    Column("lease", String(32)),
    Column("heartbeat_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("dispatched_at", DateTime(timezone=True)),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    Column("output", String(128)),  # storage key of the published files
    Column("duration", Float),  # seconds of video
    Column("render_seconds", Float),
    Column("engine", String(64)),  # who spoke, from the manifest
    Column("webhook_url", Text),
    Column("webhook_secret", String(256)),
    Column("webhook_status", String(64)),
    # v6: the article's URL without a trailing slash (NULL when longer than CANONICAL_URL_MAX):
    # how oEmbed and the article page find a job by the URL of its story, through an index.
    Column("canonical_url", String(CANONICAL_URL_MAX)),
    # At most one active job per content key: enqueueing the same thing twice renders once.
    Index(
        "one_active_job_per_content", "content_key", unique=True,
        sqlite_where=text("status IN ('queued', 'rendering')"),
        postgresql_where=text("status IN ('queued', 'rendering')"),
    ),
    Index("jobs_by_created", "created_at"),
    # v6: keyset pagination of every list (newest first), alone and under each filter.
    Index("jobs_by_created_id", "created_at", "id"),
    Index("jobs_by_status_created", "status", "created_at", "id"),
    Index("jobs_by_article_created", "article_id", "created_at", "id"),
    Index("jobs_by_template_created", "template", "created_at", "id"),
    Index("jobs_by_status_finished", "status", "finished_at", "id"),
    Index("jobs_by_canonical_url", "canonical_url", "created_at"),
    Index("jobs_by_output", "output"),  # retention: which jobs share a storage key
)

# One row per state change of a job (v2): what the operator reads to see a job's history.
job_events = Table(
    "job_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", String(32), nullable=False, index=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("event", String(32), nullable=False),
    Column("worker", String(200)),
    Column("detail", Text),
    Column("actor", String(200)),  # v8: who did it (an API key's name, "cli"): editorial actions
)

# One row per caller's webhook of a job (v3): a job deduplicated across callers calls each
# caller's webhook once when the shared render finishes. ``status`` NULL: not sent yet.
# Jobs from before v3 keep their one webhook in ``jobs.webhook_url``.
job_webhooks = Table(
    "job_webhooks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", String(32), nullable=False, index=True),
    Column("url", Text, nullable=False),
    Column("url_hash", String(64), nullable=False),  # sha256 of the URL: one row per URL and job
    Column("secret", String(256)),
    Column("status", String(64)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("one_webhook_per_url", "job_id", "url_hash", unique=True),
)

# Job counters (v6), maintained by triggers on ``jobs`` (insert, update, delete): rows of deltas
# per (status, worker, bucket), summed when read and compacted now and then, so /metrics, the
# lists' counts and /v1/queue never count the jobs table. ``worker`` and ``le`` (the render-seconds
# histogram bucket, -1 for none) are set for done jobs only; ``secs`` sums their render seconds.
job_counts = Table(
    "job_counts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("status", String(16), nullable=False),
    Column("worker", String(200), nullable=False, default=""),
    Column("le", Float, nullable=False, default=-1.0),
    Column("n", Integer, nullable=False),
    Column("secs", Float, nullable=False, default=0.0),
)

schema_version = Table(
    "videogen_schema",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("applied_at", DateTime(timezone=True), nullable=False),
)


def now() -> datetime:
    return datetime.now(UTC)


def utc(value: datetime) -> datetime:
    """A time read from the store, aware: SQLite hands back naive datetimes, and they are UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else utc(value)



# The feed registry (v4): one row per feed, with its configuration (JSON: templates, render
# options, policy, item content mode, publish mode) and its polling state. ``claimed_until`` is
# the compare-and-set claim of a poll: one process polls a feed at a time.
feeds = Table(
    "feeds",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("url", Text, nullable=False),
    Column("url_hash", String(64), nullable=False),  # sha256 of the URL: one feed per URL
    Column("config", Text, nullable=False),  # JSON: videogen.service.ingest.registry.FeedConfig
    Column("every", Float, nullable=False),  # seconds between polls
    Column("title", Text),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("last_poll_at", DateTime(timezone=True)),
    Column("last_status", String(64)),  # "200: 3 new item(s)", "304 not modified", "failed"
    Column("last_error", Text),
    Column("failures", Integer, nullable=False, default=0),  # consecutive failed polls
    Column("items_seen", Integer, nullable=False, default=0),
    Column("next_poll_at", DateTime(timezone=True), nullable=False),
    Column("claimed_until", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("one_feed_per_url", "url_hash", unique=True),
    Index("feeds_by_next_poll", "next_poll_at"),
)

# One row per version of a feed item (v4): its key (sha256 of GUID/id, else link) and the hash
# of what is rendered. The unique index is what makes two pollers of the same feed enqueue an
# item once: only the process whose insert succeeds enqueues it. ``status``: ``enqueued``
# (``job_ids`` set), ``skipped`` (``reason`` says why) or ``pending`` (being enqueued).
feed_items = Table(
    "feed_items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("feed_id", String(32), nullable=False),
    Column("item_key", String(64), nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("guid", Text),
    Column("title", Text),
    Column("link", Text),
    Column("article_id", String(128)),
    Column("status", String(16), nullable=False),
    Column("reason", Text),
    Column("job_ids", Text),  # JSON list
    Column("seen_at", DateTime(timezone=True), nullable=False),
    Index("one_row_per_item_version", "feed_id", "item_key", "content_hash", unique=True),
    Index("feed_items_by_feed", "feed_id", "seen_at"),
)

# Play counts (v5): one row per clip, UTC day and player event, holding how many beacons of
# that event were counted. Nothing else: no cookie, address, user agent or per-view row.
video_plays = Table(
    "video_plays",
    metadata,
    Column("job_id", String(32), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("event", String(16), primary_key=True),
    Column("count", Integer, nullable=False, default=0),
    Index("video_plays_by_day", "day"),
)

# Pronunciation lexicon (v7): one row per language and written form (``render.text.lexicon``).
lexicon = Table(
    "lexicon",
    metadata,
    Column("lang", String(16), primary_key=True),
    Column("written", String(200), primary_key=True),
    Column("spoken", Text, nullable=False),
)


# Clips (v8): one row per article key and template: the article's clip, whose versions are its
# jobs. ``published`` is the version the public surfaces show while ``state`` is "published";
# "unpublished" is an editor's takedown (sticky: no auto version replaces it), "not published"
# a clip none of whose versions went live yet. ``updated_at`` moves on every change (the
# travel feeds' validators read its maximum).
clips = Table(
    "clips",
    metadata,
    Column("template", String(64), primary_key=True),
    Column("article_key", String(ARTICLE_KEY_MAX), primary_key=True),
    Column("published", String(32)),
    Column("state", String(16), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("clips_by_published", "published"),
    Index("clips_by_updated", "updated_at"),
)
