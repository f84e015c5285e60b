# Sourced by the scripts: makes .venv with the local AWS emulator (moto) once, then reuses it.
# shellcheck shell=bash
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY_REQUIREMENTS="$ROOT/scripts/requirements.txt"
stamp="$VENV/.requirements.sha256"
want="$(sha256sum "$PY_REQUIREMENTS" | cut -d' ' -f1)"
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "==> installing the Python tools into .venv (moto, boto3)" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$PY_REQUIREMENTS"
  echo "$want" > "$stamp"
fi
export MOTO_PYTHON="$VENV/bin/python"
