"""Every error a user can see, each with one line of text and an exit code.

Lower-layer errors (YAML, JSON, OS, kubernetes client, urllib3) are translated into these
at the boundary where they happen (``raise ... from exc``); the CLI prints ``str(error)``
on one line and exits with ``error.exit_code``. Nothing else reaches the user.

    SvcdoctorError
     ├── UsageError        exit 3: malformed svc/NAME, unsupported kind, bad option
     ├── NotFoundError     exit 3: namespace or Service absent from the source
     └── SourceError       exit 4: the evidence could not be read
          └── ClusterError exit 4: no kubeconfig, API unreachable, auth rejected

Exit codes 0/1/2 belong to diagnoses (no problem / warning / critical); 3 and up mean the
diagnosis could not run.
"""

from __future__ import annotations


class SvcdoctorError(Exception):
    """Base class: ``str(err)`` is the one line shown to the user."""

    exit_code = 3


class UsageError(SvcdoctorError):
    exit_code = 3


class NotFoundError(SvcdoctorError):
    exit_code = 3


class SourceError(SvcdoctorError):
    exit_code = 4


class ClusterError(SourceError):
    exit_code = 4
