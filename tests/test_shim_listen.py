"""Listening sockets on one address through the shim (issue 7, listeners
keyed by (address, port) in the engine).

Root only (the lab fixture skips otherwise). The engine runs in the lab's
`client` host (tests/test_daemon.py's fixture) and a plain kernel host is
the `server`; programs under LD_PRELOAD=libmptcpext.so bind and listen in
the engine host, a kernel MPTCP client connects from the other host. Bind
and listen errors are compared with what the Linux kernel answers for the
same sequence (run without the shim in the kernel host, on its own
addresses). Every wait is a condition with a deadline.

    make && /usr/bin/python3 -m pytest -q tests/test_shim_listen.py
"""
import json
import select
import subprocess

import pytest

from netlab_fixtures import PY, SHIM, lab, wait_for  # noqa: F401 (lab: fixture)
from test_daemon import engine  # noqa: F401 (fixture)
from test_daemon_config import kconnect

# Steps: ["sock", L, 4|6, {"ra": SO_REUSEADDR, "rp": SO_REUSEPORT, "v6only": 0|1}],
# ["bind", L, ADDR, PORT], ["listen", L], ["close", L], ["poll", L]. Prints the list of step results
# (ok or the errno name) as one JSON line, then one JSON line per accepted
# connection ({"label", "local"}) until stdin closes.
STEPS = r"""
import errno, json, select, socket, sys
socks, listening, out = {}, {}, []
def attempt(f):
    try:
        f()
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
for st in json.loads(sys.argv[1]):
    if st[0] == "sock":
        _, lab, fam, o = st
        s = socket.socket(socket.AF_INET6 if fam == 6 else socket.AF_INET, socket.SOCK_STREAM)
        if o.get("ra"):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if o.get("rp"):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if "v6only" in o:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, o["v6only"])
        socks[lab] = s
        continue
    s = socks[st[1]]
    if st[0] == "poll":  # the socket's readiness now, as poll() names it
        ev = select.poll()
        ev.register(s, select.POLLIN | select.POLLOUT)
        m = ev.poll(0)
        m = m[0][1] if m else 0
        out.append("poll %s %s" % (st[1], "|".join(n for n in ("IN", "OUT", "ERR", "HUP")
                                                  if m & getattr(select, "POLL" + n)) or "-"))
        continue
    if st[0] == "close":
        listening.pop(s, None)
        s.close()
        out.append(f"close {st[1]} ok")
        continue
    if st[0] == "bind":
        r = attempt(lambda: s.bind((st[2], st[3])))
    else:
        r = attempt(lambda: s.listen(8))
        if r == "ok":
            listening[s] = st[1]
    out.append(f"{st[0]} {st[1]} {r}")
print(json.dumps(out), flush=True)
while True:
    r, _, _ = select.select(list(listening) + [sys.stdin], [], [], 120)
    if not r or sys.stdin in r:
        break
    for s in r:
        c, _ = s.accept()
        print(json.dumps({"label": listening[s], "local": c.getsockname()[0]}), flush=True)
        c.close()
"""


class Prog:
    """The STEPS program in a host, under the shim or not."""

    def __init__(self, l, who, steps, shim_sock=None):
        env = ["env", f"LD_PRELOAD={SHIM}", f"MPTCPEXT_SOCKET={shim_sock}",
               "MPTCPEXT_FALLBACK=error", "MPTCPEXT_LOG=warn"] if shim_sock else []
        self.p = l.popen(who, env + [PY, "-c", STEPS, json.dumps(steps)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.results = json.loads(self.line() or "null")
        assert self.results is not None, self.stop()

    def line(self, timeout=20):
        r, _, _ = select.select([self.p.stdout], [], [], timeout)
        return self.p.stdout.readline() if r else ""

    def accepted(self):
        """The next connection this program accepted: (label, local address)."""
        line = self.line()
        assert line, f"nothing accepted: {self.stop()}"
        a = json.loads(line)
        return a["label"], a["local"]

    def stop(self):
        if self.p.stdin:  # EOF on stdin: the program exits
            self.p.stdin.close()
            self.p.stdin = None
        try:
            out, err = self.p.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.p.kill()
            out, err = self.p.communicate()
        return out + err


@pytest.fixture
def progs():
    made = []
    yield made
    for p in made:
        p.stop()


def prog(progs, *a, **kw):
    p = Prog(*a, **kw)
    progs.append(p)
    return p


def test_shim_listen_two_programs_two_addresses(engine, progs):
    """Two programs listen on the same port, each on its own engine address:
    each gets the connections to its address only; a third that binds the
    wildcard gets EADDRINUSE, as on Linux."""
    d = engine(paths=2)
    l = d.lab
    a1, a2 = l.addr("client", 1), l.addr("client", 2)
    p1 = prog(progs, l, "client", [["sock", "A", 4, {}], ["bind", "A", a1, 7301],
                                    ["listen", "A"]], d.sock)
    p2 = prog(progs, l, "client", [["sock", "B", 4, {}], ["bind", "B", a2, 7301],
                                    ["listen", "B"]], d.sock)
    assert p1.results == ["bind A ok", "listen A ok"] and p2.results == ["bind B ok",
                                                                         "listen B ok"]
    for _ in range(2):
        assert kconnect(l, a2, 7301) == "connected"
        assert p2.accepted() == ("B", a2)
        assert kconnect(l, a1, 7301) == "connected"
        assert p1.accepted() == ("A", a1)
    p3 = prog(progs, l, "client", [["sock", "C", 4, {"ra": 1}], ["bind", "C", "0.0.0.0", 7301]],
              d.sock)
    assert p3.results == ["bind C EADDRINUSE"]
    # one program gone: its address is refused, the other still served
    p1.stop()
    wait_for(lambda: a1 not in [c["local"] for c in d.json("conn") if c["listen"]], 10,
             "the first listener to go")
    assert kconnect(l, a1, 7301) == "refused"
    assert kconnect(l, a2, 7301) == "connected"
    assert p2.accepted() == ("B", a2)


def test_shim_listen_specific_beats_wildcard(engine, progs):
    """SO_REUSEPORT wildcard and specific listeners on one port (allowed by
    Linux): the exact address's listener gets its connections, the
    wildcard the rest; a V6ONLY [::] gets no IPv4, a dual-stack [::] does
    (its peer as ::ffff:a.b.c.d)."""
    d = engine(paths=2)
    l = d.lab
    a1, a2 = l.addr("client", 1), l.addr("client", 2)
    p = prog(progs, l, "client", [
        ["sock", "W", 4, {"rp": 1}], ["bind", "W", "0.0.0.0", 7302], ["listen", "W"],
        ["sock", "S", 4, {"rp": 1}], ["bind", "S", a2, 7302], ["listen", "S"],
        ["sock", "X", 6, {"v6only": 1}], ["bind", "X", "::", 7303], ["listen", "X"],
        ["sock", "D", 6, {"v6only": 0}], ["bind", "D", "::", 7304], ["listen", "D"]], d.sock)
    assert all(r.endswith(" ok") for r in p.results), p.results
    assert kconnect(l, a2, 7302) == "connected"
    assert p.accepted() == ("S", a2)
    assert kconnect(l, a1, 7302) == "connected"
    assert p.accepted() == ("W", a1)
    assert kconnect(l, a1, 7303) == "refused"
    assert kconnect(l, a1, 7304) == "connected"
    assert p.accepted() == ("D", "::ffff:" + a1)


# Sequences whose outcome Linux decides at bind() or at listen(): each is
# run in the kernel host on its addresses and under the shim in the engine
# host on the engine's, and the answers must be the same.
SEQUENCES = {
    "wildcard then specific": [
        ["sock", "A", 4, {}], ["bind", "A", "ANY4", 0], ["listen", "A"],
        ["sock", "B", 4, {}], ["bind", "B", "A1", 0]],
    "specific then wildcard, SO_REUSEADDR": [
        ["sock", "A", 4, {"ra": 1}], ["bind", "A", "A1", 0], ["listen", "A"],
        ["sock", "B", 4, {"ra": 1}], ["bind", "B", "ANY4", 0]],
    "SO_REUSEADDR both bound, both listen": [
        ["sock", "A", 4, {"ra": 1}], ["bind", "A", "ANY4", 0],
        ["sock", "B", 4, {"ra": 1}], ["bind", "B", "A1", 0],
        ["listen", "A"], ["listen", "B"]],
    "SO_REUSEADDR same address, both listen": [
        ["sock", "A", 4, {"ra": 1}], ["bind", "A", "A1", 0],
        ["sock", "B", 4, {"ra": 1}], ["bind", "B", "A1", 0],
        ["listen", "B"], ["listen", "A"]],
    "SO_REUSEADDR on one only": [
        ["sock", "A", 4, {"ra": 1}], ["bind", "A", "ANY4", 0],
        ["sock", "B", 4, {}], ["bind", "B", "A1", 0]],
    "SO_REUSEPORT wildcard and specific": [
        ["sock", "A", 4, {"rp": 1}], ["bind", "A", "ANY4", 0], ["listen", "A"],
        ["sock", "B", 4, {"rp": 1}], ["bind", "B", "A1", 0], ["listen", "B"]],
    "two specific addresses": [
        ["sock", "A", 4, {}], ["bind", "A", "A1", 0], ["listen", "A"],
        ["sock", "B", 4, {}], ["bind", "B", "A2", 0], ["listen", "B"]],
    "dual-stack [::] then 0.0.0.0": [
        ["sock", "A", 6, {"v6only": 0}], ["bind", "A", "::", 0], ["listen", "A"],
        ["sock", "B", 4, {}], ["bind", "B", "ANY4", 0]],
    "V6ONLY [::] then 0.0.0.0": [
        ["sock", "A", 6, {"v6only": 1}], ["bind", "A", "::", 0], ["listen", "A"],
        ["sock", "B", 4, {}], ["bind", "B", "ANY4", 0], ["listen", "B"]],
    "dual-stack [::] then a specific IPv4": [
        ["sock", "A", 6, {"v6only": 0}], ["bind", "A", "::", 0], ["listen", "A"],
        ["sock", "B", 4, {}], ["bind", "B", "A1", 0]],
    "SO_REUSEADDR dual-stack [::] and 0.0.0.0, both listen": [
        ["sock", "A", 6, {"v6only": 0, "ra": 1}], ["bind", "A", "::", 0],
        ["sock", "B", 4, {"ra": 1}], ["bind", "B", "ANY4", 0],
        ["listen", "A"], ["listen", "B"]],
}


def concrete(steps, l, host, port):
    subst = {"ANY4": "0.0.0.0", "A1": l.addr(host, 1), "A2": l.addr(host, 2)}
    return [[subst.get(x, x) for x in s[:3]] + ([port] if s[0] == "bind" else s[3:])
            for s in steps]


def test_shim_listen_conflicts_like_linux(engine, progs):
    d = engine(paths=2)
    l = d.lab
    seen = {}
    for i, (name, steps) in enumerate(SEQUENCES.items()):
        port = 7400 + i
        kern = prog(progs, l, "server", concrete(steps, l, "server", port))
        ours = prog(progs, l, "client", concrete(steps, l, "client", port), d.sock)
        seen[name] = (kern.results, ours.results)
        kern.stop()
        ours.stop()
    bad = {k: v for k, v in seen.items() if v[0] != v[1]}
    assert not bad, f"(Linux, shim) differ: {json.dumps(bad, indent=1)}"
    # the sequences do cover both outcomes at both calls
    flat = [r for k, _ in seen.values() for r in k]
    assert any(r.startswith("bind") and r.endswith("EADDRINUSE") for r in flat)
    assert any(r.startswith("listen") and r.endswith("EADDRINUSE") for r in flat)


def test_shim_listen_retry_after_eaddrinuse(engine, progs):
    """A listen() refused with EADDRINUSE leaves the socket bound and
    unconnected, as on Linux (poll(): OUT|HUP like an unconnected TCP
    socket, not the nothing of a listener): once the other listener is
    closed, listen() again succeeds and the socket accepts a connection.
    Same answers with and without the shim."""
    d = engine(paths=2)
    l = d.lab
    steps = [["sock", "A", 4, {"ra": 1}], ["bind", "A", "ANY4", 0],
             ["sock", "B", 4, {"ra": 1}], ["bind", "B", "A1", 0],
             ["listen", "A"], ["listen", "B"], ["poll", "B"], ["close", "A"], ["listen", "B"],
             ["poll", "B"]]
    want = ["bind A ok", "bind B ok", "listen A ok", "listen B EADDRINUSE", "poll B OUT|HUP",
            "close A ok", "listen B ok", "poll B -"]
    for host, port, sock in (("server", 7460, None), ("client", 7461, d.sock)):
        p = prog(progs, l, host, concrete(steps, l, host, port), sock)
        assert p.results == want, (host, p.results, p.stop())
        a1 = l.addr(host, 1)
        assert kconnect(l, a1, port) == "connected", host
        assert p.accepted() == ("B", a1), host
        p.stop()
