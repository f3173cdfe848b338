#!/usr/bin/env bash
# Publishes an uplink test vector as a device would, with its reading timestamps shifted so the newest
# vector time becomes now (the service rejects readings older than 30 days or over 5 minutes ahead).
#   scripts/replay-vector.sh DEVICE_ID tests/vectors/valid/telemetry-shoe-run.json [mosquitto_pub options]
# The topic follows the file name: birth-*.json go to devices/ID/birth (retained), *.cbor (the CBOR twins) to
# .../telemetry/cbor, others to .../telemetry. In a twin every ts is key 0 of its reading map, an 8-byte integer.
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
  *.cbor) topic="devices/$device/telemetry/cbor"; retain=() ;;
  *) topic="devices/$device/telemetry"; retain=() ;;
esac
secret=${DEVICE_SECRET:-$(cat "${DATA_DIR:-$here/ingest/data}/broker/device-secret" 2>/dev/null || true)}
[ -n "$secret" ] || { echo "no device secret: set DEVICE_SECRET or start the service once" >&2; exit 2; }
token=$(printf '%s' "$device" | openssl dgst -sha256 -hmac "$secret" | sed 's/.*= *//')
if [[ $file == *.cbor ]]; then
  # A map head (A1-B7), key 0, then 0x1B and the big-endian 64-bit ts.
  shift_ts=(perl -0777 -pe 's/([\xA1-\xB7])\x00\x1B(.{8})/$1."\x00\x1B".pack("Q>", unpack("Q>", $2) + '"$shift_ms"')/gse')
else
  shift_ts=(perl -pe 's/"ts":(\d+)/"\"ts\":".($1+'"$shift_ms"')/ge')
fi
"${shift_ts[@]}" "$file" \
  | mosquitto_pub -h "${MQTT_HOST:-127.0.0.1}" -p "${MQTT_PORT:-1883}" -i "$device" -u "$device" -P "$token" -q 1 "${retain[@]}" -t "$topic" -s "$@"
echo "published $file to $topic"
