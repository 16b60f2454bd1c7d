"""Ingest: article pages and feeds become articles, and articles become jobs without glue code.

``pages`` (HTML → Article) and ``feeds`` (feed bytes → items) are pure over bytes and a URL;
``fetch`` brings the bytes through ``videogen.net``'s guard; ``registry`` keeps the feeds and
the items already seen in the job store; ``poller`` polls the feeds that are due and enqueues
their new items (``FeedService``)."""
