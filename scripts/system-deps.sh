#!/usr/bin/env bash
# Install the Debian/Ubuntu packages that pip cannot bring, only when they are missing.
#   runtime: python3-venv, unixODBC + the SQLite and PostgreSQL ODBC drivers (the Inventiv DB)
#   test:    runtime + OpenSSH's sshd (SFTP tests), a PostgreSQL server (ODBC and
#            production-instance tests) and Chromium (the UI screenshot test)
set -euo pipefail
what="${1:-runtime}"
missing=()
need() { # need PACKAGE CHECK-COMMAND...
  local pkg="$1"; shift
  "$@" >/dev/null 2>&1 || missing+=("$pkg")
}
# Debian's own python3 ships venv/ensurepip separately.
need python3-venv "${PYTHON:-python3}" -c "import ensurepip, venv"
need unixodbc command -v odbcinst
need libsqliteodbc odbcinst -q -d -n SQLite3
need odbc-postgresql odbcinst -q -d -n "PostgreSQL Unicode"
if [ "$what" = test ]; then
  need openssh-server test -x /usr/sbin/sshd
  need postgresql compgen -G "/usr/lib/postgresql/*/bin/initdb"
  need chromium command -v chromium
fi
[ ${#missing[@]} -eq 0 ] && exit 0
echo "qbpa: installing system packages: ${missing[*]}"
if [ "$(id -u)" = 0 ]; then sudo=(); elif command -v sudo >/dev/null; then sudo=(sudo); else
  echo "qbpa: cannot install ${missing[*]}: not root and no sudo. Install them with apt-get, then re-run." >&2
  exit 1
fi
if ! command -v apt-get >/dev/null; then
  echo "qbpa: cannot install ${missing[*]}: apt-get not found (this Makefile targets Debian/Ubuntu)." >&2
  exit 1
fi
"${sudo[@]}" apt-get update -qq
if ! DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null; then
  echo "qbpa: apt-get install of ${missing[*]} failed (see above)." >&2
  exit 1
fi
