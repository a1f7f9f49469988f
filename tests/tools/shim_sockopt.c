/*
 * shim_sockopt.c - setsockopt/getsockopt through libmptcpext.so, run under
 * LD_PRELOAD by tests/test_shim_sockopt.py against real daemons in the lab.
 * Every check compares with what Linux answers for an MPTCP socket; a
 * failed check prints "FAIL: ..." and the exit status is 1. Results the
 * test judges (figures, timings) are printed as "name value" lines.
 *
 *   local                      no connection needed: SO_DOMAIN/TYPE/PROTOCOL,
 *                              kernel defaults, every option set and read
 *                              back, errnos of bad values and refused options,
 *                              sockets the shim does not manage untouched
 *   sink ADDR PORT N           listener (TCP_NODELAY and TCP_CONGESTION set on
 *                              it): N connections read to EOF; prints
 *                              "listening", then "accepted NODELAY CC" and
 *                              "received BYTES" per connection
 *   conn ADDR PORT NPATHS      options set before connect, connect, prints
 *                              "connected" and waits for a line on stdin (the
 *                              test looks at the engine meanwhile); then
 *                              TCP_INFO before/after 8 MB, MPTCP_INFO until
 *                              NPATHS subflows, MPTCP_TCPINFO/SUBFLOW_ADDRS,
 *                              100k TCP_NODELAY/TCP_CORK toggles timed against
 *                              TCP_INFO round trips
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <linux/tcp.h>

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif
#define SOL_MPTCP           284
#define MPTCP_INFO          1
#define MPTCP_TCPINFO       2
#define MPTCP_SUBFLOW_ADDRS 3
#define MPTCP_FULL_INFO     4
#define TCP_IS_MPTCP        43

/* uapi struct mptcp_info (6.10+ layout, 96 bytes) */
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

struct full_info {
    uint32_t size_tcpinfo_kernel, size_tcpinfo_user, size_sfinfo_kernel, size_sfinfo_user;
    uint32_t num_subflows, size_arrays_user;
    uint64_t subflow_info, tcp_info;
    struct mptcp_info_k mptcp_info;
};

struct subflow_info {
    uint32_t id;
    struct sockaddr_storage local, remote;
};

struct subflow_data {
    uint32_t size_subflow_data, num_subflows, size_kernel, size_user;
} __attribute__((aligned(8)));

static int failures;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            failures++;                                                                            \
            printf("FAIL: %s:%d: ", __FILE__, __LINE__);                                           \
            printf(__VA_ARGS__);                                                                   \
            printf(" (errno %d %s)\n", errno, strerror(errno));                                    \
        }                                                                                          \
    } while (0)

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int seti(int fd, int level, int name, int v)
{
    return setsockopt(fd, level, name, &v, sizeof(v));
}

static int geti(int fd, int level, int name)
{
    int v = -12345;
    socklen_t l = sizeof(v);
    if (getsockopt(fd, level, name, &v, &l) < 0)
        return -12345;
    return v;
}

/* setsockopt must fail with |err|. */
static void set_fails(int fd, int level, int name, const void *v, socklen_t len, int err,
                      const char *what)
{
    errno = 0;
    int rc = setsockopt(fd, level, name, v, len);
    CHECK(rc == -1 && errno == err, "%s: rc %d, want errno %d", what, rc, err);
}

static void get_fails(int fd, int level, int name, int err, const char *what)
{
    char buf[64];
    socklen_t l = sizeof(buf);
    errno = 0;
    int rc = getsockopt(fd, level, name, buf, &l);
    CHECK(rc == -1 && errno == err, "%s: rc %d, want errno %d", what, rc, err);
}

/* set an int, read it back */
static void roundtrip(int fd, int level, int name, int v, int want, const char *what)
{
    CHECK(seti(fd, level, name, v) == 0, "set %s %d", what, v);
    int got = geti(fd, level, name);
    CHECK(got == want, "%s: set %d read %d, want %d", what, v, got, want);
}

static void check_identity(void)
{
    int fd4 = socket(AF_INET, SOCK_STREAM, 0), fd6 = socket(AF_INET6, SOCK_STREAM, 0);
    int fdm = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_MPTCP);

    CHECK(fd4 >= 0 && fd6 >= 0 && fdm >= 0, "socket");
    CHECK(geti(fd4, SOL_SOCKET, SO_DOMAIN) == AF_INET, "SO_DOMAIN v4");
    CHECK(geti(fd6, SOL_SOCKET, SO_DOMAIN) == AF_INET6, "SO_DOMAIN v6");
    CHECK(geti(fd4, SOL_SOCKET, SO_TYPE) == SOCK_STREAM, "SO_TYPE");
    CHECK(geti(fd4, SOL_SOCKET, SO_PROTOCOL) == IPPROTO_TCP, "SO_PROTOCOL tcp");
    CHECK(geti(fdm, SOL_SOCKET, SO_PROTOCOL) == IPPROTO_MPTCP, "SO_PROTOCOL mptcp");
    CHECK(geti(fd4, SOL_SOCKET, SO_ERROR) == 0, "SO_ERROR fresh");
    CHECK(geti(fd4, SOL_SOCKET, SO_ACCEPTCONN) == 0, "SO_ACCEPTCONN");
    CHECK(geti(fd4, IPPROTO_TCP, TCP_IS_MPTCP) == 1, "TCP_IS_MPTCP");
    /* a short buffer: sk_getsockopt copies what fits */
    {
        unsigned char c = 0xee;
        socklen_t l = 1;
        CHECK(getsockopt(fd4, SOL_SOCKET, SO_DOMAIN, &c, &l) == 0 && l == 1 && c == AF_INET,
              "SO_DOMAIN 1 byte");
    }
    close(fd4);
    close(fd6);
    close(fdm);
}

/* Linux's values on a fresh TCP/MPTCP socket. */
static void check_defaults(int fd)
{
    char cc[16] = {0};
    socklen_t l = sizeof(cc);
    struct tcp_info ti;

    CHECK(geti(fd, IPPROTO_TCP, TCP_NODELAY) == 0, "TCP_NODELAY default");
    CHECK(geti(fd, IPPROTO_TCP, TCP_CORK) == 0, "TCP_CORK default");
    CHECK(geti(fd, IPPROTO_TCP, TCP_KEEPIDLE) == 7200, "TCP_KEEPIDLE default");
    CHECK(geti(fd, IPPROTO_TCP, TCP_KEEPINTVL) == 75, "TCP_KEEPINTVL default");
    CHECK(geti(fd, IPPROTO_TCP, TCP_KEEPCNT) == 9, "TCP_KEEPCNT default");
    CHECK(geti(fd, IPPROTO_TCP, TCP_USER_TIMEOUT) == 0, "TCP_USER_TIMEOUT default");
    CHECK(geti(fd, IPPROTO_TCP, TCP_MAXSEG) == 536, "TCP_MAXSEG default");
    CHECK(geti(fd, SOL_SOCKET, SO_KEEPALIVE) == 0, "SO_KEEPALIVE default");
    CHECK(geti(fd, IPPROTO_IP, IP_TOS) == 0, "IP_TOS default");
    CHECK(geti(fd, IPPROTO_IP, IP_TTL) == 64, "IP_TTL default");
    CHECK(geti(fd, SOL_SOCKET, SO_SNDBUF) > 0, "SO_SNDBUF default");
    CHECK(getsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, cc, &l) == 0 && !strcmp(cc, "cubic") &&
              l == sizeof(cc),
          "TCP_CONGESTION default \"%s\" len %u", cc, (unsigned)l);
    l = sizeof(ti);
    memset(&ti, 0xff, sizeof(ti));
    CHECK(getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &l) == 0 && l == sizeof(ti) &&
              ti.tcpi_state == 7 /* TCP_CLOSE */ && ti.tcpi_bytes_acked == 0,
          "TCP_INFO fresh: state %u len %u", ti.tcpi_state, (unsigned)l);
}

static void check_sol_socket(int fd)
{
    struct linger lg = {1, 7}, lr;
    struct timeval tv = {2, 500000}, tr;
    socklen_t l;
    int v;

    roundtrip(fd, SOL_SOCKET, SO_REUSEADDR, 1, 1, "SO_REUSEADDR");
    roundtrip(fd, SOL_SOCKET, SO_REUSEPORT, 1, 1, "SO_REUSEPORT");
    roundtrip(fd, SOL_SOCKET, SO_KEEPALIVE, 1, 1, "SO_KEEPALIVE");
    roundtrip(fd, SOL_SOCKET, SO_PRIORITY, 5, 5, "SO_PRIORITY");
    roundtrip(fd, SOL_SOCKET, SO_MARK, 42, 42, "SO_MARK");
    roundtrip(fd, SOL_SOCKET, SO_RCVLOWAT, 10, 10, "SO_RCVLOWAT");
    roundtrip(fd, SOL_SOCKET, SO_TIMESTAMP, 1, 1, "SO_TIMESTAMP");
    roundtrip(fd, SOL_SOCKET, SO_TIMESTAMPNS, 1, 1, "SO_TIMESTAMPNS");
    roundtrip(fd, SOL_SOCKET, SO_BUSY_POLL, 10, 10, "SO_BUSY_POLL");
    roundtrip(fd, SOL_SOCKET, SO_INCOMING_CPU, 0, 0, "SO_INCOMING_CPU");
    /* the kernel doubles the buffer sizes it is given */
    roundtrip(fd, SOL_SOCKET, SO_SNDBUF, 65536, 131072, "SO_SNDBUF");
    roundtrip(fd, SOL_SOCKET, SO_RCVBUF, 65536, 131072, "SO_RCVBUF");
    CHECK(seti(fd, SOL_SOCKET, SO_SNDBUFFORCE, 100000) == 0, "SO_SNDBUFFORCE (root)");
    CHECK(geti(fd, SOL_SOCKET, SO_SNDBUF) == 200000, "SO_SNDBUFFORCE read");
    CHECK(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) == 0, "SO_LINGER");
    l = sizeof(lr);
    CHECK(getsockopt(fd, SOL_SOCKET, SO_LINGER, &lr, &l) == 0 && lr.l_onoff == 1 &&
              lr.l_linger == 7,
          "SO_LINGER read");
    CHECK(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0, "SO_RCVTIMEO");
    CHECK(setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == 0, "SO_SNDTIMEO");
    l = sizeof(tr);
    CHECK(getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tr, &l) == 0 && tr.tv_sec == 2 &&
              tr.tv_usec == 500000,
          "SO_RCVTIMEO read");
    CHECK(setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, "lo", 3) == 0, "SO_BINDTODEVICE lo");
    CHECK(setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, "", 0) == 0, "SO_BINDTODEVICE unbind");
    set_fails(fd, SOL_SOCKET, SO_BINDTODEVICE, "nosuchdev0", 11, ENODEV, "SO_BINDTODEVICE bad");
    CHECK(seti(fd, SOL_SOCKET, SO_DONTROUTE, 1) == 0, "SO_DONTROUTE accepted, ignored");
    /* refused on MPTCP sockets */
    v = 1;
    set_fails(fd, SOL_SOCKET, SO_ZEROCOPY, &v, sizeof(v), EOPNOTSUPP, "SO_ZEROCOPY");
    set_fails(fd, SOL_SOCKET, SO_OOBINLINE, &v, sizeof(v), EOPNOTSUPP, "SO_OOBINLINE");
    set_fails(fd, SOL_SOCKET, SO_PEEK_OFF, &v, sizeof(v), EOPNOTSUPP, "SO_PEEK_OFF");
    /* short optlen */
    set_fails(fd, SOL_SOCKET, SO_LINGER, &lg, 4, EINVAL, "SO_LINGER short");
    set_fails(fd, SOL_SOCKET, SO_REUSEPORT, &v, 2, EINVAL, "SO_REUSEPORT short");
    set_fails(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, 4, EINVAL, "SO_RCVTIMEO short");
}

static void check_tcp(int fd)
{
    char cc[16], big[64];
    socklen_t l;
    int v = 1;

    roundtrip(fd, IPPROTO_TCP, TCP_NODELAY, 5, 1, "TCP_NODELAY");
    roundtrip(fd, IPPROTO_TCP, TCP_CORK, 1, 1, "TCP_CORK");
    roundtrip(fd, IPPROTO_TCP, TCP_CORK, 0, 0, "TCP_CORK off");
    roundtrip(fd, IPPROTO_TCP, TCP_KEEPIDLE, 30, 30, "TCP_KEEPIDLE");
    roundtrip(fd, IPPROTO_TCP, TCP_KEEPINTVL, 5, 5, "TCP_KEEPINTVL");
    roundtrip(fd, IPPROTO_TCP, TCP_KEEPCNT, 4, 4, "TCP_KEEPCNT");
    roundtrip(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, 20000, 20000, "TCP_USER_TIMEOUT");
    roundtrip(fd, IPPROTO_TCP, TCP_MAXSEG, 1200, 1200, "TCP_MAXSEG");
    roundtrip(fd, IPPROTO_TCP, TCP_QUICKACK, 1, 1, "TCP_QUICKACK");
    roundtrip(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, 16384, 16384, "TCP_NOTSENT_LOWAT");
    roundtrip(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, 5, 7, "TCP_DEFER_ACCEPT (1+2+4 s)");
    roundtrip(fd, IPPROTO_TCP, TCP_FASTOPEN, 5, 5, "TCP_FASTOPEN");
    roundtrip(fd, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, 1, 1, "TCP_FASTOPEN_CONNECT");
    roundtrip(fd, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, 0, 0, "TCP_FASTOPEN_CONNECT off");
    roundtrip(fd, IPPROTO_TCP, TCP_FASTOPEN_NO_COOKIE, 1, 1, "TCP_FASTOPEN_NO_COOKIE");
    roundtrip(fd, IPPROTO_TCP, TCP_INQ, 1, 1, "TCP_INQ");
    memset(big, 0, sizeof(big));
    CHECK(setsockopt(fd, IPPROTO_TCP, TCP_FASTOPEN_KEY, big, 16) == 0, "TCP_FASTOPEN_KEY");
    set_fails(fd, IPPROTO_TCP, TCP_FASTOPEN_KEY, big, 20, EINVAL, "TCP_FASTOPEN_KEY len");
    /* congestion control: known names, ENOENT otherwise, like Linux */
    CHECK(setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, "reno", 4) == 0, "TCP_CONGESTION reno");
    memset(cc, 0, sizeof(cc));
    l = sizeof(cc);
    CHECK(getsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, cc, &l) == 0 && !strcmp(cc, "reno"),
          "TCP_CONGESTION read \"%s\"", cc);
    l = 3; /* short buffer: the first bytes, length written back */
    memset(cc, 0, sizeof(cc));
    CHECK(getsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, cc, &l) == 0 && l == 3 &&
              !memcmp(cc, "ren", 3) && cc[3] == 0,
          "TCP_CONGESTION short");
    CHECK(setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, "lia", 4) == 0, "TCP_CONGESTION lia");
    CHECK(setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, "cubic", 5) == 0, "TCP_CONGESTION cubic");
    set_fails(fd, IPPROTO_TCP, TCP_CONGESTION, "nosuchcc", 8, ENOENT, "TCP_CONGESTION unknown");
    set_fails(fd, IPPROTO_TCP, TCP_CONGESTION, "x", 0, EINVAL, "TCP_CONGESTION empty");
    /* bad values, as tcp.c */
    set_fails(fd, IPPROTO_TCP, TCP_KEEPIDLE, &(int){0}, sizeof(int), EINVAL, "TCP_KEEPIDLE 0");
    set_fails(fd, IPPROTO_TCP, TCP_KEEPIDLE, &(int){40000}, sizeof(int), EINVAL,
              "TCP_KEEPIDLE big");
    set_fails(fd, IPPROTO_TCP, TCP_KEEPCNT, &(int){128}, sizeof(int), EINVAL, "TCP_KEEPCNT big");
    set_fails(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &(int){-1}, sizeof(int), EINVAL,
              "TCP_USER_TIMEOUT -1");
    set_fails(fd, IPPROTO_TCP, TCP_MAXSEG, &(int){50}, sizeof(int), EINVAL, "TCP_MAXSEG 50");
    set_fails(fd, IPPROTO_TCP, TCP_INQ, &(int){2}, sizeof(int), EINVAL, "TCP_INQ 2");
    set_fails(fd, IPPROTO_TCP, TCP_NODELAY, &v, 2, EINVAL, "TCP_NODELAY short");
    /* options Linux MPTCP refuses */
    set_fails(fd, IPPROTO_TCP, TCP_MD5SIG, big, sizeof(big), ENOPROTOOPT, "TCP_MD5SIG");
    set_fails(fd, IPPROTO_TCP, TCP_ULP, "tls", 3, ENOPROTOOPT, "TCP_ULP");
    set_fails(fd, IPPROTO_TCP, TCP_REPAIR, &v, sizeof(v), ENOPROTOOPT, "TCP_REPAIR");
    set_fails(fd, IPPROTO_TCP, TCP_WINDOW_CLAMP, &v, sizeof(v), ENOPROTOOPT, "TCP_WINDOW_CLAMP");
    set_fails(fd, IPPROTO_TCP, TCP_INFO, &v, sizeof(v), ENOPROTOOPT, "set TCP_INFO");
    get_fails(fd, IPPROTO_TCP, TCP_LINGER2, EOPNOTSUPP, "get TCP_LINGER2");
    set_fails(fd, SOL_MPTCP, MPTCP_INFO, &v, sizeof(v), ENOPROTOOPT, "set MPTCP_INFO");
    set_fails(fd, IPPROTO_UDP, 1, &v, sizeof(v), ENOPROTOOPT, "SOL_UDP");
    /* the one-byte answer of mptcp_put_int_option */
    {
        unsigned char c = 0;
        l = 1;
        CHECK(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &c, &l) == 0 && l == 1 && c == 1,
              "TCP_NODELAY 1 byte");
        l = (socklen_t)-1;
        CHECK(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &c, &l) == -1 && errno == EINVAL,
              "negative optlen");
    }
}

static void check_ip(int fd, int fd6)
{
    int v = 1;

    roundtrip(fd, IPPROTO_IP, IP_TOS, 0x2b, 0x28, "IP_TOS (ECN bits are TCP's)");
    roundtrip(fd, IPPROTO_IP, IP_TTL, 33, 33, "IP_TTL");
    roundtrip(fd, IPPROTO_IP, IP_TTL, -1, 64, "IP_TTL default");
    roundtrip(fd, IPPROTO_IP, IP_FREEBIND, 1, 1, "IP_FREEBIND");
    roundtrip(fd, IPPROTO_IP, IP_TRANSPARENT, 1, 1, "IP_TRANSPARENT (root)");
    roundtrip(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1, 1, "IP_BIND_ADDRESS_NO_PORT");
    set_fails(fd, IPPROTO_IP, IP_TTL, &(int){0}, sizeof(int), EINVAL, "IP_TTL 0");
    set_fails(fd, IPPROTO_IP, IP_TTL, &(int){256}, sizeof(int), EINVAL, "IP_TTL 256");
    set_fails(fd, IPPROTO_IP, IP_RECVERR, &v, sizeof(v), EOPNOTSUPP, "IP_RECVERR");
    set_fails(fd, IPPROTO_IP, IP_MTU_DISCOVER, &v, sizeof(v), EOPNOTSUPP, "IP_MTU_DISCOVER");
    set_fails(fd, IPPROTO_IP, IP_OPTIONS, &v, sizeof(v), ENOPROTOOPT, "IP_OPTIONS");
    set_fails(fd, IPPROTO_IP, IP_MULTICAST_TTL, &v, sizeof(v), ENOPROTOOPT, "IP_MULTICAST_TTL");
    set_fails(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v, sizeof(v), ENOPROTOOPT, "IPV6 on AF_INET");
    /* IPv6 */
    roundtrip(fd6, IPPROTO_IPV6, IPV6_V6ONLY, 1, 1, "IPV6_V6ONLY");
    roundtrip(fd6, IPPROTO_IPV6, IPV6_V6ONLY, 0, 0, "IPV6_V6ONLY off");
    roundtrip(fd6, IPPROTO_IPV6, IPV6_TCLASS, 0x48, 0x48, "IPV6_TCLASS");
    roundtrip(fd6, IPPROTO_IPV6, IPV6_TCLASS, -1, 0, "IPV6_TCLASS default");
    roundtrip(fd6, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 9, 9, "IPV6_UNICAST_HOPS");
    set_fails(fd6, IPPROTO_IPV6, IPV6_TCLASS, &(int){256}, sizeof(int), EINVAL, "IPV6_TCLASS 256");
    set_fails(fd6, IPPROTO_IPV6, IPV6_V6ONLY, &v, 2, EINVAL, "IPV6_V6ONLY short");
    set_fails(fd6, IPPROTO_IPV6, IPV6_RECVERR, &v, sizeof(v), EOPNOTSUPP, "IPV6_RECVERR");
    set_fails(fd6, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &v, sizeof(v), ENOPROTOOPT,
              "IPV6_MULTICAST_HOPS");
    roundtrip(fd6, IPPROTO_IP, IP_TOS, 0x10, 0x10, "IP_TOS on AF_INET6");
}

/* A UDP socket and an AF_UNIX socket are the kernel's: the shim keeps out. */
static void check_unmanaged(void)
{
    int u = socket(AF_INET, SOCK_DGRAM, 0), x = socket(AF_UNIX, SOCK_STREAM, 0), v = 1;

    CHECK(u >= 0 && x >= 0, "socket udp/unix");
    CHECK(geti(u, SOL_SOCKET, SO_DOMAIN) == AF_INET, "udp SO_DOMAIN");
    CHECK(geti(u, SOL_SOCKET, SO_PROTOCOL) == IPPROTO_UDP, "udp SO_PROTOCOL");
    roundtrip(u, IPPROTO_IP, IP_TTL, 7, 7, "udp IP_TTL");
    CHECK(seti(u, SOL_SOCKET, SO_ZEROCOPY, 1) == 0 || errno != EOPNOTSUPP, "udp SO_ZEROCOPY");
    CHECK(geti(x, SOL_SOCKET, SO_DOMAIN) == AF_UNIX, "unix SO_DOMAIN");
    set_fails(x, IPPROTO_TCP, TCP_NODELAY, &v, sizeof(v), EOPNOTSUPP, "unix TCP_NODELAY");
    close(u);
    close(x);
}

/* N alternating toggles of TCP_NODELAY and TCP_CORK (nginx's pattern). */
static double toggles(int fd, int n)
{
    double t0 = now_ms();
    for (int i = 0; i < n; i++) {
        int v = i & 1;
        if (seti(fd, IPPROTO_TCP, (i & 2) ? TCP_CORK : TCP_NODELAY, v)) {
            CHECK(0, "toggle %d", i);
            break;
        }
    }
    return now_ms() - t0;
}

static int cmd_local(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), fd6 = socket(AF_INET6, SOCK_STREAM, 0);

    check_identity();
    check_defaults(fd);
    check_sol_socket(fd);
    check_tcp(fd);
    check_ip(fd, fd6);
    check_unmanaged();
    printf("toggles-unconnected 100000 ms %.1f\n", toggles(fd, 100000));
    close(fd);
    close(fd6);
    printf("%s\n", failures ? "failed" : "ok");
    return failures ? 1 : 0;
}

static socklen_t mkaddr(const char *a, int port, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    if (strchr(a, ':')) {
        struct sockaddr_in6 *s6 = (void *)ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        inet_pton(AF_INET6, a, &s6->sin6_addr);
        return sizeof(*s6);
    }
    struct sockaddr_in *s4 = (void *)ss;
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, a, &s4->sin_addr);
    return sizeof(*s4);
}

static int cmd_sink(const char *addr, int port, int n)
{
    struct sockaddr_storage ss;
    socklen_t sl = mkaddr(addr, port, &ss);
    int l = socket(ss.ss_family, SOCK_STREAM, 0);
    static char buf[1 << 16];
    char cc[16] = {0};
    socklen_t cl;

    CHECK(seti(l, SOL_SOCKET, SO_REUSEADDR, 1) == 0, "SO_REUSEADDR");
    CHECK(seti(l, IPPROTO_TCP, TCP_NODELAY, 1) == 0, "listener TCP_NODELAY");
    CHECK(setsockopt(l, IPPROTO_TCP, TCP_CONGESTION, "reno", 4) == 0, "listener cc");
    if (bind(l, (struct sockaddr *)&ss, sl) || listen(l, 16)) {
        printf("FAIL: bind/listen: %s\n", strerror(errno));
        return 1;
    }
    CHECK(geti(l, SOL_SOCKET, SO_ACCEPTCONN) == 1, "SO_ACCEPTCONN listener");
    printf("listening\n");
    fflush(stdout);
    for (int i = 0; i < n; i++) {
        int c = accept(l, NULL, NULL);
        long total = 0;
        ssize_t r;
        if (c < 0) {
            printf("FAIL: accept: %s\n", strerror(errno));
            return 1;
        }
        cl = sizeof(cc);
        getsockopt(c, IPPROTO_TCP, TCP_CONGESTION, cc, &cl);
        printf("accepted %d %s\n", geti(c, IPPROTO_TCP, TCP_NODELAY), cc);
        while ((r = read(c, buf, sizeof(buf))) > 0)
            total += r;
        printf("received %ld\n", total);
        fflush(stdout);
        close(c);
    }
    close(l);
    return failures ? 1 : 0;
}

static int tcp_info(int fd, struct tcp_info *ti)
{
    socklen_t l = sizeof(*ti);
    memset(ti, 0, sizeof(*ti));
    return getsockopt(fd, IPPROTO_TCP, TCP_INFO, ti, &l) == 0 && l == sizeof(*ti) ? 0 : -1;
}

static void print_tcp_info(const char *tag, const struct tcp_info *ti)
{
    printf("%s state %u rto %u rtt %u rttvar %u snd_cwnd %u ssthresh %u snd_mss %u rcv_mss %u "
           "bytes_acked %llu bytes_received %llu bytes_sent %llu total_retrans %u min_rtt %u\n",
           tag, ti->tcpi_state, ti->tcpi_rto, ti->tcpi_rtt, ti->tcpi_rttvar, ti->tcpi_snd_cwnd,
           ti->tcpi_snd_ssthresh, ti->tcpi_snd_mss, ti->tcpi_rcv_mss,
           (unsigned long long)ti->tcpi_bytes_acked, (unsigned long long)ti->tcpi_bytes_received,
           (unsigned long long)ti->tcpi_bytes_sent, ti->tcpi_total_retrans, ti->tcpi_min_rtt);
}

static int mptcp_info(int fd, struct mptcp_info_k *mi)
{
    socklen_t l = sizeof(*mi);
    memset(mi, 0, sizeof(*mi));
    return getsockopt(fd, SOL_MPTCP, MPTCP_INFO, mi, &l) == 0 && l == sizeof(*mi) ? 0 : -1;
}

/* MPTCP_TCPINFO / MPTCP_SUBFLOW_ADDRS: the number of subflows reported,
 * with room for 8 elements of |esize| bytes. */
static int subflow_list(int fd, int name, size_t esize, int *copied)
{
    static uint64_t buf[(sizeof(struct subflow_data) + 8 * 512) / 8];
    struct subflow_data *h = (void *)buf;
    socklen_t l = (socklen_t)(sizeof(*h) + 8 * esize);

    memset(buf, 0, sizeof(buf));
    h->size_subflow_data = sizeof(*h);
    h->size_user = (uint32_t)esize;
    if (getsockopt(fd, SOL_MPTCP, name, buf, &l))
        return -1;
    *copied = (int)((l - sizeof(*h)) / esize);
    return (int)h->num_subflows;
}

/* MPTCP_FULL_INFO: mptcp_info, and per subflow its addresses and tcp_info
 * in the program's arrays (room for one more than expected). */
static void full_info(int fd, int npaths)
{
    struct full_info f;
    struct subflow_info sfi[9];
    struct tcp_info ti[9];
    socklen_t l = sizeof(f);
    int ok = 0;

    memset(&f, 0, sizeof(f));
    memset(sfi, 0, sizeof(sfi));
    f.size_tcpinfo_user = sizeof(ti[0]);
    f.size_sfinfo_user = sizeof(sfi[0]);
    f.size_arrays_user = (uint32_t)npaths + 1;
    f.subflow_info = (uintptr_t)sfi;
    f.tcp_info = (uintptr_t)ti;
    CHECK(getsockopt(fd, SOL_MPTCP, MPTCP_FULL_INFO, &f, &l) == 0 && l == sizeof(f),
          "MPTCP_FULL_INFO len %u", (unsigned)l);
    for (int i = 0; i < (int)f.num_subflows && i <= npaths; i++)
        ok += sfi[i].id != 0 && sfi[i].local.ss_family == AF_INET && ti[i].tcpi_state == 1 &&
              ti[i].tcpi_rtt > 0;
    printf("mptcp_full_info num %u subflows_total %u good %d size_tcpinfo_kernel %u\n",
           f.num_subflows, f.mptcp_info.subflows_total, ok, f.size_tcpinfo_kernel);
    l = 39;
    CHECK(getsockopt(fd, SOL_MPTCP, MPTCP_FULL_INFO, &f, &l) == -1 && errno == EINVAL,
          "MPTCP_FULL_INFO short");
}

static void after_connect(int fd, int npaths)
{
    struct tcp_info a, b;
    struct mptcp_info_k mi;
    static char chunk[1 << 16];
    double t0, ms;
    int k = 0, copied = 0;

    CHECK(tcp_info(fd, &a) == 0, "TCP_INFO");
    print_tcp_info("tcpinfo-before", &a);
    CHECK(a.tcpi_state == 1, "TCP_INFO state %u", a.tcpi_state);
    for (long sent = 0; sent < (8l << 20);) {
        ssize_t w = write(fd, chunk, sizeof(chunk));
        if (w <= 0) {
            CHECK(0, "write");
            break;
        }
        sent += w;
    }
    /* wait (bounded) for the data to be acknowledged */
    t0 = now_ms();
    do {
        CHECK(tcp_info(fd, &b) == 0, "TCP_INFO after");
    } while (b.tcpi_bytes_acked <= a.tcpi_bytes_acked + (1u << 20) && now_ms() - t0 < 20000);
    print_tcp_info("tcpinfo-after", &b);
    /* every path carries a subflow (the PM may still be adding them) */
    t0 = now_ms();
    do {
        CHECK(mptcp_info(fd, &mi) == 0, "MPTCP_INFO");
    } while (mi.subflows_total < npaths && now_ms() - t0 < 20000 && !failures);
    printf("mptcpinfo subflows %u subflows_total %u subflows_max %u token %u flags %u "
           "bytes_sent %llu bytes_acked %llu write_seq %llu snd_una %llu local_addr_used %u\n",
           mi.subflows, mi.subflows_total, mi.subflows_max, mi.token, mi.flags,
           (unsigned long long)mi.bytes_sent, (unsigned long long)mi.bytes_acked,
           (unsigned long long)mi.write_seq, (unsigned long long)mi.snd_una, mi.local_addr_used);
    k = subflow_list(fd, MPTCP_TCPINFO, sizeof(struct tcp_info), &copied);
    printf("mptcp_tcpinfo num %d copied %d\n", k, copied);
    k = subflow_list(fd, MPTCP_SUBFLOW_ADDRS, 256, &copied);
    printf("mptcp_subflow_addrs num %d copied %d\n", k, copied);
    CHECK(geti(fd, IPPROTO_TCP, TCP_IS_MPTCP) == 1, "TCP_IS_MPTCP connected");
    full_info(fd, npaths);
    /* fire and forget: 100k toggles against round trips (TCP_INFO) */
    ms = toggles(fd, 100000);
    printf("toggles 100000 ms %.1f\n", ms);
    t0 = now_ms();
    for (int i = 0; i < 500; i++)
        tcp_info(fd, &b);
    printf("tcpinfo-calls 500 ms %.1f\n", now_ms() - t0);
    /* the connection still works after the toggles */
    CHECK(seti(fd, IPPROTO_TCP, TCP_CORK, 0) == 0 && seti(fd, IPPROTO_TCP, TCP_NODELAY, 1) == 0,
          "uncork");
    CHECK(write(fd, "end", 3) == 3, "write after toggles");
}

static int cmd_conn(const char *addr, int port, int npaths)
{
    struct sockaddr_storage ss;
    socklen_t sl = mkaddr(addr, port, &ss);
    int fd = socket(ss.ss_family, SOCK_STREAM, 0);
    char line[64], cc[16] = {0};
    socklen_t l = sizeof(cc);
    struct linger lg = {1, 5};

    /* set before connect: they must reach the connection */
    CHECK(setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, "reno", 4) == 0, "cc reno");
    CHECK(seti(fd, IPPROTO_TCP, TCP_NODELAY, 1) == 0, "nodelay");
    CHECK(seti(fd, SOL_SOCKET, SO_KEEPALIVE, 1) == 0, "keepalive");
    CHECK(seti(fd, IPPROTO_TCP, TCP_KEEPIDLE, 33) == 0, "keepidle");
    CHECK(seti(fd, IPPROTO_TCP, TCP_KEEPINTVL, 7) == 0, "keepintvl");
    CHECK(seti(fd, IPPROTO_TCP, TCP_KEEPCNT, 4) == 0, "keepcnt");
    CHECK(seti(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, 25000) == 0, "user timeout");
    CHECK(seti(fd, IPPROTO_IP, IP_TOS, 0x20) == 0, "tos");
    CHECK(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) == 0, "linger");
    if (connect(fd, (struct sockaddr *)&ss, sl)) {
        printf("FAIL: connect: %s\n", strerror(errno));
        return 1;
    }
    CHECK(geti(fd, SOL_SOCKET, SO_ERROR) == 0, "SO_ERROR connected");
    CHECK(getsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, cc, &l) == 0 && !strcmp(cc, "reno"),
          "cc read");
    /* set after connect: forwarded at once */
    CHECK(seti(fd, IPPROTO_IP, IP_TTL, 61) == 0, "ttl");
    printf("connected\n");
    fflush(stdout);
    if (!fgets(line, sizeof(line), stdin))
        printf("no go line\n");
    after_connect(fd, npaths);
    shutdown(fd, SHUT_WR);
    while (read(fd, line, sizeof(line)) > 0)
        ;
    close(fd);
    printf("%s\n", failures ? "failed" : "ok");
    return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 2 && !strcmp(argv[1], "local"))
        return cmd_local();
    if (argc >= 5 && !strcmp(argv[1], "sink"))
        return cmd_sink(argv[2], atoi(argv[3]), atoi(argv[4]));
    if (argc >= 5 && !strcmp(argv[1], "conn"))
        return cmd_conn(argv[2], atoi(argv[3]), atoi(argv[4]));
    fprintf(stderr, "usage: shim_sockopt local | sink ADDR PORT N | conn ADDR PORT NPATHS\n");
    return 2;
}
