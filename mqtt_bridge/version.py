"""The installed version, read from the distribution's metadata."""

from importlib import metadata

try:
    VERSION = metadata.version("lobby")
except metadata.PackageNotFoundError:  # running from a source tree without installing
    VERSION = "0.0.0+source"
