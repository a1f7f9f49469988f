/*
 * data.c - `mptcpext connect` / `listen` (stdin/stdout over one MPTCP
 * connection of the daemon, like ncat) and `mptcpext plot`.
 *
 * The data path is the one the LD_PRELOAD shim will use: a socketpair, one
 * end sent to the daemon with SCM_RIGHTS in the CONNECT/ACCEPT request, the
 * other end our data fd. Half-close both ways: stdin EOF -> shutdown(SHUT_WR)
 * (the daemon sends DATA_FIN); EOF on the data fd (the peer's DATA_FIN) ->
 * we flush stdout and exit.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#define BUFSZ (64 * 1024)

/* The parsing and the permission check are rpc.c's, shared with the shim
 * (MPTCPEXT_PSK_FILE). */
int cli_read_psk(const char *path, uint8_t *psk, uint16_t *len)
{
    char err[320];
    int n = mpx_rpc_psk_read(path, psk, err, sizeof(err));
    if (n < 0) {
        fprintf(stderr, "mptcpext: %s\n", err);
        return -1;
    }
    *len = (uint16_t)n;
    return 0;
}

static int parse_policy(const char *s, uint8_t *out)
{
    static const char *const names[] = {"default", "never", "prefer", "require"};
    for (uint8_t i = 0; i < 4; i++)
        if (!strcmp(s, names[i])) {
            *out = i;
            return 0;
        }
    fprintf(stderr, "mptcpext: unknown external-key policy \"%s\"\n", s);
    return -1;
}

static int parse_port(const char *s, uint16_t *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || v < 1 || v > 65535) {
        fprintf(stderr, "mptcpext: invalid port \"%s\"\n", s);
        return -1;
    }
    *out = (uint16_t)v;
    return 0;
}

static int resolve(const char *host, struct mpx_rpc_addr *out)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
    int rc;
    char t[64];

    if (mpx_rpc_addr_parse(host, out) == 0)
        return 0;
    rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc) {
        fprintf(stderr, "mptcpext: %s: %s\n", host, gai_strerror(rc));
        return -1;
    }
    rc = getnameinfo(res->ai_addr, res->ai_addrlen, t, sizeof(t), NULL, 0, NI_NUMERICHOST);
    freeaddrinfo(res);
    if (rc || mpx_rpc_addr_parse(t, out)) {
        fprintf(stderr, "mptcpext: %s: cannot resolve\n", host);
        return -1;
    }
    return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/*
 * stdin -> data, data -> stdout. Ends when both directions are done (our
 * stdin EOF sent as DATA_FIN, the peer's DATA_FIN read), or when the daemon
 * drops the bridge altogether (POLLHUP: the connection is gone), so that a
 * peer's half-close still lets us send (like `ncat --no-shutdown` in
 * reverse: the half-close maps both ways).
 */
static int pump(int data)
{
    static char buf[BUFSZ];
    struct pollfd p[2] = {{STDIN_FILENO, POLLIN, 0}, {data, POLLIN, 0}};
    bool in_open = true, data_eof = false;

    for (;;) {
        p[0].fd = in_open ? STDIN_FILENO : -1;
        p[1].events = data_eof ? 0 : POLLIN; /* after EOF: only POLLHUP */
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return 1;
        }
        if (p[0].revents) {
            ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
            if (n > 0) {
                if (write_all(data, buf, (size_t)n)) {
                    fprintf(stderr, "mptcpext: connection closed while sending\n");
                    return 1;
                }
            } else {
                in_open = false;
                shutdown(data, SHUT_WR);
                if (data_eof)
                    return 0;
            }
        }
        if (!data_eof && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t n = read(data, buf, sizeof(buf));
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                return 1;
            if (n == 0) {
                data_eof = true;
                if (!in_open)
                    return 0;
                continue;
            }
            if (write_all(STDOUT_FILENO, buf, (size_t)n))
                return 1;
        } else if (data_eof && (p[1].revents & (POLLHUP | POLLERR))) {
            return 0; /* the daemon closed the connection */
        }
    }
}

struct data_opts {
    const char *psk_file;
    uint8_t policy;
    const char *source;
    int npos;
    char *pos[2];
};

static int parse_data_opts(int argc, char **argv, struct data_opts *o)
{
    memset(o, 0, sizeof(*o));
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--psk-file") && i + 1 < argc)
            o->psk_file = argv[++i];
        else if (!strcmp(argv[i], "--extkey") && i + 1 < argc) {
            if (parse_policy(argv[++i], &o->policy))
                return -1;
        } else if ((!strcmp(argv[i], "--source") || !strcmp(argv[i], "-s")) && i + 1 < argc)
            o->source = argv[++i];
        else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "mptcpext: unknown option \"%s\"\n", argv[i]);
            return -1;
        } else if (o->npos < 2)
            o->pos[o->npos++] = argv[i];
        else {
            fprintf(stderr, "mptcpext: unexpected \"%s\"\n", argv[i]);
            return -1;
        }
    }
    return 0;
}

static void print_result(const char *what, const struct mpx_rpc_conn_result *r, bool json)
{
    char l[64], p[64];
    mpx_rpc_addr_fmt(&r->local, l, sizeof(l));
    mpx_rpc_addr_fmt(&r->remote, p, sizeof(p));
    if (json)
        fprintf(stderr,
                "{\"event\":\"%s\",\"conn\":%u,\"local\":\"%s\",\"lport\":%u,"
                "\"remote\":\"%s\",\"rport\":%u}\n",
                what, r->conn, l, r->lport, p, r->rport);
}

int cli_cmd_connect(struct cli *c, int argc, char **argv)
{
    struct data_opts o;
    struct mpx_rpc_connect req;
    union {
        struct mpx_rpc_conn_result r;
        struct mpx_rpc_status st;
    } rep;
    struct mpx_rpc_hdr h;
    int sv[2], rc;

    memset(&req, 0, sizeof(req));
    if (parse_data_opts(argc, argv, &o) || o.npos != 2) {
        fprintf(stderr, "usage: mptcpext connect HOST PORT [--source ADDR] [--psk-file F] "
                        "[--extkey POLICY]\n");
        return 2;
    }
    if (resolve(o.pos[0], &req.remote) || parse_port(o.pos[1], &req.rport))
        return 2;
    if (o.source && mpx_rpc_addr_parse(o.source, &req.local)) {
        fprintf(stderr, "mptcpext: invalid source address \"%s\"\n", o.source);
        return 2;
    }
    if (o.psk_file && cli_read_psk(o.psk_file, req.psk, &req.psk_len))
        return 2;
    req.extkey_policy = o.policy;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
        perror("mptcpext: socketpair");
        return 1;
    }
    rc = cli_call(c, MPX_RPC_CONNECT, &req, sizeof(req), sv[1], &h, &rep, sizeof(rep));
    close(sv[1]);
    if (rc)
        return 1;
    if (h.type == MPX_RPC_STATUS || rep.r.status) {
        int st = h.type == MPX_RPC_STATUS ? rep.st.status : rep.r.status;
        fprintf(stderr, "mptcpext: connect to %s port %s: %s\n", o.pos[0], o.pos[1], strerror(-st));
        return 1;
    }
    print_result("connected", &rep.r, c->json);
    rc = pump(sv[0]);
    close(sv[0]);
    return rc;
}

int cli_cmd_listen(struct cli *c, int argc, char **argv)
{
    struct data_opts o;
    struct mpx_rpc_listen req;
    struct mpx_rpc_accept acc;
    union {
        struct mpx_rpc_conn_result r;
        struct mpx_rpc_status st;
    } rep;
    struct mpx_rpc_hdr h;
    int sv[2], rc;

    memset(&req, 0, sizeof(req));
    memset(&acc, 0, sizeof(acc));
    if (parse_data_opts(argc, argv, &o) || o.npos != 1) {
        fprintf(stderr, "usage: mptcpext listen PORT [--source ADDR] [--psk-file F] "
                        "[--extkey POLICY]\n");
        return 2;
    }
    if (parse_port(o.pos[0], &req.port))
        return 2;
    /* --source: that engine address only (like ncat -l -s ADDR); else all */
    if (o.source && mpx_rpc_addr_parse(o.source, &req.local)) {
        fprintf(stderr, "mptcpext: invalid source address \"%s\"\n", o.source);
        return 2;
    }
    if (o.psk_file && cli_read_psk(o.psk_file, req.psk, &req.psk_len))
        return 2;
    req.extkey_policy = o.policy;
    if (cli_simple(c, MPX_RPC_LISTEN, &req, sizeof(req)))
        return 1;
    if (c->json)
        fprintf(stderr, "{\"event\":\"listening\",\"port\":%u}\n", req.port);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
        perror("mptcpext: socketpair");
        return 1;
    }
    acc.port = req.port;
    /* ACCEPT waits in the daemon until a connection is established */
    rc = cli_call(c, MPX_RPC_ACCEPT, &acc, sizeof(acc), sv[1], &h, &rep, sizeof(rep));
    close(sv[1]);
    if (rc)
        return 1;
    if (h.type == MPX_RPC_STATUS || rep.r.status) {
        int st = h.type == MPX_RPC_STATUS ? rep.st.status : rep.r.status;
        fprintf(stderr, "mptcpext: accept on port %u: %s\n", req.port, strerror(-st));
        return 1;
    }
    print_result("accepted", &rep.r, c->json);
    rc = pump(sv[0]);
    close(sv[0]);
    return rc;
}

/* The plotting script: $MPTCPEXT_PLOT, else scripts/mptcpext-plot.py of the
 * source tree the binary was built in (build/ or build/asan/), else the
 * installed copy. */
static int find_plot_script(char *out, size_t cap)
{
    static const char *const rel[] = {"/../scripts/mptcpext-plot.py",
                                      "/../../scripts/mptcpext-plot.py"};
    const char *env = getenv("MPTCPEXT_PLOT");
    char exe[PATH_MAX];
    ssize_t n;

    if (env) {
        snprintf(out, cap, "%s", env);
        return 0;
    }
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        *strrchr(exe, '/') = '\0';
        for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
            snprintf(out, cap, "%s%s", exe, rel[i]);
            if (access(out, R_OK) == 0)
                return 0;
        }
    }
    snprintf(out, cap, "/usr/share/mptcpext/mptcpext-plot.py");
    return access(out, R_OK);
}

int cli_cmd_plot(int argc, char **argv)
{
    char script[PATH_MAX + 64];
    char **args;

    if (find_plot_script(script, sizeof(script))) {
        fprintf(stderr, "mptcpext: mptcpext-plot.py not found (set MPTCPEXT_PLOT)\n");
        return 1;
    }
    args = calloc((size_t)argc + 3, sizeof(char *));
    if (!args)
        return 1;
    args[0] = "/usr/bin/python3";
    args[1] = script;
    for (int i = 0; i < argc; i++)
        args[i + 2] = argv[i];
    execv(args[0], args);
    fprintf(stderr, "mptcpext: cannot run %s %s: %s\n", args[0], script, strerror(errno));
    free(args);
    return 1;
}
