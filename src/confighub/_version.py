"""The confighub version, read by the build and written into tape headers."""

__version__ = "0.1.0"
