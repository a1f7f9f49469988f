/*
 * show.c - the read-mostly verbs of mptcpext: conn (ss -M), endpoint and
 * limits (ip mptcp endpoint / limits: same syntax, same text), counters
 * (nstat), monitor (ip mptcp monitor). Text by default, --json for tools.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "mptcp_pm.h"

static const char *tcp_state(uint8_t s)
{
    static const char *const names[] = {"CLOSE",   "LISTEN",     "SYN-SENT",   "SYN-RECV",
                                        "ESTAB",   "FIN-WAIT-1", "FIN-WAIT-2", "CLOSE-WAIT",
                                        "CLOSING", "LAST-ACK",   "TIME-WAIT"};
    return s < sizeof(names) / sizeof(names[0]) ? names[s] : "UNKNOWN";
}

static const char *key_state(uint8_t k)
{
    static const char *const names[] = {"none",        "rfc8684",      "ext-wait",  "ext-active",
                                        "ext-pending", "ext-rotating", "ext-failed"};
    _Static_assert(sizeof(names) / sizeof(names[0]) == MPX_RPC_KEY_STATE_MAX + 1,
                   "a name for every key state");
    return k <= MPX_RPC_KEY_STATE_MAX ? names[k] : "?";
}

/* The external key's fingerprint (first 8 bytes of SHA-256 of the key,
 * never the key): equal on both ends when they share the key. "" if none. */
static const char *key_fpr(const struct mpx_rpc_conn_info *ci, char *buf, size_t cap)
{
    static const uint8_t zero[sizeof(ci->key_fpr)];
    buf[0] = '\0';
    if (memcmp(ci->key_fpr, zero, sizeof(zero)) == 0 || cap < 2 * sizeof(zero) + 1)
        return buf;
    for (size_t i = 0; i < sizeof(zero); i++)
        snprintf(buf + 2 * i, cap - 2 * i, "%02x", ci->key_fpr[i]);
    return buf;
}

/* "ext-active fp:1a2b3c4d5e6f7081 gen:0" (text form of `conn`) */
static const char *key_text(const struct mpx_rpc_conn_info *ci, char *buf, size_t cap)
{
    char fp[24];
    if (*key_fpr(ci, fp, sizeof(fp)))
        snprintf(buf, cap, "%s fp:%s gen:%u", key_state(ci->key_state), fp, ci->key_gen);
    else
        snprintf(buf, cap, "%s", key_state(ci->key_state));
    return buf;
}

static const char *policy_name(uint8_t p)
{
    static const char *const names[] = {"default", "never", "prefer", "require"};
    return p <= MPX_RPC_EXTKEY_MAX ? names[p] : "?";
}

static const char *conn_state(const struct mpx_rpc_conn_info *ci)
{
    if (ci->flags & MPX_RPC_CONN_F_LISTEN)
        return "LISTEN";
    if (ci->flags & MPX_RPC_CONN_F_CLOSED)
        return "CLOSE";
    /* the connection-level close (RFC 8684 section 3.3.3) in TCP's state
     * names, as ss -M shows an MPTCP socket */
    switch (ci->fin) {
    case MPX_RPC_CONN_FIN_SENT:
        return "FIN-WAIT-1";
    case MPX_RPC_CONN_FIN_SENT | MPX_RPC_CONN_FIN_ACKED:
        return "FIN-WAIT-2";
    case MPX_RPC_CONN_FIN_IN:
        return "CLOSE-WAIT";
    case MPX_RPC_CONN_FIN_IN | MPX_RPC_CONN_FIN_SENT:
        return "LAST-ACK";
    case MPX_RPC_CONN_FIN_ALL:
        return "TIME-WAIT";
    default:
        break;
    }
    if (ci->flags & MPX_RPC_CONN_F_ESTABLISHED)
        return "ESTAB";
    return (ci->flags & MPX_RPC_CONN_F_SERVER) ? "SYN-RECV" : "SYN-SENT";
}

static const char *hostport(const struct mpx_rpc_addr *a, uint16_t port, char *buf, size_t cap)
{
    char t[64];
    if (!a->family)
        snprintf(buf, cap, "*:%u", port);
    else
        snprintf(buf, cap, a->family == 6 ? "[%s]:%u" : "%s:%u", mpx_rpc_addr_fmt(a, t, sizeof(t)),
                 port);
    return buf;
}

static void conn_text(const struct mpx_rpc_conn_info *ci)
{
    char l[80], r[80], kt[64];
    printf("%-10s %-6llu %-6llu %-28s %-28s conn:%u uid:%u\n", conn_state(ci),
           (unsigned long long)ci->recv_ready, (unsigned long long)ci->send_queued,
           hostport(&ci->local, ci->lport, l, sizeof(l)),
           ci->flags & MPX_RPC_CONN_F_LISTEN ? "*:*"
                                             : hostport(&ci->remote, ci->rport, r, sizeof(r)),
           ci->conn, ci->uid);
    if (ci->flags & MPX_RPC_CONN_F_LISTEN) {
        printf("\t extkey:%s\n", policy_name(ci->extkey_policy));
        return;
    }
    printf("\t %s%s%s token:%08x remote_token:%08x key:%s extkey:%s subflows:%u write_seq:%llu "
           "snd_una:%llu rcv_nxt:%llu bytes_sent:%llu bytes_received:%llu bytes_acked:%llu "
           "bytes_retrans:%llu%s",
           ci->flags & MPX_RPC_CONN_F_MPTCP ? "mptcp" : "tcp",
           ci->flags & MPX_RPC_CONN_F_FALLBACK ? " fallback" : "",
           ci->flags & MPX_RPC_CONN_F_CSUM ? " csum" : "", ci->local_token, ci->remote_token,
           key_text(ci, kt, sizeof(kt)), policy_name(ci->extkey_policy), ci->n_sf,
           (unsigned long long)ci->write_seq, (unsigned long long)ci->snd_una,
           (unsigned long long)ci->rcv_nxt, (unsigned long long)ci->bytes_sent,
           (unsigned long long)ci->bytes_received, (unsigned long long)ci->bytes_acked,
           (unsigned long long)ci->bytes_retrans,
           ci->flags & MPX_RPC_CONN_F_ORPHAN ? " orphan" : "");
    if (ci->error)
        printf(" error:%s", strerror(-ci->error));
    putchar('\n');
    printf("\t cc:%s%s%s%s%s keepidle:%u keepintvl:%u keepcnt:%u user_timeout:%u tos:0x%02x "
           "ttl:%u sndbuf:%u rcvbuf:%u\n",
           ci->cc, ci->opt_flags & MPX_RPC_OPT_F_NODELAY ? " nodelay" : "",
           ci->opt_flags & MPX_RPC_OPT_F_CORK ? " cork" : "",
           ci->opt_flags & MPX_RPC_OPT_F_KEEPALIVE ? " keepalive" : "",
           ci->opt_flags & MPX_RPC_OPT_F_LINGER0 ? " linger0" : "", ci->keep_idle_s,
           ci->keep_intvl_s, ci->keep_cnt, ci->user_timeout_ms, ci->tos, ci->ttl, ci->sndbuf,
           ci->rcvbuf);
    for (unsigned i = 0; i < ci->n_sf; i++) {
        const struct mpx_rpc_sf *s = &ci->sf[i];
        printf(
            "\t subflow %s %s %s id:%u/%u rtt:%.3f/%.3f rto:%.0f cwnd:%u ssthresh:%u mss:%u "
            "unacked:%u retrans:%u/%u bytes_sent:%llu bytes_received:%llu bytes_acked:%llu%s%s%s\n",
            hostport(&s->local, s->lport, l, sizeof(l)),
            hostport(&s->remote, s->rport, r, sizeof(r)), tcp_state(s->state), s->local_id,
            s->remote_id, s->srtt_us / 1000.0, s->rttvar_us / 1000.0, s->rto_us / 1000.0,
            s->snd_cwnd, s->snd_ssthresh, s->snd_mss, s->unacked, s->retrans, s->total_retrans,
            (unsigned long long)s->bytes_sent, (unsigned long long)s->bytes_received,
            (unsigned long long)s->bytes_acked, s->flags & MPX_RPC_SF_F_JOIN ? " join" : "",
            s->flags & MPX_RPC_SF_F_BACKUP ? " backup" : "",
            s->flags & MPX_RPC_SF_F_PEER_BACKUP ? " peer_backup" : "");
    }
}

static void json_addr(const char *key, const struct mpx_rpc_addr *a)
{
    char t[64];
    printf("\"%s\":\"%s\"", key, a->family ? mpx_rpc_addr_fmt(a, t, sizeof(t)) : "");
}

/* The socket options in force (the shim's setsockopt, CONN_SETOPT). */
static void sockopt_json(const struct mpx_rpc_conn_info *ci)
{
    printf("\"sockopt\":{\"cc\":\"%s\",\"nodelay\":%s,\"cork\":%s,\"keepalive\":%s,"
           "\"linger0\":%s,\"keepidle\":%u,\"keepintvl\":%u,\"keepcnt\":%u,"
           "\"user_timeout_ms\":%u,\"tos\":%u,\"ttl\":%u,\"sndbuf\":%u,\"rcvbuf\":%u},",
           ci->cc, ci->opt_flags & MPX_RPC_OPT_F_NODELAY ? "true" : "false",
           ci->opt_flags & MPX_RPC_OPT_F_CORK ? "true" : "false",
           ci->opt_flags & MPX_RPC_OPT_F_KEEPALIVE ? "true" : "false",
           ci->opt_flags & MPX_RPC_OPT_F_LINGER0 ? "true" : "false", ci->keep_idle_s,
           ci->keep_intvl_s, ci->keep_cnt, ci->user_timeout_ms, ci->tos, ci->ttl, ci->sndbuf,
           ci->rcvbuf);
}

static void conn_json(const struct mpx_rpc_conn_info *ci, bool first)
{
    char fp[24];
    printf("%s{\"conn\":%u,\"uid\":%u,\"state\":\"%s\",", first ? "" : ",", ci->conn, ci->uid,
           conn_state(ci));
    json_addr("local", &ci->local);
    printf(",\"lport\":%u,", ci->lport);
    if (!(ci->flags & MPX_RPC_CONN_F_LISTEN))
        sockopt_json(ci);
    json_addr("remote", &ci->remote);
    printf(",\"rport\":%u,\"mptcp\":%s,\"fallback\":%s,\"csum\":%s,\"listen\":%s,"
           "\"server\":%s,\"orphan\":%s,\"token\":\"%08x\",\"remote_token\":\"%08x\",\"key_state\":"
           "\"%s\","
           "\"key_fpr\":\"%s\",\"key_gen\":%u,"
           "\"extkey_policy\":\"%s\",\"error\":%d,\"write_seq\":%llu,\"snd_una\":%llu,"
           "\"snd_nxt\":%llu,\"rcv_nxt\":%llu,\"bytes_sent\":%llu,\"bytes_received\":%llu,"
           "\"bytes_acked\":%llu,\"bytes_retrans\":%llu,\"send_queued\":%llu,"
           "\"recv_ready\":%llu,\"subflows\":[",
           ci->rport, ci->flags & MPX_RPC_CONN_F_MPTCP ? "true" : "false",
           ci->flags & MPX_RPC_CONN_F_FALLBACK ? "true" : "false",
           ci->flags & MPX_RPC_CONN_F_CSUM ? "true" : "false",
           ci->flags & MPX_RPC_CONN_F_LISTEN ? "true" : "false",
           ci->flags & MPX_RPC_CONN_F_SERVER ? "true" : "false",
           ci->flags & MPX_RPC_CONN_F_ORPHAN ? "true" : "false", ci->local_token, ci->remote_token,
           key_state(ci->key_state), key_fpr(ci, fp, sizeof(fp)), ci->key_gen,
           policy_name(ci->extkey_policy), ci->error, (unsigned long long)ci->write_seq,
           (unsigned long long)ci->snd_una, (unsigned long long)ci->snd_nxt,
           (unsigned long long)ci->rcv_nxt, (unsigned long long)ci->bytes_sent,
           (unsigned long long)ci->bytes_received, (unsigned long long)ci->bytes_acked,
           (unsigned long long)ci->bytes_retrans, (unsigned long long)ci->send_queued,
           (unsigned long long)ci->recv_ready);
    for (unsigned i = 0; i < ci->n_sf; i++) {
        const struct mpx_rpc_sf *s = &ci->sf[i];
        printf("%s{", i ? "," : "");
        json_addr("local", &s->local);
        printf(",\"lport\":%u,", s->lport);
        json_addr("remote", &s->remote);
        printf(",\"rport\":%u,\"state\":\"%s\",\"local_id\":%u,\"remote_id\":%u,"
               "\"backup\":%s,\"peer_backup\":%s,\"join\":%s,\"established\":%s,"
               "\"srtt_us\":%u,\"rttvar_us\":%u,\"rto_us\":%u,\"min_rtt_us\":%u,\"cwnd\":%u,"
               "\"ssthresh\":%u,\"mss\":%u,\"unacked\":%u,\"retrans\":%u,\"total_retrans\":%u,"
               "\"snd_wnd\":%u,\"rcv_wnd\":%u,\"bytes_sent\":%llu,\"bytes_received\":%llu,"
               "\"bytes_acked\":%llu,\"bytes_retrans\":%llu}",
               s->rport, tcp_state(s->state), s->local_id, s->remote_id,
               s->flags & MPX_RPC_SF_F_BACKUP ? "true" : "false",
               s->flags & MPX_RPC_SF_F_PEER_BACKUP ? "true" : "false",
               s->flags & MPX_RPC_SF_F_JOIN ? "true" : "false",
               s->flags & MPX_RPC_SF_F_ESTABLISHED ? "true" : "false", s->srtt_us, s->rttvar_us,
               s->rto_us, s->min_rtt_us, s->snd_cwnd, s->snd_ssthresh, s->snd_mss, s->unacked,
               s->retrans, s->total_retrans, s->snd_wnd, s->rcv_wnd,
               (unsigned long long)s->bytes_sent, (unsigned long long)s->bytes_received,
               (unsigned long long)s->bytes_acked, (unsigned long long)s->bytes_retrans);
    }
    printf("]}");
}

static int conn_abort(struct cli *c, int argc, char **argv)
{
    struct mpx_rpc_conn_ref r;
    char *end;
    unsigned long id;

    if (argc != 1 || (id = strtoul(argv[0], &end, 0)) == 0 || *end || id > UINT32_MAX) {
        fprintf(stderr, "usage: mptcpext conn abort ID\n");
        return 2;
    }
    memset(&r, 0, sizeof(r));
    r.conn = (uint32_t)id;
    return cli_simple(c, MPX_RPC_CONN_ABORT, &r, sizeof(r)) ? 1 : 0;
}

/* `rotate ID`: a new external key for connection ID (draft §3.3 NEW_KEY),
 * like mptcpext_rotate_key() in the shim; the daemon allows root or the
 * connection's owner only. The key itself is never printed. */
int cli_cmd_rotate(struct cli *c, int argc, char **argv)
{
    struct mpx_rpc_conn_ref r;
    char *end;
    unsigned long id;
    int rc;

    if (argc != 1 || (id = strtoul(argv[0], &end, 0)) == 0 || *end || id > UINT32_MAX) {
        fprintf(stderr, "usage: mptcpext rotate ID\n");
        return 2;
    }
    memset(&r, 0, sizeof(r));
    r.conn = (uint32_t)id;
    rc = cli_simple(c, MPX_RPC_CONN_ROTATE, &r, sizeof(r));
    if (rc)
        return 1;
    if (c->json)
        printf("{\"conn\":%lu,\"rotated\":true}\n", id);
    else
        printf("conn %lu: key rotation started\n", id);
    return 0;
}

static int conn_get(struct cli *c, const char *arg)
{
    struct mpx_rpc_conn_ref ref;
    static union {
        struct mpx_rpc_conn_info ci;
        struct mpx_rpc_status st;
    } r;
    struct mpx_rpc_hdr h;
    char *end;
    unsigned long id = strtoul(arg, &end, 0);

    if (id == 0 || *end || id > UINT32_MAX) {
        fprintf(stderr, "usage: mptcpext conn show [ID]\n");
        return 2;
    }
    memset(&ref, 0, sizeof(ref));
    ref.conn = (uint32_t)id;
    if (cli_call(c, MPX_RPC_CONN_GET, &ref, sizeof(ref), -1, &h, &r, sizeof(r)))
        return 1;
    if (h.type != MPX_RPC_CONN_INFO) {
        cli_print_status_error(&r.st);
        return 1;
    }
    if (c->json) {
        conn_json(&r.ci, true);
        printf("\n");
    } else {
        conn_text(&r.ci);
    }
    return 0;
}

int cli_cmd_conn(struct cli *c, int argc, char **argv)
{
    struct mpx_rpc_list_req req;
    static union {
        struct mpx_rpc_conn_info ci;
        struct mpx_rpc_status st;
    } r;
    struct mpx_rpc_hdr h;
    uint32_t id;
    bool first = true;
    int rc;

    if (argc >= 1 && !strcmp(argv[0], "abort"))
        return conn_abort(c, argc - 1, argv + 1);
    if (argc == 2 && !strcmp(argv[0], "show"))
        return conn_get(c, argv[1]);
    if (argc > 1 || (argc == 1 && strcmp(argv[0], "show") && strcmp(argv[0], "list"))) {
        fprintf(stderr, "usage: mptcpext conn [show] | conn abort ID\n");
        return 2;
    }
    memset(&req, 0, sizeof(req));
    if (!(id = cli_send(c, MPX_RPC_CONN_LIST, &req, sizeof(req), -1)))
        return 1;
    if (c->json)
        printf("[");
    else
        printf("%-10s %-6s %-6s %-28s %-28s\n", "State", "Recv-Q", "Send-Q", "Local Address:Port",
               "Peer Address:Port");
    while ((rc = cli_recv(c, &h, &r, sizeof(r), 30000)) == 1) {
        if (h.id != id)
            continue;
        if (h.type == MPX_RPC_END || h.type == MPX_RPC_STATUS)
            break;
        if (h.type != MPX_RPC_CONN_INFO)
            continue;
        if (c->json)
            conn_json(&r.ci, first);
        else
            conn_text(&r.ci);
        first = false;
    }
    if (c->json)
        printf("]\n");
    return rc == 1 ? 0 : 1;
}

/* ---- endpoints and limits ---------------------------------------------------- */

static void endp_json(const struct mpx_rpc_endp *e, bool first)
{
    static const char *const names[] = {"signal",   "subflow",  "backup",
                                        "fullmesh", "implicit", "laminar"};
    char a[64];
    /* the shape of `ip -j mptcp endpoint show` */
    printf("%s{\"address\":\"%s\"", first ? "" : ",", mpx_rpc_addr_fmt(&e->addr, a, sizeof(a)));
    if (e->port)
        printf(",\"port\":%u", e->port);
    printf(",\"id\":%u", e->id);
    for (unsigned i = 0; i < 6; i++)
        if (e->flags & (1u << i))
            printf(",\"%s\":true", names[i]);
    if (e->ifname[0])
        printf(",\"dev\":\"%s\"", e->ifname);
    printf("}");
}

static int endp_show(struct cli *c, int argc, char **argv)
{
    static union {
        struct mpx_rpc_endp_list l;
        struct mpx_rpc_status st;
    } r;
    struct mpx_rpc_hdr h;
    unsigned long want = 0;
    bool first = true;

    if (argc == 2 && !strcmp(argv[0], "id"))
        want = strtoul(argv[1], NULL, 0);
    else if (argc) {
        fprintf(stderr, "usage: mptcpext endpoint show [id ID]\n");
        return 2;
    }
    if (cli_call(c, MPX_RPC_ENDP_SHOW, NULL, 0, -1, &h, &r, sizeof(r)))
        return 1;
    if (h.type != MPX_RPC_ENDP_LIST)
        return 1;
    if (c->json)
        printf("[");
    for (uint32_t i = 0; i < r.l.n; i++) {
        struct mpx_pm_endpoint pe;
        const struct mpx_rpc_endp *e = &r.l.e[i];
        char line[256];
        if (want && e->id != want)
            continue;
        if (c->json) {
            endp_json(e, first);
            first = false;
            continue;
        }
        memset(&pe, 0, sizeof(pe));
        pe.id = e->id;
        pe.flags = e->flags;
        pe.port = e->port;
        pe.ifindex = e->ifindex;
        memcpy(pe.ifname, e->ifname, sizeof(pe.ifname));
        pe.addr.family = e->addr.family;
        memcpy(pe.addr.a, e->addr.a, sizeof(pe.addr.a));
        mpx_pm_endpoint_fmt(&pe, line, sizeof(line));
        printf("%s\n", line);
        first = false;
    }
    if (c->json)
        printf("]\n");
    if (want && first && !c->json) {
        fprintf(stderr, "Error: endpoint not found\n");
        return 1;
    }
    return 0;
}

int cli_cmd_endpoint(struct cli *c, int argc, char **argv)
{
    struct mpx_rpc_endp e;
    char err[160];
    const char *v = argc ? argv[0] : "show";
    int verb;
    uint16_t type;

    if (!strcmp(v, "show") || !strcmp(v, "list"))
        return endp_show(c, argc ? argc - 1 : 0, argv + 1);
    if (!strcmp(v, "flush"))
        return cli_simple(c, MPX_RPC_ENDP_FLUSH, NULL, 0) ? 1 : 0;
    if (!strcmp(v, "add")) {
        verb = MPX_RPC_ENDP_VERB_ADD;
        type = MPX_RPC_ENDP_ADD;
    } else if (!strcmp(v, "delete") || !strcmp(v, "del")) {
        verb = MPX_RPC_ENDP_VERB_DEL;
        type = MPX_RPC_ENDP_DEL;
    } else if (!strcmp(v, "change")) {
        verb = MPX_RPC_ENDP_VERB_CHANGE;
        type = MPX_RPC_ENDP_CHANGE;
    } else {
        fprintf(stderr, "mptcpext endpoint: unknown command \"%s\"\n", v);
        return 2;
    }
    if (mpx_rpc_endp_parse(verb, argc - 1, argv + 1, true, &e, err, sizeof(err))) {
        fprintf(stderr, "Error: %s\n", err);
        return 2;
    }
    return cli_simple(c, type, &e, sizeof(e)) ? 1 : 0;
}

static int limits_set(struct cli *c, int argc, char **argv)
{
    struct mpx_rpc_limits l = {-1, -1};
    for (int i = 0; i + 1 < argc; i += 2) {
        char *end;
        long v = strtol(argv[i + 1], &end, 0);
        if (*end || v < 0 || v > 255) {
            fprintf(stderr, "Error: invalid value \"%s\"\n", argv[i + 1]);
            return 2;
        }
        if (!strcmp(argv[i], "subflows") || !strcmp(argv[i], "subflow"))
            l.subflows = (int32_t)v;
        else if (!strcmp(argv[i], "add_addr_accepted"))
            l.add_addr_accepted = (int32_t)v;
        else {
            fprintf(stderr, "Error: unknown limit \"%s\"\n", argv[i]);
            return 2;
        }
    }
    if (argc == 0 || argc % 2) {
        fprintf(stderr, "usage: mptcpext limits set [subflows N] [add_addr_accepted N]\n");
        return 2;
    }
    return cli_simple(c, MPX_RPC_LIMITS_SET, &l, sizeof(l)) ? 1 : 0;
}

int cli_cmd_limits(struct cli *c, int argc, char **argv)
{
    union {
        struct mpx_rpc_limits l;
        struct mpx_rpc_status st;
    } r;
    struct mpx_rpc_hdr h;
    struct mpx_pm_cfg pc;
    char line[128];

    if (argc >= 1 && !strcmp(argv[0], "set"))
        return limits_set(c, argc - 1, argv + 1);
    if (argc > 1 || (argc == 1 && strcmp(argv[0], "show"))) {
        fprintf(stderr, "usage: mptcpext limits [show] | limits set [subflows N] "
                        "[add_addr_accepted N]\n");
        return 2;
    }
    if (cli_call(c, MPX_RPC_LIMITS_GET, NULL, 0, -1, &h, &r, sizeof(r)) || h.type != MPX_RPC_LIMITS)
        return 1;
    if (c->json) {
        printf("{\"add_addr_accepted\":%d,\"subflows\":%d}\n", r.l.add_addr_accepted, r.l.subflows);
        return 0;
    }
    mpx_pm_cfg_init(&pc);
    mpx_pm_limits_set(&pc, r.l.subflows, r.l.add_addr_accepted);
    mpx_pm_limits_fmt(&pc, line, sizeof(line));
    printf("%s\n", line);
    return 0;
}

/* ---- counters ------------------------------------------------------------------ */

static bool wanted(const char *name, int npat, char **pat)
{
    if (npat == 0)
        return true;
    for (int i = 0; i < npat; i++)
        if (!fnmatch(pat[i], name, 0))
            return true;
    return false;
}

int cli_cmd_counters(struct cli *c, int argc, char **argv)
{
    struct mpx_rpc_list_req req;
    static union {
        struct mpx_rpc_counters cs;
        struct mpx_rpc_status st;
    } r;
    struct mpx_rpc_hdr h;
    char *pat[32];
    int npat = 0, rc;
    uint32_t id;
    bool first = true;

    memset(&req, 0, sizeof(req));
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "-z") || !strcmp(argv[i], "--zeros"))
            req.flags |= MPX_RPC_LIST_F_ZEROS;
        else if (!strcmp(argv[i], "-a") || !strcmp(argv[i], "--ignore"))
            continue; /* nstat's absolute mode is the only mode here */
        else if (argv[i][0] == '-' || npat == 32) {
            fprintf(stderr, "usage: mptcpext counters [-z] [PATTERN...]\n");
            return 2;
        } else
            pat[npat++] = argv[i];
    }
    if (!(id = cli_send(c, MPX_RPC_COUNTERS_GET, &req, sizeof(req), -1)))
        return 1;
    if (c->json)
        printf("{");
    else
        printf("#mptcpextd\n");
    while ((rc = cli_recv(c, &h, &r, sizeof(r), 30000)) == 1) {
        if (h.id != id)
            continue;
        if (h.type != MPX_RPC_COUNTERS)
            break;
        for (uint32_t i = 0; i < r.cs.n; i++) {
            if (!wanted(r.cs.c[i].name, npat, pat))
                continue;
            if (c->json)
                printf("%s\"%s\":%llu", first ? "" : ",", r.cs.c[i].name,
                       (unsigned long long)r.cs.c[i].value);
            else
                printf("%-32s %llu\n", r.cs.c[i].name, (unsigned long long)r.cs.c[i].value);
            first = false;
        }
    }
    if (c->json)
        printf("}\n");
    return rc == 1 ? 0 : 1;
}

/* ---- monitor --------------------------------------------------------------------- */

static void event_text(const struct mpx_rpc_event *e)
{
    char a[64];
    const char *fam4 = "4";
    printf("[%14s] token=%08x", mpx_rpc_event_name(e->type), e->token);
    if (e->type != MPX_RPC_EV_LISTENER_CREATED && e->type != MPX_RPC_EV_LISTENER_CLOSED)
        printf(" conn=%u", e->conn);
    if (e->type == MPX_RPC_EV_SF_ESTABLISHED || e->type == MPX_RPC_EV_SF_CLOSED ||
        e->type == MPX_RPC_EV_ANNOUNCED || e->type == MPX_RPC_EV_REMOVED)
        printf(" remid=%u locid=%u", e->remid, e->locid);
    if (e->saddr.family)
        printf(" saddr%s=%s", e->saddr.family == 6 ? "6" : fam4,
               mpx_rpc_addr_fmt(&e->saddr, a, sizeof(a)));
    if (e->daddr.family)
        printf(" daddr%s=%s", e->daddr.family == 6 ? "6" : fam4,
               mpx_rpc_addr_fmt(&e->daddr, a, sizeof(a)));
    if (e->sport)
        printf(" sport=%u", e->sport);
    if (e->dport)
        printf(" dport=%u", e->dport);
    if (e->type == MPX_RPC_EV_SF_ESTABLISHED || e->type == MPX_RPC_EV_SF_CLOSED)
        printf(" backup=%u", e->backup);
    if (e->error)
        printf(" error=%s", strerror(-e->error));
    putchar('\n');
}

static void event_json(const struct mpx_rpc_event *e)
{
    char a[64];
    printf("{\"ts\":%.6f,\"type\":\"%s\",\"conn\":%u,\"token\":\"%08x\",\"locid\":%u,"
           "\"remid\":%u,\"backup\":%u,\"error\":%d",
           (double)e->ts_ns / 1e9, mpx_rpc_event_name(e->type), e->conn, e->token, e->locid,
           e->remid, e->backup, e->error);
    if (e->saddr.family)
        printf(",\"saddr\":\"%s\"", mpx_rpc_addr_fmt(&e->saddr, a, sizeof(a)));
    if (e->daddr.family)
        printf(",\"daddr\":\"%s\"", mpx_rpc_addr_fmt(&e->daddr, a, sizeof(a)));
    printf(",\"sport\":%u,\"dport\":%u}\n", e->sport, e->dport);
}

int cli_cmd_monitor(struct cli *c, int argc, char **argv)
{
    union {
        struct mpx_rpc_event ev;
        struct mpx_rpc_status st;
    } r;
    struct mpx_rpc_hdr h;
    int rc;
    (void)argv;

    if (argc) {
        fprintf(stderr, "usage: mptcpext monitor\n");
        return 2;
    }
    if (cli_simple(c, MPX_RPC_MONITOR, NULL, 0))
        return 1;
    setvbuf(stdout, NULL, _IOLBF, 0);
    while ((rc = cli_recv(c, &h, &r, sizeof(r), -1)) == 1) {
        if (h.type != MPX_RPC_EVENT)
            continue;
        if (c->json)
            event_json(&r.ev);
        else
            event_text(&r.ev);
    }
    return rc == 0 ? 0 : 1;
}
