#!/usr/bin/env bash
# Build a real Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl, kwok) from published Go modules, cached outside the repo.
# Prints the bin directory on its last line. Rebuilds only when a pinned version changes.
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-v1.36.3}
ETCD_VERSION=${ETCD_VERSION:-v3.6.16}
KWOK_VERSION=${KWOK_VERSION:-v0.8.0}

cache=${SVCDOCTOR_CACHE:-$HOME/.cache/svcdoctor}
bin="$cache/controlplane/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION/bin"
work="$cache/controlplane/work"
mkdir -p "$bin" "$work"
export GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0

have() { [ -x "$bin/$1" ]; }

if ! have kube-apiserver || ! have kube-controller-manager || ! have kube-scheduler || ! have kubectl; then
  echo "building Kubernetes $K8S_VERSION components ..." >&2
  d="$work/k8s-$K8S_VERSION"; rm -rf "$d"; mkdir -p "$d"; cd "$d"
  go mod init local/k8sbuild >/dev/null 2>&1
  gomod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | python3 -c 'import json,sys;print(json.load(sys.stdin)["GoMod"])')
  staging="v0.${K8S_VERSION#v1.}"
  # k8s.io/kubernetes requires its staging modules at v0.0.0 with local replaces;
  # pin each one to the published tag that matches the release.
  for m in $(awk '/=> \.\/staging\/src\//{print $1}' "$gomod"); do
    go mod edit -replace="$m=$m@$staging"
  done
  go mod edit -require="k8s.io/kubernetes@$K8S_VERSION"
  minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
  cat > tools.go <<GO
//go:build tools
package tools
import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
  go mod tidy >/dev/null
  V="-X k8s.io/component-base/version"; C="-X k8s.io/client-go/pkg/version"
  go build -trimpath -tags selinux,notest \
    -ldflags "-s -w $V.gitVersion=$K8S_VERSION $V.gitMajor=1 $V.gitMinor=$minor $C.gitVersion=$K8S_VERSION $C.gitMajor=1 $C.gitMinor=$minor" \
    -o "$bin/" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
fi

if ! have etcd; then
  echo "building etcd $ETCD_VERSION ..." >&2
  d="$work/etcd-$ETCD_VERSION"; rm -rf "$d"; mkdir -p "$d"; cd "$d"
  go mod init local/etcdbuild >/dev/null 2>&1
  go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >/dev/null 2>&1
  go build -trimpath -ldflags "-s -w" -o "$bin/etcd" go.etcd.io/etcd/server/v3
fi

if ! have kwok; then
  echo "building kwok $KWOK_VERSION ..." >&2
  GOBIN="$bin" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  # kwok v0.8 needs its stage definitions passed explicitly; copy them next to the binary.
  src=$(go list -m -json "sigs.k8s.io/kwok@$KWOK_VERSION" 2>/dev/null | python3 -c 'import json,sys;print(json.load(sys.stdin).get("Dir",""))' || true)
  if [ -z "$src" ]; then
    src=$(go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | python3 -c 'import json,sys;print(json.load(sys.stdin)["Dir"])')
  fi
  mkdir -p "$bin/../stages"; cp -r "$src/kustomize/stage/." "$bin/../stages/"; chmod -R u+w "$bin/../stages"
fi

echo "$bin"
