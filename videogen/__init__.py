"""videogen: news article → narrated video clip (MP4 + poster + WebVTT + manifest)."""

__version__ = "0.1.0"

# Bumped whenever a change to the rendering core changes the pixels or the audio of a clip.
# It is part of every render's content key, so a new renderer re-renders instead of reusing.
RENDERER_VERSION = "1"
