"""Celery app and tasks of videogen: thin wrappers around ``videogen.service.videos``."""
