#!/usr/bin/env bash
# Creates the Python environments used by the SQS compatibility suite (tests/compat).
#
#   json/   current boto3 + awscli: botocore speaks SQS JSON 1.0
#   query/  boto3 1.28.64 / botocore 1.31.64: the last line that speaks the SQS query protocol
#
# Idempotent: an environment whose marker file matches its requirement list is left alone.
# Usage: scripts/pyenv.sh            (environments land in ${LULL_PYENV_DIR:-$REPO/.venvs})
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${LULL_PYENV_DIR:-$REPO/.venvs}"
PY="${PYTHON:-python3}"

JSON_REQS=(boto3 awscli pytest requests cryptography "psycopg[binary]")
# awscli 1.29.64 is the release that pins botocore 1.31.64.
QUERY_REQS=(boto3==1.28.64 botocore==1.31.64 awscli==1.29.64 pytest requests cryptography)

make_env() {
    local name="$1"
    shift
    local env="$DIR/$name"
    local marker="$env/.lull-reqs"
    local want="$*"
    if [[ -x "$env/bin/python" && -f "$marker" && "$(cat "$marker")" == "$want" ]]; then
        return 0
    fi
    echo "pyenv: setting up $env ($want)" >&2
    mkdir -p "$DIR"
    if [[ ! -x "$env/bin/python" ]]; then
        "$PY" -m venv "$env"
    fi
    "$env/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >/dev/null
    "$env/bin/python" -m pip install --quiet --disable-pip-version-check "$@"
    echo "$want" >"$marker"
}

make_env json "${JSON_REQS[@]}"
make_env query "${QUERY_REQS[@]}"
