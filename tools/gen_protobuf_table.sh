#!/bin/sh
# Regenerate apiserver/runtime/protobuf/table.json from the upstream Kubernetes repositories.
# Usage: tools/gen_protobuf_table.sh API_GIT_DIR APIMACHINERY_GIT_DIR [TAG]
#   API_GIT_DIR / APIMACHINERY_GIT_DIR: git directories (bare or .git) of
#   github.com/kubernetes/api and github.com/kubernetes/apimachinery; TAG defaults to v0.32.5
#   (the client-go release of kubectl 1.32.5).  Reads only local files.
set -eu
API=$1; MACH=$2; TAG=${3:-v0.32.5}
HERE=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/api" "$TMP/mach"
git --git-dir "$API" archive "$TAG" | tar -x -C "$TMP/api"
git --git-dir "$MACH" archive "$TAG" | tar -x -C "$TMP/mach"
# Group-versions served by the 1.32 API server (those in apiserver/openapi/definitions.py).
GVS="admissionregistration/v1 admissionregistration/v1alpha1 admissionregistration/v1beta1
apiserverinternal/v1alpha1 apps/v1 authentication/v1 authentication/v1beta1 authorization/v1
autoscaling/v1 autoscaling/v2 batch/v1 certificates/v1 certificates/v1alpha1 coordination/v1
coordination/v1alpha2 core/v1 discovery/v1 events/v1 flowcontrol/v1 networking/v1
networking/v1beta1 node/v1 policy/v1 rbac/v1 resource/v1alpha3 resource/v1beta1 scheduling/v1
storage/v1 storage/v1alpha1 storage/v1beta1 storagemigration/v1alpha1"
DIRS="$TMP/mach/pkg/apis/meta/v1 $TMP/mach/pkg/runtime $TMP/mach/pkg/api/resource $TMP/mach/pkg/util/intstr"
for gv in $GVS; do DIRS="$DIRS $TMP/api/$gv"; done
# shellcheck disable=SC2086
python3 "$HERE/tools/gen_protobuf_table.py" --source "k8s.io/api and k8s.io/apimachinery $TAG" \
    --output "$HERE/apiserver/runtime/protobuf/table.json" $DIRS
