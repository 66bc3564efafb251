#!/usr/bin/env bash
# Installs what the service needs on a fresh Debian machine: system packages and a virtualenv.
#   scripts/install.sh          runtime (service)
#   scripts/install.sh --test   runtime + test tools (browser, SoftHSM2, PDF tools)
set -euo pipefail
cd "$(dirname "$0")/.."

DEB_RUNTIME=(softhsm2 opensc poppler-utils fonts-dejavu-core)
DEB_TEST=(chromium chromium-driver libengine-gost-openssl)   # OpenSSL's GOST engine: the GOST test PKI
want=("${DEB_RUNTIME[@]}")
reqs=requirements.txt
if [[ "${1:-}" == "--test" ]]; then want+=("${DEB_TEST[@]}"); reqs=requirements-test.txt; fi

missing=()
for p in "${want[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  echo "Устанавливаю пакеты Debian: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
[[ -x .venv/bin/python ]] || "$PY" -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -r "$reqs"
