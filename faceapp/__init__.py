"""faceapp: enroll people from one photo and recognise them live."""

__version__ = "0.1.0"
