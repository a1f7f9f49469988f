"""mptcpextd settings the stack takes at run time (`mptcpext set`): checksum,
sndbuf/rcvbuf and the responder's external-key policy. Like the kernel's
sysctls they apply to connections made afterwards; a running connection
keeps what it started with. `mptcpext get` (no key) lists every live value.

Root only (the lab fixture skips otherwise). The engine runs in the lab's
`client` host (policy never at start) against a kernel MPTCP host; every
wait is a condition with a deadline.

    make && /usr/bin/python3 -m pytest -q tests/test_daemon_runtime.py
"""
from test_daemon import rpc_client
from test_daemon_config import (T_LISTEN, finish, kconnect, listen_body, rpc_status,
                                streaming)
from test_interop import apps, engine, kcount  # noqa: F401 (fixtures)
from netlab_fixtures import lab, wait_for  # noqa: F401 (lab: fixture)


def conns_by_rport(d, n):
    """The n data connections of the engine, by remote port."""
    def got():
        c = [x for x in d.json("conn") if not x["listen"]]
        return len(c) == n and c
    return {c["rport"]: c for c in wait_for(got, 10, f"{n} connections")}


def test_runtime_checksum_next_connection(engine, apps):
    """`set checksum on`: the next connection's MP_CAPABLE carries A and it
    runs with DSS checksums (the kernel agrees: RFC 8684 section 3.1, the
    checksum is used when either side asks); the running one keeps none;
    `set checksum off`: the one after that has none again."""
    d = engine(rates=50)
    k1, e1 = streaming(d, apps, 5701)
    wait_for(lambda: conns_by_rport(d, 1)[5701]["mptcp"], 10, "an MPTCP connection")
    d.cli("set", "checksum", "on")
    assert d.cli("get", "checksum").stdout == "checksum on\n"
    k2, e2 = streaming(d, apps, 5702)
    by = conns_by_rport(d, 2)
    assert by[5701]["csum"] is False and by[5702]["csum"] is True, by
    assert by[5702]["mptcp"], by[5702]
    finish(k2, e2)  # data intact both ways with checksums
    d.cli("set", "checksum", "off")
    k3, e3 = streaming(d, apps, 5703)
    by = wait_for(lambda: 5703 in (b := conns_by_rport(d, 2)) and b, 10, "the third connection")
    assert by[5703]["csum"] is False and by[5703]["mptcp"], by
    finish(k1, e1)
    finish(k3, e3)


def test_runtime_buffers_next_connection(engine, apps):
    """`set sndbuf` / `set rcvbuf`: new connections get them (shown as
    sockopt.sndbuf/rcvbuf by `mptcpext conn --json`), a running one keeps
    its own; data moves intact with the small buffers."""
    d = engine(rates=50)
    k1, e1 = streaming(d, apps, 5711)
    d.cli("set", "sndbuf", "256K")
    d.cli("set", "rcvbuf", "512K")
    assert d.json("get", "sndbuf") == {"sndbuf": str(256 << 10)}
    k2, e2 = streaming(d, apps, 5712)
    by = conns_by_rport(d, 2)
    assert (by[5711]["sockopt"]["sndbuf"], by[5711]["sockopt"]["rcvbuf"]) == (4 << 20, 4 << 20)
    assert (by[5712]["sockopt"]["sndbuf"], by[5712]["sockopt"]["rcvbuf"]) == (256 << 10,
                                                                                512 << 10)
    # the send buffer is what it says: never more than that queued
    for _ in range(20):
        c = conns_by_rport(d, 2)[5712]
        assert c["send_queued"] <= 256 << 10, c["send_queued"]
    finish(k1, e1)
    finish(k2, e2)


def test_runtime_extkey_require_answers_plain(engine):
    """`set extkey require` while a listener (no policy of its own) is up:
    the next RFC 8684 SYN to it is answered without MP_CAPABLE (plain TCP:
    no key of ours in clear), the kernel client falls back; a listener
    with its own policy (never) keeps answering MP_CAPABLE."""
    d = engine(paths=1)
    l = d.lab
    a1 = l.addr("client", 1)
    s = rpc_client(d)
    assert rpc_status(s, T_LISTEN, listen_body(7501), 1)[0] == 0
    never = listen_body(7502)
    never = never[:4] + bytes([1]) + never[5:]  # extkey_policy = never
    assert rpc_status(s, T_LISTEN, never, 2)[0] == 0

    def ctr():
        c = d.counters()
        return c["MPTcpExtMPCapableSYNRX"], c["MPTcpExtMPExtKeyRequirePlain"]

    syn0, plain0 = ctr()
    fb0 = kcount(l, "MPCapableFallbackSYNACK")
    assert kconnect(l, a1, 7501) == "connected"
    assert ctr() == (syn0 + 1, plain0)
    d.cli("set", "extkey", "require")
    assert kconnect(l, a1, 7501) == "connected"
    assert ctr() == (syn0 + 1, plain0 + 1)
    assert kcount(l, "MPCapableFallbackSYNACK") == fb0 + 1
    assert kconnect(l, a1, 7502) == "connected"
    assert ctr() == (syn0 + 2, plain0 + 1)
    d.cli("set", "extkey", "never")
    assert kconnect(l, a1, 7501) == "connected"
    assert ctr() == (syn0 + 3, plain0 + 1)
    s.close()


def test_runtime_bad_values_clear_counted_logged(engine):
    """A refused value: exit status 1 with the reason, MpxdConfigRejected
    counts it, a warn line says who and why, and nothing changes."""
    d = engine(paths=1)
    before = d.counters()["MpxdConfigRejected"]
    for args, msg in ((["sndbuf", "100"], "sndbuf: expected a size from 4096 bytes to 1G"),
                      (["rcvbuf", "3G"], "rcvbuf: expected a size from 4096 bytes to 1G"),
                      (["checksum", "sometimes"], 'checksum: expected on or off, got "sometimes"'),
                      (["extkey", "always"], 'extkey: unknown value "always"'),
                      (["mptcp", "off"], "mptcp can only be set at start")):
        p = d.cli("set", *args, check=False)
        assert p.returncode == 1 and msg in p.stderr, (args, p.returncode, p.stderr)
        wait_for(lambda: f"set {' '.join(args)} by uid 0 refused: {msg}" in d.log.read_text(),
                 10, f"the log line for {args}")
    assert d.counters()["MpxdConfigRejected"] == before + 5
    live = d.json("get")
    assert (live["sndbuf"], live["rcvbuf"], live["checksum"], live["extkey"],
            live["mptcp"]) == (str(4 << 20), str(4 << 20), "off", "never", "on"), live


def test_runtime_get_lists_live_values(engine):
    """`mptcpext get` with no key: every setting, text `key value` lines or
    one JSON object; the values are the live ones."""
    d = engine(paths=1)
    d.cli("set", "checksum", "on")
    d.cli("set", "sndbuf", "1M")
    d.cli("set", "extkey", "require")
    live = d.json("get")
    assert {"scheduler", "cc", "limits", "log-level", "path-manager", "addr"} <= set(live)
    assert (live["checksum"], live["sndbuf"], live["extkey"]) == ("on", str(1 << 20), "require")
    text = d.cli("get").stdout.splitlines()
    assert "checksum on" in text and f"sndbuf {1 << 20}" in text and "extkey require" in text
    assert len(text) == len(live)
