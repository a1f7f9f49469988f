/*
 * mptcp_sim.c - two MPTCP stacks on simnet with a bulk-transfer app whose
 * data the receiver checks with SHA-256. See mptcp_sim.h.
 */
#include "mptcp_sim.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

#define CHUNK 65536

struct mhost {
    struct msim *h;
    int node;
    struct mpx_stack *st;
    uint32_t conn;
    bool sender;
    uint64_t to_send, written, received;
    uint64_t rng;
    uint32_t chunk_off, chunk_len;
    EVP_MD_CTX *sha, *sha_in;
    bool shut, eof, closed_ok, closed;
    int close_err;
    uint64_t eof_time, last_rx, max_gap;
    uint64_t warm_bytes, warm_time;
    int est_events, sub_est;
    uint64_t read_at; /* slow reader: next read (UINT64_MAX = none due) */
};

struct msim {
    struct mpx_sim *sim;
    const struct msim_params *p;
    struct mhost host[2];
    int link[MSIM_MAX_PATHS];
    uint64_t probe[MSIM_MAX_PATHS];
    struct mpx_addr addr[2][MSIM_MAX_PATHS];
    uint8_t pkt[MPX_SIM_MAX_PKT];
    uint8_t chunk[CHUNK];
    uint8_t rbuf[CHUNK];
};

struct mpx_sim *msim_sim(struct msim *h)
{
    return h->sim;
}

int msim_link(struct msim *h, int k)
{
    return h->link[k];
}

int msim_node(struct msim *h, int k)
{
    return h->host[k].node;
}

struct mpx_stack *msim_stack(struct msim *h, int k)
{
    return h->host[k].st;
}

uint32_t msim_conn(struct msim *h, int k)
{
    return h->host[k].conn;
}

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static uint64_t host_rand(void *ctx)
{
    struct mhost *ho = ctx;
    return mpx_sim_rand(ho->h->sim);
}

static void flush(struct mhost *ho, uint64_t now)
{
    for (int guard = 0; guard < 1000000; guard++) {
        int n = mpx_stack_output(ho->st, ho->h->pkt, sizeof(ho->h->pkt), now);
        if (n <= 0)
            break;
        const struct msim_params *p = ho->h->p;
        if (p->filter && !p->filter(ho->h, p->hook_arg, ho == &ho->h->host[0] ? 0 : 1, ho->h->pkt,
                                    (size_t)n, now))
            continue;
        mpx_sim_send(ho->h->sim, ho->node, ho->h->pkt, (size_t)n);
    }
}

static void app_write(struct mhost *ho, uint64_t now)
{
    struct msim *h = ho->h;
    while (ho->written < ho->to_send) {
        if (ho->chunk_off == ho->chunk_len) {
            uint64_t left = ho->to_send - ho->written;
            ho->chunk_len = left < CHUNK ? (uint32_t)left : CHUNK;
            ho->chunk_off = 0;
            for (uint32_t i = 0; i < ho->chunk_len; i += 8) {
                uint64_t v = xorshift(&ho->rng);
                uint32_t k = ho->chunk_len - i < 8 ? ho->chunk_len - i : 8;
                memcpy(h->chunk + i, &v, k);
            }
        }
        long n = mpx_conn_send(ho->st, ho->conn, h->chunk + ho->chunk_off,
                               ho->chunk_len - ho->chunk_off, now);
        if (n <= 0)
            return;
        EVP_DigestUpdate(ho->sha, h->chunk + ho->chunk_off, (size_t)n);
        ho->chunk_off += (uint32_t)n;
        ho->written += (uint64_t)n;
    }
    if (!ho->shut) {
        ho->shut = true;
        mpx_conn_shutdown(ho->st, ho->conn, now);
    }
}

/* Bytes a slow reader (reader_bps) may still read at |now|; when none,
 * ho->read_at is when the next 64 KiB step is due. */
static uint64_t read_budget(struct mhost *ho, uint64_t now)
{
    uint64_t bps = ho->h->p->reader_bps;
    ho->read_at = UINT64_MAX;
    if (!bps)
        return UINT64_MAX;
    uint64_t allowed = (uint64_t)((double)now * (double)bps / 8.0 / 1e9);
    allowed = allowed / CHUNK * CHUNK;
    if (allowed > ho->received)
        return allowed - ho->received;
    ho->read_at = (uint64_t)((double)(ho->received + CHUNK) * 8.0 * 1e9 / (double)bps) + 1;
    return 0;
}

static void app_read(struct mhost *ho, uint64_t now)
{
    struct msim *h = ho->h;
    for (;;) {
        uint64_t budget = read_budget(ho, now);
        if (!budget)
            return;
        size_t want = budget < sizeof(h->rbuf) ? (size_t)budget : sizeof(h->rbuf);
        long n = mpx_conn_recv(ho->st, ho->conn, h->rbuf, want, now);
        if (n > 0) {
            EVP_DigestUpdate(ho->sha_in, h->rbuf, (size_t)n);
            if (ho->received && now - ho->last_rx > ho->max_gap &&
                ho->last_rx >= ho->h->p->gap_from_ns)
                ho->max_gap = now - ho->last_rx;
            ho->last_rx = now;
            uint64_t warm = ho->h->p->warmup_ns ? ho->h->p->warmup_ns : MPX_NS_PER_S;
            if (!ho->warm_time && now >= warm) {
                ho->warm_time = now;
                ho->warm_bytes = ho->received;
            }
            ho->received += (uint64_t)n;
            continue;
        }
        if (n == 0 && !ho->eof) {
            ho->eof = true;
            ho->eof_time = now;
        }
        return;
    }
}

static void join_paths(struct mhost *ho, uint64_t now)
{
    struct msim *h = ho->h;
    for (int k = 1; k < h->p->n_paths; k++)
        mpx_conn_add_subflow(ho->st, ho->conn, &h->addr[0][k], &h->addr[1][k], 80,
                             h->p->path[k].backup, now);
}

static void app_run(struct mhost *ho, uint64_t now)
{
    struct mpx_stack_event ev;
    bool client = ho == &ho->h->host[0];
    while (mpx_stack_poll_event(ho->st, &ev)) {
        if (ev.type == MPX_SEV_CONN_ESTABLISHED) {
            ho->est_events++;
            if (client && ho->h->p->join_paths)
                join_paths(ho, now);
        } else if (ev.type == MPX_SEV_SUB_ESTABLISHED) {
            ho->sub_est++;
        } else if (ev.type == MPX_SEV_CONN_CLOSED && ev.conn == ho->conn) {
            ho->closed = true;
            ho->close_err = ev.error;
        }
    }
    if (!client && !ho->conn) {
        long id = mpx_stack_accept(ho->st, 80);
        if (id <= 0)
            return;
        ho->conn = (uint32_t)id;
    }
    if (!ho->conn)
        return;
    if (!ho->closed)
        app_write(ho, now);
    app_read(ho, now);
}

static void node_recv(void *ctx, struct mpx_sim *sim, int node, const uint8_t *pkt, size_t len,
                      uint64_t now)
{
    struct mhost *ho = ctx;
    (void)sim;
    (void)node;
    mpx_stack_input(ho->st, pkt, len, now);
    app_run(ho, now);
    flush(ho, now);
}

static uint64_t node_deadline(void *ctx)
{
    struct mhost *ho = ctx;
    uint64_t d = mpx_stack_next_deadline(ho->st);
    return ho->conn && ho->read_at < d ? ho->read_at : d;
}

static void node_timer(void *ctx, struct mpx_sim *sim, int node, uint64_t now)
{
    struct mhost *ho = ctx;
    (void)sim;
    (void)node;
    mpx_stack_on_timer(ho->st, now);
    app_run(ho, now);
    flush(ho, now);
}

static const struct mpx_sim_node_ops node_ops = {
    .recv = node_recv,
    .next_deadline = node_deadline,
    .on_timer = node_timer,
};

static void dir_cfg(const struct msim_path *pa, struct mpx_sim_dir_cfg *d, bool data_dir)
{
    memset(d, 0, sizeof(*d));
    d->delay_ns = pa->delay_ns;
    d->rate_bps = pa->rate_bps;
    if (pa->rate_bps) {
        uint64_t bdp = pa->rate_bps / 8 * (2 * pa->delay_ns) / MPX_NS_PER_S;
        d->queue_bytes = pa->queue_bytes ? pa->queue_bytes : bdp + 65536;
    }
    if (data_dir)
        d->loss = pa->loss;
}

static void set_down(void *arg, struct mpx_sim *sim, uint64_t now)
{
    (void)now;
    mpx_sim_link_set_up(sim, (int)(intptr_t)arg, false);
}

static void set_up(void *arg, struct mpx_sim *sim, uint64_t now)
{
    (void)now;
    mpx_sim_link_set_up(sim, (int)(intptr_t)arg, true);
}

static enum mpx_sim_dir data_dir(const struct msim *h)
{
    return h->p->server_sends ? MPX_SIM_BA : MPX_SIM_AB;
}

static void probe(void *arg, struct mpx_sim *sim, uint64_t now)
{
    struct msim *h = arg;
    (void)now;
    for (int i = 0; i < h->p->n_paths; i++) {
        const struct mpx_sim_counters *c = mpx_sim_link_counters(sim, h->link[i], data_dir(h));
        h->probe[i] = c ? c->delivered_bytes : 0;
    }
}

static int host_init(struct msim *h, int k, bool no_mptcp, bool csum)
{
    const struct msim_params *p = h->p;
    struct mhost *ho = &h->host[k];
    struct mpx_stack_config cfg;
    mpx_stack_config_default(&cfg);
    cfg.mptcp_enabled = !no_mptcp;
    cfg.checksum = csum;
    cfg.rand = host_rand;
    cfg.rand_ctx = ho;
    cfg.tcp.timewait = MPX_NS_PER_S;
    if (p->rcvbuf)
        cfg.rcvbuf = p->rcvbuf;
    if (p->max_subflows)
        cfg.max_subflows = p->max_subflows;
    cfg.scheduler = p->scheduler;
    cfg.dss_elide = !p->no_elide;
    cfg.ext_policy = p->ext_policy[k];
    cfg.ext_ignore_like_linux = k == 1 && p->ext_server_like_linux;
    if (p->ext_grace_ns)
        cfg.ext_grace_ns = p->ext_grace_ns;
    if (p->cc)
        cfg.tcp.cc = mpx_cc_find(p->cc);
    for (int i = 0; i < 32; i++)
        cfg.isn_secret[i] = (uint8_t)(p->seed * 31 + (uint64_t)i + (uint64_t)k * 101);
    ho->h = h;
    ho->st = mpx_stack_new(&cfg);
    if (!ho->st)
        return MPX_ERR_NOMEM;
    for (int i = 0; i < p->n_paths; i++)
        mpx_stack_add_local(ho->st, &h->addr[k][i]);
    ho->sender = p->both_ways || (k == 1) == p->server_sends;
    ho->to_send = ho->sender ? p->bytes : 0;
    ho->rng = p->seed * 2654435761u + 12345;
    ho->sha = EVP_MD_CTX_new();
    ho->sha_in = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ho->sha, EVP_sha256(), NULL);
    EVP_DigestInit_ex(ho->sha_in, EVP_sha256(), NULL);
    if (p->both_ways && k == 1)
        ho->rng ^= 0x5555; /* a different stream the other way */
    ho->node = mpx_sim_node_add(h->sim, &node_ops, ho);
    return ho->node < 0 ? ho->node : 0;
}

static int setup(struct msim *h, const struct msim_params *p)
{
    h->p = p;
    h->sim = mpx_sim_new(p->seed);
    if (!h->sim)
        return MPX_ERR_NOMEM;
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < p->n_paths; i++)
            h->addr[k][i] = mpx_addr_v4(0x0a000001u + ((uint32_t)i << 8) + (uint32_t)k);
    int rv = host_init(h, 0, p->client_no_mptcp, p->client_csum);
    if (rv >= 0)
        rv = host_init(h, 1, p->server_no_mptcp, p->server_csum);
    if (rv < 0)
        return rv;
    mpx_stack_listen(h->host[1].st, 80);
    for (int i = 0; i < p->n_paths; i++) {
        struct mpx_sim_dir_cfg ab, ba;
        dir_cfg(&p->path[i], &ab, !p->server_sends);
        dir_cfg(&p->path[i], &ba, p->server_sends);
        h->link[i] = mpx_sim_link_add(h->sim, 0, &h->addr[0][i], 1, &h->addr[1][i], &ab, &ba);
        if (h->link[i] < 0)
            return h->link[i];
        if (p->path[i].down_at) {
            mpx_sim_at(h->sim, p->path[i].down_at, set_down, (void *)(intptr_t)h->link[i]);
            if (p->path[i].up_at)
                mpx_sim_at(h->sim, p->path[i].up_at, set_up, (void *)(intptr_t)h->link[i]);
        }
    }
    if (p->probe_ns)
        mpx_sim_at(h->sim, p->probe_ns, probe, h);
    if (p->setup_hook)
        p->setup_hook(h, p->hook_arg);
    return 0;
}

static bool receiver_done(void *arg, struct mpx_sim *sim)
{
    struct msim *h = arg;
    (void)sim;
    if (h->p->both_ways)
        return h->host[0].eof && h->host[1].eof;
    return h->host[h->p->server_sends ? 0 : 1].eof;
}

static bool both_closed(void *arg, struct mpx_sim *sim)
{
    struct msim *h = arg;
    (void)sim;
    return h->host[0].closed && h->host[1].closed;
}

static void collect(struct msim *h, struct msim_result *r)
{
    struct mhost *tx = &h->host[h->p->server_sends ? 1 : 0];
    struct mhost *rx = &h->host[h->p->server_sends ? 0 : 1];
    uint8_t d1[32], d2[32];
    unsigned l1 = 0, l2 = 0;
    r->received = rx->received;
    r->completed = rx->eof && rx->received == h->p->bytes;
    EVP_DigestFinal_ex(tx->sha, d1, &l1);
    EVP_DigestFinal_ex(rx->sha_in, d2, &l2);
    r->hash_ok = l1 == 32 && l2 == 32 && memcmp(d1, d2, 32) == 0;
    if (h->p->both_ways) {
        EVP_DigestFinal_ex(rx->sha, d1, &l1);
        EVP_DigestFinal_ex(tx->sha_in, d2, &l2);
        r->hash_ok = r->hash_ok && l1 == 32 && l2 == 32 && memcmp(d1, d2, 32) == 0;
        r->completed = r->completed && tx->eof && tx->received == h->p->bytes;
    }
    r->duration_ns = rx->eof_time;
    if (r->duration_ns)
        r->goodput_bps = (double)rx->received * 8e9 / (double)r->duration_ns;
    r->max_gap_ns = rx->max_gap;
    if (rx->warm_time && rx->eof_time > rx->warm_time)
        r->steady_bps =
            (double)(rx->received - rx->warm_bytes) * 8e9 / (double)(rx->eof_time - rx->warm_time);
    for (int i = 0; i < h->p->n_paths; i++)
        r->path_bytes_probe[i] = h->probe[i];
    r->cmib = *mpx_stack_mib(h->host[0].st);
    r->smib = *mpx_stack_mib(h->host[1].st);
    mpx_stack_tcp_mib(h->host[0].st, &r->ctcp);
    mpx_stack_tcp_mib(h->host[1].st, &r->stcp);
    mpx_conn_get_info(h->host[0].st, h->host[0].conn, &r->cinfo);
    mpx_conn_get_info(h->host[1].st, h->host[1].conn, &r->sinfo);
    for (int i = 0; i < h->p->n_paths; i++) {
        const struct mpx_sim_counters *c = mpx_sim_link_counters(h->sim, h->link[i], data_dir(h));
        r->path_bytes[i] = c ? c->delivered_bytes : 0;
    }
    r->c_events_est = h->host[0].est_events;
    r->s_sub_est = h->host[1].sub_est;
}

int msim_bulk(const struct msim_params *p, struct msim_result *r)
{
    struct msim *h = calloc(1, sizeof(*h));
    memset(r, 0, sizeof(*r));
    if (!h)
        return MPX_ERR_NOMEM;
    int rv = setup(h, p);
    if (rv >= 0) {
        struct mhost *cl = &h->host[0];
        long id = mpx_stack_connect(cl->st, &h->addr[0][0], &h->addr[1][0], 80, 0);
        if (id > 0) {
            cl->conn = (uint32_t)id;
            flush(cl, 0);
            mpx_sim_node_kick(h->sim, cl->node);
            uint64_t limit = p->time_limit_ns ? p->time_limit_ns : 60 * MPX_NS_PER_S;
            mpx_sim_run_cond(h->sim, receiver_done, h, limit);
            /* the receiver closes too; let both ends finish */
            struct mhost *rx = &h->host[p->server_sends ? 0 : 1];
            if (rx->conn)
                mpx_conn_shutdown(rx->st, rx->conn, mpx_sim_now(h->sim));
            flush(rx, mpx_sim_now(h->sim));
            mpx_sim_node_kick(h->sim, rx->node);
            mpx_sim_run_cond(h->sim, both_closed, h, mpx_sim_now(h->sim) + 30 * MPX_NS_PER_S);
            r->both_closed = h->host[0].closed && h->host[1].closed && !h->host[0].close_err &&
                             !h->host[1].close_err;
            collect(h, r);
        } else {
            rv = (int)id;
        }
    }
    for (int k = 0; k < 2; k++) {
        mpx_stack_free(h->host[k].st);
        EVP_MD_CTX_free(h->host[k].sha);
        EVP_MD_CTX_free(h->host[k].sha_in);
    }
    mpx_sim_del(h->sim);
    free(h);
    return rv < 0 ? rv : 0;
}

bool msim_pep_filter(struct msim *h, void *arg, int node, const uint8_t *pkt, size_t len,
                     uint64_t now)
{
    struct msim_pep *pe = arg;
    struct mpx_pkt p;
    struct mpx_addr c1 = mpx_addr_v4(0x0a000101u), s1 = mpx_addr_v4(0x0a000102u);
    if (mpx_pkt_decode(pkt, len, false, &p) < 0)
        return true;
    if (node == 1 && mpx_addr_eq(&p.ip.src, &s1)) {
        pe->last = p;
        pe->last.payload = NULL;
        pe->have = true;
        return true;
    }
    if (node != 0 || !mpx_addr_eq(&p.ip.src, &c1) || !p.payload_len || !pe->have ||
        now < pe->from_ns || now >= pe->until_ns)
        return true;
    struct mpx_ip_hdr ip = pe->last.ip;
    struct mpx_tcp_hdr th = pe->last.tcp;
    th.flags = MPX_TH_ACK;
    th.ack = p.tcp.seq + (uint32_t)p.payload_len;
    th.opts.ts_ecr = p.tcp.opts.ts_val;
    th.opts.present &= ~MPX_TCPO_SACK;
    th.opts.n_sack = 0;
    uint8_t out[256];
    int n = mpx_pkt_encode(out, sizeof(out), &ip, &th, NULL, 0, NULL);
    if (n > 0)
        mpx_sim_send(msim_sim(h), msim_node(h, 1), out, (size_t)n);
    pe->eaten++;
    return false;
}
