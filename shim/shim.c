/*
 * shim.c - libmptcpext.so: constructor (reads the environment, nothing
 * else: no threads, no fds, notes/shim.md §6), the real libc functions
 * (dlsym RTLD_NEXT, so that other preloads such as proxychains still
 * chain), logging, the MPTCPEXT_EXCLUDE matcher, and weak fallbacks for the
 * hooks other files of the shim provide.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shim_int.h"
#include "tlshooks.h"

MPX_SHIM_HIDDEN struct mpx_shim_cfg mpx_shim_cfg = {.log_level = MPX_SHIM_LOG_WARN};
MPX_SHIM_HIDDEN struct mpx_shim_real mpx_shim_real;

/* Loopback, link-local and DNS stay on the kernel (notes/shim.md §5.18). */
static const char default_exclude[] = "127.0.0.0/8,::1/128,169.254.0.0/16,fe80::/10,:53";

void mpx_shim_log(int level, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    int n, saved = errno;

    if (level > mpx_shim_cfg.log_level)
        return;
    n = snprintf(buf, sizeof(buf), "mptcpext: ");
    va_start(ap, fmt);
    n += vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof(buf) - 2)
        n = (int)sizeof(buf) - 2;
    buf[n++] = '\n';
    if (write(2, buf, (size_t)n) < 0) {
        /* nothing sensible to do: stderr is the app's */
    }
    errno = saved;
}

#define RESOLVE(name) mpx_shim_real.name = (__typeof__(mpx_shim_real.name))dlsym(RTLD_NEXT, #name)

void mpx_shim_init(void)
{
    if (__atomic_load_n(&mpx_shim_real.recvmsg, __ATOMIC_ACQUIRE))
        return;
    /* idempotent: two threads racing here store the same pointers */
    RESOLVE(socket);
    RESOLVE(bind);
    RESOLVE(listen);
    RESOLVE(connect);
    RESOLVE(accept);
    RESOLVE(accept4);
    RESOLVE(getsockname);
    RESOLVE(getpeername);
    RESOLVE(getsockopt);
    RESOLVE(setsockopt);
    RESOLVE(close);
    RESOLVE(close_range);
    RESOLVE(closefrom);
    RESOLVE(send);
    RESOLVE(sendto);
    RESOLVE(sendmsg);
    RESOLVE(recv);
    RESOLVE(recvfrom);
    void *rm = dlsym(RTLD_NEXT, "recvmsg");
    __atomic_store_n(&mpx_shim_real.recvmsg, (__typeof__(mpx_shim_real.recvmsg))rm,
                     __ATOMIC_RELEASE);
}

/* "a.b.c.d/n", "x::y/n", "ADDR", ":PORT" or "ADDR/n:PORT" is not used:
 * an entry is either a prefix or a port. */
static int parse_exclude(const char *tok, struct mpx_shim_exclude *e)
{
    char buf[64], *slash;
    struct mpx_rpc_addr a;
    long bits;

    memset(e, 0, sizeof(*e));
    if (tok[0] == ':' && tok[1] != ':') {
        long p = strtol(tok + 1, &slash, 10);
        if (*slash || p <= 0 || p > 65535)
            return -EINVAL;
        e->port = (uint16_t)p;
        return 0;
    }
    snprintf(buf, sizeof(buf), "%s", tok);
    slash = strchr(buf, '/');
    if (slash)
        *slash++ = '\0';
    if (mpx_rpc_addr_parse(buf, &a))
        return -EINVAL;
    bits = a.family == 4 ? 32 : 128;
    if (slash) {
        char *end;
        long b = strtol(slash, &end, 10);
        if (*end || b < 0 || b > bits)
            return -EINVAL;
        bits = b;
    }
    e->family = a.family;
    e->bits = (uint8_t)bits;
    memcpy(e->a, a.a, sizeof(e->a));
    return 0;
}

static void parse_excludes(const char *list)
{
    char buf[1024], *save = NULL;
    snprintf(buf, sizeof(buf), "%s", list);
    mpx_shim_cfg.n_exclude = 0;
    for (char *t = strtok_r(buf, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save)) {
        if (!strcmp(t, "none"))
            continue;
        if (mpx_shim_cfg.n_exclude == MPX_SHIM_EXCLUDE_MAX ||
            parse_exclude(t, &mpx_shim_cfg.exclude[mpx_shim_cfg.n_exclude])) {
            mpx_shim_log(MPX_SHIM_LOG_WARN, "MPTCPEXT_EXCLUDE: ignoring \"%s\"", t);
            continue;
        }
        mpx_shim_cfg.n_exclude++;
    }
}

bool mpx_shim_excluded(const struct mpx_rpc_addr *a, uint16_t port)
{
    for (unsigned i = 0; i < mpx_shim_cfg.n_exclude; i++) {
        const struct mpx_shim_exclude *e = &mpx_shim_cfg.exclude[i];
        unsigned full, rem;
        if (e->port) {
            if (e->port == port)
                return true;
            continue;
        }
        if (e->family != a->family)
            continue;
        full = e->bits / 8u;
        rem = e->bits % 8u;
        if (memcmp(e->a, a->a, full))
            continue;
        if (rem && ((e->a[full] ^ a->a[full]) & (uint8_t)(0xff00u >> rem)))
            continue;
        return true;
    }
    return false;
}

static int parse_choice(const char *name, const char *v, const char *const *choices, int n,
                        int dflt)
{
    if (!v || !*v)
        return dflt;
    for (int i = 0; i < n; i++)
        if (!strcmp(v, choices[i]))
            return i;
    mpx_shim_log(MPX_SHIM_LOG_WARN, "%s=%s not understood; using %s", name, v, choices[dflt]);
    return dflt;
}

/* The constructor: the environment only (no fds, no threads, no daemon). */
__attribute__((constructor)) static void shim_ctor(void)
{
    static const char *const levels[] = {"error", "warn", "info", "debug"};
    static const char *const extkeys[] = {"default", "never", "prefer", "require"};
    static const char *const fallbacks[] = {"tcp", "error"};
    const char *v;

    mpx_shim_cfg.log_level =
        parse_choice("MPTCPEXT_LOG", getenv("MPTCPEXT_LOG"), levels, 4, MPX_SHIM_LOG_WARN);
    v = getenv("MPTCPEXT_DISABLE");
    mpx_shim_cfg.disabled = v && *v && strcmp(v, "0") != 0;
    mpx_shim_cfg.extkey = (uint8_t)parse_choice("MPTCPEXT_EXTKEY", getenv("MPTCPEXT_EXTKEY"),
                                                extkeys, 4, MPX_RPC_EXTKEY_DEFAULT);
    mpx_shim_cfg.fallback = parse_choice("MPTCPEXT_FALLBACK", getenv("MPTCPEXT_FALLBACK"),
                                         fallbacks, 2, MPX_SHIM_FALLBACK_TCP);
    v = getenv("MPTCPEXT_SOCKET");
    if (v && strlen(v) < sizeof(mpx_shim_cfg.socket))
        snprintf(mpx_shim_cfg.socket, sizeof(mpx_shim_cfg.socket), "%s", v);
    v = getenv("MPTCPEXT_EXCLUDE");
    parse_excludes(v ? v : default_exclude);
    mpx_shim_init();
}

/* ---- weak fallbacks until the other files of the shim exist ------------------ */

__attribute__((weak)) void mpx_shim_opts_on_conn(struct mpx_shim_sock *s)
{
    (void)s;
}

__attribute__((weak)) int mpx_shim_psk(uint8_t out[MPX_RPC_PSK_MAX])
{
    (void)out;
    return 0;
}

__attribute__((weak)) int mpx_tlsh_host_context(int fd,
                                                const uint8_t client_random[MPX_TLSH_RANDOM_LEN],
                                                uint8_t ctx[MPX_TLSH_CTX_LEN])
{
    (void)fd;
    (void)client_random;
    (void)ctx;
    return -1; /* not ours */
}

__attribute__((weak)) void mpx_tlsh_host_key(const struct mpx_tlsh_export *e)
{
    (void)e;
}
