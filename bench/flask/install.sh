#!/usr/bin/env bash
# Installs the Debian (bookworm) packages the Flask baseline of `npm run bench` needs:
# Flask (its threaded development server, as e-commerce tutorials run it) and psycopg2, on top of
# the training pipeline's packages (python-export/install-deps.sh: numpy, pandas, scikit-learn).
# No PyPI: everything comes from apt and runs on /usr/bin/python3.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
"$HERE/../../python-export/install-deps.sh"
PKGS=(python3-flask python3-psycopg2)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "bench/flask: all Debian packages present"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
