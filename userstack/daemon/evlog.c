/*
 * evlog.c - events of mptcpextd: the JSON-lines log (--events FILE), the
 * `monitor` clients, and the periodic per-subflow byte counters that
 * `mptcpext plot` turns into throughput curves.
 *
 * One JSON object per line, "t" in seconds since the epoch (float):
 *   {"t":..,"ev":"established","conn":1,"token":"1a2b3c4d",...}
 *   {"t":..,"ev":"sf_bytes","conn":1,"sf":0,"local":"10.1.1.2:40000",
 *    "remote":"10.1.129.2:5201","locid":0,"remid":0,"backup":false,
 *    "tx":123,"rx":456,"acked":120,"retrans":0,"srtt_us":2100,"cwnd":14480}
 * Event names are `ip mptcp monitor`'s in lower case (created, established,
 * closed, announced, removed, sf_established, sf_closed, fallback,
 * listener_created, listener_closed).
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "engine.h"

int mpxd_evlog_open(struct mpxd *d)
{
    if (!d->cfg.events[0])
        return 0;
    d->events = fopen(d->cfg.events, "w");
    if (!d->events) {
        int e = errno;
        mpxd_log(d, MPX_DLOG_ERROR, "events %s: %s", d->cfg.events, strerror(e));
        return -e;
    }
    /* fully buffered, flushed once per loop step before the loop sleeps
     * (mpxd_evlog_flush): a connection's few events cost one write, not
     * one each on the way to the app's reply (bench/README.md) */
    setvbuf(d->events, NULL, _IOFBF, 1 << 16);
    d->next_tick = 0;
    return 0;
}

void mpxd_evlog_flush(struct mpxd *d)
{
    if (d->events)
        fflush(d->events);
}

void mpxd_evlog_close(struct mpxd *d)
{
    if (d->events)
        fclose(d->events);
    d->events = NULL;
}

void mpxd_json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void ev_name(uint32_t type, char *out, size_t cap)
{
    const char *n = mpx_rpc_event_name(type);
    size_t i;
    for (i = 0; n[i] && i + 1 < cap; i++)
        out[i] = (char)tolower((unsigned char)n[i]);
    out[i] = '\0';
}

static double wall(const struct mpxd *d, uint64_t mono)
{
    return (double)(mono + d->rt_offset) / 1e9;
}

static void log_event(struct mpxd *d, const struct mpx_rpc_event *ev, uint64_t now)
{
    char name[32], a[64];
    FILE *f = d->events;

    ev_name(ev->type, name, sizeof(name));
    fprintf(f, "{\"t\":%.6f,\"ev\":\"%s\",\"conn\":%u,\"token\":\"%08x\"", wall(d, now), name,
            ev->conn, ev->token);
    if (ev->saddr.family)
        fprintf(f, ",\"saddr\":\"%s\"", mpx_rpc_addr_fmt(&ev->saddr, a, sizeof(a)));
    if (ev->daddr.family)
        fprintf(f, ",\"daddr\":\"%s\"", mpx_rpc_addr_fmt(&ev->daddr, a, sizeof(a)));
    if (ev->sport)
        fprintf(f, ",\"sport\":%u", ev->sport);
    if (ev->dport)
        fprintf(f, ",\"dport\":%u", ev->dport);
    if (ev->type == MPX_RPC_EV_SF_ESTABLISHED || ev->type == MPX_RPC_EV_SF_CLOSED ||
        ev->type == MPX_RPC_EV_ANNOUNCED || ev->type == MPX_RPC_EV_REMOVED)
        fprintf(f, ",\"locid\":%u,\"remid\":%u,\"backup\":%s", ev->locid, ev->remid,
                ev->backup ? "true" : "false");
    if (ev->error)
        fprintf(f, ",\"error\":%d", ev->error);
    fputs("}\n", f);
}

void mpxd_event(struct mpxd *d, const struct mpx_rpc_event *in)
{
    struct mpx_rpc_event ev = *in;
    uint64_t now = mpxd_now();
    uid_t owner = ev.conn ? mpxd_conn_owner(d, ev.conn) : (uid_t)-1;

    ev.ts_ns = now + d->rt_offset;
    if (d->events)
        log_event(d, &ev, now);
    mpxd_log(d, MPX_DLOG_DEBUG, "event %s conn %u error %d", mpx_rpc_event_name(ev.type), ev.conn,
             ev.error);
    for (int i = 0; i < MPXD_MAX_CLIENTS; i++) {
        struct mpxd_client *c = &d->clients[i];
        if (!c->used || !c->monitor)
            continue;
        /* a user sees the events of their own connections; root all */
        if (c->uid != 0 && c->uid != owner)
            continue;
        mpxd_rpc_send(d, mpxd_idx((uint16_t)i, c->gen), MPX_RPC_EVENT, c->monitor_id, &ev,
                      sizeof(ev));
    }
}

struct tick_ctx {
    uint64_t now;
};

static void tick_conn(struct mpxd *d, void *arg, uint32_t conn, uid_t uid, uint32_t flags,
                      const struct mpxd_bridge *b, const struct mpxd_listener *l)
{
    struct tick_ctx *t = arg;
    struct mpx_rpc_conn_info ci;
    char a[64], r[64];
    (void)uid;
    (void)flags;
    (void)b;

    if (l || mpx_eng_conn_info(d->eng, conn, &ci, t->now) < 0)
        return;
    for (unsigned i = 0; i < ci.n_sf; i++) {
        const struct mpx_rpc_sf *s = &ci.sf[i];
        char la[48], ra[48];
        mpx_rpc_addr_fmt(&s->local, la, sizeof(la));
        mpx_rpc_addr_fmt(&s->remote, ra, sizeof(ra));
        snprintf(a, sizeof(a), s->local.family == 6 ? "[%s]:%u" : "%s:%u", la, s->lport);
        snprintf(r, sizeof(r), s->remote.family == 6 ? "[%s]:%u" : "%s:%u", ra, s->rport);
        fprintf(d->events,
                "{\"t\":%.6f,\"ev\":\"sf_bytes\",\"conn\":%u,\"sf\":%u,\"local\":\"%s\","
                "\"remote\":\"%s\",\"locid\":%u,\"remid\":%u,\"backup\":%s,\"tx\":%llu,"
                "\"rx\":%llu,\"acked\":%llu,\"retrans\":%llu,\"srtt_us\":%u,\"cwnd\":%u}\n",
                wall(d, t->now), conn, i, a, r, s->local_id, s->remote_id,
                (s->flags & MPX_RPC_SF_F_BACKUP) ? "true" : "false",
                (unsigned long long)s->bytes_sent, (unsigned long long)s->bytes_received,
                (unsigned long long)s->bytes_acked, (unsigned long long)s->bytes_retrans,
                s->srtt_us, s->snd_cwnd);
    }
}

uint64_t mpxd_evlog_tick(struct mpxd *d, uint64_t now)
{
    uint64_t ivl = (uint64_t)d->cfg.events_interval_ms * 1000000ull;
    struct tick_ctx t = {now};

    if (!d->events || !ivl)
        return UINT64_MAX;
    if (now < d->next_tick)
        return d->next_tick;
    mpxd_conns_foreach(d, tick_conn, &t);
    /* keep the period, but never schedule in the past after a long stall */
    if (d->next_tick + ivl > now)
        return d->next_tick + ivl;
    return now + ivl;
}
