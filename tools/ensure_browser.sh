#!/usr/bin/env bash
# Installs Debian's Chromium and ChromeDriver when missing: the report and portal
# tests drive a real headless browser. Needs root (as on CI) the first time.
set -euo pipefail
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "chromium and chromedriver are missing; install them as root:" >&2
  echo "  apt-get install -y chromium chromium-driver" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium chromium-driver >/dev/null
