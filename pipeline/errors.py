"""Exceptions for runs that cannot go on.

Problems in the data are never raised: they become :class:`pipeline.issues.Issue` records.
These exceptions are for configuration the department edits (schemas, registry,
settings) being unusable, or for outputs that cannot be written. Every message is in
Vietnamese because the CLI shows it to the department user as is.
"""


class PipelineError(Exception):
    """Base of every error that stops a run; the CLI prints its message and exits 2."""


class SchemaError(PipelineError):
    """A file in schemas/ is unreadable or inconsistent; the message names file and key."""


class RegistryError(PipelineError):
    """The unit registry (or area list) is unreadable or inconsistent."""


class SettingsError(PipelineError):
    """The settings file is missing a key or has a bad value."""


class OutputError(PipelineError):
    """An output file cannot be written (held open by Excel, no permission, disk full)."""


class StorageError(OutputError):
    """The output folder's storage refuses writing: read-only, no permission, disk full.

    Unlike one file that cannot be written, this stops the whole run: every later output
    would fail the same way. `errno` says which refusal (``errno.EROFS``, ``errno.ENOSPC``,
    ...), so the message can be phrased for the folder rather than for one file.
    """

    def __init__(self, message: str, errno: int = 0) -> None:
        # Both in args, so the error crosses from a worker process intact (pickled by args).
        super().__init__(message, errno)
        self.errno = errno

    def __str__(self) -> str:
        return str(self.args[0])


class RunInProgressError(PipelineError):
    """Another run is writing into the same output folder right now."""


class InputFolderError(PipelineError):
    """The input folder does not exist or cannot be listed."""


class WorkerError(PipelineError):
    """A worker process died mid-run (the system stopped it, usually for lack of memory).

    The run stops rather than go on with files unread or outputs unwritten.
    """


class Stopped(KeyboardInterrupt):
    """The system asked the run to stop (SIGTERM, SIGHUP): handled exactly like Ctrl-C.

    A KeyboardInterrupt so that every clean-up that Ctrl-C gets (the staging folder
    discarded, the worker pools shut, the last good results kept) runs for it too;
    `signum` says which signal, for the message and the exit code (128 + signum).
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum
