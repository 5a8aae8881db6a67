# Sourced by scripts/run and scripts/test: use the active virtualenv, or make and use .venv.
#
# A system Python refuses `pip install` (PEP 668: "externally-managed-environment"), so
# outside a virtualenv the scripts make one with `python3 -m venv` in the checkout's .venv and
# install there. Inside an active virtualenv (VIRTUAL_ENV, or a python3 that is itself a venv's)
# they install into that one, as `pip install` would.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

in_venv() {
  [ -n "${VIRTUAL_ENV:-}" ] || python3 -c 'import sys; sys.exit(sys.prefix == sys.base_prefix)'
}

if ! command -v python3 >/dev/null; then
  echo "python3 not found: install Python 3.11 or later (Debian, Ubuntu: apt-get install python3 python3-venv)" >&2
  exit 1
fi
if ! in_venv; then
  if [ ! -x .venv/bin/python3 ]; then
    python3 -m venv .venv || {
      rm -rf .venv
      echo "python3 -m venv failed: install the venv module (Debian, Ubuntu: apt-get install python3-venv)" >&2
      exit 1
    }
  fi
  # what `. .venv/bin/activate` does, for this script and what it runs
  export VIRTUAL_ENV="$PWD/.venv"
  export PATH="$VIRTUAL_ENV/bin:$PATH"
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1
