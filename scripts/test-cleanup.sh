#!/usr/bin/env bash
# Removes the Docker containers, images and volumes the test suite made: only those
# labelled slipway.test=1, never anything else on the machine. The base image
# slipway-test-base:latest is kept, since building it again costs time.
# Images built FROM the base inherit its label, so they are covered too.
#
# Usage: test-cleanup.sh [--dry-run]   (--dry-run only lists what it would remove)
set -euo pipefail

dry_run=0
case "${1:-}" in
    "") ;;
    --dry-run) dry_run=1 ;;
    *) printf 'usage: %s [--dry-run]\n' "$0" >&2; exit 2 ;;
esac

BASE_IMAGE="slipway-test-base:latest"
LABEL_FILTER="label=slipway.test=1"

log() { printf 'test-cleanup: %s\n' "$*"; }

if ! command -v docker >/dev/null 2>&1; then
    log "no docker client on PATH; nothing to clean"
    exit 0
fi
if ! docker info >/dev/null 2>&1; then
    printf 'test-cleanup: error: Docker engine not reachable; test containers and images may be left behind\n' >&2
    exit 1
fi

failures=0
removed_containers=0
removed_images=0

# Containers first: an image still used by a container cannot be removed.
while read -r id name; do
    [[ -n "$id" ]] || continue
    if ((dry_run)); then
        log "would remove container $name ($id)"
        continue
    fi
    if docker rm --force --volumes "$id" >/dev/null; then
        log "removed container $name ($id)"
        removed_containers=$((removed_containers + 1))
    else
        printf 'test-cleanup: error: could not remove container %s (%s)\n' "$name" "$id" >&2
        failures=$((failures + 1))
    fi
done < <(docker ps --all --filter "$LABEL_FILTER" --format '{{.ID}} {{.Names}}')

base_id="$(docker image inspect --format '{{.Id}}' "$BASE_IMAGE" 2>/dev/null || true)"

# Remove tagged images by name, not by id: another tag may share the base
# image's id, and removing by name only untags it, so the base survives.
# Untagged (dangling) labelled images have no name and are removed by id.
while read -r ref id; do
    [[ -n "$ref" ]] || continue
    [[ "$ref" == "$BASE_IMAGE" ]] && continue
    if [[ "$ref" == "<none>:<none>" ]]; then
        full_id="$(docker image inspect --format '{{.Id}}' "$id" 2>/dev/null || true)"
        [[ -n "$full_id" ]] || continue # went away with an image removed before it
        [[ "$full_id" == "$base_id" ]] && continue
        target="$id"
    else
        target="$ref"
    fi
    if ((dry_run)); then
        log "would remove image $target"
        continue
    fi
    if docker rmi "$target" >/dev/null; then
        log "removed image $target"
        removed_images=$((removed_images + 1))
    else
        printf 'test-cleanup: error: could not remove image %s\n' "$target" >&2
        failures=$((failures + 1))
    fi
done < <(docker images --filter "$LABEL_FILTER" --format '{{.Repository}}:{{.Tag}} {{.ID}}')

# Volumes last: the containers that used them are gone.
removed_volumes=0
while read -r name; do
    [[ -n "$name" ]] || continue
    if ((dry_run)); then
        log "would remove volume $name"
        continue
    fi
    if docker volume rm "$name" >/dev/null; then
        removed_volumes=$((removed_volumes + 1))
    else
        printf 'test-cleanup: error: could not remove volume %s\n' "$name" >&2
        failures=$((failures + 1))
    fi
done < <(docker volume ls --filter "$LABEL_FILTER" --format '{{.Name}}')

((dry_run)) && exit 0
log "removed $removed_containers container(s), $removed_images image(s) and $removed_volumes volume(s); kept $BASE_IMAGE"
if ((failures > 0)); then
    printf 'test-cleanup: error: %d item(s) could not be removed\n' "$failures" >&2
    exit 1
fi
