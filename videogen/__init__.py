"""videogen: news article → narrated video clip (MP4 + poster + WebVTT + manifest)."""

__version__ = "0.1.0"

