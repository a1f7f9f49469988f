/*
 * tcp_sim.c - TCP engines on simnet nodes, and a bulk-transfer app whose
 * data the receiver checks with SHA-256. See tcp_sim.h.
 */
#include "tcp_sim.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "pcap.h"
#include "tcp_int.h"
#include "wire_tcp.h"

#define MAX_CONNS 4
#define CHUNK     65536

struct app {
    uint64_t to_send, written, received;
    uint64_t rng;
    uint32_t chunk_off, chunk_len;
    EVP_MD_CTX *sha_out, *sha_in;
    bool shut, eof, closed;
    int close_err;
    uint64_t eof_time;
};

struct host {
    struct harness *h;
    int node;
    struct mpx_addr addr;
    bool listening;
    uint16_t port;
    struct mpx_tcp_config cfg;
    struct mpx_tcp_conn *conn[MAX_CONNS];
    struct app app[MAX_CONNS];
    int n;
};

struct harness {
    struct mpx_sim *sim;
    struct host host[2];
    const struct tcp_bulk_params *p;
    uint8_t secret[32];
    uint8_t pkt[MPX_SIM_MAX_PKT];
    uint8_t chunk[CHUNK];
    uint8_t rbuf[CHUNK];
    struct mpx_pcap *pcap;
};

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static void fill_chunk(struct app *a, uint8_t *buf, uint32_t n)
{
    for (uint32_t i = 0; i < n; i += 8) {
        uint64_t v = xorshift(&a->rng);
        uint32_t k = n - i < 8 ? n - i : 8;
        memcpy(buf + i, &v, k);
    }
}

static void flush(struct host *ho, struct mpx_tcp_conn *c, uint64_t now)
{
    struct harness *h = ho->h;
    for (int guard = 0; guard < 100000; guard++) {
        int n = mpx_tcp_output(c, h->pkt, sizeof(h->pkt), now);
        if (n <= 0)
            break;
        mpx_sim_send(h->sim, ho->node, h->pkt, (size_t)n);
    }
}

static void app_write(struct harness *h, struct mpx_tcp_conn *c, struct app *a, uint64_t now)
{
    while (a->written < a->to_send) {
        if (a->chunk_off == a->chunk_len) {
            uint64_t left = a->to_send - a->written;
            a->chunk_len = left < CHUNK ? (uint32_t)left : CHUNK;
            a->chunk_off = 0;
            fill_chunk(a, h->chunk, a->chunk_len);
        }
        long n = mpx_tcp_send(c, h->chunk + a->chunk_off, a->chunk_len - a->chunk_off, now);
        if (n <= 0)
            return;
        EVP_DigestUpdate(a->sha_out, h->chunk + a->chunk_off, (size_t)n);
        a->chunk_off += (uint32_t)n;
        a->written += (uint64_t)n;
    }
    if (!a->shut && mpx_tcp_get_state(c) != MPX_TCP_SYN_SENT) {
        a->shut = true;
        mpx_tcp_shutdown(c, MPX_TCP_SHUT_WR, now);
    }
}

static void app_read(struct harness *h, struct mpx_tcp_conn *c, struct app *a, uint64_t now)
{
    for (;;) {
        long n = mpx_tcp_recv(c, h->rbuf, sizeof(h->rbuf), now);
        if (n > 0) {
            EVP_DigestUpdate(a->sha_in, h->rbuf, (size_t)n);
            a->received += (uint64_t)n;
            continue;
        }
        if (n == 0 && !a->eof) {
            a->eof = true;
            a->eof_time = now;
        }
        return;
    }
}

static void app_run(struct host *ho, int i, uint64_t now)
{
    struct mpx_tcp_conn *c = ho->conn[i];
    struct app *a = &ho->app[i];
    struct mpx_tcp_event ev;
    while (mpx_tcp_poll_event(c, &ev)) {
        if (ev.type == MPX_TCP_EV_CLOSED) {
            a->closed = true;
            a->close_err = ev.error;
        }
    }
    if (a->closed)
        return;
    enum mpx_tcp_state st = mpx_tcp_get_state(c);
    if (st != MPX_TCP_SYN_SENT && st != MPX_TCP_SYN_RECEIVED)
        app_write(ho->h, c, a, now);
    app_read(ho->h, c, a, now);
    if (a->eof && a->written == a->to_send && !a->shut) {
        a->shut = true;
        mpx_tcp_shutdown(c, MPX_TCP_SHUT_WR, now);
    }
}

static bool tuple_match(const struct mpx_tcp_tuple *t, const struct mpx_pkt *p)
{
    return p->tcp.dport == t->lport && p->tcp.sport == t->rport &&
           mpx_addr_eq(&p->ip.dst, &t->local) && mpx_addr_eq(&p->ip.src, &t->remote);
}

static void app_init(struct harness *h, struct app *a, bool sender)
{
    memset(a, 0, sizeof(*a));
    a->to_send = sender ? h->p->bytes : 0;
    a->rng = h->p->seed * 2654435761u + 12345;
    a->sha_out = EVP_MD_CTX_new();
    a->sha_in = EVP_MD_CTX_new();
    EVP_DigestInit_ex(a->sha_out, EVP_sha256(), NULL);
    EVP_DigestInit_ex(a->sha_in, EVP_sha256(), NULL);
}

static struct mpx_tcp_isn_inputs isn_inputs(struct harness *h)
{
    struct mpx_tcp_isn_inputs in = {
        .secret = h->secret,
        .secret_len = sizeof(h->secret),
        .ts_offset = (uint32_t)mpx_sim_rand(h->sim),
        .use_iss = h->p->use_iss,
        .iss = h->p->iss,
    };
    return in;
}

static int accept_conn(struct host *ho, const struct mpx_pkt *p, uint64_t now)
{
    struct harness *h = ho->h;
    if (ho->n == MAX_CONNS)
        return -1;
    struct mpx_tcp_tuple t = {
        .local = p->ip.dst, .remote = p->ip.src, .lport = p->tcp.dport, .rport = p->tcp.sport};
    struct mpx_tcp_conn *c = malloc(mpx_tcp_conn_size());
    if (!c || mpx_tcp_init(c, &ho->cfg, &t, now) < 0) {
        free(c);
        return -1;
    }
    struct mpx_tcp_isn_inputs in = isn_inputs(h);
    mpx_tcp_accept_syn(c, p, now, &in);
    int i = ho->n++;
    ho->conn[i] = c;
    app_init(h, &ho->app[i], h->p->server_sends);
    return i;
}

static void node_recv(void *ctx, struct mpx_sim *sim, int node, const uint8_t *pkt, size_t len,
                      uint64_t now)
{
    struct host *ho = ctx;
    struct mpx_pkt p;
    (void)sim;
    (void)node;
    if (mpx_pkt_decode(pkt, len, true, &p) < 0)
        return;
    for (int i = 0; i < ho->n; i++) {
        if (tuple_match(mpx_tcp_get_tuple(ho->conn[i]), &p)) {
            mpx_tcp_input(ho->conn[i], &p, now);
            app_run(ho, i, now);
            flush(ho, ho->conn[i], now);
            return;
        }
    }
    if (ho->listening && p.tcp.dport == ho->port &&
        (p.tcp.flags & (MPX_TH_SYN | MPX_TH_ACK | MPX_TH_RST)) == MPX_TH_SYN) {
        int i = accept_conn(ho, &p, now);
        if (i >= 0)
            flush(ho, ho->conn[i], now);
        return;
    }
    int n = mpx_tcp_reply_rst(&p, ho->h->pkt, sizeof(ho->h->pkt)); /* no such connection */
    if (n > 0)
        mpx_sim_send(ho->h->sim, ho->node, ho->h->pkt, (size_t)n);
}

static uint64_t node_deadline(void *ctx)
{
    struct host *ho = ctx;
    uint64_t t = MPX_SIM_NEVER;
    for (int i = 0; i < ho->n; i++) {
        uint64_t d = mpx_tcp_next_deadline(ho->conn[i]);
        if (d < t)
            t = d;
    }
    return t;
}

static void node_timer(void *ctx, struct mpx_sim *sim, int node, uint64_t now)
{
    struct host *ho = ctx;
    (void)sim;
    (void)node;
    for (int i = 0; i < ho->n; i++) {
        if (mpx_tcp_next_deadline(ho->conn[i]) <= now) {
            mpx_tcp_on_timer(ho->conn[i], now);
            app_run(ho, i, now);
            flush(ho, ho->conn[i], now);
        }
    }
}

static const struct mpx_sim_node_ops node_ops = {
    .recv = node_recv,
    .next_deadline = node_deadline,
    .on_timer = node_timer,
};

static bool receiver_done(void *arg, struct mpx_sim *sim)
{
    struct harness *h = arg;
    struct host *rx = &h->host[h->p->server_sends ? 0 : 1];
    (void)sim;
    return rx->n > 0 && rx->app[0].eof;
}

static bool all_quiet(void *arg, struct mpx_sim *sim)
{
    struct harness *h = arg;
    (void)sim;
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < h->host[k].n; i++) {
            enum mpx_tcp_state s = mpx_tcp_get_state(h->host[k].conn[i]);
            if (s != MPX_TCP_CLOSED && s != MPX_TCP_TIME_WAIT)
                return false;
        }
    return true;
}

static void link_cfg(const struct tcp_bulk_params *p, struct mpx_sim_dir_cfg *d, bool data_dir)
{
    memset(d, 0, sizeof(*d));
    d->delay_ns = p->delay_ns;
    d->rate_bps = p->rate_bps;
    if (p->rate_bps) {
        uint64_t bdp = p->rate_bps / 8 * (2 * p->delay_ns) / MPX_NS_PER_S;
        d->queue_bytes = p->queue_bytes ? p->queue_bytes : bdp + 65536;
    }
    d->loss = data_dir ? p->loss : p->ack_loss;
    if (data_dir) {
        d->reorder_prob = p->reorder_prob;
        d->reorder_depth = p->reorder_depth;
        d->dup_prob = p->dup_prob;
        d->ge = p->ge;
        d->jitter_ns = p->jitter_ns;
        d->jitter_reorders = p->jitter_ns > 0;
    }
}

static int setup(struct harness *h, const struct tcp_bulk_params *p)
{
    h->p = p;
    h->sim = mpx_sim_new(p->seed);
    if (!h->sim)
        return MPX_ERR_NOMEM;
    for (int i = 0; i < (int)sizeof(h->secret); i++)
        h->secret[i] = (uint8_t)(p->seed + (uint64_t)i * 7);
    for (int k = 0; k < 2; k++) {
        struct host *ho = &h->host[k];
        ho->h = h;
        ho->addr = mpx_addr_v4(0x0a000001u + (uint32_t)k);
        mpx_tcp_config_default(&ho->cfg);
        if (p->cc)
            ho->cfg.cc = mpx_cc_find(p->cc);
        ho->cfg.max_seg = p->max_seg;
        ho->cfg.sack = !p->no_sack;
        ho->cfg.timestamps = !p->no_ts;
        if (p->rmem_max) {
            ho->cfg.rmem_max = p->rmem_max;
            if (ho->cfg.rmem_init > p->rmem_max)
                ho->cfg.rmem_init = p->rmem_max;
        }
        ho->node = mpx_sim_node_add(h->sim, &node_ops, ho);
    }
    h->host[1].listening = true;
    h->host[1].port = 80;
    struct mpx_sim_dir_cfg ab, ba;
    link_cfg(p, &ab, !p->server_sends);
    link_cfg(p, &ba, p->server_sends);
    if (getenv("MPX_TCP_SIM_PCAP")) { /* debugging aid */
        h->pcap = mpx_pcap_open(getenv("MPX_TCP_SIM_PCAP"), 128);
        if (h->pcap)
            mpx_sim_set_pcap(h->sim, -1, h->pcap, MPX_SIM_CAP_TX | MPX_SIM_CAP_RX);
    }
    int link = mpx_sim_link_add(h->sim, 0, &h->host[0].addr, 1, &h->host[1].addr, &ab, &ba);
    if (link >= 0 && p->blackout_end)
        mpx_sim_link_blackout(h->sim, link, MPX_SIM_BOTH, p->blackout_start, p->blackout_end);
    return link;
}

static int start_client(struct harness *h)
{
    struct host *cl = &h->host[0];
    struct mpx_tcp_tuple t = {.local = cl->addr,
                              .remote = h->host[1].addr,
                              .lport = 40000,
                              .rport = h->p->rport ? h->p->rport : 80};
    struct mpx_tcp_conn *c = malloc(mpx_tcp_conn_size());
    if (!c || mpx_tcp_init(c, &cl->cfg, &t, 0) < 0) {
        free(c);
        return MPX_ERR_NOMEM;
    }
    struct mpx_tcp_isn_inputs in = isn_inputs(h);
    int rv = mpx_tcp_connect(c, 0, &in);
    if (rv < 0) {
        mpx_tcp_free(c);
        free(c);
        return rv;
    }
    cl->conn[0] = c;
    cl->n = 1;
    app_init(h, &cl->app[0], !h->p->server_sends);
    flush(cl, c, 0);
    mpx_sim_node_kick(h->sim, cl->node);
    return 0;
}

static void collect(struct harness *h, struct tcp_bulk_result *r)
{
    struct host *tx = &h->host[h->p->server_sends ? 1 : 0];
    struct host *rx = &h->host[h->p->server_sends ? 0 : 1];
    uint8_t d1[32], d2[32];
    unsigned l1 = 0, l2 = 0;
    r->client_error = h->host[0].n && h->host[0].app[0].closed ? h->host[0].app[0].close_err : 1;
    if (!tx->n || !rx->n)
        return;
    struct app *ta = &tx->app[0], *ra = &rx->app[0];
    r->received = ra->received;
    r->completed = ra->eof && ra->received == h->p->bytes;
    EVP_DigestFinal_ex(ta->sha_out, d1, &l1);
    EVP_DigestFinal_ex(ra->sha_in, d2, &l2);
    r->hash_ok = l1 == 32 && l2 == 32 && memcmp(d1, d2, 32) == 0;
    r->duration_ns = ra->eof_time;
    if (r->duration_ns)
        r->goodput_bps = (double)ra->received * 8e9 / (double)r->duration_ns;
    r->snd_mib = *mpx_tcp_get_mib(tx->conn[0]);
    r->rcv_mib = *mpx_tcp_get_mib(rx->conn[0]);
    mpx_tcp_get_info(tx->conn[0], &r->snd_info, mpx_sim_now(h->sim));
    mpx_tcp_get_info(rx->conn[0], &r->rcv_info, mpx_sim_now(h->sim));
}

static void debug_dump(struct harness *h)
{
    for (int d = 0; d < 2; d++) {
        const struct mpx_sim_counters *k = mpx_sim_link_counters(h->sim, 0, (enum mpx_sim_dir)d);
        fprintf(stderr, "dir %d sent %llu delivered %llu loss %llu queue %llu burst %llu\n", d,
                (unsigned long long)k->sent_pkts, (unsigned long long)k->delivered_pkts,
                (unsigned long long)k->drop_loss, (unsigned long long)k->drop_queue,
                (unsigned long long)k->drop_burst);
    }
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < h->host[k].n; i++) {
            const struct mpx_tcp_conn *c = h->host[k].conn[i];
            fprintf(stderr,
                    "host %d: %s una %u nxt %u max %u rcv_nxt %u rcv_adv %u rcvbuf %u/%u "
                    "n_ooo %u wnd %u ca %d in %llu out %llu paws %llu oow %llu tsr %u\n",
                    k, mpx_tcp_state_name(c->state), c->snd_una, c->snd_nxt, c->snd_max, c->rcv_nxt,
                    c->rcv_adv, c->rcvbuf.len, c->rcvbuf.cap, c->n_ooo, c->snd_wnd, c->ca_state,
                    (unsigned long long)c->segs_in, (unsigned long long)c->segs_out,
                    (unsigned long long)c->mib.PAWSEstab,
                    (unsigned long long)c->mib.InDropOutOfWindow, c->ts_recent);
        }
}

static void teardown(struct harness *h)
{
    if (getenv("MPX_TCP_SIM_DEBUG"))
        debug_dump(h);
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < h->host[k].n; i++) {
            mpx_tcp_free(h->host[k].conn[i]);
            free(h->host[k].conn[i]);
            EVP_MD_CTX_free(h->host[k].app[i].sha_out);
            EVP_MD_CTX_free(h->host[k].app[i].sha_in);
        }
    mpx_sim_del(h->sim);
    if (h->pcap)
        mpx_pcap_close(h->pcap);
}

int tcp_sim_bulk(const struct tcp_bulk_params *p, struct tcp_bulk_result *r)
{
    struct harness *h = calloc(1, sizeof(*h));
    memset(r, 0, sizeof(*r));
    if (!h)
        return MPX_ERR_NOMEM;
    int rv = setup(h, p);
    if (rv >= 0)
        rv = start_client(h);
    if (rv >= 0) {
        uint64_t limit = p->time_limit_ns ? p->time_limit_ns : 120 * MPX_NS_PER_S;
        mpx_sim_run_cond(h->sim, receiver_done, h, limit);
        /* let the close handshake finish (TIME_WAIT counts as done) */
        mpx_sim_run_cond(h->sim, all_quiet, h, mpx_sim_now(h->sim) + 30 * MPX_NS_PER_S);
        r->both_closed = all_quiet(h, h->sim);
        collect(h, r);
        rv = 0;
    }
    teardown(h);
    free(h);
    return rv;
}
