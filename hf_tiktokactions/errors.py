"""Errors a user can cause. Each names the input at fault and, where there is one, the fix."""


class TikTokActionsError(Exception):
    """Base class of the project's user-facing errors (the CLIs print these without a traceback)."""


class ConfigError(TikTokActionsError, ValueError):
    """A configuration value or preset name is wrong."""


class CheckpointError(TikTokActionsError):
    """A checkpoint cannot be read or does not match the model it is loaded into."""


class VideoDecodeError(TikTokActionsError):
    """A video file is missing, empty, truncated, corrupt or not a video."""


class CatalogueError(TikTokActionsError, ValueError):
    """The hashtag catalogue (or a hashtag list) is malformed: duplicates, unknown values, bad tags."""


class CredentialsError(TikTokActionsError):
    """Research API credentials are missing or were rejected (the message never contains them)."""


class ApiError(TikTokActionsError):
    """The TikTok Research API refused a request in a way retrying cannot fix.

    ``code`` is the API's error code (``invalid_params``, ``scope_not_authorized``, ...) or
    ``http_<status>``; ``log_id`` is TikTok's id for the request, to quote to their support.
    """

    def __init__(self, message: str, code: str = "", log_id: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.log_id = log_id


class QuotaExhausted(ApiError):
    """The daily request or record quota is spent; the collection can resume after the reset."""


class OutputStateError(TikTokActionsError):
    """An output directory holds state from a different run, or state that cannot be read."""


class DownloadError(TikTokActionsError):
    """A download step cannot start (missing metadata, missing optional dependency, bad output)."""


class DatasetLayoutError(TikTokActionsError, FileNotFoundError):
    """A dataset root, annotation file or listed video file is missing, or an annotation file is malformed."""


class VideoRejected(TikTokActionsError):
    """Curation drops one video (too short, no video stream, too large, ...); ``reason`` is what the index records."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SingleImageError(VideoDecodeError):
    """A file that FFmpeg opens as a one-frame video: an image, not a video clip."""


class DetectorError(TikTokActionsError):
    """A person detector cannot be built: weights not found, optional package missing, unknown class name."""


class BudgetExceeded(TikTokActionsError):
    """An input would cost more than a set limit (pixels, frames, fps, seconds); ``limit`` names that limit."""

    def __init__(self, message: str, limit: str) -> None:
        super().__init__(message)
        self.limit = limit


class RunStopped(TikTokActionsError):
    """The machine failed, not the input (disk full, I/O error, too many open files): the run stops, a rerun resumes."""
