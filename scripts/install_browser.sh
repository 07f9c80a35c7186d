#!/usr/bin/env bash
# Install Debian's chromium and its matching chromedriver for the dashboard browser test.
# Idempotent: does nothing when both binaries are already present.
set -euo pipefail

if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  echo "chromium and chromedriver already installed: $(chromium --version 2>/dev/null || true)"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
# Wait for other apt users (CI images often run unattended upgrades) instead of failing.
APT_OPTS=(-o DPkg::Lock::Timeout=600)
$SUDO apt-get "${APT_OPTS[@]}" update -qq
$SUDO apt-get "${APT_OPTS[@]}" install -y -qq --no-install-recommends chromium chromium-driver fonts-dejavu-core
chromium --version
chromedriver --version
