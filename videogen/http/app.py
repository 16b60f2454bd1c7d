"""The HTTP API (FastAPI): wiring only. ``create_app`` builds the app from its routers
(``videos``, ``media``, ``operations``, ``pages``), the body limit and the problem-JSON
exception handlers. Thin: validation and HTTP semantics in the routers, everything else in
``videogen.service.videos``. OpenAPI docs at ``/docs``. Errors are problem JSON (RFC 9457)
naming the field at fault. Importing this module builds no Celery app and opens no database."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from videogen import __version__
from videogen.http.auth import Auth
from videogen.http.feeds import feeds_router
from videogen.http.guards import Guards
from videogen.http.lexicon import lexicon_router
from videogen.http.limits import BodyLimit
from videogen.http.media import media_router
from videogen.http.operations import operations_router
from videogen.http.pages import page_router
from videogen.http.pictures import pictures_router, upload_bodies
from videogen.http.problems import install_problem_handlers
from videogen.http.readgate import ReadGate
from videogen.http.review import review_router
from videogen.http.travel import travel_router
from videogen.http.videos import videos_router
from videogen.service.ingest.poller import FeedService
from videogen.service.plays import PlayCounter
from videogen.service.videos import VideoService
from videogen.settings import Settings


def create_app(settings: Settings, service: VideoService, run_sweeper: bool = True,
               broker_check: Callable[[], None] | None = None,
               queue_depth: Callable[[], int] | None = None, run_poller: bool | None = None) -> FastAPI:
    """The API; ``run_sweeper`` starts the sweeper thread, ``run_poller`` the feed poller
    (default: with the sweeper, unless VIDEOGEN_FEED_POLLER=0)."""
    stop = threading.Event()
    feeds = FeedService(service)
    plays = PlayCounter(service.store.engine)  # player beacons, written in batches
    if run_poller is None:
        run_poller = run_sweeper and settings.feed_poller

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        service.migrate()
        plays.start()
        if run_sweeper:
            service.start_sweeper(stop)
        if run_poller:
            feeds.start_poller(stop)
        yield
        stop.set()
        plays.close()  # a normal shutdown writes the counts still in memory

    app = FastAPI(
        title="videogen", version=__version__, lifespan=lifespan,
        description="Turn news articles into short narrated video clips. Enqueue articles, follow their "
                    "progress, download the MP4, poster, WebVTT captions and manifest.",
    )
    app.state.service = service
    app.state.feeds = feeds
    app.state.plays = plays
    install_problem_handlers(app)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes, larger=upload_bodies(settings))
    app.add_middleware(ReadGate)  # a burst of heavy reads leaves threads and connections to the rest
    app.add_middleware(Guards, allowed_hosts=settings.allowed_host_list, public_url=settings.public_url)
    auth = Auth(settings)  # one per app: its rate-limit buckets are shared by every route
    app.include_router(videos_router(settings, service, auth))
    app.include_router(review_router(settings, service, auth))
    app.include_router(operations_router(settings, service, broker_check, queue_depth, auth=auth, plays=plays))
    app.include_router(feeds_router(settings, feeds, auth))
    app.include_router(lexicon_router(settings, service, auth))
    app.include_router(pictures_router(settings, service, auth))
    app.include_router(media_router(service, auth))
    app.include_router(page_router(settings, service, auth))
    app.include_router(travel_router(settings, service, plays, auth))
    return app
