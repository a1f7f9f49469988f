"""End to end (issue 8): TLS programs under the shim on two engine hosts get
their MPTCP external key from the TLS exporter; ssh/scp from a pre-shared
key file.

Each test builds a lab with an engine on both hosts (two paths), runs a
server and a client under the shim (libmptcpext.so) and checks:
  - E mode: both engines negotiated external keys (key state ext-*), with
    each other's tokens;
  - the key: both engines report the same fingerprint (first 8 bytes of
    SHA-256 of the key; the key itself is never shown nor logged), state
    ext-active (NEW_KEY confirmed both ways);
  - a subflow carried data on every path (transfers of several MB);
  - the bytes: SHA-256 of what arrived equals what was sent.
Policies prefer and require (both engines), TLS 1.3 and 1.2.

Root only (the lab fixture skips otherwise); skips with the reason when the
shim is not built or a program is missing. Nothing sleeps to synchronise:
every wait is a condition with a deadline.

    make && /usr/bin/python3 -m pytest -q tests/test_e2e_tls.py
"""
import hashlib
import os
import re
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from netlab_fixtures import PY, lab, wait_for  # noqa: F401 (lab is a fixture)

import e2e  # lab/e2e.py (netlab_fixtures puts lab/ on sys.path)

SIZE = 6_000_000  # enough for the second subflow to carry data
PORT = 8443
DEADLINE = 120


def need(*tools):
    for t in tools:
        if not shutil.which(t) and not os.path.exists(t):
            pytest.skip(f"{t} is not installed (make deps)")
    why = e2e.shim_missing()
    if why:
        pytest.skip(why)


@pytest.fixture
def pair(lab, tmp_path):
    """factory: pair(policy) -> (lab, client engine, server engine); both
    engines run with --extkey POLICY and are stopped after the test (a
    clean exit is asserted)."""
    made = []

    def make(policy="prefer", paths=2, pcap=False):
        l = lab(paths=paths, delays=[4, 12][:paths], rates=[25, 15][:paths], client="engine",
                server="engine")
        c, s = e2e.start_engines(l, tmp_path, ["--extkey", policy], pcap=pcap)
        made.extend([c, s])
        return l, c, s

    try:
        yield make
    finally:
        codes = [(e.stop(), e) for e in made]
    for rc, e in codes:
        assert rc == 0, f"mptcpextd ({e.side}) exited {rc}:\n{e.log.read_text()[-3000:]}"


@pytest.fixture
def tls(tmp_path):
    """A served directory with a generated file, and a certificate."""
    www = tmp_path / "www"
    www.mkdir()
    sha = e2e.make_file(www / "file.bin", SIZE)
    cert, key = e2e.make_cert(tmp_path)
    return {"www": www, "sha": sha, "cert": cert, "key": key, "tmp": tmp_path}


def stop(*procs):
    for p in procs:
        if p is not None and p.poll() is None:
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


# ---- checks ----------------------------------------------------------------------

HEX_KEY = re.compile(r"\b[0-9a-fA-F]{64}\b")


def check_keys(watch, *, active=True):
    """E mode on both ends with each other's tokens, equal fingerprints."""
    cs, ss = watch.seen["client"], watch.seen["server"]
    assert cs and ss, "no connection seen in one of the engines"
    c, s = watch.conn("client"), watch.conn("server")
    assert c["key_state"].startswith("ext-"), f"client not in E mode: {c['key_state']}"
    assert s["key_state"].startswith("ext-"), f"server not in E mode: {s['key_state']}"
    assert (c["token"], c["remote_token"]) == (s["remote_token"], s["token"])
    fc = {x["key_fpr"] for x in cs if x.get("key_fpr")}
    fs = {x["key_fpr"] for x in ss if x.get("key_fpr")}
    assert fc and fs, f"no key fingerprint (client {fc}, server {fs}): no key installed"
    assert fc == fs, f"different keys: client {fc}, server {fs}"
    if active:
        for side, seen in (("client", cs), ("server", ss)):
            states = {x["key_state"] for x in seen}
            assert "ext-active" in states, f"{side}: key never active (states {states})"


def key_counters(eng):
    m = eng.counters()
    return {k[len("MPTcpExt"):]: v for k, v in m.items()
            if k.startswith("MPTcpExt") and ("Key" in k or "NewKey" in k)}


def check_key_counters(c, s, confirmed=True):
    """Short exchanges end before a snapshot sees them: the engines'
    counters tell the same. E offered by the client and accepted by the
    server; a key installed on both; NEW_KEY confirmed both ways, which
    only happens when both hold the same key (a different one counts as a
    mismatch)."""
    kc, ks = key_counters(c), key_counters(s)
    diag = f"client {kc}, server {ks}"
    assert kc.get("MPExtKeyOffered", 0) >= 1 and ks.get("MPExtKeyAccepted", 0) >= 1, diag
    assert kc.get("MPExtKeyInstalled", 0) >= 1 and ks.get("MPExtKeyInstalled", 0) >= 1, diag
    assert kc.get("MPNewKeyMismatch", 0) == 0 and ks.get("MPNewKeyMismatch", 0) == 0, diag
    if confirmed:
        assert kc.get("MPNewKeyConfirmed", 0) >= 1 and ks.get("MPNewKeyConfirmed", 0) >= 1, diag


def check_wire(pcap):
    """On the wire (the engine's pcap, dissected by tshark): E-mode
    MP_CAPABLE only (draft "modified MP_CAPABLE", NOTES D6: SYN 4, SYN/ACK
    8 = a token, ACK 12 = two tokens, 14/16 with data-level length /
    checksum), never an RFC 8684 form carrying a 64-bit key (SYN/ACK 12,
    ACK 20, 22, 24)."""
    mpc = e2e.mp_capable(pcap)
    syn = [m for m in mpc if m[0] and not m[1]]
    synack = [m for m in mpc if m[0] and m[1]]
    ack = [m for m in mpc if not m[0]]
    assert syn and synack and ack, f"MP_CAPABLE handshake not seen: {mpc}"
    assert {m[3] for m in syn} == {4}, syn
    assert {m[3] for m in synack} == {8}, synack
    assert {m[3] for m in ack} <= {12, 14, 16}, ack
    assert not [m for m in mpc if m[3] >= 20 or (m[0] and m[1] and m[3] == 12)]


def check_paths(l, engine):
    """Every path carried data of the connection (the engine's event log)."""
    per = {}
    for (_conn, local, remote), t in e2e.subflow_totals(engine.events).items():
        p = e2e.path_of(l, local if engine.side == "client" else remote)
        per[p] = per.get(p, 0) + t["tx"] + t["rx"]
    for p in range(1, len(l.paths) + 1):
        assert per.get(p, 0) > 0, f"path {p} carried nothing: {per}"


def check_no_key_logged(*files):
    for f in files:
        text = Path(f).read_text(errors="replace") if Path(f).exists() else ""
        assert not HEX_KEY.search(text), f"{f} contains a 32-byte hex string"


def check_all(l, c, s, watch, got_sha, want_sha, multipath=True):
    check_keys(watch)
    check_key_counters(c, s)
    if multipath:
        check_paths(l, c)
    assert got_sha == want_sha, "data corrupted"
    check_no_key_logged(c.log, s.log)


def run_client(l, eng, argv, watch, **kw):
    """Run a client under the shim, taking snapshots until it exits."""
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    p = l.popen("client", argv, env=eng.env(), **kw)
    try:
        assert watch.until(p, DEADLINE), f"{argv[0]} did not finish in {DEADLINE} s"
        out, err = p.communicate(timeout=30)
    finally:
        stop(p)
    return p.returncode, out, err


# ---- servers ---------------------------------------------------------------------

def nginx(l, eng, t, version):
    tlsv = {"1.3": "TLSv1.3", "1.2": "TLSv1.2"}[version]
    conf = e2e.nginx_conf(t["tmp"], l.addr("server", 1), PORT, t["www"], t["cert"], t["key"],
                          tls=tlsv)
    p = l.popen("server", ["nginx", "-c", str(conf), "-p", str(t["tmp"])], env=eng.env(),
                stdout=subprocess.DEVNULL, stderr=open(t["tmp"] / "server.stderr", "w"))
    e2e.wait_listening(eng, PORT, proc=p)
    return p


def s_server(l, eng, t, version):
    """openssl s_server -WWW: files from www (BIO_f_ssl, seen by the info
    callback only; notes/tlshooks.md §1)."""
    p = l.popen("server", ["openssl", "s_server", "-quiet", "-accept",
                           f"{l.addr('server', 1)}:{PORT}", "-cert", str(t["cert"]), "-key",
                           str(t["key"]), "-WWW", f"-tls{version.replace('.', '_')}"],
                cwd=t["www"], env=eng.env(), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=open(t["tmp"] / "server.stderr", "w"))
    e2e.wait_listening(eng, PORT, proc=p)
    return p


def gnutls_serv(l, eng, t, version, mode="--http"):
    prio = "NORMAL" if version == "1.3" else "NORMAL:-VERS-TLS1.3"
    p = l.popen("server", ["gnutls-serv", mode, "-q", "-p", str(PORT), "--x509certfile",
                           str(t["cert"]), "--x509keyfile", str(t["key"]), "--priority", prio],
                env=eng.env(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=open(t["tmp"] / "server.stderr", "w"))
    e2e.wait_listening(eng, PORT, proc=p)
    return p


def url(l, path="/file.bin"):
    return f"https://{l.addr('server', 1)}:{PORT}{path}"


def curl_argv(l, out, version):
    v = ["--tlsv1.3"] if version == "1.3" else ["--tlsv1.2", "--tls-max", "1.2"]
    return ["curl", "-sS", "--fail", "--insecure", "--http1.1", *v, "-o", str(out), url(l)]


# ---- the matrix ------------------------------------------------------------------

POLICIES = ["prefer", "require"]


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("version", ["1.3", "1.2"])
def test_curl_nginx(pair, tls, policy, version):
    need("nginx", "curl", "tshark")
    l, c, s = pair(policy, pcap=True)
    srv = nginx(l, s, tls, version)
    watch = e2e.Watch([c, s])
    out = tls["tmp"] / "got.bin"
    try:
        rc, _, err = run_client(l, c, curl_argv(l, out, version), watch)
        assert rc == 0, f"curl exited {rc}: {err.decode(errors='replace')}"
    finally:
        stop(srv)
    check_all(l, c, s, watch, e2e.sha256_file(out), tls["sha"])
    c.stop()  # flushes its pcap
    check_wire(c.pcap)


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("version", ["1.3", "1.2"])
def test_wget_nginx(pair, tls, policy, version):
    """wget (GnuTLS: the key comes from the gnutls_handshake hook) -> nginx
    (OpenSSL)."""
    need("nginx", "wget")
    l, c, s = pair(policy)
    srv = nginx(l, s, tls, version)
    watch = e2e.Watch([c, s])
    out = tls["tmp"] / "got.bin"
    v = "TLSv1_3" if version == "1.3" else "TLSv1_2"
    try:
        rc, _, err = run_client(l, c, ["wget", "-q", "--no-check-certificate",
                                       f"--secure-protocol={v}", "-O", str(out), url(l)], watch)
        assert rc == 0, f"wget exited {rc}: {err.decode(errors='replace')}"
    finally:
        stop(srv)
    check_all(l, c, s, watch, e2e.sha256_file(out), tls["sha"])


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("version", ["1.3", "1.2"])
def test_curl_s_server_www(pair, tls, policy, version):
    need("openssl", "curl")
    l, c, s = pair(policy)
    srv = s_server(l, s, tls, version)
    watch = e2e.Watch([c, s])
    out = tls["tmp"] / "got.bin"
    try:
        # HTTP/1.0: s_server -WWW answers one request and closes
        argv = curl_argv(l, out, version)
        argv.insert(1, "--http1.0")
        argv.remove("--http1.1")
        rc, _, err = run_client(l, c, argv, watch)
        assert rc == 0, f"curl exited {rc}: {err.decode(errors='replace')}"
    finally:
        stop(srv)
    check_all(l, c, s, watch, e2e.sha256_file(out), tls["sha"])


def http_body(raw):
    head, sep, body = raw.partition(b"\r\n\r\n")
    assert sep and head.startswith(b"HTTP/"), f"not an HTTP response: {raw[:200]!r}"
    return body


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("version", ["1.3", "1.2"])
def test_gnutls_cli_s_server(pair, tls, policy, version):
    need("openssl", "gnutls-cli")
    l, c, s = pair(policy)
    srv = s_server(l, s, tls, version)
    watch = e2e.Watch([c, s])
    prio = "NORMAL" if version == "1.3" else "NORMAL:-VERS-TLS1.3"
    argv = ["gnutls-cli", "--insecure", "--priority", prio, "--logfile",
            str(tls["tmp"] / "gnutls-cli.log"), "-p", str(PORT), l.addr("server", 1)]
    p = l.popen("client", argv, env=c.env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=open(tls["tmp"] / "gnutls-cli.stderr", "w"))
    try:
        # stdin stays open: gnutls-cli ends the session at stdin EOF
        p.stdin.write(b"GET /file.bin HTTP/1.0\r\n\r\n")
        p.stdin.flush()
        chunks = []
        th = threading.Thread(target=lambda: chunks.append(p.stdout.read()), daemon=True)
        th.start()
        assert watch.until(p, DEADLINE), "gnutls-cli did not finish"
        th.join(30)
    finally:
        stop(p, srv)
    raw = b"".join(chunks)
    (tls["tmp"] / "client.out").write_bytes(raw)  # kept for a failure's post-mortem
    body = http_body(raw)
    assert len(body) == SIZE, f"{len(body)} bytes of {SIZE}; the start: {raw[:300]!r}"
    check_all(l, c, s, watch, hashlib.sha256(body).hexdigest(), tls["sha"])


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("version", ["1.3", "1.2"])
def test_wget_gnutls_serv(pair, tls, policy, version):
    """gnutls-serv --http serves a status page only (a few kB), over before
    a snapshot can see it: E mode and the key are checked with the engines'
    counters; a second subflow has no time to carry data."""
    need("gnutls-serv", "wget")
    l, c, s = pair(policy)
    srv = gnutls_serv(l, s, tls, version)
    watch = e2e.Watch([c, s])
    out = tls["tmp"] / "page.html"
    try:
        rc, _, err = run_client(l, c, ["wget", "-q", "--no-check-certificate", "-O", str(out),
                                       url(l, "/")], watch)
        assert rc == 0, f"wget exited {rc}: {err.decode(errors='replace')}"
    finally:
        stop(srv)
    assert b"GnuTLS" in out.read_bytes()
    check_key_counters(c, s)
    check_no_key_logged(c.log, s.log)


@pytest.mark.parametrize("policy", POLICIES)
def test_s_client_gnutls_serv(pair, tls, policy):
    need("gnutls-serv", "openssl")
    l, c, s = pair(policy)
    srv = gnutls_serv(l, s, tls, "1.3")
    watch = e2e.Watch([c, s])
    try:
        rc, out, err = run_client(l, c, ["openssl", "s_client", "-quiet", "-ign_eof",
                                         "-connect", f"{l.addr('server', 1)}:{PORT}"], watch,
                                  stdin=open(_req(tls["tmp"]), "rb"))
    finally:
        stop(srv)
    assert rc == 0, f"s_client exited {rc}: {err.decode(errors='replace')}"
    assert b"GnuTLS" in out
    check_key_counters(c, s)
    check_no_key_logged(c.log, s.log)


def _req(tmp):
    f = Path(tmp) / "req.txt"
    f.write_bytes(b"GET / HTTP/1.0\r\n\r\n")
    return f


# ---- ssh with a pre-shared key --------------------------------------------------

SSHD = "/usr/sbin/sshd"


@pytest.mark.parametrize("policy", POLICIES)
def test_scp_sshd_psk(pair, tls, policy):
    """ssh has no exporter: both ends read MPTCPEXT_PSK_FILE; the engines
    expand it per connection (HKDF with the tokens)."""
    need(SSHD, "scp", "ssh-keygen")
    tmp = tls["tmp"]
    l, c, s = pair(policy)
    psk = tmp / "mptcp.psk"
    psk.write_text(os.urandom(32).hex() + "\n")
    os.chmod(psk, 0o600)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp / "hostkey")],
                   check=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp / "id")],
                   check=True)
    shutil.copy(tmp / "id.pub", tmp / "authorized_keys")
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    conf = tmp / "sshd_config"
    conf.write_text(f"""Port 2222
ListenAddress {l.addr('server', 1)}
HostKey {tmp}/hostkey
PidFile {tmp}/sshd.pid
AuthorizedKeysFile {tmp}/authorized_keys
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
Subsystem sftp internal-sftp
""")
    srv = l.popen("server", [SSHD, "-D", "-e", "-f", str(conf)],
                  env=s.env({"MPTCPEXT_PSK_FILE": str(psk)}), stdout=subprocess.DEVNULL,
                  stderr=open(tmp / "sshd.stderr", "w"))
    watch = e2e.Watch([c, s])
    out = tmp / "got.bin"
    try:
        e2e.wait_listening(s, 2222, proc=srv)
        argv = ["scp", "-q", "-i", str(tmp / "id"), "-o", "StrictHostKeyChecking=no",
                "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-P", "2222",
                f"root@{l.addr('server', 1)}:{tls['www'] / 'file.bin'}", str(out)]
        p = l.popen("client", argv, env=c.env({"MPTCPEXT_PSK_FILE": str(psk)}),
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            assert watch.until(p, DEADLINE), "scp did not finish"
            _, err = p.communicate(timeout=30)
        finally:
            stop(p)
        assert p.returncode == 0, f"scp exited {p.returncode}: {err.decode(errors='replace')}"
    finally:
        stop(srv)
    check_all(l, c, s, watch, e2e.sha256_file(out), tls["sha"])


def test_psk_file_readable_by_others_refused(pair, tls):
    """A PSK file others can read is refused with a clear error, and the
    connection is not made without it."""
    need("curl")
    tmp = tls["tmp"]
    l, c, s = pair("prefer")
    psk = tmp / "open.psk"
    psk.write_text(os.urandom(32).hex() + "\n")
    os.chmod(psk, 0o644)
    p = l.run("client", ["curl", "-sS", "--max-time", "20", "-o", "/dev/null", url(l)],
              check=False, env=c.env({"MPTCPEXT_PSK_FILE": str(psk)}), timeout=60)
    assert p.returncode != 0
    assert "accessible by group/others" in p.stderr and str(psk) in p.stderr, p.stderr
    assert c.conns() == []


# ---- one side without TLS hooks ------------------------------------------------------

RELAY = r"""
import socket, subprocess, sys, threading
sock, port, target = sys.argv[1], sys.argv[2], int(sys.argv[3])
lst = subprocess.Popen([sys.argv[4], "--socket", sock, "listen", port],
                       stdin=subprocess.PIPE, stdout=subprocess.PIPE)
t = socket.create_connection(("127.0.0.1", target))
def a():
    for b in iter(lambda: lst.stdout.read1(65536), b""):
        t.sendall(b)
    t.shutdown(socket.SHUT_WR)
def b():
    for d in iter(lambda: t.recv(65536), b""):
        lst.stdin.write(d); lst.stdin.flush()
    lst.stdin.close()
th = [threading.Thread(target=f) for f in (a, b)]
[x.start() for x in th]; [x.join() for x in th]
lst.wait()
"""


@pytest.mark.parametrize("policy", POLICIES)
def test_server_without_tls_hooks(pair, tls, policy):
    """curl under the shim exports its key; the server is `mptcpext listen`
    relaying to a kernel-local openssl s_server (no hooks on that side): the
    server engine never gets a key, the key is never confirmed, the
    connection stays on one path and finishes: no hang."""
    need("openssl", "curl")
    l, c, s = pair(policy)
    backend = l.popen("server", ["openssl", "s_server", "-quiet", "-accept", "127.0.0.1:9443",
                                 "-cert", str(tls["cert"]), "-key", str(tls["key"]), "-WWW"],
                      cwd=tls["www"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL)
    relay = None
    watch = e2e.Watch([c, s])
    out = tls["tmp"] / "got.bin"
    try:
        wait_for(lambda: "127.0.0.1:9443" in l.run("server", ["ss", "-Hltn"]).stdout, 15,
                 "the local s_server")
        relay = l.popen("server", [PY, "-c", RELAY, s.sock, str(PORT), "9443", str(e2e.CLI)],
                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        e2e.wait_listening(s, PORT, proc=relay)
        argv = curl_argv(l, out, "1.3")
        argv.insert(1, "--http1.0")
        argv.remove("--http1.1")
        rc, _, err = run_client(l, c, argv, watch)
        assert rc == 0, f"curl exited {rc}: {err.decode(errors='replace')}"
    finally:
        stop(relay, backend)
    assert e2e.sha256_file(out) == tls["sha"]
    cs, ss = watch.seen["client"], watch.seen["server"]
    assert cs and ss
    assert all(x["key_state"] != "ext-active" for x in cs + ss), "a key became active"
    assert not any(x.get("key_fpr") for x in ss), "the server engine got a key"
    assert max(len(x.get("subflows", [])) for x in cs) == 1, "a second subflow was opened"


# ---- the public C API (shim/mptcpext.h) --------------------------------------------

SETKEY = e2e.BUILD / "shim_setkey"


def setkey_run(l, c, s, key, nbytes, watch):
    srv = l.popen("server", [str(SETKEY), "server", l.addr("server", 1), str(PORT), key,
                             str(nbytes)], env=s.env(), stdout=subprocess.PIPE,
                  stderr=subprocess.PIPE)
    try:
        e2e.wait_listening(s, PORT, proc=srv)
        rc, out, err = run_client(l, c, [str(SETKEY), "client", l.addr("server", 1), str(PORT),
                                         key], watch)
        assert srv.wait(30) == 0
        sout, serr = srv.communicate(timeout=10)
    finally:
        stop(srv)
    assert rc == 0, err
    return out.decode(), err.decode(), sout.decode(), serr.decode()


@pytest.mark.parametrize("policy", POLICIES)
def test_api_set_key(pair, policy):
    """Both ends install the same secret with mptcpext_set_key(): same
    fingerprint, NEW_KEY confirmed, every path used, bytes intact."""
    need(str(SETKEY))
    l, c, s = pair(policy)
    watch = e2e.Watch([c, s])
    out, err, sout, serr = setkey_run(l, c, s, os.urandom(32).hex(), SIZE, watch)
    assert "set_key 0" in err and "set_key 0" in serr, (err, serr)
    assert out == sout and out.startswith(f"bytes {SIZE} "), (out, sout)
    check_keys(watch)
    check_paths(l, c)


def test_api_set_key_without_e_mode(pair):
    """Policy never: the connection uses RFC 8684 keys, set_key says
    EOPNOTSUPP and the connection goes on."""
    need(str(SETKEY))
    l, c, s = pair("never")
    watch = e2e.Watch([c, s])
    out, err, sout, serr = setkey_run(l, c, s, os.urandom(32).hex(), 200_000, watch)
    assert "set_key -1 EOPNOTSUPP" in err and "set_key -1 EOPNOTSUPP" in serr, (err, serr)
    assert out == sout and out.startswith("bytes 200000 ")
    states = {x["key_state"] for x in watch.seen["client"] + watch.seen["server"]}
    assert states <= {"rfc8684", "none"}, states
    kc, ks = key_counters(c), key_counters(s)
    assert kc.get("MPExtKeyOffered", 0) == 0 and ks.get("MPExtKeyAccepted", 0) == 0, (kc, ks)
    assert kc.get("MPExtKeyInstalled", 0) == 0 and ks.get("MPExtKeyInstalled", 0) == 0, (kc, ks)


# ---- against kernel MPTCP (Linux ignores E: spec/NOTES.md D3) ---------------------------

KSERVER = r"""
import socket, ssl, sys
addr, port, cert, key, path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_MPTCP)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port))
s.listen(8)
print("listening", flush=True)
c, _ = s.accept()
t = ctx.wrap_socket(c, server_side=True)
req = b""
while b"\r\n\r\n" not in req:
    d = t.recv(4096)
    if not d:
        sys.exit(1)
    req += d
data = open(path, "rb").read()
t.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(data) + data)
t.close()
"""


@pytest.mark.parametrize("policy", POLICIES)
def test_curl_kernel_mptcp_tls_server(lab, tls, tmp_path, policy):
    """curl under the shim against a Python TLS server on a kernel MPTCP
    socket. prefer: the E SYN gets a plain SYN/ACK, one retry without E,
    then RFC 8684 multipath. require: no key in clear, so the connection
    stays single-path plain TCP; nothing is exported either way."""
    need("curl", "tshark")
    l = lab(paths=2, delays=[4, 12], rates=[50, 30], client="engine", server="kernel")
    eps = ["--endpoint", f"{l.addr('client', 2)} id 2 subflow"]
    c = e2e.Engine(l, "client", tmp_path, ["--limits", "subflows 1 add_addr_accepted 1",
                                           "--extkey", policy] + eps, pcap=True)
    srv = l.popen("server", [PY, "-c", KSERVER, l.addr("server", 1), str(PORT),
                             str(tls["cert"]), str(tls["key"]), str(tls["www"] / "file.bin")],
                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watch = e2e.Watch([c])
    out = tls["tmp"] / "got.bin"
    try:
        assert srv.stdout.readline().strip() == "listening"
        rc, _, err = run_client(l, c, curl_argv(l, out, "1.3"), watch)
        assert rc == 0, f"curl exited {rc}: {err.decode(errors='replace')}"
        k = key_counters(c)
    finally:
        stop(srv)
        crc = c.stop()  # also flushes its pcap
    assert crc == 0, c.log.read_text()[-3000:]
    assert e2e.sha256_file(out) == tls["sha"]
    assert k.get("MPExtKeyOffered", 0) >= 1 and k.get("MPExtKeyInstalled", 0) == 0, k
    mpc = e2e.mp_capable(c.pcap)
    states = {x["key_state"] for x in watch.seen["client"]}
    if policy == "prefer":
        assert k.get("MPExtKeyRetryNoE", 0) == 1, k
        assert "rfc8684" in states, states
        check_paths(l, c)
        # the retry is RFC 8684: keys in clear are expected here
        assert any(m[0] and m[1] and m[3] == 12 for m in mpc), mpc
    else:
        assert k.get("MPExtKeyRetryNoE", 0) == 0, k
        assert states <= {"none"}, states
        assert max(len(x.get("subflows", [])) for x in watch.seen["client"]) == 1
        # only the E SYN carried MP_CAPABLE: no key ever went out
        assert mpc and all(m[0] and not m[1] and m[3] == 4 for m in mpc), mpc
    check_no_key_logged(c.log)


def test_api_rotate_key(pair):
    """Both ends set the same secret, then rotate: generation 1 on both
    with equal fingerprints (key n+1 = HKDF-Expand(key n, "mptcpext
    rotate")), NEW_KEY confirmed, the bytes intact."""
    need(str(SETKEY))
    l, c, s = pair("prefer")
    watch = e2e.Watch([c, s])
    out, err, sout, serr = setkey_run(l, c, s, os.urandom(32).hex() + ",rotate", SIZE, watch)
    assert "rotate 0" in err and "rotate 0" in serr, (err, serr)
    assert out == sout and out.startswith(f"bytes {SIZE} "), (out, sout)
    gen1 = {side: {x["key_fpr"] for x in watch.seen[side] if x.get("key_gen") == 1}
            for side in ("client", "server")}
    gen0 = {side: {x["key_fpr"] for x in watch.seen[side]
                   if x.get("key_gen") == 0 and x.get("key_fpr")} for side in ("client", "server")}
    assert gen1["client"] and gen1["client"] == gen1["server"], gen1
    assert not gen1["client"] & gen0["client"], "the rotated key has the old fingerprint"
    kc, ks = key_counters(c), key_counters(s)
    assert kc.get("MPExtKeyRotated", 0) == 1 and ks.get("MPExtKeyRotated", 0) == 1, (kc, ks)
    assert kc.get("MPNewKeyConfirmed", 0) >= 2 and ks.get("MPNewKeyConfirmed", 0) >= 2, (kc, ks)


# ---- a TLS session with no socket fd (memory BIO) ---------------------------------

ASYNCIO_CLIENT = r"""
import asyncio, hashlib, ssl, sys
async def main(host, port):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    r, w = await asyncio.open_connection(host, port, ssl=ctx)
    w.write(b"GET /file.bin HTTP/1.0\r\nHost: x\r\n\r\n")
    await w.drain()
    data = await r.read()
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head[:100]
    print(hashlib.sha256(body).hexdigest())
asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


@pytest.mark.parametrize("policy", POLICIES)
def test_python_asyncio_memory_bio_nginx(pair, tls, policy):
    """Python's asyncio drives OpenSSL through memory BIOs and moves the
    bytes itself: the TLS session has no fd, so the shim finds the
    connection by the ClientHello random the engine saw on the stream
    (CONN_FIND)."""
    need("nginx")
    l, c, s = pair(policy)
    srv = nginx(l, s, tls, "1.3")
    watch = e2e.Watch([c, s])
    try:
        rc, out, err = run_client(l, c, [PY, "-c", ASYNCIO_CLIENT, l.addr("server", 1),
                                         str(PORT)], watch)
        assert rc == 0, f"client exited {rc}: {err.decode(errors='replace')}"
    finally:
        stop(srv)
    check_all(l, c, s, watch, out.decode().strip(), tls["sha"])
