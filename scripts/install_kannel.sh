#!/usr/bin/env bash
# Make Kannel's bearerbox, smsbox and fakesmsc available for the end-to-end test
# (Debian's kannel and kannel-extras; needs root). Used by .ci/run; safe to run again.
# The test starts and stops its own processes; nothing is left running here.
set -euo pipefail
if [ -x /usr/sbin/bearerbox ] && [ -x /usr/sbin/smsbox ] && [ -x /usr/lib/kannel/test/fakesmsc ]; then
    exit 0
fi
echo "install_kannel: installing kannel and kannel-extras from Debian's packages" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends kannel kannel-extras >&2
# the package may start its own gateway; the test runs its own on free ports
if command -v service >/dev/null 2>&1; then
    service kannel stop >/dev/null 2>&1 || true
fi
