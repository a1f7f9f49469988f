#!/usr/bin/python3
"""Generate the seed corpus of tests/fuzz/fuzz_wire.c.

    /usr/bin/python3 scripts/gen_fuzz_corpus.py [OUTDIR]

Writes small files to tests/fuzz/corpus/fuzz_wire/ (or OUTDIR): whole IPv4
and IPv6 TCP packets with correct checksums (Linux-like SYN, data with
timestamps, SACK, IP options, IPv6 extension headers, MPTCP handshakes and
data) and bare option blocks, one per MPTCP option form of RFC 8684 and of
draft-baerts-tcpm-mptcpext-00. Only the standard library is used, so the
files can be regenerated anywhere; the output is deterministic.
"""
import os
import struct
import sys


def csum(data: bytes) -> int:
    """RFC 1071 internet checksum."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def tcp(sport, dport, seq, ack, flags, win, opts=b"", payload=b""):
    """TCP header with |opts| (padded with EOL to 4 bytes), checksum 0."""
    opts += b"\0" * (-len(opts) % 4)
    doff = (20 + len(opts)) // 4
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, doff << 4, flags, win, 0, 0)
    return hdr + opts + payload


def ipv4(src, dst, seg, ident=0, ttl=64, ip_opts=b""):
    src_b, dst_b = bytes(src), bytes(dst)
    ph = src_b + dst_b + struct.pack("!BBH", 0, 6, len(seg))
    seg = seg[:16] + struct.pack("!H", csum(ph + seg)) + seg[18:]
    ihl = (20 + len(ip_opts)) // 4
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, ihl * 4 + len(seg), ident, 0x4000, ttl, 6,
                      0, src_b, dst_b) + ip_opts
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return hdr + seg


def ipv6(src, dst, seg, ext=b"", first_nh=6, flow=0):
    src_b, dst_b = bytes(src), bytes(dst)
    ph = src_b + dst_b + struct.pack("!I3xB", len(seg), 6)
    seg = seg[:16] + struct.pack("!H", csum(ph + seg)) + seg[18:]
    hdr = struct.pack("!IHBB16s16s", 6 << 28 | flow, len(ext) + len(seg), first_nh, 64, src_b,
                      dst_b)
    return hdr + ext + seg


def mptcp(subtype, low, body):
    """One MPTCP option: kind 30, length, subtype|low nibble, body."""
    return bytes([30, 3 + len(body), subtype << 4 | low]) + body


def nop_pad(opt):
    return opt + b"\x01" * (-len(opt) % 4)


FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
A1, A2 = [10, 0, 0, 1], [10, 0, 0, 2]
B1 = [0x20, 0x01, 0x0D, 0xB8] + [0] * 11 + [1]
B2 = [0x20, 0x01, 0x0D, 0xB8] + [0] * 11 + [2]
KEY_A, KEY_B = bytes.fromhex("0102030405060708"), bytes.fromhex("1112131415161718")
MSS = bytes.fromhex("020405b4")
SACKP_TS = bytes.fromhex("0402080a") + struct.pack("!II", 1, 0)
TS = bytes.fromhex("0101080a") + struct.pack("!II", 7, 8)
WS = bytes.fromhex("01030307")

# MPTCP option forms (RFC 8684 section 3; E-mode and NEW_KEY from the draft).
OPTS = {
    "mpc_syn": mptcp(0, 1, b"\x01"),
    "mpc_synack": mptcp(0, 1, b"\x01" + KEY_B),
    "mpc_ack": mptcp(0, 1, b"\x01" + KEY_A + KEY_B),
    "mpc_ack_data": mptcp(0, 1, b"\x01" + KEY_A + KEY_B + b"\x00\x64"),
    "mpc_ack_data_csum": mptcp(0, 1, b"\x81" + KEY_A + KEY_B + b"\x00\x64\xbe\xef"),
    "mpc_e_synack": mptcp(0, 1, b"\x09" + bytes.fromhex("66840dda")),
    "mpc_e_ack": mptcp(0, 1, b"\x09" + bytes.fromhex("66840dda6893a08c")),
    "mpc_e_ack_data": mptcp(0, 1, b"\x09" + bytes.fromhex("66840dda6893a08c0064")),
    "mpc_e_ack_data_csum": mptcp(0, 1, b"\x89" + bytes.fromhex("66840dda6893a08c0064beef")),
    "join_syn": mptcp(1, 1, b"\x02" + bytes.fromhex("66840dda01020304")),
    "join_synack": mptcp(1, 0, b"\x02" + bytes.fromhex("65ee096833f661d905060708")),
    "join_ack": mptcp(1, 0, b"\x00" + bytes.fromhex("24bdde08dfc55c9b4185e1b56b2f89db241ac0f2")),
    "dss_ack32": mptcp(2, 0, b"\x01" + struct.pack("!I", 5)),
    "dss_ack64_map64_csum": mptcp(2, 0, b"\x0f" + KEY_A + KEY_B + struct.pack("!IHH", 1, 3, 0xabcd)),
    "dss_map32_fin": mptcp(2, 0, b"\x15" + struct.pack("!IIIH", 9, 10, 0, 1)),
    "dss_ack64_map32": mptcp(2, 0, b"\x07" + KEY_A + struct.pack("!IIH", 9, 1, 1000)),
    "dss_fin_only_ack": mptcp(2, 0, b"\x11" + struct.pack("!I", 77)),
    "add_addr4": mptcp(3, 0, b"\x01" + bytes(A2) + bytes.fromhex("014b3007310c639c")),
    "add_addr4_port": mptcp(3, 0, b"\x01" + bytes(A2) + b"\x1f\x90" + bytes.fromhex("b08c3eb910379895")),
    "add_addr6": mptcp(3, 0, b"\x02" + bytes(B2) + KEY_A),
    "add_addr6_port": mptcp(3, 2, b"\x02" + bytes(B2) + b"\x1f\x90" + KEY_A),
    "add_addr4_echo": mptcp(3, 1, b"\x01" + bytes(A2)),
    "add_addr6_port_echo": mptcp(3, 1, b"\x02" + bytes(B2) + b"\x1f\x90"),
    "rm_addr_1": mptcp(4, 0, b"\x05"),
    "rm_addr_8": mptcp(4, 0, bytes(range(1, 9))),
    "mp_prio_backup": mptcp(5, 1, b""),
    "mp_fail": mptcp(6, 0, b"\x00" + KEY_A),
    "mp_fastclose": mptcp(7, 0, b"\x00" + KEY_B),
    "mp_tcprst": mptcp(8, 1, b"\x06"),
    "new_key": mptcp(9, 1, b"\x00" + KEY_A),
    "unknown_subtype": mptcp(0xA, 0, b"\x00"),
}


def packets():
    yield "pkt_v4_syn_linux", ipv4(A1, A2, tcp(45678, 80, 0x12345678, 0, SYN, 64240,
                                                MSS + SACKP_TS + WS), ident=0x1C46)
    yield "pkt_v6_data_ts", ipv6(B1, B2, tcp(443, 50000, 1000, 2000, PSH | ACK, 502, TS,
                                             b"hello, world\n"), flow=0x12345)
    sack = bytes.fromhex("01010512") + struct.pack("!IIII", 2001, 3001, 4001, 5001)
    yield "pkt_v4_sack", ipv4(A1, A2, tcp(1, 2, 1, 1001, ACK, 1000, TS + sack))
    yield "pkt_v4_ip_options", ipv4(A1, A2, tcp(9, 10, 11, 12, ACK, 13, b"", b"abc"),
                                    ip_opts=bytes.fromhex("01010100"))
    ext = bytes.fromhex("3c00010400000000") + bytes.fromhex("0600010400000000")
    yield "pkt_v6_ext_headers", ipv6(B1, B2, tcp(1, 2, 3, 0, SYN, 1024), ext, first_nh=0)
    yield "pkt_v4_mpc_syn", ipv4(A1, A2, tcp(1000, 80, 1, 0, SYN, 64240,
                                             MSS + SACKP_TS + WS + OPTS["mpc_syn"]))
    yield "pkt_v4_mpc_synack", ipv4(A2, A1, tcp(80, 1000, 9, 2, SYN | ACK, 65160,
                                                MSS + SACKP_TS + WS + OPTS["mpc_synack"]))
    yield "pkt_v4_mpc_ack_data", ipv4(A1, A2, tcp(1000, 80, 2, 10, PSH | ACK, 502,
                                                  TS + nop_pad(OPTS["mpc_ack_data"]), b"GET /"))
    yield "pkt_v6_join_syn", ipv6(B1, B2, tcp(1001, 80, 1, 0, SYN, 64800,
                                              MSS + SACKP_TS + WS + OPTS["join_syn"]))
    yield "pkt_v6_dss_csum", ipv6(B1, B2, tcp(1000, 80, 2, 10, PSH | ACK, 502,
                                              TS + OPTS["dss_ack64_map64_csum"], b"xyz"))
    yield "pkt_v4_rst_tcprst", ipv4(A1, A2, tcp(1000, 80, 5, 0, RST, 0, OPTS["mp_tcprst"]))
    yield "pkt_v4_add_addr_prio", ipv4(A1, A2, tcp(1000, 80, 5, 6, ACK, 500,
                                                   nop_pad(OPTS["add_addr4_port"]) +
                                                   nop_pad(OPTS["mp_prio_backup"])))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "tests", "fuzz",
                                                              "corpus", "fuzz_wire")
    os.makedirs(out, exist_ok=True)
    files = dict(packets())
    for name, opt in OPTS.items():
        files["opt_" + name] = opt
    files["opts_linux_syn_mpc"] = MSS + SACKP_TS + WS + OPTS["mpc_syn"]
    files["opts_ts_sack_dss"] = TS + bytes.fromhex("0101050a0000000100000002") + OPTS["dss_ack32"]
    for name, data in sorted(files.items()):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    print("wrote %d files to %s" % (len(files), os.path.normpath(out)))


if __name__ == "__main__":
    main()
