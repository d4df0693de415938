#!/usr/bin/env bash
# Makes a Debian 12 machine ready for Slipway's test suite:
#   - the Debian packages the build and the tests need,
#   - pytest for the end-to-end tests, and selenium (with Debian's chromium) for the browser tests,
#   - a running Docker engine,
#   - the local base image slipway-test-base:latest (busybox only: no registry
#     is reachable, so nothing may ever be pulled).
#
# Idempotent: on a machine that is already ready it only checks, and takes a
# second or two. Run it as root; without root it says what is missing and fails.
set -euo pipefail

BASE_IMAGE="slipway-test-base:latest"
DOCKERD_LOG="/tmp/slipway-dockerd.log"
DOCKER_START_TIMEOUT=60

# sqlite3: the E2E tests read the journal mode of the server's database.
# procps: pgrep, used below to tell a dead engine from one that is starting.
# openssh-server: the deploy-key test clones over ssh from a private sshd on loopback
# (the tests start their own sshd on a free port, with its own config and keys).
# openssh-client: ssh-keygen for deploy keys, and ssh for git's ssh transport.
# jq: docs/API.md pipes some examples through it, and test_api_docs.py runs them as written.
# chromium, chromium-driver: the browser tests drive /usr/bin/chromium through /usr/bin/chromedriver
# (Debian's own pair, so their versions match and Selenium never downloads a driver).
# gcc, libc6-dev: the edge tests' app (Tests/E2E/edgeapp/edgeapp.c) and the benchmark's keep-alive
# server are compiled with `cc -static` at run time, which needs libc.a.
# iproute2, util-linux: the servers tests make a second host (a network namespace with a veth
# pair, `ip netns`, and a private mount namespace for its dockerd, `unshare`); its sshd is
# openssh-server's.
DEB_PACKAGES=(libsqlite3-dev libssl-dev git docker.io busybox-static curl sqlite3 make procps openssh-client openssh-server jq libnss3-tools
              chromium chromium-driver gcc libc6-dev openssl pebble prometheus iproute2 util-linux)

log() { printf 'test-env: %s\n' "$*"; }
die() { printf 'test-env: error: %s\n' "$*" >&2; exit 1; }

is_root() { [[ "$(id -u)" -eq 0 ]]; }

apt_updated=0
apt_install() {
    if [[ "$apt_updated" -eq 0 ]]; then
        log "apt-get update"
        apt-get update -qq
        apt_updated=1
    fi
    log "installing: $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

# --- Debian packages -------------------------------------------------------

missing=()
for pkg in "${DEB_PACKAGES[@]}"; do
    # dpkg -s also succeeds for removed-but-not-purged packages, so check the state.
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$pkg")
    fi
done
# A fresh Debian may have no python3 at all; then Debian's own pytest comes with it.
if ! command -v python3 >/dev/null 2>&1; then
    missing+=(python3 python3-pytest)
fi

if [[ ${#missing[@]} -gt 0 ]]; then
    if ! is_root || ! command -v apt-get >/dev/null 2>&1; then
        printf 'test-env: missing Debian packages: %s\n' "${missing[*]}" >&2
        printf 'test-env: install them as root with:\n' >&2
        printf '  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends %s\n' \
            "${missing[*]}" >&2
        exit 1
    fi
    apt_install "${missing[@]}"
else
    log "Debian packages present"
fi

# --- pytest ------------------------------------------------------------------

if python3 -m pytest --version >/dev/null 2>&1; then
    log "pytest present ($(python3 -m pytest --version 2>&1 | head -n1))"
else
    # pip first: the python3 on PATH may be a pyenv one that apt does not serve.
    # Debian's own python3 refuses pip installs (PEP 668), so fall back to apt there.
    if python3 -m pip --version >/dev/null 2>&1 \
        && python3 -m pip install --quiet --disable-pip-version-check pytest; then
        log "installed pytest with pip"
    elif [[ "$(command -v python3)" == /usr/bin/python3 ]] && is_root && command -v apt-get >/dev/null 2>&1; then
        apt_install python3-pytest
    else
        die "pytest is missing for $(command -v python3); install it with: python3 -m pip install pytest"
    fi
    python3 -m pytest --version >/dev/null 2>&1 || die "pytest still does not run with $(command -v python3)"
fi

# --- Selenium (the browser tests) -----------------------------------------------

# Only the Python binding comes from PyPI, pinned; the browser and its driver are the Debian
# packages above, and the tests set SE_OFFLINE=true so Selenium Manager downloads nothing.
SELENIUM_VERSION=4.27.1
if python3 -c 'import selenium' >/dev/null 2>&1; then
    log "selenium present ($(python3 -c 'import selenium; print(selenium.__version__)' 2>&1))"
else
    if ! python3 -m pip --version >/dev/null 2>&1; then
        if [[ "$(command -v python3)" == /usr/bin/python3 ]] && is_root && command -v apt-get >/dev/null 2>&1; then
            apt_install python3-pip
        else
            die "selenium is missing for $(command -v python3) and so is pip; install it with: python3 -m pip install selenium==$SELENIUM_VERSION"
        fi
    fi
    log "installing selenium $SELENIUM_VERSION with pip"
    # Debian's own python3 refuses pip installs (PEP 668) unless told; a pyenv or venv python does not.
    if ! python3 -m pip install --quiet --disable-pip-version-check "selenium==$SELENIUM_VERSION"; then
        [[ "$(command -v python3)" == /usr/bin/python3 ]] && is_root \
            || die "could not install selenium; run: python3 -m pip install selenium==$SELENIUM_VERSION"
        python3 -m pip install --quiet --disable-pip-version-check --break-system-packages "selenium==$SELENIUM_VERSION" \
            || die "could not install selenium $SELENIUM_VERSION with pip"
    fi
    python3 -c 'import selenium' >/dev/null 2>&1 || die "selenium still does not import with $(command -v python3)"
    log "installed selenium $SELENIUM_VERSION"
fi

# --- Docker engine -----------------------------------------------------------

command -v docker >/dev/null 2>&1 || die "no docker client on PATH (Debian's docker.io provides one)"

if docker info >/dev/null 2>&1; then
    log "Docker engine running"
else
    is_root || die "the Docker engine is not running and only root can start it here"
    command -v dockerd >/dev/null 2>&1 || die "dockerd not found (Debian's docker.io provides /usr/sbin/dockerd)"
    if ! pgrep -x dockerd >/dev/null 2>&1; then
        # A pid file left by an engine that died would make the new one refuse to start.
        rm -f /var/run/docker.pid
        log "starting dockerd (log: $DOCKERD_LOG)"
        # setsid + nohup: the engine must outlive this script and the make run
        # that called it, and must not hold the caller's terminal or pipes open.
        setsid nohup dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null &
    else
        log "dockerd is running but not answering yet; waiting"
    fi

    deadline=$((SECONDS + DOCKER_START_TIMEOUT))
    until docker info >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then
            printf 'test-env: error: Docker engine not ready after %ss; last lines of %s:\n' \
                "$DOCKER_START_TIMEOUT" "$DOCKERD_LOG" >&2
            tail -n 30 "$DOCKERD_LOG" >&2 2>/dev/null || true
            exit 1
        fi
        sleep 0.5
    done
    log "Docker engine ready"
fi

# --- Base image --------------------------------------------------------------

if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    log "base image $BASE_IMAGE present"
else
    busybox_bin=/bin/busybox # from busybox-static: no shared libraries needed in the image
    [[ -x "$busybox_bin" ]] || die "$busybox_bin not found (Debian's busybox-static provides it)"

    applets="$("$busybox_bin" --list)"
    # The test apps rely on these; fail here rather than in a confusing test later.
    for needed in sh httpd echo cat sleep ls mkdir wget env printf test true false kill ps grep; do
        grep -qx -- "$needed" <<<"$applets" || die "$busybox_bin has no '$needed' applet"
    done

    rootfs_parent="$(mktemp -d)"
    trap 'rm -rf "$rootfs_parent"' EXIT
    rootfs="$rootfs_parent/rootfs"
    mkdir -p "$rootfs"/{bin,etc,root,tmp,var/www}
    chmod 1777 "$rootfs/tmp"
    cp "$busybox_bin" "$rootfs/bin/busybox"
    while IFS= read -r applet; do
        [[ -n "$applet" && "$applet" != busybox ]] || continue
        ln -sf busybox "$rootfs/bin/$applet"
    done <<<"$applets"
    # Minimal account files so id/whoami/httpd resolve users instead of failing.
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$rootfs/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"

    log "building $BASE_IMAGE from $busybox_bin"
    tar -C "$rootfs" --numeric-owner --owner=0 --group=0 -c . \
        | docker import \
            --change 'ENV PATH=/bin' \
            --change 'LABEL slipway.test=1' \
            - "$BASE_IMAGE" >/dev/null
    docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 || die "docker import did not produce $BASE_IMAGE"
    log "base image $BASE_IMAGE built"
fi

log "ready"
