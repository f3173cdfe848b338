#!/usr/bin/env bash
# Bytes a device twin takes in Redis (docs/performance.md, "tenth session"): MEMORY USAGE of every device key (the
# key, its hash of `data` and `etag`, and Redis' overhead), the serialized twin (`data`) alone, by device kind.
#   scripts/redis-twin-bytes.sh PORT [PREFIX]      PREFIX: the Orleans ServiceId's key prefix (default: default)
set -euo pipefail
port=$1
prefix=${2:-default}
redis-cli -p "$port" info memory | grep -E '^(used_memory|used_memory_dataset|used_memory_overhead|used_memory_startup):'
echo "dbsize $(redis-cli -p "$port" dbsize)"
keys=$(mktemp)
trap 'rm -f "$keys"' EXIT
redis-cli -p "$port" --scan --pattern "$prefix/state/device/*" > "$keys"
for kind in shoe band; do
    grep "/$kind-" "$keys" | while read -r key; do
        echo "$(redis-cli -p "$port" memory usage "$key" samples 0) $(redis-cli -p "$port" hstrlen "$key" data)"
    done | awk -v kind="$kind" '{ n++; m += $1; d += $2; if ($1 > max) max = $1; if (min == "" || $1 < min) min = $1 }
        END { if (n) printf "%s: %d twins, memory usage mean %.0f B (min %d, max %d), data field mean %.0f B\n", kind, n, m / n, min, max, d / n }'
done
