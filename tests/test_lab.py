"""Integration tests of the multipath netlab (lab/netlab.py, lab/linkemu.c),
proved with the Linux kernel's own MPTCP on both hosts. Root only: they
skip with the reason printed otherwise. No sleeps to synchronise: every
wait is on a condition with a deadline."""
import json
import subprocess

import pytest

from netlab_fixtures import (NETLAB, NETTOOL, PY, Lab, LabError, PathSpec, leftovers,  # noqa: F401
                             lab, lab_skip_reason, mptcp_counters, pid_alive, ping, transfer,
                             wait_for)


def _router_tx(lab_, p):
    """Bytes the path's router sent towards the server and the client."""
    s, c = lab_.link_stats(p, "s"), lab_.link_stats(p, "c")
    return s["tx_packets"], c["tx_packets"], s["tx_bytes"]


@pytest.mark.parametrize("family", [4, 6])
def test_lab_topology_ping_each_path(lab, family):
    lab_ = lab(paths=2)
    for p in (1, 2):
        before = {q: _router_tx(lab_, q) for q in (1, 2)}
        res = ping(lab_, p, family, count=4)
        assert res["received"] == 4, f"path {p} IPv{family}: {res}"
        after = {q: _router_tx(lab_, q) for q in (1, 2)}
        other = 3 - p
        # the echo went through this path's router both ways, not the other one
        assert after[p][0] - before[p][0] >= 4 and after[p][1] - before[p][1] >= 4
        assert after[other][0] - before[other][0] < 4


def test_lab_routes_carry_cubic(lab):
    lab_ = lab(paths=2)
    for p in (1, 2):
        for fam in (4, 6):
            out = lab_.run("client", ["ip", "route", "get", lab_.addr("server", p, fam),
                                      "from", lab_.addr("client", p, fam)]).stdout
            assert "congctl cubic" in out, out
            assert f"dev p{p}" in out, out


def test_lab_delay_adds_rtt(lab):
    lab_ = lab(paths=2, delays=[20, 0])
    slow = ping(lab_, 1, count=10)
    fast = ping(lab_, 2, count=10)
    print(f"RTT +20 ms path: {slow}; plain path: {fast}")
    assert slow["received"] == 10 and fast["received"] == 10
    # The emulator's accuracy shows in the minimum; the average also carries
    # scheduling noise of a busy 2-core machine, so it gets more room.
    assert 19.9 <= slow["min"] <= 22.0 and slow["avg"] <= 28.0, slow
    assert fast["min"] < 2.0, fast
    slow6 = ping(lab_, 1, family=6, count=5)
    assert 19.9 <= slow6["min"] <= 22.0 and slow6["avg"] <= 28.0, slow6


def test_lab_delay_changes_at_run_time(lab):
    lab_ = lab(paths=1, emu=True)
    assert ping(lab_, 1, count=3)["avg"] < 2.0
    lab_.set_path(1, delay_ms=30)
    res = ping(lab_, 1, count=5)
    assert 29.9 <= res["min"] and res["avg"] <= 33.0, res


def test_lab_jitter_never_reorders(lab):
    lab_ = lab(paths=1, delays=[10], jitters=[4])
    res = ping(lab_, 1, count=20, interval=0.005)
    assert res["received"] == 20
    # 5 ms +- 4 ms each way: 2..18 ms (plus scheduling noise on a 2-vCPU VM)
    assert res["min"] >= 2.0 - 0.1 and res["max"] <= 18.0 + 5.0, res
    assert res["max"] - res["min"] > 1.0, res  # jitter is there
    stats = lab_.emu_stats(1)
    assert stats[0]["passed"] >= 20 and stats[0]["overflow"] == 0


def test_lab_rate_tbf_goodput(lab):
    lab_ = lab(paths=2, rates=[50, None])
    sink, _ = transfer(lab_, lab_.addr("server", 1), seconds=3.0, port=5202)
    print(f"TCP goodput over 50 Mbit/s TBF: {sink['goodput_mbit']:.2f} Mbit/s")
    # lab.md: 50 Mbit/s of TBF (L2 bytes) carries at most 47.8 Mbit/s of TCP.
    # Floor at 90 % of that ceiling: the sender is Python on a 2-core VM,
    # and a short run under load lost up to 7 % here. A missing TBF gives
    # Gbit/s and trips the upper bound.
    assert 43.0 <= sink["goodput_mbit"] <= 48.5, sink["goodput_mbit"]


def test_lab_loss_ratio(lab):
    loss = 0.2
    lab_ = lab(paths=1, losses=[loss])
    n = 500
    res = ping(lab_, 1, count=n, interval=0.002, wait=0.5)
    # a round trip survives both directions: (1 - loss)^2 = 0.64; sd ~ 0.021
    ok = res["received"] / res["sent"]
    print(f"loss {loss} each way: {res}")
    assert abs(ok - (1 - loss) ** 2) < 0.09, res
    stats = lab_.emu_stats(1)
    for q in (0, 1):
        ratio = stats[q]["lost"] / stats[q]["rx"]
        assert abs(ratio - loss) < 0.08, stats


@pytest.mark.parametrize("mode", ["drop", "down"])
def test_lab_blackout_stops_and_resumes(lab, mode):
    lab_ = lab(paths=2)
    assert ping(lab_, 1, count=2)["received"] == 2
    lab_.blackout(1, True, mode=mode)
    assert ping(lab_, 1, count=3, interval=0.05, wait=0.3)["received"] == 0
    assert ping(lab_, 2, count=2)["received"] == 2, "the other path must keep working"
    lab_.blackout(1, False, mode=mode)
    wait_for(lambda: ping(lab_, 1, count=1, wait=0.5)["received"] == 1, 5,
             "path 1 to come back after the blackout")


def test_lab_blackout_cli(lab):
    lab_ = lab(paths=2)
    cli = [PY, NETLAB, "blackout", "2", "on", "--run", str(lab_.run_id)]
    subprocess.run(cli, check=True, timeout=30)
    assert ping(lab_, 2, count=2, interval=0.05, wait=0.3)["received"] == 0
    subprocess.run(cli[:4] + ["off"] + cli[5:], check=True, timeout=30)
    wait_for(lambda: ping(lab_, 2, count=1, wait=0.5)["received"] == 1, 5, "path 2 back")


def _subflow_peers(lab_, port):
    """Remote addresses of the established TCP sockets (subflows) on the
    server's port."""
    out = lab_.run("server", ["ss", "-tnH", "state", "established",
                              f"( sport = :{port} )"]).stdout
    return {line.split()[-1].rsplit(":", 1)[0].strip("[]") for line in out.splitlines()}


def test_lab_kernel_mptcp_two_paths(lab):
    lab_ = lab(paths=2, rates=[50, 50])
    port = 5203
    c0 = mptcp_counters(lab_, "server")
    tx0 = {p: _router_tx(lab_, p)[2] for p in (1, 2)}

    def peers(l_):
        want = {l_.addr("client", 1), l_.addr("client", 2)}
        return wait_for(lambda: want <= (got := _subflow_peers(l_, port)) and got, 3,
                        "a subflow on every path")

    sink, src = transfer(lab_, lab_.addr("server", 1), seconds=4.0, mptcp=True, port=port,
                         during=peers)
    assert sink["sha256"] == src["sha256"] and sink["bytes"] == src["bytes"] > 0
    assert {lab_.addr("client", 1), lab_.addr("client", 2)} <= sink["during"]
    c1 = mptcp_counters(lab_, "server")
    assert c1["MPTcpExtMPCapableSYNRX"] - c0["MPTcpExtMPCapableSYNRX"] >= 1
    assert c1["MPTcpExtMPJoinAckRx"] - c0["MPTcpExtMPJoinAckRx"] >= 1
    for p in (1, 2):  # each path carried a fair share of the data
        assert _router_tx(lab_, p)[2] - tx0[p] > 0.35 * sink["bytes"], p
    print(f"kernel MPTCP 2 x 50 Mbit/s: {sink['goodput_mbit']:.2f} Mbit/s")
    # lab.md: the kernel reaches 94.1 Mbit/s (its ceiling with DSS on every segment)
    # on an idle machine; under a loaded test run it measured 81.4. 80 % of the
    # ceiling still proves both paths are used: one path alone gives at most 47.8.
    assert sink["goodput_mbit"] >= 75.0, sink["goodput_mbit"]


def test_lab_kernel_mptcp_ipv6_two_paths(lab):
    lab_ = lab(paths=2)
    port = 5204
    c0 = mptcp_counters(lab_, "server")
    sink, src = transfer(lab_, lab_.addr("server", 1, 6), mptcp=True, port=port,
                         nbytes=20_000_000)
    assert sink["sha256"] == src["sha256"] and sink["bytes"] == 20_000_000
    assert mptcp_counters(lab_, "server")["MPTcpExtMPJoinAckRx"] > c0["MPTcpExtMPJoinAckRx"]


@pytest.mark.parametrize("side", ["client", "server"])
def test_lab_engine_host_setup(lab, side):
    other = "server" if side == "client" else "client"
    lab_ = lab(paths=2, delays=[10, 0], **{side: "engine"})
    rules = lab_.run(side, ["ip", "rule"]).stdout + lab_.run(side, ["ip", "-6", "rule"]).stdout
    addrs = lab_.run(side, ["ip", "-br", "addr"]).stdout
    tun = lab_.run(side, ["ip", "-d", "link", "show", "mptcp0"]).stdout
    assert "tun" in tun
    for p in (1, 2):
        for fam in (4, 6):
            net = lab_.subnet(side, p, fam)
            assert f"from {net} iif mptcp0 lookup {100 + p}" in rules, rules
            # the engine's own address is on no kernel interface
            assert lab_.addr(side, p, fam) + "/" not in addrs, addrs
        fwd = lab_.run(side, ["sysctl", "-n", "net.ipv4.ip_forward"]).stdout.strip()
        assert fwd == "1"
    # An ICMP echo written into the TUN as the engine would leaves over the
    # path of its source address and the answer comes back into the TUN.
    for p, fam in ((1, 4), (2, 4), (1, 6), (2, 6)):
        res = lab_.run(side, [PY, NETTOOL, "tunping", "--src", lab_.addr(side, p, fam),
                              "--dst", lab_.addr(other, p, fam), "--count", "2"], check=False)
        assert res.returncode == 0, (p, fam, res.stdout, res.stderr)
        if p == 1:
            assert '"rtt_ms": [1' in res.stdout, res.stdout  # 10 ms path
    run_id = lab_.run_id
    lab_.down()
    assert leftovers(run_id) == {"netns": [], "pids": [], "state": False}


def test_lab_down_is_complete_and_idempotent(lab):
    lab_ = lab(paths=2, delays=[4, 4])
    run_id, pids = lab_.run_id, list(lab_.emu_pids.values())
    assert len(pids) == 2 and all(pid_alive(p) for p in pids)
    sleeper = lab_.popen("server", ["sleep", "60"])
    lab_.down()
    assert leftovers(run_id) == {"netns": [], "pids": [], "state": False}
    assert not any(pid_alive(p) for p in pids)
    sleeper.wait(timeout=5)  # killed (its status may be reaped by down())
    lab_.down()  # again: nothing to do, no error


def test_lab_cleanup_after_exception():
    reason = lab_skip_reason()
    if reason:
        print(f"SKIP netlab: {reason}")
        pytest.skip(reason)
    seen = {}
    with pytest.raises(RuntimeError):
        with Lab([PathSpec(delay_ms=2)]) as lab_:
            seen["run"] = lab_.run_id
            raise RuntimeError("test body failed")
    assert leftovers(seen["run"]) == {"netns": [], "pids": [], "state": False}
    # a failure half-way through `up` removes what was already built
    broken = Lab([PathSpec(delay_ms=2)], linkemu="/nonexistent/linkemu")
    with pytest.raises(LabError):
        broken.up()
    assert leftovers(broken.run_id) == {"netns": [], "pids": [], "state": False}


def test_lab_cli_up_down_crashed_run():
    reason = lab_skip_reason()
    if reason:
        print(f"SKIP netlab: {reason}")
        pytest.skip(reason)
    out = subprocess.run([PY, NETLAB, "up", "--paths", "2", "--path", "1:delay=2", "--json"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    run_id = json.loads(out)["run"]
    try:
        assert leftovers(run_id)["pids"], "linkemu must run in the router"
        # as if the process that built it had crashed: the state is lost
        for f in (Lab.load(run_id).state_dir).iterdir():
            f.unlink()
        subprocess.run([PY, NETLAB, "down", str(run_id)], check=True, timeout=60)
        assert leftovers(run_id) == {"netns": [], "pids": [], "state": False}
        subprocess.run([PY, NETLAB, "down", str(run_id)], check=True, timeout=60)
    finally:
        subprocess.run([PY, NETLAB, "down", str(run_id)], timeout=60)


def test_lab_linkemu_sigterm_releases_held_packets(lab):
    lab_ = lab(paths=1)
    lab_.set_path(1, delay_up_ms=400, delay_down_ms=0)
    pid = lab_.emu_pids[1]
    def echoes():  # ICMP echo requests the server received
        lines = lab_.run("server", ["cat", "/proc/net/snmp"]).stdout.splitlines()
        icmp = [line.split() for line in lines if line.startswith("Icmp:")]
        return int(icmp[1][icmp[0].index("InEchos")])

    before = echoes()
    pinger = lab_.popen("client", ["ping", "-n", "-q", "-c", "1", "-W", "1",
                                   lab_.addr("server", 1)], stdout=subprocess.DEVNULL)
    try:
        wait_for(lambda: lab_.emu_stats(1)[0]["held"] >= 1, 5, "the echo request held")
        proc = next(p for p in lab_._procs if p.pid == pid)
        proc.terminate()
        assert proc.wait(timeout=5) == 0
        # the held echo request was accepted, long before its 400 ms were up
        wait_for(lambda: echoes() > before, 0.3, "the held packet to be forwarded")
    finally:
        pinger.kill()
        pinger.wait()
