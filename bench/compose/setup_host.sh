#!/usr/bin/env bash
# Installs what podman needs on this Debian bookworm VM, and podman-compose from PyPI
# (Debian's 1.0.3/1.0.6 lack `up --scale` and depends_on conditions).
set -euo pipefail
source "$(dirname "$0")/env.sh"
export DEBIAN_FRONTEND=noninteractive
# iptables: netavark fails with "No such file or directory (os error 2)" without it.
# runc: crun 1.8 refuses the cgroup v1/v2 hybrid of this VM (containers.conf).
apt-get install -y -q podman netavark aardvark-dns iptables runc debootstrap uidmap
if [ ! -x "$PODMAN_COMPOSE_VENV/bin/podman-compose" ]; then
    python3 -m venv "$PODMAN_COMPOSE_VENV"
    "$PODMAN_COMPOSE_VENV/bin/pip" install -q "podman-compose==1.6.0"
fi
podman --version
"$PODMAN_COMPOSE_VENV/bin/podman-compose" --version
