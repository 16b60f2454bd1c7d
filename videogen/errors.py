"""Exception types of videogen. Edges (CLI, API, workers) turn them into exit codes,
HTTP problem JSON or job errors; the core raises them and never prints."""

from __future__ import annotations


class VideogenError(Exception):
    """Base class of every error videogen raises on purpose."""

    #: Whether retrying the same work later could succeed (network, broker, disk).
    transient: bool = False


class InvalidInput(VideogenError):
    """The caller gave something that can never render: fix the input, do not retry."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}" if field else message)


class InvalidArticle(InvalidInput):
    """An article failed validation. ``errors`` lists every (field, message) found."""

    def __init__(self, errors: list[tuple[str, str]]):
        self.errors = errors or [("article", "invalid")]
        field, message = self.errors[0]
        super().__init__(field, message)
        self.args = ("; ".join(f"{f}: {m}" if f else m for f, m in self.errors),)

    def __str__(self) -> str:
        return self.args[0]


class UnknownTemplate(InvalidInput):
    def __init__(self, name: str, available: list[str]):
        super().__init__("template", f"unknown template {name!r} (available: {', '.join(available)})")


class UnsupportedLanguage(InvalidInput):
    def __init__(self, language: str, detail: str = ""):
        super().__init__("language", f"no narration engine can speak {language!r}" + (f": {detail}" if detail else ""))


class UnknownVoice(InvalidInput):
    def __init__(self, voice: str, detail: str = ""):
        super().__init__("voice", f"unknown voice {voice!r}" + (f": {detail}" if detail else ""))


class NarrationError(VideogenError):
    """An engine failed to speak a text."""


class EngineUnavailable(NarrationError):
    """An engine cannot be used here (not installed, no network, timed out): the chain falls back."""

    transient = True


class NetError(VideogenError):
    """An outbound HTTP request was refused (address, scheme, limits) or failed."""


class TransientNetError(NetError):
    """The other end timed out or answered 5xx/429: trying again later may work."""

    transient = True


class ImageError(VideogenError):
    """One image of an article could not be used; the render goes on without it."""


class TransientImageError(ImageError):
    """An image host timed out or answered 5xx: retrying the whole job later may help."""

    transient = True


class RenderError(VideogenError):
    """Rendering or encoding failed (ffmpeg exited with an error, disk full...)."""


class StorageError(VideogenError):
    """Publishing or reading stored files failed."""

    transient = True


# --- the job store's answers ------------------------------------------------------------------

class JobNotFound(VideogenError, KeyError):
    """No job has this id."""

    def __str__(self) -> str:  # KeyError would quote the id
        return f"no job {self.args[0]}" if self.args else "no such job"


class JobConflict(VideogenError):
    """The change is not possible in the job's state (or another job holds its content)."""


class LeaseLost(VideogenError):
    """The job was taken from this worker (cancelled, or requeued after a stale heartbeat)."""


class Cancelled(VideogenError):
    """Raised inside a render when its job was cancelled or taken from this worker."""


class StoreUnavailable(VideogenError):
    """The job store cannot take writes (disk full, read-only) or cannot be reached: callers
    should try again later (HTTP 503 with Retry-After)."""

    transient = True
