/*
 * main.c - mptcpextd: the userspace MPTCP engine daemon (DESIGN decision 1).
 *
 * One process per host (network namespace): it owns a TUN device, the
 * engine's addresses, the sans-I/O stack and every connection, and serves
 * the control socket. One thread, one io_uring: TUN reads and writes,
 * bridge reads and writes, RPC sockets and the signalfd all complete on
 * the same ring, and the ring's wait times out at the stack's next
 * deadline. Usage: mptcpextd --help; settings: config.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "engine.h"

void mpxd_log(const struct mpxd *d, int level, const char *fmt, ...)
{
    va_list ap;
    struct timespec ts;

    if (level > d->cfg.log_level)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    fprintf(stderr, "mptcpextd[%d] %ld.%03ld %s: ", (int)getpid(), (long)ts.tv_sec,
            ts.tv_nsec / 1000000, mpx_dcfg_log_name(level));
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

uint64_t mpxd_now(void)
{
    return mpx_uloop_now_ns();
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mptcpextd [-v|-q] [-f CONFIG] [--KEY VALUE ...]\n"
            "  -f, --config FILE   read settings from FILE (\"key value\" lines)\n"
            "  -v / -q             more / less logging (or --log-level LEVEL)\n"
            "  --KEY VALUE         any setting of the config file, e.g.\n"
            "      --tun mptcp0 --tun-mode attach|create|auto --addr 10.1.1.2 --addr 10.1.2.2\n"
            "      --socket PATH --name NAME --pcap FILE --events FILE --events-interval MS\n"
            "      --keylog FILE (connection secrets, mode 0600: for research only)\n"
            "      --endpoint '10.1.2.2 id 2 subflow' --limits 'subflows 2 add_addr_accepted 2'\n"
            "      --scheduler default|redundant|roundrobin --cc cubic|reno|lia\n"
            "      --sndbuf 4M --rcvbuf 4M --checksum on|off --mptcp on|off --offload on|off\n"
            "      --extkey never|prefer|require --path-manager kernel|userspace --pacing on|off\n"
            "      --tun-napi auto|on|off\n"
            "  Default socket: %s/<netns name or --name>.sock\n",
            MPX_RPC_SOCK_DIR);
}

/* Flags: -v, -q, -f FILE, --KEY VALUE, --KEY=VALUE. Returns 0, 1 (exit 0:
 * --help) or -1 (error printed). */
static int parse_args(struct mpxd *d, int argc, char **argv)
{
    char err[400];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val;
        char key[64];

        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 1;
        }
        if (!strcmp(a, "-v")) {
            if (d->cfg.log_level < MPX_DLOG_DEBUG)
                d->cfg.log_level++;
            continue;
        }
        if (!strcmp(a, "-q")) {
            d->cfg.log_level = MPX_DLOG_ERROR;
            continue;
        }
        if (!strcmp(a, "-f") || !strcmp(a, "--config")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "mptcpextd: %s needs a file\n", a);
                return -1;
            }
            if (mpx_dcfg_load(&d->cfg, argv[++i], err, sizeof(err))) {
                fprintf(stderr, "mptcpextd: %s\n", err);
                return -1;
            }
            continue;
        }
        if (strncmp(a, "--", 2) != 0 || !a[2]) {
            fprintf(stderr, "mptcpextd: unexpected argument \"%s\" (see --help)\n", a);
            return -1;
        }
        val = strchr(a, '=');
        snprintf(key, sizeof(key), "%.*s", (int)(val ? (size_t)(val - a - 2) : strlen(a + 2)),
                 a + 2);
        if (!val) {
            if (i + 1 >= argc) {
                fprintf(stderr, "mptcpextd: --%s needs a value\n", key);
                return -1;
            }
            val = argv[++i];
        } else {
            val++;
        }
        if (mpx_dcfg_set(&d->cfg, key, val, err, sizeof(err))) {
            fprintf(stderr, "mptcpextd: --%s: %s\n", key, err);
            return -1;
        }
    }
    return 0;
}

/* Attach to an existing TUN or create one, as tun-mode says. */
static int open_tun_mode(struct mpxd *d, struct mpx_tun_opts *o)
{
    int rc = -ENODEV;

    if (d->cfg.tun_mode != MPX_DCFG_TUN_CREATE) {
        o->flags |= MPX_TUN_F_ATTACH;
        rc = mpx_tun_open(&d->tun, &d->loop, o);
        o->flags &= ~MPX_TUN_F_ATTACH;
    }
    if (rc == -ENODEV && d->cfg.tun_mode != MPX_DCFG_TUN_ATTACH)
        rc = mpx_tun_open(&d->tun, &d->loop, o);
    return rc;
}

/* IFF_NAPI pays only with the device's NAPI threaded: without its own
 * thread the poll runs inside each write and GRO merges nothing (tun.h,
 * bench/README.md). "on" keeps it threaded, and with a warning when that
 * cannot be set. "auto" starts unthreaded and lets the governor thread it
 * while we write in bursts (napigov.h); where the setting cannot be
 * written (the sysfs of another namespace) it reopens a plain TUN. */
static int open_tun_napi(struct mpxd *d, struct mpx_tun_opts *o)
{
    bool on = d->cfg.tun_napi == MPX_DCFG_NAPI_ON;
    int rc = mpx_tun_set_napi_threaded(d->tun, on);

    if (rc >= 0) {
        d->napigov_on = !on;
        mpx_napigov_init(&d->napigov, on);
        return 0;
    }
    if (on) {
        mpxd_log(d, MPX_DLOG_WARN, "TUN %s: threaded NAPI: %s (GRO will not merge)",
                 mpx_tun_name(d->tun), strerror(-rc));
        return 0;
    }
    mpxd_log(d, MPX_DLOG_INFO, "TUN %s: threaded NAPI: %s: reopened without IFF_NAPI",
             mpx_tun_name(d->tun), strerror(-rc));
    mpx_tun_close(d->tun);
    d->tun = NULL;
    o->flags &= ~MPX_TUN_F_NAPI;
    return open_tun_mode(d, o);
}

/* tun-napi auto: one loop step wrote |pkts| packets. A setting that cannot
 * be written any more leaves the governor off, as it is. */
static void napi_govern(struct mpxd *d, unsigned pkts, uint64_t now)
{
    int v = mpx_napigov_step(&d->napigov, pkts, now), rc;

    if (v == 0)
        return;
    rc = mpx_tun_set_napi_threaded(d->tun, v > 0);
    if (rc < 0) {
        mpxd_log(d, MPX_DLOG_WARN, "TUN %s: threaded NAPI %s: %s; left as it is",
                 mpx_tun_name(d->tun), v > 0 ? "on" : "off", strerror(-rc));
        d->napigov_on = false;
        return;
    }
    if (v > 0)
        d->mib.TunNapiThreaded++;
    else
        d->mib.TunNapiUnthreaded++;
    mpxd_log(d, MPX_DLOG_DEBUG, "TUN %s: NAPI %s", mpx_tun_name(d->tun),
             v > 0 ? "threaded (writes come in bursts)" : "unthreaded (writes come alone)");
}

static int open_tun(struct mpxd *d)
{
    struct mpx_tun_opts o = {.name = d->cfg.tun, .flags = MPX_TUN_F_UP};
    int rc;

    if (d->cfg.offload) {
        /* vnet headers: TSO super segments out (one write per ~64 KB
         * instead of per 1.5 KB), GRO'd ones and partial checksums in */
        o.flags |= MPX_TUN_F_VNET_HDR;
        o.offload = MPX_TUN_OFF_CSUM | MPX_TUN_OFF_TSO4 | MPX_TUN_OFF_TSO6;
    }
    /* tun-napi: GRO of what we write (tun.h). Not with offload: our super
     * segments are merged already, and in the lab NAPI on top of them
     * only added RTOs (bench/README.md). */
    if (d->cfg.tun_napi == MPX_DCFG_NAPI_ON && d->cfg.offload)
        mpxd_log(d, MPX_DLOG_WARN, "tun-napi is ignored with offload on");
    else if (d->cfg.tun_napi != MPX_DCFG_NAPI_OFF && !d->cfg.offload)
        o.flags |= MPX_TUN_F_NAPI;
    rc = open_tun_mode(d, &o);
    if (rc >= 0 && (o.flags & MPX_TUN_F_NAPI))
        rc = open_tun_napi(d, &o);
    if (rc < 0) {
        mpxd_log(d, MPX_DLOG_ERROR, "TUN %s: %s", d->cfg.tun, strerror(-rc));
        return rc;
    }
    rc = mpx_tun_get_mtu(d->tun);
    /* (a larger MTU set on the device than our buffers hold is not used) */
    d->cfg.tun_mtu = rc > 0 && (size_t)rc <= mpx_tun_buf_size(d->tun) ? (unsigned)rc : 0;
    mpxd_log(d, MPX_DLOG_INFO, "TUN %s (ifindex %d, MTU %d%s) open", mpx_tun_name(d->tun),
             mpx_tun_ifindex(d->tun), rc,
             !(o.flags & MPX_TUN_F_NAPI) ? ""
             : d->napigov_on             ? ", NAPI threaded while writes come in bursts"
                                         : ", threaded NAPI");
    return 0;
}

static void on_packet(void *arg, struct mpx_tun_pkt *pkt)
{
    struct mpxd *d = arg;
    uint64_t now = mpxd_now();
    d->mib.TunRxPkts++;
    if (d->pcap)
        mpx_pcap_write(d->pcap, now + d->rt_offset, pkt->data, pkt->len);
    /* offloads: a NEEDS_CSUM packet carries only the pseudo-header sum
     * (the kernel never computed the rest: it is in memory, intact), a
     * DATA_VALID one was checked by the kernel */
    mpx_eng_input_ex(d->eng, pkt->data, pkt->len,
                     (pkt->vnet.flags & (MPX_VNET_F_NEEDS_CSUM | MPX_VNET_F_DATA_VALID)) != 0, now);
}

/* Queue the write of the packet the engine just put in transmit buffer
 * |id|: a super segment goes out as one TSO write (vnet header with
 * gso_size, partial checksum), the others as they are. */
static int tun_send(struct mpxd *d, uint32_t id, uint8_t *buf, size_t n)
{
    struct mpx_vnet_hdr vh;
    unsigned gso = mpx_eng_out_gso(d->eng);
    if (gso && mpx_tun_hdr_len(d->tun) && gso <= 0xffff &&
        mpx_vnet_tso_prepare(buf, n, (uint16_t)gso, &vh) == 0)
        return mpx_tun_tx_send(d->tun, id, n, &vh);
    return mpx_tun_tx_send(d->tun, id, n, NULL);
}

/* Everything the stack wants to send, straight into TUN transmit buffers;
 * returns how many packets went. */
static unsigned flush_output(struct mpxd *d)
{
    unsigned sent = 0;

    for (;; sent++) {
        uint32_t id;
        size_t cap;
        uint8_t *buf = mpx_tun_tx_buf(d->tun, &id, &cap);
        int n;

        if (!buf) {
            d->mib.TunTxBusy++;
            return sent; /* retried when a write completes */
        }
        n = mpx_eng_output(d->eng, buf, cap, mpxd_now());
        if (n <= 0) {
            mpx_tun_tx_cancel(d->tun, id);
            if (n < 0)
                mpxd_log(d, MPX_DLOG_WARN, "output: packet larger than %zu bytes dropped", cap);
            return sent;
        }
        if (d->pcap)
            mpx_pcap_write(d->pcap, mpxd_now() + d->rt_offset, buf, (size_t)n);
        if (tun_send(d, id, buf, (size_t)n) < 0) {
            mpx_tun_tx_cancel(d->tun, id);
            d->mib.TunTxBusy++;
            return sent;
        }
        d->mib.TunTxPkts++;
    }
}

static void drain_events(struct mpxd *d)
{
    struct mpx_rpc_event ev;
    bool wake;
    while (mpx_eng_poll_event(d->eng, &ev, &wake) == 1) {
        mpxd_event(d, &ev);
        if (ev.type == MPX_RPC_EV_ESTABLISHED)
            mpxd_bridge_on_established(d, ev.conn);
        else if (ev.type == MPX_RPC_EV_CLOSED)
            mpxd_bridge_on_closed(d, ev.conn, ev.error);
    }
}

static void step(struct mpxd *d)
{
    uint64_t now = mpxd_now(), deadline;
    int64_t timeout;
    unsigned sent;

    mpx_tun_poll(d->tun, on_packet, d, 0);
    if (mpx_eng_next_deadline(d->eng) <= now)
        mpx_eng_on_timer(d->eng, now);
    drain_events(d);
    mpxd_bridges_pump(d);
    drain_events(d);
    sent = flush_output(d);
    if (sent)
        d->mib.TunTxSteps++;
    if (d->napigov_on)
        napi_govern(d, sent, now);
    d->next_tick = mpxd_evlog_tick(d, now);
    mpxd_evlog_flush(d);
    deadline = mpx_eng_next_deadline(d->eng);
    if (d->next_tick < deadline)
        deadline = d->next_tick;
    now = mpxd_now();
    timeout = deadline == UINT64_MAX ? -1 : (deadline > now ? (int64_t)(deadline - now) : 0);
    if (timeout > 1000000000ll || timeout < 0)
        timeout = 1000000000ll; /* at most 1 s: a lost wake-up never hangs us */
    mpx_uloop_run(&d->loop, timeout);
}

static int setup(struct mpxd *d)
{
    char err[400];
    struct timespec rt;
    sigset_t set;
    int rc;

    clock_gettime(CLOCK_REALTIME, &rt);
    d->rt_offset = (uint64_t)rt.tv_sec * 1000000000ull + (uint64_t)rt.tv_nsec - mpxd_now();
    if (!d->cfg.socket_path[0])
        mpx_rpc_default_socket(d->cfg.socket_path, sizeof(d->cfg.socket_path), d->cfg.name);
    if (d->cfg.n_addrs == 0)
        mpxd_log(d, MPX_DLOG_WARN, "no --addr given: the engine has no local address");
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    d->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (d->sigfd < 0)
        return -errno;
    if ((rc = mpx_uloop_init(&d->loop, NULL)) < 0) {
        mpxd_log(d, MPX_DLOG_ERROR, "io_uring: %s", strerror(-rc));
        return rc;
    }
    d->loop_ok = true;
    if ((rc = open_tun(d)) < 0)
        return rc;
    d->eng = mpx_eng_new(&d->cfg, err, sizeof(err));
    if (!d->eng) {
        mpxd_log(d, MPX_DLOG_ERROR, "%s", err);
        return -EINVAL;
    }
    if (d->cfg.pcap[0] && !(d->pcap = mpx_pcap_open(d->cfg.pcap, 0))) {
        mpxd_log(d, MPX_DLOG_ERROR, "pcap %s: %s", d->cfg.pcap, strerror(errno));
        return -errno;
    }
    if ((rc = mpxd_evlog_open(d)) < 0)
        return rc;
    if ((rc = mpxd_bridges_init(d)) < 0)
        return rc;
    return mpxd_rpc_open(d);
}

/* SIGTERM: reset every connection (MP_FASTCLOSE), let the resets reach the
 * TUN, remove the socket. */
static void teardown(struct mpxd *d)
{
    if (d->eng && d->tun) {
        mpxd_bridges_shutdown(d);
        drain_events(d);
        flush_output(d);
        mpx_uloop_run(&d->loop, 0);
    }
    mpxd_rpc_close(d);
    if (d->tun)
        mpx_tun_close(d->tun); /* drains in-flight writes, the resets included */
    if (d->loop_ok)
        mpx_uloop_free(&d->loop); /* before the bridge buffers go */
    mpxd_bridges_free(d);
    mpx_eng_free(d->eng);
    mpxd_evlog_close(d);
    if (d->pcap)
        mpx_pcap_close(d->pcap);
    if (d->sigfd >= 0)
        close(d->sigfd);
}

int main(int argc, char **argv)
{
    struct mpxd *d = calloc(1, sizeof(*d));
    int rc;

    if (!d)
        return 1;
    d->lfd = -1;
    d->sigfd = -1;
    mpx_dcfg_init(&d->cfg);
    rc = parse_args(d, argc, argv);
    if (rc) {
        free(d);
        return rc > 0 ? 0 : 2;
    }
    d->cfg.running = true;
    rc = setup(d);
    if (rc == 0) {
        mpxd_log(d, MPX_DLOG_INFO, "ready: socket %s, TUN %s", d->cfg.socket_path,
                 mpx_tun_name(d->tun));
        while (!d->stop)
            step(d);
        mpxd_log(d, MPX_DLOG_INFO, "stopping");
    }
    teardown(d);
    free(d);
    return rc == 0 ? 0 : 1;
}
