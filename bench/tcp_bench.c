/*
 * tcp_bench.c - CPU cost of the TCP engine: two engines connected in
 * memory (no loss, no delay), one bulk flow, application copies in and out
 * included, every packet encoded, checksummed, decoded and verified.
 *
 *   build/tcp_bench [MBYTES]
 *
 * Prints payload Gbit/s per CPU core (both ends on one core, measured with
 * CLOCK_PROCESS_CPUTIME_ID) and CPU time per GB, for MSS-sized segments
 * at MTU 1500, MTU 9000 and 64 KiB super segments (TSO/GRO-like).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tcp.h"

struct end {
    struct mpx_tcp_conn *c;
};

static uint8_t pkt[70000];
static uint8_t appbuf[256 * 1024];

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct mpx_tcp_conn *mk(const struct mpx_tcp_config *cfg, uint32_t a, uint32_t b,
                               uint16_t pa, uint16_t pb)
{
    struct mpx_tcp_tuple t = {
        .local = mpx_addr_v4(a), .remote = mpx_addr_v4(b), .lport = pa, .rport = pb};
    struct mpx_tcp_conn *c = malloc(mpx_tcp_conn_size());
    if (!c || mpx_tcp_init(c, cfg, &t, 0) != 0) {
        fprintf(stderr, "init failed\n");
        exit(1);
    }
    return c;
}

/* Move every packet |from| has to send into |to|; returns packets moved. */
static int pump(struct mpx_tcp_conn *from, struct mpx_tcp_conn **to,
                const struct mpx_tcp_config *cfg, const uint8_t *secret, uint64_t now)
{
    int k = 0;
    for (;;) {
        int n = mpx_tcp_output(from, pkt, sizeof(pkt), now);
        if (n <= 0)
            return k;
        struct mpx_pkt p;
        if (mpx_pkt_decode(pkt, (size_t)n, true, &p) != 0) {
            fprintf(stderr, "decode failed\n");
            exit(1);
        }
        if (!*to) { /* the listener: first SYN creates the server end */
            *to = mk(cfg, 0x0a000002, 0x0a000001, 80, 40000);
            struct mpx_tcp_isn_inputs in = {.secret = secret, .secret_len = 32, .ts_offset = 7};
            mpx_tcp_accept_syn(*to, &p, now, &in);
        } else {
            mpx_tcp_input(*to, &p, now);
        }
        k++;
    }
}

static void run(const char *name, uint32_t mtu, uint32_t max_seg, uint64_t total)
{
    struct mpx_tcp_config cfg;
    uint8_t secret[32] = {1, 2, 3};
    mpx_tcp_config_default(&cfg);
    cfg.mtu = mtu;
    cfg.max_seg = max_seg;
    cfg.rmem_init = 4 << 20;
    cfg.wmem_init = 4 << 20;
    struct mpx_tcp_conn *cl = mk(&cfg, 0x0a000001, 0x0a000002, 40000, 80), *sv = NULL;
    struct mpx_tcp_isn_inputs in = {.secret = secret, .secret_len = 32, .ts_offset = 3};
    mpx_tcp_connect(cl, 0, &in);
    memset(appbuf, 0x5a, sizeof(appbuf));
    uint64_t now = 0, sent = 0, rcvd = 0, pkts = 0;
    double t0 = cpu_seconds();
    while (rcvd < total) {
        now += 1000; /* 1 us of virtual time per round */
        while (sent < total) {
            uint64_t want = total - sent < sizeof(appbuf) ? total - sent : sizeof(appbuf);
            long n = mpx_tcp_send(cl, appbuf, want, now);
            if (n <= 0)
                break;
            sent += (uint64_t)n;
        }
        pkts += (uint64_t)pump(cl, &sv, &cfg, secret, now);
        if (!sv)
            continue;
        for (;;) {
            long n = mpx_tcp_recv(sv, appbuf, sizeof(appbuf), now);
            if (n <= 0)
                break;
            rcvd += (uint64_t)n;
        }
        pkts += (uint64_t)pump(sv, &cl, &cfg, secret, now);
        if (mpx_tcp_next_deadline(cl) <= now)
            mpx_tcp_on_timer(cl, now);
        if (mpx_tcp_next_deadline(sv) <= now)
            mpx_tcp_on_timer(sv, now);
    }
    double dt = cpu_seconds() - t0;
    const struct mpx_tcp_mib *m = mpx_tcp_get_mib(cl);
    printf("%-22s %8.2f Gbit/s payload per core, %6.3f CPU s/GB, %9llu packets, %llu rtx\n", name,
           (double)rcvd * 8 / dt / 1e9, dt / ((double)rcvd / 1e9), (unsigned long long)pkts,
           (unsigned long long)m->RetransSegs);
    mpx_tcp_free(cl);
    mpx_tcp_free(sv);
    free(cl);
    free(sv);
}

int main(int argc, char **argv)
{
    uint64_t mb = argc > 1 ? strtoull(argv[1], NULL, 10) : 2000;
    uint64_t total = mb * 1000 * 1000;
    run("mtu 1500", 1500, 0, total);
    run("mtu 9000", 9000, 0, total);
    run("mtu 1500 + 64K segs", 1500, 65536, total);
    return 0;
}
