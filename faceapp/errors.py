"""User-facing errors: each carries a one-line message fit to show a person."""

from __future__ import annotations


class FaceAppError(Exception):
    """Base of every error whose message is shown to the user as is."""

    exit_code = 2


class BadInputError(FaceAppError):
    """An input file, name or argument cannot be used."""


class ImageReadError(BadInputError):
    """A file is missing, unreadable, or not an image."""


class NoFaceError(BadInputError):
    """An image holds no detectable face."""


class MultipleFacesError(BadInputError):
    """An image holds several faces where one was expected."""


class NameError_(BadInputError):
    """A person's name is empty, too long, or otherwise unusable."""


class UnknownPersonError(BadInputError):
    """No enrolled person has the given name."""


class DatabaseError(FaceAppError):
    """The gallery database is corrupt, locked, or from a newer faceapp."""


class ModelError(FaceAppError):
    """Model weights are missing, corrupt, or cannot be loaded."""


class CameraError(FaceAppError):
    """A camera or video source cannot be opened or was lost."""
