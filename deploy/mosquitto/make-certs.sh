#!/usr/bin/env bash
# Makes the TLS files for Mosquitto's device listener (8883) with openssl.
#
#   deploy/mosquitto/make-certs.sh [-o DIR] [-d DAYS] [-c CLIENT_NAME] NAME...
#
# NAME: every DNS name or IP address that devices use to reach the broker; all go into the server
#       certificate's subjectAltName (clients check it), the first is also its common name.
# -o    output directory (default deploy/mosquitto/certs next to this script).
# -d    validity of the server and client certificates in days (default 825); the CA lasts 10 years.
# -c    also issue a client certificate with this common name (for a listener with require_certificate).
#
# Writes ca.pem (the trust anchor to flash into firmware), ca.key (keep it offline), server.pem, server.key,
# and with -c client.pem, client.key. An existing ca.pem and ca.key in DIR are reused, so renewing the server
# certificate does not change what devices trust. Keys are ECDSA P-256: small handshakes for battery devices.
set -euo pipefail

out="$(cd "$(dirname "$0")" && pwd)/certs"
days=825
client=""
usage() { sed -n '4,9p' "$0" >&2; exit 2; }
while getopts "o:d:c:h" opt; do
  case $opt in
    o) out=$OPTARG ;;
    d) days=$OPTARG ;;
    c) client=$OPTARG ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || usage

san=""
for name in "$@"; do
  if [[ $name =~ ^[0-9]+(\.[0-9]+){3}$ || $name == *:* ]]; then san+="${san:+,}IP:$name"; else san+="${san:+,}DNS:$name"; fi
done

mkdir -p "$out"
cd "$out"
umask 077
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
serial() { echo "0x$(openssl rand -hex 16)"; }

if [ ! -f ca.pem ] || [ ! -f ca.key ]; then
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 -days 3650 \
    -subj "/CN=Telemetry MQTT CA" -keyout ca.key -out ca.pem \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  echo "made a new CA: $out/ca.pem"
fi

# issue NAME SUBJECT EXTENSIONS: a key and a certificate signed by the CA.
issue() {
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "$2" \
    -keyout "$1.key" -out "$work/$1.csr" 2>/dev/null
  printf '%s\n' "$3" > "$work/$1.ext"
  openssl x509 -req -sha256 -in "$work/$1.csr" -CA ca.pem -CAkey ca.key -set_serial "$(serial)" \
    -days "$days" -extfile "$work/$1.ext" -out "$1.pem" 2>/dev/null
  echo "issued $out/$1.pem ($2)"
}

issue server "/CN=$1" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=$san"
if [ -n "$client" ]; then
  issue client "/CN=$client" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"
fi

# Certificates are public; keys are readable by their owner only. Mosquitto 2.0 reads its key file after
# dropping privileges, so give server.key to the broker's user (docs/deployment.md).
chmod 644 ca.pem server.pem ${client:+client.pem}
