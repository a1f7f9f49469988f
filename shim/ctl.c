/*
 * ctl.c - the control channel to mptcpextd (rpc.h): one AF_UNIX
 * SOCK_SEQPACKET socket per thread (no mutex held across a blocking call, so
 * signal handlers and wget's longjmp are safe), O_CLOEXEC, moved to a high
 * fd number out of the program's way (notes/shim.md §5.14). Before each use
 * it is checked: same process (after fork() the child must not share the
 * parent's connection, replies would interleave) and same inode (the program
 * may have closed the number and reused it: closefrom() in sshd). A socket
 * that fails either check is forgotten, never written to, and re-made.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "shim_int.h"

#define REPLY_TIMEOUT_MS 10000
#define RETRY_NS         1000000000ull

struct ctl {
    int fd; /* -1 none */
    ino_t ino;
    pid_t pid;
    uint32_t next_id;
};

static __thread struct ctl ctl __attribute__((tls_model("initial-exec"))) = {-1, 0, 0, 0};
static uint64_t last_failure_ns; /* shared: a missing daemon is missing for every thread */
static pid_t daemon_pid;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static pid_t pid_cache; /* 0: not known (or a fork() happened) */
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void forked(void)
{
    __atomic_store_n(&pid_cache, 0, __ATOMIC_RELAXED);
}

static void fork_hook(void)
{
    pthread_atfork(NULL, NULL, forked);
}

pid_t mpx_shim_pid(void)
{
    pid_t p = __atomic_load_n(&pid_cache, __ATOMIC_RELAXED);
    if (p)
        return p;
    /* the handler first: a fork() after this getpid() resets the cache */
    pthread_once(&fork_once, fork_hook);
    p = getpid();
    __atomic_store_n(&pid_cache, p, __ATOMIC_RELAXED);
    return p;
}

/* Cheap part of ctl_valid: a socket made by this process (a fork()ed
 * child has the parent's connection: never used, and its copy closed). */
static bool ctl_mine(void)
{
    struct stat st;
    if (ctl.fd < 0)
        return false;
    if (ctl.pid != mpx_shim_pid()) {
        /* a fork()ed child: the fd is ours (inode), the connection the
         * parent's; close our copy */
        if (fstat(ctl.fd, &st) == 0 && st.st_ino == ctl.ino)
            mpx_shim_real.close(ctl.fd);
        ctl.fd = -1;
        return false;
    }
    return true;
}

static bool ctl_valid(void)
{
    struct stat st;
    if (!ctl_mine())
        return false;
    if (fstat(ctl.fd, &st) || st.st_ino != ctl.ino) {
        ctl.fd = -1; /* the program closed or reused the number: not ours */
        return false;
    }
    return true;
}

/* Move |fd| to a high number (F_DUPFD_CLOEXEC), out of the program's way. */
static int move_high(int fd)
{
    struct rlimit rl;
    long base = 256;
    int nfd;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur > 64)
        base = (long)(rl.rlim_cur - rl.rlim_cur / 4);
    nfd = fcntl(fd, F_DUPFD_CLOEXEC, base);
    if (nfd < 0)
        return fd;
    mpx_shim_real.close(fd);
    return nfd;
}

/* A thread that ends closes its control socket (thread pools would leak
 * one fd, and one daemon client, per thread otherwise). */
static pthread_key_t exit_key;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;

static void on_thread_exit(void *arg)
{
    (void)arg;
    if (ctl_valid())
        mpx_shim_real.close(ctl.fd);
    ctl.fd = -1;
}

static void exit_key_init(void)
{
    pthread_key_create(&exit_key, on_thread_exit);
}

static int ctl_open(void)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct ucred cred;
    socklen_t cl = sizeof(cred);
    struct stat st;
    int fd;

    if (mpx_shim_cfg.socket[0])
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", mpx_shim_cfg.socket);
    else
        mpx_rpc_default_socket(sa.sun_path, sizeof(sa.sun_path), NULL);
    fd = mpx_shim_real.socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (mpx_shim_real.connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
        int e = errno;
        mpx_shim_real.close(fd);
        mpx_shim_log(MPX_SHIM_LOG_DEBUG, "control socket %s: %s", sa.sun_path, strerror(e));
        return -e;
    }
    if (mpx_shim_real.getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0)
        __atomic_store_n(&daemon_pid, cred.pid, __ATOMIC_RELAXED);
    fd = move_high(fd);
    if (fstat(fd, &st)) {
        mpx_shim_real.close(fd);
        return -EBADF;
    }
    ctl.fd = fd;
    ctl.ino = st.st_ino;
    ctl.pid = mpx_shim_pid();
    pthread_once(&exit_once, exit_key_init);
    pthread_setspecific(exit_key, &ctl); /* any non-NULL value arms the destructor */
    return 0;
}

static int ctl_ensure(void)
{
    int rc;
    mpx_shim_init();
    if (ctl_valid())
        return 0;
    rc = ctl_open();
    if (rc)
        __atomic_store_n(&last_failure_ns, now_ns(), __ATOMIC_RELAXED);
    return rc;
}

bool mpx_shim_ctl_ok(void)
{
    uint64_t f = __atomic_load_n(&last_failure_ns, __ATOMIC_RELAXED);
    mpx_shim_init();
    if (ctl_mine())
        return true;
    if (f && now_ns() - f < RETRY_NS)
        return false;
    return ctl_ensure() == 0;
}

static void ctl_drop(void);

pid_t mpx_shim_ctl_daemon_pid(bool refresh)
{
    pid_t p = __atomic_load_n(&daemon_pid, __ATOMIC_RELAXED);
    if (refresh) {
        ctl_drop();
        p = 0;
    }
    if (!p && ctl_ensure() == 0)
        p = __atomic_load_n(&daemon_pid, __ATOMIC_RELAXED);
    return p;
}

void mpx_shim_ctl_fd_closed(unsigned first, unsigned last)
{
    if (ctl.fd >= 0 && (unsigned)ctl.fd >= first && (unsigned)ctl.fd <= last)
        ctl.fd = -1;
}

static void ctl_drop(void)
{
    if (ctl_valid()) /* never close a number the program reused */
        mpx_shim_real.close(ctl.fd);
    ctl.fd = -1;
}

static int send_msg(uint16_t type, uint32_t id, const void *body, size_t len, int fd_out)
{
    uint8_t msg[MPX_RPC_MSG_MAX];
    union {
        char b[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } cbuf;
    struct iovec iov;
    struct msghdr mh;
    size_t n = mpx_rpc_encode(msg, sizeof(msg), type, id, body, len);
    ssize_t w;

    if (!n)
        return -EINVAL;
    iov.iov_base = msg;
    iov.iov_len = n;
    memset(&mh, 0, sizeof(mh));
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    if (fd_out >= 0) {
        struct cmsghdr *cm;
        memset(&cbuf, 0, sizeof(cbuf));
        mh.msg_control = cbuf.b;
        mh.msg_controllen = sizeof(cbuf.b);
        cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &fd_out, sizeof(int));
    }
    do
        w = mpx_shim_real.sendmsg(ctl.fd, &mh, MSG_NOSIGNAL);
    while (w < 0 && errno == EINTR);
    return w == (ssize_t)n ? 0 : -(w < 0 ? errno : EIO);
}

/* Send, re-making the control socket once if the daemon dropped it. */
static int send_retry(uint16_t type, uint32_t id, const void *body, size_t len, int fd_out)
{
    int rc = ctl_ensure();
    if (rc)
        return rc;
    rc = send_msg(type, id, body, len, fd_out);
    if (rc == -EPIPE || rc == -ECONNRESET || rc == -ENOTCONN) {
        ctl_drop();
        if ((rc = ctl_ensure()) == 0)
            rc = send_msg(type, id, body, len, fd_out);
    }
    return rc;
}

int mpx_shim_ctl_send(uint16_t type, const void *body, size_t len)
{
    return send_retry(type, ++ctl.next_id, body, len, -1);
}

static int recv_reply(uint32_t id, void *reply, size_t reply_cap, int timeout_ms)
{
    _Alignas(8) uint8_t buf[MPX_RPC_MSG_MAX];
    struct mpx_rpc_hdr h;
    const char *why = "";

    for (;;) {
        struct pollfd p = {ctl.fd, POLLIN, 0};
        ssize_t n;
        /* no wait wanted (a reply its caller has just seen come): the
         * non-blocking recv alone says whether it is there */
        int rc = timeout_ms ? poll(&p, 1, timeout_ms) : 1;
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0)
            return rc == 0 ? -ETIMEDOUT : -errno;
        n = mpx_shim_real.recv(ctl.fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 0 && errno == EAGAIN && !timeout_ms)
            return -ETIMEDOUT;
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0)
            return n == 0 ? -ECONNRESET : -errno;
        rc = mpx_rpc_decode(buf, (size_t)n, 0, MPX_RPC_TO_CLIENT, &h, reply, reply_cap, &why);
        if (rc != MPX_RPC_OK) {
            mpx_shim_log(MPX_SHIM_LOG_ERROR, "bad reply from mptcpextd (%s %s)",
                         mpx_rpc_reject_name(rc), why);
            return -EPROTO;
        }
        if (h.id == id)
            return h.type;
        /* a reply to an earlier request that was given up (timeout): skip */
    }
}

int mpx_shim_ctl_call(uint16_t type, const void *body, size_t len, int fd_out, void *reply,
                      size_t reply_cap)
{
    uint32_t id = ++ctl.next_id;
    int rc = send_retry(type, id, body, len, fd_out);
    if (rc)
        return rc;
    rc = recv_reply(id, reply, reply_cap, REPLY_TIMEOUT_MS);
    if (rc == -ECONNRESET || rc == -EPROTO)
        ctl_drop();
    return rc;
}

int mpx_shim_ctl_request(uint16_t type, const void *body, size_t len, int fd_out, uint32_t *id)
{
    *id = ++ctl.next_id;
    return send_retry(type, *id, body, len, fd_out);
}

int mpx_shim_ctl_fd(void)
{
    return ctl_mine() ? ctl.fd : -1;
}

int mpx_shim_ctl_take(uint32_t id, void *reply, size_t reply_cap)
{
    int rc;
    if (!ctl_mine()) /* checked by the request it waits for */
        return -ENOTCONN;
    rc = recv_reply(id, reply, reply_cap, 0);
    if (rc == -ETIMEDOUT)
        return -EAGAIN; /* not (yet) there; other replies read meanwhile were stale */
    if (rc == -ECONNRESET || rc == -EPROTO)
        ctl_drop();
    return rc;
}
