"""pytest fixtures and helpers for tests that need the multipath netlab.

    from netlab_fixtures import lab  # noqa: F401  (the fixture)
    from netlab_fixtures import ping, transfer, mptcp_counters

    def test_x(lab):
        l = lab(paths=2, delays=[20, 0], rates=[50, 50], client="engine")

`lab(...)` builds a lab (lab/netlab.py) and returns the netlab.Lab; every
lab built in a test is torn down after it, whatever happened. The whole
module skips (with the reason printed) when not root, without `ip netns`,
without kernel MPTCP or without the lab's tools.
"""
import json
import os
import pathlib
import re
import select
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
# The binaries under test; MPTCPEXTD / MPTCPEXT select other builds (e.g.
# build/asan/mptcpextd).
DAEMON = pathlib.Path(os.environ.get("MPTCPEXTD", ROOT / "build" / "mptcpextd"))
CLI = pathlib.Path(os.environ.get("MPTCPEXT", ROOT / "build" / "mptcpext"))
SHIM = ROOT / "build" / "libmptcpext.so"
sys.path.insert(0, str(ROOT / "lab"))

import netlab  # noqa: E402
from netlab import (  # noqa: E402,F401 (re-exported)
    HostSpec, Lab, LabError, PathSpec, stop_process, wait_for)

PY = "/usr/bin/python3"
NETTOOL = str(ROOT / "lab" / "nettool.py")
NETLAB = str(ROOT / "lab" / "netlab.py")
LINKEMU = ROOT / "build" / "linkemu"


def lab_skip_reason():
    """Why lab tests cannot run here, or None."""
    if os.geteuid() != 0:
        return "netlab tests need root"
    if subprocess.run(["ip", "netns", "list"], capture_output=True).returncode:
        return "`ip netns` does not work here"
    try:
        if pathlib.Path("/proc/sys/net/mptcp/enabled").read_text().strip() != "1":
            return "kernel MPTCP disabled (/proc/sys/net/mptcp/enabled)"
    except FileNotFoundError:
        return "kernel without MPTCP (/proc/sys/net/mptcp/enabled missing)"
    for tool in ("iptables-nft", "ip6tables-nft", "nft", "ping", "tc", "ss"):
        if not shutil.which(tool):
            return f"{tool} not installed (scripts/deps.sh installs it)"
    return None


def _as_list(v, n):
    if v is None:
        return [None] * n
    if not isinstance(v, (list, tuple)):
        return [v] * n
    if len(v) != n:
        raise ValueError(f"expected {n} values, got {v!r}")
    return list(v)


@pytest.fixture
def lab():
    """Factory: lab(paths=2, delays=None, rates=None, losses=None,
    jitters=None, client='kernel', server='kernel', client_endpoints='subflow',
    server_endpoints='', emu=False, cc='cubic') -> netlab.Lab (already up).
    delays are added RTT in ms, rates Mbit/s, losses ratios per direction;
    a scalar applies to every path. Teardown is guaranteed."""
    reason = lab_skip_reason()
    if reason:
        print(f"SKIP netlab: {reason}")
        pytest.skip(reason)
    if not LINKEMU.exists():
        pytest.fail(f"{LINKEMU} is missing; run the suite through `make test`")
    made = []

    def make(paths=2, delays=None, rates=None, losses=None, jitters=None, client="kernel",
             server="kernel", client_endpoints="subflow", server_endpoints="", emu=False,
             cc="cubic"):
        specs = []
        for d, r, lo, j in zip(_as_list(delays, paths), _as_list(rates, paths),
                               _as_list(losses, paths), _as_list(jitters, paths)):
            specs.append(PathSpec(delay_ms=d or 0.0, rate_mbit=r, loss=lo or 0.0,
                                  jitter_ms=j or 0.0, emu=emu))
        lab_ = Lab(specs, client=HostSpec(kind=client, endpoints=client_endpoints, cc=cc),
                   server=HostSpec(kind=server, endpoints=server_endpoints, cc=cc),
                   linkemu=LINKEMU)
        made.append(lab_)
        return lab_.up()

    try:
        yield make
    finally:
        for lab_ in made:
            lab_.down()


# ---- helpers --------------------------------------------------------------------

def ping(lab_, path, family=4, count=5, interval=0.02, wait=1.0, dst_path=None):
    """Ping the server's address of dst_path (default: path) from the client's
    address of `path`. Returns dict(sent, received, min, avg, max) (ms)."""
    src = lab_.addr("client", path, family)
    dst = lab_.addr("server", dst_path or path, family)
    argv = ["ping", "-n", "-q", "-c", str(count), "-i", str(interval), "-W", str(wait),
            "-I", src, dst]
    out = lab_.run("client", argv, check=False, timeout=60).stdout
    m = re.search(r"(\d+) packets transmitted, (\d+) received", out)
    if not m:
        raise LabError(f"unexpected ping output: {out!r}")
    res = {"sent": int(m.group(1)), "received": int(m.group(2))}
    m = re.search(r"= ([\d.]+)/([\d.]+)/([\d.]+)", out)
    if m:
        res.update(min=float(m.group(1)), avg=float(m.group(2)), max=float(m.group(3)))
    return res


def _readline(proc, timeout):
    r, _, _ = select.select([proc.stdout], [], [], timeout)
    return proc.stdout.readline() if r else ""


def transfer(lab_, dst, seconds=3.0, mptcp=False, port=5201, src=None, nbytes=None,
             nohash=False, during=None):
    """Bulk transfer client -> server address dst. Returns (sink, source)
    JSON dicts. `during(lab_)` is called once the transfer runs (e.g. to
    look at subflows) and its result is stored as sink['during']."""
    flags = (["--mptcp"] if mptcp else []) + (["--nohash"] if nohash else [])
    bind = "::" if ":" in dst else "0.0.0.0"
    sink = lab_.popen("server", [PY, NETTOOL, "sink", "--bind", bind, "--port", str(port)]
                      + flags, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = _readline(sink, 10)
        if line.strip() != "listening":
            raise LabError(f"sink did not start: {line!r} {sink.stderr.read()}")
        argv = [PY, NETTOOL, "source", "--connect", dst, "--port", str(port)] + flags
        argv += ["--bytes", str(nbytes)] if nbytes else ["--seconds", str(seconds)]
        argv += ["--bind", src] if src else []
        source = lab_.popen("client", argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
        got = during(lab_) if during else None
        sout, serr = source.communicate(timeout=seconds + 30)
        if source.returncode:
            raise LabError(f"source failed: {serr}")
        kout, kerr = sink.communicate(timeout=30)
        if sink.returncode:
            raise LabError(f"sink failed: {kerr}")
        res = json.loads(kout.strip().splitlines()[-1])
        res["during"] = got
        return res, json.loads(sout.strip().splitlines()[-1])
    finally:
        if sink.poll() is None:
            sink.kill()
            sink.wait()


def mptcp_counters(lab_, who):
    """MPTcpExt* counters of a namespace (from /proc/net/netstat)."""
    text = lab_.run(who, ["cat", "/proc/net/netstat"]).stdout.splitlines()
    out = {}
    for names, values in zip(text[::2], text[1::2]):
        if names.startswith("MPTcpExt:"):
            pairs = zip(names.split()[1:], values.split()[1:])
            out.update(("MPTcpExt" + k, int(v)) for k, v in pairs)
    return out


def leftovers(run_id):
    """Namespaces, live processes and state of a lab run that still exist."""
    prefix = f"{netlab.PREFIX}{run_id}-"
    names = [n for n in netlab.list_netns() if n.startswith(prefix)]
    return {"netns": names,
            "pids": [p for n in names for p in netlab.netns_pids(n)],
            "state": (netlab.STATE_ROOT / str(run_id)).exists()}


def pid_alive(pid):
    return netlab._alive(pid)

