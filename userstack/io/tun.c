/*
 * tun.c - see tun.h.
 *
 * Buffer layout: one page-aligned block of (n_rx + n_tx) slots, receive
 * slots first. A slot holds [vnet header][packet] and is `slot` bytes
 * (header + buf_size + 1 rounded up to a cache line; the extra byte tells
 * a truncated read, see on_read). The whole block is one
 * registered buffer (buf_index fixed_idx), so READ_FIXED/WRITE_FIXED skip
 * the per-operation page pinning of plain READ/WRITE.
 *
 * Receive buffers are also a provided-buffer ring (buffer group = our
 * source id) for the multishot read, which picks a buffer per packet
 * (tun.h says why one multishot read and not many reads). liburing 2.3
 * lacks io_uring_prep_read_multishot (2.5): the SQE is built by hand from
 * the opcode number of the kernel's uapi. A kernel without the opcode
 * fails the first read with -EINVAL; we then drop the buffer ring and keep
 * one READ_FIXED per buffer in flight.
 */
#include "tun.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef IORING_OP_READ_MULTISHOT
#define IORING_OP_READ_MULTISHOT 49 /* include/uapi/linux/io_uring.h, Linux 6.7 */
#endif

/* Pool sizes. Plain: enough reads in flight to ride out a burst of
 * 1500-byte packets between two loop steps (the TUN queue holds 500).
 * vnet: each buffer is 64 KB and every in-flight read cycles its buffer
 * through the cache, so fewer: measured here, 64 KB loops ran at
 * 86-89 kpps with 8 reads in flight and 55-63 kpps with 256. */
#define DEF_RX        256
#define DEF_TX        256
#define DEF_RX_VNET   32
#define DEF_TX_VNET   64
#define DEF_BUF_PLAIN 2048
#define DEF_BUF_VNET  65535
#define MAX_BUF       (1u << 20)
#define MAX_SLOTS     65536
#define RX_ERR_STOP   64 /* consecutive read errors after which we stop re-arming */

enum tun_op {
    OP_READ = 1,
    OP_WRITE = 2,
    OP_CANCEL = 3,
    OP_MSHOT = 4,
};

enum rx_state {
    RX_IDLE,  /* not armed (closing, SQ was full, or stopped on errors) */
    RX_ARMED, /* read in flight, or in the provided-buffer ring */
    RX_READY, /* completed, queued for the owner */
    RX_HELD,  /* lent to the owner */
};

enum tx_state {
    TX_FREE,
    TX_LENT,
    TX_INFLIGHT,
};

struct mpx_tun {
    struct mpx_uloop *l;
    uint16_t src;
    int fd;
    int ifindex;
    char name[MPX_TUN_NAME_MAX];
    unsigned flags;
    unsigned hdr; /* vnet header bytes before each packet: 0 or 10 */
    size_t buf_size, slot;
    uint8_t *mem;
    size_t mem_len;
    int fixed_idx; /* registered buffer index, -1 when not registered */

    unsigned n_rx, n_tx;
    uint8_t *rx_state;
    uint32_t *rx_len;
    uint32_t *ready; /* FIFO of READY receive slots, capacity n_rx */
    unsigned rq_head, rq_n;
    unsigned rx_idle; /* slots in RX_IDLE that should be armed */
    unsigned rx_errs; /* consecutive read errors */
    uint8_t *tx_state;
    uint32_t *tx_len;
    uint32_t *tx_free; /* stack of free transmit slots */
    unsigned n_tx_free;

    /* Multishot receive: the provided-buffer ring and its state. */
    struct io_uring_buf_ring *br;
    unsigned br_entries; /* power of two >= n_rx */
    unsigned br_avail;   /* buffers in the ring */
    bool mshot;          /* receiving with the multishot read */
    bool mshot_armed;    /* it is in flight */
    bool mshot_ok;       /* it has delivered a packet: the kernel has the opcode */

    unsigned rx_inflight, tx_inflight, cancel_inflight;
    bool closing;
    struct mpx_tun_stats st;
};

static uint8_t *slot_ptr(const struct mpx_tun *t, unsigned i)
{
    return t->mem + (size_t)i * t->slot;
}

static void prep_io(struct mpx_tun *t, struct io_uring_sqe *sqe, bool write, unsigned slot,
                    unsigned len)
{
    uint8_t *p = slot_ptr(t, slot);
    /* Offset 0: the TUN is a stream file, the offset is ignored. */
    if (t->fixed_idx >= 0 && write)
        io_uring_prep_write_fixed(sqe, t->fd, p, len, 0, t->fixed_idx);
    else if (t->fixed_idx >= 0)
        io_uring_prep_read_fixed(sqe, t->fd, p, len, 0, t->fixed_idx);
    else if (write)
        io_uring_prep_write(sqe, t->fd, p, len, 0);
    else
        io_uring_prep_read(sqe, t->fd, p, len, 0);
}

/* Queue the read of receive slot |i|; on a full SQ it stays idle and is
 * retried by rearm_idle(). */
static void arm_rx(struct mpx_tun *t, unsigned i)
{
    struct io_uring_sqe *sqe = t->closing ? NULL : mpx_uloop_sqe(t->l);
    if (!sqe) {
        if (!t->closing)
            t->st.rx_rearm_fail++;
        t->rx_state[i] = RX_IDLE;
        t->rx_idle++;
        return;
    }
    prep_io(t, sqe, false, i, (unsigned)(t->hdr + t->buf_size + 1));
    io_uring_sqe_set_data64(sqe, mpx_uloop_ud(t->src, OP_READ, i));
    t->rx_state[i] = RX_ARMED;
    t->rx_inflight++;
}

/* Give receive buffer |i| to the provided-buffer ring (multishot mode). */
static void br_give(struct mpx_tun *t, unsigned i)
{
    io_uring_buf_ring_add(t->br, slot_ptr(t, i), (unsigned)(t->hdr + t->buf_size + 1),
                          (unsigned short)i, io_uring_buf_ring_mask(t->br_entries), 0);
    io_uring_buf_ring_advance(t->br, 1);
    t->rx_state[i] = RX_ARMED;
    t->br_avail++;
}

/* Queue the multishot read unless it runs already or has no buffer to
 * fill; on a full SQ, mpx_tun_rx_next() retries. */
static void arm_mshot(struct mpx_tun *t)
{
    if (t->mshot_armed || t->closing || t->br_avail == 0 || t->rx_errs >= RX_ERR_STOP)
        return;
    struct io_uring_sqe *sqe = mpx_uloop_sqe(t->l);
    if (!sqe) {
        t->st.rx_rearm_fail++;
        return;
    }
    io_uring_prep_rw(IORING_OP_READ_MULTISHOT, sqe, t->fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = t->src;
    io_uring_sqe_set_data64(sqe, mpx_uloop_ud(t->src, OP_MSHOT, 0));
    t->mshot_armed = true;
    t->rx_inflight++;
}

/* Register the n_rx receive buffers as a provided-buffer ring (group = our
 * source id). 0, or -errno: then one read per buffer. */
static int mshot_setup(struct mpx_tun *t)
{
    unsigned n = 1;
    void *mem;
    while (n < t->n_rx)
        n <<= 1;
    if (n > 32768) /* the kernel's limit on ring entries */
        return -EINVAL;
    if (posix_memalign(&mem, 4096, n * sizeof(struct io_uring_buf)) != 0)
        return -ENOMEM;
    struct io_uring_buf_reg reg = {
        .ring_addr = (uint64_t)(uintptr_t)mem, .ring_entries = n, .bgid = t->src};
    int ret = io_uring_register_buf_ring(&t->l->ring, &reg, 0);
    if (ret < 0) {
        free(mem);
        return ret;
    }
    t->br = mem;
    t->br_entries = n;
    t->mshot = true;
    t->st.rx_multishot = 1;
    io_uring_buf_ring_init(t->br);
    for (unsigned i = 0; i < t->n_rx; i++)
        br_give(t, i);
    return 0;
}

static void mshot_drop(struct mpx_tun *t)
{
    if (!t->br)
        return;
    io_uring_unregister_buf_ring(&t->l->ring, t->src);
    free(t->br);
    t->br = NULL;
    t->mshot = false;
    t->br_avail = 0;
    t->st.rx_multishot = 0;
}

static void rearm_idle(struct mpx_tun *t)
{
    if (t->mshot) {
        arm_mshot(t);
        return;
    }
    if (t->rx_idle == 0 || t->closing || t->rx_errs >= RX_ERR_STOP)
        return;
    for (unsigned i = 0; i < t->n_rx && t->rx_idle > 0; i++) {
        if (t->rx_state[i] != RX_IDLE)
            continue;
        t->rx_idle--;
        arm_rx(t, i);
        if (t->rx_state[i] == RX_IDLE)
            return; /* SQ still full */
    }
}

static void rx_count_err(struct mpx_tun *t, int32_t res)
{
    if (res >= 0) {
        t->st.rx_short++;
    } else if (res == -EAGAIN) {
        t->st.rx_again++;
    } else if (res != -EINTR && res != -ECANCELED) {
        t->st.rx_err++;
        t->st.last_err = res;
        t->rx_errs++;
    }
}

/* A read into receive buffer |i| completed with |res|: queue the packet
 * for the owner (true), or count why not (false: the buffer is free). */
static bool rx_take(struct mpx_tun *t, uint32_t i, int32_t res)
{
    /* A packet longer than buf_size: TUN copies what fits and returns
     * that, silently. Reads ask for one byte more than buf_size, so a
     * full read means truncation: drop it rather than hand on half a
     * packet. */
    if (res > 0 && (size_t)res > t->hdr + t->buf_size) {
        t->st.rx_trunc++;
        return false;
    }
    if (res < 0 || (unsigned)res < t->hdr) {
        rx_count_err(t, res);
        return false;
    }
    t->rx_errs = 0;
    t->rx_len[i] = (uint32_t)res;
    t->rx_state[i] = RX_READY;
    t->ready[(t->rq_head + t->rq_n) % t->n_rx] = i;
    t->rq_n++;
    t->st.rx_pkts++;
    t->st.rx_bytes += (uint64_t)res - t->hdr;
    return true;
}

static void on_read(struct mpx_tun *t, uint32_t i, int32_t res)
{
    t->rx_inflight--;
    if (i >= t->n_rx || t->rx_state[i] != RX_ARMED)
        return;
    if (rx_take(t, i, res))
        return;
    /* Re-arm, unless closing or the fd keeps failing (device gone). */
    if (t->closing || t->rx_errs >= RX_ERR_STOP) {
        t->rx_state[i] = RX_IDLE;
        t->rx_idle++;
        return;
    }
    arm_rx(t, i);
}

/* A completion of the multishot read. Without IORING_CQE_F_MORE it has
 * stopped (no buffer left: -ENOBUFS, an error, cancellation) and is
 * queued again once it has a buffer. */
static void on_mshot(struct mpx_tun *t, int32_t res, uint32_t flags)
{
    if (!(flags & IORING_CQE_F_MORE)) {
        t->rx_inflight--;
        t->mshot_armed = false;
    }
    if (flags & IORING_CQE_F_BUFFER) {
        uint32_t i = flags >> IORING_CQE_BUFFER_SHIFT;
        if (i < t->n_rx && t->rx_state[i] == RX_ARMED) {
            t->br_avail--;
            t->mshot_ok = true;
            if (!rx_take(t, i, res))
                br_give(t, i); /* truncated: straight back to the ring */
        }
    } else if (res == -EINVAL && !t->mshot_ok && !t->mshot_armed) {
        /* No READ_MULTISHOT in this kernel: one read per buffer. */
        mshot_drop(t);
        for (unsigned i = 0; i < t->n_rx; i++)
            if (t->rx_state[i] == RX_ARMED)
                arm_rx(t, i);
        return;
    } else if (res == -ENOBUFS) {
        t->st.rx_nobufs++;
    } else {
        rx_count_err(t, res);
    }
    arm_mshot(t);
}

static void on_write(struct mpx_tun *t, uint32_t i, int32_t res)
{
    t->tx_inflight--;
    if (i >= t->n_tx || t->tx_state[i] != TX_INFLIGHT)
        return;
    if (res < 0 || (uint32_t)res != t->tx_len[i]) {
        t->st.tx_err++;
        t->st.last_err = res < 0 ? res : -EIO;
    } else {
        t->st.tx_pkts++;
        t->st.tx_bytes += (uint64_t)res - t->hdr;
    }
    t->tx_state[i] = TX_FREE;
    t->tx_free[t->n_tx_free++] = i;
}

static void on_cqe(void *ctx, uint8_t op, uint32_t idx, int32_t res, uint32_t flags)
{
    struct mpx_tun *t = ctx;
    switch (op) {
    case OP_READ:
        on_read(t, idx, res);
        break;
    case OP_WRITE:
        on_write(t, idx, res);
        break;
    case OP_MSHOT:
        on_mshot(t, res, flags);
        break;
    case OP_CANCEL:
        t->cancel_inflight--;
        break;
    default:
        break;
    }
}

/* ioctl on an interface by name through a throwaway datagram socket. */
static int if_ioctl(const char *name, unsigned long req, struct ifreq *ifr)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -errno;
    strncpy(ifr->ifr_name, name, IFNAMSIZ - 1);
    ifr->ifr_name[IFNAMSIZ - 1] = '\0';
    int ret = ioctl(s, req, ifr) < 0 ? -errno : 0;
    close(s);
    return ret;
}

int mpx_tun_set_mtu(struct mpx_tun *t, unsigned mtu)
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_mtu = (int)mtu;
    return if_ioctl(t->name, SIOCSIFMTU, &ifr);
}

int mpx_tun_get_mtu(const struct mpx_tun *t)
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    int ret = if_ioctl(t->name, SIOCGIFMTU, &ifr);
    return ret < 0 ? ret : ifr.ifr_mtu;
}

int mpx_tun_set_up(struct mpx_tun *t, bool up)
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    int ret = if_ioctl(t->name, SIOCGIFFLAGS, &ifr);
    if (ret < 0)
        return ret;
    if (up)
        ifr.ifr_flags |= IFF_UP;
    else
        ifr.ifr_flags &= ~IFF_UP;
    return if_ioctl(t->name, SIOCSIFFLAGS, &ifr);
}

/* Write |val| to /sys/class/net/<our name>/|attr|. sysfs shows the
 * devices of the namespace it was mounted in (`ip netns exec` remounts
 * it), so the ifindex is checked first. */
static int sysfs_set(const struct mpx_tun *t, const char *attr, const char *val)
{
    char path[96], buf[32];
    snprintf(path, sizeof(path), "/sys/class/net/%s/ifindex", t->name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -EIO;
    buf[n] = '\0';
    if (atoi(buf) != t->ifindex)
        return -ENOENT;
    snprintf(path, sizeof(path), "/sys/class/net/%s/%s", t->name, attr);
    if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
        return -errno;
    size_t len = strlen(val);
    int ret = write(fd, val, len) == (ssize_t)len ? 0 : -errno;
    close(fd);
    return ret;
}

int mpx_tun_set_napi_threaded(struct mpx_tun *t, bool on)
{
    if (on && !(t->flags & MPX_TUN_F_NAPI))
        return -EINVAL;
    return sysfs_set(t, "threaded", on ? "1\n" : "0\n");
}

int mpx_tun_set_offload(struct mpx_tun *t, unsigned offload)
{
    if (!(t->flags & MPX_TUN_F_VNET_HDR))
        return -EINVAL;
    return ioctl(t->fd, TUNSETOFFLOAD, (unsigned long)offload) < 0 ? -errno : 0;
}

/* Open /dev/net/tun and attach it to the device; fills t->fd and t->name. */
static int open_dev(struct mpx_tun *t, const struct mpx_tun_opts *o)
{
    const char *name = o->name ? o->name : "";
    struct ifreq ifr;

    if (strlen(name) >= IFNAMSIZ)
        return -EINVAL;
    /* TUNSETIFF attaches to a persistent device of that name if there is
     * one, so the two modes are told apart beforehand. */
    bool exists = name[0] && if_nametoindex(name) != 0;
    if ((o->flags & MPX_TUN_F_ATTACH) && !exists)
        return -ENODEV;
    if (!(o->flags & MPX_TUN_F_ATTACH) && exists)
        return -EEXIST;

    int oflags = O_RDWR | O_CLOEXEC | ((o->flags & MPX_TUN_F_NONBLOCK) ? O_NONBLOCK : 0);
    t->fd = open("/dev/net/tun", oflags);
    if (t->fd < 0)
        return -errno;
    memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI | ((o->flags & MPX_TUN_F_VNET_HDR) ? IFF_VNET_HDR : 0) |
                    ((o->flags & MPX_TUN_F_NAPI) ? IFF_NAPI : 0);
    strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
    if (ioctl(t->fd, TUNSETIFF, &ifr) < 0)
        return -errno;
    memcpy(t->name, ifr.ifr_name, IFNAMSIZ);
    t->name[IFNAMSIZ - 1] = '\0';
    t->ifindex = (int)if_nametoindex(t->name);
    if (!(o->flags & MPX_TUN_F_VNET_HDR))
        return 0;

    int sz = MPX_VNET_HDR_LEN, le = 1;
    if (ioctl(t->fd, TUNSETVNETHDRSZ, &sz) < 0)
        return -errno;
    /* Little-endian header fields on every host (vnet.c encodes LE); a
     * little-endian host is LE already, so a refusal there is harmless. */
    if (ioctl(t->fd, TUNSETVNETLE, &le) < 0 && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__)
        return -errno;
    return mpx_tun_set_offload(t, o->offload);
}

static int alloc_pool(struct mpx_tun *t)
{
    unsigned n = t->n_rx + t->n_tx;
    t->slot = (t->hdr + t->buf_size + 1 + 63) & ~(size_t)63; /* +1: see on_read */
    t->mem_len = ((size_t)n * t->slot + 4095) & ~(size_t)4095;
    if (posix_memalign((void **)&t->mem, 4096, t->mem_len) != 0) {
        t->mem = NULL;
        return -ENOMEM;
    }
    t->rx_state = calloc(t->n_rx, 1);
    t->rx_len = calloc(t->n_rx, sizeof(uint32_t));
    t->ready = calloc(t->n_rx, sizeof(uint32_t));
    t->tx_state = calloc(t->n_tx, 1);
    t->tx_len = calloc(t->n_tx, sizeof(uint32_t));
    t->tx_free = calloc(t->n_tx, sizeof(uint32_t));
    if (!t->rx_state || !t->rx_len || !t->ready || !t->tx_state || !t->tx_len || !t->tx_free)
        return -ENOMEM;
    for (unsigned i = 0; i < t->n_tx; i++)
        t->tx_free[i] = t->n_tx - 1 - i; /* pop order 0, 1, 2, ... */
    t->n_tx_free = t->n_tx;
    return 0;
}

static void free_tun(struct mpx_tun *t)
{
    mshot_drop(t);
    if (t->fixed_idx >= 0)
        mpx_uloop_buf_unregister(t->l, (unsigned)t->fixed_idx, 1);
    if (t->src)
        mpx_uloop_src_del(t->l, t->src);
    if (t->fd >= 0)
        close(t->fd);
    free(t->mem);
    free(t->rx_state);
    free(t->rx_len);
    free(t->ready);
    free(t->tx_state);
    free(t->tx_len);
    free(t->tx_free);
    free(t);
}

static int check_opts(struct mpx_tun_opts *d)
{
    bool vnet = d->flags & MPX_TUN_F_VNET_HDR;
    if (d->offload && !vnet)
        return -EINVAL;
    if (!d->n_rx)
        d->n_rx = vnet ? DEF_RX_VNET : DEF_RX;
    if (!d->n_tx)
        d->n_tx = vnet ? DEF_TX_VNET : DEF_TX;
    if (!d->buf_size)
        d->buf_size = vnet ? DEF_BUF_VNET : (d->mtu > DEF_BUF_PLAIN ? d->mtu : DEF_BUF_PLAIN);
    if (d->buf_size < 576 || d->buf_size > MAX_BUF || d->n_rx > MAX_SLOTS || d->n_tx > MAX_SLOTS)
        return -EINVAL;
    return 0;
}

static struct mpx_tun *tun_new(struct mpx_uloop *l, const struct mpx_tun_opts *d)
{
    struct mpx_tun *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->l = l;
    t->fd = -1;
    t->fixed_idx = -1;
    t->flags = d->flags;
    t->hdr = (d->flags & MPX_TUN_F_VNET_HDR) ? MPX_VNET_HDR_LEN : 0;
    t->buf_size = d->buf_size;
    t->n_rx = d->n_rx;
    t->n_tx = d->n_tx;
    return t;
}

/* Buffers, registration, loop source, and the first n_rx reads. */
static int tun_start(struct mpx_tun *t)
{
    int ret = alloc_pool(t);
    if (ret < 0)
        return ret;
    if (!(t->flags & MPX_TUN_F_NO_FIXED)) {
        struct iovec iov = {.iov_base = t->mem, .iov_len = t->mem_len};
        /* No registered buffer (table full, old kernel): plain READ/WRITE. */
        int idx = mpx_uloop_buf_register(t->l, &iov, 1);
        t->fixed_idx = idx >= 0 ? idx : -1;
    }
    if ((ret = mpx_uloop_src_add(t->l, on_cqe, t)) < 0)
        return ret;
    t->src = (uint16_t)ret;
    if (!(t->flags & MPX_TUN_F_NO_MSHOT) && mshot_setup(t) == 0) {
        arm_mshot(t);
        return 0;
    }
    for (unsigned i = 0; i < t->n_rx; i++)
        arm_rx(t, i);
    return 0;
}

int mpx_tun_open(struct mpx_tun **out, struct mpx_uloop *l, const struct mpx_tun_opts *o)
{
    struct mpx_tun_opts d = {0};
    int ret;

    *out = NULL;
    if (o)
        d = *o;
    if ((ret = check_opts(&d)) < 0)
        return ret;
    struct mpx_tun *t = tun_new(l, &d);
    if (!t)
        return -ENOMEM;
    if ((ret = open_dev(t, &d)) < 0 || (d.mtu && (ret = mpx_tun_set_mtu(t, d.mtu)) < 0) ||
        ((d.flags & MPX_TUN_F_UP) && (ret = mpx_tun_set_up(t, true)) < 0) ||
        (ret = tun_start(t)) < 0) {
        free_tun(t);
        return ret;
    }
    *out = t;
    return 0;
}

int mpx_tun_open_fd(struct mpx_tun **out, struct mpx_uloop *l, int fd, const struct mpx_tun_opts *o)
{
    struct mpx_tun_opts d = {0};
    int ret;

    *out = NULL;
    if (o)
        d = *o;
    if (fd < 0 || (d.flags & (MPX_TUN_F_ATTACH | MPX_TUN_F_UP | MPX_TUN_F_NONBLOCK)) || d.mtu)
        return -EINVAL;
    if ((ret = check_opts(&d)) < 0)
        return ret;
    struct mpx_tun *t = tun_new(l, &d);
    if (!t)
        return -ENOMEM;
    if (d.name && strlen(d.name) < MPX_TUN_NAME_MAX) {
        memcpy(t->name, d.name, strlen(d.name) + 1);
        t->ifindex = (int)if_nametoindex(t->name);
    }
    /* The offloads are the fd owner's business; only the framing (vnet
     * header or not) must match what the fd was opened with. */
    t->fd = fd;
    if ((ret = tun_start(t)) < 0) {
        t->fd = -1; /* still the caller's */
        free_tun(t);
        return ret;
    }
    *out = t;
    return 0;
}

void mpx_tun_close(struct mpx_tun *t)
{
    if (!t)
        return;
    t->closing = true;
    if (t->rx_inflight + t->tx_inflight > 0) {
        struct io_uring_sqe *sqe = mpx_uloop_sqe(t->l);
        if (sqe) {
            io_uring_prep_cancel_fd(sqe, t->fd, IORING_ASYNC_CANCEL_ALL);
            io_uring_sqe_set_data64(sqe, mpx_uloop_ud(t->src, OP_CANCEL, 0));
            t->cancel_inflight++;
        }
    }
    /* The kernel may write into our buffers until every read completed. */
    for (int i = 0; i < 1000 && t->rx_inflight + t->tx_inflight + t->cancel_inflight > 0; i++)
        mpx_uloop_run(t->l, 10 * 1000 * 1000);
    if (t->rx_inflight + t->tx_inflight > 0) {
        /* Cancellation failed (pre-5.19 kernel?): leaking the buffers is
         * the only safe choice; detach from the loop and close the fd. */
        mpx_uloop_src_del(t->l, t->src);
        close(t->fd);
        return;
    }
    free_tun(t);
}

int mpx_tun_fd(const struct mpx_tun *t)
{
    return t->fd;
}

const char *mpx_tun_name(const struct mpx_tun *t)
{
    return t->name;
}

int mpx_tun_ifindex(const struct mpx_tun *t)
{
    return t->ifindex;
}

unsigned mpx_tun_hdr_len(const struct mpx_tun *t)
{
    return t->hdr;
}

size_t mpx_tun_buf_size(const struct mpx_tun *t)
{
    return t->buf_size;
}

const struct mpx_tun_stats *mpx_tun_stats(const struct mpx_tun *t)
{
    return &t->st;
}

int mpx_tun_rx_next(struct mpx_tun *t, struct mpx_tun_pkt *pkt)
{
    rearm_idle(t);
    if (t->rq_n == 0)
        return 0;
    uint32_t i = t->ready[t->rq_head];
    t->rq_head = (t->rq_head + 1) % t->n_rx;
    t->rq_n--;
    t->rx_state[i] = RX_HELD;
    uint8_t *p = slot_ptr(t, i);
    memset(&pkt->vnet, 0, sizeof(pkt->vnet));
    if (t->hdr)
        mpx_vnet_hdr_decode(p, &pkt->vnet);
    pkt->data = p + t->hdr;
    pkt->len = t->rx_len[i] - t->hdr;
    pkt->id = i;
    return 1;
}

void mpx_tun_rx_release(struct mpx_tun *t, uint32_t id)
{
    if (id >= t->n_rx || t->rx_state[id] != RX_HELD)
        return;
    if (t->mshot && !t->closing) {
        br_give(t, id);
        arm_mshot(t);
        return;
    }
    if (t->closing || t->rx_errs >= RX_ERR_STOP) {
        t->rx_state[id] = RX_IDLE;
        t->rx_idle++;
        return;
    }
    arm_rx(t, id);
}

unsigned mpx_tun_poll(struct mpx_tun *t, mpx_tun_rx_fn fn, void *arg, unsigned max)
{
    struct mpx_tun_pkt pkt;
    unsigned n = 0;
    while ((max == 0 || n < max) && mpx_tun_rx_next(t, &pkt) == 1) {
        fn(arg, &pkt);
        mpx_tun_rx_release(t, pkt.id);
        n++;
    }
    return n;
}

uint8_t *mpx_tun_tx_buf(struct mpx_tun *t, uint32_t *id, size_t *cap)
{
    if (t->n_tx_free == 0) {
        t->st.tx_nobuf++;
        return NULL;
    }
    uint32_t i = t->tx_free[--t->n_tx_free];
    t->tx_state[i] = TX_LENT;
    *id = i;
    if (cap)
        *cap = t->buf_size;
    return slot_ptr(t, t->n_rx + i) + t->hdr;
}

void mpx_tun_tx_cancel(struct mpx_tun *t, uint32_t id)
{
    if (id >= t->n_tx || t->tx_state[id] != TX_LENT)
        return;
    t->tx_state[id] = TX_FREE;
    t->tx_free[t->n_tx_free++] = id;
}

int mpx_tun_tx_send(struct mpx_tun *t, uint32_t id, size_t len, const struct mpx_vnet_hdr *vh)
{
    if (id >= t->n_tx || t->tx_state[id] != TX_LENT || len == 0 || len > t->buf_size)
        return -EINVAL;
    if (t->closing)
        return -ESHUTDOWN;
    uint8_t *p = slot_ptr(t, t->n_rx + id);
    if (t->hdr) {
        struct mpx_vnet_hdr none = {0};
        mpx_vnet_hdr_encode(p, vh ? vh : &none);
    }
    struct io_uring_sqe *sqe = mpx_uloop_sqe(t->l);
    if (!sqe)
        return -EBUSY;
    t->tx_len[id] = (uint32_t)(len + t->hdr);
    prep_io(t, sqe, true, t->n_rx + id, t->tx_len[id]);
    io_uring_sqe_set_data64(sqe, mpx_uloop_ud(t->src, OP_WRITE, id));
    t->tx_state[id] = TX_INFLIGHT;
    t->tx_inflight++;
    return 0;
}

int mpx_tun_write(struct mpx_tun *t, const void *pkt, size_t len, const struct mpx_vnet_hdr *vh)
{
    uint32_t id;
    size_t cap;
    if (len > t->buf_size)
        return -EMSGSIZE;
    uint8_t *p = mpx_tun_tx_buf(t, &id, &cap);
    if (!p)
        return -ENOBUFS;
    memcpy(p, pkt, len);
    int ret = mpx_tun_tx_send(t, id, len, vh);
    if (ret < 0)
        mpx_tun_tx_cancel(t, id);
    return ret;
}

unsigned mpx_tun_tx_avail(const struct mpx_tun *t)
{
    return t->n_tx_free;
}

unsigned mpx_tun_inflight(const struct mpx_tun *t)
{
    return t->rx_inflight + t->tx_inflight;
}
