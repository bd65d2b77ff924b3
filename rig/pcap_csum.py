#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Checks the IPv4, TCP, UDP and ICMP checksums of the frames in a pcap (QEMU's filter-dump
of the rig's hub) that a given MAC sent: the 82599 model's TX checksum offload as the wire
sees it. usage: pcap_csum.py <file.pcap> <source MAC>..."""
import struct
import sys


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def main():
    raw = open(sys.argv[1], "rb").read()
    macs = {bytes.fromhex(m.replace(":", "")) for m in sys.argv[2:]}
    off, seen, bad = 24, {}, 0
    while off + 16 <= len(raw):
        incl = struct.unpack_from("<I", raw, off + 8)[0]
        f = raw[off + 16:off + 16 + incl]
        off += 16 + incl
        if f[6:12] not in macs:
            continue
        l3 = 14
        etype = struct.unpack_from("!H", f, 12)[0]
        if etype == 0x8100:
            etype, l3 = struct.unpack_from("!H", f, 16)[0], 18
        if etype != 0x0800:
            continue
        ihl = (f[l3] & 0xF) * 4
        ip = f[l3:l3 + ihl]
        tot = struct.unpack_from("!H", ip, 2)[0]
        proto, frag = ip[9], struct.unpack_from("!H", ip, 6)[0]
        kind = {1: "icmp", 6: "tcp", 17: "udp"}.get(proto, str(proto))
        ok = csum(ip) == 0xFFFF
        l4 = f[l3 + ihl:l3 + tot]
        if ok and not (frag & 0x3FFF):  # checksum over a whole datagram only
            if proto in (6, 17):
                ph = ip[12:20] + struct.pack("!BBH", 0, proto, len(l4))
                ok = csum(ph + l4) == 0xFFFF
            elif proto == 1:
                ok = csum(l4) == 0xFFFF
        if frag & 0x3FFF:
            kind += "-fragment"
        good, total = seen.get(kind, (0, 0))
        seen[kind] = (good + ok, total + 1)
        bad += not ok
    for k, (g, t) in sorted(seen.items()):
        print("%s: %d/%d checksums right" % (k, g, t))
    sys.exit(1 if bad or not seen else 0)


main()
