"""The Gateway API standard-channel CRDs for the test control plane.

Taken from the published Go module ``sigs.k8s.io/gateway-api`` at a pinned version through
the Go module proxy (as the control-plane binaries are), copied into the cache outside
the repository, and installed as they are, so the real apiserver validates every
Gateway, route and ReferenceGrant the tests create against the upstream schemas.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import upstream_crds

VERSION = "v1.6.3"
MODULE = "sigs.k8s.io/gateway-api"
# The CRDs svcdoctor reads; the safe-upgrades ValidatingAdmissionPolicy is left out.
CRDS = ("gatewayclasses", "gateways", "httproutes", "grpcroutes", "tlsroutes", "tcproutes",
        "referencegrants")


def crd_files() -> list[Path]:
    return upstream_crds.fetch(MODULE, VERSION, "config/crd/standard",
                               [f"gateway.networking.k8s.io_{c}.yaml" for c in CRDS],
                               upstream_crds.cache_root() / f"gateway-api-{VERSION}" / "crds")


def install(cp: Any) -> None:
    upstream_crds.install(cp, crd_files(), [f"{c}.gateway.networking.k8s.io" for c in CRDS], "httproutes")
