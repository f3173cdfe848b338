#!/usr/bin/env bash
# Fuzzes the uplink decoders (TelemetryDecoder, CborTelemetryDecoder and BirthDecoder) with afl-fuzz through
# SharpFuzz, then summarises the run. Every input goes to every decoder; tests/Telemetry.Fuzz/DecoderContract.cs says what
# counts as a crash. docs/fuzzing.md explains how to read and reproduce a finding.
#
#   scripts/fuzz.sh [SECONDS]      how long afl-fuzz runs; default 600 (10 minutes)
#
# Everything goes to artifacts/fuzz/ (ignored by git): bin/ the instrumented build, seeds/, and findings/
# (afl-fuzz's queue, crashes and hangs; an earlier findings/ is kept as findings.<its time>).
# Exits 1 when the run saved a crash or a hang.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-600}
work=artifacts/fuzz
note() { printf '==> %s\n' "$*"; }

if ! command -v afl-fuzz >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    note "installing afl++"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq afl++ >/dev/null
  else
    echo "afl-fuzz is missing: apt-get install afl++" >&2
    exit 1
  fi
fi

note "restoring the sharpfuzz tool (.config/dotnet-tools.json)"
dotnet tool restore >/dev/null

note "building the harness"
rm -rf "$work/bin"
dotnet publish tests/Telemetry.Fuzz/Telemetry.Fuzz.csproj -c Release -o "$work/bin" -v q -nologo

# Only the decoders' namespace is instrumented: coverage of the rest of the service would steer afl-fuzz
# towards paths that have nothing to do with parsing a payload.
note "instrumenting Telemetry.Ingest.dll (namespace Telemetry.Ingest.Uplink)"
dotnet sharpfuzz "$work/bin/Telemetry.Ingest.dll" Telemetry.Ingest.Uplink

# Seeds: the uplink vectors, valid and invalid, and every input that once failed. The two bulk vectors
# (too many readings, payload too large) stay out: afl-fuzz mutates small inputs far faster, and the unit
# tests run the harness over them anyway.
note "seeding"
rm -rf "$work/seeds"
mkdir -p "$work/seeds"
while IFS= read -r -d '' file; do
  name=${file#tests/}
  cp "$file" "$work/seeds/${name//\//-}"
done < <(find tests/vectors tests/fuzz/regressions -type f ! -name manifest.json ! -name '.*' -size -16k -print0)

findings=$work/findings
if [ -d "$findings" ]; then
  mv "$findings" "$findings.$(date -r "$findings" +%Y%m%dT%H%M%S)"
fi

# dotnet is not instrumented (the instrumented code is in Telemetry.Ingest.dll), so afl-fuzz must not
# check the binary. A crash here is an exception reported through the fork server, not a signal, so where
# the kernel sends core dumps does not matter. No CPU pinning: the machine is shared with builds. The first
# input of each child process pays for the JIT, hence the generous timeout; a hang is an input past it.
export AFL_SKIP_BIN_CHECK=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1
fuzz() {
  afl-fuzz -i "$work/seeds" -o "$findings" -x tests/Telemetry.Fuzz/uplink.dict -t 5000 -m none -V "$seconds" \
    -- "$(command -v dotnet)" "$work/bin/Telemetry.Fuzz.dll"
}
note "fuzzing for $seconds s"
if [ -t 1 ]; then
  fuzz
else
  # Without a terminal there is no status screen, only a log line per queue entry: keep the rest.
  AFL_NO_UI=1 fuzz | grep -v 'Fuzzing test case' || true
fi

stats=$findings/default/fuzzer_stats
if [ ! -f "$stats" ]; then
  echo "afl-fuzz stopped before writing $stats" >&2
  exit 1
fi
field() { sed -n "s/^$1 *: *//p" "$stats"; }
execs=$(field execs_done)
run=$(field run_time)
crashes=$(field saved_crashes)
hangs=$(field saved_hangs)
echo
echo "run time     ${run} s"
echo "execs        ${execs} ($((execs / (run > 0 ? run : 1))) per second)"
echo "corpus       $(field corpus_count) inputs ($(field corpus_found) found by the fuzzer)"
echo "edges        $(field edges_found) of $(field total_edges) map entries ($(field bitmap_cvg))"
echo "crashes      ${crashes} (in $findings/default/crashes)"
echo "hangs        ${hangs} (in $findings/default/hangs)"
if [ "$crashes" -gt 0 ] || [ "$hangs" -gt 0 ]; then
  echo "reproduce:   dotnet run -c Release --project tests/Telemetry.Fuzz -- $findings/default/crashes $findings/default/hangs"
  exit 1
fi
