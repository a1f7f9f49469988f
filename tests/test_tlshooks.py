"""tlshooks/: TLS exporter taken at handshake completion in unmodified programs.

Both ends of a real TLS connection over loopback run under
LD_PRELOAD=build/libmpxtlsh_test.so (tlshooks/ + the TEST host
tests/tools/tlsh_testhost.c, which the shim will replace). The test host
appends one line per exported key to $MPXTLSH_TEST_KEYLOG:

    <role> <tls_version> <ctx hex|-> <client_random hex> <key hex>

Label "EXPERIMENTAL-mptcp-external-key", context = initiator token ||
responder token (here derived from the 4-tuple, 8 bytes), length 32
(DESIGN.md decision 6). Independent check of the value: with
MPXTLSH_TEST_NOCTX=1 the hooks export without context, which is what
`openssl s_client -keymatexport` and `gnutls-cli --keymatexport` print.
An export taken before the handshake completed gives different bytes
(OpenSSL TLS 1.2, GnuTLS always: notes/tlshooks.md section 6) or fails, so
matching keys on both ends and matching the tools' own values pins "after
handshake completion".
"""
import contextlib
import os
import pathlib
import re
import shutil
import socket
import subprocess
import time

import pytest

from conftest import BUILD, require_file

LIB = BUILD / "libmpxtlsh_test.so"
CBAPP = BUILD / "tlsh_cbapp"
LABEL = "EXPERIMENTAL-mptcp-external-key"
PY = "/usr/bin/python3"
TOOLS = ["openssl", "curl", "wget", "gnutls-serv", "gnutls-cli", "nginx"]
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

# GnuTLS priority strings that pin one version.
GNUTLS_PRIO = {"1.3": "NORMAL:-VERS-ALL:+VERS-TLS1.3", "1.2": "NORMAL:-VERS-ALL:+VERS-TLS1.2"}
OSSL_VER = {"1.3": "-tls1_3", "1.2": "-tls1_2"}


@pytest.fixture(scope="module", autouse=True)
def _prereqs():
    require_file(LIB, "make builds it")
    require_file(CBAPP, "make builds it")
    for t in TOOLS:
        if not (shutil.which(t) or (t == "nginx" and os.path.exists(NGINX))):
            pytest.fail(f"{t} is missing: scripts/deps.sh installs it")


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    d = tmp_path_factory.mktemp("cert")
    crt, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(crt), "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True, timeout=60)
    return crt, key


# ---- helpers ---------------------------------------------------------------

def wait_until(cond, timeout, what):
    """Poll cond() until it returns a true value or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port):
    """Is some socket in LISTEN state on port? Reads /proc, so the probe
    makes no connection that a server would have to handle."""
    for f in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = pathlib.Path(f).read_text().splitlines()[1:]
        except OSError:
            continue
        for ln in lines:
            parts = ln.split()
            if parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                return True
    return False


def preload_env(keylog, noctx=False, verbose=False):
    env = {k: v for k, v in os.environ.items()
           if k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}
    env["LD_PRELOAD"] = str(LIB)
    env["MPXTLSH_TEST_KEYLOG"] = str(keylog)
    env.pop("MPXTLSH_TEST_NOCTX", None)
    if noctx:
        env["MPXTLSH_TEST_NOCTX"] = "1"
    env.pop("MPXTLSH_TEST_VERBOSE", None)
    if verbose:
        env["MPXTLSH_TEST_VERBOSE"] = "1"
    env["HOME"] = str(pathlib.Path(keylog).parent)  # no ~/.curlrc, ~/.wgetrc
    return env


@contextlib.contextmanager
def server(argv, port, env, cwd, keep_stdin=False):
    """Run a server until the block ends. keep_stdin: give it a pipe that
    stays open (openssl s_server without -www quits at stdin EOF)."""
    out = open(pathlib.Path(cwd) / f"server-{port}.log", "wb")
    p = subprocess.Popen(argv, env=env, cwd=cwd,
                         stdin=subprocess.PIPE if keep_stdin else subprocess.DEVNULL,
                         stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: listening(port) or p.poll() is not None, 20,
                   f"{argv[0]} to listen on {port}")
        if p.poll() is not None:
            pytest.fail(f"{argv[0]} exited {p.returncode}: "
                        f"{(pathlib.Path(cwd) / f'server-{port}.log').read_text()[-2000:]}")
        yield p
    finally:
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(10)
        out.close()
        if p.stdin:
            p.stdin.close()


def client(argv, env, stdin=b"", timeout=30):
    r = subprocess.run(argv, env=env, input=stdin, capture_output=True, timeout=timeout)
    return r


def read_log(path):
    try:
        text = pathlib.Path(path).read_text()
    except FileNotFoundError:
        return []
    out = []
    for ln in text.splitlines():
        f = ln.split()
        assert len(f) >= 5, f"malformed key log line: {ln!r}"
        d = dict(role=f[0], ver=f[1], ctx=f[2], cr=f[3], key=f[4])
        d.update(kv.split("=", 1) for kv in f[5:])  # MPXTLSH_TEST_VERBOSE=1
        out.append(d)
    return out


def wait_lines(path, n, timeout=15):
    return wait_until(lambda: (lambda l: l if len(l) >= n else None)(read_log(path)),
                      timeout, f"{n} key log lines in {path}")


def check_pair(lines, ver, ctx=True):
    """Exactly one export per side of one connection, same key and context."""
    assert len(lines) == 2, lines
    roles = sorted(x["role"] for x in lines)
    assert roles == ["client", "server"], lines
    a, b = lines
    assert a["ver"] == b["ver"] == ver, lines
    assert a["cr"] == b["cr"] and len(a["cr"]) == 64, lines
    assert a["key"] == b["key"] and len(a["key"]) == 64, lines
    assert a["key"] != "0" * 64
    assert a["ctx"] == b["ctx"], lines
    if ctx:
        assert re.fullmatch("[0-9a-f]{16}", a["ctx"]), lines
    else:
        assert a["ctx"] == "-", lines
    return a


# ---- servers and clients ---------------------------------------------------

def nginx_argv(tmp, port, ver, crt, key):
    tmp = pathlib.Path(tmp)
    temps = "".join(f"    {d}_temp_path {tmp}/{d};\n"
                    for d in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf = tmp / "nginx.conf"
    conf.write_text(
        f"{user}worker_processes 2;\npid {tmp}/nginx.pid;\nerror_log {tmp}/nginx-error.log;\n"
        "events { worker_connections 64; }\n"
        "http {\n    access_log off;\n" + temps +
        f"    server {{\n        listen 127.0.0.1:{port} ssl;\n"
        f"        ssl_certificate {crt};\n        ssl_certificate_key {key};\n"
        f"        ssl_protocols TLSv{ver};\n"
        "        location / { return 200 \"ok\\n\"; }\n    }\n}\n")
    return [NGINX, "-p", str(tmp), "-e", str(tmp / "nginx-error.log"), "-c", str(conf),
            "-g", "daemon off; master_process on;"]


def s_server_argv(port, ver, crt, key):
    return ["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-cert", str(crt),
            "-key", str(key), "-www", OSSL_VER[ver]]


def gnutls_serv_argv(port, ver, crt, key):
    return ["gnutls-serv", "--http", "-p", str(port), "--x509certfile", str(crt),
            "--x509keyfile", str(key), "--priority", GNUTLS_PRIO[ver]]


def curl_argv(port, ver, paths=("/",)):
    v = ["--tlsv1.3"] if ver == "1.3" else ["--tlsv1.2", "--tls-max", "1.2"]
    return ["curl", "-sSk", "--max-time", "20", *v,
            *[f"https://127.0.0.1:{port}{p}" for p in paths]]


def wget_argv(port, ver):
    return ["wget", "-q", "-O", "-", "--no-check-certificate", "--tries=1", "--timeout=20",
            f"--secure-protocol=TLSv1_{ver[-1]}", f"https://127.0.0.1:{port}/"]


def s_client_argv(port, ver, keymat=False):
    a = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", OSSL_VER[ver]]
    if keymat:
        a += ["-keymatexport", LABEL, "-keymatexportlen", "32"]
    return a


def gnutls_cli_argv(port, ver, keymat=False):
    a = ["gnutls-cli", "--insecure", "-p", str(port), "--priority", GNUTLS_PRIO[ver]]
    if keymat:
        a += [f"--keymatexport={LABEL}", "--keymatexportsize=32"]
    return a + ["127.0.0.1"]


HTTP_GET = b"GET / HTTP/1.0\r\n\r\n"


def run_pair(tmp_path, cert, ver, srv, cli, noctx=False, verbose=False):
    """Start server srv, run client cli once, return (client result, log lines)."""
    crt, key = cert
    port = free_port()
    keylog = tmp_path / "keys.log"
    env = preload_env(keylog, noctx, verbose)
    argv = {"nginx": lambda: nginx_argv(tmp_path, port, ver, crt, key),
            "s_server": lambda: s_server_argv(port, ver, crt, key),
            "gnutls-serv": lambda: gnutls_serv_argv(port, ver, crt, key)}[srv]()
    cargv = {"curl": lambda: curl_argv(port, ver),
             "wget": lambda: wget_argv(port, ver),
             "wget-auto": lambda: [a for a in wget_argv(port, ver) if "secure-protocol" not in a],
             "s_client": lambda: s_client_argv(port, ver, noctx),
             "gnutls-cli": lambda: gnutls_cli_argv(port, ver, noctx)}[cli]()
    with server(argv, port, env, tmp_path):
        r = client(cargv, env, stdin=HTTP_GET)
        assert r.returncode == 0, (r.returncode, r.stderr.decode(errors="replace")[-2000:])
        # The server completes its handshake (reads the client Finished)
        # before it answers, so both lines exist once the client has its
        # answer; wait with a deadline all the same.
        wait_lines(keylog, 2)
    # read again once the server has stopped: a late duplicate would show
    return r, read_log(keylog)


PAIRS = [("curl", "nginx"), ("curl", "s_server"), ("wget", "gnutls-serv"),
         ("s_client", "gnutls-serv"), ("gnutls-cli", "s_server")]


@pytest.mark.parametrize("ver", ["1.3", "1.2"])
@pytest.mark.parametrize("cli,srv", PAIRS, ids=[f"{c}-{s}" for c, s in PAIRS])
def test_tlshooks_pair_same_key(tmp_path, cert, cli, srv, ver):
    """One export per side, equal keys and context, for each client/server pair."""
    r, lines = run_pair(tmp_path, cert, ver, srv, cli)
    if cli in ("curl", "wget"):  # the application data went through
        assert r.stdout == b"ok\n" if srv == "nginx" else b"<HTML>" in r.stdout.upper(), r.stdout
    check_pair(lines, ver)


def _printed_key(out):
    # openssl: "    Keying material: 80DC..."; gnutls-cli: "- Key material: 80dc..."
    m = re.search(rb"Key(?:ing)? material: ([0-9A-Fa-f]{64})", out)
    assert m, out.decode(errors="replace")[-3000:]
    return m.group(1).decode().lower()


@pytest.mark.parametrize("ver", ["1.3", "1.2"])
@pytest.mark.parametrize("cli,srv", [("s_client", "gnutls-serv"), ("gnutls-cli", "s_server")],
                         ids=["s_client-gnutls-serv", "gnutls-cli-s_server"])
def test_tlshooks_rfc5705_value_matches_tool(tmp_path, cert, cli, srv, ver):
    """Independent check: with no context, both hooks' value equals what the
    TLS tool itself prints for -keymatexport (RFC 5705 / RFC 8446 7.5)."""
    r, lines = run_pair(tmp_path, cert, ver, srv, cli, noctx=True)
    a = check_pair(lines, ver, ctx=False)
    assert a["key"] == _printed_key(r.stdout)


def test_tlshooks_each_connection_own_key_and_context(tmp_path, cert):
    """Two connections between the same programs: distinct client randoms,
    keys and contexts (the client port differs), one export per side each."""
    crt, key = cert
    port = free_port()
    keylog = tmp_path / "keys.log"
    env = preload_env(keylog)
    with server(s_server_argv(port, "1.3", crt, key), port, env, tmp_path):
        for _ in range(2):
            r = client(curl_argv(port, "1.3"), env)
            assert r.returncode == 0, r.stderr
        lines = wait_lines(keylog, 4)
    assert len(lines) == 4
    by_cr = {}
    for x in lines:
        by_cr.setdefault(x["cr"], []).append(x)
    assert len(by_cr) == 2
    keys = {check_pair(v, "1.3")["key"] for v in by_cr.values()}
    assert len(keys) == 2
    ctxs = {v[0]["ctx"] for v in by_cr.values()}
    assert len(ctxs) == 2  # different client ports -> different tokens


def test_tlshooks_curl_parallel_connections_to_nginx(tmp_path, cert):
    """Several connections driven by one curl thread (custom BIO, SSL_get_fd
    is -1): the per-thread fd tracking gives each its own connection."""
    crt, key = cert
    port = free_port()
    keylog = tmp_path / "keys.log"
    env = preload_env(keylog)
    n = 6
    with server(nginx_argv(tmp_path, port, "1.3", crt, key), port, env, tmp_path):
        argv = curl_argv(port, "1.3", [f"/{i}" for i in range(n)])
        argv[1:1] = ["--parallel", "--parallel-immediate", "--parallel-max", str(n),
                     "-H", "Connection: close"]
        r = client(argv, env)
        assert r.returncode == 0, r.stderr
        assert r.stdout.count(b"ok") == n
        lines = wait_lines(keylog, 2 * n)
    by_cr = {}
    for x in lines:
        by_cr.setdefault(x["cr"], []).append(x)
    assert len(by_cr) == n
    for v in by_cr.values():
        check_pair(v, "1.3")
    assert len({v[0]["ctx"] for v in by_cr.values()}) == n


def test_tlshooks_python_ssl_dlopen_local(tmp_path, cert):
    """python3's _ssl loads libssl RTLD_LOCAL: RTLD_NEXT finds nothing and
    the RTLD_NOLOAD fallback must resolve the real functions."""
    crt, key = cert
    port = free_port()
    keylog = tmp_path / "keys.log"
    env = preload_env(keylog)
    code = (
        "import socket, ssl, sys\n"
        "c = ssl.create_default_context(); c.check_hostname = False;"
        " c.verify_mode = ssl.CERT_NONE\n"
        f"s = c.wrap_socket(socket.create_connection(('127.0.0.1', {port})))\n"
        "s.sendall(b'GET / HTTP/1.0\\r\\n\\r\\n'); d = b''\n"
        "while True:\n    b = s.recv(4096)\n    if not b: break\n    d += b\n"
        "sys.stdout.write(s.version() + ' ' + str(len(d)))\n")
    with server(s_server_argv(port, "1.3", crt, key), port, env, tmp_path):
        r = client([PY, "-c", code], env)
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith(b"TLSv1.3 "), r.stdout
        lines = wait_lines(keylog, 2)
    check_pair(lines, "1.3")


def test_tlshooks_no_tls_program_unaffected(tmp_path):
    """Programs without TLS run as before under the preload and export
    nothing: /bin/true, and a plain-HTTP python server and client."""
    keylog = tmp_path / "keys.log"
    env = preload_env(keylog)
    assert subprocess.run(["/bin/true"], env=env, timeout=30).returncode == 0
    r = subprocess.run(["/bin/echo", "hello"], env=env, capture_output=True, timeout=30)
    assert (r.returncode, r.stdout) == (0, b"hello\n")
    port = free_port()
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "f.txt").write_text("plain\n")
    with server([PY, "-m", "http.server", "-b", "127.0.0.1", str(port)], port, env,
                tmp_path / "www"):
        code = ("import urllib.request, sys; sys.stdout.write(urllib.request.urlopen("
                f"'http://127.0.0.1:{port}/f.txt', timeout=20).read().decode())")
        r = client([PY, "-c", code], env)
    assert (r.returncode, r.stdout) == (0, b"plain\n"), r.stderr
    assert not keylog.exists()


def test_tlshooks_library_exports_only_interposed_names():
    """Internal mpx_tlsh_* names are hidden; only libc/TLS names are visible."""
    out = subprocess.run(["nm", "-D", "--defined-only", str(LIB)], capture_output=True,
                         text=True, check=True).stdout
    names = {ln.split()[-1] for ln in out.splitlines() if ln.strip()}
    assert "SSL_new" in names and "gnutls_handshake" in names
    assert not [n for n in names if n.startswith("mpx_")], names
    assert all(re.match(r"(SSL_|gnutls_|[a-z0-9]+$)", n) for n in names), names
    needed = subprocess.run(["readelf", "-d", str(LIB)], capture_output=True, text=True,
                            check=True).stdout
    assert "libssl" not in needed and "libgnutls" not in needed and "libcrypto" not in needed


def pairs_by_random(lines):
    by_cr = {}
    for x in lines:
        by_cr.setdefault(x["cr"], []).append(x)
    return by_cr


CB_CASES = [("ctx-before", "1.3"), ("ctx-before", "1.2"), ("ctx-after", "1.3"),
            ("ctx-after", "1.2"), ("ssl", "1.3"), ("ssl", "1.2"), ("bypass", "1.3"),
            ("bypass", "1.2"), ("reneg", "1.2"), ("clear", "1.3"), ("clear", "1.2"),
            ("early", "1.3")]


@pytest.mark.parametrize("mode,ver", CB_CASES, ids=[f"{m}-{v}" for m, v in CB_CASES])
def test_tlshooks_openssl_app_sees_no_difference(tmp_path, cert, mode, ver):
    """An OpenSSL app (tests/tools/tlsh_cbapp.c, client and server in one
    process) sees exactly the same info-callback events, the same
    SSL_get_info_callback result and an empty error queue with and without
    the hooks, however it installs its callback (SSL_CTX before/after SSL_new,
    SSL-level), and the hooks' key is the app's own RFC 5705 export taken
    after the handshake; 'bypass' makes SSLs with a privately dlsym'ed SSL_new (only the
    wrappers see them); 'reneg' renegotiates TLS 1.2 (two HANDSHAKE_DONE per
    side) and must still give one key per side; 'clear' recycles both SSL
    objects with SSL_clear for a second connection, which needs its own key;
    'early' resumes with 0-RTT data, where the client's premature
    HANDSHAKE_DONE makes the exporter fail and push an error: the app must
    find its error queue empty after every call, and still get its key."""
    crt, key = cert
    keylog = tmp_path / "keys.log"
    argv = [str(CBAPP), str(crt), str(key), mode, ver]
    plain = subprocess.run(argv, capture_output=True, timeout=60)
    hooked = subprocess.run(argv, capture_output=True, timeout=60,
                            env=preload_env(keylog, noctx=True))
    assert plain.returncode == 0 and hooked.returncode == 0, (plain, hooked)
    summary, export = hooked.stdout.decode().splitlines()
    assert summary == plain.stdout.decode().splitlines()[0]
    out = summary
    assert " getcb=1 err=0" in out and f"version=TLSv{ver}" in out, out
    if mode != "early":  # (0-RTT: extra premature HANDSHAKE_DONE, same count as plain)
        assert ("done=2/2" if mode in ("reneg", "clear") else "done=1/1") in out, out
    lines = read_log(keylog)
    if mode in ("clear", "early"):  # two connections, two pairs, in order
        assert len(pairs_by_random(lines)) == 2
        check_pair(lines[2:], ver, ctx=False)
        lines = lines[:2]
    # the hooks' value is the app's own export after the (first) handshake
    assert check_pair(lines, ver, ctx=False)["key"] == export[len("export="):]


@pytest.mark.parametrize("ver", ["1.3", "1.2"])
def test_tlshooks_context_is_the_logged_tokens(tmp_path, cert, ver):
    """The export really uses the host's context, as RFC 5705 context bytes
    (use_context=1): the app's own export with the logged 8 bytes equals the
    hooks' key, which differs from the no-context value."""
    crt, key = cert
    keylog = tmp_path / "keys.log"
    env = preload_env(keylog)
    r = subprocess.run([str(CBAPP), str(crt), str(key), "ssl", ver, str(keylog)], env=env,
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r
    a = check_pair(read_log(keylog), ver)
    assert r.stdout.decode().splitlines()[1] == "export=" + a["key"]
    nc = subprocess.run([str(CBAPP), str(crt), str(key), "ssl", ver], capture_output=True,
                        timeout=60)
    assert nc.returncode == 0
    assert nc.stdout.decode().splitlines()[1] != "export=" + a["key"]


def test_tlshooks_gnutls_rehandshake_one_key(tmp_path, cert):
    """GnuTLS TLS 1.2 rehandshake: gnutls_handshake returns 0 twice on each
    side, the key stays the first one (one export per connection)."""
    crt, key = cert
    port = free_port()
    keylog = tmp_path / "keys.log"
    env = preload_env(keylog)
    with server(gnutls_serv_argv(port, "1.2", crt, key), port, env, tmp_path):
        argv = gnutls_cli_argv(port, "1.2")
        argv[1:1] = ["--rehandshake"]
        r = client(argv, env, stdin=HTTP_GET)
        assert r.returncode == 0, r.stderr
        assert b"ReHandshake was completed" in r.stdout + r.stderr
        wait_lines(keylog, 2)
    check_pair(read_log(keylog), "1.2")


def test_tlshooks_openssl_0rtt_resumption_ipv6(tmp_path, cert):
    """TLS 1.3 resumption with accepted 0-RTT over ::1: the client's premature
    HANDSHAKE_DONE (exporter fails there) must not consume the export; each
    connection gets its own key on both sides."""
    crt, key = cert
    port = free_port()
    keylog = tmp_path / "keys.log"
    env = preload_env(keylog)
    sess, early = tmp_path / "sess.pem", tmp_path / "early.txt"
    early.write_bytes(HTTP_GET)
    srv = ["openssl", "s_server", "-accept", f"[::1]:{port}", "-cert", str(crt),
           "-key", str(key), "-early_data"]
    base = ["openssl", "s_client", "-connect", f"[::1]:{port}"]
    with server(srv, port, env, tmp_path, keep_stdin=True):
        # The TLS 1.3 ticket comes after the handshake: keep the first
        # client's stdin open until it has written the session.
        p = subprocess.Popen(base + ["-sess_out", str(sess)], env=env, stdin=subprocess.PIPE,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            p.stdin.write(HTTP_GET)
            p.stdin.flush()
            wait_until(lambda: sess.exists() and sess.stat().st_size > 0, 20, "session file")
        finally:
            p.stdin.close()
            assert p.wait(20) == 0
        wait_lines(keylog, 2)
        r = client(base + ["-sess_in", str(sess), "-early_data", str(early)], env,
                   stdin=HTTP_GET)
        assert r.returncode == 0, r.stderr
        assert b"Early data was accepted" in r.stdout, r.stdout
        assert b"Reused, TLSv1.3" in r.stdout, r.stdout
        wait_lines(keylog, 4)
    by_cr = pairs_by_random(read_log(keylog))
    assert len(by_cr) == 2
    assert len({check_pair(v, "1.3")["key"] for v in by_cr.values()}) == 2


def test_tlshooks_threads_python_ssl_to_nginx(tmp_path, cert):
    """8 client threads x 3 connections (python ssl) to nginx with 2 workers:
    every connection paired, 24 distinct keys."""
    crt, key = cert
    port = free_port()
    keylog = tmp_path / "keys.log"
    env = preload_env(keylog)
    code = (
        "import socket, ssl, threading\n"
        "c = ssl.create_default_context(); c.check_hostname = False;"
        " c.verify_mode = ssl.CERT_NONE\n"
        "errs = []\n"
        "def run():\n"
        "    try:\n"
        "        for _ in range(3):\n"
        f"            s = c.wrap_socket(socket.create_connection(('127.0.0.1', {port})))\n"
        "            s.sendall(b'GET / HTTP/1.0\\r\\n\\r\\n'); d = b''\n"
        "            while True:\n"
        "                b = s.recv(4096)\n"
        "                if not b: break\n"
        "                d += b\n"
        "            assert d.endswith(b'ok\\n'), d\n"
        "            s.close()\n"
        "    except Exception as e:\n"
        "        errs.append(repr(e))\n"
        "ts = [threading.Thread(target=run) for _ in range(8)]\n"
        "[t.start() for t in ts]; [t.join() for t in ts]\n"
        "assert not errs, errs\n")
    with server(nginx_argv(tmp_path, port, "1.3", crt, key), port, env, tmp_path):
        r = client([PY, "-c", code], env, timeout=60)
        assert r.returncode == 0, r.stderr
        wait_lines(keylog, 48)
    by_cr = pairs_by_random(read_log(keylog))
    assert len(by_cr) == 24
    assert len({check_pair(v, "1.3")["key"] for v in by_cr.values()}) == 24


def test_tlshooks_wrappers_without_tls_library(tmp_path):
    """The preload makes SSL_* and gnutls_* visible in every process
    (notes/tlshooks.md pitfall 4). In a process that has no libssl/libgnutls
    loaded, calling them must fail cleanly (NULL / -1 / GNUTLS_E_INTERNAL_ERROR),
    never crash, and export nothing."""
    keylog = tmp_path / "keys.log"
    code = (
        "import ctypes, sys\n"
        "maps = open('/proc/self/maps').read()\n"
        "assert 'libssl' not in maps and 'libgnutls' not in maps, 'TLS library loaded'\n"
        "me = ctypes.CDLL(None)\n"
        "me.SSL_new.restype = ctypes.c_void_p\n"
        "r = [me.SSL_new(None), me.SSL_read(None, None, 0), me.SSL_do_handshake(None),\n"
        "     me.gnutls_handshake(None), me.gnutls_init(None, 0)]\n"
        "sys.stdout.write(repr(r))\n")
    r = subprocess.run([PY, "-S", "-c", code], env=preload_env(keylog), capture_output=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"[None, -1, -1, -59, -59]"
    assert not keylog.exists()


def test_tlshooks_failed_handshake_exports_nothing(tmp_path, cert):
    """No export unless the handshake completed: a version mismatch
    (client TLS 1.3 only, server TLS 1.2 only) aborts the handshake after the
    ClientHello; neither side may report a key."""
    crt, key = cert
    port = free_port()
    keylog = tmp_path / "keys.log"
    env = preload_env(keylog)
    with server(s_server_argv(port, "1.2", crt, key), port, env, tmp_path) as srv:
        r = client(curl_argv(port, "1.3"), env)
        assert r.returncode != 0  # curl: (35) alert protocol version
        # the server still works afterwards and its next handshake exports
        r2 = client(curl_argv(port, "1.2"), env)
        assert r2.returncode == 0, r2.stderr
        wait_lines(keylog, 2)
        assert srv.poll() is None
    check_pair(read_log(keylog), "1.2")


EMS_CASES = [("s_client", "gnutls-serv", "1.2", "1"), ("gnutls-cli", "s_server", "1.2", "1"),
             ("curl", "s_server", "1.2", "1"), ("wget", "s_server", "1.2", "1"),
             ("wget-auto", "s_server", "1.2", "0"), ("wget-auto", "gnutls-serv", "1.2", "0"),
             ("curl", "nginx", "1.3", "-1")]


@pytest.mark.parametrize("cli,srv,ver,ems", EMS_CASES,
                         ids=[f"{c}-{s}-{v}" for c, s, v, _ in EMS_CASES])
def test_tlshooks_reports_ems_and_fd(tmp_path, cert, cli, srv, ver, ems):
    """The host learns the RFC 7627 extended-master-secret status of a TLS 1.2
    handshake on both sides, -1 for TLS 1.3, and a real fd (curl: through the
    per-thread tracking, SSL_get_fd is -1 there). wget 1.21.3 without
    --secure-protocol calls gnutls_session_enable_compatibility_mode, which
    turns EMS off (notes/tlshooks.md 5.3); with --secure-protocol=TLSv1_2 it
    negotiates EMS. s_server -www prints its own view of EMS: cross-checked."""
    r, lines = run_pair(tmp_path, cert, ver, srv, cli, verbose=True)
    check_pair(lines, ver)
    assert [x["ems"] for x in lines] == [ems, ems], lines
    if srv == "s_server" and cli in ("curl", "wget", "wget-auto"):
        said = re.search(rb"Extended master secret: (yes|no)", r.stdout).group(1)
        assert said == (b"yes" if ems == "1" else b"no")
    assert all(int(x["fd"]) >= 0 for x in lines), lines
    libs = {"s_client": "openssl", "curl": "openssl", "s_server": "openssl", "nginx": "openssl",
            "wget": "gnutls", "wget-auto": "gnutls", "gnutls-cli": "gnutls", "gnutls-serv": "gnutls"}
    assert {x["role"]: x["lib"] for x in lines} == {"client": libs[cli], "server": libs[srv]}


@pytest.mark.parametrize("threads", [1, 6])
def test_tlshooks_libcurl_gnutls_custom_transport(tmp_path, cert, threads):
    """libcurl-gnutls (loaded by ctypes, RTLD_LOCAL: the GnuTLS functions are
    found through the RTLD_NOLOAD fallback) drives GnuTLS through its own
    push/pull functions, so the transport value is curl's pointer, not an fd:
    the fd comes from the per-thread tracking. With 6 threads x 2 fresh
    connections (ctypes drops the GIL in curl_easy_perform) to nginx: GnuTLS
    sessions in parallel threads, every connection paired."""
    crt, key = cert
    port = free_port()
    keylog = tmp_path / "keys.log"
    env = preload_env(keylog, verbose=True)
    code = (
        "import ctypes, sys, threading\n"
        "c = ctypes.CDLL('libcurl-gnutls.so.4')\n"
        "c.curl_global_init(ctypes.c_long(3))\n"
        "c.curl_easy_init.restype = ctypes.c_void_p\n"
        "rcs = []\n"
        "def get():\n"
        "    for _ in range(2):\n"
        "        h = ctypes.c_void_p(c.curl_easy_init())\n"
        f"        c.curl_easy_setopt(h, 10002, ctypes.c_char_p(b'https://127.0.0.1:{port}/'))\n"
        "        c.curl_easy_setopt(h, 64, ctypes.c_long(0))  # SSL_VERIFYPEER\n"
        "        c.curl_easy_setopt(h, 81, ctypes.c_long(0))  # SSL_VERIFYHOST\n"
        "        c.curl_easy_setopt(h, 99, ctypes.c_long(1))  # NOSIGNAL\n"
        "        rcs.append(c.curl_easy_perform(h))\n"
        "        c.curl_easy_cleanup(h)\n"
        f"ts = [threading.Thread(target=get) for _ in range({threads})]\n"
        "[t.start() for t in ts]; [t.join() for t in ts]\n"
        "sys.exit(max(rcs))\n")
    with server(nginx_argv(tmp_path, port, "1.3", crt, key), port, env, tmp_path):
        r = client([PY, "-c", code], env, timeout=60)
        assert r.returncode == 0, r.stderr
        assert r.stdout == b"ok\n" * (2 * threads)
        wait_lines(keylog, 4 * threads)
    by_cr = pairs_by_random(read_log(keylog))
    assert len(by_cr) == 2 * threads
    for v in by_cr.values():
        check_pair(v, "1.3")
        assert {x["role"]: x["lib"] for x in v} == {"client": "gnutls", "server": "openssl"}
    assert len({v[0]["key"] for v in by_cr.values()}) == 2 * threads
