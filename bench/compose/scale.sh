#!/usr/bin/env bash
# Brings docker-compose.yml up with podman-compose, the worker service scaled to $SCALE (4),
# checks it, and tears it all down (containers, pod, network, the pgdata volume).
#   SCALE=4 MODE=staged|oneshot|down KEEP=0|1 bench/compose/scale.sh
# Checks: $SCALE worker containers running, `celery -A salesactions inspect ping` (run inside
# a worker) answered by $SCALE nodes, migrate exited 0, web's /healthz 200 on port 8000.
# MODE=oneshot: the plain `podman-compose up -d --scale worker=N`. With Debian's podman 4.3.1
#   it fails (README.md): podman-compose skips service_healthy (podman < 4.6 cannot wait for
#   "healthy"), and `podman start` of web/worker/beat, created with --requires=migrate, fails
#   once migrate has exited ("depends on container ... not found in input list").
# MODE=staged (default): the same services in depends_on order, with --no-deps, this script
#   doing the waiting that compose would: db+redis healthy, then migrate exited 0, then
#   web, worker x N and beat.
set -euo pipefail
source "$(dirname "$0")/env.sh"
REPO="$(git -C "$HERE" rev-parse --show-toplevel)"
PC="$PODMAN_COMPOSE_VENV/bin/podman-compose"
PROJECT="${COMPOSE_PROJECT:-salesactions}"
SCALE="${SCALE:-4}"
MODE="${MODE:-staged}"
TIMEOUT="${TIMEOUT:-300}"   # seconds for the stack to pass the checks
export SECRET_KEY="${SECRET_KEY:-$(python3 -c 'import secrets; print(secrets.token_urlsafe(50))')}"
cd "$REPO"
# --parallel 1: one podman call at a time (builds of the four app services one after another).
compose() { "$PC" --parallel 1 -p "$PROJECT" -f docker-compose.yml "$@"; }
ctrs() { podman ps -a --filter "label=com.docker.compose.project=$PROJECT" "$@"; }

# No systemd here, so podman 4.3 cannot arm its healthcheck timers ("unable to get systemd
# connection to add healthchecks"): run the checks ourselves every 3 s, as the timers would.
health_ticker() {
    local end=$((SECONDS + TIMEOUT + 600))
    while [ $SECONDS -lt $end ]; do
        for c in $(ctrs -q --filter status=running); do
            if [ -n "$(podman inspect -f '{{if .Config.Healthcheck}}y{{end}}' "$c" 2>/dev/null)" ]; then
                podman healthcheck run "$c" >/dev/null 2>&1 || true
            fi
        done
        sleep 3
    done
}

TICKER=
teardown() {
    [ -n "$TICKER" ] && kill "$TICKER" 2>/dev/null || true
    if [ "${KEEP:-0}" = 1 ]; then log "KEEP=1: leaving the stack up"; return; fi
    log "teardown"
    local t0=$SECONDS
    # podman-compose 1.6's `down` knows only the compose file's replica count (worker_1):
    # worker_2..N would stay up, lose their broker and need SIGKILL. Stop the app services
    # (all replicas) first, then `down`, then sweep what is left by the project label.
    local app; app=$(for s in web worker beat; do
        ctrs -q --filter "label=com.docker.compose.service=$s"; done)
    [ -z "$app" ] || podman stop -t 10 $app >/dev/null || true
    compose down -v -t 10 >/dev/null 2>&1 || true
    local left; left=$(ctrs -q)
    if [ -n "$left" ]; then
        log "down left $(wc -w <<<"$left") containers; removing them"
        podman rm -f -t 10 $left >/dev/null || true
    fi
    podman pod rm -f "pod_$PROJECT" >/dev/null 2>&1 || true
    podman network rm -f "${PROJECT}_default" >/dev/null 2>&1 || true
    podman volume rm -f "${PROJECT}_pgdata" >/dev/null 2>&1 || true
    log "teardown took $((SECONDS - t0)) s; left: $(ctrs -q | wc -l) containers," \
        "$(podman pod ls -q --filter "name=pod_$PROJECT" | wc -l) pods," \
        "$(podman volume ls -q --filter "name=${PROJECT}_" | wc -l) volumes"
}
trap teardown EXIT
[ "$MODE" != down ] || exit 0   # MODE=down: only the teardown (e.g. after KEEP=1)

t0=$SECONDS
log "build (podman-compose build)"
compose build
t_build=$((SECONDS - t0))
log "build took ${t_build} s"

health_ticker & TICKER=$!

t1=$SECONDS
up_rc=0
if [ "$MODE" = oneshot ]; then
    log "up -d --scale worker=$SCALE"
    compose up -d --scale "worker=$SCALE" || { up_rc=$?; log "up exited $up_rc"; }
else
    log "up -d --no-deps db redis, then wait for both healthy"
    compose up -d --no-deps db redis
    until [ "$(ctrs --filter health=healthy --format '{{.Names}}' | grep -cE '_(db|redis)_')" = 2 ]; do
        [ $((SECONDS - t1)) -lt "$TIMEOUT" ] || { log "db/redis never healthy"; exit 1; }
        sleep 2
    done
    log "db, redis healthy after $((SECONDS - t1)) s; up -d --no-deps migrate, then wait for it"
    compose up -d --no-deps migrate
    rc=$(podman wait "${PROJECT}_migrate_1")
    log "migrate exited $rc after $((SECONDS - t1)) s"
    [ "$rc" = 0 ] || { podman logs --tail 40 "${PROJECT}_migrate_1"; exit 1; }
    log "up -d --no-deps --scale worker=$SCALE web worker beat"
    compose up -d --no-deps --scale "worker=$SCALE" web worker beat
fi
t_up=$((SECONDS - t1))
log "up returned after ${t_up} s"

# Wait for the checks to pass (or TIMEOUT; 15 s more only when `up` itself failed).
status=fail
deadline=$((t1 + TIMEOUT))
[ "$up_rc" = 0 ] || deadline=$((SECONDS + 15))
while [ $SECONDS -lt $deadline ]; do
    workers=$(ctrs --filter label=com.docker.compose.service=worker --filter status=running -q | wc -l)
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 http://127.0.0.1:8000/healthz || true)
    if [ "$workers" = "$SCALE" ] && [ "$code" = 200 ]; then
        ping=$(podman exec "${PROJECT}_worker_1" celery -A salesactions inspect ping --timeout 5 2>&1 || true)
        nodes=$(grep -c ': OK' <<<"$ping" || true)
        if [ "$nodes" = "$SCALE" ]; then status=ok; break; fi
    fi
    sleep 3
done
t_ready=$((SECONDS - t1))

echo "=== containers"
ctrs --format '{{.Names}}\t{{.Status}}\t{{.Image}}'
echo "=== migrate exit code: $(podman inspect -f '{{.State.ExitCode}}' "${PROJECT}_migrate_1" 2>&1)"
echo "=== running worker containers: ${workers:-?} (want $SCALE)"
echo "=== curl http://127.0.0.1:8000/healthz -> ${code:-?}: $(curl -s --max-time 5 http://127.0.0.1:8000/healthz || true)"
echo "=== podman exec ${PROJECT}_worker_1 celery -A salesactions inspect ping"
echo "${ping:-<not run>}"
echo "=== timings: build ${t_build} s, up ${t_up} s, ready ${t_ready} s (status $status)"
if [ "$status" != ok ]; then
    for s in db_1 migrate_1 web_1 worker_1; do
        echo "=== logs ${PROJECT}_$s (tail)"; podman logs --tail 25 "${PROJECT}_$s" 2>&1 || true
    done
    exit 1
fi
