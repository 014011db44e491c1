"""fraudops: end-to-end MLOps for payment-card fraud detection."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("fraudops")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"

__all__ = ["__version__"]
