"""Job priorities reach the broker the right way round. Celery's Redis transport serves
priority 0 first (AMQP serves the highest number first): an urgent job (priority 9) enqueued
behind a queue of low-priority ones must come out of Redis first."""

from __future__ import annotations

import os
import uuid
from types import SimpleNamespace

import pytest

from videogen.settings import Settings

REDIS_URL = os.environ.get("VIDEOGEN_TEST_REDIS_PRIORITY", "redis://127.0.0.1:6379/13")


def test_priority_mapping_per_broker():
    from workers.dispatch import broker_priority

    assert [broker_priority(p, "redis://h:6379/0") for p in (0, 5, 9)] == [9, 4, 0]
    assert [broker_priority(p, "amqp://guest@h//") for p in (0, 5, 9)] == [0, 5, 9]
    assert broker_priority(42, "redis://h/0") == 0


@pytest.fixture()
def redis_app(tmp_path):
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    from workers.celery_app import make_app

    app = make_app(Settings(home=tmp_path, broker_url=REDIS_URL))
    yield app
    redis.Redis.from_url(REDIS_URL).flushdb()


@pytest.mark.redis(REDIS_URL)
def test_high_priority_job_overtakes_a_queue_of_low_ones_on_redis(redis_app):
    from workers.celery_app import QUEUE
    from workers.dispatch import broker_queue_depth, dispatch_render

    low = [SimpleNamespace(id=uuid.uuid4().hex, priority=1) for _ in range(6)]
    urgent = SimpleNamespace(id=uuid.uuid4().hex, priority=9)
    normal = SimpleNamespace(id=uuid.uuid4().hex, priority=5)
    for job in [*low[:3], normal, *low[3:], urgent]:
        dispatch_render(job, redis_app)
    assert broker_queue_depth(redis_app) == 8
    order = []
    with redis_app.connection_for_read() as conn:  # consume as a worker does: one message at a time
        q = conn.SimpleQueue(QUEUE, no_ack=True)
        for _ in range(8):
            msg = q.get(timeout=5)
            order.append(msg.payload[0][0])  # Celery message protocol 2: (args, kwargs, embed)
        q.close()
    assert order[0] == urgent.id, "the urgent job waited behind the low-priority queue"
    assert order[1] == normal.id
    assert order[2:] == [j.id for j in low], "equal priorities keep their order"
    assert broker_queue_depth(redis_app) == 0
