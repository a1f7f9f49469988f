#!/usr/bin/python3
"""make demo: an HTTPS download over two paths with MPTCP external keys.

Builds a lab of two hosts joined by two paths of different delay and rate
(lab/netlab.py), starts an mptcpextd engine in each host (with an event
log), serves a generated file with nginx over TLS (a self-signed certificate
made on the fly) and downloads it with curl, both under the shim
(libmptcpext.so). The TLS exporter gives both ends the same external key
(DESIGN.md decisions 6 and 7); the engines confirm it with NEW_KEY and the
second subflow is authenticated by that key, which never crossed the wire.

Prints the connection and its subflows as each engine sees it, the key
state and fingerprints of both ends, the bytes carried by each path, the
time and goodput and the SHA-256 check, and writes a PNG plot of the
per-subflow throughput (`mptcpext plot`). Everything it creates (namespaces,
processes, the temporary directory) is removed at the end, also after a
failure or Ctrl-C.

    make demo            (root; builds and installs missing packages first)
    /usr/bin/python3 lab/demo.py [--size-mb 50] [--plot build/demo.png]
                                 [--data-path shim|cli] [--keep-tmp]

--data-path cli moves the file with `mptcpext listen/connect --psk-file`
instead of nginx/curl (a pre-shared key instead of TLS): for machines where
the shim is not built.
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import e2e  # noqa: E402
from netlab import HostSpec, Lab, LabError, PathSpec  # noqa: E402

PORT = 8443
PATHS = [  # (rate Mbit/s, added RTT ms)
    (40, 10),
    (20, 30),
]


def fmt_bytes(n):
    for unit, div in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= div:
            return f"{n / div:.1f} {unit}"
    return f"{n} B"


def run_transfer(lab, cli_eng, srv_eng, tmp, size, data_path, snaps):
    """Move the file; returns (seconds, received path, expected sha)."""
    www = tmp / "www"
    www.mkdir()
    src = www / "file.bin"
    want = e2e.make_file(src, size)
    out = tmp / "download.bin"
    dst = lab.addr("server", 1, 4)
    procs = []
    try:
        if data_path == "shim":
            cert, key = e2e.make_cert(tmp, ips=[dst])
            conf = e2e.nginx_conf(tmp, dst, PORT, www, cert, key)
            srv = lab.popen("server", ["nginx", "-c", str(conf), "-p", str(tmp)],
                            env=srv_eng.env(), stdout=subprocess.DEVNULL,
                            stderr=open(tmp / "nginx.stderr", "w"))
            procs.append(srv)
            e2e.wait_listening(srv_eng, PORT, proc=srv)
            argv = ["curl", "-sS", "--fail", "--insecure", "--http1.1", "-o", str(out),
                    "-w", "%{time_total} %{time_appconnect}\n", f"https://{dst}:{PORT}/file.bin"]
            env = cli_eng.env()
        else:
            psk = tmp / "psk"
            psk.write_text(os.urandom(32).hex() + "\n")
            os.chmod(psk, 0o600)
            srv = lab.popen("server", [str(e2e.CLI), "--socket", srv_eng.sock, "listen",
                                       str(PORT), "--psk-file", str(psk)],
                            stdin=open(src, "rb"), stdout=subprocess.DEVNULL,
                            stderr=open(tmp / "listen.stderr", "w"))
            procs.append(srv)
            e2e.wait_listening(srv_eng, PORT, proc=srv)
            argv = [str(e2e.CLI), "--socket", cli_eng.sock, "connect", dst, str(PORT),
                    "--psk-file", str(psk)]
            env = None
        t0 = time.monotonic()
        if data_path == "shim":
            cl = lab.popen("client", argv, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        else:
            cl = lab.popen("client", argv, stdin=subprocess.DEVNULL, stdout=open(out, "wb"),
                           stderr=subprocess.PIPE)
        procs.append(cl)
        snaps.until(cl, 120)
        elapsed = time.monotonic() - t0
        if cl.poll() is None:
            raise LabError("the download did not finish within 120 s")
        err = cl.stderr.read().decode(errors="replace")
        if cl.returncode:
            raise LabError(f"{argv[0]} exited {cl.returncode}: {err.strip()}")
        if data_path == "shim":
            # curl's own clock: from the start to the last byte
            total, appconnect = (float(x) for x in cl.stdout.read().split()[:2])
            print(f"  TLS handshake done after {appconnect * 1000:.0f} ms")
            elapsed = total
        return elapsed, out, want
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()


def _event_times(events):
    """(time of the first "established", of the first "sf_established")."""
    est = join = None
    try:
        with open(events, encoding="utf-8") as f:
            for line in f:
                try:
                    ev = json.loads(line)
                except ValueError:
                    continue
                if ev.get("ev") == "established" and est is None:
                    est = ev.get("t")
                elif ev.get("ev") == "sf_established" and join is None:
                    join = ev.get("t")
    except FileNotFoundError:
        pass
    return est, join


def report(lab, snaps, cli_eng, srv_eng, elapsed, out, want, size, plot, data_path):
    ok = True
    print()
    for eng, title in ((cli_eng, "client (curl)"), (srv_eng, "server (nginx)")):
        if data_path == "cli":
            title = title.split()[0] + " (mptcpext)"
        print(f"--- {title}: mptcpext conn, during the transfer ---")
        print(snaps.text(eng.side).rstrip() or "  (no connection seen)")
        print()
    c, s = snaps.conn("client"), snaps.conn("server")
    print("--- external key ---")
    for side, conn in (("client", c), ("server", s)):
        if conn:
            print(f"  {side:6}  state {conn.get('key_state', '?'):12} fingerprint "
                  f"{conn.get('key_fpr') or '-':16}  (policy {conn.get('extkey_policy')}, "
                  f"tokens {conn.get('token')}/{conn.get('remote_token')})")
    fc, fs = (c or {}).get("key_fpr"), (s or {}).get("key_fpr")
    if fc and fc == fs:
        print("  fingerprints equal: both engines hold the same key, taken from "
              + ("the TLS exporter" if data_path == "shim" else "the pre-shared key (HKDF)"))
    else:
        print("  FINGERPRINTS DIFFER OR MISSING")
        ok = False
    t_est, t_join = _event_times(cli_eng.events)
    if t_est is not None and t_join is not None:
        print(f"  second subflow joined {1000 * (t_join - t_est):.0f} ms after the connection "
              "was established (joins wait for the confirmed key)")
    print()
    print("--- bytes per path (client engine, received) ---")
    per_path = {}
    totals = e2e.subflow_totals(cli_eng.events)
    for (conn, local, remote), t in sorted(totals.items()):
        p = e2e.path_of(lab, local)
        per_path.setdefault(p, [0, []])
        per_path[p][0] += t["rx"]
        per_path[p][1].append(f"{local} -> {remote}")
    total_rx = sum(v[0] for v in per_path.values()) or 1
    for p in sorted(per_path, key=lambda x: (x is None, x or 0)):
        rate, rtt = PATHS[p - 1] if p else ("?", "?")
        rx, names = per_path[p]
        print(f"  path {p} ({rate} Mbit/s, {rtt} ms RTT): {fmt_bytes(rx):>9} "
              f"({100.0 * rx / total_rx:4.1f} %)  {', '.join(names)}")
    used = [p for p, v in per_path.items() if p and v[0] > 0]
    if len(used) < len(PATHS):
        print(f"  NOT EVERY PATH CARRIED DATA (paths used: {sorted(used)})")
        ok = False
    print()
    got = e2e.sha256_file(out) if out.exists() else "(no file)"
    gp = size * 8 / elapsed / 1e6 if elapsed > 0 else 0
    print("--- transfer ---")
    print(f"  {fmt_bytes(size)} in {elapsed:.2f} s: goodput {gp:.1f} Mbit/s "
          f"(paths together: {sum(r for r, _ in PATHS)} Mbit/s)")
    print(f"  sha256 sent     {want}")
    print(f"  sha256 received {got}  {'MATCH' if got == want else 'MISMATCH'}")
    ok = ok and got == want
    print()
    if plot:
        conn = c.get("conn") if c else None
        argv = [str(e2e.CLI), "plot", str(cli_eng.events), "-o", str(plot),
                "--title", f"mptcpext demo: {fmt_bytes(size)} over "
                + ("HTTPS (nginx -> curl)" if data_path == "shim" else "mptcpext connect")
                + ", two paths, external key"]
        if conn:
            argv += ["--conn", str(conn)]
        p = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        if p.returncode:
            print(f"plot: failed: {p.stderr.strip()}")
        else:
            print(f"plot: per-subflow throughput written to {plot}")
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size-mb", type=float, default=50)
    ap.add_argument("--plot", default=str(e2e.BUILD / "demo.png"))
    ap.add_argument("--data-path", choices=("shim", "cli"), default="shim")
    ap.add_argument("--keep-tmp", action="store_true")
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # progress lines show at once under make
    if os.geteuid() != 0:
        sys.exit("demo: needs root (network namespaces)")
    if args.data_path == "shim" and e2e.shim_missing():
        sys.exit(f"demo: {e2e.shim_missing()}; `--data-path cli` runs the demo with "
                 "mptcpext listen/connect and a pre-shared key instead")
    for tool in (["nginx", "curl"] if args.data_path == "shim" else []) + ["openssl"]:
        if not shutil.which(tool):
            sys.exit(f"demo: {tool} is not installed (make deps)")

    # SIGTERM/SIGHUP clean up like Ctrl-C
    def stop(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)

    size = int(args.size_mb * 1e6)
    tmp = Path(tempfile.mkdtemp(prefix="mptcpext-demo."))
    lab = Lab([PathSpec(rate_mbit=r, delay_ms=d) for r, d in PATHS],
              client=HostSpec(kind="engine"), server=HostSpec(kind="engine"))
    engines = []
    ok = False
    try:
        print("mptcpext demo: " + ("nginx -> curl over TLS" if args.data_path == "shim"
                                   else "mptcpext listen -> connect with a pre-shared key")
              + ", MPTCP with external keys over two paths")
        lab.up()
        for i, (r, d) in enumerate(PATHS, 1):
            print(f"  path {i}: {r} Mbit/s, {d} ms RTT   client {lab.addr('client', i)}   "
                  f"server {lab.addr('server', i)}")
        cli_eng, srv_eng = e2e.start_engines(lab, tmp)
        engines = [cli_eng, srv_eng]
        print(f"  engines: {cli_eng.sock} (client), {srv_eng.sock} (server); "
              f"event logs in {tmp}")
        print(f"  downloading {fmt_bytes(size)} from https://{lab.addr('server', 1)}:{PORT}/ ..."
              if args.data_path == "shim" else f"  sending {fmt_bytes(size)} ...")
        snaps = e2e.Watch(engines)
        elapsed, out, want = run_transfer(lab, cli_eng, srv_eng, tmp, size, args.data_path, snaps)
        ok = report(lab, snaps, cli_eng, srv_eng, elapsed, out, want, size,
                    Path(args.plot) if args.plot else None, args.data_path)
    except KeyboardInterrupt as e:
        print(f"\ndemo: interrupted ({e or 'Ctrl-C'}); cleaning up", file=sys.stderr)
    except (LabError, OSError, subprocess.SubprocessError) as e:
        print(f"\ndemo: FAILED: {e}", file=sys.stderr)
        for eng in engines:
            print(f"--- {eng.log} (tail) ---\n{eng.log.read_text()[-1500:]}", file=sys.stderr)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not stop clean-up
        for eng in engines:
            eng.stop()
        lab.down()
        if args.keep_tmp:
            print(f"demo: kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print("demo: " + ("OK" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
