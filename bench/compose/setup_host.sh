#!/usr/bin/env bash
# Installs what podman needs on this Debian bookworm VM, and podman-compose from PyPI
# (Debian's 1.0.3 and bookworm-backports' 1.0.6 ignore `up --scale`: one worker only), and
# docker-compose 1.29.2 from PyPI (no Docker Compose v2 here: the docker CLI has no plugin).
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
# docker-compose 1.29.2 (the last Python one) against podman's Docker API: its pins are old,
# so hold back what newer releases broke (PyYAML 5.4 needs Cython < 3 to build; docker-py 6+
# and requests 2.32+ break it).
if [ ! -x "$DOCKER_COMPOSE_VENV/bin/docker-compose" ]; then
    python3 -m venv "$DOCKER_COMPOSE_VENV"
    printf 'cython<3\nrequests<2.32\nurllib3<2\ndocker<6\n' > "$WORK/dc-constraints.txt"
    PIP_CONSTRAINT="$WORK/dc-constraints.txt" \
        "$DOCKER_COMPOSE_VENV/bin/pip" install -q "docker-compose==1.29.2" "docker[ssh]>=5,<6"
fi
podman --version
"$PODMAN_COMPOSE_VENV/bin/podman-compose" --version
"$DOCKER_COMPOSE_VENV/bin/docker-compose" version --short
