#!/usr/bin/env bash
# Installs nginx (Debian package) for the scale-out tests, which run it as a child process in front of two
# server instances. Idempotent: does nothing when /usr/sbin/nginx is already there. The package's own service
# is not needed; the tests start nginx themselves with a generated configuration.
set -euo pipefail

if [[ -x /usr/sbin/nginx ]]; then
  exit 0
fi

sudo=""
if [[ "$(id -u)" -ne 0 ]]; then
  sudo="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
# policy-rc.d 101 keeps the package's post-install from starting a system nginx on port 80.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e "$policy" ]]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
  $sudo chmod +x "$policy"
  created_policy=1
fi
trap '[[ $created_policy -eq 1 ]] && $sudo rm -f "$policy"' EXIT

$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends nginx >/dev/null
test -x /usr/sbin/nginx
