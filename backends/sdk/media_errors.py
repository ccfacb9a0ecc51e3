"""Why a task's media could not become a local file, as exceptions a user can read.

Every message is a sentence naming the file and the fix, because it ends up in the panel's
log and in Label Studio's prediction errors, read by someone who never saw this code.
"""


class MediaError(Exception):
    """A task's media could not be turned into a local file; the message says why."""


class MediaConfigError(MediaError):
    """Something the resolver needs (Label Studio URL, token, task id) is missing or malformed."""


class UnsupportedMedia(MediaError):
    """The value is no link or path this resolver knows how to fetch."""


class UnsafeLocalPath(MediaError):
    """A local-files path points outside the document root."""


class MediaAuthError(MediaError):
    """The server refused the request (401/403) or the token could not be exchanged."""


class MediaNotFound(MediaError):
    """The server says the file does not exist (404)."""


class MediaTooLarge(MediaError):
    """The file is bigger than the per-file limit."""


class MediaDownloadError(MediaError):
    """Network failure, timeout, or an unexpected HTTP status."""
