#!/usr/bin/env bash
# A container engine for the Docker task runner tests, with their images built here (no image
# registry is needed): starts dockerd when no engine answers, then builds
#   localhost/runner-busybox:test  from Debian's busybox-static (2 MB, a second)
#   localhost/runner-python:test   from debootstrap --variant=minbase with python3
#                                  (about a minute the first time; the rootfs tar is cached)
# Usage: scripts/engine.sh            prints the engine's address (DOCKER_HOST) on success
#        scripts/engine.sh --stop     stops dockerd if (and only if) this script started it
# Environment: RUNNER_IMAGE_CACHE (default /var/cache/runner-images) keeps the Python rootfs.
set -euo pipefail

log() { printf '%s\n' "$*" >&2; }
die() { log "error: $*"; exit 2; }

# Set when this script started dockerd, so that --stop never stops an engine it found running.
started_here=/run/runner-engine-started.pid

if [ "${1:-}" = --stop ]; then
    if [ -s "$started_here" ]; then
        pid=$(cat "$started_here")
        kill "$pid" 2>/dev/null && log "stopped the dockerd this script started (pid $pid)"
        rm -f "$started_here"
    fi
    exit 0
fi

host=${DOCKER_HOST:-unix:///var/run/docker.sock}
sock=${host#unix://}
cache=${RUNNER_IMAGE_CACHE:-/var/cache/runner-images}

answers() { [ -S "$sock" ] && curl -sf --max-time 3 --unix-socket "$sock" http://d/_ping >/dev/null 2>&1; }

apt_install() {
    [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 ||
        die "need $*; install them (Debian: apt-get install $*) and run this again"
    log "installing $* (Debian packages)"
    if [ -z "${updated:-}" ]; then
        apt-get update -q >/dev/null
        updated=1
    fi
    DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -q --no-install-recommends "$@" >/dev/null
}

need=()
command -v curl >/dev/null 2>&1 || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then apt_install "${need[@]}"; fi

if ! answers; then
    [ "$host" = "unix:///var/run/docker.sock" ] ||
        die "no container engine answers at DOCKER_HOST=$host; start it, or unset DOCKER_HOST to let this script start dockerd"
    [ -x /usr/sbin/dockerd ] || apt_install docker.io
    log "starting dockerd (log: /var/log/runner-dockerd.log)"
    # No init system runs services here, so dockerd is started by hand, detached.
    setsid /usr/sbin/dockerd --host "unix://$sock" >/var/log/runner-dockerd.log 2>&1 < /dev/null &
    echo $! > "$started_here"
    for _ in $(seq 1 100); do
        answers && break
        sleep 0.1
    done
    answers || die "dockerd did not answer within 10 s; see /var/log/runner-dockerd.log"
fi
export DOCKER_HOST=$host
docker=/usr/bin/docker
[ -x "$docker" ] || docker=$(command -v docker) || die "the docker command line is missing (apt-get install docker.io)"

has_image() { "$docker" image inspect "$1" >/dev/null 2>&1; }

if ! has_image localhost/runner-busybox:test; then
    if [ ! -x /bin/busybox ] || ldd /bin/busybox >/dev/null 2>&1; then apt_install busybox-static; fi
    root=$(mktemp -d)
    trap 'rm -rf "$root"' EXIT
    mkdir -p "$root/rootfs/bin" "$root/rootfs/tmp" "$root/rootfs/etc"
    chmod 1777 "$root/rootfs/tmp"
    cp /bin/busybox "$root/rootfs/bin/busybox"
    chroot "$root/rootfs" /bin/busybox --install -s /bin
    echo 'root:x:0:0:root:/root:/bin/sh' >"$root/rootfs/etc/passwd"
    echo 'nobody:x:65534:65534:nobody:/:/bin/sh' >>"$root/rootfs/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/rootfs/etc/group"
    tar -C "$root/rootfs" -cf "$root/rootfs.tar" .
    "$docker" import "$root/rootfs.tar" localhost/runner-busybox:test >/dev/null
    rm -rf "$root"
    trap - EXIT
    log "built localhost/runner-busybox:test"
fi

if ! has_image localhost/runner-python:test; then
    tarball="$cache/debian-python3.tar"
    if [ ! -s "$tarball" ]; then
        command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap
        mkdir -p "$cache"
        root=$(mktemp -d)
        trap 'rm -rf "$root"' EXIT
        log "building a Debian rootfs with python3 (debootstrap, about a minute)"
        # The machine's own Debian mirror, which may be the only one reachable.
        mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
            sed -n 's/^deb \(http[^ ]*\) .*/\1/p' | head -1 || true)
        [ -n "$mirror" ] || mirror=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
            sed -n 's/^URIs: *\(http[^ ]*\).*/\1/p' | head -1 || true)
        mirror=${mirror:-http://deb.debian.org/debian}
        suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
        timeout 900 debootstrap --variant=minbase --include=python3 "$suite" "$root/deb" "$mirror" >"$root/debootstrap.log" 2>&1 ||
            { tail -20 "$root/debootstrap.log" >&2; die "debootstrap failed"; }
        chroot "$root/deb" apt-get clean
        # Kestra's Python images answer to `python`, which python.Script runs.
        ln -sf python3 "$root/deb/usr/bin/python"
        rm -rf "$root/deb/var/lib/apt/lists/"*
        tar -C "$root/deb" -cf "$tarball.part" .
        mv "$tarball.part" "$tarball"
        rm -rf "$root"
        trap - EXIT
    fi
    "$docker" import "$tarball" localhost/runner-python:test >/dev/null
    log "built localhost/runner-python:test"
fi

echo "$host"
