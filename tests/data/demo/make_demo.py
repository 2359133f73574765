#!/usr/bin/env python3
"""Writes demo.pcap: a few minutes of NetFlow v5 and IPFIX export traffic from one router.

The flows are made up around the documentation ranges (RFC 5737, RFC 3849): a scan from a
listed address and the router's replies, an outbound connection to a listed address, an IPv6
ping to a listed network, and clean traffic. Run it again to rebuild the file; the output is
byte-for-byte reproducible.
"""
import ipaddress
import struct

EXPORTER = "192.0.2.241"
COLLECTOR = "192.0.2.1"
BOOT = 1764787000  # exporter boot time, Unix seconds (2025-12-03T18:36:40Z)
START = BOOT + 600  # first export


def ip4(text):
    return ipaddress.IPv4Address(text).packed


def ip6(text):
    return ipaddress.IPv6Address(text).packed


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def frame(payload, dport):
    udp = struct.pack("!HHHH", 50000, dport, 8 + len(payload), 0) + payload
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0,
                         ip4(EXPORTER), ip4(COLLECTOR))
    header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    eth = bytes.fromhex("00005e005302" "00005e005301" "0800")
    return eth + header + udp


def v5_record(src, dst, sport, dport, proto, flags, packets, octets, first_ms, last_ms):
    return struct.pack("!4s4s4sHHIIIIHHBBBBHHBBH", ip4(src), ip4(dst), ip4("0.0.0.0"), 1, 2,
                       packets, octets, first_ms, last_ms, sport, dport, 0, flags, proto, 0,
                       0, 0, 24, 24, 0)


def v5_datagram(now, sequence, records):
    uptime = (now - BOOT) * 1000
    header = struct.pack("!HHIIIIBBH", 5, len(records), uptime, now, 0, sequence, 0, 0, 0)
    return header + b"".join(records)


# IPFIX template 256: IPv6 flows with absolute millisecond times.
IPFIX_FIELDS = [(27, 16), (28, 16), (7, 2), (11, 2), (4, 1), (6, 1), (2, 8), (1, 8),
                (152, 8), (153, 8), (10, 4), (14, 4)]


def ipfix_message(now, sequence, sets):
    body = b"".join(sets)
    return struct.pack("!HHIII", 10, 16 + len(body), now, sequence, 1) + body


def ipfix_template():
    fields = b"".join(struct.pack("!HH", ie, length) for ie, length in IPFIX_FIELDS)
    record = struct.pack("!HH", 256, len(IPFIX_FIELDS)) + fields
    return struct.pack("!HH", 2, 4 + len(record)) + record


def ipfix_data(records):
    body = b"".join(records)
    return struct.pack("!HH", 256, 4 + len(body)) + body


def ipfix_record(src, dst, sport, dport, proto, flags, packets, octets, start_ms, end_ms):
    return (ip6(src) + ip6(dst) + struct.pack("!HHBBQQQQII", sport, dport, proto, flags,
                                              packets, octets, start_ms, end_ms, 3, 7))


def uptime_ms(t):
    return (t - BOOT) * 1000


def main():
    frames = []
    t = START
    sequence = 0

    # A SYN scan from a listed address over 12 ports, and the router's RST replies.
    scan = []
    for index, port in enumerate([21, 22, 23, 25, 80, 110, 143, 443, 445, 3389, 8080, 8443]):
        at = uptime_ms(t - 30) + index * 40
        scan.append(v5_record("203.0.113.66", "192.0.2.10", 44444, port, 6, 0x02, 1, 60,
                              at, at))
        scan.append(v5_record("192.0.2.10", "203.0.113.66", port, 44444, 6, 0x14, 1, 40,
                              at + 3, at + 3))
    # An internal host talking to a listed command-and-control address, and clean traffic.
    c2 = v5_record("192.0.2.12", "198.51.100.77", 51515, 443, 6, 0x1B, 14, 2210,
                   uptime_ms(t - 20), uptime_ms(t - 5))
    c2_back = v5_record("198.51.100.77", "192.0.2.12", 443, 51515, 6, 0x1B, 12, 6400,
                        uptime_ms(t - 20) + 30, uptime_ms(t - 5))
    dns = v5_record("192.0.2.12", "198.51.100.53", 40001, 53, 17, 0, 1, 72,
                    uptime_ms(t - 10), uptime_ms(t - 10))
    records = scan + [c2, c2_back, dns]
    for chunk in range(0, len(records), 30):
        part = records[chunk:chunk + 30]
        frames.append((t, frame(v5_datagram(t, sequence, part), 2055)))
        sequence += len(part)

    # IPv6 over IPFIX: a ping to a listed network and a clean web flow.
    t += 5
    ms = t * 1000
    v6 = [
        ipfix_record("2001:db8:1::12", "2001:db8:bad::5", 0, 0x8000, 58, 0, 4, 416,
                     ms - 9000, ms - 6000),
        ipfix_record("2001:db8:1::12", "2001:db8:cafe::80", 40404, 443, 6, 0x1B, 20, 9000,
                     ms - 8000, ms - 1000),
    ]
    message = ipfix_message(t, 0, [ipfix_template(), ipfix_data(v6)])
    frames.append((t, frame(message, 4739)))

    # Ten minutes later the outbound connection is still going: a repeat, folded.
    t += 660
    later = v5_record("192.0.2.12", "198.51.100.77", 51515, 443, 6, 0x18, 40, 5200,
                      uptime_ms(t - 60), uptime_ms(t - 1))
    frames.append((t, frame(v5_datagram(t, sequence, [later]), 2055)))

    with open("demo.pcap", "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for seconds, data in frames:
            out.write(struct.pack("<IIII", seconds, 0, len(data), len(data)))
            out.write(data)


if __name__ == "__main__":
    main()
