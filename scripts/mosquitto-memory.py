#!/usr/bin/env python3
"""Mosquitto's memory per persistent session and per queued QoS 1 message (docs/performance.md, "tenth session").

Opens N sessions (MQTT 3.1.1, clean session off, one QoS 1 subscription each, as a device's ack topic), reads the
broker's RSS, disconnects them, then publishes Q messages of 200 bytes to their topics so that they queue, and reads
the RSS again. Raw packets, no MQTT library. Run it against a broker of its own, with enough file descriptors:
    ulimit -n 20000; mosquitto -c CONF & python3 scripts/mosquitto-memory.py PORT MOSQUITTO_PID 5000 50000
CONF: a loopback listener on PORT, allow_anonymous true, persistence false, max_queued_messages above Q / N.
"""
import asyncio
import struct
import sys

PORT, PID, SESSIONS, QUEUED = (int(a) for a in sys.argv[1:5])


def rss_kib():
    with open(f"/proc/{PID}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))


def remaining_length(n):
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | 0x80 if n else byte)
        if not n:
            return bytes(out)


def utf8(text):
    data = text.encode()
    return struct.pack("!H", len(data)) + data


def packet(kind, body):
    return bytes([kind]) + remaining_length(len(body)) + body


def connect(client_id, clean):
    return packet(0x10, utf8("MQTT") + bytes([4, 0x02 if clean else 0x00]) + struct.pack("!H", 600) + utf8(client_id))


async def open_session(i):
    reader, writer = await asyncio.open_connection("127.0.0.1", PORT)
    writer.write(connect(f"dev-{i:07d}", clean=False))
    await reader.readexactly(4)  # CONNACK
    writer.write(packet(0x82, struct.pack("!H", 1) + utf8(f"devices/dev-{i:07d}/ack") + bytes([1])))
    await reader.readexactly(5)  # SUBACK
    return writer


async def main():
    before = rss_kib()
    writers = []
    for start in range(0, SESSIONS, 500):
        writers += await asyncio.gather(*(open_session(i) for i in range(start, min(SESSIONS, start + 500))))
    await asyncio.sleep(1)
    connected = rss_kib()
    print(f"sessions={SESSIONS} rss_kib before={before} connected={connected} "
          f"bytes_per_session={(connected - before) * 1024 / SESSIONS:.0f}")
    for writer in writers:
        writer.write(b"\xe0\x00")  # DISCONNECT: the sessions stay, offline
        writer.close()
    await asyncio.sleep(2)
    offline = rss_kib()
    reader, writer = await asyncio.open_connection("127.0.0.1", PORT)
    writer.write(connect("publisher", clean=True))
    await reader.readexactly(4)
    for k in range(QUEUED):
        body = utf8(f"devices/dev-{k % SESSIONS:07d}/ack") + struct.pack("!H", k % 65535 + 1) + b"x" * 200
        writer.write(packet(0x32, body))
        if k % 1000 == 999:
            await writer.drain()
            await reader.readexactly(4 * 1000)  # PUBACKs: the broker has queued them
    await asyncio.sleep(2)
    queued = rss_kib()
    print(f"queued={QUEUED} payload_bytes=200 rss_kib offline={offline} queued={queued} "
          f"bytes_per_queued_message={(queued - offline) * 1024 / QUEUED:.0f}")


asyncio.run(main())
