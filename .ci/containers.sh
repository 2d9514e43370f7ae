#!/usr/bin/env bash
# Containers on machines with no Docker daemon and no image registry (this project's CI machines):
# podman with runc, a containers.conf for this kernel, and stand-ins for the public base images
# the project's Dockerfile and compose.yaml name, built from Debian's packages. Idempotent: each
# step runs only when its result is missing. On a machine with Docker, or that can pull images,
# none of this is needed: the same Dockerfile and compose.yaml work unchanged there.
#
#   eval "$(.ci/containers.sh)"     # sets CONTAINERS_CONF for podman in this shell
#
# What it does, and why (see docs/ and ../shared/NOTES.md, "Containers on these machines"):
# - apt-get installs podman, runc, debootstrap and podman-compose when missing;
# - writes $STATE/containers.conf: runc (crun fails on this kernel's hybrid cgroups), lower
#   ulimits (the VM lacks CAP_SYS_RESOURCE), the host network for builds and plain runs;
# - builds localhost/debian:bookworm-minbase with debootstrap (the root file system is kept as a
#   tarball in $STATE, so a later run, or a machine with $STATE, skips the ~2.5 min debootstrap);
# - builds the stand-ins, tagged with the public names, when no image of that name exists:
#   docker.io/library/python:3.11-slim-bookworm and docker.io/library/postgres:15-bookworm
#   (.ci/stand-ins/*.Containerfile say what they mimic and how they differ).
# Progress goes to stderr; stdout is only the `export` lines.
set -euo pipefail
cd "$(dirname "$0")/.."

STATE=${AUTORETRAIN_CONTAINERS_DIR:-/var/cache/autoretrain/containers}
DEBIAN_IMAGE=localhost/debian:bookworm-minbase
PYTHON_IMAGE=docker.io/library/python:3.11-slim-bookworm
POSTGRES_IMAGE=docker.io/library/postgres:15-bookworm

log() { echo "containers.sh: $*" >&2; }
timed() {  # timed WHAT COMMAND...: runs it, logs how long it took
    local what=$1 start=$SECONDS
    shift
    "$@" >&2
    log "$what took $((SECONDS - start)) s"
}

# --- packages -------------------------------------------------------------------------------------
missing=()
for package in podman runc debootstrap podman-compose; do
    command -v "$package" >/dev/null || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        log "missing ${missing[*]}: run this as root (it installs them with apt-get)"
        exit 1
    fi
    log "installing ${missing[*]}"
    timed "apt-get install ${missing[*]}" bash -c \
        "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${missing[*]}"
fi

# --- containers.conf ------------------------------------------------------------------------------
mkdir -p "$STATE"
cat > "$STATE/containers.conf" <<'EOF'
# Written by autoretrain's .ci/containers.sh: podman on a kernel with hybrid cgroups (crun
# fails: runc), in a VM without CAP_SYS_RESOURCE (lower ulimits), without a bridge for builds
# and plain runs (the host network; compose still gives each project its own network), without
# systemd or syslog (events to a file).
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]
netns = "host"
[engine]
runtime = "runc"
events_logger = "file"
EOF
export CONTAINERS_CONF="$STATE/containers.conf"

# --- the Debian base ------------------------------------------------------------------------------
mirror=$(sed -n 's/^URIs: *\(\S*debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null |
    head -n 1)
mirror=${mirror:-http://deb.debian.org/debian}
if ! podman image exists "$DEBIAN_IMAGE"; then
    tarball="$STATE/bookworm-minbase.tar"
    if [ ! -s "$tarball" ]; then
        rootfs="$STATE/rootfs"
        rm -rf "$rootfs"
        timed "debootstrap --variant=minbase bookworm ($mirror)" \
            debootstrap --variant=minbase bookworm "$rootfs" "$mirror"
        # the release, its updates and its security fixes, as the official images have them
        rm -f "$rootfs/etc/apt/sources.list"
        cat > "$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror%/debian}/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
        # slim, as debian:bookworm-slim (the official python and postgres images' base) is: no
        # documentation, manual pages or translations, now or from later installs
        cat > "$rootfs/etc/dpkg/dpkg.cfg.d/slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/locale/*
EOF
        find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
        rm -rf "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/* \
            "$rootfs"/usr/share/lintian/* "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*
        tar -C "$rootfs" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
        rm -rf "$rootfs"
    else
        log "reusing $tarball (delete it to debootstrap again)"
    fi
    timed "podman import $DEBIAN_IMAGE" podman import "$tarball" "$DEBIAN_IMAGE"
fi

# --- the stand-ins --------------------------------------------------------------------------------
for pair in "$PYTHON_IMAGE:python" "$POSTGRES_IMAGE:postgres"; do
    image=${pair%:*}
    name=${pair##*:}
    if podman image exists "$image"; then
        log "$image exists"
        continue
    fi
    timed "the stand-in $image" podman build --pull=never \
        -f ".ci/stand-ins/$name.Containerfile" -t "$image" .ci/stand-ins
done

echo "export CONTAINERS_CONF=$CONTAINERS_CONF"
