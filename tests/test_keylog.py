"""mptcpextd --keylog FILE: the secrets of every connection in a file of
mode 0600, one line per key event, and nowhere else (DESIGN decision 6).

Two engine hosts in the lab (one path), `mptcpext listen` / `connect`
moving a few bytes:
  - policy never (RFC 8684): `MPTCP_KEYS <local token> <local key> <remote
    key>` on both ends, each key the other's remote key, each token the
    SHA-256 of its key (RFC 8684 section 3.1) and the token the engine shows;
  - a pre-shared key (`--psk-file`, E mode): `MPTCP_EXTKEY <local token>
    <remote token> <key>` on both ends, the same key, whose fingerprint is
    the engines' key_fpr;
and in both the file has mode 0600 (an existing 0644 file is tightened),
while the daemon's log and event log hold no key.

    make && /usr/bin/python3 -m pytest -q tests/test_keylog.py
"""
import hashlib
import hmac
import json
import os
import select
import stat
import subprocess

import pytest

from netlab_fixtures import CLI, lab, wait_for  # noqa: F401 (lab is a fixture)

import e2e  # lab/e2e.py

PORT = 7443


@pytest.fixture
def pair(lab, tmp_path):
    made = []

    def make(policy):
        l = lab(paths=1, client="engine", server="engine")
        for side in ("server", "client"):
            log = tmp_path / f"keylog-{side}"
            if side == "client":  # an existing, too open file is tightened
                log.write_text("")
                log.chmod(0o644)
            made.append(e2e.Engine(l, side, tmp_path,
                                   ["--extkey", policy, "--keylog", str(log)]))
        return l, made[1], made[0]

    try:
        yield make
    finally:
        codes = [(e.stop(), e) for e in made]
    for rc, e in codes:
        assert rc == 0, f"mptcpextd ({e.side}) exited {rc}:\n{e.log.read_text()[-3000:]}"


def transfer(l, c, s, extra=()):
    """A few bytes client -> server through `mptcpext connect/listen`;
    returns the engines' views of the connection (client, server)."""
    srv = l.popen("server", [str(CLI), "--socket", s.sock, "listen", str(PORT)] + list(extra),
                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    cli = None
    try:
        e2e.wait_listening(s, PORT, proc=srv)
        cli = l.popen("client", [str(CLI), "--socket", c.sock, "connect", l.addr("server", 1),
                                 str(PORT)] + list(extra),
                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        seen = {}

        def both():
            for e in (c, s):
                got = [x for x in e.conns() if x.get("mptcp")]
                if got:
                    seen[e.side] = got[0]
            return len(seen) == 2 and all(v["key_state"] != "none" for v in seen.values())
        wait_for(both, 15, "the connection in both engines", interval=0.05)
        if any(v["key_state"].startswith("ext-") for v in seen.values()):
            wait_for(lambda: all(x.get("key_fpr") for e in (c, s) for x in e.conns()
                                 if x.get("mptcp")), 15, "the keys", interval=0.05)
            seen = {e.side: [x for x in e.conns() if x.get("mptcp")][0] for e in (c, s)}
        out, err = cli.communicate(b"hello keylog\n", timeout=20)
        assert cli.returncode == 0, err
        got, err = srv.communicate(timeout=20)
        assert got == b"hello keylog\n", err
        return seen["client"], seen["server"]
    finally:
        for p in (cli, srv):
            if p and p.poll() is None:
                p.kill()
                p.wait()


def read_log(path, tag):
    st = os.stat(path)
    assert stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
    lines = [x.split() for x in open(path).read().splitlines()]
    assert lines and all(x[0] in ("MPTCP_KEYS", "MPTCP_EXTKEY") for x in lines), lines
    return [x[1:] for x in lines if x[0] == tag]


def no_secret_in(engines, secrets):
    for e in engines:
        for f in (e.log, e.events):
            text = f.read_text(errors="replace").lower() if f.exists() else ""
            for sec in secrets:
                assert sec not in text, f"{f} contains a key"


def token_of(key_hex):
    return hashlib.sha256(bytes.fromhex(key_hex)).hexdigest()[:8]


def test_keylog_rfc8684_keys(pair, tmp_path):
    l, c, s = pair("never")
    cc, sc = transfer(l, c, s)
    assert cc["key_state"] == "rfc8684", cc
    (ct, ck, cr), = read_log(tmp_path / "keylog-client", "MPTCP_KEYS")
    (st, sk, sr), = read_log(tmp_path / "keylog-server", "MPTCP_KEYS")
    assert (ck, cr) == (sr, sk), "the two ends disagree on the keys"
    assert (ct, st) == (token_of(ck), token_of(sk)) == (cc["token"], sc["token"])
    no_secret_in((c, s), [ck, sk])


def test_keylog_external_key(pair, tmp_path):
    psk = tmp_path / "psk"
    psk.write_text(os.urandom(32).hex() + "\n")
    psk.chmod(0o600)
    l, c, s = pair("prefer")
    cc, sc = transfer(l, c, s, ["--psk-file", str(psk)])
    assert cc["key_state"].startswith("ext-") and sc["key_state"].startswith("ext-"), (cc, sc)
    (ct, crt, ckey), = read_log(tmp_path / "keylog-client", "MPTCP_EXTKEY")
    (st, srt, skey), = read_log(tmp_path / "keylog-server", "MPTCP_EXTKEY")
    assert ckey == skey and len(ckey) == 64
    assert (ct, crt) == (srt, st) == (cc["token"], sc["token"])
    assert hashlib.sha256(bytes.fromhex(ckey)).hexdigest()[:16] == cc["key_fpr"] == sc["key_fpr"]
    assert not read_log(tmp_path / "keylog-client", "MPTCP_KEYS")  # E mode: no 64-bit keys
    no_secret_in((c, s), [ckey, psk.read_text().strip()])
    assert json.dumps(cc).find(ckey) < 0


def hkdf_expand_32(prk_hex, info):
    """HKDF-Expand-SHA256 with L = 32 (RFC 5869 section 2.3: T(1) only)."""
    return hmac.new(bytes.fromhex(prk_hex), info + b"\x01", hashlib.sha256).hexdigest()


def test_keylog_rotate(pair, tmp_path):
    """`mptcpext rotate ID` on a live E-mode connection (PSK): the end that
    rotates logs key n+1 = HKDF-Expand(key n, "mptcpext rotate") at once;
    the peer only holds the NEW_KEY until its own rotation (rotation is per
    end, docs/external-keys.md), after which both ends' new lines agree,
    NEW_KEY is confirmed (generation 1, same fingerprint), the data after
    the rotation arrives intact and no key is in the logs."""
    psk = tmp_path / "psk"
    psk.write_text(os.urandom(32).hex() + "\n")
    psk.chmod(0o600)
    l, c, s = pair("prefer")
    extra = ["--psk-file", str(psk)]
    srv = l.popen("server", [str(CLI), "--socket", s.sock, "listen", str(PORT)] + extra,
                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    cli = None
    try:
        e2e.wait_listening(s, PORT, proc=srv)
        cli = l.popen("client", [str(CLI), "--socket", c.sock, "connect", l.addr("server", 1),
                                 str(PORT)] + extra,
                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

        def conn(e):
            got = [x for x in e.conns() if x.get("mptcp") and not x.get("listen")]
            return got[0] if got else {}
        wait_for(lambda: all(conn(e).get("key_state") == "ext-active" for e in (c, s)), 15,
                 "the external key active on both ends", interval=0.05)
        cc, sc = conn(c), conn(s)
        assert cc["key_gen"] == sc["key_gen"] == 0 and cc["key_fpr"] == sc["key_fpr"], (cc, sc)
        cli.stdin.write(b"before\n")
        cli.stdin.flush()
        r, _, _ = select.select([srv.stdout], [], [], 20)
        assert r and srv.stdout.readline() == b"before\n"
        clog, slog = tmp_path / "keylog-client", tmp_path / "keylog-server"
        (old,) = [k for _, _, k in read_log(clog, "MPTCP_EXTKEY")]

        p = c.cli("--json", "rotate", str(cc["conn"]))
        assert json.loads(p.stdout) == {"conn": cc["conn"], "rotated": True}, p.stdout
        wait_for(lambda: len(read_log(clog, "MPTCP_EXTKEY")) == 2, 10, "the client's new key")
        assert len(read_log(slog, "MPTCP_EXTKEY")) == 1, "the peer rotated on its own"
        assert "key rotation started" in s.cli("rotate", str(sc["conn"])).stdout
        wait_for(lambda: len(read_log(slog, "MPTCP_EXTKEY")) == 2, 10, "the server's new key")
        (ct, crt, cnew), (st, srt, snew) = (read_log(clog, "MPTCP_EXTKEY")[1],
                                            read_log(slog, "MPTCP_EXTKEY")[1])
        assert cnew == snew != old, "the two ends' new keys differ (or equal the old one)"
        assert cnew == hkdf_expand_32(old, b"mptcpext rotate")
        assert (ct, crt) == (srt, st) == (cc["token"], sc["token"])
        fpr = hashlib.sha256(bytes.fromhex(cnew)).hexdigest()[:16]
        # Both ends idle: the server's own NEW_KEY (its key n+1 was confirmed
        # at once by the client's held NEW_KEY) must still go out, on a pure
        # ACK (mpx_ek_timer), not wait for data of its own.
        last = {}

        def confirmed():
            for e in (c, s):
                last[e.side] = {k: conn(e).get(k) for k in ("key_gen", "key_fpr", "key_state")}
            return all(v == {"key_gen": 1, "key_fpr": fpr, "key_state": "ext-active"}
                       for v in last.values())
        try:
            wait_for(confirmed, 15, "generation 1 confirmed on both ends", interval=0.05)
        except Exception:
            keys = [{k: v for k, v in e.counters().items() if "Key" in k} for e in (c, s)]
            raise AssertionError(f"want generation 1 {fpr}: {last} {keys}")
        # the connection stays up: data both ways after the rotation
        srv.stdin.write(b"pong\n")
        srv.stdin.flush()
        r, _, _ = select.select([cli.stdout], [], [], 20)
        assert r and cli.stdout.readline() == b"pong\n"
        srv.stdin.close()  # the server half-closes; the client still sends
        srv.stdin = None
        after = os.urandom(48 * 1024).hex().encode() + b"\n"
        cli.stdin.write(after)
        cli.stdin.close()
        cli.wait(timeout=30)
        err = cli.stderr.read()
        assert cli.returncode == 0, err
        got, err = srv.communicate(timeout=30)
        assert got == after, f"{len(got)} bytes of {len(after)}: {err}"
        kc, ks = c.counters(), s.counters()
        assert kc.get("MPTcpExtMPExtKeyRotated") == ks.get("MPTcpExtMPExtKeyRotated") == 1, (kc, ks)
        assert s.cli("rotate", "999999").returncode == 1  # no such connection
        no_secret_in((c, s), [old, cnew, psk.read_text().strip()])
    finally:
        for p in (cli, srv):
            if p and p.poll() is None:
                p.kill()
                p.wait()
