/*
 * tun_probe - drive userstack/io/tun.c against the real kernel, for
 * tests/test_tun.py (root, inside a network namespace the test created).
 *
 * It creates TUN mpxtest0 (kernel side 10.99.0.1/24 and fd99::1/64; the
 * "engine" is 10.99.0.2 / fd99::2, on no kernel interface) and then:
 *
 *   tun_probe syn4|syn6 PORT [--mptcp] [--attach]
 *       writes a SYN built by our codec (mpx_pkt_encode) to a kernel
 *       listener on 10.99.0.1/fd99::1 PORT, reads the SYN/ACK back through
 *       the ring, decodes it (mpx_pkt_decode, checksums verified), checks
 *       flags, ack number and options (MSS, SACK_PERM, TS echo, WS; with
 *       --mptcp an MP_CAPABLE SYN v1 flags H and a 12-byte MP_CAPABLE
 *       SYN/ACK with a key), then sends an RST. Prints one JSON line.
 *       --attach: mpxtest0 already exists (persistent); attach to it.
 *       --no-rst: leave the half-open connection (to check the checker).
 *
 *   tun_probe recv4|recv6 PORT --count BYTES [--tso]
 *       a minimal TCP receiver on 10.99.0.2/fd99::2 PORT: prints a "ready"
 *       line, then takes one connection from a kernel TCP client (started
 *       by the test) and BYTES of data (byte k = k % 251), ACKing every
 *       segment, until the client closes. With --tso (vnet header and
 *       offloads) the kernel's TSO reaches us as GRO-sized reads with
 *       partial checksums, which are completed and verified.
 *
 *   tun_probe errors
 *       with a persistent mpxtest0 present: open/attach error codes, a
 *       kernel-named device, offload switching. One JSON line per case.
 *
 *   tun_probe flood4|flood6 [--count N] [--size BYTES] [--window W]
 *                           [--tso|--tso-split] [--no-fixed] [--nonblock] [--plain-ring]
 *                           [--no-verify]   (checksums not checked: benchmarks)
 *                           [--rx N]        (reads in flight, default: tun.c's)
 *                           [--buf B]       (receive buffer bytes, default: tun.c's)
 *                           [--rw]          (baseline: read()/write()/poll(), no
 *                                            io_uring, not our TUN code)
 *       writes N TCP packets of BYTES (IP length) from .2 to .3, which the
 *       kernel (forwarding on) routes straight back into the TUN; every
 *       packet read back must decode with good checksums, TTL/hop limit
 *       one less, a sequence number never seen before. --tso opens the TUN
 *       with IFF_VNET_HDR and TSO offloads and writes 64 KB super-segments
 *       (gso_size: the MSS of a 1500-byte MTU), read back as such (GSO
 *       forwarded whole). --tso-split: the same writes but no offloads
 *       towards us, so the kernel must segment them (software GSO) and we
 *       read and verify every 1500-byte piece: the check that our TSO
 *       headers and partial checksums are right. Prints one JSON line.
 *       Packet i carries seq i * payload, so pieces map back to packets.
 *
 * Exit status: 0 when every check passed, 1 when one failed, 2 on setup
 * errors. Traffic never leaves the namespace: all addresses are on the TUN.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conv.h"
#include "err.h"
#include "tun.h"
#include "uring_loop.h"
#include "vnet.h"
#include "seq.h"
#include "wire_tcp.h"

#define TUN_NAME "mpxtest0"
#define TS_VAL   0x01020304u
#define OUR_ISS  0x11223344u
/* Packets written and not yet read back. Below the TUN's txqueuelen (500),
 * so the kernel never drops one for a full queue while we catch up. */
#define DEF_WINDOW 400

struct in6_ifreq_compat { /* linux/ipv6.h struct in6_ifreq, which clashes with netinet/in.h */
    struct in6_addr addr;
    uint32_t prefixlen;
    int ifindex;
};

struct opts {
    int v6;
    int mptcp;
    unsigned port;
    unsigned count, size, window, n_rx, buf;
    int tso, split, no_fixed, no_mshot, nonblock, plain_ring, no_verify, rw, attach, no_rst;
};

static int fail(const char *what, int err)
{
    fprintf(stderr, "tun_probe: %s: %s\n", what, strerror(err < 0 ? -err : err));
    return 2;
}

static int set_addr4(const char *ifname)
{
    struct ifreq ifr;
    struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
    int s = socket(AF_INET, SOCK_DGRAM, 0), ret = 0;
    if (s < 0)
        return -errno;
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname);
    sin->sin_family = AF_INET;
    inet_pton(AF_INET, "10.99.0.1", &sin->sin_addr);
    if (ioctl(s, SIOCSIFADDR, &ifr) < 0)
        ret = -errno;
    inet_pton(AF_INET, "255.255.255.0", &sin->sin_addr);
    if (!ret && ioctl(s, SIOCSIFNETMASK, &ifr) < 0)
        ret = -errno;
    close(s);
    return ret;
}

/* A longer queue towards us than the default 500 packets: --tso-split
 * turns each window entry into ~45 packets. */
static int set_txqlen(const char *ifname)
{
    struct ifreq ifr;
    int s = socket(AF_INET, SOCK_DGRAM, 0), ret = 0;
    if (s < 0)
        return -errno;
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname);
    ifr.ifr_qlen = 8192;
    if (ioctl(s, SIOCSIFTXQLEN, &ifr) < 0)
        ret = -errno;
    close(s);
    return ret;
}

static int set_addr6(int ifindex)
{
    struct in6_ifreq_compat r;
    int s = socket(AF_INET6, SOCK_DGRAM, 0), ret = 0;
    if (s < 0)
        return -errno;
    memset(&r, 0, sizeof(r));
    inet_pton(AF_INET6, "fd99::1", &r.addr);
    r.prefixlen = 64;
    r.ifindex = ifindex;
    if (ioctl(s, SIOCSIFADDR, &r) < 0)
        ret = -errno;
    close(s);
    return ret;
}

static void addrs(int v6, struct mpx_addr *eng, struct mpx_addr *kern, struct mpx_addr *loop)
{
    if (!v6) {
        *eng = mpx_addr_v4(0x0a630002);  /* 10.99.0.2 */
        *kern = mpx_addr_v4(0x0a630001); /* 10.99.0.1 */
        *loop = mpx_addr_v4(0x0a630003); /* 10.99.0.3: forwarded back to us */
        return;
    }
    memset(eng, 0, sizeof(*eng));
    eng->family = MPX_AF_INET6;
    inet_pton(AF_INET6, "fd99::2", eng->a);
    *kern = *loop = *eng;
    inet_pton(AF_INET6, "fd99::1", kern->a);
    inet_pton(AF_INET6, "fd99::3", loop->a);
}

static void ip_hdr(struct mpx_ip_hdr *ip, const struct mpx_addr *src, const struct mpx_addr *dst)
{
    memset(ip, 0, sizeof(*ip));
    ip->version = src->family == MPX_AF_INET6 ? 6 : 4;
    ip->ttl = 64;
    ip->df = true;
    ip->proto = MPX_IPPROTO_TCP;
    ip->src = *src;
    ip->dst = *dst;
}

static int open_tun(struct mpx_uloop *l, struct mpx_tun **t, const struct opts *o)
{
    struct mpx_uloop_opts lo = {.sq_entries = 512, .cq_entries = 4096};
    if (o->plain_ring)
        lo.flags |= MPX_ULOOP_F_NO_SINGLE_ISSUER;
    int ret = mpx_uloop_init(l, &lo);
    if (ret < 0)
        return fail("io_uring setup", ret);
    struct mpx_tun_opts to = {.name = TUN_NAME, .flags = MPX_TUN_F_UP, .mtu = 1500};
    to.n_rx = o->n_rx; /* 0: the library's default */
    to.buf_size = o->buf;
    to.n_tx = o->window ? o->window : DEF_WINDOW;
    if (o->tso) {
        to.flags |= MPX_TUN_F_VNET_HDR;
        /* --tso-split: no offloads towards us, so the kernel must cut our
         * super-segments itself (software GSO) and checksum every piece. */
        to.offload = o->split ? 0 : MPX_TUN_OFF_CSUM | MPX_TUN_OFF_TSO4 | MPX_TUN_OFF_TSO6;
    }
    if (o->no_fixed)
        to.flags |= MPX_TUN_F_NO_FIXED;
    if (o->no_mshot)
        to.flags |= MPX_TUN_F_NO_MSHOT;
    if (o->nonblock)
        to.flags |= MPX_TUN_F_NONBLOCK;
    if (o->attach)
        to.flags |= MPX_TUN_F_ATTACH;
    if ((ret = mpx_tun_open(t, l, &to)) < 0)
        return fail("mpx_tun_open", ret);
    if ((ret = set_txqlen(mpx_tun_name(*t))) < 0)
        return fail("txqueuelen", ret);
    if ((ret = set_addr4(mpx_tun_name(*t))) < 0)
        return fail("IPv4 address", ret);
    if ((ret = set_addr6(mpx_tun_ifindex(*t))) < 0)
        return fail("IPv6 address", ret);
    return 0;
}

/* --- SYN / SYN-ACK against a kernel listener -------------------------- */

static int send_seg(struct mpx_tun *t, const struct mpx_ip_hdr *ip, const struct mpx_tcp_hdr *th)
{
    uint8_t pkt[256];
    int n = mpx_pkt_encode(pkt, sizeof(pkt), ip, th, NULL, 0, NULL);
    if (n < 0)
        return n;
    return mpx_tun_write(t, pkt, (size_t)n, NULL);
}

/* Wait up to |ms| for a TCP segment from the listener to our port. */
static int wait_reply(struct mpx_uloop *l, struct mpx_tun *t, const struct opts *o, uint16_t sport,
                      struct mpx_pkt *out, uint8_t *copy, unsigned *skipped, unsigned ms)
{
    uint64_t end = mpx_uloop_now_ns() + ms * 1000000ull;
    struct mpx_tun_pkt p;
    while (mpx_uloop_now_ns() < end) {
        int ret = mpx_uloop_run(l, 100 * 1000 * 1000);
        if (ret < 0)
            return ret;
        while (mpx_tun_rx_next(t, &p) == 1) {
            size_t n = p.len < 2048 ? p.len : 2048;
            memcpy(copy, p.data, n);
            mpx_tun_rx_release(t, p.id);
            /* The kernel also sends IPv6 router solicitations, MLD etc. */
            int dr = mpx_pkt_decode(copy, n, true, out);
            if (dr == 0 && out->tcp.sport == o->port && out->tcp.dport == sport)
                return 0;
            (*skipped)++;
            fprintf(stderr, "tun_probe: skipped a %zu-byte packet (IPv%u, next header %u): %d\n", n,
                    (unsigned)(copy[0] >> 4), (unsigned)((copy[0] >> 4) == 6 ? copy[6] : copy[9]),
                    dr);
        }
    }
    return -ETIMEDOUT;
}

static void syn_hdr(struct mpx_tcp_hdr *th, const struct opts *o, uint16_t sport)
{
    memset(th, 0, sizeof(*th));
    th->sport = sport;
    th->dport = (uint16_t)o->port;
    th->seq = OUR_ISS;
    th->flags = MPX_TH_SYN;
    th->win = 64240;
    th->opts.present = MPX_TCPO_MSS | MPX_TCPO_SACK_PERM | MPX_TCPO_TS | MPX_TCPO_WSCALE;
    th->opts.mss = o->v6 ? 1440 : 1460;
    th->opts.wscale = 7;
    th->opts.ts_val = TS_VAL;
    if (o->mptcp) {
        /* RFC 8684 3.1: MP_CAPABLE SYN, version 1, flag H (HMAC-SHA256). */
        th->opts.n_mptcp = 1;
        th->opts.mptcp[0].subtype = MPX_MPTCP_SUB_CAPABLE;
        th->opts.mptcp[0].u.mpc.form = MPX_FORM_SYN;
        th->opts.mptcp[0].u.mpc.version = MPX_MPC_VERSION;
        th->opts.mptcp[0].u.mpc.flags = MPX_MPC_F_H;
    }
}

/* Length byte of the first MPTCP option of the segment, 0 if none. */
static unsigned mptcp_opt_len(const uint8_t *tcp)
{
    size_t doff = (size_t)(tcp[12] >> 4) * 4;
    for (size_t i = 20; i + 1 < doff;) {
        if (tcp[i] == MPX_TCPOPT_EOL)
            break;
        if (tcp[i] == MPX_TCPOPT_NOP) {
            i++;
            continue;
        }
        if (tcp[i] == MPX_TCPOPT_MPTCP)
            return tcp[i + 1];
        if (tcp[i + 1] < 2)
            break;
        i += tcp[i + 1];
    }
    return 0;
}

static int check_synack(const struct mpx_pkt *r, const uint8_t *raw, const struct opts *o,
                        char *why, size_t whylen)
{
    const struct mpx_tcp_opts *op = &r->tcp.opts;
    const char *bad = NULL;
    if (r->tcp.flags != (MPX_TH_SYN | MPX_TH_ACK))
        bad = "flags are not SYN|ACK";
    else if (r->tcp.ack != OUR_ISS + 1)
        bad = "ack is not ISS+1";
    else if (!(op->present & MPX_TCPO_MSS) || op->mss != (o->v6 ? 1440 : 1460))
        bad = "MSS missing or not MTU-derived";
    else if (!(op->present & MPX_TCPO_SACK_PERM))
        bad = "SACK_PERM missing";
    else if (!(op->present & MPX_TCPO_TS) || op->ts_ecr != TS_VAL)
        bad = "TS missing or TSecr is not our TSval";
    else if (!(op->present & MPX_TCPO_WSCALE))
        bad = "WS missing";
    else if (o->mptcp && (op->n_mptcp != 1 || op->mptcp[0].subtype != MPX_MPTCP_SUB_CAPABLE ||
                          op->mptcp[0].u.mpc.form != MPX_FORM_SYNACK ||
                          op->mptcp[0].u.mpc.version != 1 || op->mptcp[0].u.mpc.snd_key == 0 ||
                          mptcp_opt_len(raw + r->ip.hdr_len) != MPX_TCPOLEN_MPC_SYNACK))
        bad = "no 12-byte MP_CAPABLE v1 SYN/ACK with a key";
    else if (!o->mptcp && op->n_mptcp != 0)
        bad = "MPTCP option from a TCP listener";
    snprintf(why, whylen, "%s", bad ? bad : "");
    return bad ? 1 : 0;
}

static int run_syn(const struct opts *o)
{
    struct mpx_uloop l;
    struct mpx_tun *t = NULL;
    struct mpx_addr eng, kern, lp;
    struct mpx_ip_hdr ip;
    struct mpx_tcp_hdr th;
    struct mpx_pkt r;
    uint8_t raw[2048];
    char why[128];
    unsigned skipped = 0;
    uint16_t sport = (uint16_t)(40000 + (getpid() % 20000));

    int ret = open_tun(&l, &t, o);
    if (ret)
        return ret;
    addrs(o->v6, &eng, &kern, &lp);
    ip_hdr(&ip, &eng, &kern);
    syn_hdr(&th, o, sport);
    /* Retransmit like TCP would: an IPv6 address added by ioctl becomes
     * local only when the DAD work item runs, shortly after the ioctl
     * returns; until then the kernel forwards a SYN for it back to us. */
    ret = -ETIMEDOUT;
    for (int i = 0; i < 12 && ret == -ETIMEDOUT; i++) {
        int w = send_seg(t, &ip, &th);
        if (w < 0)
            return fail("write SYN", w);
        ret = wait_reply(&l, t, o, sport, &r, raw, &skipped, 250);
    }
    if (ret < 0) {
        printf("{\"ok\": false, \"why\": \"no SYN/ACK: %s\", \"skipped\": %u}\n", strerror(-ret),
               skipped);
        return 1;
    }
    int bad = check_synack(&r, raw, o, why, sizeof(why));
    const struct mpx_tcp_opts *op = &r.tcp.opts;
    printf("{\"ok\": %s, \"why\": \"%s\", \"flags\": %u, \"ack_ok\": %s, \"mss\": %u, "
           "\"sack_perm\": %s, \"ts_ecr\": %u, \"wscale\": %u, \"n_mptcp\": %u, "
           "\"mpc_len\": %u, \"mpc_version\": %u, \"mpc_flags\": %u, \"mpc_key\": \"%016llx\", "
           "\"skipped\": %u}\n",
           bad ? "false" : "true", why, (unsigned)r.tcp.flags,
           r.tcp.ack == OUR_ISS + 1 ? "true" : "false", (unsigned)op->mss,
           (op->present & MPX_TCPO_SACK_PERM) ? "true" : "false", op->ts_ecr, (unsigned)op->wscale,
           (unsigned)op->n_mptcp, mptcp_opt_len(raw + r.ip.hdr_len),
           (unsigned)(op->n_mptcp ? op->mptcp[0].u.mpc.version : 0),
           (unsigned)(op->n_mptcp ? op->mptcp[0].u.mpc.flags : 0),
           (unsigned long long)(op->n_mptcp ? op->mptcp[0].u.mpc.snd_key : 0), skipped);

    /* RST at ISS+1 (RFC 9293 3.10.7.3) so the listener drops its request. */
    memset(&th, 0, sizeof(th));
    th.sport = sport;
    th.dport = (uint16_t)o->port;
    th.seq = OUR_ISS + 1;
    th.flags = MPX_TH_RST;
    if (!o->no_rst && (ret = send_seg(t, &ip, &th)) < 0)
        return fail("write RST", ret);
    /* Submit the RST and see it written before the TUN goes away. */
    for (int i = 0; i < 100 && mpx_tun_tx_avail(t) < DEF_WINDOW; i++)
        mpx_uloop_run(&l, 10 * 1000 * 1000);
    if (mpx_tun_stats(t)->tx_err != 0)
        bad = fail("write RST", mpx_tun_stats(t)->last_err);
    mpx_tun_close(t);
    mpx_uloop_free(&l);
    return bad;
}

/* --- flood: write -> kernel forward -> read ----------------------------- */

struct flood {
    const struct opts *o;
    uint32_t plen;       /* TCP payload bytes per packet written */
    uint32_t *got_bytes; /* per packet written: payload bytes read back */
    uint8_t *filled;     /* per transmit buffer: template copied */
    unsigned got, bad, dup;
    int first_bad;
    uint64_t bytes, rx_pkts, rx_gso;
    unsigned ttl;
};

/* Packet i carries sequence number i * plen: a byte stream, so segments
 * cut by the kernel (--tso-split) map back to the packet they came from. */
static uint32_t flood_plen(const struct opts *o)
{
    return o->size - (o->v6 ? 60 : 40);
}

/* RFC 1624 eqn. 3: update checksum |c| for a 16-bit word |old| -> |new|. */
static uint16_t csum_update16(uint16_t c, uint16_t old, uint16_t new_)
{
    uint32_t s = (uint16_t)~c + (uint16_t)~old + (uint32_t)new_;
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

static void on_flood_pkt(void *arg, struct mpx_tun_pkt *p)
{
    struct flood *f = arg;
    struct mpx_pkt r;
    int ret = 0;
    bool verify = !f->o->no_verify;
    if (f->o->tso && verify)
        ret = mpx_vnet_csum_complete(p->data, p->len, &p->vnet);
    if (ret == 0)
        ret = mpx_pkt_decode(p->data, p->len, verify, &r);
    if (ret < 0 || r.ip.ttl != f->ttl) { // cppcheck-suppress uninitvar
        /* Stray kernel packets (IPv6 RS/MLD) are not ours: only TCP counts. */
        if (ret != MPX_ERR_UNSUPP && ret != MPX_ERR_PROTO) {
            f->bad++;
            if (!f->first_bad)
                f->first_bad = ret ? ret : -1;
        }
        return;
    }
    uint32_t idx = r.tcp.seq / f->plen, off = r.tcp.seq % f->plen;
    if (idx >= f->o->count || off + r.payload_len > f->plen) {
        f->bad++;
        return;
    }
    f->rx_pkts++;
    f->rx_gso += p->vnet.gso_type != MPX_VNET_GSO_NONE;
    f->bytes += p->len;
    f->got_bytes[idx] += (uint32_t)r.payload_len;
    if (f->got_bytes[idx] > f->plen)
        f->dup++;
    else if (f->got_bytes[idx] == f->plen)
        f->got++;
}

/* One template packet; each copy gets seq = index (checksum patched). */
static int make_template(const struct opts *o, uint8_t *pkt, size_t cap, size_t *len,
                         struct mpx_vnet_hdr *vh)
{
    struct mpx_addr eng, kern, lp;
    struct mpx_ip_hdr ip;
    struct mpx_tcp_hdr th;
    size_t plen = flood_plen(o);
    uint8_t *payload = malloc(plen);
    if (!payload)
        return -ENOMEM;
    for (size_t i = 0; i < plen; i++)
        payload[i] = (uint8_t)(i * 7 + 1);
    addrs(o->v6, &eng, &kern, &lp);
    ip_hdr(&ip, &eng, &lp);
    memset(&th, 0, sizeof(th));
    th.sport = 5001;
    th.dport = 5002;
    th.flags = MPX_TH_ACK;
    th.ack = 1;
    th.win = 65535;
    int n = mpx_pkt_encode(pkt, cap, &ip, &th, payload, plen, NULL);
    free(payload);
    if (n < 0)
        return n;
    *len = (size_t)n;
    memset(vh, 0, sizeof(*vh));
    if (o->tso)
        return mpx_vnet_tso_prepare(pkt, *len, o->v6 ? 1440 : 1460, vh); /* MTU 1500 */
    return 0;
}

static void patch_seq(uint8_t *tcp, uint32_t seq)
{
    uint16_t c = mpx_load_be16(tcp + 16);
    c = csum_update16(c, mpx_load_be16(tcp + 4), (uint16_t)(seq >> 16));
    c = csum_update16(c, mpx_load_be16(tcp + 6), (uint16_t)seq);
    mpx_put_be32(tcp + 4, seq);
    mpx_put_be16(tcp + 16, c);
}

static int flood_loop(struct mpx_uloop *l, struct mpx_tun *t, struct flood *f, const uint8_t *tpl,
                      size_t len, const struct mpx_vnet_hdr *vh, unsigned *sent)
{
    const struct opts *o = f->o;
    size_t iphl = o->v6 ? 40 : 20;
    unsigned window = o->window ? o->window : DEF_WINDOW;
    uint64_t last_progress = mpx_uloop_now_ns();
    while (f->got < o->count) {
        while (*sent < o->count && *sent - f->got - f->dup < window) {
            uint32_t id;
            uint8_t *b = mpx_tun_tx_buf(t, &id, NULL);
            if (!b)
                break;
            /* Each buffer gets the template once; later only its seq (and
             * checksum, from the seq it held before) changes. */
            if (!f->filled[id]) {
                memcpy(b, tpl, len);
                f->filled[id] = 1;
            }
            /* With TSO the checksum field holds only the pseudo-header sum
             * and the kernel sums the rest: just write the seq. */
            if (o->tso)
                mpx_put_be32(b + iphl + 4, *sent * f->plen);
            else
                patch_seq(b + iphl, *sent * f->plen);
            if (mpx_tun_tx_send(t, id, len, vh) < 0) {
                mpx_tun_tx_cancel(t, id);
                break;
            }
            (*sent)++;
        }
        int ret = mpx_uloop_run(l, 100 * 1000 * 1000);
        if (ret < 0)
            return ret;
        unsigned before = f->got;
        mpx_tun_poll(t, on_flood_pkt, f, 0);
        uint64_t now = mpx_uloop_now_ns();
        if (f->got != before)
            last_progress = now;
        else if (now - last_progress > 1000000000ull)
            break; /* lost packets: stop after 1 s without progress */
    }
    return 0;
}

static int run_flood(const struct opts *o)
{
    struct mpx_uloop l;
    struct mpx_tun *t = NULL;
    struct mpx_vnet_hdr vh;
    size_t len;
    unsigned sent = 0;
    struct flood f = {.o = o, .ttl = 63, .plen = flood_plen(o)};

    int ret = open_tun(&l, &t, o);
    if (ret)
        return ret;
    uint8_t *tpl = malloc(o->size);
    f.got_bytes = calloc(o->count, sizeof(uint32_t));
    f.filled = calloc(65536, 1);
    if (!tpl || !f.got_bytes || !f.filled)
        return fail("malloc", ENOMEM);
    if ((ret = make_template(o, tpl, o->size, &len, &vh)) < 0)
        return fail("template packet", ret);
    /* Let the interface settle (IPv6 RS/MLD bursts) before timing. */
    usleep(200 * 1000);
    mpx_uloop_run(&l, 0);
    mpx_tun_poll(t, on_flood_pkt, &f, 0);
    f.bad = 0;
    f.first_bad = 0;

    uint64_t t0 = mpx_uloop_now_ns();
    if ((ret = flood_loop(&l, t, &f, tpl, len, o->tso ? &vh : NULL, &sent)) < 0)
        return fail("loop", ret);
    double secs = (double)(mpx_uloop_now_ns() - t0) / 1e9;
    const struct mpx_tun_stats *st = mpx_tun_stats(t);
    int ok = f.got == o->count && f.bad == 0 && f.dup == 0;
    printf("{\"ok\": %s, \"sent\": %u, \"recv\": %u, \"bad\": %u, \"first_bad\": %d, "
           "\"dup\": %u, \"rx_pkts\": %llu, \"rx_gso\": %llu, \"secs\": %.3f, \"pps\": %.0f, "
           "\"gbps\": %.3f, \"tx_err\": %llu, "
           "\"rx_err\": %llu, \"rx_again\": %llu, \"rx_trunc\": %llu, \"last_err\": %d, \"fixed\": "
           "%s, "
           "\"ring_flags\": %u, \"enters\": %llu}\n",
           ok ? "true" : "false", sent, f.got, f.bad, f.first_bad, f.dup,
           (unsigned long long)f.rx_pkts, (unsigned long long)f.rx_gso, secs, f.rx_pkts / secs,
           (double)f.bytes * 8 / secs / 1e9, (unsigned long long)st->tx_err,
           (unsigned long long)st->rx_err, (unsigned long long)st->rx_again,
           (unsigned long long)st->rx_trunc, st->last_err, o->no_fixed ? "false" : "true",
           l.setup_flags, (unsigned long long)l.st.enters);
    mpx_tun_close(t);
    mpx_uloop_free(&l);
    free(tpl);
    free(f.got_bytes);
    free(f.filled);
    return ok ? 0 : 1;
}

/* --- baseline: the same flood with read()/write(), no io_uring ---------- */

static int open_raw_tun(const struct opts *o)
{
    struct ifreq ifr;
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return -errno;
    memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (o->tso ? IFF_VNET_HDR : 0);
    snprintf(ifr.ifr_name, IFNAMSIZ, "%s", TUN_NAME);
    int sz = MPX_VNET_HDR_LEN;
    unsigned long off = o->split ? 0 : TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
    if (ioctl(fd, TUNSETIFF, &ifr) < 0 ||
        (o->tso && (ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0 || ioctl(fd, TUNSETOFFLOAD, off) < 0))) {
        int e = -errno;
        close(fd);
        return e;
    }
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
        return -errno;
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
        return -errno;
    close(s);
    return fd;
}

/* Write up to the window, read until EAGAIN, poll when idle. */
static int rw_loop(int fd, struct flood *f, uint8_t *tx, size_t txlen, unsigned hdr, unsigned *sent)
{
    const struct opts *o = f->o;
    size_t iphl = o->v6 ? 40 : 20;
    unsigned window = o->window ? o->window : DEF_WINDOW;
    uint8_t *rx = malloc(65536 + MPX_VNET_HDR_LEN);
    uint64_t last_progress = mpx_uloop_now_ns();
    if (!rx)
        return -ENOMEM;
    while (f->got < o->count) {
        while (*sent < o->count && *sent - f->got - f->dup < window) {
            if (o->tso)
                mpx_put_be32(tx + hdr + iphl + 4, *sent * f->plen);
            else
                patch_seq(tx + hdr + iphl, *sent * f->plen);
            if (write(fd, tx, txlen) < 0)
                break; /* EAGAIN (or an error the count check reports) */
            (*sent)++;
        }
        unsigned before = f->got;
        ssize_t n;
        while ((n = read(fd, rx, 65536 + hdr)) >= (ssize_t)hdr) {
            struct mpx_tun_pkt p = {.data = rx + hdr, .len = (size_t)n - hdr};
            if (hdr)
                mpx_vnet_hdr_decode(rx, &p.vnet);
            on_flood_pkt(f, &p);
        }
        uint64_t now = mpx_uloop_now_ns();
        if (f->got != before) {
            last_progress = now;
        } else if (now - last_progress > 1000000000ull) {
            break;
        } else {
            struct pollfd pfd = {.fd = fd, .events = POLLIN};
            poll(&pfd, 1, 100);
        }
    }
    free(rx);
    return 0;
}

static int run_flood_rw(const struct opts *o)
{
    struct flood f = {.o = o, .ttl = 63, .plen = flood_plen(o)};
    struct mpx_vnet_hdr vh;
    size_t len;
    unsigned sent = 0, hdr = o->tso ? MPX_VNET_HDR_LEN : 0;
    int fd = open_raw_tun(o), ret;
    if (fd < 0)
        return fail("open TUN", fd);
    if ((ret = set_txqlen(TUN_NAME)) < 0 || (ret = set_addr4(TUN_NAME)) < 0 ||
        (ret = set_addr6((int)if_nametoindex(TUN_NAME))) < 0)
        return fail("addresses", ret);
    uint8_t *tx = malloc(hdr + o->size);
    f.got_bytes = calloc(o->count, sizeof(uint32_t));
    if (!tx || !f.got_bytes)
        return fail("malloc", ENOMEM);
    if ((ret = make_template(o, tx + hdr, o->size, &len, &vh)) < 0) {
        free(tx);
        return fail("template packet", ret);
    }
    if (hdr)
        mpx_vnet_hdr_encode(tx, &vh);
    usleep(200 * 1000);
    uint64_t t0 = mpx_uloop_now_ns();
    if ((ret = rw_loop(fd, &f, tx, hdr + len, hdr, &sent)) < 0)
        return fail("loop", ret);
    double secs = (double)(mpx_uloop_now_ns() - t0) / 1e9;
    int ok = f.got == o->count && f.bad == 0 && f.dup == 0;
    printf("{\"ok\": %s, \"mode\": \"read/write\", \"sent\": %u, \"recv\": %u, \"bad\": %u, "
           "\"first_bad\": %d, \"dup\": %u, \"rx_pkts\": %llu, \"rx_gso\": %llu, "
           "\"secs\": %.3f, \"pps\": %.0f, \"gbps\": %.3f, \"tx_err\": 0, \"rx_err\": 0}\n",
           ok ? "true" : "false", sent, f.got, f.bad, f.first_bad, f.dup,
           (unsigned long long)f.rx_pkts, (unsigned long long)f.rx_gso, secs, f.rx_pkts / secs,
           (double)f.bytes * 8 / secs / 1e9);
    close(fd);
    free(tx);
    free(f.got_bytes);
    return ok ? 0 : 1;
}

/* --- a kernel TCP sender towards the engine: GRO-sized reads ------------ */

/* A minimal TCP receiver on the engine address: enough for the kernel's
 * TCP to send a bulk stream through the TUN (with TSO offloads on, as
 * 64 KB super-segments with partial checksums) and close. */
struct rcv {
    struct mpx_tun *t;
    const struct opts *o;
    int state; /* 0 listen, 1 established, 2 peer FIN seen, 3 our FIN acked */
    uint16_t peer_port;
    uint32_t iss, rcv_nxt;
    uint64_t bytes, segs, gso_segs, max_len, csum_bad, payload_bad, ooo, acks;
    int err;
    uint8_t *pat; /* PAT_LEN + 251 bytes of the stream's pattern, byte k = k % 251 */
};

#define PAT_LEN 65536

static void rcv_send(struct rcv *c, uint8_t flags, uint32_t seq, bool syn_opts)
{
    struct mpx_addr eng, kern, lp;
    struct mpx_ip_hdr ip;
    struct mpx_tcp_hdr th;
    addrs(c->o->v6, &eng, &kern, &lp);
    ip_hdr(&ip, &eng, &kern);
    memset(&th, 0, sizeof(th));
    th.sport = (uint16_t)c->o->port;
    th.dport = c->peer_port;
    th.seq = seq;
    th.ack = c->rcv_nxt;
    th.flags = flags;
    th.win = 65535; /* << 7 below: 8 MB, never the bottleneck */
    if (syn_opts) {
        th.opts.present = MPX_TCPO_MSS | MPX_TCPO_WSCALE;
        th.opts.mss = c->o->v6 ? 1440 : 1460;
        th.opts.wscale = 7;
    }
    int ret = send_seg(c->t, &ip, &th);
    if (ret < 0 && !c->err)
        c->err = ret;
    c->acks++;
}

static void rcv_data(struct rcv *c, const struct mpx_pkt *r, const struct mpx_tun_pkt *p)
{
    const uint8_t *data = r->payload;
    size_t len = r->payload_len;
    uint32_t seq = r->tcp.seq;
    /* The TUN queue drops packets when reads lag (a loaded machine), and the
     * kernel then retransmits with its own segmentation: a segment may start
     * before rcv_nxt and end after it. Take its new part. */
    if (mpx_seq_lt(seq, c->rcv_nxt) && mpx_seq_gt(seq + (uint32_t)len, c->rcv_nxt)) {
        uint32_t skip = c->rcv_nxt - seq;
        data += skip;
        len -= skip;
        seq = c->rcv_nxt;
    }
    if (seq != c->rcv_nxt) {
        c->ooo++; /* ahead of a loss, or an old duplicate: answered with a dupack */
    } else {
        c->payload_bad += len > PAT_LEN || memcmp(data, c->pat + c->bytes % 251, len) != 0;
        c->bytes += len;
        c->rcv_nxt += (uint32_t)len;
        c->segs++;
        c->gso_segs += p->vnet.gso_type != MPX_VNET_GSO_NONE;
        if (p->len > c->max_len)
            c->max_len = p->len;
        if ((r->tcp.flags & MPX_TH_FIN) && c->state == 1) {
            c->rcv_nxt++;
            c->state = 2;
            rcv_send(c, MPX_TH_FIN | MPX_TH_ACK, c->iss + 1, false);
            return;
        }
    }
    if (r->payload_len || seq != c->rcv_nxt)
        rcv_send(c, MPX_TH_ACK, c->iss + 1 + (c->state >= 2), false);
}

static void on_rcv_pkt(void *arg, struct mpx_tun_pkt *p)
{
    struct rcv *c = arg;
    struct mpx_pkt r;
    if (mpx_vnet_csum_complete(p->data, p->len, &p->vnet) < 0)
        return;
    int ret = mpx_pkt_decode(p->data, p->len, true, &r);
    if (ret == MPX_ERR_CSUM)
        c->csum_bad++;
    if (ret < 0 || r.tcp.dport != c->o->port) // cppcheck-suppress uninitvar
        return;                               /* kernel IPv6 chatter, not ours */
    if (r.tcp.flags & MPX_TH_SYN) {
        c->peer_port = r.tcp.sport;
        c->rcv_nxt = r.tcp.seq + 1;
        c->state = 1;
        rcv_send(c, MPX_TH_SYN | MPX_TH_ACK, c->iss, true);
        return;
    }
    if (c->state == 0 || r.tcp.sport != c->peer_port)
        return;
    if (c->state == 2 && (r.tcp.flags & MPX_TH_ACK) && r.tcp.ack == c->iss + 2) {
        c->state = 3;
        return;
    }
    rcv_data(c, &r, p);
}

static int run_recv(const struct opts *o)
{
    struct mpx_uloop l;
    struct rcv c = {.o = o, .iss = OUR_ISS};
    int ret = open_tun(&l, &c.t, o);
    if (ret)
        return ret;
    if (!(c.pat = malloc(PAT_LEN + 251)))
        return fail("malloc", ENOMEM);
    for (size_t i = 0; i < PAT_LEN + 251; i++)
        c.pat[i] = (uint8_t)(i % 251);
    usleep(200 * 1000); /* IPv6: fd99::1 usable once its DAD work item ran */
    printf("{\"ready\": true}\n");
    fflush(stdout);
    uint64_t start = 0, end = mpx_uloop_now_ns() + 20000000000ull;
    while (c.state != 3 && !c.err && mpx_uloop_now_ns() < end) {
        if ((ret = mpx_uloop_run(&l, 100 * 1000 * 1000)) < 0)
            return fail("loop", ret);
        mpx_tun_poll(c.t, on_rcv_pkt, &c, 0);
        if (!start && c.state)
            start = mpx_uloop_now_ns();
    }
    for (int i = 0; i < 10; i++) /* submit the last ACK */
        mpx_uloop_run(&l, 1000 * 1000);
    double secs = start ? (double)(mpx_uloop_now_ns() - start) / 1e9 : 0;
    int ok = c.state == 3 && c.bytes == o->count && !c.csum_bad && !c.payload_bad && !c.err;
    const struct mpx_tun_stats *ts = mpx_tun_stats(c.t);
    printf("{\"ok\": %s, \"bytes\": %llu, \"segs\": %llu, \"gso_segs\": %llu, \"max_len\": %llu, "
           "\"csum_bad\": %llu, \"payload_bad\": %llu, \"ooo\": %llu, \"acks\": %llu, "
           "\"state\": %d, \"err\": %d, \"secs\": %.3f, \"gbps\": %.3f, \"tun_rx_pkts\": %llu, "
           "\"tun_rx_err\": %llu, \"tun_rx_trunc\": %llu, \"tun_tx_pkts\": %llu, "
           "\"tun_tx_err\": %llu, \"tun_tx_nobuf\": %llu, \"tun_last_err\": %d, "
           "\"tun_multishot\": %d, \"tun_rx_nobufs\": %llu}\n",
           ok ? "true" : "false", (unsigned long long)c.bytes, (unsigned long long)c.segs,
           (unsigned long long)c.gso_segs, (unsigned long long)c.max_len,
           (unsigned long long)c.csum_bad, (unsigned long long)c.payload_bad,
           (unsigned long long)c.ooo, (unsigned long long)c.acks, c.state, c.err, secs,
           secs > 0 ? (double)c.bytes * 8 / secs / 1e9 : 0.0, (unsigned long long)ts->rx_pkts,
           (unsigned long long)ts->rx_err, (unsigned long long)ts->rx_trunc,
           (unsigned long long)ts->tx_pkts, (unsigned long long)ts->tx_err,
           (unsigned long long)ts->tx_nobuf, ts->last_err, ts->rx_multishot,
           (unsigned long long)ts->rx_nobufs);
    mpx_tun_close(c.t);
    mpx_uloop_free(&l);
    free(c.pat);
    return ok ? 0 : 1;
}

/* --- open/attach semantics ---------------------------------------------- */

struct err_case {
    const char *what;
    struct mpx_tun_opts o;
    int want;
};

/* Attach to TUN_NAME with 600-byte buffers: 1000-byte packets forwarded
 * back must be counted as truncated and dropped, never handed on cut. */
static int check_trunc(struct mpx_uloop *l)
{
    struct mpx_tun_opts to = {
        .name = TUN_NAME, .flags = MPX_TUN_F_ATTACH | MPX_TUN_F_UP, .buf_size = 600};
    struct opts o = {.size = 1000, .count = 1};
    struct mpx_tun *t;
    struct mpx_tun_pkt p;
    struct mpx_vnet_hdr vh;
    uint8_t pkt[1000];
    size_t len;
    unsigned handed = 0;
    int ret = mpx_tun_open(&t, l, &to);
    if (ret < 0 || set_addr4(TUN_NAME) < 0 || make_template(&o, pkt, sizeof(pkt), &len, &vh) < 0)
        return fail("truncation setup", ret);
    usleep(100 * 1000);
    for (int i = 0; i < 5; i++)
        if (write(mpx_tun_fd(t), pkt, len) != (ssize_t)len) /* bypasses the 600-byte pool */
            return fail("write", errno);
    for (int i = 0; i < 50 && mpx_tun_stats(t)->rx_trunc < 5; i++) {
        mpx_uloop_run(l, 20 * 1000 * 1000);
        while (mpx_tun_rx_next(t, &p) == 1) {
            handed += p.len > 600; /* kernel IPv6 chatter is small */
            mpx_tun_rx_release(t, p.id);
        }
    }
    unsigned long long tr = mpx_tun_stats(t)->rx_trunc;
    printf("{\"case\": \"packets longer than buf_size\", \"rx_trunc\": %llu, \"handed_on\": %u}\n",
           tr, handed);
    mpx_tun_close(t);
    return tr != 5 || handed != 0;
}

/* Expects TUN_NAME to exist as a persistent device (the test made it). */
static int run_errors(void)
{
    static const struct err_case cases[] = {
        {"attach to a missing device", {.name = "mpxnone0", .flags = MPX_TUN_F_ATTACH}, -ENODEV},
        {"create over an existing device", {.name = TUN_NAME}, -EEXIST},
        {"name too long", {.name = "mpxtest0123456789"}, -EINVAL},
        {"offload without vnet header", {.name = "mpxnew0", .offload = MPX_TUN_OFF_TSO4}, -EINVAL},
    };
    struct mpx_uloop l;
    struct mpx_tun *t;
    int bad = 0, ret = mpx_uloop_init(&l, NULL);
    if (ret < 0)
        return fail("io_uring setup", ret);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ret = mpx_tun_open(&t, &l, &cases[i].o);
        printf("{\"case\": \"%s\", \"ret\": %d, \"want\": %d}\n", cases[i].what, ret,
               cases[i].want);
        bad |= ret != cases[i].want;
        if (ret == 0)
            mpx_tun_close(t);
    }
    /* No name: the kernel picks tunN; the device goes with the fd. */
    struct mpx_tun_opts o = {.flags = MPX_TUN_F_VNET_HDR};
    if ((ret = mpx_tun_open(&t, &l, &o)) < 0)
        return fail("open unnamed", ret);
    char name[MPX_TUN_NAME_MAX];
    snprintf(name, sizeof(name), "%s", mpx_tun_name(t));
    int idx = mpx_tun_ifindex(t);
    int off_ok = mpx_tun_set_offload(t, MPX_TUN_OFF_CSUM | MPX_TUN_OFF_TSO4);
    mpx_tun_close(t);
    int gone = if_nametoindex(name) == 0;
    printf("{\"case\": \"kernel-named\", \"name\": \"%s\", \"ifindex\": %d, \"offload\": %d, "
           "\"gone_after_close\": %s}\n",
           name, idx, off_ok, gone ? "true" : "false");
    bad |= strncmp(name, "tun", 3) != 0 || idx <= 0 || off_ok != 0 || !gone;
    /* Offloads need the vnet header. */
    o.flags = 0;
    if ((ret = mpx_tun_open(&t, &l, &o)) < 0)
        return fail("open unnamed", ret);
    ret = mpx_tun_set_offload(t, MPX_TUN_OFF_CSUM);
    printf("{\"case\": \"set_offload without vnet header\", \"ret\": %d, \"want\": %d}\n", ret,
           -EINVAL);
    bad |= ret != -EINVAL;
    mpx_tun_close(t);
    bad |= check_trunc(&l);
    mpx_uloop_free(&l);
    printf("{\"ok\": %s}\n", bad ? "false" : "true");
    return bad ? 1 : 0;
}

static int parse(int argc, char **argv, struct opts *o)
{
    memset(o, 0, sizeof(*o));
    o->count = 200000;
    o->size = 1500;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--mptcp"))
            o->mptcp = 1;
        else if (!strcmp(a, "--tso"))
            o->tso = 1;
        else if (!strcmp(a, "--tso-split"))
            o->tso = o->split = 1;
        else if (!strcmp(a, "--no-fixed"))
            o->no_fixed = 1;
        else if (!strcmp(a, "--no-mshot"))
            o->no_mshot = 1;
        else if (!strcmp(a, "--nonblock"))
            o->nonblock = 1;
        else if (!strcmp(a, "--plain-ring"))
            o->plain_ring = 1;
        else if (!strcmp(a, "--no-verify"))
            o->no_verify = 1;
        else if (!strcmp(a, "--rw"))
            o->rw = 1;
        else if (!strcmp(a, "--attach"))
            o->attach = 1;
        else if (!strcmp(a, "--no-rst"))
            o->no_rst = 1;
        else if (!strcmp(a, "--count") && v && ++i)
            o->count = (unsigned)strtoul(v, NULL, 0);
        else if (!strcmp(a, "--size") && v && ++i)
            o->size = (unsigned)strtoul(v, NULL, 0);
        else if (!strcmp(a, "--buf") && v && ++i)
            o->buf = (unsigned)strtoul(v, NULL, 0);
        else if (!strcmp(a, "--rx") && v && ++i)
            o->n_rx = (unsigned)strtoul(v, NULL, 0);
        else if (!strcmp(a, "--window") && v && ++i)
            o->window = (unsigned)strtoul(v, NULL, 0);
        else if (a[0] != '-' && !o->port)
            o->port = (unsigned)strtoul(a, NULL, 0);
        else
            return -1;
    }
    if (o->size < 100 || o->size > 65535 || o->count == 0 || (!o->tso && o->size > 1500))
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o;
    if (argc < 2 || parse(argc, argv, &o) < 0) {
        fprintf(stderr, "usage: tun_probe syn4|syn6 PORT [--mptcp] [--attach] [--no-rst]\n"
                        "       tun_probe errors\n"
                        "       tun_probe recv4|recv6 PORT --count BYTES [--tso]\n"
                        "       tun_probe flood4|flood6 [--count N] [--size B] [--window W]"
                        " [--tso|--tso-split] [--no-fixed] [--nonblock] [--plain-ring] "
                        "[--no-verify] [--rw] [--rx N] [--buf B]\n");
        return 2;
    }
    o.v6 = argv[1][strlen(argv[1]) - 1] == '6';
    if (!strncmp(argv[1], "syn", 3) && o.port)
        return run_syn(&o);
    if (!strcmp(argv[1], "errors"))
        return run_errors();
    if (!strncmp(argv[1], "recv", 4) && o.port)
        return run_recv(&o);
    if (!strncmp(argv[1], "flood", 5))
        return o.rw ? run_flood_rw(&o) : run_flood(&o);
    fprintf(stderr, "tun_probe: unknown command %s\n", argv[1]);
    return 2;
}
