"""End-to-end helpers: an mptcpextd in each host of a netlab, programs run
under the shim (libmptcpext.so), TLS material and server configurations.
Used by lab/demo.py (`make demo`) and tests/test_e2e_tls.py.

Debian's /usr/bin/python3, stdlib only. Every wait is a condition with a
deadline (netlab.wait_for); nothing sleeps to synchronise.
"""
import hashlib
import json
import os
import subprocess
import time
from pathlib import Path

from netlab import LabError, stop_process, wait_for

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build"
DAEMON = Path(os.environ.get("MPTCPEXTD", BUILD / "mptcpextd"))
CLI = Path(os.environ.get("MPTCPEXT", BUILD / "mptcpext"))
SHIM = Path(os.environ.get("MPTCPEXT_SHIM", BUILD / "libmptcpext.so"))


class Engine:
    """mptcpextd in one engine host of the lab (client or server side),
    with an event log and the lab's addresses. `extra` are more daemon
    flags (e.g. ["--extkey", "require"])."""

    def __init__(self, lab, side, tmp, extra=(), events_interval_ms=100, pcap=False):
        self.lab, self.side = lab, side
        self.sock = f"/run/mptcpext/e2e-{lab.run_id}-{side[0]}.sock"
        self.events = Path(tmp) / f"events-{side}.jsonl"
        self.log = Path(tmp) / f"mptcpextd-{side}.log"
        self.pcap = Path(tmp) / f"engine-{side}.pcap" if pcap else None
        argv = [str(DAEMON), "--tun", "mptcp0", "--tun-mode", "attach", "--socket", self.sock,
                "--events", str(self.events), "--events-interval", str(events_interval_ms)]
        if self.pcap:
            argv += ["--pcap", str(self.pcap)]
        for p in range(1, len(lab.paths) + 1):
            argv += ["--addr", lab.addr(side, p, 4)]
        argv += list(extra)
        self.logf = open(self.log, "w")
        self.proc = lab.popen(side, argv, stdout=self.logf, stderr=subprocess.STDOUT)
        wait_for(lambda: self.proc.poll() is not None or self.cli("counters").returncode == 0,
                 15, f"mptcpextd ({side}) to answer on {self.sock}")
        if self.proc.poll() is not None:
            raise LabError(f"mptcpextd ({side}) exited {self.proc.returncode}: "
                           f"{self.log.read_text()[-1500:]}")

    def cli(self, *args, timeout=20):
        return self.lab.run(self.side, [str(CLI), "--socket", self.sock] + list(args),
                            check=False, timeout=timeout)

    def conns(self):
        """`mptcpext --json conn`: every connection (not the listeners)."""
        p = self.cli("--json", "conn")
        if p.returncode:
            return []
        return [c for c in json.loads(p.stdout or "[]") if not c.get("listen")]

    def counters(self):
        p = self.cli("counters", "-z")
        out = {}
        for line in p.stdout.splitlines():
            parts = line.split()
            if len(parts) >= 2 and not line.startswith("#"):
                try:
                    out[parts[0]] = int(parts[1])
                except ValueError:
                    pass
        return out

    def env(self, extra=None):
        """Environment for a program run under the shim in this host."""
        e = dict(os.environ)
        pre = e.get("LD_PRELOAD", "")
        e["LD_PRELOAD"] = f"{pre}:{SHIM}" if pre else str(SHIM)
        e["MPTCPEXT_SOCKET"] = self.sock
        e.setdefault("MPTCPEXT_LOG", "warn")
        e.update(extra or {})
        return e

    def stop(self):
        """Stop the daemon (SIGTERM); its counters are kept first next to
        the event log, for a failed test's post-mortem."""
        if self.proc.poll() is None:
            try:
                (self.log.parent / f"counters-{self.side}.txt").write_text(
                    self.cli("counters", timeout=5).stdout or "")
            except (OSError, subprocess.SubprocessError):
                pass
        stop_process(self.proc, 10)
        self.logf.close()
        try:
            os.unlink(self.sock)
        except FileNotFoundError:
            pass
        return self.proc.returncode


def start_engines(lab, tmp, extra=(), events_interval_ms=100, pcap=False):
    """An engine in each host. The client has a `subflow` endpoint on every
    path but the first (the initial subflow's) and both allow n-1 extra
    subflows, like lab_bench. Returns (client, server); the caller stops
    them (stop_all) even on failure."""
    n = len(lab.paths)
    limits = ["--limits", f"subflows {max(n - 1, 0)} add_addr_accepted {max(n - 1, 0)}"]
    eps = []
    for p in range(2, n + 1):
        eps += ["--endpoint", f"{lab.addr('client', p, 4)} id {p} subflow"]
    made = []
    try:
        made.append(Engine(lab, "server", tmp, limits + list(extra), events_interval_ms, pcap))
        made.append(Engine(lab, "client", tmp, limits + eps + list(extra), events_interval_ms,
                           pcap))
    except BaseException:
        for e in made:
            e.stop()
        raise
    return made[1], made[0]


def shim_missing():
    """Why programs cannot run under the shim here, or None."""
    if not SHIM.exists():
        return f"{SHIM} is not built (the shim, issue 7)"
    return None


# ---- files and TLS material ------------------------------------------------------

def make_file(path, size, seed=b"mptcpext"):
    """A file of |size| pseudo-random bytes (SHA-256 counter stream: fast,
    incompressible); returns its SHA-256 hex digest."""
    h = hashlib.sha256()
    block = b""
    with open(path, "wb") as f:
        i = 0
        left = size
        while left:
            if not block:
                # 1 MiB of a SHAKE stream per step: cheap and not compressible
                block = hashlib.shake_256(seed + i.to_bytes(8, "big")).digest(1 << 20)
                i += 1
            chunk = block[:left]
            block = block[len(chunk):]
            f.write(chunk)
            h.update(chunk)
            left -= len(chunk)
    return h.hexdigest()


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def make_cert(tmp, cn="mptcpext-demo", ips=()):
    """Self-signed EC certificate: returns (cert, key) paths."""
    cert, key = Path(tmp) / "cert.pem", Path(tmp) / "key.pem"
    san = ",".join([f"DNS:{cn}"] + [f"IP:{ip}" for ip in ips])
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", f"/CN={cn}",
                    "-addext", f"subjectAltName={san}", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    os.chmod(key, 0o600)
    return cert, key


def nginx_conf(tmp, addr, port, root, cert, key, tls="TLSv1.2 TLSv1.3", workers=1):
    """A self-contained nginx.conf in tmp (prefix, logs, pid, temp paths all
    inside it); returns its path. Run as root: the files stay in tmp."""
    tmp = Path(tmp)
    conf = tmp / "nginx.conf"
    for d in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp / d).mkdir(exist_ok=True)
    conf.write_text(f"""daemon off;
master_process on;
user root;
worker_processes {workers};
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log {tmp}/nginx-access.log;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    sendfile on;
    keepalive_timeout 5;
    types {{ application/octet-stream bin; }}
    server {{
        listen {addr}:{port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols {tls};
        root {root};
    }}
}}
""")
    return conf


def wait_listening(engine, port, timeout=15, proc=None):
    """Until the engine has a listener on |port| (the server under the shim
    called listen()), or |proc| died."""
    def ready():
        if proc is not None and proc.poll() is not None:
            return True
        p = engine.cli("--json", "conn")
        if p.returncode:
            return False
        return any(c.get("listen") and c.get("lport") == port for c in json.loads(p.stdout or "[]"))
    wait_for(ready, timeout, f"a listener on port {port} in the {engine.side} engine")
    if proc is not None and proc.poll() is not None:
        raise LabError(f"the server exited {proc.returncode} before listening")


class Watch:
    """The richest view of the transfer's connection in each engine, taken
    while it runs (`mptcpext --json conn` and its text form): connections
    disappear once closed. Call take() in the wait loop."""

    def __init__(self, engines):
        self.engines = engines
        self.best = {e.side: None for e in engines}
        self.seen = {e.side: [] for e in engines}  # every snapshot's conns

    def take(self):
        for e in self.engines:
            for c in e.conns():
                self.seen[e.side].append(c)
                prev = self.best[e.side]
                score = (len(c.get("subflows", [])), c.get("key_state") == "ext-active",
                         c.get("bytes_received", 0) + c.get("bytes_sent", 0))
                if prev is None or score >= prev[0]:
                    text = e.cli("conn").stdout
                    if f"conn:{c.get('conn')} " not in text and prev is not None:
                        text = prev[2]  # closed in between: keep the older text
                    self.best[e.side] = (score, c, text)

    def conn(self, side):
        b = self.best[side]
        return b[1] if b else None

    def text(self, side):
        b = self.best[side]
        return b[2] if b else ""

    def until(self, proc, timeout, interval=0.1):
        """Snapshots until |proc| exits or |timeout| s passed; True if it exited."""
        deadline = time.monotonic() + timeout
        while proc.poll() is None and time.monotonic() < deadline:
            self.take()
            try:
                proc.wait(interval)
            except subprocess.TimeoutExpired:
                pass
        return proc.poll() is not None


# ---- on the wire ----------------------------------------------------------------

def mp_capable(pcap):
    """Every MP_CAPABLE option in a pcap as tshark dissects the packets:
    [(syn, ack, payload_len, option_len, flags_byte)]. The option bytes are
    walked here (tshark 4.0 does not know the E form)."""
    p = subprocess.run(["tshark", "-r", str(pcap), "-Y", "tcp.option_kind == 30", "-T", "fields",
                        "-e", "tcp.flags.syn", "-e", "tcp.flags.ack", "-e", "tcp.len",
                        "-e", "tcp.options"], capture_output=True, text=True, timeout=120)
    if p.returncode:
        raise LabError(f"tshark: {p.stderr.strip()}")
    out = []
    for line in p.stdout.splitlines():
        f = line.split("\t")
        if len(f) < 4:
            continue
        syn, ack = f[0] in ("1", "True"), f[1] in ("1", "True")
        opts = bytes.fromhex(f[3].replace(":", "").replace(",", ""))
        i = 0
        while i < len(opts):
            kind = opts[i]
            if kind in (0, 1):
                i += 1
                continue
            if i + 1 >= len(opts) or opts[i + 1] < 2:
                break
            ln = opts[i + 1]
            if kind == 30 and i + 3 < len(opts) and opts[i + 2] >> 4 == 0:
                out.append((syn, ack, int(f[2] or 0), ln, opts[i + 3]))
            i += ln
    return out


# ---- reading the event log ------------------------------------------------------

def subflow_totals(events_path):
    """Last cumulative counters of every subflow in an event log:
    {(conn, local, remote): {"tx":..,"rx":..,"retrans":..}}."""
    out = {}
    try:
        with open(events_path, encoding="utf-8") as f:
            for line in f:
                try:
                    ev = json.loads(line)
                except ValueError:
                    continue
                if ev.get("ev") != "sf_bytes":
                    continue
                out[(ev["conn"], ev["local"], ev["remote"])] = {
                    "tx": ev.get("tx", 0), "rx": ev.get("rx", 0),
                    "retrans": ev.get("retrans", 0), "srtt_us": ev.get("srtt_us", 0)}
    except FileNotFoundError:
        pass
    return out


def path_of(lab, addr_port):
    """Which lab path an "a.b.c.d:port" belongs to (client or server side),
    or None."""
    ip = addr_port.rsplit(":", 1)[0].strip("[]")
    for p in range(1, len(lab.paths) + 1):
        for side in ("client", "server"):
            if ip in (lab.addr(side, p, 4), lab.addr(side, p, 6)):
                return p
    return None
