#!/usr/bin/env bash
# Builds local stand-ins for the Docker Hub images this project names, which this VM
# cannot pull: python:3.11-slim (Dockerfile), postgres:16 and redis:7 (docker-compose.yml).
# Base: a Debian bookworm rootfs made with debootstrap and `podman import`ed.
set -euo pipefail
source "$(dirname "$0")/env.sh"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

if ! podman image exists localhost/bookworm-base:latest; then
    if [ ! -f "$WORK/rootfs/etc/debian_version" ]; then
        log "debootstrap bookworm from $MIRROR"
        rm -rf "$WORK/rootfs"
        debootstrap --variant=minbase --include=ca-certificates bookworm "$WORK/rootfs" "$MIRROR"
    fi
    rm -rf "$WORK"/rootfs/var/cache/apt/archives/*.deb "$WORK"/rootfs/var/lib/apt/lists/*
    log "podman import -> localhost/bookworm-base:latest"
    tar -C "$WORK/rootfs" -c . | podman import --change 'CMD ["/bin/bash"]' - localhost/bookworm-base:latest
fi

build() {  # build TAG DIR
    local tag="$1" dir="$2" ctx="$WORK/ctx-$(basename "$2")"
    rm -rf "$ctx" && cp -r "$dir" "$ctx"
    # The host's extra CA certificates (TLS-intercepting proxy) and pip config, for pip.
    mkdir -p "$ctx/ca"
    cp /usr/local/share/ca-certificates/*.crt "$ctx/ca/" 2>/dev/null || true
    if [ -f /etc/pip.conf ]; then cp /etc/pip.conf "$ctx/pip.conf"; else : > "$ctx/pip.conf"; fi
    log "podman build -t $tag"
    podman build --pull=never -t "$tag" "$ctx"
}
build python:3.11-slim "$HERE/standins/python"
build postgres:16 "$HERE/standins/postgres"
build redis:7 "$HERE/standins/redis"
podman images
