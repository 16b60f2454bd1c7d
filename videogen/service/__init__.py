"""The service layer: the job store (schema, store, migrations), storage (local and S3), the
video service (enqueue, claim, heartbeat, sweep) and webhooks. Above the render core, below
the HTTP API, the CLI and the Celery workers."""
