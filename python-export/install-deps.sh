#!/usr/bin/env bash
# Installs the Debian (bookworm) packages the training pipeline needs, plus any given as arguments.
# No PyPI: everything comes from apt and runs on /usr/bin/python3.
set -euo pipefail
PKGS=(
  python3-numpy
  python3-pandas
  python3-sklearn
  python3-xgboost
  python3-torch
  python3-onnx
  python3-scipy
  python3-matplotlib
  python3-pytest
  "$@" # extra packages a caller needs (bench/flask/install.sh)
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "python-export: all Debian packages present"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
