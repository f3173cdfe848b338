#!/usr/bin/env bash
# Publishes an uplink test vector as a device would, with its reading timestamps shifted so the newest
# vector time becomes now (the service rejects readings older than 30 days or over 5 minutes ahead).
#   scripts/replay-vector.sh DEVICE_ID tests/vectors/valid/telemetry-shoe-run.json [mosquitto_pub options]
# The topic follows the file name: birth-*.json go to devices/ID/birth (retained), others to .../telemetry.
# It logs in as the device: username DEVICE_ID, password its token, HMAC-SHA256 of the id under the device
# secret ($DEVICE_SECRET, or the one the service generated in ingest/data/broker/device-secret).
set -euo pipefail
[ $# -ge 2 ] || { sed -n "2,8p" "$0"; exit 2; }
device=$1; file=$2; shift 2
here=$(cd "$(dirname "$0")/.." && pwd)
epoch=$(sed -n 's/.*"epoch_ms": *\([0-9]*\).*/\1/p' "$here/tests/vectors/manifest.json")
shift_ms=$(( $(date +%s%3N) - epoch ))
case "$(basename "$file")" in
  birth-*) topic="devices/$device/birth"; retain=(-r) ;;
  *) topic="devices/$device/telemetry"; retain=() ;;
esac
secret=${DEVICE_SECRET:-$(cat "${DATA_DIR:-$here/ingest/data}/broker/device-secret" 2>/dev/null || true)}
[ -n "$secret" ] || { echo "no device secret: set DEVICE_SECRET or start the service once" >&2; exit 2; }
token=$(printf '%s' "$device" | openssl dgst -sha256 -hmac "$secret" | sed 's/.*= *//')
perl -pe 's/"ts":(\d+)/"\"ts\":".($1+'"$shift_ms"')/ge' "$file" \
  | mosquitto_pub -h "${MQTT_HOST:-127.0.0.1}" -p "${MQTT_PORT:-1883}" -i "$device" -u "$device" -P "$token" -q 1 "${retain[@]}" -t "$topic" -s "$@"
echo "published $file to $topic"
