/*
 * TEST host for tlshooks (tests/test_tlshooks.py only). Linked with
 * the tlshooks/ sources into build/libmpxtlsh_test.so.
 *
 * This file is the seam that the real shim (libmptcpext.so) replaces: it
 * implements tlshooks/tlshooks.h without any engine.
 * - mpx_tlsh_host_context: "ours" = a TCP socket whose side is known (this
 *   library saw connect() on it: client; accept()/accept4(): server). The
 *   "tokens" are derived deterministically from the 4-tuple, so both ends
 *   compute the same 8 bytes: initiator token = FNV-1a-32 of the client's
 *   address and port, responder token = the same of the server's, each in
 *   network order. With MPXTLSH_TEST_NOCTX=1 it asks for an export without
 *   context, to compare with openssl/gnutls-cli -keymatexport.
 * - mpx_tlsh_host_key: appends one line
 *     <role> <tls_version> <ctx hex|-> <client_random hex> <key hex>
 *   to the file named by MPXTLSH_TEST_KEYLOG (read in the constructor: nginx
 *   scrubs its workers' environment); MPXTLSH_TEST_VERBOSE=1 appends
 *   " ems=<1|0|-1> fd=<n> lib=<openssl|gnutls>".
 * - the I/O hooks report TCP sockets used inside a TLS call to tlshooks
 *   (mpx_tlsh_note_io), as the shim will for its bridged fds.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "tlshooks.h"

#define EXPORT   __attribute__((visibility("default")))
#define MAX_FDS  65536
#define ROLE_CLI 1
#define ROLE_SRV 2

static char keylog_path[4096];
static int noctx, verbose;
static unsigned char fd_role[MAX_FDS]; /* written with __atomic stores */

#define LIBC_FUNCS(X)                                                                              \
    X(read)                                                                                        \
    X(write)                                                                                       \
    X(readv)                                                                                       \
    X(writev)                                                                                      \
    X(send)                                                                                        \
    X(recv)                                                                                        \
    X(sendto)                                                                                      \
    X(recvfrom)                                                                                    \
    X(sendmsg)                                                                                     \
    X(recvmsg)                                                                                     \
    X(connect)                                                                                     \
    X(accept)                                                                                      \
    X(accept4)

#define DECL_PTR(n) __typeof__(n) *n;
static struct {
    LIBC_FUNCS(DECL_PTR)
} L;

static void *libc_sym(void **slot, const char *name)
{
    void *p = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (!p) {
        p = dlsym(RTLD_NEXT, name);
        __atomic_store_n(slot, p, __ATOMIC_RELEASE);
    }
    return p;
}

#define REAL(n) ((__typeof__(n) *)libc_sym((void **)&L.n, #n))

__attribute__((constructor)) static void testhost_init(void)
{
    const char *p = getenv("MPXTLSH_TEST_KEYLOG");
    if (p && strlen(p) < sizeof(keylog_path))
        memcpy(keylog_path, p, strlen(p) + 1);
    p = getenv("MPXTLSH_TEST_NOCTX");
    noctx = p && p[0] == '1';
    p = getenv("MPXTLSH_TEST_VERBOSE");
    verbose = p && p[0] == '1';
#define RESOLVE(n) (void)REAL(n);
    LIBC_FUNCS(RESOLVE)
}

static void set_role(int fd, int role)
{
    if (fd >= 0 && fd < MAX_FDS)
        __atomic_store_n(&fd_role[fd], (unsigned char)role, __ATOMIC_RELAXED);
}

static int get_role(int fd)
{
    return (fd >= 0 && fd < MAX_FDS) ? __atomic_load_n(&fd_role[fd], __ATOMIC_RELAXED) : 0;
}

static int is_tcp(int fd)
{
    int type = 0;
    socklen_t len = sizeof(type);
    return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM;
}

static void note(int fd)
{
    if (!mpx_tlsh_in_tls_call())
        return;
    int saved = errno;
    if (get_role(fd) && is_tcp(fd))
        mpx_tlsh_note_io(fd);
    errno = saved;
}

static uint32_t addr_token(const struct sockaddr_storage *ss)
{
    const uint8_t *b;
    size_t n;
    uint16_t port;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        b = (const uint8_t *)&a->sin_addr;
        n = sizeof(a->sin_addr);
        port = a->sin_port;
    } else {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        b = (const uint8_t *)&a->sin6_addr;
        n = sizeof(a->sin6_addr);
        port = a->sin6_port;
    }
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 16777619u;
    h = (h ^ (uint8_t)(port & 0xff)) * 16777619u;
    h = (h ^ (uint8_t)(port >> 8)) * 16777619u;
    return h;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

int mpx_tlsh_host_context(int fd, const uint8_t client_random[MPX_TLSH_RANDOM_LEN],
                          uint8_t ctx[MPX_TLSH_CTX_LEN])
{
    (void)client_random; /* no engine here: nothing to match a random with */
    int role = get_role(fd);
    if (fd < 0 || !role || !is_tcp(fd))
        return -1;
    struct sockaddr_storage local, peer;
    socklen_t ll = sizeof(local), pl = sizeof(peer);
    if (getsockname(fd, (struct sockaddr *)&local, &ll) != 0 ||
        getpeername(fd, (struct sockaddr *)&peer, &pl) != 0)
        return -1;
    if ((local.ss_family != AF_INET && local.ss_family != AF_INET6) ||
        local.ss_family != peer.ss_family)
        return -1;
    if (noctx)
        return 0;
    const struct sockaddr_storage *cli = role == ROLE_CLI ? &local : &peer;
    const struct sockaddr_storage *srv = role == ROLE_CLI ? &peer : &local;
    put_be32(ctx, addr_token(cli));
    put_be32(ctx + 4, addr_token(srv));
    return MPX_TLSH_CTX_LEN;
}

static char *hex(char *out, const uint8_t *b, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = 0;
    return out;
}

void mpx_tlsh_host_key(const struct mpx_tlsh_export *e)
{
    if (!keylog_path[0])
        return;
    char ctx[2 * MPX_TLSH_CTX_LEN + 1] = "-", cr[2 * MPX_TLSH_RANDOM_LEN + 1];
    char key[2 * MPX_TLSH_KEY_LEN + 1], line[256];
    if (e->ctx_len)
        hex(ctx, e->ctx, e->ctx_len);
    const char *role = e->is_server == 1 ? "server" : e->is_server == 0 ? "client" : "unknown";
    const char *ver = e->tls_version == 0x0304 ? "1.3" : e->tls_version == 0x0303 ? "1.2" : "other";
    char extra[64] = "";
    if (verbose)
        snprintf(extra, sizeof(extra), " ems=%d fd=%d lib=%s", e->ems, e->fd,
                 e->lib == MPX_TLSH_LIB_OPENSSL ? "openssl" : "gnutls");
    int n = snprintf(line, sizeof(line), "%s %s %s %s %s%s\n", role, ver, ctx,
                     hex(cr, e->client_random, sizeof(e->client_random)),
                     hex(key, e->key, sizeof(e->key)), extra);
    explicit_bzero(key, sizeof(key));
    int fd = open(keylog_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    /* One write() with O_APPEND: lines from concurrent processes stay whole. */
    if (n > 0 && (size_t)n < sizeof(line) && REAL(write)(fd, line, (size_t)n) != n)
        (void)0;
    explicit_bzero(line, sizeof(line));
    close(fd);
}

/* ---- libc hooks ---------------------------------------------------------- */

EXPORT int connect(int fd, __CONST_SOCKADDR_ARG addr, socklen_t len)
{
    set_role(fd, ROLE_CLI);
    return REAL(connect)(fd, addr, len);
}

EXPORT int accept(int fd, __SOCKADDR_ARG addr, socklen_t *len)
{
    int r = REAL(accept)(fd, addr, len);
    set_role(r, ROLE_SRV);
    return r;
}

EXPORT int accept4(int fd, __SOCKADDR_ARG addr, socklen_t *len, int flags)
{
    int r = REAL(accept4)(fd, addr, len, flags);
    set_role(r, ROLE_SRV);
    return r;
}

EXPORT ssize_t read(int fd, void *b, size_t n)
{
    note(fd);
    return REAL(read)(fd, b, n);
}

EXPORT ssize_t write(int fd, const void *b, size_t n)
{
    note(fd);
    return REAL(write)(fd, b, n);
}

EXPORT ssize_t readv(int fd, const struct iovec *v, int n)
{
    note(fd);
    return REAL(readv)(fd, v, n);
}

EXPORT ssize_t writev(int fd, const struct iovec *v, int n)
{
    note(fd);
    return REAL(writev)(fd, v, n);
}

EXPORT ssize_t send(int fd, const void *b, size_t n, int f)
{
    note(fd);
    return REAL(send)(fd, b, n, f);
}

EXPORT ssize_t recv(int fd, void *b, size_t n, int f)
{
    note(fd);
    return REAL(recv)(fd, b, n, f);
}

EXPORT ssize_t sendto(int fd, const void *b, size_t n, int f, __CONST_SOCKADDR_ARG a, socklen_t l)
{
    note(fd);
    return REAL(sendto)(fd, b, n, f, a, l);
}

EXPORT ssize_t recvfrom(int fd, void *b, size_t n, int f, __SOCKADDR_ARG a, socklen_t *l)
{
    note(fd);
    return REAL(recvfrom)(fd, b, n, f, a, l);
}

EXPORT ssize_t sendmsg(int fd, const struct msghdr *m, int f)
{
    note(fd);
    return REAL(sendmsg)(fd, m, f);
}

EXPORT ssize_t recvmsg(int fd, struct msghdr *m, int f)
{
    note(fd);
    return REAL(recvmsg)(fd, m, f);
}
