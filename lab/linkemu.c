/*
 * linkemu - a userspace link emulator for the netlab router namespaces.
 *
 * This kernel has no netem (see shared/notes/lab.md), so delay, jitter and
 * random loss are applied here: the router namespace sends forwarded packets
 * to NFQUEUE (`iptables-nft -t mangle -A FORWARD -i X -o Y -j NFQUEUE
 * --queue-num N`), one queue per path direction, and this program decides
 * when each packet may continue.
 *
 * Why it is fast enough for several Gbit/s:
 *  - packets stay in the kernel: we ask for metadata only (NFQNL_COPY_META),
 *    so a 64 KB GSO packet costs a ~100-byte netlink message;
 *  - GSO packets are accepted whole (NFQA_CFG_F_GSO) while loss is 0, so the
 *    kernel does not segment them before queueing;
 *  - every packet of a queue has a non-decreasing deadline (jitter never
 *    reorders), so releasing "everything up to id X" is one
 *    NFQNL_MSG_VERDICT_BATCH message, and all verdicts of one loop turn go
 *    to the kernel in a single sendto();
 *  - packets are read with recvmmsg(), deadlines are waited for with ppoll()
 *    and a 1 ns timer slack.
 *
 * Loss is decided per packet. With GSO a "packet" may be 45 wire segments,
 * so while a queue's loss is above 0 the GSO flag is cleared and the kernel
 * hands us single segments: the loss ratio is then per wire packet.
 * Rate limiting is NOT done here: netlab puts a TBF qdisc on the router's
 * egress interfaces (the NFQUEUE hook runs before the egress qdisc, so a
 * packet is first delayed and then shaped).
 *
 * Usage: linkemu [-c CTL_FIFO] [-s SEED] [-m MAXLEN] QSPEC...
 *   QSPEC   = QUEUE[:key=val[,key=val...]]
 *   keys    : delay=DUR jitter=DUR loss=RATIO blackout=0|1
 *   DUR     : number with ns/us/ms/s suffix (no suffix = ms)
 *   RATIO   : 0..1, or a percentage such as 1%
 * The control FIFO accepts the same QSPEC, one per line, at run time (for a
 * queue named on the command line), plus "stats" (also SIGUSR1), which
 * prints one line per queue on stderr. SIGTERM/SIGINT: every held packet is
 * accepted, the queues are unbound and the program exits 0.
 * "ready" is printed on stdout once every queue is bound.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#define MAX_QUEUES      16
#define RX_BATCH        64
#define RX_BUFSZ        4096
#define TX_BUFSZ        (64 * 1024)
#define DEFAULT_MAXLEN  65536u
#define MAX_DELAY_NS    (3600ull * 1000000000ull)
#define NL_RCVBUF_BYTES (32 * 1024 * 1024)

struct slot {
    uint32_t id;
    uint64_t due; /* CLOCK_MONOTONIC ns */
};

struct lq {
    uint16_t num;
    uint64_t delay_ns;  /* one-way delay added to every packet */
    uint64_t jitter_ns; /* uniform in [-jitter, +jitter], clamped: no reordering */
    double loss;        /* probability of dropping a packet */
    int blackout;       /* drop everything while set */
    int gso;            /* NFQA_CFG_F_GSO currently requested from the kernel */
    struct slot *ring;
    uint32_t mask; /* ring capacity - 1 (power of two) */
    uint32_t head, tail;
    uint64_t last_due;
    uint64_t rx, passed, lost, blackholed, overflow;
};

struct emu {
    struct mnl_socket *nl;
    int fd;
    unsigned int portid;
    struct lq q[MAX_QUEUES];
    int nq;
    uint32_t maxlen;
    uint64_t rng;
    int ctl_fd;
    char ctl_buf[4096];
    size_t ctl_len;
    int sig_fd;
    char *tx;
    size_t tx_len;
    uint64_t nl_errors;
};

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: randomness quality is irrelevant here, speed and a seed are not. */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static double rng_unit(uint64_t *s)
{
    return (double)(rng_next(s) >> 11) * (1.0 / 9007199254740992.0);
}

/* ---- argument parsing ------------------------------------------------- */

static int parse_dur(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || !isfinite(v) || v < 0)
        return -1;
    double mult = 1e6; /* default unit: ms */
    if (!strcmp(end, "ns"))
        mult = 1;
    else if (!strcmp(end, "us"))
        mult = 1e3;
    else if (!strcmp(end, "ms") || !*end)
        mult = 1e6;
    else if (!strcmp(end, "s"))
        mult = 1e9;
    else
        return -1;
    v *= mult;
    if (v > (double)MAX_DELAY_NS)
        return -1;
    *out = (uint64_t)llround(v);
    return 0;
}

static int parse_ratio(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || !isfinite(v))
        return -1;
    if (*end == '%') {
        v /= 100.0;
        end++;
    }
    if (*end || v < 0 || v > 1)
        return -1;
    *out = v;
    return 0;
}

/* Apply "key=val" to a queue copy; returns 0 or -1 with a message in err. */
static int apply_kv(struct lq *q, const char *kv, char *err, size_t errlen)
{
    const char *eq = strchr(kv, '=');
    if (!eq) {
        snprintf(err, errlen, "expected key=value, got '%s'", kv);
        return -1;
    }
    size_t klen = (size_t)(eq - kv);
    const char *val = eq + 1;
    int rc = -1;
    if (klen == 5 && !strncmp(kv, "delay", 5))
        rc = parse_dur(val, &q->delay_ns);
    else if (klen == 6 && !strncmp(kv, "jitter", 6))
        rc = parse_dur(val, &q->jitter_ns);
    else if (klen == 4 && !strncmp(kv, "loss", 4))
        rc = parse_ratio(val, &q->loss);
    else if (klen == 8 && !strncmp(kv, "blackout", 8)) {
        if (!strcmp(val, "0") || !strcmp(val, "1")) {
            q->blackout = val[0] == '1';
            rc = 0;
        }
    } else {
        snprintf(err, errlen, "unknown key in '%s' (delay, jitter, loss, blackout)", kv);
        return -1;
    }
    if (rc)
        snprintf(err, errlen, "bad value in '%s'", kv);
    return rc;
}

/*
 * Parse "QUEUE[:k=v,k=v]" (',' or blanks separate pairs) into *q, starting
 * from its current contents. *num receives the queue number.
 */
static int parse_spec(const char *spec, struct lq *q, long *num, char *err, size_t errlen)
{
    char buf[512];
    if (strlen(spec) >= sizeof(buf)) {
        snprintf(err, errlen, "spec too long");
        return -1;
    }
    strcpy(buf, spec);
    char *rest = buf + strcspn(buf, ": \t");
    char sep = *rest;
    *rest = 0;
    char *end;
    errno = 0;
    *num = strtol(buf, &end, 10);
    if (end == buf || *end || errno || *num < 0 || *num > 65535) {
        snprintf(err, errlen, "bad queue number in '%s'", spec);
        return -1;
    }
    if (!sep)
        return 0;
    char *save = NULL;
    for (char *tok = strtok_r(rest + 1, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save))
        if (apply_kv(q, tok, err, errlen))
            return -1;
    return 0;
}

static struct lq *find_queue(struct emu *e, long num)
{
    for (int i = 0; i < e->nq; i++)
        if (e->q[i].num == num)
            return &e->q[i];
    return NULL;
}

/* ---- netlink output ----------------------------------------------------- */

static int tx_flush(struct emu *e)
{
    if (!e->tx_len)
        return 0;
    ssize_t n = mnl_socket_sendto(e->nl, e->tx, e->tx_len);
    e->tx_len = 0;
    if (n < 0) {
        fprintf(stderr, "linkemu: netlink send: %s\n", strerror(errno));
        return -1;
    }
    return 0;
}

/* Room for one more message in the TX buffer (flushing if needed). */
static char *tx_reserve(struct emu *e)
{
    if (e->tx_len + 256 > TX_BUFSZ)
        tx_flush(e);
    return e->tx + e->tx_len;
}

static void tx_commit(struct emu *e, struct nlmsghdr *nlh)
{
    e->tx_len += NLMSG_ALIGN(nlh->nlmsg_len);
}

static void put_verdict(struct emu *e, uint16_t queue, uint32_t id, int verdict, int batch)
{
    struct nlmsghdr *nlh =
        nfq_nlmsg_put(tx_reserve(e), batch ? NFQNL_MSG_VERDICT_BATCH : NFQNL_MSG_VERDICT, queue);
    nfq_nlmsg_verdict_put(nlh, (int)id, verdict);
    tx_commit(e, nlh);
}

/* Ask the kernel for GSO packets whole unless we need per-segment loss. */
static void put_flags(struct emu *e, struct lq *q)
{
    int want = q->loss <= 0.0;
    struct nlmsghdr *nlh = nfq_nlmsg_put(tx_reserve(e), NFQNL_MSG_CONFIG, q->num);
    mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(want ? NFQA_CFG_F_GSO : 0));
    mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_GSO));
    tx_commit(e, nlh);
    q->gso = want;
}

/* Send one config request and wait for its ACK (setup only). */
static int config_ack(struct emu *e, struct nlmsghdr *nlh, const char *what, uint16_t queue)
{
    char buf[MNL_SOCKET_BUFFER_SIZE];
    nlh->nlmsg_flags |= NLM_F_ACK;
    nlh->nlmsg_seq = (uint32_t)time(NULL) ^ queue;
    if (mnl_socket_sendto(e->nl, nlh, nlh->nlmsg_len) < 0) {
        fprintf(stderr, "linkemu: queue %u: %s: %s\n", queue, what, strerror(errno));
        return -1;
    }
    ssize_t n = mnl_socket_recvfrom(e->nl, buf, sizeof(buf));
    if (n < 0 || mnl_cb_run(buf, (size_t)n, nlh->nlmsg_seq, e->portid, NULL, NULL) < 0) {
        fprintf(stderr, "linkemu: queue %u: %s: %s%s\n", queue, what, strerror(errno),
                errno == EBUSY ? " (queue already bound by another program?)" : "");
        return -1;
    }
    return 0;
}

static int bind_queue(struct emu *e, struct lq *q)
{
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct nlmsghdr *nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, q->num);
    nfq_nlmsg_cfg_put_cmd(nlh, AF_UNSPEC, NFQNL_CFG_CMD_BIND);
    if (config_ack(e, nlh, "bind", q->num))
        return -1;
    nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, q->num);
    nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_META, 0);
    nfq_nlmsg_cfg_put_qmaxlen(nlh, e->maxlen);
    if (config_ack(e, nlh, "params", q->num))
        return -1;
    nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, q->num);
    mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(q->loss <= 0.0 ? NFQA_CFG_F_GSO : 0));
    mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_GSO));
    q->gso = q->loss <= 0.0;
    return config_ack(e, nlh, "flags", q->num);
}

/* ---- packet path -------------------------------------------------------- */

static void drop_pkt(struct emu *e, struct lq *q, uint32_t id, uint64_t *counter)
{
    (*counter)++;
    put_verdict(e, q->num, id, NF_DROP, 0);
}

static void on_packet(struct emu *e, struct lq *q, uint32_t id, uint64_t now)
{
    q->rx++;
    if (q->blackout) {
        drop_pkt(e, q, id, &q->blackholed);
        return;
    }
    if (q->loss > 0.0 && rng_unit(&e->rng) < q->loss) {
        drop_pkt(e, q, id, &q->lost);
        return;
    }
    if (q->tail - q->head > q->mask) {
        drop_pkt(e, q, id, &q->overflow);
        return;
    }
    uint64_t due = now + q->delay_ns;
    if (q->jitter_ns) {
        double j = (rng_unit(&e->rng) * 2.0 - 1.0) * (double)q->jitter_ns;
        due = (j < 0 && (uint64_t)-j > q->delay_ns) ? now : (uint64_t)((double)due + j);
    }
    if (due < q->last_due) /* keep FIFO order: jitter never reorders */
        due = q->last_due;
    q->last_due = due;
    q->ring[q->tail & q->mask] = (struct slot){.id = id, .due = due};
    q->tail++;
}

static void on_nlmsg(struct emu *e, const struct nlmsghdr *nlh, uint64_t now)
{
    if (nlh->nlmsg_type == NLMSG_ERROR) {
        const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);
        if (err->error && e->nl_errors++ < 10)
            fprintf(stderr, "linkemu: kernel rejected a message: %s\n", strerror(-err->error));
        return;
    }
    if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_QUEUE ||
        NFNL_MSG_TYPE(nlh->nlmsg_type) != NFQNL_MSG_PACKET)
        return;
    struct nlattr *attr[NFQA_MAX + 1] = {0};
    if (nfq_nlmsg_parse(nlh, attr) < 0 || !attr[NFQA_PACKET_HDR])
        return;
    const struct nfgenmsg *nfg = mnl_nlmsg_get_payload(nlh);
    const struct nfqnl_msg_packet_hdr *ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
    struct lq *q = find_queue(e, ntohs(nfg->res_id));
    if (q)
        on_packet(e, q, ntohl(ph->packet_id), now);
}

/* Read what is pending (bounded, so that releases stay on time). */
static int rx_batch(struct emu *e, char (*bufs)[RX_BUFSZ])
{
    struct mmsghdr msgs[RX_BATCH];
    struct iovec iov[RX_BATCH];
    for (int round = 0; round < 8; round++) {
        for (int i = 0; i < RX_BATCH; i++) {
            iov[i] = (struct iovec){.iov_base = bufs[i], .iov_len = RX_BUFSZ};
            msgs[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iov[i], .msg_iovlen = 1}};
        }
        int n = recvmmsg(e->fd, msgs, RX_BATCH, MSG_DONTWAIT, NULL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR || errno == ENOBUFS)
                return 0;
            fprintf(stderr, "linkemu: netlink receive: %s\n", strerror(errno));
            return -1;
        }
        uint64_t now = mono_ns();
        for (int i = 0; i < n; i++) {
            int len = (int)msgs[i].msg_len;
            for (const struct nlmsghdr *nlh = (const struct nlmsghdr *)bufs[i];
                 mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len))
                on_nlmsg(e, nlh, now);
        }
        if (n < RX_BATCH)
            return 0;
    }
    return 0;
}

/* Release every packet whose deadline passed: one batch verdict per queue. */
static void release_due(struct emu *e, uint64_t now, int all)
{
    for (int i = 0; i < e->nq; i++) {
        struct lq *q = &e->q[i];
        uint32_t n = 0, last = 0;
        while (q->head != q->tail && (all || q->ring[q->head & q->mask].due <= now)) {
            last = q->ring[q->head & q->mask].id;
            q->head++;
            n++;
        }
        if (n) {
            q->passed += n;
            put_verdict(e, q->num, last, NF_ACCEPT, 1);
        }
    }
}

static int next_timeout(struct emu *e, uint64_t now, struct timespec *ts)
{
    uint64_t best = UINT64_MAX;
    for (int i = 0; i < e->nq; i++) {
        struct lq *q = &e->q[i];
        if (q->head != q->tail && q->ring[q->head & q->mask].due < best)
            best = q->ring[q->head & q->mask].due;
    }
    if (best == UINT64_MAX)
        return 0;
    uint64_t wait = best > now ? best - now : 0;
    ts->tv_sec = (time_t)(wait / 1000000000ull);
    ts->tv_nsec = (long)(wait % 1000000000ull);
    return 1;
}

/* ---- control ------------------------------------------------------------ */

static void print_stats(struct emu *e)
{
    for (int i = 0; i < e->nq; i++) {
        struct lq *q = &e->q[i];
        fprintf(stderr,
                "linkemu: queue %u rx %" PRIu64 " passed %" PRIu64 " lost %" PRIu64
                " blackholed %" PRIu64 " overflow %" PRIu64 " held %u delay_ns %" PRIu64
                " jitter_ns %" PRIu64 " loss %g blackout %d\n",
                q->num, q->rx, q->passed, q->lost, q->blackholed, q->overflow, q->tail - q->head,
                q->delay_ns, q->jitter_ns, q->loss, q->blackout);
    }
}

static void ctl_line(struct emu *e, const char *line)
{
    char err[256];
    long num;
    if (!*line)
        return;
    if (!strcmp(line, "stats")) {
        print_stats(e);
        return;
    }
    struct lq tmp = {0};
    if (parse_spec(line, &tmp, &num, err, sizeof(err))) {
        fprintf(stderr, "linkemu: control: %s\n", err);
        return;
    }
    struct lq *q = find_queue(e, num);
    if (!q) {
        fprintf(stderr, "linkemu: control: queue %ld is not handled here\n", num);
        return;
    }
    tmp = *q;
    if (parse_spec(line, &tmp, &num, err, sizeof(err))) {
        fprintf(stderr, "linkemu: control: %s\n", err);
        return;
    }
    q->delay_ns = tmp.delay_ns;
    q->jitter_ns = tmp.jitter_ns;
    q->loss = tmp.loss;
    q->blackout = tmp.blackout;
    if (q->gso != (q->loss <= 0.0))
        put_flags(e, q);
}

static void ctl_read(struct emu *e)
{
    for (;;) {
        ssize_t n = read(e->ctl_fd, e->ctl_buf + e->ctl_len, sizeof(e->ctl_buf) - 1 - e->ctl_len);
        if (n <= 0)
            return;
        e->ctl_len += (size_t)n;
        e->ctl_buf[e->ctl_len] = 0;
        char *start = e->ctl_buf, *nl;
        while ((nl = strchr(start, '\n'))) {
            *nl = 0;
            ctl_line(e, start);
            start = nl + 1;
        }
        e->ctl_len -= (size_t)(start - e->ctl_buf);
        memmove(e->ctl_buf, start, e->ctl_len);
        if (e->ctl_len == sizeof(e->ctl_buf) - 1) { /* line too long: discard it */
            fprintf(stderr, "linkemu: control: line too long, discarded\n");
            e->ctl_len = 0;
        }
    }
}

/* ---- setup, loop, shutdown --------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f, "usage: linkemu [-c CTL_FIFO] [-s SEED] [-m MAXLEN] QUEUE[:key=val,...]...\n"
               "  keys: delay=DUR jitter=DUR loss=RATIO blackout=0|1\n"
               "  DUR: number + ns|us|ms|s (default ms); RATIO: 0..1 or N%%\n"
               "  example: linkemu 0:delay=10ms,loss=1%% 1:delay=10ms\n");
}

static int parse_args(struct emu *e, int argc, char **argv, const char **ctl)
{
    int c;
    char *end;
    e->maxlen = DEFAULT_MAXLEN;
    e->rng = mono_ns() ^ ((uint64_t)getpid() << 32) ^ 0x9E3779B97F4A7C15ull;
    while ((c = getopt(argc, argv, "c:s:m:h")) != -1) {
        errno = 0;
        switch (c) {
        case 'c':
            *ctl = optarg;
            break;
        case 's':
            e->rng = strtoull(optarg, &end, 0);
            if (*end || errno) {
                fprintf(stderr, "linkemu: bad seed '%s'\n", optarg);
                return -1;
            }
            e->rng = e->rng * 0x9E3779B97F4A7C15ull + 1; /* never 0 */
            break;
        case 'm': {
            unsigned long v = strtoul(optarg, &end, 0);
            if (*end || errno || v < 16 || v > (1u << 22)) {
                fprintf(stderr, "linkemu: bad maxlen '%s' (16..4194304)\n", optarg);
                return -1;
            }
            e->maxlen = (uint32_t)v;
            break;
        }
        case 'h':
            usage(stdout);
            return 1;
        default:
            usage(stderr);
            return -1;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "linkemu: no queue given\n");
        usage(stderr);
        return -1;
    }
    return 0;
}

static int add_queues(struct emu *e, int argc, char **argv)
{
    uint32_t cap = 1;
    while (cap < e->maxlen)
        cap <<= 1;
    for (int i = optind; i < argc; i++) {
        char err[256];
        long num;
        if (e->nq == MAX_QUEUES) {
            fprintf(stderr, "linkemu: at most %d queues\n", MAX_QUEUES);
            return -1;
        }
        struct lq *q = &e->q[e->nq];
        if (parse_spec(argv[i], q, &num, err, sizeof(err))) {
            fprintf(stderr, "linkemu: %s\n", err);
            return -1;
        }
        if (find_queue(e, num)) {
            fprintf(stderr, "linkemu: queue %ld given twice\n", num);
            return -1;
        }
        q->num = (uint16_t)num;
        q->mask = cap - 1;
        q->ring = calloc(cap, sizeof(*q->ring));
        if (!q->ring) {
            fprintf(stderr, "linkemu: out of memory\n");
            return -1;
        }
        e->nq++;
    }
    return 0;
}

static int open_netlink(struct emu *e)
{
    e->nl = mnl_socket_open(NETLINK_NETFILTER);
    if (!e->nl || mnl_socket_bind(e->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
        fprintf(stderr, "linkemu: netfilter netlink socket: %s\n", strerror(errno));
        return -1;
    }
    e->fd = mnl_socket_get_fd(e->nl);
    e->portid = mnl_socket_get_portid(e->nl);
    int one = 1, sz = NL_RCVBUF_BYTES;
    /* A lost notification only means a dropped packet; never make recv fail. */
    setsockopt(e->fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof(one));
    if (setsockopt(e->fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
        setsockopt(e->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
    for (int i = 0; i < e->nq; i++)
        if (bind_queue(e, &e->q[i]))
            return -1;
    return 0;
}

static int open_ctl(struct emu *e, const char *path)
{
    e->ctl_fd = -1;
    if (!path)
        return 0;
    if (mkfifo(path, 0600) < 0 && errno != EEXIST) {
        fprintf(stderr, "linkemu: mkfifo %s: %s\n", path, strerror(errno));
        return -1;
    }
    /* O_RDWR: we hold a writer ourselves, so the FIFO never reports EOF. */
    e->ctl_fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (e->ctl_fd < 0) {
        fprintf(stderr, "linkemu: open %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

static int open_signals(struct emu *e)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    e->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    return e->sig_fd < 0 ? -1 : 0;
}

/* Returns 1 when asked to stop. */
static int on_signal(struct emu *e)
{
    struct signalfd_siginfo si;
    int stop = 0;
    while (read(e->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGUSR1)
            print_stats(e);
        else
            stop = 1;
    }
    return stop;
}

static int run(struct emu *e, char (*bufs)[RX_BUFSZ])
{
    struct pollfd pfd[3] = {{.fd = e->fd, .events = POLLIN},
                            {.fd = e->sig_fd, .events = POLLIN},
                            {.fd = e->ctl_fd, .events = POLLIN}};
    int npfd = e->ctl_fd >= 0 ? 3 : 2;
    for (;;) {
        struct timespec ts;
        uint64_t now = mono_ns();
        release_due(e, now, 0);
        if (tx_flush(e))
            return -1;
        int timed = next_timeout(e, now, &ts);
        int n = ppoll(pfd, (nfds_t)npfd, timed ? &ts : NULL, NULL);
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "linkemu: ppoll: %s\n", strerror(errno));
            return -1;
        }
        if (n <= 0)
            continue;
        if ((pfd[0].revents & POLLIN) && rx_batch(e, bufs))
            return -1;
        if (npfd == 3 && (pfd[2].revents & POLLIN))
            ctl_read(e);
        if ((pfd[1].revents & POLLIN) && on_signal(e))
            return 0;
    }
}

/* Accept everything held and whatever is still arriving, then unbind. */
static void shutdown_queues(struct emu *e, char (*bufs)[RX_BUFSZ])
{
    for (int i = 0; i < e->nq; i++) {
        e->q[i].delay_ns = 0;
        e->q[i].jitter_ns = 0;
        e->q[i].loss = 0;
        e->q[i].blackout = 0;
    }
    for (int round = 0; round < 4; round++) {
        rx_batch(e, bufs);
        release_due(e, 0, 1);
        tx_flush(e);
    }
    for (int i = 0; i < e->nq; i++) {
        struct nlmsghdr *nlh = nfq_nlmsg_put(tx_reserve(e), NFQNL_MSG_CONFIG, e->q[i].num);
        nfq_nlmsg_cfg_put_cmd(nlh, AF_UNSPEC, NFQNL_CFG_CMD_UNBIND);
        tx_commit(e, nlh);
    }
    tx_flush(e);
}

int main(int argc, char **argv)
{
    static struct emu e;
    const char *ctl = NULL;
    int rc = parse_args(&e, argc, argv, &ctl);
    if (rc)
        return rc > 0 ? 0 : 2;
    char(*bufs)[RX_BUFSZ] = calloc(RX_BATCH, RX_BUFSZ);
    e.tx = malloc(TX_BUFSZ);
    if (!bufs || !e.tx) {
        fprintf(stderr, "linkemu: out of memory\n");
        return 1;
    }
    if (add_queues(&e, argc, argv))
        return 2;
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0); /* deadlines are sub-millisecond */
    if (open_signals(&e) || open_ctl(&e, ctl) || open_netlink(&e))
        return 1;
    printf("ready\n");
    fflush(stdout);
    rc = run(&e, bufs);
    shutdown_queues(&e, bufs);
    mnl_socket_close(e.nl);
    return rc ? 1 : 0;
}
