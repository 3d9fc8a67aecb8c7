#!/usr/bin/env bash
# Installs Debian's headless Chromium for the browser tests when it is missing (needs root).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-browser: /usr/bin/chromium is missing; run 'sudo apt-get install -y chromium' (browser tests will fail without it)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium chromium-driver >/dev/null
echo "install-browser: installed $(/usr/bin/chromium --version)"
