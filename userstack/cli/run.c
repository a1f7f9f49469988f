/*
 * run.c - `mptcpext run [OPTIONS] PROGRAM ARGS...`: run an unmodified
 * program on the engine through libmptcpext.so (DESIGN decision 1, like
 * mptcpize run does for the kernel's MPTCP).
 *
 * It appends libmptcpext.so to LD_PRELOAD (keeping what is there, so other
 * preloads still chain), sets the shim's MPTCPEXT_* variables
 * (shim/README.md), makes sure a daemon answers on the control socket and
 * execs PROGRAM. The daemon needs the host's network setup (TUN device,
 * addresses, endpoints), which only its administrator knows, so run starts
 * it only from a configuration file (--daemon-config, else
 * /etc/mptcpext/mptcpextd.conf when present); otherwise it stops with a
 * message telling how to start it. --no-start skips the check: the shim
 * then does what MPTCPEXT_FALLBACK says when no daemon answers.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define SHIM_NAME     "libmptcpext.so"
#define DAEMON_CONF   "/etc/mptcpext/mptcpextd.conf"
#define START_WAIT_MS 3000
#define PRELOAD_MAX   4096

struct run_opts {
    const char *extkey, *psk_file, *sock, *log, *daemon_conf, *lib;
    bool no_start;
};

static void run_usage(FILE *f)
{
    fprintf(f,
            "usage: mptcpext run [--extkey never|prefer|require] [--psk-file FILE]\n"
            "                    [--socket PATH] [--log error|warn|info|debug] [--no-start]\n"
            "                    [--daemon-config FILE] [--lib PATH] [--] PROGRAM [ARGS...]\n"
            "Runs PROGRAM with libmptcpext.so preloaded (appended to LD_PRELOAD): its TCP\n"
            "connections become MPTCP connections of mptcpextd. The daemon must answer on\n"
            "the control socket; if it does not, run starts it from --daemon-config FILE\n"
            "(default %s, if present) and otherwise stops with an error.\n"
            "--no-start skips that check (the shim falls back per MPTCPEXT_FALLBACK).\n"
            "Static and setuid programs cannot be preloaded (see shim/README.md).\n",
            DAEMON_CONF);
}

static bool one_of(const char *v, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(v, *list))
            return true;
    return false;
}

/* Options up to PROGRAM; returns the index of PROGRAM, or -1 (printed). */
static int parse(struct run_opts *o, int argc, char **argv)
{
    static const char *const extkeys[] = {"never", "prefer", "require", NULL};
    static const char *const levels[] = {"error", "warn", "info", "debug", NULL};
    int i;

    for (i = 0; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        const char **dst = NULL;
        if (!strcmp(a, "--")) {
            i++;
            break;
        }
        if (!strcmp(a, "--no-start")) {
            o->no_start = true;
            continue;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            run_usage(stdout);
            exit(0);
        }
        if (!strcmp(a, "--extkey"))
            dst = &o->extkey;
        else if (!strcmp(a, "--psk-file"))
            dst = &o->psk_file;
        else if (!strcmp(a, "--socket"))
            dst = &o->sock;
        else if (!strcmp(a, "--log"))
            dst = &o->log;
        else if (!strcmp(a, "--daemon-config"))
            dst = &o->daemon_conf;
        else if (!strcmp(a, "--lib"))
            dst = &o->lib;
        if (!dst) {
            fprintf(stderr, "mptcpext run: unknown option \"%s\"\n", a);
            return -1;
        }
        if (i + 1 >= argc || !argv[i + 1][0]) {
            fprintf(stderr, "mptcpext run: %s needs a value\n", a);
            return -1;
        }
        *dst = argv[++i];
    }
    if (o->extkey && !one_of(o->extkey, extkeys)) {
        fprintf(stderr, "mptcpext run: --extkey must be never, prefer or require, not \"%s\"\n",
                o->extkey);
        return -1;
    }
    if (o->log && !one_of(o->log, levels)) {
        fprintf(stderr, "mptcpext run: --log must be error, warn, info or debug, not \"%s\"\n",
                o->log);
        return -1;
    }
    if (i >= argc) {
        fprintf(stderr, "mptcpext run: no PROGRAM given\n");
        return -1;
    }
    return i;
}

static bool is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* libmptcpext.so: --lib, $MPTCPEXT_LIB, next to this binary (the build
 * tree), or the install directories next to bin/. */
static int find_lib(const struct run_opts *o, char *out, size_t cap)
{
    static const char *const rel[] = {"", "/../lib/mptcpext", "/../lib"};
    char self[PATH_MAX], dir[PATH_MAX], cand[PATH_MAX + 64];
    const char *env = getenv("MPTCPEXT_LIB");
    ssize_t n;

    if (o->lib || (env && *env)) {
        const char *p = o->lib ? o->lib : env;
        if (!is_file(p) || !realpath(p, out)) {
            fprintf(stderr, "mptcpext run: %s: not a file\n", p);
            return -1;
        }
        return 0;
    }
    n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0) {
        fprintf(stderr, "mptcpext run: /proc/self/exe: %s\n", strerror(errno));
        return -1;
    }
    self[n] = '\0';
    snprintf(dir, sizeof(dir), "%s", dirname(self));
    for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
        snprintf(cand, sizeof(cand), "%s%s/%s", dir, rel[i], SHIM_NAME);
        if (is_file(cand) && realpath(cand, out) && strlen(out) < cap)
            return 0;
    }
    fprintf(stderr,
            "mptcpext run: %s not found next to %s (nor in ../lib/mptcpext, ../lib); "
            "use --lib PATH or $MPTCPEXT_LIB\n",
            SHIM_NAME, dir);
    return -1;
}

/* LD_PRELOAD with |lib| appended (ld.so takes ':' or ' ' as separators);
 * unchanged if |lib| is already in it. */
static int compose_preload(const char *old, const char *lib, char *out, size_t cap)
{
    const char *p = old ? old : "";
    size_t ll = strlen(lib);
    int n;

    while (*p) { /* already preloaded: keep the order the user chose */
        size_t w = strcspn(p, ": ");
        if (w == ll && !strncmp(p, lib, ll)) {
            n = snprintf(out, cap, "%s", old);
            return n < 0 || (size_t)n >= cap ? -1 : 0;
        }
        p += w;
        p += strspn(p, ": ");
    }
    if (old && old[strspn(old, ": ")])
        n = snprintf(out, cap, "%s:%s", old, lib);
    else
        n = snprintf(out, cap, "%s", lib);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* Does a daemon answer on |path|? 0, or a negative errno. */
static int daemon_answers(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd, rc = 0;

    if (strlen(path) >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
        rc = -errno;
    close(fd);
    return rc;
}

static void mptcpextd_path(char *out, size_t cap)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

    if (n > 0) {
        self[n] = '\0';
        snprintf(out, cap, "%s/mptcpextd", dirname(self));
        if (is_file(out))
            return;
    }
    snprintf(out, cap, "mptcpextd"); /* from PATH */
}

/* Start mptcpextd -f CONF --socket SOCK detached (its own session, stdio on
 * /dev/null, not our child once we exec) and wait until it answers. */
static int start_daemon(const char *conf, const char *sock)
{
    char bin[PATH_MAX + 16];
    struct timespec t0, t;
    pid_t pid;
    int st;

    mptcpextd_path(bin, sizeof(bin));
    pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        int nul = open("/dev/null", O_RDWR);
        setsid();
        if (nul >= 0) {
            dup2(nul, 0);
            dup2(nul, 1);
            dup2(nul, 2);
        }
        if (fork() != 0) /* the daemon is reparented to init */
            _exit(0);
        execlp(bin, bin, "-q", "-f", conf, "--socket", sock, (char *)NULL);
        _exit(127);
    }
    waitpid(pid, &st, 0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct timespec pause = {0, 20 * 1000 * 1000};
        if (daemon_answers(sock) == 0)
            return 0;
        clock_gettime(CLOCK_MONOTONIC, &t);
        if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 > START_WAIT_MS)
            return -ETIMEDOUT;
        nanosleep(&pause, NULL); /* polling a condition with a deadline */
    }
}

static int ensure_daemon(const struct run_opts *o, const char *sock)
{
    const char *conf = o->daemon_conf;
    int rc;

    if (o->no_start)
        return 0;
    rc = daemon_answers(sock);
    if (rc == 0)
        return 0;
    if (!conf && is_file(DAEMON_CONF))
        conf = DAEMON_CONF;
    if (conf) {
        int s = start_daemon(conf, sock);
        if (s == 0)
            return 0;
        fprintf(stderr,
                "mptcpext run: started mptcpextd -f %s, but it does not answer on %s (%s);\n"
                "  run it in the foreground to see why: mptcpextd -v -f %s --socket %s\n",
                conf, sock, strerror(-s), conf, sock);
        return -1;
    }
    fprintf(stderr,
            "mptcpext run: no mptcpextd answers on %s (%s).\n"
            "  Start the engine daemon first (as root, in this network namespace), e.g.\n"
            "    mptcpextd --tun mptcp0 --addr ADDR [--endpoint '...'] --socket %s &\n"
            "  or put its settings in %s (or pass --daemon-config FILE) and run starts it.\n"
            "  --no-start runs PROGRAM anyway (the shim then follows MPTCPEXT_FALLBACK).\n"
            "  See docs/mptcpextd.md.\n",
            sock, strerror(-rc), sock, DAEMON_CONF);
    return -1;
}

/* The shim reads the key file when the program connects: a bad one is
 * better reported now, before the program runs. */
static int check_psk(const char *path)
{
    uint8_t key[MPX_RPC_PSK_MAX];
    char err[160];
    int n = mpx_rpc_psk_read(path, key, err, sizeof(err));

    explicit_bzero(key, sizeof(key));
    if (n < 0) {
        fprintf(stderr, "mptcpext run: --psk-file %s: %s\n", path, err);
        return -1;
    }
    return 0;
}

/* The environment of PROGRAM; 0 or -1 (printed). */
static int compose_env(const struct run_opts *o, const char *sock, const char *lib)
{
    char preload[PRELOAD_MAX], psk[PATH_MAX];

    if (compose_preload(getenv("LD_PRELOAD"), lib, preload, sizeof(preload))) {
        fprintf(stderr, "mptcpext run: LD_PRELOAD too long\n");
        return -1;
    }
    if (o->psk_file) {
        /* the program may chdir: give the shim an absolute path; the
         * shim checks the contents and permissions when it needs them */
        if (!realpath(o->psk_file, psk)) {
            fprintf(stderr, "mptcpext run: --psk-file %s: %s\n", o->psk_file, strerror(errno));
            return -1;
        }
        if (check_psk(psk))
            return -1;
        setenv("MPTCPEXT_PSK_FILE", psk, 1);
    }
    setenv("LD_PRELOAD", preload, 1);
    setenv("MPTCPEXT_SOCKET", sock, 1);
    if (o->extkey)
        setenv("MPTCPEXT_EXTKEY", o->extkey, 1);
    if (o->log)
        setenv("MPTCPEXT_LOG", o->log, 1);
    return 0;
}

int cli_cmd_run(struct cli *c, int argc, char **argv)
{
    struct run_opts o;
    char lib[PATH_MAX];
    const char *sock;
    int prog;

    memset(&o, 0, sizeof(o));
    prog = parse(&o, argc, argv);
    if (prog < 0) {
        run_usage(stderr);
        return 2;
    }
    sock = o.sock ? o.sock : c->sock;
    if (find_lib(&o, lib, sizeof(lib)) || compose_env(&o, sock, lib))
        return 1;
    if (ensure_daemon(&o, sock))
        return 1;
    execvp(argv[prog], argv + prog);
    fprintf(stderr, "mptcpext run: %s: %s\n", argv[prog], strerror(errno));
    return errno == ENOENT ? 127 : 126;
}
