"""mptcpextd with `--tun-napi on` (the TUN opened with IFF_NAPI, its NAPI
instance threaded) on real packets: engine <-> engine both ways, and a
kernel MPTCP client against an engine server, SHA-256 checked at both ends.

With IFF_NAPI the kernel receives what the engine writes through GRO, so
consecutive 1500-byte segments of a subflow may be merged into one skb
before they are forwarded, and the TUN on the far end cuts them again: the
MPTCP options of the merged segments (DSS mappings included) must survive
that unchanged, which the checksums of the data prove. The tests also check
that the device is really in threaded NAPI mode and that the routers saw
fewer skbs than the engine wrote segments (at least one merge). They never
assert a rate. The default, `auto`, threads the NAPI only while the daemon
writes in bursts (userstack/io/napigov.h): its test drives the switches both
ways through real transfers and reads them in sysfs and the counters.

Root only (the lab fixture skips otherwise); unshaped paths. Nothing sleeps
to synchronise.

    make && /usr/bin/python3 -m pytest -q tests/test_tun_napi.py
"""
import pytest

from netlab_fixtures import lab, wait_for  # noqa: F401
from test_daemon import Daemon
from test_interop import (NEVER, EApp, KApp, apps, check_both,  # noqa: F401
                          engine, engines, engines_both_ways, kernel_to_engine)

NAPI = ["--tun-napi", "on"]
NBYTES = 24 << 20


def _threaded(l, who):
    p = l.run(who, ["cat", "/sys/class/net/mptcp0/threaded"])
    return p.stdout.strip()


def _router_skbs(l, dev):
    """Packets the router of path 1 received on `dev` ('c': from the client)."""
    return l.link_stats(1, dev)["rx_packets"]


def test_tun_napi_engine_engine_both_ways(engines):
    """Two engines with tun-napi: 24 MB each way over one unshaped path."""
    dc, ds = engines(NEVER + NAPI, NEVER + NAPI, paths=1)
    l = dc.lab
    assert _threaded(l, "client") == "1" and _threaded(l, "server") == "1"
    c0, s0 = _router_skbs(l, "c"), _router_skbs(l, "s")
    o0c, o0s = dc.counters()["TcpOutSegs"], ds.counters()["TcpOutSegs"]
    engines_both_ways(dc, ds, 5611, NBYTES)
    # GRO merged some of what each engine wrote (each segment of ours is
    # one skb at the router unless merged)
    segs_c = dc.counters()["TcpOutSegs"] - o0c
    segs_s = ds.counters()["TcpOutSegs"] - o0s
    skbs_c, skbs_s = _router_skbs(l, "c") - c0, _router_skbs(l, "s") - s0
    print(f"\nclient: {segs_c} segments -> {skbs_c} skbs; server: {segs_s} -> {skbs_s}")
    assert 0 < skbs_c < segs_c and 0 < skbs_s < segs_s


def test_tun_napi_kernel_client_engine_server(engine, apps):
    """Kernel MPTCP client -> engine server with tun-napi, both ways: the
    kernel's TCP receives segments that GRO merged and the TUN cut."""
    d = engine(NAPI, paths=1)
    assert _threaded(d.lab, "client") == "1"
    kernel_to_engine(d, apps, 5613, NBYTES)


def _napi_switches(d):
    c = d.counters()
    return c["MpxdTunNapiThreaded"], c["MpxdTunNapiUnthreaded"]


def test_tun_napi_auto_threads_only_bursts(engines):
    """The default (auto): IFF_NAPI, its NAPI unthreaded while packets go
    alone (each would cost the NAPI thread a wake-up), threaded while the
    daemon writes in bursts (napigov.h). A bulk sender goes threaded; its
    receiver, which writes ACKs one or two at a time, never does; short
    exchanges then bring the sender back. Every transfer is checked."""
    dc, ds = engines(NEVER, NEVER, paths=1)
    l = dc.lab
    assert dc.cli("get", "tun-napi").stdout.split()[-1] == "auto"
    assert _threaded(l, "client") == "0" and _threaded(l, "server") == "0"
    log = dc.log.read_text()
    assert "NAPI threaded while writes come in bursts) open" in log, log
    assert "reopened without IFF_NAPI" not in log, log

    srv = EApp(ds, ["listen", "5617"], 0, who="server")
    try:
        wait_for(lambda: any(c["listen"] for c in ds.json("conn")), 10, "the listener")
        cli = EApp(dc, ["connect", l.addr("server", 1, 4), "5617"], None)
        try:
            wait_for(lambda: _napi_switches(dc)[0] >= 1, 30, "the sender's NAPI threaded")
            assert _threaded(l, "client") == "1"
        finally:
            cli.stop()
        r_cli, r_srv = cli.result(), srv.result()
    finally:
        srv.kill()
    assert r_cli["rc"] == 0 and r_srv["rc"] == 0, (r_cli, r_srv)
    assert (r_cli["tx"], r_cli["tx_sha"]) == (r_srv["rx"], r_srv["rx_sha"])
    cc, cs = dc.counters(), ds.counters()
    print(f"\nbulk: {r_cli['tx'] >> 20} MB; steps that wrote / packets: sender "
          f"{cc['MpxdTunTxSteps']} / {cc['MpxdTunTxPkts']}, receiver {cs['MpxdTunTxSteps']} / "
          f"{cs['MpxdTunTxPkts']}")
    assert _napi_switches(ds) == (0, 0) and _threaded(l, "server") == "0"

    # request/response: a few packets per loop step, until the sender's
    # governor (a second after its switch at the earliest) turns it back
    port = 5618
    while _napi_switches(dc)[1] == 0:
        engines_both_ways(dc, ds, port, 2048)
        port += 1
        assert port < 5618 + 400, "the sender's NAPI stayed threaded"
    print(f"unthreaded after {port - 5618} exchanges")
    assert _threaded(l, "client") == "0"
    assert _napi_switches(dc) == (1, 1)


# sysfs mounted over by an empty tmpfs: the daemon cannot find the device's
# attributes, as in a container whose /sys is not its network namespace's
NO_SYSFS = ["unshare", "-m", "sh", "-c", 'mount -t tmpfs none /sys && exec "$@"', "sh"]


@pytest.mark.parametrize("mode", ["auto", "on"])
def test_tun_napi_without_sysfs(lab, tmp_path, mode):
    """auto falls back to a plain TUN when the NAPI cannot be made threaded
    (IFF_NAPI alone only costs: GRO would merge nothing); on keeps IFF_NAPI
    and warns. Data flows either way."""
    l = lab(client="engine", paths=1)
    d = Daemon(l, tmp_path, NEVER + ["--tun-napi", mode], wrap=NO_SYSFS)
    try:
        log = d.log.read_text()
        if mode == "auto":
            assert "reopened without IFF_NAPI" in log and ", threaded NAPI) open" not in log, log
        else:
            assert "threaded NAPI: " in log and "GRO will not merge" in log, log
        assert _threaded(l, "client") == "0"
        srv = KApp(l, "listen", "0.0.0.0", 5615, 1 << 20)
        try:
            srv.expect("listening")
            cli = EApp(d, ["connect", l.addr("server", 1, 4), "5615"], 1 << 20)
            try:
                eres = cli.result()
            finally:
                cli.kill()
            kres = srv.result()
        finally:
            srv.kill()
        check_both(eres, kres)
    finally:
        assert d.stop() == 0, d.log.read_text()[-4000:]
