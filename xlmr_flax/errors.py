"""Exceptions with messages that name the file or weight at fault."""


class CheckpointError(ValueError):
    """A checkpoint is missing, unreadable, or does not fit the model config."""


class DataError(ValueError):
    """A data file is missing or malformed; the message starts with `FILE:LINE:`."""
