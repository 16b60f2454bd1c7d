"""The render core: an article in, a folder with video.mp4, poster.jpg, captions.vtt and
manifest.json out. Pure functions over plain data; imports nothing from the service, HTTP or
CLI layers and reads no environment variable: the edges pass a ``RenderConfig`` in."""

# Bumped whenever a change to the rendering core changes the pixels or the audio of a clip.
# It is part of every render's content key, so a new renderer re-renders instead of reusing.
RENDERER_VERSION = "2"
