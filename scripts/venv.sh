# Sourced by the scripts: finds the Python tools (the local AWS emulator moto, cfn-lint, checkov,
# parliament) and sets MOTO_PYTHON, PYTHON, CFN_LINT and CHECKOV to them. Inside `nix develop`
# they are the shell's, when it has them all; elsewhere (or with S3EXPORTS_VENV=1, for a
# script that installs more into it) .venv is made once from scripts/requirements.txt and
# reused.
# shellcheck shell=bash
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY_REQUIREMENTS="$ROOT/scripts/requirements.txt"

# What the shell lacks of the tools, empty when it has them all.
nix_shell_lacks() {
  local missing=()
  if [ -z "${MOTO_PYTHON:-}" ] || ! "$MOTO_PYTHON" -c 'import moto, boto3, parliament' 2>/dev/null; then
    missing+=("a MOTO_PYTHON with moto, boto3 and parliament")
  fi
  command -v cfn-lint >/dev/null 2>&1 || missing+=("cfn-lint")
  command -v checkov >/dev/null 2>&1 || missing+=("checkov")
  local IFS=';'
  echo "${missing[*]:-}" | sed 's/;/, /g'
}

if [ -n "${IN_NIX_SHELL:-}" ] && [ "${S3EXPORTS_VENV:-}" != 1 ] && [ -z "$(nix_shell_lacks)" ]; then
  PYTHON="$MOTO_PYTHON"
  CFN_LINT="$(command -v cfn-lint)"
  CHECKOV="$(command -v checkov)"
else
  if [ -n "${IN_NIX_SHELL:-}" ] && [ "${S3EXPORTS_VENV:-}" != 1 ]; then
    echo "==> this Nix shell lacks $(nix_shell_lacks): using .venv instead" >&2
  fi
  stamp="$VENV/.requirements.sha256"
  want="$(sha256sum "$PY_REQUIREMENTS" | cut -d' ' -f1)"
  if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "==> installing the Python tools into .venv (moto, boto3, cfn-lint, checkov, parliament)" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$PY_REQUIREMENTS"
    echo "$want" > "$stamp"
  fi
  MOTO_PYTHON="$VENV/bin/python"
  PYTHON="$VENV/bin/python"
  CFN_LINT="$VENV/bin/cfn-lint"
  CHECKOV="$VENV/bin/checkov"
fi
export MOTO_PYTHON PYTHON CFN_LINT CHECKOV
