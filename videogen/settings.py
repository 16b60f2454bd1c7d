"""Settings from ``VIDEOGEN_*`` environment variables, every one with a working default.

Processes started in the same folder with the same environment share one home folder
(``./.videogen`` by default): media, cache, job store and embedded broker all live there.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from videogen.net import host_set
from videogen.render.config import ArticleLimits, EncoderTuning, RenderConfig, TtsChoice

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHIPPED_TEMPLATES = PROJECT_ROOT / "templates"



class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VIDEOGEN_", extra="ignore")

    home: Path = Field(Path(".videogen"), description="Folder for media, cache, job store and embedded broker.")
    media_dir: Path | None = Field(None, description="Where finished videos are published (default HOME/media).")
    cache_dir: Path | None = Field(None, description="Narration cache (default HOME/cache); prepared layers in its layers/.")
    layer_cache_mb: int = Field(1024, ge=0, description="Most megabytes of prepared layers (cards, backgrounds, framed photos) kept for corrections to reuse; 0: none.")
    voices_dir: Path | None = Field(None, description="Extra Piper voices (*.onnx + *.onnx.json), default HOME/voices.")
    default_voices: str = Field("", description="Per-language default voice of `--tts auto`, e.g. 'fr:fr_FR-siwis-medium,de:espeak:de' (a voice id or Piper voice name, see `videogen voices`).")
    templates_dir: str = Field("", description="Folders of video templates and brand folders, searched in order before the shipped templates/; several separated by the path separator (':' on Linux and macOS, ';' on Windows) or commas.")

    tts: TtsChoice = Field("auto", description="Narration engine: auto picks the best offline engine.")
    gtts_timeout: float = Field(5.0, gt=0, le=5.0, description="Seconds gTTS may take per request (at most 5).")
    max_duration: float = Field(120.0, gt=5, le=900, description="Narration longer than this is cut at a sentence.")
    max_image_pixels: int = Field(40_000_000, gt=0, description="Images with more pixels are skipped.")
    max_image_bytes: int = Field(25_000_000, gt=0, description="Images larger than this are skipped.")
    image_timeout: float = Field(10.0, gt=0, description="Seconds allowed to fetch one image.")
    image_hosts_allow: str = Field("", description="Comma-separated image hosts fetched even when they resolve to private addresses.")
    fetch_hosts_allow: str = Field("", description="Comma-separated hosts (host or host:port) whose images, article pages and feeds are fetched even when they resolve to private addresses.")

    # --- feeds and article pages (videogen ingest, videogen feeds) ---------------------------
    page_max_bytes: int = Field(5_000_000, ge=10_000, description="Largest article page or feed fetched.")
    page_timeout: float = Field(10.0, gt=0, le=120, description="Seconds allowed per step of fetching a page or feed.")
    feed_max_items: int = Field(20, ge=1, le=1000, description="Newest items of a feed taken per poll (per-feed max_items overrides).")
    feed_tick: float = Field(5.0, gt=0, le=3600, description="Seconds between two looks for feeds due (serve's poller, the beat).")
    feed_poller: bool = Field(True, description="`videogen serve` and `videogen api` poll registered feeds in a thread.")

    # --- encoder tuning (defaults measured on two cores; README, Performance) ---------------
    x264_threads: int = Field(2, ge=0, le=64, description="x264 frame threads per render (0: x264's own choice).")
    frames_nice: int = Field(10, ge=0, le=19, description="Nice levels below the encoder for the thread that draws frames.")
    x264_sliced: bool = Field(False, description="Sliced x264 threads: less memory, about 5 % slower here.")
    x264_sync_lookahead: int | None = Field(None, ge=0, le=250, description="x264 sync-lookahead (default: x264's; 0 saves ~20 MB, slower).")
    vmsplice: bool = Field(True, description="Hand frames to ffmpeg's pipe without copying them (Linux).")

    # --- input limits (article.py and api.py read them) ------------------------------------
    max_title_chars: int = Field(400, ge=20, le=10_000, description="Longest title accepted.")
    max_text_chars: int = Field(20_000, ge=100, le=1_000_000, description="Longest summary or body accepted.")
    max_images: int = Field(30, ge=0, le=500, description="Most images per article.")
    max_batch: int = Field(100, ge=1, le=10_000, description="Most articles per POST /v1/videos.")
    max_body_bytes: int = Field(2_000_000, ge=1000, description="Largest request body the API reads.")
    rate_limit: int = Field(120, ge=0, description="Write requests per minute per API key (or client address); 0: no limit.")
    beacon_rate: int = Field(1200, ge=0, description="Player beacons (POST /beacon) accepted per minute per client address; 0: no limit.")

    # --- service -------------------------------------------------------------------------
    broker_url: str | None = Field(None, description="Celery broker, e.g. redis://host:6379/0 (default: embedded SQLite in HOME).")
    database_url: str | None = Field(None, description="Job store, e.g. postgresql+psycopg://user@host/db (default: SQLite in HOME).")
    storage_url: str | None = Field(None, description="Where finished videos go: file:///path or s3://bucket/prefix (default: HOME/media).")
    s3_endpoint_url: str | None = Field(None, description="S3-compatible endpoint, e.g. http://minio:9000 (default: AWS).")
    s3_region: str = Field("us-east-1", description="S3 region.")
    s3_access_key_id: str | None = Field(None, description="S3 access key (default: boto3's chain, e.g. AWS_ACCESS_KEY_ID).")
    s3_secret_access_key: str | None = Field(None, description="S3 secret key (default: boto3's chain).")
    s3_serve: Literal["stream", "redirect"] = Field("stream", description="API serves S3 media by streaming it (Range supported) or by redirecting to a presigned URL.")
    s3_presign_expiry: int = Field(3600, ge=60, le=604800, description="Lifetime in seconds of presigned media URLs (redirect mode).")
    s3_multipart_threshold: int = Field(8 * 1024 * 1024, ge=5 * 1024 * 1024, description="Files at least this large are uploaded in parts.")
    retain_events_days: float = Field(0, ge=0, description="Days job_events rows are kept (`videogen gc`); 0: forever.")
    retain_failed_days: float = Field(0, ge=0, description="Days failed and cancelled jobs are kept after they finished, unless one is its article's newest job; 0: forever.")
    retain_superseded_days: float = Field(0, ge=0, description="Days the media of a superseded version (an article's done job with a newer done one) is kept after it finished; 0: forever.")
    gc_every: float = Field(0, ge=0, description="Seconds between retention runs by `videogen serve`'s sweeper and Celery beat; 0: only `videogen gc`.")
    db_pool_size: int = Field(5, ge=1, le=100, description="Job-store connections kept open per process.")
    db_max_overflow: int = Field(10, ge=0, le=200, description="Extra job-store connections a process may open at peaks.")
    db_pool_timeout: float = Field(5.0, gt=0, le=60, description="Seconds a call waits for a free job-store connection before it fails (the API answers 503).")
    public_url: str = Field("", description="Public base URL of the API, used in links (default: relative links).")
    api_keys: str = Field("", description="Comma-separated API keys, each optionally named (`desk:KEY,night:KEY2`; a plain key is named key1, key2… by its place); when set, everything under /v1/ (but the media of published clips), the dashboard's data and /metrics require one. The name is who an editorial action is recorded as.")
    signing_key: str = Field("", description="HMAC key of preview links (POST /v1/videos/{id}/preview-link). Default: derived from VIDEOGEN_API_KEYS (links die when the keys change), or with no keys the fixed development key 'videogen-preview-dev' — set it in production.")
    metrics_public: bool = Field(False, description="Serve /metrics without a key even when API keys are set.")
    auth_fail_limit: int = Field(10, ge=0, description="Wrong API keys a client address may send per minute before it gets 429; 0: no limit.")
    allowed_hosts: str = Field("", description="Comma-separated Host header values the API answers (default: localhost, 127.0.0.1, ::1, the host of VIDEOGEN_PUBLIC_URL and a non-wildcard VIDEOGEN_API_HOST); '*' answers any.")
    api_host: str = Field("127.0.0.1", description="Address `videogen api` and `serve` listen on.")
    api_port: int = Field(8000, ge=1, le=65535)
    worker_host: str | None = Field(None, description="Host name used in worker names (default: the machine's host name).")
    worker_concurrency: int = Field(1, ge=1, le=16, description="Renders at once per worker process (each uses both cores).")
    worker_max_tasks: int = Field(50, ge=1, description="A worker process is replaced after this many renders.")
    heartbeat_interval: float = Field(2.0, gt=0, le=60, description="Seconds between a rendering worker's heartbeats.")
    stale_after: float = Field(20.0, gt=0, description="A job whose heartbeat is older than this is given to another worker.")
    sweep_interval: float = Field(5.0, gt=0, description="Seconds between two sweeps for stale or undispatched jobs.")
    redispatch_after: float = Field(120.0, gt=0, description="Re-send a queued job's wake-up call after this many seconds.")
    max_attempts: int = Field(3, ge=1, le=20, description="Attempts before a job fails for good.")
    task_soft_time_limit: float = Field(900.0, gt=0, description="Seconds a render may take before it is stopped.")
    task_time_limit: float = Field(960.0, gt=0, description="Hard kill after this many seconds.")
    retry_backoff: float = Field(10.0, gt=0, description="First retry delay for transient failures (doubles each time).")
    webhook_secret: str = Field("", description="Default HMAC-SHA256 secret for webhook signatures.")
    webhook_hosts_allow: str = Field("", description="Comma-separated webhook hosts called even when they resolve to private addresses.")
    webhook_timeout: float = Field(10.0, gt=0, le=60)
    webhook_max_attempts: int = Field(6, ge=1, le=20)

    @field_validator("default_voices", mode="after")
    @classmethod
    def _check_default_voices(cls, v: str) -> str:
        _default_voices(v)
        return v

    @field_validator("home", mode="after")
    @classmethod
    def _absolute_home(cls, v: Path) -> Path:
        return v.expanduser().resolve()

    @property
    def media_path(self) -> Path:
        return (self.media_dir or self.home / "media").expanduser().resolve()

    @property
    def cache_path(self) -> Path:
        return (self.cache_dir or self.home / "cache").expanduser().resolve()

    @property
    def voices_path(self) -> Path:
        return (self.voices_dir or self.home / "voices").expanduser().resolve()

    @property
    def default_voice_map(self) -> dict[str, str]:
        """VIDEOGEN_DEFAULT_VOICES as {language: voice}."""
        return dict(_default_voices(self.default_voices))

    @property
    def broker(self) -> str:
        return self.broker_url or f"sqla+sqlite:///{self.home / 'broker.sqlite'}"

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'jobs.sqlite'}"

    @property
    def staging_path(self) -> Path:
        """Local folder renders are written to before they are published (object storage)."""
        return (self.home / "staging").expanduser().resolve()

    @property
    def templates_dirs(self) -> tuple[Path, ...]:
        """Where templates are looked up by name, in order: the VIDEOGEN_TEMPLATES_DIR folders,
        then the shipped ``templates/`` (news, vertical, square)."""
        given = [Path(p.strip()).expanduser() for p in re.split(rf"[{re.escape(os.pathsep)},]", self.templates_dir) if p.strip()]
        return tuple(dict.fromkeys([*given, SHIPPED_TEMPLATES]))

    @property
    def embedded_broker(self) -> bool:
        return self.broker.startswith(("sqla+", "filesystem:"))

    @property
    def fetch_hosts(self) -> frozenset[str]:
        """Hosts exempt from the address check for every fetch (images, pages, feeds):
        VIDEOGEN_FETCH_HOSTS_ALLOW plus VIDEOGEN_IMAGE_HOSTS_ALLOW (``host`` or ``host:port``)."""
        return host_set(self.fetch_hosts_allow) | host_set(self.image_hosts_allow)

    @property
    def image_hosts(self) -> frozenset[str]:
        return self.fetch_hosts

    @property
    def webhook_hosts(self) -> frozenset[str]:
        return host_set(self.webhook_hosts_allow)

    def render_config(self) -> RenderConfig:
        """What the render core is told: built here, at the edge, and passed in."""
        return RenderConfig(
            templates_dir=self.templates_dirs, cache_dir=self.cache_path, voices_dir=self.voices_path,
            tts=self.tts, gtts_timeout=self.gtts_timeout, max_duration=self.max_duration,
            default_voices=self.default_voice_map, max_image_bytes=self.max_image_bytes, max_image_pixels=self.max_image_pixels,
            image_timeout=self.image_timeout, image_hosts=self.image_hosts,
            layer_cache_bytes=self.layer_cache_mb * 1_000_000,
            encoder=EncoderTuning(x264_threads=self.x264_threads or None, frames_nice=self.frames_nice,
                                  x264_sliced=self.x264_sliced, x264_sync_lookahead=self.x264_sync_lookahead,
                                  vmsplice=self.vmsplice),
        )

    def article_limits(self) -> ArticleLimits:
        return ArticleLimits(self.max_title_chars, self.max_text_chars, self.max_images)

    @property
    def allowed_host_list(self) -> list[str]:
        """Host names (no port) the API answers: VIDEOGEN_ALLOWED_HOSTS, else loopback names, the
        public URL's host and the bind address when it is not a wildcard."""
        given = [h.strip().lower() for h in self.allowed_hosts.split(",") if h.strip()]
        if given:
            return given
        hosts = ["localhost", "127.0.0.1", "::1"]
        if self.public_url:
            public = urlsplit(self.public_url).hostname
            if public:
                hosts.append(public.lower())
        if self.api_host not in ("0.0.0.0", "::", "", "*"):  # noqa: S104 - a wildcard names no host
            hosts.append(self.api_host.lower())
        return list(dict.fromkeys(hosts))

    @property
    def named_api_keys(self) -> list[tuple[str, str]]:
        """(name, key) of each configured key: ``name:KEY`` names a key (a name is letters,
        digits, ``._-``, at most 64); a plain key is ``key<N>`` by its place in the list."""
        out = []
        for i, item in enumerate((k.strip() for k in self.api_keys.split(",") if k.strip()), start=1):
            name, sep, key = item.partition(":")
            if sep and key.strip() and _KEY_NAME.match(name.strip()):
                out.append((name.strip(), key.strip()))
            else:
                out.append((f"key{i}", item))
        return out

    @property
    def api_key_list(self) -> list[str]:
        return [key for _name, key in self.named_api_keys]

    @property
    def preview_key(self) -> str:
        """The key preview links are signed with (``signing_key``, else derived from the API
        keys, else the development key)."""
        if self.signing_key:
            return self.signing_key
        if self.api_key_list:
            return hashlib.sha256(("videogen-preview|" + "|".join(sorted(self.api_key_list))).encode()).hexdigest()
        return DEV_SIGNING_KEY


_KEY_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
DEV_SIGNING_KEY = "videogen-preview-dev"


def _default_voices(value: str) -> list[tuple[str, str]]:
    """'fr:fr_FR-siwis-medium,de:espeak:de' → [('fr', 'fr_FR-siwis-medium'), ('de', 'espeak:de')]."""
    pairs = []
    for item in filter(None, (p.strip() for p in value.split(","))):
        lang, _, voice = item.partition(":")
        if not lang.strip().isalpha() or not voice.strip():
            raise ValueError(f"{item!r} is not LANG:VOICE (e.g. fr:fr_FR-siwis-medium)")
        pairs.append((lang.strip().lower(), voice.strip()))
    return pairs


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
