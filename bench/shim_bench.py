#!/usr/bin/python3
"""shim_bench: libmptcpext.so (the LD_PRELOAD shim) against the engine's own
CLI and against kernel MPTCP, same run (issue 7, "Performance").

A benchmark, not a test. Root only; Debian /usr/bin/python3, stdlib only.

    make && make build/conn_rate && /usr/bin/python3 bench/shim_bench.py \
        [--runs 3] [--rate-seconds 2] [--bulk-seconds 4] [--only rate|bulk] [--json]
        [--engine-arg=ARG ...]

Every run builds two fresh one-path unshaped labs (lab/netlab.py), kernel
first, then engine (both hosts `engine`, an mptcpextd in each, `--extkey
never` like bench/lab_bench.py, restarted before every measurement so that
no TIME_WAIT connection of an earlier one is left in the engines):

  rate     build/conn_rate client: one thread, socket / blocking connect /
           close for --rate-seconds, against build/conn_rate server (accept /
           close). `rate+rw` adds a 1-byte write and read (echoed by the
           server) to each connection, so that every connection carried data
           both ways. Kernel: both programs on IPPROTO_MPTCP sockets (client
           namespace: ip_local_port_range 1024-65535, tcp_tw_reuse 1, so
           TIME_WAIT does not run the ports out). Shim: the same binaries
           under LD_PRELOAD on both hosts.
  bulk     one connection, --bulk-seconds of 64 KiB writes, received by
           bench/lab_bench.py's receiver (1 MiB reads, goodput after a 0.5 s
           warm-up):
             kernel  conn_rate bulk (IPPROTO_MPTCP) -> receiver on its socket
             cli     conn_rate gen | mptcpext connect -> mptcpext listen |
                     receiver (lab_bench's engine case)
             shim    conn_rate bulk under the shim -> mptcpext listen |
                     receiver (the same server as cli: only the client differs)
             shim2   conn_rate bulk under the shim -> the receiver under the
                     shim (both ends shimmed)

It prints medians (min-max) over --runs and the ratios shim/kernel and
shim/cli; `uptime`'s load at the start and the end, since the machine is
shared. Other binaries (A/B runs of two builds): MPTCPEXTD, MPTCPEXT,
MPTCPEXT_SHIM and CONN_RATE in the environment (lab/e2e.py). Everything it creates (labs, daemons, sockets) it removes, also on
failure and Ctrl-C; labs by their own run number only.
"""

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "lab"))
sys.path.insert(0, str(ROOT / "bench"))
from netlab import HostSpec, Lab, LabError, PathSpec, stop_process, wait_for  # noqa: E402
from e2e import CLI, DAEMON, SHIM, start_engines, wait_listening  # noqa: E402
from lab_bench import (RX, BenchError, _finish, _reader, _rx_result, analyse,  # noqa: E402
                       machine, med)

PY = "/usr/bin/python3"
CONN_RATE = Path(os.environ.get("CONN_RATE", ROOT / "build" / "conn_rate"))
PORT = 5001
BULK_PORT = 5002


def load():
    return open("/proc/loadavg").read().split()[0]


def _json_line(text, what):
    for line in reversed(text.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise BenchError(f"{what}: no result in {text[-500:]!r}")


def _server(lab, side, argv, env=None):
    """conn_rate server (or any program printing 'listening') in |side|."""
    p = lab.popen(side, argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                  text=True)
    lines, ev = _reader(p)
    wait_for(lambda: p.poll() is not None or any("listening" in ln for ln in lines), 15,
             f"{argv[0]} to listen")
    if p.poll() is not None:
        raise BenchError(f"server exited {p.returncode}: {p.stderr.read()[-500:]}")
    return p


def _rate(lab, dst, seconds, rw, cenv=None, senv=None, engine=None):
    extra = ["--rw"] if rw else []
    srv = _server(lab, "server", [str(CONN_RATE), "server", str(PORT)] + extra, env=senv)
    try:
        if engine is not None:
            wait_listening(engine, PORT, proc=srv)
        p = lab.run("client", [str(CONN_RATE), "client", dst, str(PORT), str(seconds)] + extra,
                    env=cenv, check=False, timeout=seconds + 60)
        if p.returncode:
            raise BenchError(f"conn_rate client exited {p.returncode}: {p.stderr[-500:]}"
                             f"{p.stdout[-300:]}")
        return _json_line(p.stdout, "conn_rate client")
    finally:
        stop_process(srv, 5)


def _cpu_of(pid):
    """user+system CPU seconds of a live process."""
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def _children_cpu():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _bulk(lab, sender_argv, sender_env, rx_argv, rx_env, seconds, engine=None, daemons=()):
    """Goodput (Mbit/s) and the CPU seconds per GB received of the programs
    (sender, receiver: everything this script waited for) and of |daemons|:
    on a shared machine the goodput follows the CPU the others leave, the
    CPU per byte much less."""
    c0 = (_children_cpu(), sum(_cpu_of(d.proc.pid) for d in daemons))
    rx = lab.popen("server", rx_argv, env=rx_env, stdout=subprocess.PIPE,
                   stderr=subprocess.PIPE, text=True)
    try:
        lines, ev = _reader(rx)
        if engine is not None:
            wait_listening(engine, BULK_PORT, proc=rx)
        else:
            wait_for(lambda: rx.poll() is not None or lines, 15, "the receiver")
        tx = lab.popen("client", sender_argv, env=sender_env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
        _finish(tx, seconds + 60, "sender")
        if tx.returncode:
            raise BenchError(f"sender exited {tx.returncode}: {tx.stderr.read()[-500:]}")
        _finish(rx, 30, "receiver")
        res = _rx_result(rx, lines, "bulk")
        gb = max(res["bytes"], 1) / 1e9
        out = analyse(res, {}, seconds)
        out["apps_cpu_s_per_gb"] = (_children_cpu() - c0[0]) / gb
        out["daemons_cpu_s_per_gb"] = (sum(_cpu_of(d.proc.pid) for d in daemons) - c0[1]) / gb
        return out
    finally:
        if rx.poll() is None:
            rx.kill()
            rx.wait()


def run_kernel(args):
    out = {}
    lab = Lab([PathSpec()], client=HostSpec(), server=HostSpec())
    try:
        lab.up()
        for side in ("client", "server"):
            lab.run(side, ["sysctl", "-qw", "net.ipv4.ip_local_port_range=1024 65535",
                           "net.ipv4.tcp_tw_reuse=1"])
        dst = lab.addr("server", 1, 4)
        if args.only in (None, "bulk"):
            r = _bulk(lab, [str(CONN_RATE), "bulk", dst, str(BULK_PORT), str(args.bulk_seconds)],
                      None, [PY, "-c", RX, "sock", "0.0.0.0", str(BULK_PORT)], None,
                      args.bulk_seconds)
            out["bulk"] = r["goodput_mbit"]
            out["bulk_cpu"] = r["apps_cpu_s_per_gb"]
        if args.only in (None, "rate"):
            for rw in (False, True):
                r = _rate(lab, dst, args.rate_seconds, rw)
                out["rate+rw" if rw else "rate"] = r
    finally:
        lab.down()
    return out


class Engines:
    """mptcpextd on both hosts, restartable (no state left between two
    measurements)."""

    def __init__(self, lab, tmp, extra=()):
        self.lab, self.tmp, self.pair, self.extra = lab, tmp, None, list(extra)

    def start(self):
        self.stop()
        self.pair = start_engines(self.lab, self.tmp, extra=["--extkey", "never"] + self.extra)
        return self.pair

    def stop(self):
        if self.pair:
            for e in self.pair:
                rc = e.stop()
                if rc:
                    print(f"# mptcpextd ({e.side}) exited {rc}: {e.log.read_text()[-400:]}",
                          file=sys.stderr)
        self.pair = None


def run_engine(args):
    out = {}
    lab = Lab([PathSpec()], client=HostSpec(kind="engine"), server=HostSpec(kind="engine"))
    tmp = Path(tempfile.mkdtemp(prefix="shim_bench."))
    eng = Engines(lab, tmp, args.engine_arg)
    try:
        lab.up()
        dst = lab.addr("server", 1, 4)
        secs = str(args.bulk_seconds)
        if args.only in (None, "bulk"):
            for name in ("cli", "shim", "shim2"):
                cli, srv = eng.start()
                if name == "shim2":
                    rx = [PY, "-c", RX, "sock", "0.0.0.0", str(BULK_PORT)]
                    rx_env = srv.env()
                else:
                    rx = ["sh", "-c", f'"$0" --socket {srv.sock} listen {BULK_PORT} '
                          f'</dev/null | {PY} -c "$1" fd', str(CLI), RX]
                    rx_env = None
                if name == "cli":
                    tx = ["sh", "-c", f'"$0" gen {secs} | "$1" --socket {cli.sock} connect '
                          f'{dst} {BULK_PORT} >/dev/null', str(CONN_RATE), str(CLI)]
                    tx_env = None
                else:
                    tx = [str(CONN_RATE), "bulk", dst, str(BULK_PORT), secs]
                    tx_env = cli.env()
                r = _bulk(lab, tx, tx_env, rx, rx_env, args.bulk_seconds, engine=srv,
                          daemons=(cli, srv))
                out[f"bulk_{name}"] = r["goodput_mbit"]
                out[f"bulk_{name}_cpu"] = r["apps_cpu_s_per_gb"] + r["daemons_cpu_s_per_gb"]
        if args.only in (None, "rate"):
            for rw in (False, True):
                cli, srv = eng.start()
                c0 = (cli.counters(), srv.counters())
                r = _rate(lab, dst, args.rate_seconds, rw, cenv=cli.env(), senv=srv.env(),
                          engine=srv)
                c1 = (cli.counters(), srv.counters())
                r["shim_connects"] = c1[0].get("MpxdShimConnects", 0) - c0[0].get(
                    "MpxdShimConnects", 0)
                r["shim_accepts"] = c1[1].get("MpxdShimAccepts", 0) - c0[1].get(
                    "MpxdShimAccepts", 0)
                out["rate+rw" if rw else "rate"] = r
    finally:
        eng.stop()
        lab.down()
    return out


def one(side, args):
    try:
        return (run_engine if side == "engine" else run_kernel)(args)
    except (BenchError, LabError, OSError, subprocess.SubprocessError, ValueError) as e:
        return {"error": f"{type(e).__name__}: {e}"}


def cell(vals, fmtf):
    m, rng = med(vals)
    if m is None:
        return "-", None
    return f"{fmtf(m)} ({fmtf(rng[0])}-{fmtf(rng[1])})", m


def ratio(a, b):
    return f"{a / b:.2f}" if a is not None and b else "-"


def table(runs, header):
    ok = {s: [r for r in runs[s] if "error" not in r] for s in runs}
    print(header)
    print("| metric | shim (median, min-max) | engine CLI | kernel MPTCP | shim/kernel "
          "| shim/CLI |")
    print("|---|---|---|---|---|---|")

    def rate_row(key, label):
        f = lambda v: f"{v:,.0f}"  # noqa: E731
        s, sm = cell([r[key]["rate"] for r in ok["engine"] if key in r], f)
        k, km = cell([r[key]["rate"] for r in ok["kernel"] if key in r], f)
        print(f"| {label} [conn/s] | {s} | - | {k} | {ratio(sm, km)} | - |")
        f2 = lambda v: f"{v:,.0f}"  # noqa: E731
        s, sm = cell([r[key]["connect_us_p50"] for r in ok["engine"] if key in r], f2)
        k, km = cell([r[key]["connect_us_p50"] for r in ok["kernel"] if key in r], f2)
        print(f"| {label}: connect() median [us] | {s} | - | {k} | {ratio(sm, km)} | - |")

    if any("rate" in r for r in ok["engine"] + ok["kernel"]):
        rate_row("rate", "connect+close, 1 thread")
        rate_row("rate+rw", "connect+1B echo+close, 1 thread")
    if any("bulk_shim" in r or "bulk" in r for r in ok["engine"] + ok["kernel"]):
        f = lambda v: f"{v / 1000:.2f}"  # noqa: E731
        k, km = cell([r["bulk"] for r in ok["kernel"] if "bulk" in r], f)
        c, cm = cell([r["bulk_cli"] for r in ok["engine"] if "bulk_cli" in r], f)
        fc = lambda v: f"{v:.2f}"  # noqa: E731
        kc, kcm = cell([r["bulk_cpu"] for r in ok["kernel"] if "bulk_cpu" in r], fc)
        cc, ccm = cell([r["bulk_cli_cpu"] for r in ok["engine"] if "bulk_cli_cpu" in r], fc)
        for key, label in (("bulk_shim", "bulk, shim client -> mptcpext listen"),
                           ("bulk_shim2", "bulk, shim client -> shim receiver")):
            s, sm = cell([r[key] for r in ok["engine"] if key in r], f)
            print(f"| {label} [Gbit/s] | {s} | {c} | {k} | {ratio(sm, km)} | {ratio(sm, cm)} |")
            s, sm = cell([r[key + "_cpu"] for r in ok["engine"] if key + "_cpu" in r], fc)
            print(f"| {label}: CPU s per GB, all processes | {s} | {cc} | {kc} "
                  f"| {ratio(sm, kcm)} | {ratio(sm, ccm)} |")
    for side in ("engine", "kernel"):
        for i, r in enumerate(runs[side]):
            if "error" in r:
                print(f"# {side} run {i + 1} FAILED: {r['error']}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--rate-seconds", type=float, default=2.0)
    ap.add_argument("--bulk-seconds", type=float, default=4.0)
    ap.add_argument("--only", choices=["rate", "bulk"])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--engine-arg", action="append", default=[], metavar="ARG",
                    help="repeatable: an extra mptcpextd argument for both engines, "
                    "e.g. --engine-arg=--offload --engine-arg=on")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("shim_bench needs root (network namespaces)", file=sys.stderr)
        return 2
    for b in (DAEMON, CLI, SHIM, CONN_RATE):
        if not os.access(b, os.R_OK):
            print(f"{b} missing: run `make && make build/conn_rate` first", file=sys.stderr)
            return 2

    def term(*_):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, term)
    load0 = load()
    header = (f"# shim_bench {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on "
              f"{machine()}; runs {args.runs}; load at start {load0}; {DAEMON}, {SHIM}" +
              (f"; engine args {' '.join(args.engine_arg)}" if args.engine_arg else ""))
    runs = {"engine": [], "kernel": []}
    try:
        for i in range(args.runs):
            for side in ("kernel", "engine"):  # alternate: same conditions
                r = one(side, args)
                r["load"] = load()
                runs[side].append(r)
                print(f"# run {i + 1} {side}: {json.dumps(r)}", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        print("# interrupted; labs of this run were removed", file=sys.stderr)
    header += f", at end {load()}"
    if args.json:
        print(json.dumps({"header": header, "runs": runs}, indent=1))
    else:
        table(runs, header)
    return 0


if __name__ == "__main__":
    sys.exit(main())
