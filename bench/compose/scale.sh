#!/usr/bin/env bash
# Brings docker-compose.yml up under podman, the worker service scaled to $SCALE (4), checks
# it, and tears it all down (containers, pod, network, the pgdata volume).
#   TOOL=podman-compose|docker-compose MODE=staged|oneshot|down SCALE=4 KEEP=0|1 scale.sh
# Checks: $SCALE worker containers running, `celery -A salesactions inspect ping` (run inside
# a worker) answered by $SCALE nodes, migrate exited 0, web's /healthz 200 on port 8000.
#
# TOOL=podman-compose (default; 1.6.0 from PyPI, setup_host.sh):
#   MODE=oneshot: the plain `podman-compose up -d --scale worker=N`. With Debian's podman
#     4.3.1 it fails (README.md): podman-compose skips service_healthy (podman < 4.6 cannot
#     wait for "healthy"), and `podman start` of web/worker/beat, created with
#     --requires=migrate, fails once migrate has exited ("depends on container ... not
#     found in input list").
#   MODE=staged (default): the same services in depends_on order, with --no-deps, this
#     script doing the waiting that compose would: db+redis healthy, then migrate exited 0,
#     then web, worker x N and beat.
# TOOL=docker-compose: docker-compose 1.29.2 (PyPI, setup_host.sh) talking to podman's
#   Docker-compatible API (`podman system service`, started here on a socket of its own).
#   MODE=oneshot (its default) works: it waits for healthy and completed itself.
# Either way a background loop runs the containers' healthchecks (no systemd, see below).
set -euo pipefail
source "$(dirname "$0")/env.sh"
REPO="$(git -C "$HERE" rev-parse --show-toplevel)"
TOOL="${TOOL:-podman-compose}"
PROJECT="${COMPOSE_PROJECT:-salesactions}"
SCALE="${SCALE:-4}"
TIMEOUT="${TIMEOUT:-300}"   # seconds for the stack to pass the checks
export SECRET_KEY="${SECRET_KEY:-$(python3 -c 'import secrets; print(secrets.token_urlsafe(50))')}"
cd "$REPO"
SERVICE_PID=
case "$TOOL" in
podman-compose)
    MODE="${MODE:-staged}"
    # --parallel 1: one podman call at a time (the four app builds one after another).
    compose() { "$PODMAN_COMPOSE_VENV/bin/podman-compose" --parallel 1 -p "$PROJECT" \
        -f docker-compose.yml "$@"; }
    ;;
docker-compose)
    MODE="${MODE:-oneshot}"
    [ "$MODE" != staged ] || { log "MODE=staged is for podman-compose"; exit 2; }
    SOCK="$WORK/podman.sock"
    export DOCKER_HOST="unix://$SOCK"
    if ! curl -sf --unix-socket "$SOCK" http://d/_ping >/dev/null 2>&1; then
        rm -f "$SOCK"
        podman system service --time=0 "$DOCKER_HOST" >"$WORK/podman-service.log" 2>&1 &
        SERVICE_PID=$!
        for _ in $(seq 50); do
            curl -sf --unix-socket "$SOCK" http://d/_ping >/dev/null 2>&1 && break; sleep 0.2
        done
    fi
    compose() { "$DOCKER_COMPOSE_VENV/bin/docker-compose" -p "$PROJECT" \
        -f docker-compose.yml "$@"; }
    ;;
*) log "TOOL must be podman-compose or docker-compose"; exit 2 ;;
esac
ctrs() { podman ps -a --filter "label=com.docker.compose.project=$PROJECT" "$@"; }

# No systemd here, so podman 4.3 cannot arm its healthcheck timers ("unable to get systemd
# connection to add healthchecks"): run each container's check ourselves, every `interval`
# of its healthcheck (5 s for db/redis, 30 s for web), the first one interval after start.
health_ticker() {
    local end=$((SECONDS + TIMEOUT + 600)) c iv
    declare -A due=()
    while [ $SECONDS -lt $end ]; do
        for c in $(ctrs -q --no-trunc --filter status=running); do
            if [ -z "${due[$c]:-}" ]; then
                iv=$(podman inspect -f \
                    '{{if .Config.Healthcheck}}{{.Config.Healthcheck.Interval.Seconds}}{{end}}' \
                    "$c" 2>/dev/null || true)
                iv=${iv%%.*}
                due[$c]=$([ -n "$iv" ] && echo "$((SECONDS + iv)) $iv" || echo never)
            fi
            [ "${due[$c]}" != never ] || continue
            read -r at iv <<<"${due[$c]}"
            if [ $SECONDS -ge "$at" ]; then
                podman healthcheck run "$c" >/dev/null 2>&1 || true
                due[$c]="$((SECONDS + iv)) $iv"
            fi
        done
        sleep 1
    done
}

TICKER=
teardown() {
    [ -n "$TICKER" ] && kill "$TICKER" 2>/dev/null || true
    if [ "${KEEP:-0}" = 1 ]; then
        log "KEEP=1: leaving the stack up (healthchecks no longer run)"
        [ -z "$SERVICE_PID" ] || log "podman system service left running: pid $SERVICE_PID"
        return
    fi
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
    [ -z "$SERVICE_PID" ] || kill "$SERVICE_PID" 2>/dev/null || true
    log "teardown took $((SECONDS - t0)) s; left: $(ctrs -q | wc -l) containers," \
        "$(podman pod ls -q --filter "name=pod_$PROJECT" | wc -l) pods," \
        "$(podman volume ls -q --filter "name=${PROJECT}_" | wc -l) volumes"
}
trap teardown EXIT
[ "$MODE" != down ] || exit 0   # MODE=down: only the teardown (e.g. after KEEP=1)

t0=$SECONDS
log "build ($TOOL build)"
compose build
t_build=$((SECONDS - t0))
log "build took ${t_build} s"

health_ticker & TICKER=$!

t1=$SECONDS
up_rc=0
if [ "$MODE" = oneshot ]; then
    log "$TOOL up -d --scale worker=$SCALE"
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
