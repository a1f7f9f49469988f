#!/usr/bin/python3
"""netlab: a multipath network lab in network namespaces.

A client host and a server host are joined by N paths; each path runs
through its own router namespace:

    client ns  p1 ==veth== c [router r1] s ==veth== p1  server ns
               p2 ==veth== c [router r2] s ==veth== p2
               ...

Per path: delay / jitter / loss by build/linkemu (NFQUEUE in the router's
FORWARD hook, see lab/linkemu.c), rate by a TBF qdisc on the router's two
egress interfaces, blackout at run time by an nftables drop rule in the
router (or by taking the router's links down). Both hosts use policy routing
so that each host address leaves over its own path. A host is either
`kernel` (plain Linux, kernel MPTCP configured with `ip mptcp`) or `engine`
(the kernel only forwards between the paths and a TUN `mptcp0` that the
userspace engine will attach to; see shared/notes/lab.md).

Nothing is created outside the lab's own namespaces: veth ends are created
directly inside them, and every command runs with `ip -n NS` or
`ip netns exec NS`.

Library use:
    with Lab(paths=[PathSpec(delay_ms=20), PathSpec(rate_mbit=50)]) as lab:
        lab.run("client", ["ping", "-c1", lab.addr("server", 1)])

CLI: /usr/bin/python3 lab/netlab.py up|down|status|blackout|set|exec ... (-h).
"""

import argparse
import dataclasses
import fcntl
import json
import os
import pathlib
import re
import shlex
import signal
import subprocess
import sys
import time

PREFIX = "mpxlab"
STATE_ROOT = pathlib.Path("/run/mpxlab")
ROOT = pathlib.Path(__file__).resolve().parent.parent
DEFAULT_LINKEMU = ROOT / "build" / "linkemu"
MAX_PATHS = 16
TABLE_BASE = 100  # routing table of path P is TABLE_BASE + P
SIDE_OFFSET = {"client": 0, "server": 128}  # third octet of the side's subnets
TUN_NAME = "mptcp0"
BLACKHOLE = "10.254.0.0/16"  # silently dropped by every router (_router)


class LabError(Exception):
    """A lab operation failed (the message says which command and why)."""


@dataclasses.dataclass
class PathSpec:
    """One path. delay_ms is added round-trip time, split half each way
    unless delay_up_ms / delay_down_ms are given (up = client to server).
    jitter_ms and loss apply to each direction (loss is a ratio 0..1 per
    packet). rate_mbit shapes each direction with TBF; queue_bytes is the
    TBF queue (default: 50 ms at the rate, at least 64 KB). emu forces
    linkemu to run even with no delay/loss (for run-time changes)."""

    delay_ms: float = 0.0
    delay_up_ms: float | None = None
    delay_down_ms: float | None = None
    jitter_ms: float = 0.0
    loss: float = 0.0
    rate_mbit: float | None = None
    queue_bytes: int | None = None
    emu: bool = False

    def one_way(self):
        up = self.delay_up_ms if self.delay_up_ms is not None else self.delay_ms / 2
        down = self.delay_down_ms if self.delay_down_ms is not None else self.delay_ms / 2
        return up, down

    def needs_emu(self):
        up, down = self.one_way()
        return bool(self.emu or up or down or self.jitter_ms or self.loss)

    def validate(self):
        up, down = self.one_way()
        for name, v in (("delay", up), ("delay", down), ("jitter", self.jitter_ms)):
            if v < 0 or v > 10000:
                raise LabError(f"{name} {v} ms out of range 0..10000")
        if not 0 <= self.loss <= 1:
            raise LabError(f"loss {self.loss} out of range 0..1")
        if self.rate_mbit is not None and not 0.01 <= self.rate_mbit <= 100000:
            raise LabError(f"rate {self.rate_mbit} Mbit/s out of range")


@dataclasses.dataclass
class HostSpec:
    """kind: 'kernel' or 'engine'. For kernel hosts: endpoints = flags of
    the `ip mptcp endpoint` added for the address of every path in
    endpoint_paths (default: all but path 1, the initial subflow's), ''
    for none; subflows / add_addr_accepted = `ip mptcp limits` (default
    N-1 each); cc = congestion control set on every route (None: leave
    the namespace default, bbr here). For engine hosts: tun_user may own
    the TUN so that a non-root engine can attach."""

    kind: str = "kernel"
    endpoints: str = ""
    endpoint_paths: list | None = None
    subflows: int | None = None
    add_addr_accepted: int | None = None
    cc: str | None = "cubic"
    tun_user: str | None = None

    def validate(self):
        if self.kind not in ("kernel", "engine"):
            raise LabError(f"host kind must be kernel or engine, not {self.kind!r}")
        flags = self.endpoints.replace(",", " ").split()
        for f in flags:
            if f not in ("subflow", "signal", "backup", "fullmesh"):
                raise LabError(f"unknown endpoint flag {f!r}")


def _sh(argv, *, input=None, check=True, timeout=30):
    try:
        p = subprocess.run(argv, input=input, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError as e:
        raise LabError(f"{argv[0]}: not installed ({e})") from None
    if check and p.returncode:
        raise LabError(f"`{shlex.join(argv)}` failed ({p.returncode}): "
                       f"{(p.stderr or p.stdout).strip()}\n{input or ''}".rstrip())
    return p


def list_netns():
    p = _sh(["ip", "-j", "netns", "list"], check=False)
    try:
        return [n["name"] for n in json.loads(p.stdout or "[]")]
    except json.JSONDecodeError:
        return [line.split()[0] for line in p.stdout.splitlines() if line.strip()]


def netns_pids(ns):
    p = _sh(["ip", "netns", "pids", ns], check=False)
    return [int(x) for x in p.stdout.split() if x.isdigit()]


def _kill_pids(pids, deadline_s=3.0):
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    end = time.monotonic() + deadline_s
    alive = list(pids)
    while alive and time.monotonic() < end:
        alive = [p for p in alive if _alive(p)]
        if alive:
            time.sleep(0.02)
    for pid in alive:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie counts as gone (not reaped here: its Popen owner does that)
        return pathlib.Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def stop_process(proc, timeout=10):
    """SIGTERM |proc| (a daemon: it cleans up on SIGTERM), SIGKILL it if it
    has not exited after |timeout| s; its exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def wait_for(cond, timeout, what, interval=0.01):
    """Poll cond() until it returns a true value or timeout seconds pass."""
    end = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() >= end:
            raise LabError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


class Lab:
    """One lab instance: run number R (1..250) makes names and addresses
    unique: namespaces mpxlabR-c, mpxlabR-s, mpxlabR-r1..rN; addresses
    10.R.X.0/24 and fd00:R:X::/64 (R and X written in decimal digits)."""

    def __init__(self, paths=2, client=None, server=None, linkemu=None):
        if isinstance(paths, int):
            paths = [PathSpec() for _ in range(paths)]
        self.paths = [dataclasses.replace(p) for p in paths]
        if not 1 <= len(self.paths) <= MAX_PATHS:
            raise LabError(f"1..{MAX_PATHS} paths, not {len(self.paths)}")
        for p in self.paths:
            p.validate()
        self.hosts = {
            "client": dataclasses.replace(client or HostSpec(endpoints="subflow")),
            "server": dataclasses.replace(server or HostSpec()),
        }
        for h in self.hosts.values():
            h.validate()
        self.linkemu = str(linkemu or DEFAULT_LINKEMU)
        self.run_id = None
        self.emu_pids = {}  # path -> pid
        self.blackouts = {}  # path -> "mode:direction"
        self._procs = []

    # ---- names and addresses ------------------------------------------------
    @property
    def n(self):
        return len(self.paths)

    def ns(self, who):
        """who: 'client', 'server', or a path number (its router)."""
        if who in ("client", "server"):
            return f"{PREFIX}{self.run_id}-{who[0]}"
        self._check_path(who)
        return f"{PREFIX}{self.run_id}-r{who}"

    def _check_path(self, p):
        if not isinstance(p, int) or not 1 <= p <= self.n:
            raise LabError(f"path must be 1..{self.n}, not {p!r}")

    def _octet(self, side, path, transit=False):
        return SIDE_OFFSET[side] + (64 if transit else 0) + path

    def _ip(self, side, path, host, family, transit=False):
        x = self._octet(side, path, transit)
        if family == 4:
            return f"10.{self.run_id}.{x}.{host}"
        return f"fd00:{self.run_id}:{x}::{host}"

    def _net(self, side, path, family, transit=False):
        x = self._octet(side, path, transit)
        return f"10.{self.run_id}.{x}.0/24" if family == 4 else f"fd00:{self.run_id}:{x}::/64"

    def addr(self, side, path, family=4):
        """The host's address on a path (for an engine host: the engine's own
        address, which is on no kernel interface)."""
        self._check_path(path)
        return self._ip(side, path, 2, family)

    def subnet(self, side, path, family=4):
        return self._net(side, path, family)

    def router_addr(self, side, path, family=4):
        """The router's address on the link towards `side`."""
        transit = self.hosts[side].kind == "engine"
        return self._ip(side, path, 1, family, transit)

    def link_addr(self, side, path, family=4):
        """The host kernel's address on its veth of `path`: the host address
        for a kernel host, the transit address for an engine host."""
        if self.hosts[side].kind == "engine":
            return self._ip(side, path, 2, family, transit=True)
        return self.addr(side, path, family)

    @property
    def state_dir(self):
        return STATE_ROOT / str(self.run_id)

    # ---- running things in the namespaces -----------------------------------
    def run(self, who, argv, check=True, timeout=60, **kw):
        """subprocess.run(argv) inside a namespace; text output captured."""
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        p = subprocess.run(["ip", "netns", "exec", self.ns(who)] + list(argv),
                           timeout=timeout, **kw)
        if check and p.returncode:
            raise LabError(f"in {self.ns(who)}: `{shlex.join(argv)}` failed "
                           f"({p.returncode}): {(p.stderr or '').strip()}")
        return p

    def popen(self, who, argv, **kw):
        """subprocess.Popen(argv) inside a namespace (caller waits/kills it;
        `down` kills whatever is left in the namespace)."""
        return subprocess.Popen(["ip", "netns", "exec", self.ns(who)] + list(argv), **kw)

    def _ip_batch(self, who, lines):
        """Run `ip` commands in one process. A batch line cannot carry -6, and
        `ip rule` does not infer IPv6 from the address: lines starting with
        "-6 " go to a second `ip -6 -batch` run after the first."""
        v6 = [line[3:] for line in lines if line.startswith("-6 ")]
        rest = [line for line in lines if not line.startswith("-6 ")]
        for opts, batch in (([], rest), (["-6"], v6)):
            if batch:
                _sh(["ip"] + opts + ["-n", self.ns(who), "-batch", "-"],
                    input="\n".join(batch) + "\n")

    def _sysctl(self, who, settings):
        args = [f"{k}={v}" for k, v in settings.items()]
        self.run(who, ["sysctl", "-q", "-w"] + args)

    # ---- bring up ---------------------------------------------------------------
    def up(self):
        """Build the whole lab. On any failure everything is torn down."""
        STATE_ROOT.mkdir(parents=True, exist_ok=True)
        self._allocate()
        try:
            self._save()
            for who in ["client", "server"] + list(range(1, self.n + 1)):
                _sh(["ip", "netns", "add", self.ns(who)])
                # No DAD: a router cannot send a neighbour solicitation for a
                # forwarded packet while its link-local address is tentative,
                # which stalls forwarded IPv6 for ~2 s after `up`.
                self._sysctl(who, {"net.ipv6.conf.all.accept_dad": 0,
                                   "net.ipv6.conf.default.accept_dad": 0})
            self._links()
            for p in range(1, self.n + 1):
                self._router(p)
            for side in ("client", "server"):
                if self.hosts[side].kind == "kernel":
                    self._kernel_host(side)
                else:
                    self._engine_host(side)
            for p in range(1, self.n + 1):
                self._shape(p)
                if self.paths[p - 1].needs_emu():
                    self._start_emu(p)
            self._save()
        except BaseException:
            self.down()
            raise
        return self

    def _allocate(self):
        lock = open(STATE_ROOT / ".lock", "w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            used = {int(m.group(1)) for n in list_netns()
                    if (m := re.match(rf"{PREFIX}(\d+)-", n))}
            used |= {int(d.name) for d in STATE_ROOT.iterdir() if d.name.isdigit()}
            free = [r for r in range(1, 251) if r not in used]
            if not free:
                raise LabError("no free lab run number (run `netlab.py down --all`?)")
            self.run_id = free[0]
            self.state_dir.mkdir()
        finally:
            lock.close()

    def _links(self):
        for p in range(1, self.n + 1):
            r = self.ns(p)
            _sh(["ip", "-n", self.ns("client"), "link", "add", f"p{p}", "type", "veth",
                 "peer", "name", "c", "netns", r])
            _sh(["ip", "-n", self.ns("server"), "link", "add", f"p{p}", "type", "veth",
                 "peer", "name", "s", "netns", r])

    def _router(self, p):
        lines = ["link set lo up", "link set c up", "link set s up"]
        for side, dev in (("client", "c"), ("server", "s")):
            for fam, plen in ((4, 24), (6, 64)):
                lines.append(f"addr add {self.router_addr(side, p, fam)}/{plen} dev {dev}"
                             + (" nodad" if fam == 6 else ""))
        for side, dev in (("client", "c"), ("server", "s")):
            for q in range(1, self.n + 1):
                for fam in (4, 6):
                    if q == p and self.hosts[side].kind == "kernel":
                        continue  # directly connected
                    lines.append(f"route add {self._net(side, q, fam)} "
                                 f"via {self.link_addr(side, p, fam)} dev {dev}")
        self._sysctl(p, {"net.ipv4.ip_forward": 1, "net.ipv6.conf.all.forwarding": 1,
                         "net.ipv6.conf.all.keep_addr_on_down": 1,
                         "net.ipv4.conf.all.rp_filter": 0, "net.ipv4.conf.default.rp_filter": 0,
                         "net.ipv4.conf.all.send_redirects": 0})
        # BLACKHOLE is dropped without a word (tests' "unreachable address": an
        # address without a route would get an ICMP net unreachable back)
        lines.append(f"route add blackhole {BLACKHOLE}")
        self._ip_batch(p, lines)
        # Blackout chain: before mangle (-150), so blacked-out packets never reach NFQUEUE.
        self.run(p, ["nft", "-f", "-"], input=(
            "table inet mpxlab {\n"
            "  chain blackout { type filter hook forward priority -300; policy accept; }\n"
            "}\n"))

    def _host_common(self, side):
        h = self.hosts[side]
        lines = ["link set lo up"]
        for p in range(1, self.n + 1):
            lines.append(f"link set p{p} up")
            lines.append(f"addr add {self.link_addr(side, p, 4)}/24 dev p{p}")
            lines.append(f"addr add {self.link_addr(side, p, 6)}/64 dev p{p} nodad")
        self._ip_batch(side, lines)
        settings = {"net.ipv4.conf.all.rp_filter": 0, "net.ipv4.conf.default.rp_filter": 0,
                    "net.ipv4.tcp_tw_reuse": 1, "net.ipv4.ip_local_port_range": "10000 65000"}
        if h.kind == "engine":
            settings.update({"net.ipv4.ip_forward": 1, "net.ipv6.conf.all.forwarding": 1,
                             "net.ipv4.conf.all.send_redirects": 0})
        self._sysctl(side, settings)

    def _routes(self, side, lines):
        """Per-path tables, policy rules and main-table routes to the peer."""
        h = self.hosts[side]
        peer = "server" if side == "client" else "client"
        cc = f" congctl {h.cc}" if h.cc and h.kind == "kernel" else ""
        for p in range(1, self.n + 1):
            t = TABLE_BASE + p
            for fam in (4, 6):
                gw, src = self.router_addr(side, p, fam), self.link_addr(side, p, fam)
                link_net = self._net(side, p, fam, transit=h.kind == "engine")
                # IPv6 picks the source by its own rules (same interface, longest
                # match), and a prefsrc is refused while the link is not yet up.
                srcattr = f" src {src}" if h.kind == "kernel" and fam == 4 else ""
                dflt = "0.0.0.0/0" if fam == 4 else "::/0"
                lines.append(f"route add {link_net} dev p{p} table {t}{cc}")
                lines.append(f"route add {dflt} via {gw} dev p{p} table {t}{srcattr}{cc}")
                # main table: the peer's subnet of path P goes over path P
                lines.append(f"route add {self._net(peer, p, fam)} via {gw} dev p{p}"
                             f"{srcattr}{cc}")
                rule = ("-6 " if fam == 6 else "") + "rule add"
                if h.kind == "kernel":
                    lines.append(f"{rule} from {self.addr(side, p, fam)} "
                                 f"lookup {t} pref {1000 + p}")
                else:
                    lines.append(f"{rule} from {self._net(side, p, fam)} "
                                 f"iif {TUN_NAME} lookup {t} pref {1000 + p}")
                if side == "server":
                    # The client's address chooses the path, in both directions:
                    # a reply to client address P leaves over path P even when
                    # it comes from the server's address of another path.
                    lines.append(f"{rule} to {self._net(peer, p, fam)} "
                                 f"lookup {t} pref {900 + p}")

    def _kernel_host(self, side):
        h = self.hosts[side]
        self._host_common(side)
        lines = []
        if h.cc:  # replace the kernel's connected routes so they carry congctl too
            for p in range(1, self.n + 1):
                lines.append(f"route replace {self._net(side, p, 4)} dev p{p} proto kernel "
                             f"scope link src {self.addr(side, p, 4)} congctl {h.cc}")
                lines.append(f"route replace {self._net(side, p, 6)} dev p{p} proto kernel "
                             f"metric 256 congctl {h.cc}")
        self._routes(side, lines)
        subflows = h.subflows if h.subflows is not None else min(self.n - 1, 8)
        accepted = h.add_addr_accepted if h.add_addr_accepted is not None else min(self.n - 1, 8)
        lines.append(f"mptcp limits set subflow {subflows} add_addr_accepted {accepted}")
        flags = " ".join(h.endpoints.replace(",", " ").split())
        if flags:
            eps = h.endpoint_paths if h.endpoint_paths is not None else range(2, self.n + 1)
            for p in eps:
                self._check_path(p)
                for fam in (4, 6):
                    lines.append(f"mptcp endpoint add {self.addr(side, p, fam)} dev p{p} {flags}")
        self._ip_batch(side, lines)
        self._sysctl(side, {"net.mptcp.enabled": 1})

    def _engine_host(self, side):
        """lab.md's TUN recipe: the engine owns address .2 of each path's
        subnet, the kernel has .1 on the TUN and only forwards."""
        h = self.hosts[side]
        self._host_common(side)
        tun = ["ip", "-n", self.ns(side), "tuntap", "add", "dev", TUN_NAME, "mode", "tun"]
        _sh(tun + (["user", h.tun_user] if h.tun_user else []))
        lines = [f"link set {TUN_NAME} up"]
        for p in range(1, self.n + 1):
            lines.append(f"addr add {self._ip(side, p, 1, 4)}/24 dev {TUN_NAME}")
            lines.append(f"addr add {self._ip(side, p, 1, 6)}/64 dev {TUN_NAME} nodad")
        self._routes(side, lines)
        self._ip_batch(side, lines)

    # ---- shaping, emulation, blackout ---------------------------------------
    def _shape(self, p):
        spec = self.paths[p - 1]
        for dev in ("c", "s"):
            if spec.rate_mbit is None:
                _sh(["tc", "-n", self.ns(p), "qdisc", "del", "dev", dev, "root"], check=False)
                continue
            rate_bps = spec.rate_mbit * 1e6
            # burst: 1 ms at the rate but at least 2 full frames; queue: 50 ms.
            burst = max(int(rate_bps / 8 / 1000), 2 * 1514 + 100)
            limit = spec.queue_bytes or max(int(rate_bps / 8 * 0.05), 65536)
            _sh(["tc", "-n", self.ns(p), "qdisc", "replace", "dev", dev, "root", "tbf",
                 "rate", f"{int(rate_bps)}bit", "burst", str(burst), "limit", str(limit)])

    def _emu_specs(self, p):
        spec = self.paths[p - 1]
        up, down = spec.one_way()
        common = f"jitter={spec.jitter_ms}ms,loss={spec.loss},blackout=0"
        return [f"0:delay={up}ms,{common}", f"1:delay={down}ms,{common}"]

    def _start_emu(self, p):
        if not os.access(self.linkemu, os.X_OK):
            raise LabError(f"{self.linkemu} not built (run `make`)")
        ctl = self.state_dir / f"r{p}.ctl"
        log = open(self.state_dir / f"r{p}.linkemu.log", "ab")
        proc = self.popen(p, [self.linkemu, "-c", str(ctl)] + self._emu_specs(p),
                          stdout=subprocess.PIPE, stderr=log, start_new_session=True)
        log.close()
        line = proc.stdout.readline()  # "ready" once the queues are bound
        proc.stdout.close()
        if line.strip() != b"ready":
            proc.wait(timeout=5)
            raise LabError(f"linkemu on path {p} did not start: see "
                           f"{self.state_dir}/r{p}.linkemu.log")
        self.emu_pids[p] = proc.pid
        self._procs.append(proc)
        for cmd in ("iptables-nft", "ip6tables-nft"):
            for qn, (i, o) in enumerate((("c", "s"), ("s", "c"))):
                self.run(p, [cmd, "-t", "mangle", "-A", "FORWARD", "-i", i, "-o", o,
                             "-j", "NFQUEUE", "--queue-num", str(qn)])

    def emu_control(self, p, line):
        """Send one control line to the path's linkemu (see lab/linkemu.c)."""
        self._check_path(p)
        if p not in self.emu_pids:
            raise LabError(f"path {p} has no linkemu (create it with emu=True or a delay)")
        fd = os.open(self.state_dir / f"r{p}.ctl", os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.write(fd, (line + "\n").encode())
        finally:
            os.close(fd)

    def emu_stats(self, p, timeout=5.0):
        """Per-queue counters of the path's linkemu: {0: {...}, 1: {...}}
        (queue 0 = client to server, 1 = server to client)."""
        log = self.state_dir / f"r{p}.linkemu.log"
        start = log.stat().st_size
        self.emu_control(p, "stats")

        def read():
            lines = log.read_bytes()[start:].decode(errors="replace").splitlines()
            got = {}
            for line in lines:
                f = line.split()
                if len(f) > 3 and f[0] == "linkemu:" and f[1] == "queue":
                    got[int(f[2])] = {f[i]: float(f[i + 1]) for i in range(3, len(f) - 1, 2)}
            return got if len(got) == 2 else None
        return wait_for(read, timeout, f"linkemu stats of path {p}")

    def set_path(self, p, **changes):
        """Change a path at run time: delay_ms, delay_up_ms, delay_down_ms,
        jitter_ms, loss, rate_mbit, queue_bytes."""
        self._check_path(p)
        spec = dataclasses.replace(self.paths[p - 1], **changes)
        spec.validate()
        self.paths[p - 1] = spec
        if {"rate_mbit", "queue_bytes"} & changes.keys():
            self._shape(p)
        if spec.needs_emu():
            if p in self.emu_pids:
                for line in self._emu_specs(p):
                    self.emu_control(p, line)
            else:
                self._start_emu(p)
        self._save()

    def blackout(self, p, on, direction="both", mode="drop"):
        """Silently drop the path's packets (mode 'drop', nftables rule in the
        router: in-flight packets still held by linkemu are delivered), or
        take the router's links down (mode 'down': the hosts see no carrier).
        direction: 'up' (client to server), 'down' or 'both' (mode drop only)."""
        self._check_path(p)
        if direction not in ("up", "down", "both") or mode not in ("drop", "down"):
            raise LabError("direction is up|down|both, mode is drop|down")
        if mode == "down":
            for dev in ("c", "s"):
                _sh(["ip", "-n", self.ns(p), "link", "set", dev, "down" if on else "up"])
            if not on:  # routes via the link were flushed while it was down
                wait_for(lambda: self._restore_router_routes(p), 5,
                         f"path {p}'s router links to come back up")
        else:
            script = "flush chain inet mpxlab blackout\n"
            if on:
                if direction in ("up", "both"):
                    script += 'add rule inet mpxlab blackout iifname "c" drop\n'
                if direction in ("down", "both"):
                    script += 'add rule inet mpxlab blackout iifname "s" drop\n'
            self.run(p, ["nft", "-f", "-"], input=script)
        if on:
            self.blackouts[p] = f"{mode}:{direction}"
        else:
            self.blackouts.pop(p, None)
        self._save()

    def _restore_router_routes(self, p):
        lines = []
        for side, dev in (("client", "c"), ("server", "s")):
            for q in range(1, self.n + 1):
                for fam in (4, 6):
                    if q == p and self.hosts[side].kind == "kernel":
                        continue
                    lines.append(f"route replace {self._net(side, q, fam)} "
                                 f"via {self.link_addr(side, p, fam)} dev {dev}")
        try:  # refused until the link has carrier again
            self._ip_batch(p, lines)
        except LabError:
            return False
        return True

    # ---- inspection -------------------------------------------------------------
    def link_stats(self, p, dev="s"):
        """rx/tx bytes and packets of a router interface ('c' or 's')."""
        out = _sh(["ip", "-n", self.ns(p), "-s", "-j", "link", "show", dev]).stdout
        s = json.loads(out)[0]["stats64"]
        return {"rx_bytes": s["rx"]["bytes"], "tx_bytes": s["tx"]["bytes"],
                "rx_packets": s["rx"]["packets"], "tx_packets": s["tx"]["packets"]}

    def describe(self):
        d = {"run": self.run_id, "paths": [], "hosts": {}}
        for side in ("client", "server"):
            d["hosts"][side] = {"ns": self.ns(side), **dataclasses.asdict(self.hosts[side])}
        for p in range(1, self.n + 1):
            d["paths"].append({
                "path": p, "router_ns": self.ns(p), "table": TABLE_BASE + p,
                "client": [self.addr("client", p, 4), self.addr("client", p, 6)],
                "server": [self.addr("server", p, 4), self.addr("server", p, 6)],
                "linkemu_pid": self.emu_pids.get(p),
                "blackout": self.blackouts.get(p),
                **dataclasses.asdict(self.paths[p - 1])})
        return d

    # ---- state and teardown ---------------------------------------------------
    def _save(self):
        if self.run_id is None or not self.state_dir.exists():
            return
        tmp = self.state_dir / "state.json.tmp"
        tmp.write_text(json.dumps(self.describe(), indent=1))
        tmp.replace(self.state_dir / "state.json")

    @classmethod
    def load(cls, run_id):
        f = STATE_ROOT / str(run_id) / "state.json"
        try:
            d = json.loads(f.read_text())
        except (FileNotFoundError, json.JSONDecodeError) as e:
            raise LabError(f"lab {run_id}: no readable state ({e})") from None
        fields = {f.name for f in dataclasses.fields(PathSpec)}
        paths = [PathSpec(**{k: v for k, v in p.items() if k in fields}) for p in d["paths"]]
        hf = {f.name for f in dataclasses.fields(HostSpec)}
        hosts = {s: HostSpec(**{k: v for k, v in h.items() if k in hf})
                 for s, h in d["hosts"].items()}
        lab = cls(paths, client=hosts["client"], server=hosts["server"])
        lab.run_id = int(d["run"])
        lab.emu_pids = {p["path"]: p["linkemu_pid"] for p in d["paths"] if p["linkemu_pid"]}
        lab.blackouts = {p["path"]: p["blackout"] for p in d["paths"] if p["blackout"]}
        return lab

    def down(self):
        """Delete everything of this lab. Idempotent."""
        if self.run_id is not None:
            cleanup_run(self.run_id)

    def __enter__(self):
        if self.run_id is None:
            self.up()
        return self

    def __exit__(self, *exc):
        self.down()
        return False


def cleanup_run(run_id):
    """Kill every process in the run's namespaces, delete its TUN and
    namespaces and its state directory. Works without state (crashed run)."""
    prefix = f"{PREFIX}{run_id}-"
    names = [n for n in list_netns() if n.startswith(prefix)]
    pids = sorted({pid for n in names for pid in netns_pids(n)})
    state = STATE_ROOT / str(run_id)
    try:  # processes we started whose namespace name is already gone
        d = json.loads((state / "state.json").read_text())
        pids += [p["linkemu_pid"] for p in d.get("paths", []) if p.get("linkemu_pid")
                 and _is_linkemu(p["linkemu_pid"])]
    except (FileNotFoundError, json.JSONDecodeError, KeyError, TypeError):
        pass
    _kill_pids(sorted(set(pids)))
    for n in names:
        _sh(["ip", "-n", n, "link", "del", TUN_NAME], check=False)
        _sh(["ip", "netns", "del", n], check=False)
    if state.exists():
        for f in state.iterdir():
            f.unlink()
        state.rmdir()


def _is_linkemu(pid):
    try:
        return pathlib.Path(f"/proc/{pid}/comm").read_text().strip() == "linkemu"
    except OSError:
        return False


def running_runs():
    runs = {int(m.group(1)) for n in list_netns() if (m := re.match(rf"{PREFIX}(\d+)-", n))}
    if STATE_ROOT.exists():
        runs |= {int(d.name) for d in STATE_ROOT.iterdir() if d.name.isdigit()}
    return sorted(runs)


def cleanup_all():
    for r in running_runs():
        cleanup_run(r)


# ---- CLI ------------------------------------------------------------------------

def _parse_kv(text, path_count):
    """'P:key=val,key=val' or 'all:...' -> (list of paths, dict)."""
    which, _, kvs = text.partition(":")
    paths = range(1, path_count + 1) if which == "all" else [int(which)]
    kw = {}
    names = {"delay": "delay_ms", "up": "delay_up_ms", "down": "delay_down_ms",
             "jitter": "jitter_ms", "loss": "loss", "rate": "rate_mbit",
             "queue": "queue_bytes", "emu": "emu"}
    for kv in filter(None, kvs.split(",")):
        k, _, v = kv.partition("=")
        if k not in names:
            raise LabError(f"unknown path key {k!r} (known: {', '.join(names)})")
        if k == "emu":
            kw[names[k]] = v in ("1", "yes", "true")
        elif k == "queue":
            kw[names[k]] = int(v)
        else:
            kw[names[k]] = float(v[:-1]) / 100 if k == "loss" and v.endswith("%") else float(v)
    return paths, kw


def _pick_run(args):
    if args.run is not None:
        return args.run
    runs = running_runs()
    if len(runs) != 1:
        raise LabError(f"{len(runs)} labs exist ({runs}): say which with --run")
    return runs[0]


def _cmd_up(args):
    specs = [PathSpec() for _ in range(args.paths)]
    for text in args.path or []:
        paths, kw = _parse_kv(text, args.paths)
        for p in paths:
            if not 1 <= p <= args.paths:
                raise LabError(f"path {p} out of 1..{args.paths}")
            specs[p - 1] = dataclasses.replace(specs[p - 1], **kw)
    cc = None if args.cc == "default" else args.cc
    client = HostSpec(kind=args.client, endpoints=args.client_endpoints, cc=cc,
                      tun_user=args.tun_user)
    server = HostSpec(kind=args.server, endpoints=args.server_endpoints, cc=cc,
                      tun_user=args.tun_user)
    lab = Lab(specs, client=client, server=server, linkemu=args.linkemu).up()
    _print_lab(lab, args.json)


def _print_lab(lab, as_json):
    d = lab.describe()
    if as_json:
        print(json.dumps(d, indent=1))
        return
    print(f"lab {d['run']}: client {d['hosts']['client']['ns']} ({lab.hosts['client'].kind}), "
          f"server {d['hosts']['server']['ns']} ({lab.hosts['server'].kind})")
    for p in d["paths"]:
        knobs = [f"{k}={p[k]}" for k in ("delay_ms", "jitter_ms", "loss", "rate_mbit")
                 if p[k]]
        print(f"  path {p['path']} via {p['router_ns']}: client {' '.join(p['client'])} "
              f"server {' '.join(p['server'])} {' '.join(knobs)}"
              + (f" BLACKOUT {p['blackout']}" if p["blackout"] else ""))


def main(argv=None):
    ap = argparse.ArgumentParser(prog="netlab.py", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="build a lab and leave it running")
    up.add_argument("--paths", type=int, default=2)
    up.add_argument("--path", action="append", metavar="P:k=v,...",
                    help="P or 'all', keys delay (RTT ms), up/down (one-way ms), jitter (ms), "
                         "loss (ratio or N%%), rate (Mbit/s), queue (bytes), emu (1)")
    up.add_argument("--client", choices=("kernel", "engine"), default="kernel")
    up.add_argument("--server", choices=("kernel", "engine"), default="kernel")
    up.add_argument("--client-endpoints", default="subflow", help="ip mptcp endpoint flags")
    up.add_argument("--server-endpoints", default="", help="ip mptcp endpoint flags")
    up.add_argument("--cc", default="cubic", help="route congctl ('default' = leave)")
    up.add_argument("--tun-user", default=None)
    up.add_argument("--linkemu", default=str(DEFAULT_LINKEMU))
    up.add_argument("--json", action="store_true")
    dn = sub.add_parser("down", help="delete a lab (idempotent)")
    dn.add_argument("run", nargs="?", type=int)
    dn.add_argument("--all", action="store_true", help="every lab and leftover")
    st = sub.add_parser("status", help="list labs")
    st.add_argument("run", nargs="?", type=int)
    st.add_argument("--json", action="store_true")
    bo = sub.add_parser("blackout", help="blackout a path on/off")
    bo.add_argument("path", type=int)
    bo.add_argument("state", choices=("on", "off"))
    bo.add_argument("--run", type=int)
    bo.add_argument("--dir", default="both", choices=("up", "down", "both"))
    bo.add_argument("--mode", default="drop", choices=("drop", "down"))
    se = sub.add_parser("set", help="change a path: P:k=v,... (keys as for up --path)")
    se.add_argument("spec")
    se.add_argument("--run", type=int)
    ex = sub.add_parser("exec", help="run a command in client|server|PATH's router")
    ex.add_argument("who")
    ex.add_argument("command", nargs=argparse.REMAINDER)
    ex.add_argument("--run", type=int)
    args = ap.parse_args(argv)
    try:
        if os.geteuid() != 0:
            raise LabError("netlab needs root (network namespaces)")
        if args.cmd == "up":
            _cmd_up(args)
        elif args.cmd == "down":
            if args.all:
                cleanup_all()
            elif args.run is not None:
                cleanup_run(args.run)
            else:
                raise LabError("say which lab (RUN) or --all")
        elif args.cmd == "status":
            runs = [args.run] if args.run is not None else running_runs()
            for r in runs:
                try:
                    lab = Lab.load(r)
                    _print_lab(lab, args.json)
                except LabError as e:
                    names = [n for n in list_netns() if n.startswith(f"{PREFIX}{r}-")]
                    print(f"lab {r}: {e}; leftover namespaces: {' '.join(names) or 'none'}")
        elif args.cmd == "blackout":
            Lab.load(_pick_run(args)).blackout(args.path, args.state == "on", args.dir,
                                               args.mode)
        elif args.cmd == "set":
            lab = Lab.load(_pick_run(args))
            paths, kw = _parse_kv(args.spec, lab.n)
            for p in paths:
                lab.set_path(p, **kw)
        elif args.cmd == "exec":
            lab = Lab.load(_pick_run(args))
            who = int(args.who) if args.who.isdigit() else args.who
            cmd = args.command[1:] if args.command[:1] == ["--"] else args.command
            os.execvp("ip", ["ip", "netns", "exec", lab.ns(who)] + cmd)
    except LabError as e:
        print(f"netlab: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
