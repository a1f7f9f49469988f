#!/usr/bin/python3
"""nettool: a small TCP / MPTCP bulk sender and receiver for the netlab
(stdlib only, run inside a namespace with `ip netns exec`).

  nettool.py sink   --bind ADDR --port N [--mptcp] [--warmup S]
  nettool.py source --connect ADDR --port N [--mptcp] [--bind ADDR]
                    [--seconds S | --bytes N] [--seed N] [--nohash]
  nettool.py tunping --dev mptcp0 --src ADDR --dst ADDR [--count N]

tunping attaches to a persistent TUN (as the engine will), writes ICMP /
ICMPv6 echo requests from --src (the engine's address) and prints one JSON
line with the replies read back from the TUN and their RTTs: it proves the
engine host's routing without an engine.

The sink prints "listening" on stdout once it listens, then one JSON line
when the sender closes: bytes, sha256, seconds (first to last byte),
goodput_mbit (bytes after the warm-up divided by the time after it) and
samples [[t, bytes], ...] every 50 ms. The source prints one JSON line
with bytes, sha256 and seconds. Exit status 0 on success, 1 on error.
"""

import argparse
import fcntl
import hashlib
import ipaddress
import json
import os
import random
import select
import socket
import struct
import sys
import time

IPPROTO_MPTCP = getattr(socket, "IPPROTO_MPTCP", 262)
CHUNK = (1 << 20) + 7  # not a power of two: a shifted stream changes the hash


def _family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def _sock(addr, mptcp):
    return socket.socket(_family(addr), socket.SOCK_STREAM, IPPROTO_MPTCP if mptcp else 0)


def sink(args):
    ls = _sock(args.bind, args.mptcp)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((args.bind, args.port))
    ls.listen(4)
    print("listening", flush=True)
    ls.settimeout(args.timeout)
    conn, peer = ls.accept()
    conn.settimeout(args.timeout)
    h = hashlib.sha256() if not args.nohash else None
    total = 0
    first = last = None
    samples = []
    next_sample = 0.0
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    while True:
        n = conn.recv_into(buf)
        now = time.monotonic()
        if not n:
            break
        if first is None:
            first = now
        last = now
        total += n
        if h:
            h.update(view[:n])
        if now - first >= next_sample:
            samples.append([round(now - first, 4), total])
            next_sample += 0.05
    conn.close()
    ls.close()
    if first is None:
        first = last = time.monotonic()
    samples.append([round(last - first, 4), total])
    dur = last - first
    warm = [s for s in samples if s[0] >= args.warmup]
    if warm and dur - warm[0][0] > 0.2:
        goodput = (total - warm[0][1]) * 8 / (dur - warm[0][0]) / 1e6
    else:
        goodput = total * 8 / dur / 1e6 if dur > 0 else 0.0
    print(json.dumps({"bytes": total, "sha256": h.hexdigest() if h else None,
                      "seconds": dur, "goodput_mbit": goodput, "peer": list(peer[:2]),
                      "samples": samples}), flush=True)


def source(args):
    s = _sock(args.connect, args.mptcp)
    if args.bind:
        s.bind((args.bind, 0))
    s.settimeout(args.timeout)
    s.connect((args.connect, args.port))
    data = random.Random(args.seed).randbytes(CHUNK)
    h = hashlib.sha256() if not args.nohash else None
    total = 0
    start = time.monotonic()
    end = start + args.seconds if args.seconds else None
    limit = args.bytes
    while True:
        if end is not None and time.monotonic() >= end:
            break
        n = CHUNK if limit is None else min(CHUNK, limit - total)
        if n <= 0:
            break
        s.sendall(data[:n])
        if h:
            h.update(data[:n])
        total += n
    s.shutdown(socket.SHUT_WR)
    while s.recv(4096):  # the sink closes once it has read everything
        pass
    s.close()
    print(json.dumps({"bytes": total, "sha256": h.hexdigest() if h else None,
                      "seconds": time.monotonic() - start}), flush=True)


TUNSETIFF = 0x400454CA
IFF_TUN, IFF_NO_PI = 0x0001, 0x1000


def inet_csum(data):
    """The Internet checksum (RFC 1071) of |data|."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def _echo(src, dst, ident, seq):
    payload = b"netlab-tunping" + struct.pack("!d", time.monotonic())
    if src.version == 4:
        icmp = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + payload
        icmp = icmp[:2] + struct.pack("!H", inet_csum(icmp)) + icmp[4:]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), seq, 0, 64, 1, 0,
                         src.packed, dst.packed)
        return ip[:10] + struct.pack("!H", inet_csum(ip)) + ip[12:] + icmp
    icmp = struct.pack("!BBHHH", 128, 0, 0, ident, seq) + payload
    pseudo = src.packed + dst.packed + struct.pack("!I3xB", len(icmp), 58)
    icmp = icmp[:2] + struct.pack("!H", inet_csum(pseudo + icmp)) + icmp[4:]
    return struct.pack("!IHBB16s16s", 0x60000000, len(icmp), 58, 64,
                       src.packed, dst.packed) + icmp


def _is_reply(pkt, src, dst, ident):
    """Echo reply from dst to src with our identifier: return its seq."""
    if src.version == 4 and len(pkt) >= 28 and pkt[0] >> 4 == 4 and pkt[9] == 1:
        hl = (pkt[0] & 15) * 4
        ok = pkt[12:16] == dst.packed and pkt[16:20] == src.packed and pkt[hl] == 0
        off = hl
    elif src.version == 6 and len(pkt) >= 48 and pkt[0] >> 4 == 6 and pkt[6] == 58:
        ok = pkt[8:24] == dst.packed and pkt[24:40] == src.packed and pkt[40] == 129
        off = 40
    else:
        return None
    if not ok or struct.unpack("!H", pkt[off + 4:off + 6])[0] != ident:
        return None
    return struct.unpack("!H", pkt[off + 6:off + 8])[0]


def tunping(args):
    src, dst = ipaddress.ip_address(args.src), ipaddress.ip_address(args.dst)
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", args.dev.encode(), IFF_TUN | IFF_NO_PI))
    ident = os.getpid() & 0xFFFF
    sent, rtts = {}, {}
    end = time.monotonic() + args.timeout
    seq = 0
    while time.monotonic() < end and len(rtts) < args.count:
        # Keep probing (bounded) until |count| replies: the first echo of a
        # fresh path can be lost while the kernel resolves the neighbour.
        if seq < args.count + 8 and (not sent or time.monotonic() - max(sent.values()) >= 0.05):
            seq += 1
            sent[seq] = time.monotonic()
            try:  # no carrier for a moment after attaching: retry later
                os.write(fd, _echo(src, dst, ident, seq))
            except OSError:
                pass
        r, _, _ = select.select([fd], [], [], 0.01)
        while r:
            try:
                pkt = os.read(fd, 65536)
            except BlockingIOError:
                break
            got = _is_reply(pkt, src, dst, ident)
            if got in sent and got not in rtts:
                rtts[got] = (time.monotonic() - sent[got]) * 1000
    os.close(fd)
    print(json.dumps({"sent": seq, "received": len(rtts),
                      "rtt_ms": [round(v, 3) for v in rtts.values()]}), flush=True)
    return 0 if len(rtts) >= args.count else 1


def main(argv=None):
    ap = argparse.ArgumentParser(prog="nettool.py")
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("sink", "source"):
        p = sub.add_parser(name)
        p.add_argument("--port", type=int, required=True)
        p.add_argument("--mptcp", action="store_true")
        p.add_argument("--nohash", action="store_true")
        p.add_argument("--timeout", type=float, default=30.0)
        if name == "sink":
            p.add_argument("--bind", required=True)
            p.add_argument("--warmup", type=float, default=0.5)
        else:
            p.add_argument("--connect", required=True)
            p.add_argument("--bind")
            p.add_argument("--seconds", type=float)
            p.add_argument("--bytes", type=int)
            p.add_argument("--seed", type=int, default=1)
    tp = sub.add_parser("tunping")
    tp.add_argument("--dev", default="mptcp0")
    tp.add_argument("--src", required=True)
    tp.add_argument("--dst", required=True)
    tp.add_argument("--count", type=int, default=3)
    tp.add_argument("--timeout", type=float, default=5.0)
    args = ap.parse_args(argv)
    if args.cmd == "tunping":
        try:
            return tunping(args)
        except OSError as e:
            print(f"nettool tunping: {e}", file=sys.stderr)
            return 1
    if args.cmd == "source" and (args.seconds is None) == (args.bytes is None):
        ap.error("source needs exactly one of --seconds, --bytes")
    try:
        sink(args) if args.cmd == "sink" else source(args)
    except OSError as e:
        print(f"nettool {args.cmd}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
