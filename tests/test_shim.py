"""libmptcpext.so (issue 7): real programs under LD_PRELOAD in the lab.

Root only (the lab fixture skips otherwise), except the export check. Each
lab test builds a lab whose client and server hosts are both `engine` hosts
(TUN, mptcpextd on each, two paths, a subflow endpoint on path 2 of the
client), runs build/shim_edges (tests/tools/shim_edges.c) or a real program
on both ends under the shim, and checks the results, that the connections
were MPTCP through the engines and that every path carried a subflow.
Nothing sleeps to synchronise: every wait is a condition with a deadline.

    make && /usr/bin/python3 -m pytest -q tests/test_shim.py
"""
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from netlab_fixtures import DAEMON, CLI, SHIM, PY, lab, stop_process, wait_for  # noqa: F401 (lab is a fixture)

ROOT = Path(__file__).resolve().parent.parent
EDGES = ROOT / "build" / "shim_edges"

# libc names the shim interposes, the TLS libraries' functions tlshooks
# wraps, and the public key API: nothing else may be exported.
LIBC = {"socket", "bind", "listen", "connect", "accept", "accept4", "getsockname",
        "getpeername", "getsockopt", "setsockopt", "close", "close_range", "closefrom",
        "send", "sendto", "sendmsg", "recv", "recvfrom", "recvmsg", "read", "write"}


def test_shim_exports_only_interposed_names():
    out = subprocess.run(["nm", "-D", "--defined-only", str(SHIM)], capture_output=True,
                         text=True, check=True).stdout
    names = {line.split()[-1] for line in out.splitlines() if line.strip()}
    ours = ("SSL_", "gnutls_", "mptcpext_")
    bad = {n for n in names if n not in LIBC and not n.startswith(ours)}
    assert not bad, f"unexpected exports: {sorted(bad)}"
    assert {"socket", "connect", "accept4", "getpeername"} <= names


FALLBACK = r"""
import socket, sys
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(1)
cli = socket.socket()
cli.connect(srv.getsockname())
c, _ = srv.accept()
cli.sendall(b"ping")
print(c.recv(4).decode(), cli.getsockopt(socket.SOL_SOCKET, socket.SO_DOMAIN))
"""

ERRMODE = r"""
import socket
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # UDP: never touched
try:
    socket.socket()
    print("created")
except ConnectionRefusedError:
    print("refused")
"""


def test_shim_without_daemon_falls_back_or_fails(tmp_path):
    env = dict(os.environ, LD_PRELOAD=str(SHIM), MPTCPEXT_SOCKET=str(tmp_path / "none.sock"))
    p = subprocess.run([PY, "-c", FALLBACK], env=env, capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 0 and p.stdout.split() == ["ping", str(int(socket.AF_INET))], p
    # one warning per process, whatever the number of sockets
    assert p.stderr.count("mptcpext: mptcpextd is not running") == 1, p.stderr
    env["MPTCPEXT_FALLBACK"] = "error"
    p = subprocess.run([PY, "-c", ERRMODE], env=env, capture_output=True, text=True, timeout=30)
    assert p.stdout.strip() == "refused", p
    assert "mptcpext: mptcpextd is not running (MPTCPEXT_FALLBACK=error)" in p.stderr, p.stderr
    env["MPTCPEXT_DISABLE"] = "1"
    p = subprocess.run([PY, "-c", ERRMODE], env=env, capture_output=True, text=True, timeout=30)
    assert p.stdout.strip() == "created" and "mptcpext" not in p.stderr, p


class Engine:
    """mptcpextd on one side of the lab."""

    def __init__(self, lab_, side, tmp, extra=()):
        self.lab, self.side = lab_, side
        self.sock = f"/run/mptcpext/shim-{lab_.run_id}-{side}.sock"
        self.log = tmp / f"mptcpextd-{side}.log"
        argv = [str(DAEMON), "-v", "--tun", "mptcp0", "--tun-mode", "attach",
                "--socket", self.sock, "--limits", "subflows 4 add_addr_accepted 4",
                # no TLS here: the RFC 8684 keys let the path manager start
                "--extkey", "never"]
        for p in range(1, len(lab_.paths) + 1):
            argv += ["--addr", lab_.addr(side, p, 4)]
        if side == "client":
            for p in range(2, len(lab_.paths) + 1):
                argv += ["--endpoint", f"{lab_.addr(side, p, 4)} id {p} subflow"]
        argv += list(extra)
        self.logf = open(self.log, "w")
        self.proc = lab_.popen(side, argv, stdout=self.logf, stderr=subprocess.STDOUT)
        wait_for(lambda: self.proc.poll() is not None or
                 self.cli("counters", check=False).returncode == 0, 10,
                 f"mptcpextd ({side}) to answer")
        assert self.proc.poll() is None, self.log.read_text()

    def cli(self, *args, check=True):
        p = self.lab.run(self.side, [str(CLI), "--socket", self.sock] + list(args),
                         check=False)
        if check and p.returncode:
            raise AssertionError(f"mptcpext {args}: {p.stdout}{p.stderr}")
        return p

    def conns(self):
        return json.loads(self.cli("--json", "conn").stdout)

    def counters(self):
        out = self.cli("counters", "-z").stdout.splitlines()
        return {k: int(v) for k, v in (ln.split() for ln in out if not ln.startswith("#"))}

    def env(self, **extra):
        e = {"LD_PRELOAD": str(SHIM), "MPTCPEXT_SOCKET": self.sock, "MPTCPEXT_LOG": "warn"}
        e.update(extra)
        return ["env"] + [f"{k}={v}" for k, v in e.items()]

    def popen(self, argv, **kw):
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        kw.setdefault("text", True)
        return self.lab.popen(self.side, self.env() + [str(a) for a in argv], **kw)

    def run(self, argv, timeout=60, **envx):
        return self.lab.run(self.side, self.env(**envx) + [str(a) for a in argv], check=False,
                            timeout=timeout)

    def stop(self):
        stop_process(self.proc, 10)
        self.logf.close()
        return self.proc.returncode


@pytest.fixture
def engines(lab, tmp_path):
    """factory: engines(**lab_kwargs) -> (client Engine, server Engine)."""
    made = []

    def make(**kw):
        kw.setdefault("paths", 2)
        l = lab(client="engine", server="engine", **kw)
        c = Engine(l, "client", tmp_path)
        made.append(c)
        s = Engine(l, "server", tmp_path)
        made.append(s)
        return c, s

    try:
        yield make
    finally:
        codes = [(e.stop(), e) for e in made]
    for rc, e in codes:
        assert rc == 0, f"mptcpextd {e.side} exited {rc}:\n{e.log.read_text()[-4000:]}"


def readline(proc, timeout=20):
    import select
    r, _, _ = select.select([proc.stdout], [], [], timeout)
    return proc.stdout.readline() if r else ""


def finish(proc, timeout=60):
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"timed out: {out}{err}")
    return proc.returncode, out, err


def serve(srv_engine, cmd, *args):
    p = srv_engine.popen([str(EDGES), cmd] + [str(a) for a in args])
    line = readline(p)
    if line.strip() != "listening":
        p.kill()
        raise AssertionError(f"{cmd} did not listen: {line!r} {p.communicate()}")
    return p


def check_ok(res, what):
    rc, out, err = res if isinstance(res, tuple) else (res.returncode, res.stdout, res.stderr)
    assert rc == 0 and "FAIL" not in out, f"{what}: rc {rc}\n{out}\n{err}"
    return out


def all_paths_used(eng, lab_, min_paths=2, key="local"):
    """Some connection of |eng| has an established subflow on every path
    (each has its own address on the client's side: key "local" on the
    client's engine, "remote" on the server's)."""
    def ok():
        for c in eng.conns():
            locs = {s[key] for s in c.get("subflows", []) if s.get("established")}
            if c.get("mptcp") and len(locs) >= min_paths:
                return True
        return False
    return ok


THREADS = r"""
import os, socket, threading
def work():
    socket.socket().close()  # each thread opens its own control socket
for i in range(50):
    t = threading.Thread(target=work)
    t.start()
    t.join()
print(len(os.listdir("/proc/self/fd")))
"""

MALFORMED = r"""
import socket, struct
T_SOCK_BIND = 50  # rpc.h: right after CONN_GET (49)
def msg(body):
    return struct.pack("<IHHII", 0x5258504D, 1, T_SOCK_BIND, 16 + len(body), 1) + body
good = struct.pack("<QIBBH", 1, 0, 9, 0, 0) + bytes(20) * 2 + struct.pack("<HHIII", 0, 0, 0, 0, 0)
good += bytes(64)
for body in (good, good[:-1]):  # family 9; one byte short
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect("@PATH@")
    s.send(msg(body))
    assert s.recv(4096) == b""  # disconnected
"""


def test_shim_edges_in_lab(engines):
    # 10 ms RTT: the connection cannot be up before connect() returns
    c, s = engines(delays=10)
    l = c.lab
    srv_addr = l.addr("server", 1, 4)
    port = 7001
    # blocking connect, names, half-close both ways, EOF; subflows on both paths
    srv = serve(s, "serve", "0.0.0.0", port, 1)
    cli = c.popen([str(EDGES), "halfclose", srv_addr, port, 8 << 20])
    out = check_ok(finish(cli), "halfclose")
    m = re.search(r"connected (\S+) (\S+)", out)
    assert m and m.group(1) == f"{srv_addr}:{port}", out
    assert m.group(2).startswith(l.addr("client", 1, 4) + ":"), out
    sout = check_ok(finish(srv), "serve")
    m2 = re.search(r"accepted (\S+) (\S+)", sout)
    assert m2 and m2.group(1) == m.group(2) and m2.group(2) == m.group(1), (out, sout)
    cc = c.counters()
    assert cc["MPTcpExtMPCapableSYNACKRX"] >= 1 and cc["MPTcpExtMPJoinSynTx"] >= 1, cc
    assert s.counters()["MPTcpExtMPJoinSynRx"] >= 1
    assert cc["MpxdShimConnects"] >= 1 and s.counters()["MpxdShimAccepts"] >= 1

    # non-blocking connect: EINPROGRESS, one EPOLLOUT edge exactly at establishment
    srv = serve(s, "serve", "0.0.0.0", port + 1, 1)
    check_ok(finish(c.popen([str(EDGES), "nbconnect", srv_addr, port + 1])), "nbconnect")
    check_ok(finish(srv), "serve")

    # refused, and a blackholed destination with SO_SNDTIMEO
    check_ok(finish(c.popen([str(EDGES), "refused", srv_addr, port + 99])), "refused")
    check_ok(finish(c.popen([str(EDGES), "blackhole", "10.254.254.254", 80, 1000])),
             "blackhole")

    # accept4 flags; the v4 client of a dual-stack v6 listener is v4-mapped
    srv = serve(s, "accept4", "::", port + 2)
    for _ in range(2):
        check_ok(finish(c.popen([str(EDGES), "halfclose", srv_addr, port + 2, 1000])),
                 "client of accept4")
    sout = check_ok(finish(srv), "accept4")
    assert f"accepted [::ffff:{l.addr('client', 1, 4)}]:" in sout, sout

    # a listener shared with a forked child
    srv = serve(s, "forkaccept", "0.0.0.0", port + 3, 3)
    for _ in range(3):
        check_ok(finish(c.popen([str(EDGES), "halfclose", srv_addr, port + 3, 5000])),
                 "client of forkaccept")
    sout = check_ok(finish(srv), "forkaccept")
    assert sout.count("child-accepted") == 1 and sout.count("parent-accepted") == 2, sout

    # exec adoption, close_range/closefrom, MSG_OOB
    srv = serve(s, "serve", "0.0.0.0", port + 4, 5)
    out = check_ok(finish(c.popen([str(EDGES), "exec", srv_addr, port + 4])), "exec")
    a = re.search(r"before-exec (\S+) (\S+)", out)
    b = re.search(r"after-exec (\S+) (\S+)", out)
    assert a and b and a.groups() == b.groups(), out
    check_ok(finish(c.popen([str(EDGES), "closerange", srv_addr, port + 4])), "closerange")
    check_ok(finish(c.popen([str(EDGES), "oob", srv_addr, port + 4])), "oob")
    check_ok(finish(c.popen([str(EDGES), "tfo", srv_addr, port + 4])), "tfo")
    check_ok(finish(srv), "serve")
    assert s.counters()["MpxdShimAccepts"] >= 10

    # bind errors at bind time, as root and as another user
    out = check_ok(s.run([str(EDGES), "binderrs", "0.0.0.0", port + 6, "10.254.1.1"]), "binderrs")
    assert "EACCES" not in out
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    r = l.run("server", nobody + s.env() + [str(EDGES), "binderrs", "0.0.0.0", str(port + 7),
                                           "10.254.1.1"], check=False)
    assert "ok EACCES below 1024" in check_ok(r, "binderrs as nobody")

    # loopback stays on the kernel (MPTCPEXT_EXCLUDE default), both ends shimmed
    before = c.counters()["MpxdShimConnects"]
    srv = serve(c, "serve", "127.0.0.1", port + 5, 2)
    out = check_ok(finish(c.popen([str(EDGES), "halfclose", "127.0.0.1", port + 5, 100000])),
                   "loopback")
    assert "connected 127.0.0.1:%d 127.0.0.1:" % (port + 5) in out, out
    check_ok(finish(c.popen([str(EDGES), "epollswap", "127.0.0.1", port + 5])), "epollswap")
    check_ok(finish(srv), "serve loopback")
    assert c.counters()["MpxdShimConnects"] == before

    # threads that end close their control sockets
    r = c.run([PY, "-c", THREADS])
    assert r.returncode == 0 and int(r.stdout) < 10, (r.stdout, r.stderr)

    # a malformed SOCK_* request is rejected and counted; the daemon lives on
    bad = MALFORMED.replace("@PATH@", c.sock)
    before = c.counters()["MpxdRpcMalformed"]
    r = l.run("client", [PY, "-c", bad], check=False)
    assert r.returncode == 0, r.stderr
    assert c.counters()["MpxdRpcMalformed"] == before + 2


NGINX_CONF = """
daemon on;
user root;
worker_processes 2;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {dir};
    proxy_temp_path {dir};
    fastcgi_temp_path {dir};
    uwsgi_temp_path {dir};
    scgi_temp_path {dir};
    server {{
        listen {port};
        root {dir}/www;
    }}
    server {{
        listen {port2} reuseport;
        root {dir}/www;
    }}
}}
"""


def test_shim_curl_nginx(engines, tmp_path):
    nginx, curl = shutil.which("nginx") or "/usr/sbin/nginx", shutil.which("curl")
    if not Path(nginx).exists() or not curl:
        pytest.skip("nginx or curl not installed")
    c, s = engines(rates=200)
    l = c.lab
    www = tmp_path / "www"
    www.mkdir()
    data = os.urandom(12 << 20)
    (www / "big.bin").write_bytes(data)
    conf = tmp_path / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=tmp_path, port=8080, port2=8090))
    os.chmod(tmp_path, 0o755)
    r = s.run([nginx, "-c", str(conf), "-e", str(tmp_path / "error.log")])
    assert r.returncode == 0, r.stderr
    try:
        pidf = tmp_path / "nginx.pid"
        wait_for(lambda: pidf.exists(), 10, "nginx to write its pid")
        out = tmp_path / "got.bin"
        seen = {}

        def watch():
            if all_paths_used(c, l)():
                seen["client"] = True
            return seen.get("client")

        cl = c.popen([curl, "-sS", "-o", str(out), "--limit-rate", "8M",
                      f"http://{l.addr('server', 1, 4)}:8080/big.bin"])
        wait_for(lambda: watch() or cl.poll() is not None, 30, "subflows on every path")
        rc, _, err = finish(cl, 120)
        assert rc == 0, err
        assert hashlib.sha256(out.read_bytes()).hexdigest() == hashlib.sha256(data).hexdigest()
        assert seen.get("client"), "no connection with a subflow on every path"
        assert s.counters()["MpxdShimAccepts"] >= 1 and c.counters()["MpxdShimConnects"] >= 1
        # SO_REUSEPORT: one listening socket per worker, connections spread
        (www / "small.txt").write_text("hello\n")
        for _ in range(4):
            r = c.run([curl, "-sS", f"http://{l.addr('server', 1, 4)}:8090/small.txt"])
            assert r.returncode == 0 and r.stdout == "hello\n", r.stderr
        # curl's own messages for a closed port and an unreachable address
        # (curl 7.88 names the errno only in its verbose "connect to ...
        # failed: Connection refused" line, with the kernel too)
        r = c.run([curl, "-sSv", f"http://{l.addr('server', 1, 4)}:8099/"])
        assert r.returncode == 7 and "Connection refused" in r.stderr, r.stderr
        t0 = time.monotonic()
        r = c.run([curl, "-sS", "--connect-timeout", "2", "http://10.254.254.254:80/"])
        dt = time.monotonic() - t0
        # curl 7.88: "Failed to connect to ... after 2001 ms: Timeout was reached"
        msg = r.stderr.lower()
        assert r.returncode == 28 and re.search("timeout was reached|timed out", msg), r.stderr
        assert 1.5 < dt < 4.5, dt
    finally:
        s.run([nginx, "-c", str(conf), "-s", "stop"])
        pidf = tmp_path / "nginx.pid"
        wait_for(lambda: not pidf.exists(), 10, "nginx to stop")


KSERVER = r"""
import hashlib, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.listen(4)
print("listening", flush=True)
c, _ = s.accept()
c.recv(65536)
body = bytes(range(256)) * (int(sys.argv[2]) // 256)
c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body))
c.sendall(body)
c.close()
print(hashlib.sha256(body).hexdigest(), flush=True)
"""


def test_shim_curl_to_kernel_mptcp_server(lab, tmp_path):
    curl = shutil.which("curl")
    if not curl:
        pytest.skip("curl not installed")
    l = lab(client="engine", server="kernel", paths=2, rates=200, server_endpoints="signal")
    c = Engine(l, "client", tmp_path)
    try:
        srv = l.popen("server", [PY, "-c", KSERVER, "8081", str(4 << 20)],
                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert readline(srv).strip() == "listening"
        out = tmp_path / "k.bin"
        seen = {}

        def watch():
            if all_paths_used(c, l)():
                seen["client"] = True
            return seen.get("client")

        cl = c.popen([curl, "-sS", "--limit-rate", "4M", "-o", str(out),
                      f"http://{l.addr('server', 1, 4)}:8081/"])
        wait_for(lambda: watch() or cl.poll() is not None, 30, "subflows on every path")
        rc, _, err = finish(cl, 120)
        assert rc == 0, err
        assert seen.get("client"), "no subflow on every path"
        digest = readline(srv).strip()
        assert hashlib.sha256(out.read_bytes()).hexdigest() == digest
        cc = c.counters()
        assert cc["MPTcpExtMPCapableSYNACKRX"] >= 1 and cc["MpxdShimConnects"] >= 1, cc
        kc = {}
        text = l.run("server", ["cat", "/proc/net/netstat"]).stdout.splitlines()
        for names, values in zip(text[::2], text[1::2]):
            if names.startswith("MPTcpExt:"):
                kc = dict(zip(names.split()[1:], map(int, values.split()[1:])))
        assert kc["MPCapableSYNRX"] >= 1 and kc["MPJoinSynRx"] >= 1, kc
        assert srv.wait(10) == 0
    finally:
        assert c.stop() == 0, c.log.read_text()[-3000:]


def test_shim_wget_100mb_from_nginx(engines, tmp_path):
    nginx, wget = "/usr/sbin/nginx", shutil.which("wget")
    if not Path(nginx).exists() or not wget:
        pytest.skip("nginx or wget not installed")
    c, s = engines()
    l = c.lab
    www = tmp_path / "www"
    www.mkdir()
    blob = tmp_path / "www" / "100m.bin"
    h = hashlib.sha256()
    with open(blob, "wb") as f:
        for _ in range(100):
            chunk = os.urandom(1 << 20)
            h.update(chunk)
            f.write(chunk)
    conf = tmp_path / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=tmp_path, port=8082, port2=8092))
    r = s.run([nginx, "-c", str(conf), "-e", str(tmp_path / "error.log")])
    assert r.returncode == 0, r.stderr
    pidf = tmp_path / "nginx.pid"
    try:
        wait_for(lambda: pidf.exists(), 10, "nginx to write its pid")
        out = tmp_path / "wget.bin"
        seen = {}

        def watch():
            if all_paths_used(c, l)():
                seen["client"] = True
            return seen.get("client")

        w = c.popen([wget, "-q", "-O", str(out), f"http://{l.addr('server', 1, 4)}:8082/100m.bin"])
        wait_for(lambda: watch() or w.poll() is not None, 30, "subflows on every path")
        rc, _, err = finish(w, 300)
        assert rc == 0, err
        got = hashlib.sha256()
        with open(out, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                got.update(chunk)
        assert got.hexdigest() == h.hexdigest()
        assert seen.get("client"), "no subflow on every path"
    finally:
        s.run([nginx, "-c", str(conf), "-s", "stop"])
        wait_for(lambda: not pidf.exists(), 10, "nginx to stop")
