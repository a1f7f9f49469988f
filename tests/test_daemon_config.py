"""mptcpextd settings at run time (`mptcpext set KEY VALUE` / `get KEY`,
RPC OPT_SET/OPT_GET) and listeners (LISTEN on an address, UNLISTEN).

Root only (the lab fixture skips otherwise). The engine runs in the lab's
`client` host against a kernel MPTCP server; every wait is a condition
with a deadline.

    make && /usr/bin/python3 -m pytest -q tests/test_daemon_config.py
"""
import socket
import struct

import pytest

from netlab_fixtures import PY, lab, wait_for  # noqa: F401 (lab: fixture)
from test_daemon import rpc_client, rpc_msg
from test_interop import (EApp, KApp, apps, conn_of, engine,  # noqa: F401 (fixtures)
                          kcount, sf_to)

T_STATUS, T_END, T_CONN_LIST, T_LISTEN, T_UNLISTEN = 1, 2, 41, 46, 47


def streaming(d, apps, port, nsend=1 << 20):
    """A kernel sink/source on `port` and an engine client streaming to it
    until stopped; returns (KApp, EApp)."""
    l = d.lab
    k = KApp(l, "listen", "0.0.0.0", port, nsend)
    apps.append(k)
    k.expect("listening")
    e = EApp(d, ["connect", l.addr("server", 1, 4), str(port)], None)
    apps.append(e)
    k.expect("connected")
    return k, e


def finish(k, e):
    e.stop()
    kres = k.result()
    k.release()
    eres = e.result()
    assert eres["rc"] == 0, eres["err"]
    assert (eres["tx"], eres["tx_sha"]) == (kres["rx"], kres["rx_sha"])
    assert (kres["tx"], kres["tx_sha"]) == (eres["rx"], eres["rx_sha"])


def sent_split(d):
    """(connection-level new bytes, sum of the subflows' bytes) sent so far."""
    c = conn_of(d)
    return c["bytes_sent"], sum(s["bytes_sent"] for s in c["subflows"])


def copies_per_byte(d, min_new=1 << 20, timeout=60):
    """How many times each new byte goes on the wire while min_new more
    bytes are sent: ~1 for default, ~number of subflows for redundant."""
    c0, s0 = sent_split(d)
    wait_for(lambda: sent_split(d)[0] - c0 >= min_new, timeout, f"{min_new} new bytes")
    c1, s1 = sent_split(d)
    return (s1 - s0) / (c1 - c0)


def test_config_scheduler_new_and_running_connections(engine, apps):
    """`set scheduler redundant` before a connection: it sends every byte
    on both subflows (the kernel counts the duplicates); `set scheduler
    default` while it runs switches it back at once."""
    d = engine(rates=20)
    l = d.lab
    d.cli("endpoint", "add", l.addr("client", 2, 4), "id", "2", "subflow")
    d.cli("set", "scheduler", "redundant")
    assert d.cli("get", "scheduler").stdout == "scheduler redundant\n"
    k, e = streaming(d, apps, 5601)
    wait_for(lambda: len(sf_to(d)) == 2, 30, "two subflows")
    dup0 = kcount(l, "DuplicateData")
    assert copies_per_byte(d) >= 1.6
    assert kcount(l, "DuplicateData") - dup0 >= 100  # the kernel dropped our copies
    d.cli("set", "scheduler", "default")
    assert d.json("get", "scheduler") == {"scheduler": "default"}
    copies_per_byte(d, 256 << 10)  # what was queued under the old one drains
    assert copies_per_byte(d) <= 1.25
    finish(k, e)


def test_config_cc_applies_to_new_connections(engine, apps):
    """`set cc reno`: connections opened from then on use reno (shown in
    `mptcpext conn --json` sockopt.cc); a running one keeps its own, as
    with net.ipv4.tcp_congestion_control."""
    d = engine(rates=50)
    k1, e1 = streaming(d, apps, 5602)
    first = wait_for(lambda: conn_of(d), 10, "the first connection")
    assert first["sockopt"]["cc"] == "cubic", first["sockopt"]
    d.cli("set", "cc", "reno")
    assert d.cli("get", "cc").stdout == "cc reno\n"
    k2, e2 = streaming(d, apps, 5603)
    conns = wait_for(lambda: len(c := [x for x in d.json("conn") if not x["listen"]]) == 2
                     and c, 10, "two connections")
    by_port = {c["rport"]: c["sockopt"]["cc"] for c in conns}
    assert by_port == {5602: "cubic", 5603: "reno"}, by_port
    finish(k1, e1)
    finish(k2, e2)


def test_config_extkey_policy_at_run_time(engine, apps):
    """`set extkey prefer` / `never`: the next active open offers E (and,
    Linux ignoring it, retries without) or does not."""
    d = engine(rates=50)
    if "MPTcpExtMPExtKeyOffered" not in d.counters():
        pytest.skip("the core has no external-key counters")
    for policy, offered in (("prefer", 1), ("never", 0)):
        d.cli("set", "extkey", policy)
        assert d.json("get", "extkey") == {"extkey": policy}
        before = d.counters()["MPTcpExtMPExtKeyOffered"]
        k, e = streaming(d, apps, 5604)
        wait_for(lambda: conn_of(d) and conn_of(d)["mptcp"], 10, "an MPTCP connection")
        finish(k, e)
        assert d.counters()["MPTcpExtMPExtKeyOffered"] - before == offered, policy
        wait_for(lambda: conn_of(d) is None, 10, "the connection to close")


def test_config_log_level_at_run_time(engine):
    """At level warn `set` lines (info) are not logged; after `set
    log-level info` they appear at once (the test daemon starts with -v)."""
    d = engine()
    d.cli("set", "log-level", "warn")
    d.cli("set", "events-interval", "200")
    assert "set events-interval 200" not in d.log.read_text()
    d.cli("set", "log-level", "info")
    assert d.cli("get", "log-level").stdout == "log-level info\n"
    d.cli("set", "events-interval", "100")
    wait_for(lambda: "set events-interval 100" in d.log.read_text(), 10, "the info line")
    d.cli("set", "log-level", "error")
    d.cli("set", "events-interval", "300")
    assert "set events-interval 300" not in d.log.read_text()


@pytest.mark.parametrize("args, code, msg", [
    (["set", "scheduler", "fastest"], 1, 'scheduler: unknown "fastest" (default, redundant, '
                                         'roundrobin)'),
    (["set", "cc", "bbr"], 1, 'cc: unknown "bbr" (cubic, reno, lia)'),
    (["set", "log-level", "loud"], 1, 'log-level: unknown value "loud"'),
    (["set", "extkey", "always"], 1, 'extkey: unknown value "always"'),
    (["set", "sndbuf", "8X"], 1, 'sndbuf: expected a size from 4096 bytes to 1G (K/M/G '
                                 'suffixes), got "8X"'),
    (["set", "rcvbuf", "2G"], 1, 'rcvbuf: expected a size from 4096 bytes to 1G'),
    (["set", "checksum", "maybe"], 1, 'checksum: expected on or off, got "maybe"'),
    (["set", "mptcp", "off"], 1, "mptcp can only be set at start (the stack takes it when "
                                 "mptcpextd starts"),
    (["set", "bogus", "1"], 1, 'unknown key "bogus"'),
    (["get", "bogus"], 1, 'unknown key "bogus"'),
    (["set", "scheduler"], 2, "usage: mptcpext set KEY VALUE"),
])
def test_config_errors_are_clear(engine, args, code, msg):
    d = engine(paths=1)
    p = d.cli(*args, check=False)
    assert p.returncode == code and msg in p.stderr, (p.returncode, p.stderr)
    # nothing changed
    assert d.json("get", "scheduler") == {"scheduler": "default"}
    assert d.json("get", "sndbuf") == {"sndbuf": str(4 << 20)}


def test_config_startup_values_reach_connections(engine, apps):
    """Settings given at start (flags) are the new connections' too."""
    d = engine(extra=["--scheduler", "redundant", "--cc", "lia"], rates=20)
    l = d.lab
    d.cli("endpoint", "add", l.addr("client", 2, 4), "id", "2", "subflow")
    k, e = streaming(d, apps, 5605)
    wait_for(lambda: len(sf_to(d)) == 2, 30, "two subflows")
    assert conn_of(d)["sockopt"]["cc"] == "lia"
    assert copies_per_byte(d) >= 1.6
    finish(k, e)


# ---- listeners -------------------------------------------------------------------------

def listen_body(port, local=None):
    addr = (struct.pack("<B3x", 4) + socket.inet_aton(local) + bytes(12)) if local \
        else bytes(20)
    return struct.pack("<IBBH", 0, 0, 0, 0) + addr + struct.pack("<HHI", port, 0, 0) + bytes(64)


def rpc_status(s, mtype, body, rid):
    """Send one request on a raw control socket; (status, message) of the
    STATUS answer."""
    s.send(rpc_msg(mtype, body, req_id=rid))
    data = s.recv(8192)
    _, _, rtype, _, got = struct.unpack_from("<IHHII", data)
    assert (rtype, got) == (T_STATUS, rid), (rtype, got)
    status = struct.unpack_from("<i", data, 16)[0]
    return status, data[24:].split(b"\0")[0].decode()


KCONNECT = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
s.settimeout(float(sys.argv[3]))
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
    print("connected", flush=True)
except ConnectionRefusedError:
    print("refused", flush=True)
except (socket.timeout, TimeoutError):
    print("timeout", flush=True)
"""


def kconnect(l, addr, port, timeout=5):
    p = l.run("server", [PY, "-c", KCONNECT, addr, str(port), str(timeout)],
              timeout=timeout + 30)
    return p.stdout.strip()


def test_unlisten(engine):
    """UNLISTEN removes a listener: it leaves `mptcpext conn`, a second
    UNLISTEN says ENOENT, the port can be listened on again."""
    d = engine(paths=1)
    s = rpc_client(d)
    assert rpc_status(s, T_LISTEN, listen_body(7100), 1)[0] == 0
    wait_for(lambda: [c["lport"] for c in d.json("conn") if c["listen"]] == [7100], 10,
             "the listener")
    assert rpc_status(s, T_LISTEN, listen_body(7100), 2)[0] == -98  # EADDRINUSE
    assert rpc_status(s, T_UNLISTEN, listen_body(7100), 3)[0] == 0
    assert [c for c in d.json("conn") if c["listen"]] == []
    st, msg = rpc_status(s, T_UNLISTEN, listen_body(7100), 4)
    assert st == -2 and "no listener on port 7100" in msg, (st, msg)  # ENOENT
    assert rpc_status(s, T_LISTEN, listen_body(7100), 5)[0] == 0
    assert [c["lport"] for c in d.json("conn") if c["listen"]] == [7100]
    s.close()
    # the listener goes with its client
    wait_for(lambda: [c for c in d.json("conn") if c["listen"]] == [], 10, "the listener to go")


def test_unlisten_refuses_new_connections(engine):
    """After UNLISTEN a kernel client is refused (RST), as after close() of
    a listening socket."""
    d = engine(paths=1)
    l = d.lab
    s = rpc_client(d)
    assert rpc_status(s, T_LISTEN, listen_body(7101), 1)[0] == 0
    assert rpc_status(s, T_UNLISTEN, listen_body(7101), 2)[0] == 0
    assert kconnect(l, l.addr("client", 1, 4), 7101) == "refused"
    s.close()


def test_listen_on_one_address(engine, apps):
    """LISTEN with a local address takes connections to that address only;
    the same port on another address is refused, and can get a listener of
    its own; a listener on every address then conflicts (EADDRINUSE, as
    bind(2) without SO_REUSEADDR/SO_REUSEPORT on Linux)."""
    d = engine(paths=2)
    l = d.lab
    a1, a2 = l.addr("client", 1, 4), l.addr("client", 2, 4)
    s = rpc_client(d)
    assert rpc_status(s, T_LISTEN, listen_body(7102, a2), 1)[0] == 0
    conns = [c for c in d.json("conn") if c["listen"]]
    assert conns and conns[0]["local"] == a2, conns
    assert kconnect(l, a1, 7102) == "refused"
    assert kconnect(l, a2, 7102) == "connected"
    st, msg = rpc_status(s, T_LISTEN, listen_body(7102), 2)
    assert st == -98 and "already has a listener" in msg, (st, msg)  # EADDRINUSE
    assert rpc_status(s, T_LISTEN, listen_body(7102, a2), 3)[0] == -98
    assert rpc_status(s, T_LISTEN, listen_body(7102, a1), 4)[0] == 0
    assert sorted(c["local"] for c in d.json("conn") if c["listen"]) == sorted([a1, a2])
    assert kconnect(l, a1, 7102) == "connected"
    # UNLISTEN names one of them by its address: the other stays
    assert rpc_status(s, T_UNLISTEN, listen_body(7102, a2), 5)[0] == 0
    assert [c["local"] for c in d.json("conn") if c["listen"]] == [a1]
    assert kconnect(l, a2, 7102) == "refused"
    assert kconnect(l, a1, 7102) == "connected"
    s.close()
