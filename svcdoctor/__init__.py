"""svcdoctor: why is this Kubernetes Service unreachable, and how do I fix it?"""

__version__ = "0.1.0"

from .hookspecs import hookimpl  # noqa: E402  (plugins import it from here)

__all__ = ["__version__", "hookimpl"]
