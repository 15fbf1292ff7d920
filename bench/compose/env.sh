# Sourced by the scripts here: podman settings for this VM and where the stand-ins are built.
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export CONTAINERS_CONF="$HERE/containers.conf"
WORK="${COMPOSE_BENCH_WORK:-/var/tmp/compose-standins}"
PODMAN_COMPOSE_VENV="$WORK/pc-venv"
DOCKER_COMPOSE_VENV="$WORK/dc-venv"
mkdir -p "$WORK"
log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
