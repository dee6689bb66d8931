"""Errors a user can cause. Each names the input at fault and, where there is one, the fix."""


class TikTokActionsError(Exception):
    """Base class of the project's user-facing errors (the CLIs print these without a traceback)."""


class ConfigError(TikTokActionsError, ValueError):
    """A configuration value or preset name is wrong."""


class CheckpointError(TikTokActionsError):
    """A checkpoint cannot be read or does not match the model it is loaded into."""


class VideoDecodeError(TikTokActionsError):
    """A video file is missing, empty, truncated, corrupt or not a video."""


class DatasetLayoutError(TikTokActionsError, FileNotFoundError):
    """A dataset root, annotation file or listed video file is missing, or an annotation file is malformed."""
