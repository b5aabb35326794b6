#!/usr/bin/env bash
# The whole product, end to end, on a fresh Debian 12 (as root, for apt-get):
# installs what is missing, builds (preset dev), then in throwaway config
# dirs: opts in, tracks every catalogue event, dumps the spool, uploads to a
# local Segment-compatible collector on 127.0.0.1 and checks that it got every
# event, then carries events through an air-gap bundle. Never touches
# ~/.config/zenml and never contacts anything but 127.0.0.1. Exits 0 when
# every check passed.
set -euo pipefail
cd "$(dirname "$0")/.."

section() { printf '\n======== %s ========\n' "$*"; }
step() { printf '\n$ %s\n' "$*"; }
fail() { printf '\ndemo: FAILED: %s\n' "$*" >&2; exit 1; }

section "1. Install what is missing (scripts/bootstrap.sh)"
scripts/bootstrap.sh
echo "all build dependencies are present"

section "2. Configure and build (preset dev, 2 jobs)"
# zenml-test-collector (a Segment-compatible collector on 127.0.0.1) is
# built and installed with the tools (ZENML_BUILD_COLLECTOR, on by default).
cmake --preset dev >/dev/null
cmake --build --preset dev --target zenml-analytics zenml-upload \
  zenml-spool-dump zenml-test-collector
bin="$PWD/build/dev/bin"

# Everything below happens in a throwaway directory, removed on exit.
work="$(mktemp -d -t zenml-demo.XXXXXX)"
collector_pid=""
cleanup() {
  if [ -n "$collector_pid" ]; then kill "$collector_pid" 2>/dev/null || true; wait "$collector_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
# No variable from the caller's shell may steer the demo elsewhere.
unset DO_NOT_TRACK ZENML_ANALYTICS_OPT_IN ZENML_SEGMENT_WRITE_KEY \
  ZENML_ANALYTICS_ENDPOINT ZENML_ANALYTICS_UPLOADER XDG_CONFIG_HOME
# The demo starts its uploads itself; no opportunistic background upload.
export ZENML_ANALYTICS_AUTO_UPLOAD=0
export ZENML_CONFIG_PATH="$work/laptop"
echo "config dir: $ZENML_CONFIG_PATH (throwaway)"

events=("Datasources listed" "Datasource created" "Step created"
  "Step Versions listed" "Step listed" "Pipeline created" "Pipeline registered"
  "Pipeline run" "Pipelines fetched" "Pipeline Artifacts fetched"
  "Repository created" "ZenML initialized")

track_all() {  # tracks every catalogue event; appends the messageIds to $1
  local i=0
  for e in "${events[@]}"; do
    i=$((i + 1))
    "$bin/zenml-analytics" track "$e" --property demo=true --property "n=$i" >>"$1"
  done
}

section "3. Opt in"
step "zenml-analytics opt-in"
"$bin/zenml-analytics" opt-in
step "zenml-analytics status"
"$bin/zenml-analytics" status

section "4. Track every catalogue event (${#events[@]} events)"
track_all "$work/tracked.txt"
echo "tracked ${#events[@]} events; messageIds:"
cat "$work/tracked.txt"

section "5. What is spooled (zenml-spool-dump)"
step "zenml-spool-dump"
"$bin/zenml-spool-dump"
step "zenml-spool-dump --stats"
"$bin/zenml-spool-dump" --stats
step "zenml-spool-dump --json --limit 1   (byte for byte what will be sent)"
"$bin/zenml-spool-dump" --json --limit 1

section "6. Start the local Segment-compatible collector on 127.0.0.1"
mkfifo "$work/port"
"$bin/zenml-test-collector" --record "$work/received.jsonl" >"$work/port" 2>"$work/collector.log" &
collector_pid=$!
read -r port <"$work/port"
endpoint="http://127.0.0.1:$port/v1/batch"
echo "collector listening at $endpoint (pid $collector_pid)"

section "7. Upload to it"
step "zenml-upload --endpoint $endpoint --write-key demo-write-key"
"$bin/zenml-upload" --endpoint "$endpoint" --write-key demo-write-key

section "8. Check: the collector got every event once, the spool is empty"
check_received() {  # $1: file of expected messageIds
  python3 - "$1" "$work/received.jsonl" <<'PY'
import json, sys
expected = [l.strip() for l in open(sys.argv[1]) if l.strip()]
received = []
for line in open(sys.argv[2]):
    received += [m["messageId"] for m in json.loads(line)["batch"]]
missing = [i for i in expected if i not in received]
twice = sorted({i for i in expected if received.count(i) > 1})
print(f"expected {len(expected)}, collector received {len(received)} messages "
      f"in total; missing {len(missing)}, received twice {len(twice)}")
sys.exit(1 if missing or twice else 0)
PY
}
check_received "$work/tracked.txt" || fail "the collector did not get every event exactly once"
step "zenml-spool-dump --stats"
"$bin/zenml-spool-dump" --stats
[ -z "$("$bin/zenml-spool-dump" --json)" ] || fail "the spool is not empty"
echo "the spool is empty"

section "9. Air gap: to-file on one machine, from-file on another"
export ZENML_CONFIG_PATH="$work/airgapped"
echo "air-gapped machine: config dir $ZENML_CONFIG_PATH"
"$bin/zenml-analytics" opt-in >/dev/null
track_all "$work/airgapped.txt"
echo "tracked ${#events[@]} events offline"
step "zenml-upload --to-file $work/events.bundle"
"$bin/zenml-upload" --to-file "$work/events.bundle"
echo "bundle header and trailer:"
head -n1 "$work/events.bundle"
tail -n1 "$work/events.bundle"
sum="$(sed '1d;$d' "$work/events.bundle" | sha256sum | cut -d' ' -f1)"
grep -q "\"sha256\":\"$sum\"" "$work/events.bundle" || fail "the bundle checksum does not match"
echo "sha256 of the body lines matches the trailer: $sum"
[ -z "$("$bin/zenml-spool-dump" --json)" ] || fail "to-file did not drain the spool"
echo "the air-gapped spool is drained"

export ZENML_CONFIG_PATH="$work/connected"
echo "connected machine: config dir $ZENML_CONFIG_PATH"
step "zenml-upload --from-file $work/events.bundle --endpoint $endpoint --write-key demo-write-key"
"$bin/zenml-upload" --from-file "$work/events.bundle" --endpoint "$endpoint" \
  --write-key demo-write-key
check_received "$work/airgapped.txt" || fail "the bundle's events did not all arrive exactly once"
step "zenml-upload --from-file ... again   (nothing is sent twice)"
"$bin/zenml-upload" --from-file "$work/events.bundle" --endpoint "$endpoint" \
  --write-key demo-write-key
check_received "$work/airgapped.txt" || fail "a second send duplicated events"

step "a damaged bundle is refused (exit 65) and nothing is sent"
sed 's/Pipeline run/Pipeline RUN/' "$work/events.bundle" >"$work/damaged.bundle"
set +e
"$bin/zenml-upload" --from-file "$work/damaged.bundle" --endpoint "$endpoint" \
  --write-key demo-write-key
code=$?
set -e
[ "$code" -eq 65 ] || fail "a damaged bundle gave exit $code, not 65"
echo "exit $code"

section "10. Done"
echo "every check passed; the throwaway config dirs are removed on exit"
