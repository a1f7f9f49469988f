"""The on-path attacker with real packets (issue 8; the simulated one is
tests/unit mptcp_extkey_sim_attacker*).

curl -> nginx over TLS, both under the shim with an engine on each host,
two paths through router namespaces. lab/attacker.py runs in the router of
path 1 (the initial subflow's), captures every packet of the connection,
learns what the wire shows, then from the router's own address towards the
server
  1. opens an MP_JOIN subflow with the server's token and completes the
     three-way handshake with the HMAC keyed with the keys it saw;
  2. injects an MP_FASTCLOSE in window on the first subflow, with the key
     it saw.
RFC 8684 (policy never): both keys crossed the wire in the MP_CAPABLE, so
the join succeeds (MPJoinAckRx, an extra subflow from the attacker's
address in `mptcpext conn --json`) and the fast close kills the transfer
(MPFastcloseRx): the attacker is real. E mode (prefer, require; keys from
the TLS exporter): the join is refused (MPJoinAckHMacFailure, no extra
subflow), the fast close is ignored (MPXFastcloseBadKey), the transfer
completes with its SHA-256 intact, and the capture holds no 64-bit key
(test_e2e_tls.check_wire on the router's capture).

Root only (the lab fixture skips otherwise).

    make && /usr/bin/python3 -m pytest -q tests/test_attacker.py
"""
import json
import select
import subprocess

import pytest

from netlab_fixtures import PY, ROOT, LabError, lab, wait_for  # noqa: F401 (lab: a fixture)
from test_e2e_tls import PORT, check_wire, need, nginx, stop

import e2e  # lab/e2e.py

ATTACKER = str(ROOT / "lab" / "attacker.py")
SIZE = 2_500_000
RATE = "700K"  # curl --limit-rate: the transfer lasts ~3.5 s, time to attack
DEADLINE = 40
# room for the attacker's subflow next to the client's own (start_engines
# allows n-1 = 1 extra subflow): a refused join must be the HMAC's doing
LIMITS = ["--limits", "subflows 3 add_addr_accepted 1"]


class Attacker:
    """lab/attacker.py in the router of |path|: one JSON line per command."""

    def __init__(self, l, path, pcap):
        self.src = l.router_addr("server", path)
        self.proc = l.popen(path, [PY, ATTACKER, "--iface", "s", "--server", l.addr("server", path),
                                   "--port", str(PORT), "--src", self.src, "--pcap", str(pcap)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
        assert self.read(10).get("ready"), f"attacker did not start: {self.errors()}"

    def read(self, timeout):
        r, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if r else ""
        return json.loads(line) if line.strip() else {}

    def ask(self, cmd, timeout=15):
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()
        got = self.read(timeout)
        assert got, f"attacker: no answer to {cmd}: {self.errors()}"
        return got

    def errors(self):
        if self.proc.poll() is None:
            return "(running)"
        return self.proc.stderr.read()[-2000:]

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.close()
                self.proc.wait(5)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                pass
        stop(self.proc)


def delta(after, before, name):
    return after.get(f"MPTcpExt{name}", 0) - before.get(f"MPTcpExt{name}", 0)


def alive(eng):
    rc = eng.proc.poll()
    return "running" if rc is None else f"exited {rc}: {eng.log.read_text()[-1500:]}"


def server_conn(s):
    conns = [c for c in s.conns() if c.get("lport") == PORT]
    return conns[0] if conns else None


@pytest.mark.parametrize("policy", ["never", "prefer", "require"])
def test_onpath_attacker_join_and_fastclose(lab, tmp_path, policy):
    need("nginx", "curl", "tshark")
    ext = policy != "never"
    l = lab(paths=2, delays=[4, 12], rates=[25, 15], client="engine", server="engine")
    c, s = e2e.start_engines(l, tmp_path, ["--extkey", policy] + LIMITS)
    www = tmp_path / "www"
    www.mkdir()
    want = e2e.make_file(www / "file.bin", SIZE)
    cert, key = e2e.make_cert(tmp_path)
    t = {"www": www, "cert": cert, "key": key, "tmp": tmp_path}
    pcap = tmp_path / "r1.pcap"
    srv = cli = att = None
    try:
        att = Attacker(l, 1, pcap)
        srv = nginx(l, s, t, "1.3")
        out = tmp_path / "got.bin"
        cli = l.popen("client", ["curl", "-sS", "--fail", "--insecure", "--http1.1", "--tlsv1.3",
                                 "--limit-rate", RATE, "-o", str(out),
                                 f"https://{l.addr('server', 1)}:{PORT}/file.bin"],
                      env=c.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)

        # what the attacker waits for: the handshake seen; (E mode) the key
        # active on the server, so that a join is judged by its HMAC; and
        # the client's own join done, so that the counters are the attacker's
        def ready():
            st = att.ask("state")
            sc = server_conn(s)
            if cli.poll() is not None:
                return {"curl": cli.returncode}
            est = [f for f in (sc or {}).get("subflows", []) if f.get("established")
                   and f.get("state") == "ESTAB"]
            if "ctoken" in st and len(est) >= len(l.paths) and \
                    (not ext or sc.get("key_state") == "ext-active"):
                return st
            return None
        seen = wait_for(ready, 20, "the attacker's view and the server's key", interval=0.1)
        assert "curl" not in seen, f"curl ended before the attack: {seen}"
        assert seen["mode"] == ("ext" if ext else "rfc"), seen
        # RFC 8684 shows both keys; E mode only the tokens
        assert ("ckey" in seen and "skey" in seen) == (not ext), seen

        # 1. the join
        before = s.counters()
        join = att.ask("join")
        after = s.counters()
        sc = server_conn(s)
        from_attacker = [f for f in (sc or {}).get("subflows", []) if f.get("remote") == att.src]
        diag = f"{join}; server {sc}; engine {alive(s)}"
        if ext:
            assert join.get("join") == "rst", diag
            assert delta(after, before, "MPJoinAckHMacFailure") == 1, diag
            assert delta(after, before, "MPJoinAckRx") == 0, diag
            assert not from_attacker, diag
        else:
            assert join.get("join") == "acked", diag
            assert delta(after, before, "MPJoinAckRx") == 1, diag
            assert from_attacker and from_attacker[0]["established"], diag

        # 2. the fast close, in window on the first subflow
        before = s.counters()
        fc = att.ask("fastclose")
        assert fc.get("fastclose") == "sent", fc
        name = "MPXFastcloseBadKey" if ext else "MPFastcloseRx"
        try:
            wait_for(lambda: delta(s.counters(), before, name) >= 1, 10,
                     f"{name} on the server", interval=0.05)
        except LabError as e:
            now = s.counters()
            why = {n: delta(now, before, n) for n in ("MPXOptsUnacceptable", "MPXFastcloseBadKey")}
            why.update({n: now.get(n, 0) - before.get(n, 0)
                        for n in ("TcpExtPAWSEstab", "TcpExtInDropOutOfWindow")})
            pytest.fail(f"{e}: {fc}, {why}, engine {alive(s)}")
        after = s.counters()
        assert delta(after, before, "MPFastcloseRx") == (0 if ext else 1)
        if ext:
            # the client's engine: its connection untouched, nothing reached it
            cc = [x for x in c.conns() if x.get("rport") == PORT]
            assert cc and cc[0]["key_state"] == "ext-active" and cc[0]["error"] == 0, cc
            assert all(f["remote"] != att.src for f in cc[0]["subflows"]), cc
            cnt = c.counters()
            assert cnt.get("MPTcpExtMPFastcloseRx", 0) == 0, cnt
            assert cnt.get("MPTcpExtMPXFastcloseBadKey", 0) == 0, cnt

        # 3. the transfer: intact in E mode, killed by the fast close in RFC mode
        try:
            cli.wait(DEADLINE)
        except subprocess.TimeoutExpired:
            pytest.fail(f"curl did not finish in {DEADLINE} s")
        err = cli.stderr.read().decode(errors="replace")
        if ext:
            assert cli.returncode == 0, f"curl exited {cli.returncode}: {err}"
            assert e2e.sha256_file(out) == want, "data corrupted"
        else:
            assert cli.returncode != 0, "the fast close did not stop the RFC 8684 transfer"
    finally:
        stop(cli, srv)
        if att:
            att.stop()
        codes = [(e.stop(), e) for e in (c, s)]
    for rc, e in codes:
        assert rc == 0, f"mptcpextd ({e.side}) exited {rc}:\n{e.log.read_text()[-3000:]}"
    if ext:
        # what the attacker captured: E-mode MP_CAPABLE only, no 64-bit key
        check_wire(pcap)
