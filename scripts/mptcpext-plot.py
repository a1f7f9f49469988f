#!/usr/bin/python3
"""mptcpext plot: per-subflow throughput over time from an mptcpextd event log.

    mptcpext plot EVENTS.jsonl -o out.png [--conn N] [--dir tx|rx|both] [--title T]

Reads the JSON lines written by `mptcpextd --events FILE` (see
userstack/daemon/evlog.c): "sf_bytes" lines carry cumulative per-subflow byte
counters every events-interval; the throughput of a subflow is the difference
of its counter between two lines over the time between them. Connection and
subflow events (established, sf_established, sf_closed, ...) are drawn as
vertical markers. Needs Debian's python3-matplotlib (scripts/deps.sh).
Exit status: 0 written, 1 bad input (message on stderr), 2 usage.
"""
import argparse
import json
import sys

MARKED = ("established", "closed", "sf_established", "sf_closed", "announced", "removed",
          "fallback")


def load(path):
    """Returns (series, marks, t0): series[(conn, label)] = [(t, tx, rx)]."""
    series, marks, t0 = {}, [], None
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                ev = json.loads(line)
                t = float(ev["t"])
                kind = ev["ev"]
            except (ValueError, KeyError, TypeError) as e:
                raise SystemExit(f"mptcpext plot: {path}:{lineno}: bad event line ({e})")
            t0 = t if t0 is None else min(t0, t)
            if kind == "sf_bytes":
                label = f"{ev.get('local', '?')} -> {ev.get('remote', '?')}"
                if ev.get("backup"):
                    label += " (backup)"
                key = (ev.get("conn", 0), label)
                series.setdefault(key, []).append((t, int(ev.get("tx", 0)),
                                                   int(ev.get("rx", 0))))
            elif kind in MARKED:
                marks.append((t, kind, ev.get("conn", 0)))
    return series, marks, t0


def rates(points, field):
    """Mbit/s between consecutive samples (counter field 1 = tx, 2 = rx)."""
    xs, ys = [], []
    for (t1, *a), (t2, *b) in zip(points, points[1:]):
        dt = t2 - t1
        if dt <= 0:
            continue
        xs.append(t2)
        ys.append(max(0, b[field - 1] - a[field - 1]) * 8 / dt / 1e6)
    return xs, ys


def main(argv):
    ap = argparse.ArgumentParser(prog="mptcpext plot", description=__doc__.splitlines()[0])
    ap.add_argument("events")
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--conn", type=int, help="only this connection")
    ap.add_argument("--dir", choices=("tx", "rx", "both"), default="both")
    ap.add_argument("--title")
    args = ap.parse_args(argv)
    try:
        series, marks, t0 = load(args.events)
    except (OSError, UnicodeDecodeError) as e:
        print(f"mptcpext plot: {args.events}: {e}", file=sys.stderr)
        return 1
    if args.conn is not None:
        series = {k: v for k, v in series.items() if k[0] == args.conn}
        marks = [m for m in marks if m[2] == args.conn]
    if not series:
        print(f"mptcpext plot: no sf_bytes samples in {args.events} (was mptcpextd started "
              "with --events and events-interval > 0?)", file=sys.stderr)
        return 1

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 5))
    dirs = ("tx", "rx") if args.dir == "both" else (args.dir,)
    plotted = 0
    for (conn, label), pts in sorted(series.items()):
        pts.sort()
        for d in dirs:
            xs, ys = rates(pts, 1 if d == "tx" else 2)
            if not xs or not any(ys):
                continue
            ax.plot([x - t0 for x in xs], ys, label=f"conn {conn} {d} {label}")
            plotted += 1
    for t, kind, conn in marks:
        ax.axvline(t - t0, color="grey", linestyle=":", linewidth=0.8)
        ax.annotate(kind, (t - t0, 0), rotation=90, fontsize=7, color="grey",
                    xytext=(2, 2), textcoords="offset points")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("throughput (Mbit/s)")
    ax.set_title(args.title or f"per-subflow throughput ({args.events})")
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    if plotted:
        ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(args.output, dpi=100)
    print(f"wrote {args.output}: {len(series)} subflow(s), {plotted} curve(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
