/*
 * main.c - `mptcpext`: talk to the mptcpextd of this network namespace.
 * See usage() for the verbs; --json everywhere for machines.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mptcpext [--socket PATH | --name NAME] [--json|-j] VERB ...\n"
            "  conn [show [ID]] | conn abort ID       connections and subflows (like ss -M)\n"
            "  rotate ID                                new external key for conn ID (NEW_KEY;\n"
            "                                           root or the connection's owner)\n"
            "  endpoint add ADDR [port P] [id ID] [signal|subflow|backup|fullmesh|laminar]"
            " [dev IF]\n"
            "  endpoint delete id ID [ADDR] | endpoint delete ADDR [port P]\n"
            "  endpoint change (id ID | ADDR) [backup|nobackup] [fullmesh|nofullmesh]\n"
            "  endpoint show [id ID] | endpoint flush  (like ip mptcp endpoint)\n"
            "  limits [show] | limits set [subflows N] [add_addr_accepted N]\n"
            "  counters [-z] [PATTERN...]               like nstat -a (MPTcpExt*, Tcp*, Mpxd*)\n"
            "  monitor                                  live events (like ip mptcp monitor)\n"
            "  set KEY VALUE | get [KEY]                daemon settings at run time (get: all)\n"
            "  connect HOST PORT [--source ADDR] [--psk-file F] [--extkey never|prefer|require]\n"
            "  listen PORT [--source ADDR] [--psk-file F] [--extkey P]   stdin/stdout, like ncat\n"
            "  plot EVENTS.jsonl -o OUT.png             per-subflow throughput over time\n"
            "  run [--extkey P] [--psk-file F] [--log L] [--no-start] PROGRAM ARGS...\n"
            "                                           PROGRAM on the engine (LD_PRELOAD)\n"
            "Socket: --socket, $MPTCPEXT_SOCKET, or %s/<netns name>.sock\n",
            MPX_RPC_SOCK_DIR);
}

int cli_open(struct cli *c)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};

    if (strlen(c->sock) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "mptcpext: socket path too long\n");
        return -1;
    }
    memcpy(sa.sun_path, c->sock, strlen(c->sock) + 1);
    c->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa))) {
        fprintf(stderr, "mptcpext: cannot reach mptcpextd at %s: %s\n", c->sock, strerror(errno));
        return -1;
    }
    return 0;
}

uint32_t cli_send(struct cli *c, uint16_t type, const void *body, size_t len, int fd)
{
    uint8_t msg[MPX_RPC_MSG_MAX];
    union {
        char b[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    uint32_t id = ++c->next_id;
    size_t n = mpx_rpc_encode(msg, sizeof(msg), type, id, body, len);
    struct iovec iov = {msg, n};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};

    if (!n) {
        fprintf(stderr, "mptcpext: internal error encoding %s\n", mpx_rpc_type_name(type));
        return 0;
    }
    if (fd >= 0) {
        struct cmsghdr *cm;
        memset(&ctl, 0, sizeof(ctl));
        mh.msg_control = ctl.b;
        mh.msg_controllen = sizeof(ctl.b);
        cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &fd, sizeof(int));
    }
    if (sendmsg(c->fd, &mh, MSG_NOSIGNAL) != (ssize_t)n) {
        fprintf(stderr, "mptcpext: send: %s\n", strerror(errno));
        return 0;
    }
    return id;
}

int cli_recv(struct cli *c, struct mpx_rpc_hdr *h, void *body, size_t cap, int timeout_ms)
{
    uint8_t msg[MPX_RPC_MSG_MAX + 1];
    struct pollfd p = {c->fd, POLLIN, 0};
    const char *why = "";
    ssize_t n;
    int rc;

    if (poll(&p, 1, timeout_ms) == 0) {
        fprintf(stderr, "mptcpext: no answer from mptcpextd\n");
        return -1;
    }
    n = recv(c->fd, msg, sizeof(msg), 0);
    if (n == 0)
        return 0;
    if (n < 0) {
        fprintf(stderr, "mptcpext: recv: %s\n", strerror(errno));
        return -1;
    }
    rc = mpx_rpc_decode(msg, (size_t)n, 0, MPX_RPC_TO_CLIENT, h, body, cap, &why);
    if (rc) {
        fprintf(stderr, "mptcpext: malformed answer from mptcpextd (%s: %s)\n",
                mpx_rpc_reject_name(rc), why);
        return -1;
    }
    return 1;
}

int cli_call(struct cli *c, uint16_t type, const void *body, size_t len, int fd,
             struct mpx_rpc_hdr *h, void *reply, size_t cap)
{
    uint32_t id = cli_send(c, type, body, len, fd);
    int rc;
    if (!id)
        return -1;
    do {
        rc = cli_recv(c, h, reply, cap, 30000);
        if (rc == 0)
            fprintf(stderr, "mptcpext: mptcpextd closed the connection\n");
        if (rc <= 0)
            return -1;
    } while (h->id != id);
    return 0;
}

void cli_print_status_error(const struct mpx_rpc_status *s)
{
    if (s->msg[0])
        fprintf(stderr, "Error: %s (%s)\n", s->msg, strerror(-s->status));
    else
        fprintf(stderr, "Error: %s\n", strerror(-s->status));
}

int cli_simple(struct cli *c, uint16_t type, const void *body, size_t len)
{
    struct mpx_rpc_hdr h;
    struct mpx_rpc_status s;
    if (cli_call(c, type, body, len, -1, &h, &s, sizeof(s)))
        return -1;
    if (h.type != MPX_RPC_STATUS) {
        fprintf(stderr, "mptcpext: unexpected answer %s\n", mpx_rpc_type_name(h.type));
        return -1;
    }
    if (s.status) {
        cli_print_status_error(&s);
        return 1;
    }
    return 0;
}

/* `get` without a key: every setting as the daemon has it now (OPT_GET
 * "*": OPT messages, then END). */
static int cmd_get_all(struct cli *c)
{
    struct mpx_rpc_opt o;
    struct mpx_rpc_hdr h;
    union {
        struct mpx_rpc_opt opt;
        struct mpx_rpc_status st;
    } r;
    int n = 0;

    memset(&o, 0, sizeof(o));
    o.key[0] = '*';
    if (!cli_send(c, MPX_RPC_OPT_GET, &o, sizeof(o), -1))
        return 1;
    for (;;) {
        if (cli_recv(c, &h, &r, sizeof(r), 10000) != 1)
            return 1;
        if (h.type == MPX_RPC_STATUS) {
            cli_print_status_error(&r.st);
            return 1;
        }
        if (h.type == MPX_RPC_END)
            break;
        if (h.type != MPX_RPC_OPT)
            continue;
        if (c->json) {
            printf("%s\"%s\":\"", n++ ? "," : "{", r.opt.key);
            for (const char *p = r.opt.value; *p; p++) /* paths may hold quotes */
                printf(*p == '"' || *p == '\\' ? "\\%c" : "%c", *p);
            putchar('"');
        } else {
            printf("%s %s\n", r.opt.key, r.opt.value);
        }
    }
    if (c->json)
        printf("%s}\n", n ? "" : "{");
    return 0;
}

static int cmd_set_get(struct cli *c, bool set, int argc, char **argv)
{
    struct mpx_rpc_opt o;
    struct mpx_rpc_hdr h;
    union {
        struct mpx_rpc_opt opt;
        struct mpx_rpc_status st;
    } r;
    size_t off = 0;

    memset(&o, 0, sizeof(o));
    if (!set && argc == 0)
        return cmd_get_all(c);
    if (argc < (set ? 2 : 1) || strlen(argv[0]) >= sizeof(o.key)) {
        fprintf(stderr, "usage: mptcpext %s\n", set ? "set KEY VALUE..." : "get [KEY]");
        return 2;
    }
    snprintf(o.key, sizeof(o.key), "%s", argv[0]);
    for (int i = 1; set && i < argc; i++) {
        int n = snprintf(o.value + off, sizeof(o.value) - off, "%s%s", i > 1 ? " " : "", argv[i]);
        if (n < 0 || (size_t)n >= sizeof(o.value) - off) {
            fprintf(stderr, "mptcpext: value too long\n");
            return 2;
        }
        off += (size_t)n;
    }
    if (set)
        return cli_simple(c, MPX_RPC_OPT_SET, &o, sizeof(o)) ? 1 : 0;
    if (cli_call(c, MPX_RPC_OPT_GET, &o, sizeof(o), -1, &h, &r, sizeof(r)))
        return 1;
    if (h.type == MPX_RPC_STATUS) {
        cli_print_status_error(&r.st);
        return 1;
    }
    if (c->json)
        printf("{\"%s\":\"%s\"}\n", r.opt.key, r.opt.value);
    else
        printf("%s %s\n", r.opt.key, r.opt.value);
    return 0;
}

static int dispatch(struct cli *c, int argc, char **argv)
{
    const char *v = argv[0];

    if (!strcmp(v, "plot"))
        return cli_cmd_plot(argc - 1, argv + 1);
    if (!strcmp(v, "run"))
        return cli_cmd_run(c, argc - 1, argv + 1);
    if (cli_open(c))
        return 1;
    if (!strcmp(v, "conn") || !strcmp(v, "ss"))
        return cli_cmd_conn(c, argc - 1, argv + 1);
    if (!strcmp(v, "rotate"))
        return cli_cmd_rotate(c, argc - 1, argv + 1);
    if (!strcmp(v, "endpoint") || !strcmp(v, "endp"))
        return cli_cmd_endpoint(c, argc - 1, argv + 1);
    if (!strcmp(v, "limits"))
        return cli_cmd_limits(c, argc - 1, argv + 1);
    if (!strcmp(v, "counters") || !strcmp(v, "nstat"))
        return cli_cmd_counters(c, argc - 1, argv + 1);
    if (!strcmp(v, "monitor"))
        return cli_cmd_monitor(c, argc - 1, argv + 1);
    if (!strcmp(v, "connect"))
        return cli_cmd_connect(c, argc - 1, argv + 1);
    if (!strcmp(v, "listen"))
        return cli_cmd_listen(c, argc - 1, argv + 1);
    if (!strcmp(v, "set") || !strcmp(v, "get"))
        return cmd_set_get(c, v[0] == 's', argc - 1, argv + 1);
    fprintf(stderr, "mptcpext: unknown verb \"%s\"\n", v);
    usage(stderr);
    return 2;
}

int main(int argc, char **argv)
{
    struct cli c = {.fd = -1};
    const char *name = NULL;
    int i, rc;

    c.sock = getenv("MPTCPEXT_SOCKET");
    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--json") || !strcmp(a, "-j")) {
            c.json = true;
        } else if ((!strcmp(a, "--socket") || !strcmp(a, "--name")) && i + 1 < argc) {
            if (a[2] == 's')
                c.sock = argv[++i];
            else
                name = argv[++i];
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "mptcpext: unknown option \"%s\"\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    if (!c.sock || name) {
        mpx_rpc_default_socket(c.sock_buf, sizeof(c.sock_buf), name);
        c.sock = c.sock_buf;
    }
    /* --json may also come after the verb (not for run: PROGRAM's own) */
    for (int k = i; k < argc && strcmp(argv[i], "run"); k++)
        if (!strcmp(argv[k], "--json") || !strcmp(argv[k], "-j")) {
            c.json = true;
            memmove(&argv[k], &argv[k + 1], (size_t)(argc - k) * sizeof(char *));
            argc--;
            k--;
        }
    rc = dispatch(&c, argc - i, argv + i);
    if (c.fd >= 0)
        close(c.fd);
    return rc;
}
