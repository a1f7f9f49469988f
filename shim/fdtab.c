/*
 * fdtab.c - the sockets the shim manages, keyed by fd number
 * (notes/shim.md §5.13-14, §6).
 *
 * A table of pointers indexed by fd, sized by the RLIMIT_NOFILE hard limit
 * (mmap'ed: untouched pages cost nothing), read without a lock. Entries are
 * recycled through a free list, never freed, so that a thread racing with
 * a close() of the same fd reads a stale entry, never freed memory.
 *
 * The table and its free list take no lock and call no malloc: close() is
 * async-signal-safe (POSIX) and programs call it from signal handlers,
 * which may interrupt this very code in the same thread. Entries live in mmap'ed chunks of
 * CHUNK, named by index; the free list is a Treiber stack whose head packs
 * a generation count with the index of the first entry, so that a pop
 * racing with pops and pushes of the same entry (ABA) fails its
 * compare-and-swap instead of corrupting the list.
 *
 * Each entry carries the socket's inode: a mismatch (the program
 * closed the fd behind our back, dup2'ed over it, fclose'd an fdopen'ed
 * socket) drops the entry. Unknown fds are adopted when they are AF_UNIX
 * sockets whose abstract name (own: a socket of ours after exec, dup or
 * SCM_RIGHTS; peer's: an accepted connection) has the shim's prefix.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "shim_int.h"

#define CHUNK      1024u
#define MAX_CHUNKS 4096u /* 4M entries: the table's own maximum */

struct entry {
    struct mpx_shim_sock s; /* first: the public part */
    pthread_mutex_t mu;
    uint32_t idx;       /* in the pool */
    uint32_t next_free; /* index + 1 of the next free entry, 0 = end */
};

static struct entry **tab;
static size_t tab_n;
static pthread_once_t tab_once = PTHREAD_ONCE_INIT;
static struct entry *chunks[MAX_CHUNKS];
static uint32_t pool_used; /* entries ever handed out (bump allocator) */
static uint64_t free_head; /* generation << 32 | (index + 1) of the top, 0 = empty */
static uint32_t id_counter;

/* The entry of pool index |i|, its chunk mapped on first use (mmap is a
 * plain system call: fine in a signal handler; a thread that loses the
 * race to publish a chunk unmaps its own). */
static struct entry *pool_entry(uint32_t i)
{
    uint32_t k = i / CHUNK;
    struct entry *c;
    if (k >= MAX_CHUNKS)
        return NULL;
    c = __atomic_load_n(&chunks[k], __ATOMIC_ACQUIRE);
    if (!c) {
        struct entry *fresh = mmap(NULL, CHUNK * sizeof(*fresh), PROT_READ | PROT_WRITE,
                                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (fresh == MAP_FAILED)
            return NULL;
        if (__atomic_compare_exchange_n(&chunks[k], &c, fresh, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
            c = fresh;
        else
            munmap(fresh, CHUNK * sizeof(*fresh));
    }
    return &c[i % CHUNK];
}

static void free_push(struct entry *e)
{
    uint64_t h = __atomic_load_n(&free_head, __ATOMIC_ACQUIRE), n;
    do {
        __atomic_store_n(&e->next_free, (uint32_t)h, __ATOMIC_RELAXED);
        n = ((h >> 32) + 1) << 32 | (uint64_t)(e->idx + 1);
    } while (
        !__atomic_compare_exchange_n(&free_head, &h, n, true, __ATOMIC_RELEASE, __ATOMIC_ACQUIRE));
}

static struct entry *free_pop(void)
{
    uint64_t h = __atomic_load_n(&free_head, __ATOMIC_ACQUIRE), n;
    struct entry *e;
    do {
        if (!(uint32_t)h)
            return NULL;
        /* every index on the list has its chunk mapped; a stale read of
         * next_free is caught by the generation in the swap */
        e = pool_entry((uint32_t)h - 1);
        if (!e)
            return NULL;
        n = ((h >> 32) + 1) << 32 | __atomic_load_n(&e->next_free, __ATOMIC_RELAXED);
    } while (
        !__atomic_compare_exchange_n(&free_head, &h, n, true, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
    return e;
}

/* A fresh entry from the pool: its mutex is recursive (the files of the
 * shim call each other with the entry locked: sockopt.c's hooks, SO_ERROR
 * inside a locked section). */
static struct entry *pool_new(void)
{
    static const pthread_mutex_t rec = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
    uint32_t i = __atomic_fetch_add(&pool_used, 1, __ATOMIC_RELAXED);
    struct entry *e = pool_entry(i);
    if (!e)
        return NULL;
    e->mu = rec;
    e->idx = i;
    return e;
}

static void tab_init(void)
{
    struct rlimit rl;
    size_t n = 65536;
    void *p;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY && rl.rlim_max > n)
        n = rl.rlim_max > (1u << 22) ? (1u << 22) : (size_t)rl.rlim_max;
    p = mmap(NULL, n * sizeof(*tab), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return;
    tab_n = n;
    __atomic_store_n(&tab, (struct entry **)p, __ATOMIC_RELEASE);
}

static struct entry **table(void)
{
    pthread_once(&tab_once, tab_init);
    return __atomic_load_n(&tab, __ATOMIC_ACQUIRE);
}

static ino_t ino_of(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) ? st.st_ino : 0;
}

size_t mpx_shim_sock_cap(void)
{
    return __atomic_load_n(&tab, __ATOMIC_ACQUIRE) ? tab_n : 0;
}

uint64_t mpx_shim_sock_id(void)
{
    uint32_t c = __atomic_add_fetch(&id_counter, 1, __ATOMIC_RELAXED);
    return (uint64_t)(uint32_t)mpx_shim_pid() << 32 | c;
}

struct mpx_shim_sock *mpx_shim_sock_new(int fd, int family, int protocol, uint64_t sock_id)
{
    struct entry **t = table(), *e, *old;
    if (!t || fd < 0 || (size_t)fd >= tab_n)
        return NULL;
    e = free_pop();
    if (!e && !(e = pool_new()))
        return NULL;
    memset(&e->s, 0, sizeof(e->s));
    e->s.fd = fd;
    e->s.ino = ino_of(fd);
    e->s.family = family;
    e->s.protocol = protocol;
    e->s.sock_id = sock_id;
    e->s.state = MPX_SHIM_S_NEW;
    old = __atomic_exchange_n(&t[fd], e, __ATOMIC_ACQ_REL);
    if (old)
        free_push(old);
    return &e->s;
}

void mpx_shim_sock_forget(int fd)
{
    struct entry **t = __atomic_load_n(&tab, __ATOMIC_ACQUIRE), *old;
    if (!t || fd < 0 || (size_t)fd >= tab_n || !__atomic_load_n(&t[fd], __ATOMIC_RELAXED))
        return;
    old = __atomic_exchange_n(&t[fd], NULL, __ATOMIC_ACQ_REL);
    if (old)
        free_push(old);
}

struct mpx_shim_sock *mpx_shim_sock_peek(int fd)
{
    struct entry **t = __atomic_load_n(&tab, __ATOMIC_ACQUIRE), *e;
    if (!t || fd < 0 || (size_t)fd >= tab_n)
        return NULL;
    e = __atomic_load_n(&t[fd], __ATOMIC_ACQUIRE);
    return e ? &e->s : NULL;
}

void mpx_shim_sock_lock(struct mpx_shim_sock *s)
{
    pthread_mutex_lock(&((struct entry *)s)->mu);
}

void mpx_shim_sock_unlock(struct mpx_shim_sock *s)
{
    pthread_mutex_unlock(&((struct entry *)s)->mu);
}

/* The abstract name of |fd| (own or peer's), without the leading NUL;
 * its length, or -1 when |fd| is not an AF_UNIX socket with an abstract name. */
static int abstract_name(int fd, bool peer, char *out, size_t cap)
{
    struct sockaddr_un sa;
    socklen_t len = sizeof(sa);
    int rc = peer ? mpx_shim_real.getpeername(fd, (struct sockaddr *)&sa, &len)
                  : mpx_shim_real.getsockname(fd, (struct sockaddr *)&sa, &len);
    size_t n;
    if (rc || sa.sun_family != AF_UNIX || len <= offsetof(struct sockaddr_un, sun_path) + 1 ||
        sa.sun_path[0] != '\0')
        return -1;
    n = len - offsetof(struct sockaddr_un, sun_path) - 1;
    if (n >= cap)
        return -1;
    memcpy(out, sa.sun_path + 1, n);
    out[n] = '\0';
    return (int)n;
}

/* An accepted connection inherited through exec/fork/SCM_RIGHTS. */
static struct mpx_shim_sock *adopt_accepted(int fd, const char *name, int n)
{
    struct mpx_rpc_addr peer, local;
    uint16_t pport, lport;
    uint32_t conn;
    int lfam;
    struct mpx_shim_sock *s;

    if (mpx_rpc_acc_parse(name, (size_t)n, &lfam, &conn, &peer, &pport, &local, &lport))
        return NULL;
    s = mpx_shim_sock_new(fd, lfam == 6 ? AF_INET6 : AF_INET, IPPROTO_TCP, mpx_shim_sock_id());
    if (!s)
        return NULL;
    s->state = MPX_SHIM_S_CONNECTED;
    s->conn = conn;
    s->peer_len = mpx_shim_rpc_to_sa(s->family, &peer, pport, &s->peer);
    s->local_len = mpx_shim_rpc_to_sa(s->family, &local, lport, &s->local);
    return s;
}

static struct mpx_shim_sock *adopt(int fd)
{
    char name[128];
    unsigned long long id;
    char fam;
    int n;
    struct mpx_shim_sock *s;

    /* the peer's name first: an accepted socket's own name is its
     * listener's */
    n = abstract_name(fd, true, name, sizeof(name));
    if (n > 0 && !strncmp(name, MPX_RPC_ACC_PREFIX, strlen(MPX_RPC_ACC_PREFIX))) {
        s = adopt_accepted(fd, name, n);
        if (s)
            mpx_shim_log(MPX_SHIM_LOG_DEBUG, "fd %d: adopted accepted connection %u", fd, s->conn);
        return s;
    }
    n = abstract_name(fd, false, name, sizeof(name));
    if (n > 0 && sscanf(name, MPX_RPC_SOCK_PREFIX "%c/%16llx", &fam, &id) == 2 &&
        (fam == '4' || fam == '6') && id) {
        s = mpx_shim_sock_new(fd, fam == '6' ? AF_INET6 : AF_INET, IPPROTO_TCP, id);
        if (s) {
            mpx_shim_log(MPX_SHIM_LOG_DEBUG, "fd %d: adopted socket %016llx", fd, id);
            mpx_shim_sock_refresh(s);
        }
        return s;
    }
    return NULL;
}

struct mpx_shim_sock *mpx_shim_sock_get(int fd)
{
    struct mpx_shim_sock *s;
    if (mpx_shim_cfg.disabled || fd < 0)
        return NULL;
    mpx_shim_init();
    s = mpx_shim_sock_peek(fd);
    if (s) {
        if (s->ino && ino_of(fd) == s->ino)
            return s;
        mpx_shim_sock_forget(fd); /* the fd now names another file */
    }
    return table() ? adopt(fd) : NULL;
}
