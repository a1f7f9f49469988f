/*
 * io.c - send/sendto/sendmsg and recv/recvfrom/recvmsg.
 *
 * The data path stays the kernel's (AF_UNIX); these wrappers exist for two
 * cheap things: (1) tell tlshooks which fd a TLS call used (curl drives
 * OpenSSL through its own BIO, so SSL_get_fd() says nothing:
 * notes/tlshooks.md §4), a thread-local test when no TLS call is running;
 * (2) a flag test for what AF_UNIX would do differently from TCP: MSG_OOB
 * (AF_UNIX has its own OOB: EOPNOTSUPP like Linux MPTCP), MSG_FASTOPEN
 * (connect, then the data) and a destination address (TCP ignores it on a
 * connected socket, AF_UNIX says EISCONN). read/write are not interposed:
 * OpenSSL's socket BIO uses them but then SSL_get_fd() is valid, and they
 * are every program's hottest calls.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "shim_int.h"
#include "tlshooks.h"

#define SLOW_FLAGS (MSG_OOB | MSG_FASTOPEN)

static inline void note(int fd)
{
    if (__builtin_expect(mpx_tlsh_in_tls_call(), 0))
        mpx_tlsh_note_io(fd);
}

/* The rare cases. Returns 1 when the caller goes on with the real call
 * (with *flags / *drop_addr adjusted), else the result is in *ret. */
static int slow_send(int fd, int *flags, const struct sockaddr *to, socklen_t tolen,
                     bool *drop_addr, ssize_t *ret)
{
    struct mpx_shim_sock *s = mpx_shim_sock_get(fd);
    if (!s)
        return 1;
    if (*flags & MSG_OOB) {
        errno = EOPNOTSUPP; /* Linux MPTCP has no urgent data */
        *ret = -1;
        return 0;
    }
    if ((*flags & MSG_FASTOPEN) && to &&
        (s->state == MPX_SHIM_S_NEW || s->state == MPX_SHIM_S_BOUND)) {
        /* TCP Fast Open: connect (its SYN carries no data here), then the
         * data; a non-blocking socket says EINPROGRESS as Linux does when
         * the data could not go with the SYN */
        if (connect(fd, to, tolen) < 0) {
            *ret = -1;
            return 0;
        }
    }
    *flags &= ~MSG_FASTOPEN;
    *drop_addr = true; /* a connected TCP socket ignores the address */
    return 1;
}

MPX_SHIM_EXPORT ssize_t send(int fd, const void *buf, size_t len, int flags)
{
    note(fd);
    if (__builtin_expect(flags & SLOW_FLAGS, 0)) {
        bool drop = false;
        ssize_t ret;
        if (!slow_send(fd, &flags, NULL, 0, &drop, &ret))
            return ret;
    }
    mpx_shim_init();
    return mpx_shim_real.send(fd, buf, len, flags);
}

MPX_SHIM_EXPORT ssize_t sendto(int fd, const void *buf, size_t len, int flags,
                               const struct sockaddr *to, socklen_t tolen)
{
    note(fd);
    if (__builtin_expect((flags & SLOW_FLAGS) || to, 0)) {
        bool drop = false;
        ssize_t ret;
        if (!slow_send(fd, &flags, to, tolen, &drop, &ret))
            return ret;
        if (drop) {
            to = NULL;
            tolen = 0;
        }
    }
    mpx_shim_init();
    return mpx_shim_real.sendto(fd, buf, len, flags, to, tolen);
}

MPX_SHIM_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    note(fd);
    if (__builtin_expect((flags & SLOW_FLAGS) || (msg && msg->msg_name), 0)) {
        bool drop = false;
        ssize_t ret;
        struct msghdr m;
        if (!slow_send(fd, &flags, msg ? msg->msg_name : NULL, msg ? msg->msg_namelen : 0, &drop,
                       &ret))
            return ret;
        if (drop && msg) {
            m = *msg;
            m.msg_name = NULL;
            m.msg_namelen = 0;
            mpx_shim_init();
            return mpx_shim_real.sendmsg(fd, &m, flags);
        }
    }
    mpx_shim_init();
    return mpx_shim_real.sendmsg(fd, msg, flags);
}

MPX_SHIM_EXPORT ssize_t recv(int fd, void *buf, size_t len, int flags)
{
    note(fd);
    mpx_shim_init();
    return mpx_shim_real.recv(fd, buf, len, flags);
}

MPX_SHIM_EXPORT ssize_t recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *from,
                                 socklen_t *fromlen)
{
    note(fd);
    mpx_shim_init();
    return mpx_shim_real.recvfrom(fd, buf, len, flags, from, fromlen);
}

MPX_SHIM_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
    note(fd);
    mpx_shim_init();
    return mpx_shim_real.recvmsg(fd, msg, flags);
}
