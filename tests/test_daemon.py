"""mptcpextd and mptcpext in the namespace lab (issue 6).

Root only (the lab fixture skips otherwise), except the configuration-file
test. Every test builds its own lab with an `engine` client host (TUN mptcp0,
engine addresses 10.R.P.2) and a kernel server host, starts build/mptcpextd
in the engine host on mptcp0, and always stops it and tears the lab down,
also on failure. Nothing sleeps to synchronise: every wait is a condition
with a deadline (netlab.wait_for).

    make && /usr/bin/python3 -m pytest -q tests/test_daemon.py
"""
import errno
import hashlib
import json
import os
import queue
import select
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest

from netlab_fixtures import DAEMON, CLI, PY, lab, stop_process, wait_for  # noqa: F401 (lab is a fixture)

ROOT = Path(__file__).resolve().parent.parent
# MPTCPEXTD / MPTCPEXT override the binaries (e.g. sanitizer builds).
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]

MAGIC, VERSION = 0x5258504D, 1
T_STATUS, T_END, T_ENDP_LIST = 1, 2, 3
T_CONNECTED = 9
T_ENDP_SHOW, T_OPT_SET, T_CONN_LIST, T_CONNECT = 36, 39, 41, 45
T_SOCK_RESULT, T_SOCK_CONNECT_NAMED = 11, 59


class Daemon:
    """mptcpextd in the lab's engine client host."""

    def __init__(self, lab_, tmp, extra=(), wrap=()):
        self.lab = lab_
        self.sock = f"/run/mptcpext/test-{lab_.run_id}.sock"
        self.events = tmp / "events.jsonl"
        self.pcap = tmp / "engine.pcap"
        self.log = tmp / "mptcpextd.log"
        argv = [str(DAEMON), "-v", "--tun", "mptcp0", "--tun-mode", "attach",
                "--socket", self.sock, "--events", str(self.events),
                "--pcap", str(self.pcap)]
        for p in range(1, len(lab_.paths) + 1):
            argv += ["--addr", lab_.addr("client", p, 4)]
        argv = list(wrap) + argv + list(extra)
        self.logf = open(self.log, "w")
        self.proc = lab_.popen("client", argv, stdout=self.logf, stderr=subprocess.STDOUT)
        wait_for(lambda: self.proc.poll() is not None or
                 self.cli("counters", check=False).returncode == 0, 10,
                 "mptcpextd to answer on its socket")
        assert self.proc.poll() is None, f"mptcpextd died: {self.log.read_text()}"

    def cli(self, *args, check=True, user=None, input=None, timeout=60):
        argv = (NOBODY if user == "nobody" else []) + [str(CLI), "--socket", self.sock]
        p = self.lab.run("client", argv + list(args), check=False, input=input,
                         timeout=timeout)
        if check and p.returncode:
            raise AssertionError(f"mptcpext {' '.join(args)} failed ({p.returncode}): "
                                 f"{p.stdout}{p.stderr}")
        return p

    def json(self, *args, user=None):
        return json.loads(self.cli("--json", *args, user=user).stdout)

    def counters(self):
        out = self.cli("counters", "-z").stdout.splitlines()
        return {k: int(v) for k, v in (line.split() for line in out if not line.startswith("#"))}

    def stop(self):
        stop_process(self.proc, 10)
        self.logf.close()
        return self.proc.returncode


@pytest.fixture
def engine(lab, tmp_path):
    """factory: engine(**lab_kwargs) -> Daemon (stopped after the test)."""
    made = []

    def make(extra=(), **kw):
        kw.setdefault("paths", 2)
        l = lab(client="engine", **kw)
        d = Daemon(l, tmp_path, extra)
        made.append(d)
        return d

    try:
        yield make
    finally:
        codes = [(d.stop(), d) for d in made]
    for rc, d in codes:
        # a clean SIGTERM exit; sanitizer builds fail here on leaks or errors
        assert rc == 0, f"mptcpextd exited {rc}:\n{d.log.read_text()[-4000:]}"


_readers = {}


def readline(proc, timeout=30):
    """A line of proc's stdout within timeout seconds ("" if none came or at
    EOF). A thread reads the pipe: select() on a buffered file object would
    miss lines already in its buffer."""
    q = _readers.get(proc)
    if q is None:
        q = _readers[proc] = queue.Queue()

        def pump():
            for line in proc.stdout:
                q.put(line)
            q.put("")
        threading.Thread(target=pump, daemon=True).start()
    try:
        line = q.get(timeout=timeout)
    except queue.Empty:
        return ""
    if line == "":
        q.put("")  # EOF stays EOF
    return line


def datafile(tmp, n):
    """n random bytes in a file (stdin for a child: no pipe to block on)."""
    data = os.urandom(n)
    path = tmp / f"data-{n}"
    path.write_bytes(data)
    return data, open(path, "rb")


def rpc_msg(mtype, body=b"", req_id=1, length=None):
    n = 16 + len(body) if length is None else length
    return struct.pack("<IHHII", MAGIC, VERSION, mtype, n, req_id) + body


def rpc_client(d):
    """A raw control-socket client. A path-bound AF_UNIX socket is reachable
    from any network namespace, so the test connects from its own."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(5)
    s.connect(d.sock)
    return s


def recv_reply(s):
    data = s.recv(8192)
    if not data:
        return None
    magic, ver, mtype, length, rid = struct.unpack_from("<IHHII", data)
    assert (magic, ver, length) == (MAGIC, VERSION, len(data))
    return mtype, rid, data[16:]


# ---- tests -------------------------------------------------------------------------

def test_daemon_rpc_smoke(engine):
    d = engine()
    l = d.lab
    a2, a3 = l.addr("client", 2, 4), f"10.{l.run_id}.3.2"
    v6 = l.addr("client", 2, 6)
    cmds = [[a2, "id", "2", "subflow", "dev", "lo"], [v6, "fullmesh", "subflow"],
            [a3, "id", "7", "backup", "subflow"]]
    for c in cmds:
        d.cli("endpoint", "add", *c)
        l.run("server", ["ip", "mptcp", "endpoint", "add", *c])
    ours = d.cli("endpoint", "show").stdout
    kernel = l.run("server", ["ip", "mptcp", "endpoint", "show"]).stdout
    assert ours == kernel, f"ours:\n{ours}kernel:\n{kernel}"
    assert json.loads(ours and d.cli("--json", "endpoint", "show").stdout) == \
        json.loads(l.run("server", ["ip", "-j", "mptcp", "endpoint", "show"]).stdout)
    assert d.cli("endpoint", "show", "id", "7").stdout == f"{a3} id 7 subflow backup \n"
    # errors are refused like ip does, with a message
    p = d.cli("endpoint", "add", a2, "subflow", check=False)
    assert p.returncode == 1 and "already in use" in p.stderr
    p = d.cli("endpoint", "add", a2, "bogus", check=False)
    assert p.returncode == 2 and 'unexpected "bogus"' in p.stderr
    d.cli("endpoint", "change", "id", "2", "backup")
    l.run("server", ["ip", "mptcp", "endpoint", "change", "id", "2", "backup"])
    d.cli("endpoint", "delete", "id", "7")
    l.run("server", ["ip", "mptcp", "endpoint", "delete", "id", "7"])
    assert d.cli("endpoint", "show").stdout == \
        l.run("server", ["ip", "mptcp", "endpoint", "show"]).stdout
    d.cli("endpoint", "flush")
    assert d.cli("endpoint", "show").stdout == ""
    # limits: same text as ip mptcp limits
    d.cli("limits", "set", "subflows", "3", "add_addr_accepted", "4")
    l.run("server", ["ip", "mptcp", "limits", "set", "subflows", "3", "add_addr_accepted", "4"])
    assert d.cli("limits").stdout == l.run("server", ["ip", "mptcp", "limits"]).stdout
    assert d.json("limits") == {"add_addr_accepted": 4, "subflows": 3}
    p = d.cli("limits", "set", "subflows", "9", check=False)
    assert p.returncode == 1 and "out of range" in p.stderr
    # counters: nstat-like, kernel names, zeros only with -z
    c = d.counters()
    assert c["MPTcpExtMPCapableSYNRX"] == 0 and "TcpActiveOpens" in c
    assert c["MpxdRpcMalformed"] == 0
    plain = d.cli("counters").stdout
    assert "MPTcpExtMPCapableSYNRX" not in plain
    assert d.json("counters", "-z", "MPTcpExtMPCapable*").keys() >= {"MPTcpExtMPCapableSYNRX"}
    # no connections yet
    assert d.json("conn") == []
    # a refused connection reports the errno (the kernel answers RST: no listener)
    p = d.cli("connect", l.addr("server", 1, 4), "9", input="", check=False, timeout=30)
    assert p.returncode == 1 and "Connection refused" in p.stderr, p.stderr
    assert d.json("conn") == []
    # settings at run time
    d.cli("set", "scheduler", "redundant")
    assert d.cli("get", "scheduler").stdout == "scheduler redundant\n"
    d.cli("set", "extkey", "require")
    assert d.json("get", "extkey") == {"extkey": "require"}
    p = d.cli("set", "tun", "other0", check=False)
    assert p.returncode == 1 and "can only be set at start" in p.stderr
    p = d.cli("set", "cc", "bbr", check=False)
    assert p.returncode == 1 and 'unknown "bbr"' in p.stderr


def test_daemon_malformed_client_disconnected(engine):
    d = engine()
    good = rpc_client(d)
    # a valid request works
    good.send(rpc_msg(T_ENDP_SHOW, req_id=5))
    assert recv_reply(good)[:2] == (T_ENDP_LIST, 5)
    bad_msgs = [
        b"\x00" * 3,                                           # shorter than a header
        rpc_msg(T_ENDP_SHOW)[:15],                             # truncated header
        struct.pack("<IHHII", 0xDEADBEEF, 1, T_ENDP_SHOW, 16, 1),  # bad magic
        struct.pack("<IHHII", MAGIC, 9, T_ENDP_SHOW, 16, 1),       # bad version
        rpc_msg(200),                                          # unknown type
        rpc_msg(T_STATUS, b"\x00" * 128),                      # a reply sent to the daemon
        rpc_msg(T_ENDP_SHOW, length=17),                       # header length != datagram
        rpc_msg(T_ENDP_SHOW, b"x"),                            # body on an empty request
        rpc_msg(T_OPT_SET, b"k" * 32 + b"v" * 224),            # unterminated strings
        rpc_msg(T_CONN_LIST, struct.pack("<II", 0x80, 0)),     # flag out of range
        b"\xff" * 5000,                                        # larger than any message
    ]
    before = d.counters()["MpxdRpcMalformed"]
    for i, m in enumerate(bad_msgs):
        s = rpc_client(d)
        s.send(m)
        # the daemon closes this client: recv returns b"" (EOF) before the deadline
        assert s.recv(8192) == b"", f"message {i} was answered"
        s.close()
        # ... and the other client is not affected
        good.send(rpc_msg(T_ENDP_SHOW, req_id=100 + i))
        assert recv_reply(good)[:2] == (T_ENDP_LIST, 100 + i)
    assert d.counters()["MpxdRpcMalformed"] - before == len(bad_msgs)
    assert d.proc.poll() is None
    assert "malformed message" in d.log.read_text()
    # an fd on a message that takes none is malformed too
    s = rpc_client(d)
    r, w = os.pipe()
    socket.send_fds(s, [rpc_msg(T_ENDP_SHOW)], [r])
    assert s.recv(8192) == b""
    os.close(r)
    os.close(w)
    assert d.counters()["MpxdRpcMalformed"] - before == len(bad_msgs) + 1
    good.close()


def test_daemon_other_uid_cannot_see_root_sockets(engine):
    d = engine()
    lst = d.lab.popen("client", [str(CLI), "--socket", d.sock, "listen", "7000"],
                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: any(c["listen"] for c in d.json("conn")), 10, "root's listener")
        mine = d.json("conn")
        assert [(c["state"], c["lport"], c["uid"]) for c in mine] == [("LISTEN", 7000, 0)]
        # nobody sees nothing, may not abort it, may not reconfigure
        assert d.json("conn", user="nobody") == []
        p = d.cli("endpoint", "add", d.lab.addr("client", 2, 4), "subflow", user="nobody",
                  check=False)
        assert p.returncode == 1 and "Operation not permitted" in p.stderr
        p = d.cli("set", "scheduler", "redundant", user="nobody", check=False)
        assert p.returncode == 1 and "Operation not permitted" in p.stderr
        # nobody can read what is public
        assert d.cli("endpoint", "show", user="nobody").returncode == 0
        assert d.cli("counters", user="nobody").returncode == 0
        assert d.counters()["MpxdRpcDenied"] >= 2
        # a listener of nobody is nobody's: root sees both, nobody only theirs
        lst2 = d.lab.popen("client", NOBODY + [str(CLI), "--socket", d.sock, "listen", "7001"],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            wait_for(lambda: len(d.json("conn")) == 2, 10, "nobody's listener")
            assert [c["lport"] for c in d.json("conn", user="nobody")] == [7001]
        finally:
            lst2.kill()
            lst2.wait()
        # the listener goes away with its client
        wait_for(lambda: len(d.json("conn")) == 1, 10, "nobody's listener to go")
    finally:
        lst.kill()
        lst.wait()


RESETSRV = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.listen(4)
print("listening", flush=True)
c, peer = s.accept()
print("accepted", flush=True)
try:
    while c.recv(65536):
        pass
    print("eof", flush=True)
except ConnectionResetError:
    print("reset", flush=True)
"""


def test_daemon_sigterm_cleans_up(engine):
    d = engine()
    l = d.lab
    assert os.path.exists(d.sock)
    lst = l.popen("client", [str(CLI), "--socket", d.sock, "listen", "7000"],
                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    srv = l.popen("server", [PY, "-c", RESETSRV, "5305"], stdout=subprocess.PIPE,
                  stderr=subprocess.PIPE, text=True)
    cli = None
    try:
        assert readline(srv).strip() == "listening"
        cli = l.popen("client", [str(CLI), "--socket", d.sock, "connect",
                                 l.addr("server", 1, 4), "5305"],
                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert readline(srv).strip() == "accepted"
        wait_for(lambda: len(d.json("conn")) == 2, 10, "listener and connection")
        assert d.stop() == 0
        assert not os.path.exists(d.sock)
        # the peer was told: MP_FASTCLOSE resets its connection at once
        assert readline(srv, 10).strip() == "reset"
        kc = {}
        text = l.run("server", ["cat", "/proc/net/netstat"]).stdout.splitlines()
        for names, values in zip(text[::2], text[1::2]):
            if names.startswith("MPTcpExt:"):
                kc = dict(zip(names.split()[1:], map(int, values.split()[1:])))
        assert kc["MPFastcloseRx"] >= 1, kc
        # the local clients learn that the daemon is gone
        assert lst.wait(10) == 1
        assert cli.wait(10) in (0, 1)
        assert "signal 15: shutting down" in d.log.read_text()
    finally:
        for p in (lst, srv, cli):
            if p and p.poll() is None:
                p.kill()
                p.wait()


def test_daemon_config_file_error(tmp_path):
    """No root needed: a bad line stops the daemon before it touches anything,
    with the file name and line number."""
    conf = tmp_path / "mptcpextd.conf"
    conf.write_text("# test\naddr 10.0.0.2\nscheduler fastest\n")
    p = subprocess.run([str(DAEMON), "-f", str(conf)], capture_output=True, text=True,
                       timeout=10)
    assert p.returncode == 2
    assert p.stderr == (f"mptcpextd: {conf}:3: scheduler: unknown \"fastest\" "
                        "(default, redundant, roundrobin)\n")
    p = subprocess.run([str(DAEMON), "--bogus", "1"], capture_output=True, text=True, timeout=10)
    assert p.returncode == 2 and 'unknown key "bogus"' in p.stderr


SERVER = r"""
import hashlib, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)   # IPPROTO_MPTCP
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.listen(4)
print("listening", flush=True)
c, peer = s.accept()
h, n = hashlib.sha256(), 0
while True:
    b = c.recv(1 << 16)
    if not b:
        break
    h.update(b)
    n += len(b)
print(n, h.hexdigest(), flush=True)
sys.stdin.readline()          # the test looks at ss -M, then lets us close
c.sendall(b"bye\n")
c.close()
"""


def test_daemon_connect_to_kernel_server(engine, tmp_path):
    d = engine(rates=50)
    l = d.lab
    data, src = datafile(tmp_path, 3 << 20)
    want = hashlib.sha256(data).hexdigest()
    srv = l.popen("server", [PY, "-c", SERVER, "5301"], stdin=subprocess.PIPE,
                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert readline(srv).strip() == "listening"
        before = d.counters()
        cli = l.popen("client", [str(CLI), "--socket", d.sock, "connect",
                                 l.addr("server", 1, 4), "5301"],
                      stdin=src, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        n, digest = readline(srv).split()
        assert (int(n), digest) == (len(data), want)
        # while the connection is still open: both sides show MPTCP
        ss = l.run("server", ["ss", "-Mn"]).stdout
        assert l.addr("client", 1, 4) in ss, ss
        conns = d.json("conn")
        assert len(conns) == 1 and conns[0]["mptcp"] and not conns[0]["fallback"], conns
        assert conns[0]["remote"] == l.addr("server", 1, 4) and conns[0]["rport"] == 5301
        assert conns[0]["key_state"] == "rfc8684" and conns[0]["subflows"]
        one = d.json("conn", "show", str(conns[0]["conn"]))
        assert (one["conn"], one["mptcp"], one["rport"]) == (conns[0]["conn"], True, 5301)
        # another user sees none of it
        assert d.json("conn", user="nobody") == []
        p = d.cli("conn", "show", str(conns[0]["conn"]), user="nobody", check=False)
        assert p.returncode == 1 and "no such connection" in p.stderr
        p = d.cli("conn", "abort", str(conns[0]["conn"]), user="nobody", check=False)
        assert p.returncode == 1 and "no such connection" in p.stderr
        wait_for(lambda: sum(s["bytes_acked"] for s in d.json("conn")[0]["subflows"])
                 >= len(data), 10, "every byte acknowledged")
        srv.stdin.write("\n")
        srv.stdin.flush()
        out, err = cli.communicate(timeout=30)
        assert cli.returncode == 0, err
        assert out == b"bye\n"
        assert srv.wait(10) == 0
    finally:
        for p in (srv,):
            if p.poll() is None:
                p.kill()
                p.wait()
    kc = {}
    text = l.run("server", ["cat", "/proc/net/netstat"]).stdout.splitlines()
    for names, values in zip(text[::2], text[1::2]):
        if names.startswith("MPTcpExt:"):
            kc = dict(zip(names.split()[1:], map(int, values.split()[1:])))
    assert kc["MPCapableSYNRX"] >= 1 and kc["MPCapableACKRX"] >= 1, kc
    after = d.counters()
    # policy prefer (the default, DESIGN decision 5): Linux answers the E
    # SYN with a plain SYN/ACK, the engine resets and retries once without E
    retry = after["MPTcpExtMPExtKeyRetryNoE"] - before["MPTcpExtMPExtKeyRetryNoE"]
    assert retry in (0, 1)
    assert after["MPTcpExtMPCapableSYNTX"] - before["MPTcpExtMPCapableSYNTX"] == 1 + retry
    assert after["MPTcpExtMPCapableSYNACKRX"] - before["MPTcpExtMPCapableSYNACKRX"] == 1
    wait_for(lambda: d.json("conn") == [], 10, "the connection to leave the list")
    # the event log has the life of the connection and byte counters to plot
    evs = [json.loads(x) for x in d.events.read_text().splitlines()]
    kinds = [e["ev"] for e in evs]
    assert kinds.index("created") < kinds.index("established") < kinds.index("closed")
    assert any(e["ev"] == "sf_bytes" and e["tx"] > 0 for e in evs)
    png = tmp_path / "tput.png"
    p = subprocess.run([str(CLI), "plot", str(d.events), "-o", str(png)], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the pcap has the MPTCP handshake (tshark decodes it)
    d.stop()
    t = subprocess.run(["tshark", "-r", str(d.pcap), "-Y", "tcp.options.mptcp.subtype == 0", "-T",
                        "fields", "-e", "tcp.flags.str"], capture_output=True, text=True,
                       timeout=60)
    assert t.returncode == 0, t.stderr
    assert len(t.stdout.split("\n")) >= 3, t.stdout


CLIENT = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
s.connect((sys.argv[1], int(sys.argv[2])))
data = sys.stdin.buffer.read()
s.sendall(data)
s.shutdown(socket.SHUT_WR)
got = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    got += b
sys.stdout.buffer.write(got)
"""


def test_daemon_listen_kernel_client(engine, tmp_path):
    d = engine()
    l = d.lab
    data, src = datafile(tmp_path, 1 << 20)
    lst = l.popen("client", [str(CLI), "--socket", d.sock, "listen", "6000"],
                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: len(d.json("conn")) == 1, 10, "listener")
        kc = l.popen("server", [PY, "-c", CLIENT, l.addr("client", 1, 4), "6000"],
                     stdin=src, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        # the listener writes what it got to stdout and answers on stdin
        got = b""
        deadline = time.monotonic() + 30
        while len(got) < len(data) and time.monotonic() < deadline:
            if not select.select([lst.stdout], [], [], max(0, deadline - time.monotonic()))[0]:
                break
            b = lst.stdout.read1(1 << 16)
            if not b:
                break
            got += b
        assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
        lst.stdin.write(b"reply\n")
        lst.stdin.close()
        lst.stdin = None
        out, err = kc.communicate(timeout=30)
        assert kc.returncode == 0, err
        assert out == b"reply\n"
        assert lst.wait(30) == 0
    finally:
        if lst.poll() is None:
            lst.kill()
            lst.wait()


SINK = r"""
import hashlib, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.listen(4)
print("listening", flush=True)
c, peer = s.accept()
if len(sys.argv) > 2:
    sys.stdin.readline()      # hold the data back until the test says go
h, n = hashlib.sha256(), 0
while True:
    b = c.recv(1 << 16)
    if not b:
        break
    h.update(b)
    n += len(b)
print(n, h.hexdigest(), flush=True)
"""


def rpc_addr(ip):
    return struct.pack("<B3x", 4) + socket.inet_aton(ip) + bytes(12)


def rpc_connect_fd(ctl, ip, port, req_id):
    """CONNECT over the control socket `ctl` with the far end of a fresh
    socketpair passed along (SCM_RIGHTS): (the app's end, connection id)."""
    app, far = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    body = struct.pack("<IBBH", 0, 0, 0, 0) + bytes(20) + rpc_addr(ip)
    body += struct.pack("<HHI", 0, port, 0) + bytes(64)
    socket.send_fds(ctl, [rpc_msg(T_CONNECT, body, req_id=req_id)], [far.fileno()])
    far.close()
    mtype, rid, rep = recv_reply(ctl)
    assert (mtype, rid) == (T_CONNECTED, req_id)
    status, conn = struct.unpack_from("<iI", rep)
    assert status == 0 and conn > 0
    return app, conn


def test_daemon_orphan_finishes_sending(engine):
    """An app that writes and closes its fd at once: the daemon still
    delivers every byte and the DATA_FIN (kernel orphan semantics)."""
    d = engine(rates=50)
    l = d.lab
    data = os.urandom(2 << 20)
    srv = l.popen("server", [PY, "-c", SINK, "5302"], stdout=subprocess.PIPE,
                  stderr=subprocess.PIPE, text=True)
    try:
        assert readline(srv).strip() == "listening"
        ctl = rpc_client(d)
        app, conn = rpc_connect_fd(ctl, l.addr("server", 1, 4), 5302, 7)
        app.settimeout(30)
        app.sendall(data[:1 << 20])
        # the rest goes while the connection is already running, then the app
        # vanishes without waiting for anything
        app.sendall(data[1 << 20:])
        app.close()
        ctl.close()
        line = readline(srv).split()
        assert line and (int(line[0]), line[1]) == (len(data), hashlib.sha256(data).hexdigest())
        assert srv.wait(10) == 0
        wait_for(lambda: d.counters()["MpxdOrphans"] == 1, 10, "the orphan to be counted")
        wait_for(lambda: d.json("conn") == [], 10, "the orphan to leave the list")
    finally:
        if srv.poll() is None:
            srv.kill()
            srv.wait()


def test_daemon_orphan_listed_until_done(engine):
    """An orphan (the app closed its fd with data still queued) stays in
    `mptcpext conn`, flagged orphan, as the kernel's orphans stay in
    ss -M, until its data and DATA_FIN are through; then it leaves."""
    d = engine(rates=50)
    l = d.lab
    data = os.urandom(4 << 20)
    srv = l.popen("server", [PY, "-c", SINK, "5303", "hold"], stdin=subprocess.PIPE,
                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert readline(srv).strip() == "listening"
        ctl = rpc_client(d)
        app, conn = rpc_connect_fd(ctl, l.addr("server", 1, 4), 5303, 9)
        # the server does not read: what the windows do not take stays in
        # the daemon; writing more than that blocks, so write from a thread
        t = threading.Thread(target=lambda: (app.sendall(data), app.close()), daemon=True)
        t.start()
        orph = wait_for(lambda: [c for c in d.json("conn") if c["orphan"]], 30,
                        "the orphan in the connection list")
        assert orph[0]["conn"] == conn, orph
        # its DATA_FIN waits behind the data (ESTAB), or is out (FIN-WAIT-*)
        assert orph[0]["state"] in ("ESTAB", "FIN-WAIT-1", "FIN-WAIT-2"), orph
        assert d.counters()["MpxdOrphans"] == 1
        srv.stdin.write("go\n")
        srv.stdin.flush()
        line = readline(srv).split()
        assert line and (int(line[0]), line[1]) == (len(data), hashlib.sha256(data).hexdigest())
        wait_for(lambda: d.json("conn") == [], 20, "the orphan to leave the list")
        ctl.close()
    finally:
        if srv.poll() is None:
            srv.kill()
            srv.wait()


# An app socket connected to the data listener (rpc.h MPX_RPC_DATA_NAME_FMT),
# bound to a well-formed MPX_RPC_SOCK_NAME_FMT name as the shim's are.
NAMED_SOCK = r"""
import os, socket, sys

def named_sock(dpid, sock_id):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(b"\0mptcpext/s/4/%016x" % sock_id)
    s.connect(b"\0mptcpext/d/%d" % dpid)
    return s
"""

# argv: daemon pid, socket id (hex), data file. Queues one named socket,
# then sends the file on it when told (its SOCK_CONNECT_NAMED is the test's).
NAMED_APP = NAMED_SOCK + r"""
s = named_sock(int(sys.argv[1]), int(sys.argv[2], 16))
print("queued", flush=True)
sys.stdin.readline()
s.sendall(open(sys.argv[3], "rb").read())
s.close()
print("sent", flush=True)
"""

# argv: daemon pid, count. Queues that many named sockets and keeps them;
# on each stdin line, prints how many the daemon has closed (EOF on them).
NAMED_FLOOD = NAMED_SOCK + r"""
import select
socks = [named_sock(int(sys.argv[1]), 1 + int.from_bytes(os.urandom(7), "big"))
         for _ in range(int(sys.argv[2]))]
print("flooded", flush=True)
for _ in sys.stdin:
    gone = 0
    for s in socks:
        r, _, _ = select.select([s], [], [], 0)
        gone += bool(r) and s.recv(1, socket.MSG_DONTWAIT) == b""
    print(gone, flush=True)
"""


def test_daemon_named_flood_evicts_only_flooder(engine, tmp_path):
    """Another uid connecting far more than MPXD_MAX_NAMED (64) named
    sockets to the data listener does not evict a pending socket of root's:
    each eviction is one of the flooder's own (MpxdNamedEvicted), and root's
    SOCK_CONNECT_NAMED, sent after the flood was swept in, still connects
    and its bytes arrive."""
    d = engine()
    l = d.lab
    nflood, table = 150, 64
    # the named sockets live in the engine host (abstract names are per
    # network namespace); the request goes over the path-bound control
    # socket from here, as root like the app (the daemon matches the uid)
    data = os.urandom(100000)
    (tmp_path / "named-data").write_bytes(data)
    ctl = rpc_client(d)
    dpid = struct.unpack("3i", ctl.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[0]
    sock_id = 1 + int.from_bytes(os.urandom(7), "big")
    srv = l.popen("server", [PY, "-c", SINK, "5304"], stdout=subprocess.PIPE,
                  stderr=subprocess.PIPE, text=True)
    procs = [srv]
    try:
        assert readline(srv).strip() == "listening"
        app = l.popen("client", [PY, "-c", NAMED_APP, str(dpid), f"{sock_id:x}",
                                 str(tmp_path / "named-data")],
                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        procs.append(app)
        assert readline(app).strip() == "queued"
        flood = l.popen("client", NOBODY + [PY, "-c", NAMED_FLOOD, str(dpid), str(nflood)],
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        procs.append(flood)
        assert readline(flood).strip() == "flooded"
        # the once-a-second sweep accepts all 1 + nflood: 64 stay
        evicted = 1 + nflood - table
        wait_for(lambda: d.counters()["MpxdNamedEvicted"] >= evicted, 10,
                 "the sweep to take in the flood")
        assert d.counters()["MpxdNamedEvicted"] == evicted
        flood.stdin.write("count\n")
        flood.stdin.flush()
        assert int(readline(flood)) == evicted  # every eviction was the flooder's
        log = d.log.read_text()
        assert "closed uid 65534's oldest" in log and "closed uid 0's" not in log, log
        assert log.count("data listener full") < evicted  # rate-limited

        body = struct.pack("<QIBBH", sock_id, 0, 4, 0, 0) + bytes(20)
        body += rpc_addr(l.addr("server", 1, 4)) + struct.pack("<HHIII", 0, 5304, 0, 0, 0)
        ctl.send(rpc_msg(T_SOCK_CONNECT_NAMED, body + bytes(64), req_id=3))
        mtype, rid, rep = recv_reply(ctl)
        status, conn = struct.unpack_from("<iI", rep)
        assert (mtype, rid) == (T_SOCK_RESULT, 3)
        assert status == -errno.EINPROGRESS and conn > 0, (status, d.log.read_text())
        app.stdin.write("go\n")
        app.stdin.flush()
        assert readline(app).strip() == "sent"
        line = readline(srv).split()
        assert line and (int(line[0]), line[1]) == (len(data), hashlib.sha256(data).hexdigest())
        assert d.counters()["MpxdShimRejected"] == 0
    finally:
        ctl.close()
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()


def test_daemon_backpressure_bounded(engine):
    """A peer that does not read: the connection's send buffer fills to its
    size and stops there (the app blocks), then everything arrives intact."""
    d = engine(extra=["--sndbuf", "256K"])
    l = d.lab
    data = os.urandom(24 << 20)
    cli = None
    srv = l.popen("server", [PY, "-c", SINK, "5303", "hold"], stdin=subprocess.PIPE,
                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert readline(srv).strip() == "listening"
        cli = l.popen("client", [str(CLI), "--socket", d.sock, "connect",
                                 l.addr("server", 1, 4), "5303"],
                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        feeder = threading.Thread(target=lambda: (cli.stdin.write(data), cli.stdin.close()))
        feeder.start()

        # the kernel's receive buffer fills, then ours: never beyond sndbuf
        samples = []
        wait_for(lambda: samples.append(d.json("conn")) or
                 (samples[-1] and samples[-1][0]["send_queued"] >= 128 << 10), 30,
                 "the send buffer to fill")
        for _ in range(20):
            samples.append(d.json("conn"))
        assert all(s[0]["send_queued"] <= 256 << 10 for s in samples if s), \
            max(s[0]["send_queued"] for s in samples if s)
        assert feeder.is_alive(), "the app was not blocked: no backpressure"
        srv.stdin.write("go\n")
        srv.stdin.flush()
        feeder.join(60)
        cli.stdin = None
        line = readline(srv, 60).split()
        assert line and (int(line[0]), line[1]) == (len(data), hashlib.sha256(data).hexdigest())
        cli.communicate(timeout=30)
    finally:
        for p in (srv, cli):
            if p and p.poll() is None:
                p.kill()
                p.wait()


def read_until(proc, word, timeout=20):
    """stdout lines of proc until a monitor line of event `word` (deadline)."""
    lines, end = [], time.monotonic() + timeout
    while time.monotonic() < end:
        line = readline(proc, max(0.0, end - time.monotonic()))
        if not line:
            break
        lines.append(line)
        if line.split("]")[0].strip("[ ") == word:
            break
    return lines


def test_daemon_endpoint_at_run_time_adds_subflow(engine, tmp_path):
    """`mptcpext endpoint add` on a running connection opens an MP_JOIN
    subflow from that address (the kernel's in-kernel PM behaviour); monitor
    shows the life of the connection to root and nothing to another user."""
    d = engine(rates=50)
    l = d.lab
    a2 = l.addr("client", 2, 4)
    mon = l.popen("client", [str(CLI), "--socket", d.sock, "monitor"], stdout=subprocess.PIPE,
                  stderr=subprocess.PIPE, text=True)
    mon_nobody = l.popen("client", NOBODY + [str(CLI), "--socket", d.sock, "monitor"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    srv = l.popen("server", [PY, "-c", SINK, "5304"], stdout=subprocess.PIPE,
                  stderr=subprocess.PIPE, text=True)
    cli = None
    try:
        assert readline(srv).strip() == "listening"
        wait_for(lambda: d.counters()["MpxdRpcRequests"] >= 3, 10, "monitors to subscribe")
        cli = l.popen("client", [str(CLI), "--socket", d.sock, "connect",
                                 l.addr("server", 1, 4), "5304"],
                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        # data flows (the client side is fully established once the server
        # acknowledged data at the connection level, RFC 8684 section 3.1)
        data = os.urandom(16 << 20)
        feeder = threading.Thread(target=lambda: (cli.stdin.write(data), cli.stdin.close()))
        feeder.start()
        wait_for(lambda: [c for c in d.json("conn") if c["bytes_acked"] > 0], 10,
                 "the connection to carry data")
        assert len(d.json("conn")[0]["subflows"]) == 1
        d.cli("endpoint", "add", a2, "id", "2", "subflow")
        sfs = wait_for(lambda: [s for s in d.json("conn")[0]["subflows"]
                                if s["established"] and s["local"] == a2], 10,
                       "a subflow from the new endpoint")
        assert sfs[0]["join"] and sfs[0]["local_id"] == 2
        assert d.counters()["MPTcpExtMPJoinSynTx"] == 1
        line = readline(srv, 60).split()
        feeder.join(30)
        assert line and (int(line[0]), line[1]) == (len(data), hashlib.sha256(data).hexdigest())
        cli.stdin = None
        cli.communicate(timeout=30)
        # both subflows carried data
        evs = [json.loads(x) for x in d.events.read_text().splitlines()]
        last = {}
        for e in evs:
            if e["ev"] == "sf_bytes":
                last[e["local"].split(":")[0]] = e["tx"]
        kernel = {}
        text = l.run("server", ["cat", "/proc/net/netstat"]).stdout.splitlines()
        for names, values in zip(text[::2], text[1::2]):
            if names.startswith("MPTcpExt:"):
                kernel = dict(zip(names.split()[1:], map(int, values.split()[1:])))
        assert kernel["MPJoinAckRx"] >= 1, kernel
        assert len(last) == 2 and all(v > 0 for v in last.values()), last
        out = read_until(mon, "CLOSED")
        kinds = [x.split("]")[0].strip("[ ") for x in out]
        assert kinds[:2] == ["CREATED", "ESTABLISHED"] and "SF_ESTABLISHED" in kinds, out
        assert kinds[-1] == "CLOSED", out
        sf = [x for x in out if "SF_ESTABLISHED" in x and f"saddr4={a2}" in x]
        assert sf and "locid=2" in sf[0], out
        # another user's monitor saw none of root's connection
        assert readline(mon_nobody, 0.5) == ""
    finally:
        for p in (mon, mon_nobody, srv, cli):
            if p and p.poll() is None:
                p.kill()
                p.wait()


MULTISRV = r"""
import hashlib, socket, sys, threading
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.listen(64)
print("listening", flush=True)
lock = threading.Lock()

def serve(c):
    h = hashlib.sha256()
    while True:
        b = c.recv(65536)
        if not b:
            break
        h.update(b)
    c.sendall(h.hexdigest().encode())    # echo the digest, then close
    c.close()

for _ in range(int(sys.argv[2])):
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,)).start()
"""


def test_daemon_parallel_connections(engine, tmp_path):
    """Sixteen connections at once through one daemon: each one's bytes reach
    the kernel intact and each gets its own answer back; bridge slots are
    reused afterwards."""
    d = engine()
    l = d.lab
    n = 16
    srv = l.popen("server", [PY, "-c", MULTISRV, "5306", str(2 * n)], stdout=subprocess.PIPE,
                  stderr=subprocess.PIPE, text=True)
    procs = []
    try:
        assert readline(srv).strip() == "listening"
        for rnd in range(2):
            procs = []
            for i in range(n):
                data, src = datafile(tmp_path, (256 << 10) + 1000 * i + rnd)
                p = l.popen("client", [str(CLI), "--socket", d.sock, "connect",
                                       l.addr("server", 1 + i % 2, 4), "5306"],
                            stdin=src, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                procs.append((p, hashlib.sha256(data).hexdigest()))
            for p, want in procs:
                out, err = p.communicate(timeout=60)
                assert p.returncode == 0, err
                assert out.decode() == want
            wait_for(lambda: d.json("conn") == [], 10, "all connections to close")
        c = d.counters()
        assert c["MpxdBridgesOpened"] == c["MpxdBridgesClosed"] == 2 * n
        assert c["MPTcpExtMPCapableSYNACKRX"] == 2 * n
    finally:
        for p in [srv] + [p for p, _ in procs]:
            if p.poll() is None:
                p.kill()
                p.wait()
