/*
 * sockopt.c - setsockopt/getsockopt of the sockets the shim manages
 * (../../shared/notes/shim.md section 5 item 6, DESIGN decision 2).
 *
 * The program's fd is an AF_UNIX stream socket, so the options of an MPTCP
 * socket are ours to answer. The accept list and the errnos are Linux's
 * MPTCP ones (net/mptcp/sockopt.c mptcp_setsockopt / mptcp_supported_sockopt,
 * checked against the running 6.18 kernel): SOL_SOCKET options the kernel
 * does not support on MPTCP fail with EOPNOTSUPP (SO_ZEROCOPY, SO_OOBINLINE
 * ...), IP/IPv6/TCP options outside its list with ENOPROTOOPT. A few options
 * that 6.18 MPTCP still refuses but plain TCP accepts and the engine honours
 * (TCP_USER_TIMEOUT, TCP_SYNCNT, TCP_QUICKACK, IP_TTL, IPV6_TCLASS,
 * IPV6_UNICAST_HOPS)
 * succeed, because programs set them on TCP sockets and fail when refused.
 *
 * Where an option goes:
 *  - generic SOL_SOCKET options (buffers, timeouts, SO_RCVLOWAT, SO_MARK,
 *    SO_PRIORITY, timestamps, SO_LINGER, SO_KEEPALIVE ...) are applied to the
 *    AF_UNIX socket itself: the kernel's sock_setsockopt() is the same for
 *    every family, so validation, permissions (SO_MARK needs CAP_NET_ADMIN)
 *    and read-back (SO_SNDBUF doubled) are exactly the kernel's, and the
 *    ones that matter on the bridge (SO_RCVTIMEO/SNDTIMEO for blocking
 *    calls, buffer sizes, SO_RCVLOWAT, SO_TIMESTAMP cmsgs) take effect there;
 *  - options with an effect in the engine (TCP_NODELAY, TCP_CORK,
 *    SO_KEEPALIVE, TCP_KEEPIDLE/INTVL/CNT, TCP_USER_TIMEOUT, TCP_SYNCNT, TCP_CONGESTION,
 *    SO_LINGER {1,0}, IP_TOS/IPV6_TCLASS, IP_TTL/IPV6_UNICAST_HOPS) are
 *    cached and forwarded with CONN_SETOPT once the socket has a connection,
 *    fire and forget (nginx toggles TCP_CORK per response: no round trip);
 *    before that mpx_shim_opts_on_conn() forwards what was set. An option
 *    set again to the value in force is not sent again;
 *  - the rest (SO_REUSEPORT, IPV6_V6ONLY, IP_FREEBIND, TCP_MAXSEG,
 *    TCP_DEFER_ACCEPT, TCP_FASTOPEN* ...) is cached for bind/listen
 *    (sock.c reads s->opts) and for getsockopt.
 *
 * getsockopt answers SO_DOMAIN/SO_PROTOCOL like an MPTCP socket, SO_ERROR
 * from sock.c, TCP_INFO from the engine's first subflow (as Linux MPTCP
 * does) and SOL_MPTCP MPTCP_INFO / MPTCP_TCPINFO / MPTCP_SUBFLOW_ADDRS /
 * MPTCP_FULL_INFO from the connection (one CONN_GET round trip), the rest
 * from the cache with the kernel's defaults.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/tcp.h>

#include "shim_int.h"

/* Not in the libc headers of every system. */
#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif
#ifndef IPV6_FLOWINFO /* linux/in6.h, which clashes with netinet/in.h */
#define IPV6_FLOWINFO      11
#define IPV6_FLOWLABEL_MGR 32
#define IPV6_FLOWINFO_SEND 33
#endif
#define SOL_MPTCP_LVL                  284
#define MPTCP_INFO_OPT                 1
#define MPTCP_TCPINFO_OPT              2
#define MPTCP_SUBFLOW_ADDRS            3
#define MPTCP_FULL_INFO_OPT            4
#define MIN_FULL_INFO_LEN              40 /* offsetof(struct mptcp_full_info, mptcp_info) */
#define TCP_IS_MPTCP_OPT               43
#define MPTCP_INFO_FLAG_FALLBACK_BIT   0x1u
#define MPTCP_INFO_FLAG_REMOTE_KEY_BIT 0x2u
#define TCP_MIN_MSS_V                  88
#define MAX_TCP_WINDOW_V               32767
#define MAX_TCP_KEEPIDLE_V             32767
#define MAX_TCP_KEEPINTVL_V            32767
#define MAX_TCP_KEEPCNT_V              127
#define TCP_MSS_DEFAULT_V              536
#define FASTOPEN_KEY_LEN               16
#define CA_NAME_MAX                    16

/* Linux uapi struct mptcp_info as of 6.10+ (96 bytes; older headers have
 * the first 48): programs pass the size they know, we copy that much. */
struct mptcp_info_k {
    uint8_t subflows, add_addr_signal, add_addr_accepted, subflows_max;
    uint8_t add_addr_signal_max, add_addr_accepted_max;
    uint32_t flags, token;
    uint64_t write_seq, snd_una, rcv_nxt;
    uint8_t local_addr_used, local_addr_max, csum_enabled;
    uint32_t retransmits;
    uint64_t bytes_retrans, bytes_sent, bytes_received, bytes_acked;
    uint8_t subflows_total;
    uint8_t reserved[3];
    uint32_t last_data_sent, last_data_recv, last_ack_recv;
};
_Static_assert(sizeof(struct mptcp_info_k) == 96, "struct mptcp_info layout");

/* uapi struct mptcp_subflow_data / mptcp_subflow_addrs (linux/mptcp.h,
 * which clashes with netinet/in.h). */
struct mptcp_subflow_data_k {
    uint32_t size_subflow_data, num_subflows, size_kernel, size_user;
} __attribute__((aligned(8)));
struct mptcp_subflow_addrs_k {
    struct sockaddr_storage local, remote;
};
/* uapi struct mptcp_subflow_info / mptcp_full_info (MPTCP_FULL_INFO, 6.9+) */
struct mptcp_subflow_info_k {
    uint32_t id;
    struct mptcp_subflow_addrs_k addrs;
};
struct mptcp_full_info_k {
    uint32_t size_tcpinfo_kernel, size_tcpinfo_user, size_sfinfo_kernel, size_sfinfo_user;
    uint32_t num_subflows, size_arrays_user;
    uint64_t subflow_info, tcp_info; /* the program's arrays */
    struct mptcp_info_k mptcp_info;
};
_Static_assert(offsetof(struct mptcp_full_info_k, mptcp_info) == MIN_FULL_INFO_LEN,
               "struct mptcp_full_info layout");

/* Bits of struct mpx_shim_opts.set_mask. */
enum {
    B_NODELAY = 0,
    B_CORK,
    B_KEEPALIVE,
    B_KEEPIDLE,
    B_KEEPINTVL,
    B_KEEPCNT,
    B_USER_TIMEOUT,
    B_REUSEADDR,
    B_REUSEPORT,
    B_V6ONLY,
    B_TOS,
    B_TCLASS,
    B_TTL,
    B_MAXSEG,
    B_QUICKACK,
    B_NOTSENT_LOWAT,
    B_SNDBUF,
    B_RCVBUF,
    B_DEFER_ACCEPT,
    B_FASTOPEN,
    B_BIND_NO_PORT,
    B_FREEBIND,
    B_TRANSPARENT,
    B_LINGER,
    B_CONGESTION,
    B_INQ,
    B_FO_CONNECT,
    B_FO_NO_COOKIE,
    B_HOPLIMIT,
    B_SYNCNT,
};
#define BIT(b) (1u << (b))

/* ---- forwarding -------------------------------------------------------------- */

static void forward(uint32_t conn, uint32_t opt, int value, const char *name)
{
    struct mpx_rpc_setopt m;
    int rc;

    memset(&m, 0, sizeof(m));
    m.conn = conn;
    m.opt = opt;
    m.value = value;
    if (name)
        snprintf(m.name, sizeof(m.name), "%s", name);
    rc = mpx_shim_ctl_send(MPX_RPC_CONN_SETOPT, &m, sizeof(m));
    if (rc < 0)
        mpx_shim_log(MPX_SHIM_LOG_DEBUG, "setopt %u on conn %u not sent: %s", opt, conn,
                     strerror(-rc));
}

static bool linger0(const struct linger *l)
{
    return l->l_onoff && l->l_linger == 0;
}

/* The value CONN_SETOPT carries for bit |b| of |o| (family decides between
 * the IPv4 and IPv6 names of TOS and TTL); 0 when |b| is not forwarded. */
static uint32_t fwd_opt(const struct mpx_shim_opts *o, int family, int b, int *value)
{
    switch (b) {
    case B_NODELAY:
        *value = o->nodelay != 0;
        return MPX_RPC_SO_NODELAY;
    case B_CORK:
        *value = o->cork != 0;
        return MPX_RPC_SO_CORK;
    case B_KEEPALIVE:
        *value = o->keepalive != 0;
        return MPX_RPC_SO_KEEPALIVE;
    case B_KEEPIDLE:
        *value = o->keepidle;
        return MPX_RPC_SO_KEEPIDLE;
    case B_KEEPINTVL:
        *value = o->keepintvl;
        return MPX_RPC_SO_KEEPINTVL;
    case B_KEEPCNT:
        *value = o->keepcnt;
        return MPX_RPC_SO_KEEPCNT;
    case B_USER_TIMEOUT:
        *value = o->user_timeout;
        return MPX_RPC_SO_USER_TIMEOUT;
    case B_LINGER:
        *value = linger0(&o->linger);
        return MPX_RPC_SO_LINGER0;
    case B_TOS:
        if (family == AF_INET6 && (o->set_mask & BIT(B_TCLASS)))
            return 0; /* the IPv6 traffic class wins on an IPv6 socket */
        *value = o->tos;
        return MPX_RPC_SO_TOS;
    case B_TCLASS:
        if (family != AF_INET6)
            return 0;
        *value = o->tclass;
        return MPX_RPC_SO_TOS;
    case B_TTL:
        if (family == AF_INET6 && (o->set_mask & BIT(B_HOPLIMIT)))
            return 0;
        *value = o->ttl < 0 ? 64 : o->ttl;
        return MPX_RPC_SO_TTL;
    case B_HOPLIMIT:
        if (family != AF_INET6 || o->hoplimit == 0)
            return 0;
        *value = o->hoplimit < 0 ? 64 : o->hoplimit;
        return MPX_RPC_SO_TTL;
    case B_SYNCNT:
        *value = o->syncnt;
        return MPX_RPC_SO_SYNCNT;
    default:
        return 0;
    }
}

void mpx_shim_opts_on_conn(struct mpx_shim_sock *s)
{
    struct mpx_shim_opts o;
    uint32_t conn;
    int family, value;

    mpx_shim_sock_lock(s);
    o = s->opts;
    conn = s->conn;
    family = s->family;
    mpx_shim_sock_unlock(s);
    if (!conn)
        return;
    for (int b = 0; b <= B_SYNCNT; b++) {
        uint32_t opt;
        if (!(o.set_mask & BIT(b)))
            continue;
        value = 0;
        if (b == B_CONGESTION) {
            forward(conn, MPX_RPC_SO_CONGESTION, 0, o.congestion);
            continue;
        }
        opt = fwd_opt(&o, family, b, &value);
        if (opt)
            forward(conn, opt, value, NULL);
    }
}

/* Cache |v| in |*field| (bit |b|) and forward it when the socket has a
 * connection and the value changed. */
static void set_cached(struct mpx_shim_sock *s, int b, int *field, int v)
{
    struct mpx_shim_opts o;
    bool changed;
    uint32_t conn, opt;
    int value = 0;

    mpx_shim_sock_lock(s);
    changed = !(s->opts.set_mask & BIT(b)) || *field != v;
    *field = v;
    s->opts.set_mask |= BIT(b);
    o = s->opts;
    conn = s->conn;
    mpx_shim_sock_unlock(s);
    if (!conn || !changed)
        return;
    opt = fwd_opt(&o, s->family, b, &value);
    if (opt)
        forward(conn, opt, value, NULL);
}

/* ---- setsockopt ---------------------------------------------------------------- */

/* An int argument: Linux wants at least sizeof(int) bytes for TCP, IPv6
 * and SOL_SOCKET options. */
static int get_int(const void *val, socklen_t len, int *out)
{
    if (len < sizeof(int))
        return -EINVAL;
    if (!val)
        return -EFAULT;
    memcpy(out, val, sizeof(int));
    return 0;
}

/* IPv4 options take an int or a single byte (do_ip_setsockopt). */
static int get_ip_int(const void *val, socklen_t len, int *out)
{
    unsigned char c;
    if (len >= sizeof(int))
        return get_int(val, len, out);
    if (len < 1)
        return -EINVAL;
    if (!val)
        return -EFAULT;
    memcpy(&c, val, 1);
    *out = c;
    return 0;
}

static int native_set(int fd, int level, int name, const void *val, socklen_t len)
{
    return mpx_shim_real.setsockopt(fd, level, name, val, len) == 0 ? 0 : -errno;
}

static bool cc_known(const char *name)
{
    /* the engine's algorithms (userstack/core/cc.h); Linux says ENOENT
     * for a name with no module */
    return !strcmp(name, "cubic") || !strcmp(name, "reno") || !strcmp(name, "lia");
}

/* Linux secs_to_retrans(): TCP_DEFER_ACCEPT keeps a number of SYN-ACK
 * retransmissions (1 s doubling up to 120 s) and reads back their total
 * time, so the value read is the given one rounded up. */
static int defer_accept_round(int secs)
{
    int total = 0, step = 1, n = 0;
    if (secs <= 0)
        return 0;
    do {
        total += step;
        step = step * 2 > 120 ? 120 : step * 2;
        n++;
    } while (total < secs && n < 255);
    return total;
}

static int set_congestion(struct mpx_shim_sock *s, const void *val, socklen_t len)
{
    char name[CA_NAME_MAX];
    size_t n;
    uint32_t conn;
    bool changed;

    if (len < 1)
        return -EINVAL;
    if (!val)
        return -EFAULT;
    n = len < CA_NAME_MAX - 1 ? len : CA_NAME_MAX - 1;
    memcpy(name, val, n);
    name[n] = '\0';
    if (!cc_known(name))
        return -ENOENT;
    mpx_shim_sock_lock(s);
    changed = !(s->opts.set_mask & BIT(B_CONGESTION)) || strcmp(s->opts.congestion, name);
    memcpy(s->opts.congestion, name, sizeof(name));
    s->opts.set_mask |= BIT(B_CONGESTION);
    conn = s->conn;
    mpx_shim_sock_unlock(s);
    if (conn && changed)
        forward(conn, MPX_RPC_SO_CONGESTION, 0, name);
    return 0;
}

static bool not_connected_yet(const struct mpx_shim_sock *s)
{
    return s->state == MPX_SHIM_S_NEW || s->state == MPX_SHIM_S_BOUND ||
           s->state == MPX_SHIM_S_LISTENING;
}

static int set_tcp(struct mpx_shim_sock *s, int name, const void *val, socklen_t len)
{
    struct mpx_shim_opts *o = &s->opts;
    int v, rc;

    switch (name) {
    case TCP_CONGESTION:
        return set_congestion(s, val, len);
    case TCP_FASTOPEN_KEY:
        /* one key or a primary and a backup; the engine has no TFO */
        if (len != FASTOPEN_KEY_LEN && len != 2 * FASTOPEN_KEY_LEN)
            return -EINVAL;
        return val ? 0 : -EFAULT;
    case TCP_NODELAY:
    case TCP_CORK:
    case TCP_KEEPIDLE:
    case TCP_KEEPINTVL:
    case TCP_KEEPCNT:
    case TCP_USER_TIMEOUT:
    case TCP_SYNCNT: /* MPTCP refuses it, TCP programs set it: the engine honours it */
    case TCP_MAXSEG:
    case TCP_QUICKACK:
    case TCP_NOTSENT_LOWAT:
    case TCP_DEFER_ACCEPT:
    case TCP_FASTOPEN:
    case TCP_FASTOPEN_CONNECT:
    case TCP_FASTOPEN_NO_COOKIE:
    case TCP_INQ:
        break;
    default:
        /* TCP_ULP, TCP_MD5SIG, TCP_REPAIR*, TCP_LINGER2,
         * TCP_WINDOW_CLAMP ... : what Linux MPTCP answers */
        return -ENOPROTOOPT;
    }
    if ((rc = get_int(val, len, &v)))
        return rc;
    switch (name) {
    case TCP_NODELAY:
        set_cached(s, B_NODELAY, &o->nodelay, v != 0);
        return 0;
    case TCP_CORK:
        set_cached(s, B_CORK, &o->cork, v != 0);
        return 0;
    case TCP_KEEPIDLE:
        if (v < 1 || v > MAX_TCP_KEEPIDLE_V)
            return -EINVAL;
        set_cached(s, B_KEEPIDLE, &o->keepidle, v);
        return 0;
    case TCP_KEEPINTVL:
        if (v < 1 || v > MAX_TCP_KEEPINTVL_V)
            return -EINVAL;
        set_cached(s, B_KEEPINTVL, &o->keepintvl, v);
        return 0;
    case TCP_KEEPCNT:
        if (v < 1 || v > MAX_TCP_KEEPCNT_V)
            return -EINVAL;
        set_cached(s, B_KEEPCNT, &o->keepcnt, v);
        return 0;
    case TCP_USER_TIMEOUT:
        if (v < 0)
            return -EINVAL;
        set_cached(s, B_USER_TIMEOUT, &o->user_timeout, v);
        return 0;
    case TCP_SYNCNT: /* do_tcp_setsockopt: 1..MAX_TCP_SYNCNT */
        if (v < 1 || v > 127)
            return -EINVAL;
        set_cached(s, B_SYNCNT, &o->syncnt, v);
        return 0;
    case TCP_MAXSEG:
        if (v && (v < TCP_MIN_MSS_V || v > MAX_TCP_WINDOW_V))
            return -EINVAL;
        set_cached(s, B_MAXSEG, &o->maxseg, v);
        return 0;
    case TCP_QUICKACK:
        set_cached(s, B_QUICKACK, &o->quickack, v != 0);
        return 0;
    case TCP_NOTSENT_LOWAT:
        set_cached(s, B_NOTSENT_LOWAT, &o->notsent_lowat, v);
        return 0;
    case TCP_DEFER_ACCEPT:
        /* never fails, as in tcp.c */
        set_cached(s, B_DEFER_ACCEPT, &o->defer_accept, defer_accept_round(v));
        return 0;
    case TCP_FASTOPEN:
        if (v < 0 || !not_connected_yet(s))
            return -EINVAL;
        set_cached(s, B_FASTOPEN, &o->fastopen, v);
        return 0;
    case TCP_FASTOPEN_CONNECT:
    case TCP_FASTOPEN_NO_COOKIE:
        if (v < 0 || v > 1 || !not_connected_yet(s))
            return -EINVAL;
        if (name == TCP_FASTOPEN_CONNECT)
            set_cached(s, B_FO_CONNECT, &o->fastopen_connect, v);
        else
            set_cached(s, B_FO_NO_COOKIE, &o->fastopen_no_cookie, v);
        return 0;
    default: /* TCP_INQ */
        if (v < 0 || v > 1)
            return -EINVAL;
        set_cached(s, B_INQ, &o->inq, v);
        return 0;
    }
}

static bool privileged(void)
{
    /* IP_TRANSPARENT / IPV6_TRANSPARENT need CAP_NET_RAW or CAP_NET_ADMIN */
    return geteuid() == 0;
}

static int set_ip(struct mpx_shim_sock *s, int name, const void *val, socklen_t len)
{
    struct mpx_shim_opts *o = &s->opts;
    int v, rc;

    switch (name) {
    case IP_TOS:
    case IP_TTL:
    case IP_FREEBIND:
    case IP_TRANSPARENT:
    case IP_BIND_ADDRESS_NO_PORT:
        break;
    case IP_PKTINFO:
    case IP_RECVTTL:
    case IP_RECVTOS:
    case IP_RECVOPTS:
    case IP_RETOPTS:
    case IP_PASSSEC:
    case IP_RECVORIGDSTADDR:
    case IP_CHECKSUM:
    case IP_RECVFRAGSIZE:
    case IP_MTU_DISCOVER:
    case IP_RECVERR:
    case IP_MINTTL:
    case IP_RECVERR_RFC4884:
        return -EOPNOTSUPP; /* in mptcp_supported_sockopt(), refused after */
    default:
        return -ENOPROTOOPT;
    }
    if ((rc = get_ip_int(val, len, &v)))
        return rc;
    switch (name) {
    case IP_TOS:
        /* a stream socket keeps the ECN bits to TCP (__ip_sock_set_tos) */
        set_cached(s, B_TOS, &o->tos, v & 0xfc);
        return 0;
    case IP_TTL:
        if (v != -1 && (v < 1 || v > 255))
            return -EINVAL;
        set_cached(s, B_TTL, &o->ttl, v);
        return 0;
    case IP_FREEBIND:
        set_cached(s, B_FREEBIND, &o->freebind, v != 0);
        return 0;
    case IP_TRANSPARENT:
        if (v && !privileged())
            return -EPERM;
        set_cached(s, B_TRANSPARENT, &o->transparent, v != 0);
        return 0;
    default: /* IP_BIND_ADDRESS_NO_PORT */
        set_cached(s, B_BIND_NO_PORT, &o->bind_no_port, v != 0);
        return 0;
    }
}

static int set_ipv6(struct mpx_shim_sock *s, int name, const void *val, socklen_t len)
{
    struct mpx_shim_opts *o = &s->opts;
    int v, rc;

    if (s->family != AF_INET6)
        return -ENOPROTOOPT; /* ip_setsockopt() knows no SOL_IPV6 */
    switch (name) {
    case IPV6_V6ONLY:
    case IPV6_TCLASS:
    case IPV6_UNICAST_HOPS:
    case IPV6_FREEBIND:
    case IPV6_TRANSPARENT:
        break;
    case IPV6_RECVPKTINFO:
    case IPV6_2292PKTINFO:
    case IPV6_RECVHOPLIMIT:
    case IPV6_2292HOPLIMIT:
    case IPV6_RECVRTHDR:
    case IPV6_2292RTHDR:
    case IPV6_RECVHOPOPTS:
    case IPV6_2292HOPOPTS:
    case IPV6_RECVDSTOPTS:
    case IPV6_2292DSTOPTS:
    case IPV6_RECVTCLASS:
    case IPV6_FLOWINFO:
    case IPV6_RECVPATHMTU:
    case IPV6_RECVORIGDSTADDR:
    case IPV6_RECVFRAGSIZE:
    case IPV6_PKTINFO:
    case IPV6_2292PKTOPTIONS:
    case IPV6_MTU_DISCOVER:
    case IPV6_MTU:
    case IPV6_RECVERR:
    case IPV6_FLOWINFO_SEND:
    case IPV6_FLOWLABEL_MGR:
    case IPV6_MINHOPCOUNT:
    case IPV6_DONTFRAG:
    case IPV6_AUTOFLOWLABEL:
    case IPV6_RECVERR_RFC4884:
        return -EOPNOTSUPP;
    default:
        return -ENOPROTOOPT;
    }
    if ((rc = get_int(val, len, &v)))
        return rc;
    switch (name) {
    case IPV6_V6ONLY:
        if (s->state != MPX_SHIM_S_NEW)
            return -EINVAL; /* only before bind (inet_num == 0) */
        set_cached(s, B_V6ONLY, &o->v6only, v != 0);
        return 0;
    case IPV6_TCLASS:
        if (v < -1 || v > 255)
            return -EINVAL;
        set_cached(s, B_TCLASS, &o->tclass, v < 0 ? 0 : (v & 0xfc));
        return 0;
    case IPV6_UNICAST_HOPS:
        if (v < -1 || v > 255)
            return -EINVAL;
        set_cached(s, B_HOPLIMIT, &o->hoplimit, v);
        return 0;
    case IPV6_FREEBIND:
        set_cached(s, B_FREEBIND, &o->freebind, v != 0);
        return 0;
    default: /* IPV6_TRANSPARENT */
        if (v && !privileged())
            return -EPERM;
        set_cached(s, B_TRANSPARENT, &o->transparent, v != 0);
        return 0;
    }
}

static int set_linger(struct mpx_shim_sock *s, int fd, const void *val, socklen_t len)
{
    struct linger l;
    uint32_t conn;
    bool changed;
    int rc = native_set(fd, SOL_SOCKET, SO_LINGER, val, len);

    if (rc)
        return rc; /* EINVAL for a short optlen, as the kernel says */
    memcpy(&l, val, sizeof(l));
    mpx_shim_sock_lock(s);
    changed = !(s->opts.set_mask & BIT(B_LINGER)) || linger0(&s->opts.linger) != linger0(&l);
    s->opts.linger = l;
    s->opts.set_mask |= BIT(B_LINGER);
    conn = s->conn;
    mpx_shim_sock_unlock(s);
    if (conn && changed)
        forward(conn, MPX_RPC_SO_LINGER0, linger0(&l), NULL);
    return 0;
}

static int set_sol_socket(struct mpx_shim_sock *s, int fd, int name, const void *val, socklen_t len)
{
    int v, rc;

    switch (name) {
    case SO_REUSEPORT:
        /* not on the AF_UNIX socket: Linux refuses it for non-inet */
        if ((rc = get_int(val, len, &v)))
            return rc;
        set_cached(s, B_REUSEPORT, &s->opts.reuseport, v != 0);
        return 0;
    case SO_REUSEADDR:
    case SO_KEEPALIVE:
        if ((rc = native_set(fd, SOL_SOCKET, name, val, len)))
            return rc;
        memcpy(&v, val, sizeof(v));
        if (name == SO_REUSEADDR)
            set_cached(s, B_REUSEADDR, &s->opts.reuseaddr, v != 0);
        else
            set_cached(s, B_KEEPALIVE, &s->opts.keepalive, v != 0);
        return 0;
    case SO_LINGER:
        return set_linger(s, fd, val, len);
    case SO_SNDBUF:
    case SO_SNDBUFFORCE:
    case SO_RCVBUF:
    case SO_RCVBUFFORCE:
        /* the bridge's buffering is the AF_UNIX socket's */
        if ((rc = native_set(fd, SOL_SOCKET, name, val, len)))
            return rc;
        mpx_shim_sock_lock(s);
        s->opts.set_mask |=
            (name == SO_SNDBUF || name == SO_SNDBUFFORCE) ? BIT(B_SNDBUF) : BIT(B_RCVBUF);
        mpx_shim_sock_unlock(s);
        return 0;
    case SO_DEBUG:
    case SO_PRIORITY:
    case SO_MARK:
    case SO_RCVLOWAT:
    case SO_RCVTIMEO_OLD:
    case SO_RCVTIMEO_NEW:
    case SO_SNDTIMEO_OLD:
    case SO_SNDTIMEO_NEW:
    case SO_BINDTODEVICE:
    case SO_BINDTOIFINDEX:
    case SO_TIMESTAMP_OLD:
    case SO_TIMESTAMP_NEW:
    case SO_TIMESTAMPNS_OLD:
    case SO_TIMESTAMPNS_NEW:
    case SO_TIMESTAMPING_OLD:
    case SO_TIMESTAMPING_NEW:
    case SO_BUSY_POLL:
    case SO_PREFER_BUSY_POLL:
    case SO_BUSY_POLL_BUDGET:
    case SO_INCOMING_CPU:
        return native_set(fd, SOL_SOCKET, name, val, len);
    case SO_NO_CHECK:
    case SO_DONTROUTE:
    case SO_BROADCAST:
    case SO_BSDCOMPAT:
    case SO_PASSCRED:
    case SO_PASSSEC:
    case SO_RXQ_OVFL:
    case SO_WIFI_STATUS:
    case SO_NOFCS:
    case SO_SELECT_ERR_QUEUE:
        return 0; /* accepted and ignored, as Linux MPTCP does */
    default:
        /* SO_ZEROCOPY, SO_OOBINLINE, SO_PEEK_OFF, SO_MAX_PACING_RATE,
         * SO_TXTIME, SO_SNDLOWAT, filters ... */
        return -EOPNOTSUPP;
    }
}

static int do_set(struct mpx_shim_sock *s, int fd, int level, int name, const void *val,
                  socklen_t len)
{
    switch (level) {
    case SOL_SOCKET:
        return set_sol_socket(s, fd, name, val, len);
    case IPPROTO_TCP:
        return set_tcp(s, name, val, len);
    case IPPROTO_IP:
        return set_ip(s, name, val, len);
    case IPPROTO_IPV6:
        return set_ipv6(s, name, val, len);
    default:
        return -ENOPROTOOPT; /* SOL_MPTCP included: nothing to set there */
    }
}

MPX_SHIM_EXPORT int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
    struct mpx_shim_sock *s;
    int rc;

    mpx_shim_init();
    s = mpx_shim_sock_get(fd);
    if (!s || s->state == MPX_SHIM_S_PASSTHROUGH) /* a kernel socket answers itself */
        return mpx_shim_real.setsockopt(fd, level, name, val, len);
    rc = do_set(s, fd, level, name, val, len);
    if (rc < 0) {
        errno = -rc;
        return -1;
    }
    return 0;
}

/* ---- getsockopt: helpers ------------------------------------------------------- */

/* The caller's buffer length, as the kernel reads it (an int). */
static int user_len(void *val, socklen_t *len, int *out)
{
    if (!len)
        return -EFAULT;
    *out = (int)*len;
    if (*out < 0)
        return -EINVAL;
    if (*out > 0 && !val)
        return -EFAULT;
    return 0;
}

/* sk_getsockopt(): an int, truncated to the buffer. */
static int put_sock_int(void *val, socklen_t *len, int v)
{
    int l, rc = user_len(val, len, &l);
    if (rc)
        return rc;
    if (l > (int)sizeof(int))
        l = sizeof(int);
    memcpy(val, &v, (size_t)l);
    *len = (socklen_t)l;
    return 0;
}

/* mptcp_put_int_option() / do_tcp_getsockopt(): a buffer shorter than an
 * int gets one byte when the value fits. */
static int put_int(void *val, socklen_t *len, int v)
{
    int l, rc = user_len(val, len, &l);
    if (rc)
        return rc;
    if (l < (int)sizeof(int) && l > 0 && v >= 0 && v <= 255) {
        unsigned char c = (unsigned char)v;
        memcpy(val, &c, 1);
        *len = 1;
        return 0;
    }
    if (l > (int)sizeof(int))
        l = sizeof(int);
    memcpy(val, &v, (size_t)l);
    *len = (socklen_t)l;
    return 0;
}

/* A struct: min(len, size) bytes, the length written back. */
static int put_struct(void *val, socklen_t *len, const void *src, size_t size)
{
    int l, rc = user_len(val, len, &l);
    if (rc)
        return rc;
    if ((size_t)l > size)
        l = (int)size;
    memcpy(val, src, (size_t)l);
    *len = (socklen_t)l;
    return 0;
}

static int cached(const struct mpx_shim_sock *s, int b, int v, int dflt)
{
    return (s->opts.set_mask & BIT(b)) ? v : dflt;
}

/* net.ipv4.tcp_wmem / tcp_rmem default (middle) value: what SO_SNDBUF /
 * SO_RCVBUF read on a fresh TCP socket. */
static int tcp_mem_default(bool snd)
{
    static int cache[2]; /* benign race: every thread computes the same */
    int *c = &cache[snd ? 0 : 1];
    int v = __atomic_load_n(c, __ATOMIC_RELAXED);
    char buf[96];
    int fd, a = 0, b = 0, n;

    if (v)
        return v;
    v = snd ? 16384 : 131072;
    fd = open(snd ? "/proc/sys/net/ipv4/tcp_wmem" : "/proc/sys/net/ipv4/tcp_rmem",
              O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        n = (int)read(fd, buf, sizeof(buf) - 1);
        mpx_shim_real.close(fd);
        if (n > 0) {
            buf[n] = '\0';
            if (sscanf(buf, "%d %d", &a, &b) == 2 && b > 0)
                v = b;
        }
    }
    __atomic_store_n(c, v, __ATOMIC_RELAXED);
    return v;
}

/* One CONN_GET: the connection as the engine sees it. 0 or a negative
 * errno (-ENOTCONN when the socket has no connection). */
static int conn_get(const struct mpx_shim_sock *s, struct mpx_rpc_conn_info *ci)
{
    struct mpx_rpc_conn_ref ref;
    uint32_t conn;
    int type;

    conn = __atomic_load_n(&s->conn, __ATOMIC_ACQUIRE);
    if (!conn)
        return -ENOTCONN;
    memset(&ref, 0, sizeof(ref));
    ref.conn = conn;
    type = mpx_shim_ctl_call(MPX_RPC_CONN_GET, &ref, sizeof(ref), -1, ci, sizeof(*ci));
    if (type == MPX_RPC_CONN_INFO)
        return 0;
    if (type == MPX_RPC_STATUS) {
        const struct mpx_rpc_status *st = (const void *)ci;
        return st->status ? st->status : -EIO;
    }
    return type < 0 ? type : -EIO;
}

/* The subflow Linux reports for TCP_INFO on an MPTCP socket: the first
 * (initial) one, else the oldest still listed. */
static const struct mpx_rpc_sf *first_sf(const struct mpx_rpc_conn_info *ci)
{
    for (unsigned i = 0; i < ci->n_sf; i++)
        if (!(ci->sf[i].flags & MPX_RPC_SF_F_JOIN))
            return &ci->sf[i];
    return ci->n_sf ? &ci->sf[0] : NULL;
}

/* enum mpx_tcp_state -> Linux TCP_ESTABLISHED.. */
static uint8_t linux_state(uint8_t st)
{
    static const uint8_t map[] = {7, 10, 2, 3, 1, 4, 5, 8, 11, 9, 6};
    return st < sizeof(map) ? map[st] : 7;
}

static uint8_t state_of_sock(const struct mpx_shim_sock *s)
{
    switch (s->state) {
    case MPX_SHIM_S_LISTENING:
        return 10; /* TCP_LISTEN */
    case MPX_SHIM_S_CONNECTING:
        return 2; /* TCP_SYN_SENT */
    case MPX_SHIM_S_CONNECTED:
    case MPX_SHIM_S_PASSTHROUGH:
        return 1;
    default:
        return 7; /* TCP_CLOSE */
    }
}

static uint32_t pkts(uint32_t bytes, uint32_t mss)
{
    return mss ? (bytes + mss - 1) / mss : 0;
}

/* struct tcp_info of a socket without a connection: what a fresh kernel
 * socket reports (TCP_TIMEOUT_INIT, TCP_MSS_DEFAULT, TCP_INIT_CWND). */
static void tcp_info_fresh(const struct mpx_shim_sock *s, struct tcp_info *ti)
{
    memset(ti, 0, sizeof(*ti));
    ti->tcpi_state = state_of_sock(s);
    ti->tcpi_rto = 1000000;
    ti->tcpi_snd_mss = TCP_MSS_DEFAULT_V;
    ti->tcpi_rcv_mss = TCP_MSS_DEFAULT_V;
    ti->tcpi_advmss = TCP_MSS_DEFAULT_V;
    ti->tcpi_snd_cwnd = 10;
    ti->tcpi_snd_ssthresh = 0x7fffffff; /* TCP_INFINITE_SSTHRESH */
    ti->tcpi_reordering = 3;
}

static void tcp_info_of_sf(const struct mpx_rpc_conn_info *ci, const struct mpx_rpc_sf *sf,
                           struct tcp_info *ti)
{
    uint32_t mss = sf->snd_mss ? sf->snd_mss : TCP_MSS_DEFAULT_V;

    memset(ti, 0, sizeof(*ti));
    ti->tcpi_state = linux_state(sf->state);
    ti->tcpi_options = TCPI_OPT_SACK | TCPI_OPT_TIMESTAMPS | TCPI_OPT_WSCALE;
    ti->tcpi_rto = sf->rto_us;
    ti->tcpi_snd_mss = sf->snd_mss;
    /* before the peer sent data the engine has no estimate: Linux starts
     * from the MSS (tcp_initialize_rcv_mss) */
    ti->tcpi_rcv_mss = sf->rcv_mss ? sf->rcv_mss : sf->snd_mss;
    ti->tcpi_advmss = ti->tcpi_rcv_mss;
    ti->tcpi_unacked = pkts(sf->unacked, mss);
    ti->tcpi_retrans = pkts(sf->retrans, mss);
    ti->tcpi_last_data_sent = (uint32_t)ci->last_data_sent_ms;
    ti->tcpi_last_data_recv = (uint32_t)ci->last_data_recv_ms;
    ti->tcpi_last_ack_recv = (uint32_t)ci->last_ack_recv_ms;
    ti->tcpi_pmtu = mss + (sf->local.family == 6 ? 60 : 40) + 12;
    ti->tcpi_rcv_ssthresh = sf->rcv_wnd;
    ti->tcpi_rtt = sf->srtt_us;
    ti->tcpi_rttvar = sf->rttvar_us;
    /* Linux counts the window in segments */
    ti->tcpi_snd_ssthresh =
        sf->snd_ssthresh >= 0x7fffffffu / 2 ? 0x7fffffff : pkts(sf->snd_ssthresh, mss);
    ti->tcpi_snd_cwnd = pkts(sf->snd_cwnd, mss);
    ti->tcpi_reordering = 3;
    ti->tcpi_rcv_space = sf->rcv_wnd;
    ti->tcpi_total_retrans = sf->total_retrans;
    ti->tcpi_bytes_acked = sf->bytes_acked;
    ti->tcpi_bytes_received = sf->bytes_received;
    ti->tcpi_segs_out = (uint32_t)(sf->bytes_sent / mss);
    ti->tcpi_segs_in = (uint32_t)(sf->bytes_received / (sf->rcv_mss ? sf->rcv_mss : mss));
    ti->tcpi_data_segs_out = ti->tcpi_segs_out;
    ti->tcpi_data_segs_in = ti->tcpi_segs_in;
    ti->tcpi_notsent_bytes = (uint32_t)(ci->write_seq - ci->snd_nxt);
    ti->tcpi_min_rtt = sf->min_rtt_us;
    ti->tcpi_bytes_sent = sf->bytes_sent;
    ti->tcpi_bytes_retrans = sf->bytes_retrans;
    ti->tcpi_snd_wnd = sf->snd_wnd;
}

static int get_tcp_info(const struct mpx_shim_sock *s, void *val, socklen_t *len)
{
    struct mpx_rpc_conn_info ci;
    struct tcp_info ti;
    const struct mpx_rpc_sf *sf;
    int l, rc = user_len(val, len, &l);

    if (rc)
        return rc;
    rc = conn_get(s, &ci);
    if (rc == 0 && (sf = first_sf(&ci)) != NULL) {
        tcp_info_of_sf(&ci, sf, &ti);
    } else {
        tcp_info_fresh(s, &ti);
        if (rc == -ENOENT)
            ti.tcpi_state = 7; /* the engine has forgotten it: TCP_CLOSE */
    }
    return put_struct(val, len, &ti, sizeof(ti));
}

/* ---- getsockopt: SOL_MPTCP ------------------------------------------------------ */

static bool sf_live(const struct mpx_rpc_sf *sf)
{
    return (sf->flags & MPX_RPC_SF_F_ESTABLISHED) != 0;
}

static void mptcp_info_of(const struct mpx_rpc_conn_info *ci, struct mptcp_info_k *mi)
{
    uint8_t live = 0, joins = 0;

    memset(mi, 0, sizeof(*mi));
    for (unsigned i = 0; i < ci->n_sf; i++)
        if (sf_live(&ci->sf[i])) {
            live++;
            if (ci->sf[i].flags & MPX_RPC_SF_F_JOIN)
                joins++;
        }
    /* Linux: mptcpi_subflows counts the subflows beyond the initial one,
     * mptcpi_subflows_total all of them */
    mi->subflows = joins;
    mi->subflows_total = live;
    mi->add_addr_signal = ci->add_addr_signal;
    mi->add_addr_accepted = ci->add_addr_accepted;
    mi->subflows_max = ci->subflows_max;
    mi->add_addr_signal_max = ci->add_addr_signal_max;
    mi->add_addr_accepted_max = ci->add_addr_accepted_max;
    mi->flags = ((ci->flags & MPX_RPC_CONN_F_FALLBACK) ? MPTCP_INFO_FLAG_FALLBACK_BIT : 0) |
                (ci->remote_token ? MPTCP_INFO_FLAG_REMOTE_KEY_BIT : 0);
    mi->token = ci->local_token;
    mi->write_seq = ci->write_seq;
    mi->snd_una = ci->snd_una;
    mi->rcv_nxt = ci->rcv_nxt;
    mi->local_addr_used = ci->local_addr_used;
    mi->local_addr_max = ci->local_addr_max;
    mi->csum_enabled = (ci->flags & MPX_RPC_CONN_F_CSUM) != 0;
    mi->retransmits = (uint32_t)ci->retransmits;
    mi->bytes_retrans = ci->bytes_retrans;
    mi->bytes_sent = ci->bytes_sent;
    mi->bytes_received = ci->bytes_received;
    mi->bytes_acked = ci->bytes_acked;
    mi->last_data_sent = (uint32_t)ci->last_data_sent_ms;
    mi->last_data_recv = (uint32_t)ci->last_data_recv_ms;
    mi->last_ack_recv = (uint32_t)ci->last_ack_recv_ms;
}

/* mptcp_get_subflow_data(): validate the header the program passed; the
 * room left for elements, or a negative errno. */
static int subflow_hdr(void *val, socklen_t *len, struct mptcp_subflow_data_k *sfd)
{
    int l, rc = user_len(val, len, &l);
    if (rc)
        return rc;
    if (l < (int)sizeof(*sfd))
        return -EINVAL;
    memcpy(sfd, val, sizeof(*sfd));
    if (sfd->size_subflow_data > INT32_MAX || sfd->size_user > INT32_MAX)
        return -EINVAL;
    if (sfd->size_subflow_data < sizeof(*sfd) || sfd->size_subflow_data > (uint32_t)l)
        return -EINVAL;
    if (sfd->num_subflows || sfd->size_kernel)
        return -EINVAL;
    return l - (int)sfd->size_subflow_data;
}

/* MPTCP_TCPINFO (|addrs| false) or MPTCP_SUBFLOW_ADDRS: a header and one
 * element per subflow, as many as fit. */
static int get_subflows(const struct mpx_shim_sock *s, const struct mpx_rpc_conn_info *ci,
                        bool addrs, void *val, socklen_t *len)
{
    struct mptcp_subflow_data_k sfd;
    size_t esize = addrs ? sizeof(struct mptcp_subflow_addrs_k) : sizeof(struct tcp_info);
    int room = subflow_hdr(val, len, &sfd);
    uint32_t copied = 0, count = 0;
    uint8_t *p;

    if (room < 0)
        return room;
    sfd.size_kernel = (uint32_t)esize;
    if (sfd.size_user > esize)
        sfd.size_user = (uint32_t)esize;
    p = (uint8_t *)val + sfd.size_subflow_data;
    for (unsigned i = 0; i < ci->n_sf; i++) {
        const struct mpx_rpc_sf *sf = &ci->sf[i];
        union {
            struct tcp_info ti;
            struct mptcp_subflow_addrs_k a;
        } e;
        count++;
        if (!room || room < (int)sfd.size_user)
            continue;
        memset(&e, 0, sizeof(e));
        if (addrs) {
            mpx_shim_rpc_to_sa(s->family, &sf->local, sf->lport, &e.a.local);
            mpx_shim_rpc_to_sa(s->family, &sf->remote, sf->rport, &e.a.remote);
        } else {
            tcp_info_of_sf(ci, sf, &e.ti);
        }
        memcpy(p, &e, sfd.size_user);
        p += sfd.size_user;
        copied += sfd.size_user;
        room -= (int)sfd.size_user;
    }
    sfd.num_subflows = count;
    /* mptcp_put_subflow_data(): the header, and the total length */
    memcpy(val, &sfd, sfd.size_subflow_data < sizeof(sfd) ? sfd.size_subflow_data : sizeof(sfd));
    *len = (socklen_t)(copied ? copied + sfd.size_subflow_data
                              : (sfd.size_subflow_data < sizeof(sfd) ? sfd.size_subflow_data
                                                                     : sizeof(sfd)));
    return 0;
}

/* MPTCP_FULL_INFO (mptcp_getsockopt_full_info): struct mptcp_info plus,
 * per subflow, its id and addresses and its tcp_info written into the two
 * arrays the program points to (as many as size_arrays_user allows). The
 * kernel's EFAULT for a bad array pointer is a fault here: the shim writes
 * the program's memory directly. */
static int get_full_info(const struct mpx_shim_sock *s, const struct mpx_rpc_conn_info *ci,
                         void *val, socklen_t *len)
{
    struct mptcp_full_info_k f;
    uint8_t *sfp, *tip;
    uint32_t copy = 0, count = 0;
    int l, rc = user_len(val, len, &l);

    if (rc)
        return rc;
    if (l < MIN_FULL_INFO_LEN)
        return -EINVAL;
    memset(&f, 0, sizeof(f));
    memcpy(&f, val, MIN_FULL_INFO_LEN);
    if (f.size_tcpinfo_kernel || f.size_sfinfo_kernel || f.num_subflows ||
        f.size_sfinfo_user > INT32_MAX || f.size_tcpinfo_user > INT32_MAX)
        return -EINVAL;
    if (l > MIN_FULL_INFO_LEN) {
        mptcp_info_of(ci, &f.mptcp_info);
        copy = (uint32_t)l - MIN_FULL_INFO_LEN;
        if (copy > sizeof(f.mptcp_info))
            copy = sizeof(f.mptcp_info);
    }
    f.size_tcpinfo_kernel = sizeof(struct tcp_info);
    if (f.size_tcpinfo_user > sizeof(struct tcp_info))
        f.size_tcpinfo_user = sizeof(struct tcp_info);
    f.size_sfinfo_kernel = sizeof(struct mptcp_subflow_info_k);
    if (f.size_sfinfo_user > sizeof(struct mptcp_subflow_info_k))
        f.size_sfinfo_user = sizeof(struct mptcp_subflow_info_k);
    sfp = (uint8_t *)(uintptr_t)f.subflow_info;
    tip = (uint8_t *)(uintptr_t)f.tcp_info;
    for (unsigned i = 0; i < ci->n_sf; i++) {
        struct mptcp_subflow_info_k sfi;
        struct tcp_info ti;
        if (count++ >= f.size_arrays_user)
            continue;
        if ((f.size_sfinfo_user && !sfp) || (f.size_tcpinfo_user && !tip))
            return -EFAULT;
        memset(&sfi, 0, sizeof(sfi));
        sfi.id = i + 1;
        mpx_shim_rpc_to_sa(s->family, &ci->sf[i].local, ci->sf[i].lport, &sfi.addrs.local);
        mpx_shim_rpc_to_sa(s->family, &ci->sf[i].remote, ci->sf[i].rport, &sfi.addrs.remote);
        memcpy(sfp, &sfi, f.size_sfinfo_user);
        tcp_info_of_sf(ci, &ci->sf[i], &ti);
        memcpy(tip, &ti, f.size_tcpinfo_user);
        sfp += f.size_sfinfo_user;
        tip += f.size_tcpinfo_user;
    }
    f.num_subflows = count;
    copy += MIN_FULL_INFO_LEN;
    memcpy(val, &f, copy);
    *len = (socklen_t)copy;
    return 0;
}

static int get_sol_mptcp(const struct mpx_shim_sock *s, int name, void *val, socklen_t *len)
{
    struct mpx_rpc_conn_info ci;
    struct mptcp_info_k mi;
    int rc;

    if (name != MPTCP_INFO_OPT && name != MPTCP_TCPINFO_OPT && name != MPTCP_SUBFLOW_ADDRS &&
        name != MPTCP_FULL_INFO_OPT)
        return -EOPNOTSUPP;
    rc = conn_get(s, &ci);
    if (rc == -ENOTCONN || rc == -ENOENT || (rc == 0 && (ci.flags & MPX_RPC_CONN_F_LISTEN))) {
        /* no connection (yet, or any more): nothing to tell */
        memset(&ci, 0, sizeof(ci));
    } else if (rc) {
        return rc;
    } else if (ci.flags & MPX_RPC_CONN_F_FALLBACK) {
        /* plain TCP now: Linux passes SOL_MPTCP to the TCP subflow, which
         * knows no such level */
        return s->family == AF_INET6 ? -ENOPROTOOPT : -EOPNOTSUPP;
    }
    if (name == MPTCP_INFO_OPT) {
        mptcp_info_of(&ci, &mi);
        return put_struct(val, len, &mi, sizeof(mi));
    }
    if (name == MPTCP_FULL_INFO_OPT)
        return get_full_info(s, &ci, val, len);
    return get_subflows(s, &ci, name == MPTCP_SUBFLOW_ADDRS, val, len);
}

/* ---- getsockopt: levels ------------------------------------------------------------ */

#define NATIVE 1 /* answer with the real getsockopt on the AF_UNIX socket */

static int get_sol_socket(struct mpx_shim_sock *s, int name, void *val, socklen_t *len)
{
    switch (name) {
    case SO_DOMAIN:
        return put_sock_int(val, len, s->family);
    case SO_PROTOCOL:
        return put_sock_int(val, len, s->protocol == IPPROTO_MPTCP ? IPPROTO_MPTCP : IPPROTO_TCP);
    case SO_ERROR:
        return put_sock_int(val, len, mpx_shim_sock_take_error(s));
    case SO_REUSEPORT:
        return put_sock_int(val, len, s->opts.reuseport);
    case SO_SNDBUF:
        return (s->opts.set_mask & BIT(B_SNDBUF)) ? NATIVE
                                                  : put_sock_int(val, len, tcp_mem_default(true));
    case SO_RCVBUF:
        return (s->opts.set_mask & BIT(B_RCVBUF)) ? NATIVE
                                                  : put_sock_int(val, len, tcp_mem_default(false));
    default:
        return NATIVE; /* SO_TYPE, SO_ACCEPTCONN, SO_LINGER, timeouts ... */
    }
}

static int get_maxseg(const struct mpx_shim_sock *s, void *val, socklen_t *len)
{
    struct mpx_rpc_conn_info ci;
    const struct mpx_rpc_sf *sf;

    /* Linux: the user MSS while closed or listening, else mss_cache */
    if (not_connected_yet(s) || conn_get(s, &ci) || !(sf = first_sf(&ci)))
        return put_int(val, len, cached(s, B_MAXSEG, s->opts.maxseg, 0) ?: TCP_MSS_DEFAULT_V);
    return put_int(val, len, (int)sf->snd_mss);
}

static int get_string(void *val, socklen_t *len, const char *str)
{
    char buf[CA_NAME_MAX];
    memset(buf, 0, sizeof(buf));
    snprintf(buf, sizeof(buf), "%s", str);
    return put_struct(val, len, buf, sizeof(buf));
}

static int get_tcp(struct mpx_shim_sock *s, int name, void *val, socklen_t *len)
{
    const struct mpx_shim_opts *o = &s->opts;
    struct mpx_rpc_conn_info ci;

    switch (name) {
    case TCP_NODELAY:
        return put_int(val, len, o->nodelay);
    case TCP_CORK:
        return put_int(val, len, o->cork);
    case TCP_KEEPIDLE:
        return put_int(val, len, cached(s, B_KEEPIDLE, o->keepidle, 7200));
    case TCP_KEEPINTVL:
        return put_int(val, len, cached(s, B_KEEPINTVL, o->keepintvl, 75));
    case TCP_KEEPCNT:
        return put_int(val, len, cached(s, B_KEEPCNT, o->keepcnt, 9));
    case TCP_USER_TIMEOUT:
        return put_int(val, len, o->user_timeout);
    case TCP_SYNCNT: /* net.ipv4.tcp_syn_retries */
        return put_int(val, len, cached(s, B_SYNCNT, o->syncnt, 6));
    case TCP_MAXSEG:
        return get_maxseg(s, val, len);
    case TCP_QUICKACK:
        return put_int(val, len, cached(s, B_QUICKACK, o->quickack, 1));
    case TCP_NOTSENT_LOWAT:
        return put_int(val, len, o->notsent_lowat);
    case TCP_DEFER_ACCEPT:
        return put_int(val, len, o->defer_accept);
    case TCP_FASTOPEN:
        return put_int(val, len, o->fastopen);
    case TCP_FASTOPEN_CONNECT:
        return put_int(val, len, o->fastopen_connect);
    case TCP_FASTOPEN_NO_COOKIE:
        return put_int(val, len, o->fastopen_no_cookie);
    case TCP_INQ:
        return put_int(val, len, o->inq);
    case TCP_CONGESTION:
        return get_string(val, len, (o->set_mask & BIT(B_CONGESTION)) ? o->congestion : "cubic");
    case TCP_ULP:
        return get_string(val, len, "mptcp"); /* the first subflow's ULP */
    case TCP_INFO:
        return get_tcp_info(s, val, len);
    case TCP_CC_INFO:
    case TCP_FASTOPEN_KEY: {
        int l, rc = user_len(val, len, &l);
        if (rc)
            return rc;
        *len = 0; /* cubic/reno have no cc info; the engine has no TFO key */
        return 0;
    }
    case TCP_IS_MPTCP_OPT:
        if (s->state == MPX_SHIM_S_PASSTHROUGH)
            return put_int(val, len, 0);
        return put_int(val, len,
                       conn_get(s, &ci) == 0 && (ci.flags & MPX_RPC_CONN_F_FALLBACK) ? 0 : 1);
    default:
        return -EOPNOTSUPP;
    }
}

static int get_ip(struct mpx_shim_sock *s, int name, void *val, socklen_t *len)
{
    const struct mpx_shim_opts *o = &s->opts;

    switch (name) {
    case IP_TOS:
        return put_int(val, len, o->tos);
    case IP_TTL:
        return put_int(val, len, o->ttl > 0 ? o->ttl : 64);
    case IP_FREEBIND:
        return put_int(val, len, o->freebind);
    case IP_TRANSPARENT:
        return put_int(val, len, o->transparent);
    case IP_BIND_ADDRESS_NO_PORT:
        return put_int(val, len, o->bind_no_port);
    default:
        return -EOPNOTSUPP;
    }
}

static int get_ipv6(struct mpx_shim_sock *s, int name, void *val, socklen_t *len)
{
    const struct mpx_shim_opts *o = &s->opts;

    if (s->family != AF_INET6)
        return -EOPNOTSUPP;
    switch (name) {
    case IPV6_V6ONLY:
        return put_int(val, len, o->v6only);
    case IPV6_TCLASS:
        return put_int(val, len, o->tclass);
    case IPV6_UNICAST_HOPS:
        return put_int(val, len, o->hoplimit > 0 ? o->hoplimit : 64);
    case IPV6_FREEBIND:
        return put_int(val, len, o->freebind);
    case IPV6_TRANSPARENT:
        return put_int(val, len, o->transparent);
    default:
        return -EOPNOTSUPP;
    }
}

static int do_get(struct mpx_shim_sock *s, int level, int name, void *val, socklen_t *len)
{
    switch (level) {
    case SOL_SOCKET:
        return get_sol_socket(s, name, val, len);
    case IPPROTO_TCP:
        return get_tcp(s, name, val, len);
    case IPPROTO_IP:
        return get_ip(s, name, val, len);
    case IPPROTO_IPV6:
        return get_ipv6(s, name, val, len);
    case SOL_MPTCP_LVL:
        return get_sol_mptcp(s, name, val, len);
    default:
        return -EOPNOTSUPP;
    }
}

MPX_SHIM_EXPORT int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
    struct mpx_shim_sock *s;
    int rc;

    mpx_shim_init();
    s = mpx_shim_sock_get(fd);
    if (!s || s->state == MPX_SHIM_S_PASSTHROUGH)
        return mpx_shim_real.getsockopt(fd, level, name, val, len);
    rc = do_get(s, level, name, val, len);
    if (rc == NATIVE)
        return mpx_shim_real.getsockopt(fd, level, name, val, len);
    if (rc < 0) {
        errno = -rc;
        return -1;
    }
    return 0;
}
