#!/usr/bin/python3
"""lab_bench: our engine against the Linux kernel's MPTCP, same lab, same run.

A benchmark, not a test. Root only; Debian /usr/bin/python3, stdlib only.

    make && /usr/bin/python3 bench/lab_bench.py [--runs 3] [--scenario NAME]
        [--seconds S] [--json]

For every scenario and every run it builds a fresh lab (lab/netlab.py) twice:
  engine: both hosts `engine`, build/mptcpextd in each (TUN mptcp0), the data
          apps are `mptcpext connect` (stdin from a generator) and `mptcpext
          listen` (stdout into the receiver);
  kernel: both hosts `kernel`, IPPROTO_MPTCP sockets: lab/nettool.py source
          and the receiver below listening on an MPTCP socket itself.

Measurement (identical for both sides): one receiver program (RX below) reads
with 1 MiB reads, either from its own MPTCP socket (kernel) or from the stdout
pipe of `mptcpext listen` (engine), and timestamps every read with
CLOCK_MONOTONIC. From those reads it reports
  goodput   bytes received after a 0.5 s warm-up / time until the last byte;
  stall     the longest time between two reads that returned data, after
            the cut (blackout scenario);
  <50%      time after the cut during which the 100 ms moving average of
            goodput (sampled every 10 ms) is below half the average of the
            second before the cut. With two equal paths half the pre-cut rate
            is exactly what the surviving path can carry, so this figure also
            counts ordinary dips of a path running at its rate; a second
            figure uses half the surviving path's share (a quarter of the
            pre-cut rate) as the threshold.
The engine side therefore carries one extra pipe hop (listen's stdout) that
the kernel side does not: that is the cost of the engine's app interface, and
it matters only in the unshaped case.
  CPU/MB    engine side only: CPU time (user + system) of both daemons during
            the transfer, plus the kernel's threaded-NAPI workers of the TUNs
            (`--tun-napi on`), per MB received: on this shared machine the
            goodput follows the CPU the other jobs leave, the CPU per byte
            much less. Each run also records the 1-minute load average.

Scenarios:
  unshaped  one path, no shaping, no delay
  2x50      two paths, TBF 50 Mbit/s each
  50d20+50  path 1 50 Mbit/s at +20 ms RTT, path 2 50 Mbit/s
  cut       two paths of 50 Mbit/s; path 1 (the initial subflow's) is
            silently blackholed both ways (netlab blackout, mode drop) at
            half time and stays cut

Everything it creates (labs, daemons, sockets, event logs) it deletes, also
on failure and Ctrl-C; labs are removed by their own run number only.
"""

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "lab"))
from netlab import HostSpec, Lab, LabError, PathSpec, stop_process, wait_for  # noqa: E402

PY = "/usr/bin/python3"
NETTOOL = str(ROOT / "lab" / "nettool.py")
DAEMON = os.environ.get("MPTCPEXTD", str(ROOT / "build" / "mptcpextd"))
CLI = os.environ.get("MPTCPEXT", str(ROOT / "build" / "mptcpext"))
PORT = 5001
WARMUP = 0.5
BIN = 0.010  # 10 ms sampling
AVG_WINDOW = 10  # bins: 100 ms moving average

# The receiver. argv: sock ADDR PORT | fd. Prints "listening" (sock mode) and
# at EOF one JSON line: t0 (monotonic time of the first byte), reads as
# [[t - t0, n], ...] compressed to one entry per 1 ms.
RX = r"""
import json, os, socket, sys, time
mode = sys.argv[1]
if mode == "sock":
    fam = socket.AF_INET6 if ":" in sys.argv[2] else socket.AF_INET
    ls = socket.socket(fam, socket.SOCK_STREAM, getattr(socket, "IPPROTO_MPTCP", 262))
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((sys.argv[2], int(sys.argv[3])))
    ls.listen(4)
    print("listening", flush=True)
    conn, _ = ls.accept()
    read = conn.recv_into
else:
    f = os.fdopen(0, "rb", buffering=0)
    read = f.readinto
buf = bytearray(1 << 20)
t0 = None
reads = []
total = 0
while True:
    n = read(buf)
    now = time.monotonic()
    if not n:
        break
    if t0 is None:
        t0 = now
    total += n
    ms = round(now - t0, 3)
    if reads and reads[-1][0] == ms:
        reads[-1][1] += n
    else:
        reads.append([ms, n])
print(json.dumps({"t0": t0, "bytes": total, "reads": reads}), flush=True)
"""

# Data for `mptcpext connect`: random bytes on stdout for argv[1] seconds.
GEN = r"""
import os, random, sys, time
data = random.Random(1).randbytes((1 << 20) + 7)
end = time.monotonic() + float(sys.argv[1])
out = os.fdopen(1, "wb", buffering=0)
while time.monotonic() < end:
    out.write(data)
"""

SCENARIOS = {
    "unshaped": {"paths": [PathSpec()], "desc": "1 path, unshaped", "unit": "Gbit/s"},
    "2x50": {"paths": [PathSpec(rate_mbit=50), PathSpec(rate_mbit=50)],
             "desc": "2 x 50 Mbit/s TBF", "unit": "Mbit/s"},
    "50d20+50": {"paths": [PathSpec(rate_mbit=50, delay_ms=20), PathSpec(rate_mbit=50)],
                 "desc": "50 Mbit/s +20 ms, 50 Mbit/s", "unit": "Mbit/s"},
    "cut": {"paths": [PathSpec(rate_mbit=50), PathSpec(rate_mbit=50)],
            "desc": "2 x 50 Mbit/s, path 1 cut at half time", "unit": "Mbit/s", "cut": True},
}
DEFAULT_SECONDS = {"unshaped": 4.0, "2x50": 8.0, "50d20+50": 8.0, "cut": 10.0}
ENGINE_EXTRA = []  # --engine-arg: more mptcpextd arguments, e.g. --offload on


class BenchError(Exception):
    pass


def machine():
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} CPUs, Linux {platform.release()}"


def _reader(proc):
    """Collect a process's stdout lines in a thread (no blocking reads)."""
    lines = []
    ev = threading.Event()

    def pump():
        for line in proc.stdout:
            lines.append(line)
            ev.set()
        ev.set()
    t = threading.Thread(target=pump, daemon=True)
    t.start()
    proc.pump_thread = t  # joined by _rx_result: the last line may still be in flight
    return lines, ev


def _finish(proc, timeout, what):
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise BenchError(f"{what} did not finish within {timeout:.0f} s")


def _rx_result(rx, lines, what):
    # the process has exited, but its last line (the result) may not have
    # been taken from the pipe yet: wait for the reader's EOF
    t = getattr(rx, "pump_thread", None)
    if t:
        t.join(10)
    if rx.returncode != 0:
        raise BenchError(f"{what} receiver exited {rx.returncode}: {rx.stderr.read()[-800:]}")
    for line in lines:
        if line.startswith("{"):
            return json.loads(line)
    raise BenchError(f"{what} receiver printed no result")


def _cut_later(lab, delay, log):
    """Blackout path 1 `delay` seconds from now (in a thread); log the
    monotonic time it took effect."""
    def go():
        time.sleep(delay)
        try:
            lab.blackout(1, True)
            log["cut_at"] = time.monotonic()
        except LabError as e:
            log["error"] = str(e)
    t = threading.Thread(target=go, daemon=True)
    t.start()
    return t


def run_kernel(spec, seconds):
    lab = Lab([PathSpec(**vars(p)) for p in spec["paths"]],
              client=HostSpec(endpoints="subflow"), server=HostSpec())
    try:
        lab.up()
        dst = lab.addr("server", 1, 4)
        rx = lab.popen("server", [PY, "-c", RX, "sock", "0.0.0.0", str(PORT)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines, ev = _reader(rx)
        if not ev.wait(10) or not lines or lines[0].strip() != "listening":
            raise BenchError("kernel receiver did not start")
        cut = {}
        tx = lab.popen("client", [PY, NETTOOL, "source", "--connect", dst, "--port", str(PORT),
                                  "--mptcp", "--nohash", "--seconds", str(seconds),
                                  "--timeout", str(seconds + 30)],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        t = _cut_later(lab, seconds / 2, cut) if spec.get("cut") else None
        _finish(tx, seconds + 40, "kernel sender")
        _finish(rx, 30, "kernel receiver")
        if t:
            t.join()
        if tx.returncode:
            raise BenchError(f"kernel sender exited {tx.returncode}: {tx.stderr.read()[-800:]}")
        return _rx_result(rx, lines, "kernel"), cut, {}
    finally:
        lab.down()


class Engine:
    """mptcpextd in one engine host of the lab."""

    def __init__(self, lab, side, tmp, extra):
        self.lab, self.side = lab, side
        self.sock = f"/run/mptcpext/bench-{lab.run_id}-{side[0]}.sock"
        self.events = tmp / f"events-{side}.jsonl"
        self.log = tmp / f"mptcpextd-{side}.log"
        argv = [DAEMON, "--tun", "mptcp0", "--tun-mode", "attach", "--socket", self.sock,
                "--events", str(self.events)]
        for p in range(1, len(lab.paths) + 1):
            argv += ["--addr", lab.addr(side, p, 4)]
        argv += extra
        dbg = os.environ.get("LAB_BENCH_DEBUG_DIR")  # keep a pcap and a debug log
        if dbg:
            argv += ["--pcap", f"{dbg}/{side}.pcap", "--log-level", "debug"]
            self.log = Path(dbg) / f"mptcpextd-{side}.log"
        self.logf = open(self.log, "w")
        self.proc = lab.popen(side, argv, stdout=self.logf, stderr=subprocess.STDOUT)
        wait_for(lambda: self.proc.poll() is not None or self.cli("counters").returncode == 0,
                 10, f"mptcpextd ({side}) to answer")
        if self.proc.poll() is not None:
            raise BenchError(f"mptcpextd ({side}) died: {self.log.read_text()[-800:]}")

    def cli(self, *args):
        return self.lab.run(self.side, [CLI, "--socket", self.sock] + list(args),
                            check=False, timeout=20)

    def conns(self):
        p = self.cli("--json", "conn")
        return json.loads(p.stdout) if p.returncode == 0 else []

    def stop(self):
        stop_process(self.proc, 10)
        self.logf.close()
        try:
            os.unlink(self.sock)
        except FileNotFoundError:
            pass
        return self.proc.returncode


def _cpu_ticks(pid):
    """utime + stime of a process, in clock ticks (0 if it is gone)."""
    try:
        f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return int(f[11]) + int(f[12])
    except (OSError, IndexError, ValueError):
        return 0


def _napi_threads():
    """pid -> CPU ticks of the kernel's threaded-NAPI workers of TUN mptcp0
    (`--tun-napi on`: the forwarding of what the engines write runs there).
    Their names do not say the namespace: any other lab's count too."""
    out = {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                if open(f"/proc/{p}/comm").read().startswith("napi/mptcp0"):
                    out[p] = _cpu_ticks(p)
            except OSError:
                pass
    return out


def _engine_cpu(daemons):
    return ({d.side: _cpu_ticks(d.proc.pid) for d in daemons}, _napi_threads())


def _cpu_ms_per_mb(c0, c1, nbytes):
    """CPU of both daemons (and NAPI workers) per MB received, in ms."""
    hz = os.sysconf("SC_CLK_TCK")
    ticks = sum(c1[0][k] - c0[0].get(k, 0) for k in c1[0])
    napi = sum(c1[1][p] - c0[1][p] for p in c1[1] if p in c0[1])
    mb = max(nbytes, 1) / 1e6
    return (ticks + napi) * 1000 / hz / mb, napi * 1000 / hz / mb


def run_engine(spec, seconds):
    n = len(spec["paths"])
    lab = Lab([PathSpec(**vars(p)) for p in spec["paths"]],
              client=HostSpec(kind="engine"), server=HostSpec(kind="engine"))
    tmp = Path(tempfile.mkdtemp(prefix="lab_bench."))
    daemons = []
    try:
        lab.up()
        limits = ["--limits", f"subflows {max(n - 1, 0)} add_addr_accepted {max(n - 1, 0)}"]
        # RFC 8684 keys like the kernel it is compared with: under the default
        # policy (prefer) two engines negotiate external keys, and with no TLS
        # or PSK to supply one the connection would stay on one path
        limits += ["--extkey", "never"] + ENGINE_EXTRA
        eps = []
        for p in range(2, n + 1):
            eps += ["--endpoint", f"{lab.addr('client', p, 4)} id {p} subflow"]
        srv = Engine(lab, "server", tmp, limits)
        daemons.append(srv)
        cli = Engine(lab, "client", tmp, limits + eps)
        daemons.append(cli)
        dst = lab.addr("server", 1, 4)
        rx = lab.popen("server", ["sh", "-c", f'"$0" --socket {srv.sock} listen {PORT} '
                                  f'</dev/null | {PY} -c "$1" fd', CLI, RX],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines, _ = _reader(rx)
        wait_for(lambda: rx.poll() is not None or any(c.get("listen") for c in srv.conns()),
                 10, "mptcpext listen")
        if rx.poll() is not None:
            raise BenchError(f"mptcpext listen exited: {rx.stderr.read()[-800:]}")
        cut = {}
        cpu0 = _engine_cpu(daemons)
        tx = lab.popen("client", ["sh", "-c", f'{PY} -c "$0" {seconds} | "$1" --socket '
                                  f'{cli.sock} connect {dst} {PORT} >/dev/null', GEN, CLI],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        t = _cut_later(lab, seconds / 2, cut) if spec.get("cut") else None
        # Subflows seen established while the transfer runs (multipath up?)
        sfmax = 0
        deadline = time.monotonic() + seconds + 40
        while tx.poll() is None and time.monotonic() < deadline:
            for c in cli.conns():
                sfmax = max(sfmax, len(c.get("subflows", [])))
            time.sleep(0.5)
        try:
            if tx.poll() is None:
                raise BenchError(f"engine sender (mptcpext connect) not finished "
                                 f"{seconds + 40:.0f} s after start")
            _finish(rx, 30, "engine receiver (mptcpext listen)")
            cpu1 = _engine_cpu(daemons)
        except BenchError as e:
            # what the daemons see of the stuck connection, for the report
            diag = " | ".join(" ".join(d.cli("conn").stdout.split())[-500:] for d in daemons)
            raise BenchError(f"{e}; conn: {diag}") from None
        if t:
            t.join()
        if tx.returncode:
            raise BenchError(f"mptcpext connect exited {tx.returncode}: "
                             f"{tx.stderr.read()[-800:]}")
        res = _rx_result(rx, lines, "engine")
        cpu, napi = _cpu_ms_per_mb(cpu0, cpu1, res["bytes"])
        info = {"subflows_seen": sfmax, "cpu_ms_per_mb": cpu, "napi_ms_per_mb": napi}
        return res, cut, info
    finally:
        for d in daemons:
            rc = d.stop()
            if rc:
                print(f"# mptcpextd ({d.side}) exited {rc}: {d.log.read_text()[-400:]}",
                      file=sys.stderr)
        lab.down()
        shutil.rmtree(tmp, ignore_errors=True)


def analyse(res, cut, seconds):
    """Figures from the receiver's reads (see the module comment)."""
    reads = res["reads"]
    if not reads:
        return {"goodput_mbit": 0.0, "bytes": 0}
    t_last = reads[-1][0]
    warm = [r for r in reads if r[0] >= WARMUP]
    if warm and t_last - WARMUP > 0.2:
        b = sum(r[1] for r in warm)
        goodput = b * 8 / (t_last - WARMUP) / 1e6
    else:
        goodput = res["bytes"] * 8 / max(t_last, 1e-3) / 1e6
    out = {"goodput_mbit": goodput, "bytes": res["bytes"], "seconds": t_last}
    if "cut_at" in cut:
        tc = cut["cut_at"] - res["t0"]
        # longest gap between reads with data, from the cut on (a gap that
        # spans the cut counts from the cut)
        stall = 0.0
        prev = None
        for t, _ in reads:
            if t >= tc:
                stall = max(stall, t - max(prev if prev is not None else tc, tc))
            prev = t
        nbins = int(t_last / BIN) + 1
        bins = [0] * nbins
        for t, n in reads:
            bins[min(int(t / BIN), nbins - 1)] += n
        ci = int(tc / BIN)
        before = bins[max(0, ci - 100):ci]
        ref = sum(before) / len(before) if before else 0
        end = int((min(t_last, seconds) - 0.05) / BIN)  # the sender's end is not a dip
        under = under_path = 0
        for i in range(ci + AVG_WINDOW, max(end, ci + AVG_WINDOW)):
            avg = sum(bins[i - AVG_WINDOW:i]) / AVG_WINDOW
            under += avg < ref / 2
            under_path += avg < ref / 4
        out.update(stall_ms=stall * 1000, under50_s=under * BIN,
                   under50_path_s=under_path * BIN,
                   after_cut_mbit=sum(bins[ci:end]) * 8 / max((end - ci) * BIN, 1e-3) / 1e6)
    elif cut.get("error"):
        out["cut_error"] = cut["error"]
    return out


def one(side, name, seconds):
    spec = SCENARIOS[name]
    try:
        res, cut, info = (run_engine if side == "engine" else run_kernel)(spec, seconds)
        r = analyse(res, cut, seconds)
        r.update(info)
        if spec.get("cut") and "cut_at" not in cut:
            r["error"] = f"blackout failed: {cut.get('error')}"
        return r
    except (BenchError, LabError, OSError, subprocess.SubprocessError, ValueError) as e:
        return {"error": f"{type(e).__name__}: {e}"}


def med(vals):
    vals = [v for v in vals if v is not None]
    if not vals:
        return None, None
    return statistics.median(vals), (min(vals), max(vals))


def fmt(v, unit):
    if v is None:
        return "-"
    if unit == "Gbit/s":
        return f"{v / 1000:.2f}"
    if unit == "ms/MB":
        return f"{v:.2f}"
    return f"{v:.1f}"


def summarise(name, runs):
    spec = SCENARIOS[name]
    rows = []
    metrics = [("goodput", "goodput_mbit", spec["unit"]),
               ("daemons' CPU per MB", "cpu_ms_per_mb", "ms/MB")]
    if spec.get("cut"):
        metrics += [("after cut", "after_cut_mbit", "Mbit/s"),
                    ("longest stall", "stall_ms", "ms"),
                    ("< 50 % of pre-cut goodput", "under50_s", "s"),
                    ("< 50 % of surviving path", "under50_path_s", "s")]
    for label, key, unit in metrics:
        e = med([r.get(key) for r in runs["engine"] if "error" not in r])
        k = med([r.get(key) for r in runs["kernel"] if "error" not in r])
        ratio = e[0] / k[0] if e[0] is not None and k[0] else None
        rows.append({"scenario": name, "desc": spec["desc"], "metric": label, "unit": unit,
                     "engine": e[0], "engine_range": e[1], "kernel": k[0],
                     "kernel_range": k[1], "ratio": ratio,
                     "engine_ok": sum("error" not in r for r in runs["engine"]),
                     "kernel_ok": sum("error" not in r for r in runs["kernel"]),
                     "runs": len(runs["engine"])})
    return rows


def print_table(rows, header):
    print(header)
    print("| scenario | metric | engine (median, min-max) | kernel (median, min-max) "
          "| engine/kernel | ok runs e/k |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        u = r["unit"]

        def cell(v, rng):
            if v is None:
                return "-"
            return f"{fmt(v, u)} ({fmt(rng[0], u)}-{fmt(rng[1], u)})"
        ratio = f"{r['ratio']:.2f}" if r["ratio"] is not None else "-"
        print(f"| {r['desc']} | {r['metric']} [{u}] | {cell(r['engine'], r['engine_range'])} "
              f"| {cell(r['kernel'], r['kernel_range'])} | {ratio} "
              f"| {r['engine_ok']}/{r['kernel_ok']} of {r['runs']} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--scenario", action="append", choices=list(SCENARIOS),
                    help="repeatable; default all")
    ap.add_argument("--seconds", type=float, help="transfer time per run "
                    "(default: unshaped 4, shaped 8, cut 10)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--engine-arg", action="append", default=[], metavar="ARG",
                    help="repeatable: an extra mptcpextd argument for both engines, "
                    "e.g. --engine-arg=--offload --engine-arg=on")
    args = ap.parse_args()
    ENGINE_EXTRA[:] = args.engine_arg
    if os.geteuid() != 0:
        print("lab_bench needs root (network namespaces)", file=sys.stderr)
        return 2
    for b in (DAEMON, CLI):
        if not os.access(b, os.X_OK):
            print(f"{b} missing: run make first", file=sys.stderr)
            return 2

    def term(*_):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, term)
    header = (f"# lab_bench {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on "
              f"{machine()}; runs {args.runs}; load at start {os.getloadavg()[0]:.1f}" +
              (f"; engine args {' '.join(ENGINE_EXTRA)}" if ENGINE_EXTRA else ""))
    names = args.scenario or list(SCENARIOS)
    all_runs = {}
    rows = []
    try:
        for name in names:
            secs = args.seconds or DEFAULT_SECONDS[name]
            runs = {"engine": [], "kernel": []}
            for i in range(args.runs):
                for side in ("kernel", "engine"):  # alternate: same conditions
                    load = os.getloadavg()[0]  # the machine is shared: say how busy
                    r = one(side, name, secs)
                    r["seconds_planned"] = secs
                    r["load1"] = round(load, 2)
                    runs[side].append(r)
                    print(f"# {name} run {i + 1} {side}: " +
                          json.dumps({k: (round(v, 3) if isinstance(v, float) else v)
                                      for k, v in r.items()}), file=sys.stderr, flush=True)
            all_runs[name] = runs
            rows += summarise(name, runs)
    except KeyboardInterrupt:
        print("# interrupted; labs of this run were removed", file=sys.stderr)
    if args.json:
        print(json.dumps({"header": header, "machine": machine(), "rows": rows,
                          "runs": all_runs}, indent=1))
    else:
        print_table(rows, header)
        for name, runs in all_runs.items():
            for side in ("engine", "kernel"):
                for i, r in enumerate(runs[side]):
                    if "error" in r:
                        print(f"# {name} {side} run {i + 1} FAILED: {r['error']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
