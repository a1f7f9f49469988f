"""Cross-check the MPTCP/TCP/IP encoder against an independent dissector.

build/codec_oracle (tests/tools/codec_oracle.c, built by `make`) encodes one
IPv4 or IPv6 TCP segment per RFC 8684 option form with our codec and writes
a pcap plus a JSON-lines file of the field values each packet must carry,
named as tshark names them. tshark dissects the pcap; every expected field
of every packet must match, TCP and IPv4 header checksums must be good, no
packet may be malformed, and tshark may raise no warning or error other than
the few listed in TOLERATED (each with the reason).

    make && /usr/bin/python3 -m pytest -q tests/test_codec_tshark.py
"""
import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ORACLE = ROOT / "build" / "codec_oracle"
TSHARK = shutil.which("tshark")

pytestmark = pytest.mark.skipif(TSHARK is None,
                                reason="tshark is not installed (Debian package tshark)")

SEV_WARN = 0x00600000  # expert severities: chat 0x200000, note 0x400000, warn, error 0x800000
AGG = "|"


def _mpc_ack_with_data(rec):
    f = rec["fields"]
    return f.get("tcp.options.mptcp.subtype") == 0 and "tcp.options.mptcp.datalvllen" in f


# Expert messages at warning level or above that are not about our bytes.
TOLERATED = [
    # A protocol event tshark flags on every RST, not a dissection problem.
    ("Connection reset (RST)", lambda rec: rec["name"].startswith(("mp_tcprst", "mp_fastclose_rst"))),
    # tshark 4.0 counts every NOP option of the header, not NOPs in a row:
    # Linux's own layout (NOP NOP TS, then DSS + NOP NOP) trips it. We check
    # real runs of four NOPs ourselves in test_no_four_nops_in_a_row.
    ("4 NOP in a row - a router may have removed some options", lambda rec: True),
    # Correct: a DSS with Data-Level Length 0 is the infinite mapping (3.7).
    ("Fallback to infinite mapping", lambda rec: rec["name"] == "dss_infinite_map"),
    # MPTCP analysis compares the echoed key with the SYN/ACK of the stream,
    # which this one-packet stream does not have; the key fields themselves
    # are compared below.
    ("The echoed key in the ACK of the MPTCP handshake does not match the key of the SYN/ACK",
     _mpc_ack_with_data),
    # tshark 4.0 still reads MP_CAPABLE's C bit as an RFC 6824 crypto bit;
    # RFC 8684 section 3.1 made it "no more subflows to this address".
    ("Unsupported algorithm",
     lambda rec: rec["fields"].get("tcp.options.mptcp.nomoresubflows.flag") == 1),
]

EXTRA_FIELDS = ["frame.number", "ip.version", "tcp.checksum.status", "ip.checksum.status",
                "_ws.malformed", "_ws.expert.severity", "_ws.expert.message", "tcp.options",
                "tcp.options.mptcp.subtype"]


@pytest.fixture(scope="module")
def dissected(tmp_path_factory):
    if not ORACLE.exists():
        pytest.fail("%s is missing: run `make` first" % ORACLE)
    out = tmp_path_factory.mktemp("oracle")
    pcap, jsonl = out / "codec.pcap", out / "codec.jsonl"
    subprocess.run([str(ORACLE), str(pcap), str(jsonl)], check=True)
    expected = [json.loads(line) for line in jsonl.read_text().splitlines()]
    fields = list(EXTRA_FIELDS)
    for rec in expected:
        for name in rec["fields"]:
            if name not in fields:
                fields.append(name)
    cmd = [TSHARK, "-n", "-r", str(pcap),
           "-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE",
           "-o", "tcp.analyze_sequence_numbers:FALSE",
           "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=" + AGG]
    for name in fields:
        cmd += ["-e", name]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    rows = []
    for line in res.stdout.splitlines():
        cols = line.split("\t")
        assert len(cols) == len(fields), line
        rows.append({f: (c.split(AGG) if c else []) for f, c in zip(fields, cols)})
    return expected, rows


def _as_int(v):
    if v in ("True", "False"):
        return int(v == "True")
    return int(v, 0)


def _same(want, got):
    """Compare one expected value (int or str) with one tshark value."""
    if isinstance(want, bool) or isinstance(want, int):
        return _as_int(got) == int(want)
    # Addresses compare as text; byte strings with or without colons.
    return got.lower() == want.lower() or got.replace(":", "").lower() == want.lower()


def test_field_names_exist(dissected):
    """A misspelt field would only ever compare as missing: name it."""
    out = subprocess.run([TSHARK, "-G", "fields"], capture_output=True, text=True,
                         check=True).stdout
    known = {line.split("\t")[2] for line in out.splitlines() if line.count("\t") >= 2}
    expected, _ = dissected
    used = {name for rec in expected for name in rec["fields"]}
    assert not sorted(used - known), "unknown tshark fields: %s" % sorted(used - known)


def _mptcp_options(opts_hex):
    """The MPTCP options (kind 30) of a TCP option area, as byte strings:
    our own walk over the bytes tshark shows, for what tshark does not
    dissect."""
    raw, i, out = bytes.fromhex(opts_hex), 0, []
    while i < len(raw) and raw[i] != 0:
        if raw[i] == 1:
            i += 1
            continue
        n = raw[i + 1]
        if raw[i] == 30:
            out.append(raw[i:i + n])
        i += n
    return out


def _raw_dss_checksum(row):
    """tshark 4.0 never dissects the DSS checksum field, even after a whole
    MP_CAPABLE handshake with checksums negotiated (checked by hand), so
    read it from the option bytes: it is the last two bytes of a DSS whose
    length is 2 more than its flags need (RFC 8684 section 3.3)."""
    opts = _mptcp_options("".join(row["tcp.options"]).replace(":", ""))
    assert len(opts) == 1 and opts[0][2] >> 4 == 2
    dss, flags = opts[0], opts[0][3]
    need = 4 + ((8 if flags & 2 else 4) if flags & 1 else 0) + \
        ((14 if flags & 8 else 10) if flags & 4 else 0)
    return [str(int.from_bytes(dss[-2:], "big"))] if len(dss) == need + 2 else []


def test_every_packet_and_field_matches(dissected):
    expected, rows = dissected
    assert len(expected) >= 38, "the oracle should cover every RFC 8684 option form"
    assert len(rows) == len(expected)
    mismatches, n_fields, n_raw = [], 0, 0
    for rec in expected:
        row = rows[rec["frame"] - 1]
        assert row["frame.number"] == [str(rec["frame"])]
        assert row["ip.version"] == [str(rec["ip"])], rec["name"]
        assert len(row["tcp.options.mptcp.subtype"]) == 1, rec["name"]
        for name, want in rec["fields"].items():
            got = row.get(name, [])
            if (not got and name == "tcp.options.mptcp.checksum"
                    and rec["fields"]["tcp.options.mptcp.subtype"] == 2):
                got = _raw_dss_checksum(row)
                n_raw += 1
            else:
                n_fields += 1
            wants = want if isinstance(want, list) else [want]
            if len(got) != len(wants) or not all(_same(w, g) for w, g in zip(wants, got)):
                mismatches.append("%s: %s want %r got %r" % (rec["name"], name, want, got))
    print("\ncodec_oracle: %d packets, %d fields compared with tshark's dissection, "
          "%d DSS checksums read from tshark's option bytes" % (len(expected), n_fields, n_raw))
    assert not mismatches, "\n".join(mismatches)
    assert n_fields >= 700 and n_raw <= 4


def test_checksums_good_and_nothing_malformed(dissected):
    expected, rows = dissected
    bad = []
    for rec in expected:
        row = rows[rec["frame"] - 1]
        if row["tcp.checksum.status"] != ["1"]:  # 1 = Good, 0 = Bad, 2 = Unverified
            bad.append("%s: tcp checksum status %s" % (rec["name"], row["tcp.checksum.status"]))
        if rec["ip"] == 4 and row["ip.checksum.status"] != ["1"]:
            bad.append("%s: ip checksum status %s" % (rec["name"], row["ip.checksum.status"]))
        if row["_ws.malformed"]:
            bad.append("%s: malformed" % rec["name"])
    assert not bad, "\n".join(bad)


def test_no_unexpected_expert_warnings(dissected):
    expected, rows = dissected
    bad = []
    for rec in expected:
        row = rows[rec["frame"] - 1]
        for sev, msg in zip(row["_ws.expert.severity"], row["_ws.expert.message"]):
            if int(sev) < SEV_WARN:
                continue
            if not any(msg == m and ok(rec) for m, ok in TOLERATED):
                bad.append("%s: expert %s: %s" % (rec["name"], hex(int(sev)), msg))
    assert not bad, "\n".join(bad)


def test_no_four_nops_in_a_row(dissected):
    """Our layout pads each option group to 4 bytes; four NOPs in a row
    would be a whole wasted word (what tshark's heuristic warns about)."""
    expected, rows = dissected
    for rec in expected:
        opts = "".join(rows[rec["frame"] - 1]["tcp.options"]).replace(":", "")
        assert "01010101" not in [opts[i:i + 8] for i in range(0, len(opts) - 7, 2)], rec["name"]
