#!/usr/bin/env bash
# Installs the Debian (bookworm) packages the Flask baseline of `npm run bench` needs: Flask (its
# threaded development server, as e-commerce tutorials run it) and psycopg2, on top of the training
# pipeline's packages (numpy, pandas, scikit-learn). No PyPI: everything comes from apt.
set -euo pipefail
exec "$(cd "$(dirname "$0")" && pwd)/../../python-export/install-deps.sh" python3-flask python3-psycopg2
