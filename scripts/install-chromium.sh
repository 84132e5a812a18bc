#!/usr/bin/env bash
# Installs Debian's Chromium for the browser end-to-end tests (tests/IdentityServer.EndToEnd.Tests),
# which drive /usr/bin/chromium through Playwright. Does nothing when it is already there.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y chromium
/usr/bin/chromium --version
