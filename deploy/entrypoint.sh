#!/bin/sh
# The image's entrypoint: wait for what AUTORETRAIN_WAIT_FOR names (space-separated http(s)://
# or tcp:// URLs, at most AUTORETRAIN_WAIT_SECONDS, 300 by default), then run the command. Compose's
# depends_on conditions order the first start under Docker; this wait also covers engines that
# ignore them (podman-compose with podman < 4.6) and a dependency that restarts later.
set -e
if [ -n "${AUTORETRAIN_WAIT_FOR:-}" ]; then
    # shellcheck disable=SC2086  # a list of URLs
    python /usr/local/lib/autoretrain/probe.py --wait "${AUTORETRAIN_WAIT_SECONDS:-300}" \
        $AUTORETRAIN_WAIT_FOR
fi
exec "$@"
