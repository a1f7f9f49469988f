"""Connect errors through the shim (issue 7): what getsockopt(SO_ERROR)
says after a refused, timed-out, host-unreachable or network-unreachable
connect, compared with what the kernel's own TCP says for the same case in
the same lab (the shimmed program must see the errno the unshimmed one
sees). And close() from a signal handler must not hang (shim/fdtab.c).

The lab: both hosts are engines (mptcpextd, tests/test_shim.py's Engine);
the client's kernel routes the test prefixes over path 1 like the engine
does, and path 1's router answers or drops them:

    10.R.129.2:7999   the server engine, no listener: RST   -> ECONNREFUSED
    10.254.x.y        lab BLACKHOLE (routers drop it)       -> ETIMEDOUT
                      (TCP_SYNCNT 1: about 1 + 2 = 3 s, as Linux)
    10.R.129.98       nft reject with icmp host-unreachable -> EHOSTUNREACH
    10.R.129.97       nft reject with icmp admin-prohibited -> EHOSTUNREACH
    10.253.1.1        no route in the router: ICMP net unreachable -> ENETUNREACH

build/shim_edges `soerror` does a non-blocking connect, polls, and prints
"result ERRNO-NAME how SECONDS". curl --connect-timeout to an unreachable
address is in test_shim.py (test_shim_curl_nginx), not repeated here.

    make && /usr/bin/python3 -m pytest -q tests/test_shim_errors.py
"""
import re
import subprocess
from pathlib import Path

import pytest

import test_shim as ts
from netlab_fixtures import lab  # noqa: F401 (fixture)
from test_shim import engines  # noqa: F401 (fixture: two engine hosts)

ROOT = Path(__file__).resolve().parent.parent
EDGES = ROOT / "build" / "shim_edges"
SIGCLOSE = ROOT / "build" / "shim_sigclose"


def result(r):
    """(errno name, how, seconds) from a `soerror` run."""
    out = ts.check_ok(r, "soerror")
    m = re.search(r"result (\S+) (\S+) ([\d.]+)", out)
    assert m, out
    return m.group(1), m.group(2), float(m.group(3))


def soerror(c, shimmed, addr, port, syncnt=0, ms=20000):
    argv = [str(EDGES), "soerror", addr, str(port), str(syncnt), str(ms)]
    if shimmed:
        return result(c.run(argv, timeout=60))
    return result(c.lab.run("client", argv, check=False, timeout=60))


def setup_unreachables(l):
    r1 = 1
    gw = l.router_addr("client", 1, 4)
    # the client's kernel sends the test prefixes where the engine sends them
    l.run("client", ["ip", "route", "add", "10.253.0.0/16", "via", gw, "dev", "p1"])
    l.run("client", ["ip", "route", "add", "10.254.0.0/16", "via", gw, "dev", "p1"])
    host, prohib = f"10.{l.run_id}.129.98", f"10.{l.run_id}.129.97"
    l.run(r1, ["nft", "-f", "-"], input=(
        "table inet errs {\n"
        "  chain rej { type filter hook forward priority -320; policy accept;\n"
        f"    ip daddr {host} reject with icmp type host-unreachable\n"
        f"    ip daddr {prohib} reject with icmp type admin-prohibited\n"
        "  }\n}\n"))
    return host, prohib


def test_shim_connect_errors_match_kernel(engines):
    c, s = engines()
    l = c.lab
    host, prohib = setup_unreachables(l)
    cases = [
        ("refused", l.addr("server", 1, 4), 7999, 0, "ECONNREFUSED"),
        ("host unreachable", host, 80, 0, "EHOSTUNREACH"),
        ("admin prohibited", prohib, 80, 0, "EHOSTUNREACH"),
        ("net unreachable", "10.253.1.1", 80, 0, "ENETUNREACH"),
        ("timed out", "10.254.1.1", 80, 1, "ETIMEDOUT"),
    ]
    before = c.counters()
    for what, addr, port, syncnt, want in cases:
        kern = soerror(c, False, addr, port, syncnt)
        shim = soerror(c, True, addr, port, syncnt)
        # the kernel's view first: the lab gives the case we think it does
        assert kern[0] == want, (what, "kernel", kern)
        assert shim[0] == want and shim[1] == "so_error", (what, "shim", shim, "kernel", kern)
        if want == "ETIMEDOUT":
            # TCP_SYNCNT 1: the SYN and one retransmission, 1 + 2 s (Linux)
            assert 2.5 < kern[2] < 4.5 and 2.5 < shim[2] < 4.5, (kern, shim)
        else:
            assert shim[2] < 2.0, (what, shim)  # an answer, not a timeout
    after = c.counters()
    d = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    assert d["IcmpInDestUnreachs"] >= 3 and d["MpxIcmpAborts"] >= 3, d
    assert d["TcpExtOutOfWindowIcmps"] == 0, d
    assert d["MpxdShimConnects"] >= len(cases), d


def test_shim_close_in_signal_handler(engines):
    """close() of shimmed sockets from a SIGALRM handler while the main
    thread loops over socket/connect/close: finishes (no deadlock on the
    shim's fd table) within its deadline."""
    c, s = engines()
    srv = ts.serve(s, "acceptloop", "0.0.0.0", 7100, 1000000)
    try:
        r = c.run([str(SIGCLOSE), c.lab.addr("server", 1, 4), 7100, 3000], timeout=30)
        out = ts.check_ok(r, "shim_sigclose")
        m = re.search(r"ok (\d+) loops, (\d+) closed in the handler", out)
        assert m and int(m.group(1)) > 100 and int(m.group(2)) > 10, out
    finally:
        srv.kill()
        srv.wait()
