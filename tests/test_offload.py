"""mptcpextd with `--offload on` (TUN vnet headers, TSO and GRO) on real
packets: engine <-> engine and engine <-> Linux kernel MPTCP, both
directions, SHA-256 checked at both ends.

With offload the engine writes TSO super segments (up to ~64 KB, the kernel
cuts them into MSS-sized segments that all carry the same MPTCP options)
and reads GRO'd ones (the peer's TSO, forwarded whole through the lab's
veths). Each test also checks that super segments were really used: the
engine's segment counters are far below bytes / MSS.

Root only (the lab fixture skips otherwise); unshaped paths, so that the
kernel on the other side uses TSO too. Nothing sleeps to synchronise.

    make && /usr/bin/python3 -m pytest -q tests/test_offload.py
"""
from netlab_fixtures import lab, wait_for  # noqa: F401
from test_interop import (NEVER, EApp, KApp, apps, check_both, conn_of,  # noqa: F401
                          engine, engines, engines_both_ways, kernel_limits,
                          kernel_to_engine, sf_to)

OFFLOAD = ["--offload", "on"]
NBYTES = 24 << 20
MSS = 1460


def _check_super(d, sent, received):
    c = d.counters()
    print(f"\n{d.sock}: out {sent} B / {c['TcpOutSegs']} segs, in {received} B / "
          f"{c['TcpInSegs']} segs")
    assert c["TcpOutSegs"] > 0 and c["TcpInSegs"] > 0, c
    if sent:
        assert sent / c["TcpOutSegs"] > 4 * MSS, (sent, c["TcpOutSegs"])
    if received:
        assert received / c["TcpInSegs"] > 4 * MSS, (received, c["TcpInSegs"])


def test_offload_engine_engine_both_ways(engines):
    """Two engines with offload: 24 MB each way over one unshaped path,
    both directions sent as super segments and read back GRO'd."""
    dc, ds = engines(NEVER + OFFLOAD, NEVER + OFFLOAD, paths=1)
    engines_both_ways(dc, ds, 5601, NBYTES)
    _check_super(dc, NBYTES, NBYTES)
    _check_super(ds, NBYTES, NBYTES)


def test_offload_engine_client_kernel_server(engine, apps):
    """Engine client with offload against a kernel MPTCP server, two
    unshaped paths (a join): the kernel takes our super segments cut by
    its own TSO (every segment with our DSS) and its TSO reaches us GRO'd."""
    d = engine(OFFLOAD, paths=2)
    l = d.lab
    kernel_limits(l, 2, 2)
    d.cli("limits", "set", "subflows", "2", "add_addr_accepted", "2")
    d.cli("endpoint", "add", l.addr("client", 2, 4), "id", "2", "subflow")
    k = KApp(l, "listen", "0.0.0.0", 5602, NBYTES)
    apps.append(k)
    k.expect("listening")
    e = EApp(d, ["connect", l.addr("server", 1, 4), "5602"], NBYTES)
    apps.append(e)
    k.expect("connected")
    kres = k.result()
    k.release()
    eres = e.result()
    check_both(eres, kres)
    _check_super(d, NBYTES, NBYTES)


def test_offload_kernel_client_engine_server(engine, apps):
    """Kernel MPTCP client -> engine server with offload, both ways."""
    d = engine(OFFLOAD, paths=1)
    kernel_to_engine(d, apps, 5603, NBYTES)
    _check_super(d, NBYTES, NBYTES)
