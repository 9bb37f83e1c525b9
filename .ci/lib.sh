# What the .ci scripts share, sourced by each: step timings, Debian packages, and
# pinned virtualenvs of PyPI wheels.
# shellcheck shell=bash
# venv and pip_install are set here for the scripts that source this.
# shellcheck disable=SC2034

export DEBIAN_FRONTEND=noninteractive
PYTHON=${PYTHON:-python3}

# `timing LABEL`: how long the step since the last call (or the start) took.
step_started=$SECONDS
timing() {
  echo "   ($1: $((SECONDS - step_started)) s)"
  step_started=$SECONDS
}

# `apt_install WHO PACKAGE...`: Debian packages, with the package lists updated only
# when an install from the current ones fails. Needs root.
apt_install() {
  local who=$1
  shift
  if [ "$(id -u)" -ne 0 ]; then
    echo "$who: need root to install $* (or install it yourself)" >&2
    exit 1
  fi
  if ! apt-get install -y -q --no-install-recommends "$@" >/dev/null; then
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends "$@" >/dev/null
  fi
}

# `venv_for NAME PIN...` sets `venv` to NAME's virtualenv under ${TMPDIR:-/tmp}, named
# after the pins and the Python version, so that later runs and fresh clones reuse it.
# It is ready when "$venv/.complete" exists.
venv_for() {
  local name=$1 key
  shift
  key=$({ printf '%s\n' "$@"; "$PYTHON" -c 'import sys; print(sys.version)'; } |
    sha256sum | cut -c1-16)
  venv="${TMPDIR:-/tmp}/app-token-$name-$key"
}

# `venv_make` makes "$venv" afresh and sets `pip_install` to the command that installs
# into it (without compiling to bytecode: only what the tests import gets compiled, when
# they import it). The caller installs, then touches "$venv/.complete".
venv_make() {
  rm -rf "$venv"
  if "$PYTHON" -m venv "$venv" >/dev/null 2>&1; then
    pip_install=("$venv/bin/python" -m pip --quiet --disable-pip-version-check --no-input install --no-compile)
  else
    # Debian without python3-venv: a venv without pip, filled by the outer pip.
    rm -rf "$venv"
    "$PYTHON" -m venv --without-pip "$venv"
    pip_install=("$PYTHON" -m pip --quiet --disable-pip-version-check --no-input --python "$venv/bin/python"
      install --no-compile)
  fi
}
