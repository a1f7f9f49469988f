/*
 * shim_edges.c - socket edge cases, run under LD_PRELOAD=libmptcpext.so by
 * tests/test_shim.py (both ends shimmed, engines in the lab). Each
 * subcommand checks what the kernel's TCP would do and exits 0 with "ok"
 * lines, or 1 with a "FAIL:" line saying what differed.
 *
 *   serve ADDR PORT N          echo server: N connections, prints each
 *                              "accepted PEER LOCAL", echoes until EOF, then
 *                              closes (half-close from the client first)
 *   halfclose ADDR PORT BYTES  blocking connect, names, send BYTES, SHUT_WR,
 *                              read the echo until EOF, compare
 *   nbconnect ADDR PORT        EINPROGRESS, not writable, EALREADY, an
 *                              EPOLLET EPOLLOUT edge, SO_ERROR 0, EISCONN
 *   refused ADDR PORT          SO_ERROR ECONNREFUSED (non-blocking) and
 *                              ECONNREFUSED (blocking)
 *   blackhole ADDR PORT MS     blocking connect with SO_SNDTIMEO MS:
 *                              EINPROGRESS after about MS, still pending;
 *                              a signal: EINTR, then EALREADY
 *   accept4 ADDR PORT          listener: accept4(NONBLOCK|CLOEXEC), then
 *                              accept(): flags checked with fcntl
 *   forkaccept ADDR PORT N     listener shared with a child: the child
 *                              accepts one, then the parent the others
 *   exec ADDR PORT             connect, exec self with the fd number:
 *                              adoption, getpeername and echo work there
 *   closerange ADDR PORT       close_range over shim sockets, closefrom:
 *                              new sockets on the same numbers work
 *   oob ADDR PORT              send(MSG_OOB) -> EOPNOTSUPP
 *   tfo ADDR PORT              sendto(MSG_FASTOPEN, addr): connect + data
 *   epollswap ADDR PORT        epoll registration before a connect to an
 *                              excluded (kernel) destination still works
 *   binderrs ADDR PORT NONLOCAL  EADDRINUSE, SO_REUSEPORT, EADDRNOTAVAIL,
 *                              port 0, EACCES below 1024 (not as root)
 *   soerror ADDR PORT SYNCNT MS  non-blocking connect (TCP_SYNCNT if > 0),
 *                              poll up to MS: prints "result NAME how SECONDS"
 *                              (how: immediate = connect's own errno, so_error
 *                              = SO_ERROR once POLLOUT/POLLERR, pending), and
 *                              checks that SO_ERROR reads 0 the second time.
 *                              Run with and without the shim by
 *                              tests/test_shim_errors.py, which compares
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/time.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *prog;

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        printf("FAIL: " __VA_ARGS__);                                                              \
        printf(" (errno %d %s)\n", errno, strerror(errno));                                        \
        exit(1);                                                                                   \
    } while (0)

static int fam_of(const char *a)
{
    return strchr(a, ':') ? AF_INET6 : AF_INET;
}

static socklen_t mkaddr(const char *a, int port, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    if (fam_of(a) == AF_INET6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, a, &s6->sin6_addr) != 1)
            FAIL("bad address %s", a);
        return sizeof(*s6);
    }
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, a, &s4->sin_addr) != 1)
        FAIL("bad address %s", a);
    return sizeof(*s4);
}

static const char *fmt(const struct sockaddr *sa, char *buf, size_t cap)
{
    char ip[INET6_ADDRSTRLEN];
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
        snprintf(buf, cap, "[%s]:%u", ip, ntohs(s6->sin6_port));
    } else if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
        snprintf(buf, cap, "%s:%u", ip, ntohs(s4->sin_port));
    } else {
        snprintf(buf, cap, "family%d", sa->sa_family);
    }
    return buf;
}

static void names(int fd, const char *what)
{
    struct sockaddr_storage a, b;
    socklen_t al = sizeof(a), bl = sizeof(b);
    char x[80], y[80];
    if (getsockname(fd, (struct sockaddr *)&a, &al))
        FAIL("getsockname");
    if (getpeername(fd, (struct sockaddr *)&b, &bl))
        FAIL("getpeername");
    printf("%s %s %s\n", what, fmt((struct sockaddr *)&b, x, sizeof(x)),
           fmt((struct sockaddr *)&a, y, sizeof(y)));
    fflush(stdout);
}

static int listener(const char *addr, int port)
{
    struct sockaddr_storage ss;
    socklen_t l = mkaddr(addr, port, &ss);
    int one = 1, fd = socket(fam_of(addr), SOCK_STREAM, 0);
    if (fd < 0)
        FAIL("socket");
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, l))
        FAIL("bind %s:%d", addr, port);
    if (listen(fd, 16))
        FAIL("listen");
    printf("listening\n");
    fflush(stdout);
    return fd;
}

static int connected(const char *addr, int port)
{
    struct sockaddr_storage ss;
    socklen_t l = mkaddr(addr, port, &ss);
    int fd = socket(fam_of(addr), SOCK_STREAM, 0);
    if (fd < 0)
        FAIL("socket");
    if (connect(fd, (struct sockaddr *)&ss, l))
        FAIL("connect %s:%d", addr, port);
    return fd;
}

static void echo(int fd)
{
    char buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        for (ssize_t o = 0; o < n;) {
            ssize_t w = write(fd, buf + o, (size_t)(n - o));
            if (w <= 0)
                FAIL("echo write");
            o += w;
        }
    if (n < 0)
        FAIL("echo read");
}

/* Send |len| bytes of a pattern while reading the echo (both directions at
 * once: an echo would otherwise fill both buffers), half-close, read the
 * rest until EOF, compare. */
static void roundtrip(int fd, size_t len)
{
    char *out = malloc(len), *in = malloc(len + 1);
    size_t got = 0, sent = 0;
    int fl = fcntl(fd, F_GETFL);
    bool shut = false, eof = false;

    for (size_t i = 0; i < len; i++)
        out[i] = (char)(i * 7 + i / 251);
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    while (!eof) {
        struct pollfd p = {fd, (short)(POLLIN | (sent < len ? POLLOUT : 0)), 0};
        if (!shut && sent == len) {
            if (shutdown(fd, SHUT_WR))
                FAIL("shutdown");
            shut = true;
        }
        if (poll(&p, 1, 20000) != 1)
            FAIL("poll timed out: sent %zu got %zu of %zu", sent, got, len);
        if (p.revents & POLLOUT) {
            ssize_t w = write(fd, out + sent, len - sent > 65536 ? 65536 : len - sent);
            if (w < 0 && errno != EAGAIN)
                FAIL("write");
            if (w > 0)
                sent += (size_t)w;
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = read(fd, in + got, len + 1 - got);
            if (n < 0 && errno != EAGAIN)
                FAIL("read");
            if (n == 0)
                eof = true;
            if (n > 0)
                got += (size_t)n;
            if (got > len)
                FAIL("too many bytes");
        }
    }
    fcntl(fd, F_SETFL, fl);
    if (!shut)
        FAIL("EOF before the half-close");
    if (got != len || memcmp(in, out, len))
        FAIL("echo differs: %zu of %zu bytes", got, len);
    printf("ok echo %zu bytes, EOF after half-close\n", len);
    free(out);
    free(in);
}

static int cmd_serve(char **av)
{
    int l = listener(av[0], atoi(av[1])), n = atoi(av[2]);
    for (int i = 0; i < n; i++) {
        int c = accept(l, NULL, NULL);
        if (c < 0)
            FAIL("accept");
        names(c, "accepted");
        echo(c);
        close(c);
    }
    close(l);
    return 0;
}

static int cmd_halfclose(char **av)
{
    int fd = connected(av[0], atoi(av[1]));
    names(fd, "connected");
    roundtrip(fd, (size_t)atol(av[2]));
    close(fd);
    return 0;
}

static int nb_socket(const char *addr)
{
    int fd = socket(fam_of(addr), SOCK_STREAM | SOCK_NONBLOCK, IPPROTO_TCP);
    if (fd < 0)
        FAIL("socket");
    return fd;
}

static int cmd_nbconnect(char **av)
{
    struct sockaddr_storage ss;
    socklen_t l = mkaddr(av[0], atoi(av[1]), &ss);
    int fd = nb_socket(av[0]), ep = epoll_create1(0), err = -1, n;
    struct epoll_event ev = {.events = EPOLLOUT | EPOLLET}, evs[4];
    socklen_t el = sizeof(err);
    struct pollfd p = {fd, POLLOUT, 0};

    ev.data.fd = fd;
    /* registered before connect, like nginx */
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev))
        FAIL("epoll_ctl");
    /* the edge of the unconnected socket (writable|HUP, like TCP's) */
    epoll_wait(ep, evs, 4, 0);
    if (connect(fd, (struct sockaddr *)&ss, l) == 0 || errno != EINPROGRESS)
        FAIL("connect: want EINPROGRESS");
    if (poll(&p, 1, 0) != 0)
        FAIL("writable before the connection is up (revents %#x)", p.revents);
    if (connect(fd, (struct sockaddr *)&ss, l) == 0 || errno != EALREADY)
        FAIL("second connect: want EALREADY");
    n = epoll_wait(ep, evs, 4, 10000);
    if (n != 1 || !(evs[0].events & EPOLLOUT) || (evs[0].events & (EPOLLERR | EPOLLHUP)))
        FAIL("epoll: %d events %#x", n, n > 0 ? evs[0].events : 0);
    /* The filler goes away in two or three AF_UNIX skbs, each a wake-up
     * once writable: a few edges in the same instant, all after the
     * establishment (kernel TCP also signals EPOLLOUT again when ACKs free
     * send space). */
    int extra = 0;
    while (epoll_wait(ep, evs, 4, 50) == 1)
        if (++extra > 8)
            FAIL("EPOLLOUT edges keep coming");
    printf("ok %d extra EPOLLOUT edges\n", extra);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) || err != 0)
        FAIL("SO_ERROR %d", err);
    if (connect(fd, (struct sockaddr *)&ss, l) != 0 && errno != EISCONN)
        FAIL("connect after completion");
    if (connect(fd, (struct sockaddr *)&ss, l) == 0 || errno != EISCONN)
        FAIL("connect again: want EISCONN");
    printf("ok EINPROGRESS EALREADY EPOLLOUT-edge SO_ERROR=0 EISCONN\n");
    fcntl(fd, F_SETFL, 0);
    names(fd, "connected");
    roundtrip(fd, 1000);
    return 0;
}

/* Registered with epoll before connect, then connected to an excluded
 * (kernel) destination: the registration must follow the socket. */
static int cmd_epollswap(char **av)
{
    struct sockaddr_storage ss;
    socklen_t l = mkaddr(av[0], atoi(av[1]), &ss);
    int fd = nb_socket(av[0]), ep = epoll_create1(0), n;
    struct epoll_event ev = {.events = EPOLLOUT | EPOLLET}, evs[4];

    ev.data.u64 = 0x1234;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev))
        FAIL("epoll_ctl");
    epoll_wait(ep, evs, 4, 0);
    if (connect(fd, (struct sockaddr *)&ss, l) && errno != EINPROGRESS)
        FAIL("connect");
    n = epoll_wait(ep, evs, 4, 5000);
    if (n != 1 || !(evs[0].events & EPOLLOUT) || evs[0].data.u64 != 0x1234)
        FAIL("no EPOLLOUT after connect (%d events)", n);
    printf("ok epoll registration carried to the kernel socket\n");
    fcntl(fd, F_SETFL, 0);
    names(fd, "connected");
    roundtrip(fd, 1000);
    return 0;
}

static int cmd_refused(char **av)
{
    struct sockaddr_storage ss;
    socklen_t l = mkaddr(av[0], atoi(av[1]), &ss);
    int fd = nb_socket(av[0]), err = 0;
    socklen_t el = sizeof(err);
    struct pollfd p = {fd, POLLOUT, 0};

    if (connect(fd, (struct sockaddr *)&ss, l) == 0 || errno != EINPROGRESS)
        FAIL("connect: want EINPROGRESS");
    if (poll(&p, 1, 10000) != 1 || !(p.revents & (POLLERR | POLLHUP)))
        FAIL("poll: revents %#x", p.revents);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) || err != ECONNREFUSED)
        FAIL("SO_ERROR %d, want ECONNREFUSED", err);
    el = sizeof(err);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) || err != 0)
        FAIL("SO_ERROR read twice: %d", err);
    close(fd);
    fd = socket(fam_of(av[0]), SOCK_STREAM, 0);
    if (connect(fd, (struct sockaddr *)&ss, l) == 0 || errno != ECONNREFUSED)
        FAIL("blocking connect: want ECONNREFUSED");
    printf("ok SO_ERROR=ECONNREFUSED once, blocking ECONNREFUSED\n");
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_alarm(int sig)
{
    (void)sig;
}

static int cmd_blackhole(char **av)
{
    struct sockaddr_storage ss;
    socklen_t l = mkaddr(av[0], atoi(av[1]), &ss);
    int ms = atoi(av[2]), fd = socket(fam_of(av[0]), SOCK_STREAM, 0), err = -1;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    socklen_t el = sizeof(err);
    double t0, dt;

    if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)))
        FAIL("SO_SNDTIMEO");
    t0 = now_s();
    if (connect(fd, (struct sockaddr *)&ss, l) == 0 || errno != EINPROGRESS)
        FAIL("connect: want EINPROGRESS after SO_SNDTIMEO");
    dt = now_s() - t0;
    if (dt < ms / 1000.0 * 0.9 || dt > ms / 1000.0 + 1.0)
        FAIL("connect took %.3f s, SO_SNDTIMEO %d ms", dt, ms);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) || err != 0)
        FAIL("SO_ERROR %d while pending", err);
    if (connect(fd, (struct sockaddr *)&ss, l) == 0 || errno != EALREADY)
        FAIL("connect again: want EALREADY");
    printf("ok EINPROGRESS after %.3f s, EALREADY\n", dt);
    close(fd);
    /* a signal interrupts a blocking connect (no SA_RESTART): EINTR, and the
     * connection attempt goes on (EALREADY), as Linux */
    struct sigaction sa;
    struct itimerval it = {{0, 0}, {0, 300000}};
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    fd = socket(fam_of(av[0]), SOCK_STREAM, 0);
    setitimer(ITIMER_REAL, &it, NULL);
    if (connect(fd, (struct sockaddr *)&ss, l) == 0 || errno != EINTR)
        FAIL("connect during a signal: want EINTR");
    if (connect(fd, (struct sockaddr *)&ss, l) == 0 || errno != EALREADY)
        FAIL("connect after EINTR: want EALREADY");
    printf("ok EINTR, then EALREADY\n");
    return 0;
}

static int cmd_accept4(char **av)
{
    int l = listener(av[0], atoi(av[1])), c, fl, fdfl;
    c = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c < 0)
        FAIL("accept4");
    fl = fcntl(c, F_GETFL);
    fdfl = fcntl(c, F_GETFD);
    if (!(fl & O_NONBLOCK) || !(fdfl & FD_CLOEXEC))
        FAIL("accept4 flags: fl %#x fd %#x", fl, fdfl);
    names(c, "accepted");
    fcntl(c, F_SETFL, 0);
    echo(c);
    close(c);
    c = accept(l, NULL, NULL);
    if (c < 0)
        FAIL("accept");
    fl = fcntl(c, F_GETFL);
    fdfl = fcntl(c, F_GETFD);
    if ((fl & O_NONBLOCK) || (fdfl & FD_CLOEXEC))
        FAIL("accept flags: fl %#x fd %#x", fl, fdfl);
    echo(c);
    close(c);
    printf("ok accept4 flags\n");
    return 0;
}

static int cmd_forkaccept(char **av)
{
    int l = listener(av[0], atoi(av[1])), n = atoi(av[2]), st;
    pid_t pid = fork();
    if (pid == 0) {
        int c = accept(l, NULL, NULL);
        if (c < 0)
            FAIL("child accept");
        names(c, "child-accepted");
        echo(c);
        _exit(0);
    }
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
        FAIL("child failed");
    for (int i = 1; i < n; i++) {
        int c = accept(l, NULL, NULL);
        if (c < 0)
            FAIL("parent accept");
        names(c, "parent-accepted");
        echo(c);
        close(c);
    }
    printf("ok fork-shared listener\n");
    return 0;
}

static int cmd_exec(char **av)
{
    char num[16];
    int fd = connected(av[0], atoi(av[1]));
    names(fd, "before-exec");
    snprintf(num, sizeof(num), "%d", fd);
    execl(prog, prog, "adopted", num, (char *)NULL);
    FAIL("exec");
}

static int cmd_adopted(char **av)
{
    int fd = atoi(av[0]);
    names(fd, "after-exec");
    roundtrip(fd, 4096);
    return 0;
}

static int cmd_closerange(char **av)
{
    int a = socket(fam_of(av[0]), SOCK_STREAM, 0), b = socket(fam_of(av[0]), SOCK_STREAM, 0);
    int c = connected(av[0], atoi(av[1]));
    int lo = a < b ? (a < c ? a : c) : (b < c ? b : c);
    int hi = a > b ? (a > c ? a : c) : (b > c ? b : c);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);

    if (close_range((unsigned)lo, (unsigned)hi, 0))
        FAIL("close_range");
    /* a new AF_INET socket on a number the table knew: no stale state */
    a = socket(fam_of(av[0]), SOCK_STREAM, 0);
    if (getpeername(a, (struct sockaddr *)&ss, &sl) == 0 || errno != ENOTCONN)
        FAIL("stale getpeername after close_range");
    close(a);
    closefrom(3); /* also the shim's control socket */
    c = connected(av[0], atoi(av[1]));
    names(c, "after-closefrom");
    roundtrip(c, 2048);
    return 0;
}

static int cmd_oob(char **av)
{
    int fd = connected(av[0], atoi(av[1]));
    if (send(fd, "x", 1, MSG_OOB) != -1 || errno != EOPNOTSUPP)
        FAIL("send(MSG_OOB): want EOPNOTSUPP");
    printf("ok MSG_OOB EOPNOTSUPP\n");
    roundtrip(fd, 10);
    return 0;
}

/* sendto(MSG_FASTOPEN, addr) on a fresh socket: connect + data. */
static int cmd_tfo(char **av)
{
    struct sockaddr_storage ss;
    socklen_t l = mkaddr(av[0], atoi(av[1]), &ss);
    int fd = socket(fam_of(av[0]), SOCK_STREAM, 0);
    char buf[16];
    ssize_t n;
    if (sendto(fd, "hello", 5, MSG_FASTOPEN, (struct sockaddr *)&ss, l) != 5)
        FAIL("sendto(MSG_FASTOPEN)");
    if (shutdown(fd, SHUT_WR))
        FAIL("shutdown");
    n = recv(fd, buf, sizeof(buf), MSG_WAITALL);
    if (n != 5 || memcmp(buf, "hello", 5))
        FAIL("echo after MSG_FASTOPEN: %zd bytes", n);
    names(fd, "tfo");
    printf("ok MSG_FASTOPEN connect + data\n");
    return 0;
}

static int bind_to(const char *addr, int port, int reuseport)
{
    struct sockaddr_storage ss;
    socklen_t l = mkaddr(addr, port, &ss);
    int one = 1, fd = socket(fam_of(addr), SOCK_STREAM, 0);
    if (reuseport)
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, l)) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static int cmd_binderrs(char **av)
{
    int port = atoi(av[1]), a, b, c;
    a = bind_to(av[0], port, 0);
    if (a < 0 || listen(a, 4))
        FAIL("first bind/listen");
    if (bind_to(av[0], port, 0) >= 0 || errno != EADDRINUSE)
        FAIL("second bind: want EADDRINUSE");
    close(a); /* the port is free again */
    a = bind_to(av[0], port, 1);
    if (a < 0)
        FAIL("bind after close");
    b = bind_to(av[0], port, 1); /* SO_REUSEPORT on both, same user */
    if (b < 0)
        FAIL("SO_REUSEPORT bind");
    close(a);
    close(b);
    if (bind_to(av[2], port, 0) >= 0 || errno != EADDRNOTAVAIL)
        FAIL("bind to %s: want EADDRNOTAVAIL", av[2]);
    c = bind_to(av[0], 0, 0); /* port 0: an ephemeral port */
    struct sockaddr_in sin;
    socklen_t sl = sizeof(sin);
    if (c < 0 || getsockname(c, (struct sockaddr *)&sin, &sl) || ntohs(sin.sin_port) < 32768)
        FAIL("bind port 0");
    printf("ok EADDRINUSE, reuse after close, SO_REUSEPORT, EADDRNOTAVAIL, port 0 -> %u\n",
           ntohs(sin.sin_port));
    if (getuid() != 0) {
        if (bind_to(av[0], 80, 0) >= 0 || errno != EACCES)
            FAIL("bind to port 80 as uid %u: want EACCES", getuid());
        printf("ok EACCES below 1024\n");
    }
    return 0;
}

static const char *errname(int e)
{
    const char *n = e ? strerrorname_np(e) : "0";
    return n ? n : "?";
}

static int cmd_soerror(char **av)
{
    struct sockaddr_storage ss;
    socklen_t l = mkaddr(av[0], atoi(av[1]), &ss), el;
    int fd = nb_socket(av[0]), syncnt = atoi(av[2]), err = 0;
    struct pollfd p = {fd, POLLOUT, 0};
    double t0;

    if (syncnt > 0 && setsockopt(fd, IPPROTO_TCP, TCP_SYNCNT, &syncnt, sizeof(syncnt)))
        FAIL("TCP_SYNCNT %d", syncnt);
    t0 = now_s();
    if (connect(fd, (struct sockaddr *)&ss, l) == 0) {
        printf("result 0 immediate %.3f\n", now_s() - t0);
        return 0;
    }
    if (errno != EINPROGRESS) {
        printf("result %s immediate %.3f\n", errname(errno), now_s() - t0);
        return 0;
    }
    if (poll(&p, 1, atoi(av[3])) == 0) {
        printf("result 0 pending %.3f\n", now_s() - t0);
        return 0;
    }
    el = sizeof(err);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el))
        FAIL("getsockopt SO_ERROR");
    printf("result %s so_error %.3f\n", errname(err), now_s() - t0);
    int again = -1;
    el = sizeof(again);
    if (err && (getsockopt(fd, SOL_SOCKET, SO_ERROR, &again, &el) || again != 0))
        FAIL("SO_ERROR read twice: %d", again);
    close(fd);
    return 0;
}

/* Benchmark helpers (not tests): accept and close N connections; connect
 * and close N times, print the rate. */
static int cmd_acceptloop(char **av)
{
    int l = listener(av[0], atoi(av[1])), n = atoi(av[2]);
    for (int i = 0; i < n; i++) {
        int c = accept(l, NULL, NULL);
        if (c < 0)
            FAIL("accept");
        close(c);
    }
    return 0;
}

static int cmd_connrate(char **av)
{
    int n = atoi(av[2]);
    double t0 = now_s(), dt;
    for (int i = 0; i < n; i++)
        close(connected(av[0], atoi(av[1])));
    dt = now_s() - t0;
    printf("ok %d connections in %.3f s: %.0f/s\n", n, dt, n / dt);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int nargs;
        int (*fn)(char **);
    } cmds[] = {
        {"serve", 3, cmd_serve},
        {"halfclose", 3, cmd_halfclose},
        {"nbconnect", 2, cmd_nbconnect},
        {"refused", 2, cmd_refused},
        {"blackhole", 3, cmd_blackhole},
        {"accept4", 2, cmd_accept4},
        {"forkaccept", 3, cmd_forkaccept},
        {"exec", 2, cmd_exec},
        {"adopted", 1, cmd_adopted},
        {"closerange", 2, cmd_closerange},
        {"oob", 2, cmd_oob},
        {"acceptloop", 3, cmd_acceptloop},
        {"connrate", 3, cmd_connrate},
        {"binderrs", 3, cmd_binderrs},
        {"tfo", 2, cmd_tfo},
        {"epollswap", 2, cmd_epollswap},
        {"soerror", 4, cmd_soerror},
    };
    prog = argv[0];
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (size_t i = 0; argc >= 2 && i < sizeof(cmds) / sizeof(cmds[0]); i++)
        if (!strcmp(argv[1], cmds[i].name) && argc - 2 == cmds[i].nargs)
            return cmds[i].fn(argv + 2);
    fprintf(stderr, "usage: shim_edges serve|halfclose|nbconnect|... (see the source)\n");
    return 2;
}
