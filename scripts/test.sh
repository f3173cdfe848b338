#!/usr/bin/env bash
# Builds the solution and runs every test. Installs what the tests need when it is missing (as root, with
# apt-get); under CI=true a tool that cannot be installed fails the run instead of being skipped.
# Ends with one plain line: "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."

passed=0
failed=0
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT

note() { printf '==> %s\n' "$*"; }

# ensure_tool COMMAND DEBIAN_PACKAGE: make COMMAND available or say why not.
ensure_tool() {
  command -v "$1" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    note "installing $2 for $1"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2"; } >"$results/apt-$2.log" 2>&1 \
      || tail -20 "$results/apt-$2.log"
  fi
  command -v "$1" >/dev/null 2>&1
}

# check NAME COMMAND...: one pass or fail that is not a dotnet test.
check() {
  local name=$1; shift
  if "$@"; then passed=$((passed + 1)); note "check passed: $name"
  else failed=$((failed + 1)); note "check FAILED: $name"; fi
}

# The integration tests run real servers as child processes. Missing ones are installed when we are root;
# under CI=true a server that is still missing fails the run rather than skipping its tests.
for tool in mosquitto:mosquitto influxd:influxdb redis-server:redis-server openssl:openssl prometheus:prometheus; do
  if ! ensure_tool "${tool%%:*}" "${tool##*:}"; then
    note "${tool%%:*} is not installed (apt-get install ${tool##*:}); its integration tests will fail"
    [ "${CI:-}" = "true" ] && check "${tool%%:*} available" false
  fi
done
# Debian starts these as system services on install; the tests start their own on free ports.
for service in mosquitto influxdb redis-server prometheus prometheus-node-exporter; do
  command -v systemctl >/dev/null 2>&1 && systemctl stop "$service" >/dev/null 2>&1 || true
done

# An independent Parquet reader (hyparquet) checks the Parquet exports; it is installed from package-lock.json.
if ensure_tool node nodejs && ensure_tool npm npm; then
  if [ ! -d tests/tools/parquet-reader/node_modules ]; then
    note "installing the test Parquet reader"
    (cd tests/tools/parquet-reader && npm ci --no-audit --no-fund --silent) || note "npm ci failed: the Parquet export test will fail"
  fi
elif [ "${CI:-}" = "true" ]; then
  check "node and npm available" false
fi

# The console tests drive Debian's chromium through Playwright; Playwright's own browser download is never used.
# Without the browser they fail (ConsoleBrowser names the package), and under CI=true this check fails too.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
if ! ensure_tool chromium chromium; then
  note "chromium is not installed (apt-get install chromium); the console tests will fail"
  [ "${CI:-}" = "true" ] && check "chromium available" false
fi

note "building"
if ! dotnet build Telemetry.sln -c Release -v q -nologo; then
  echo "build failed"
  echo "0 passed, 1 failed"
  exit 1
fi

for project in tests/*Tests/*.csproj; do
  name=$(basename "$project" .csproj)
  note "testing $name"
  dotnet test "$project" -c Release --no-build -nologo \
    --logger "trx;LogFileName=$name.trx" --results-directory "$results" || true
  trx="$results/$name.trx"
  if [ -f "$trx" ]; then
    counters=$(grep -o '<Counters [^>]*>' "$trx" | head -1)
    p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters")
    f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
    passed=$((passed + ${p:-0}))
    failed=$((failed + ${f:-0}))
  else
    note "$name produced no results"
    failed=$((failed + 1))
  fi
done

# docker-compose.yml is validated, never run: there is no Docker engine here. It has no default for any
# secret: without one, compose must refuse and name it; with deploy/compose.env.example it must pass.
# Secrets from the caller's environment or a local .env must not help, hence env -u and --env-file.
compose_secrets=$(sed -n 's/^\([A-Z_][A-Z0-9_]*\)=.*/\1/p' deploy/compose.env.example)
compose_without_env() { env $(printf -- '-u %s ' $compose_secrets) docker-compose -f docker-compose.yml "$@"; }
compose_refuses_each_missing_secret() {
  local secret out ok=0
  [ -n "$compose_secrets" ] || { echo "deploy/compose.env.example names no variables"; return 1; }
  for secret in $compose_secrets; do
    grep -v "^$secret=" deploy/compose.env.example >"$results/compose.env"
    if out=$(compose_without_env --env-file "$results/compose.env" config -q 2>&1); then
      echo "docker-compose config passed without $secret"; ok=1
    elif ! sed 's/.*}//' <<<"$out" | grep -q "$secret"; then  # after the uninterpolated values compose prints
      echo "docker-compose config failed without $secret but did not name it: $out"; ok=1
    fi
  done
  return $ok
}
if ensure_tool docker-compose docker-compose; then
  check "docker-compose config refuses each missing secret" compose_refuses_each_missing_secret
  check "docker-compose config with deploy/compose.env.example" \
    compose_without_env --env-file deploy/compose.env.example config -q
elif [ "${CI:-}" = "true" ]; then
  check "docker-compose available" false
else
  note "docker-compose not installed: skipping the compose check (CI installs it)"
fi

# The Prometheus configuration docker-compose mounts (its key file exists only in the container, hence syntax only;
# the dashboard's queries run against a real Prometheus in DashboardQueryTests).
if command -v promtool >/dev/null 2>&1; then
  check "promtool check config deploy/prometheus/prometheus.yml" promtool check config --syntax-only deploy/prometheus/prometheus.yml
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
