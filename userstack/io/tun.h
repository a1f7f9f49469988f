/*
 * tun.h - TUN device packet I/O on the engine's io_uring (uring_loop.h).
 *
 * The device is an L3 TUN (IFF_TUN | IFF_NO_PI): each read returns one IP
 * packet, each write sends one. With MPX_TUN_F_VNET_HDR every packet is
 * prefixed by a struct mpx_vnet_hdr (vnet.h), which is what makes
 * segmentation offload possible (one write per 64 KB TCP super-segment;
 * lab.md measured 103 Gbit/s that way against 7 Gbit/s for 1500-byte
 * packets). IFF_VNET_HDR can only be chosen when the fd is attached, so it
 * is an open flag; the offloads themselves (TUNSETOFFLOAD) can be switched
 * at any time with mpx_tun_set_offload().
 *
 * I/O model (shim.md section 1.7): a pool of packet buffers, registered
 * with io_uring as one fixed buffer when the loop allows it.
 *  - Receive: where the kernel has it (Linux 6.7), ONE multishot read
 *    (IORING_OP_READ_MULTISHOT) over a provided-buffer ring holding the
 *    n_rx receive buffers; else n_rx reads (READ_FIXED) in flight, one per
 *    buffer. Several reads in flight on one TUN reorder packets under
 *    load: a packet wakes every armed read, the losers get -EAGAIN a
 *    second time and io_uring punts them to io-wq workers, which dequeue
 *    packets in order but may post their completions in any order (seen
 *    as 64 KB GSO segments overtaking each other, the kernel sender then
 *    recovering by RTO). The multishot read posts its completions in
 *    dequeue order. A completed read is queued; the owner takes packets with
 *    mpx_tun_rx_next() (zero-copy: the buffer stays the owner's) and gives
 *    each back with mpx_tun_rx_release(), which re-arms its read, or uses
 *    mpx_tun_poll() which does both around a callback. Re-armed reads are
 *    only queued in the SQ; the next mpx_uloop_run() submits them in one
 *    batch with everything else.
 *  - n_tx transmit buffers: mpx_tun_tx_buf() lends one, mpx_tun_tx_send()
 *    queues its WRITE_FIXED; the buffer comes back to the free list when
 *    the write completes. mpx_tun_write() is the copying shortcut.
 * Completions arrive through the loop; the TUN never calls into the
 * engine core by itself. After 64 read errors in a row (device deleted)
 * the TUN stops re-arming reads; mpx_tun_stats()->last_err says why.
 *
 * The fd is not O_NONBLOCK by default: io_uring arms its own poll on a
 * TUN (FMODE_NOWAIT since Linux 6.4), and an O_NONBLOCK file made older
 * kernels complete reads with -EAGAIN (liburing#364). MPX_TUN_F_NONBLOCK
 * sets it anyway for owners that also read() the fd directly; the backend
 * re-arms a read that completes with -EAGAIN.
 *
 * Errors: negative errno. No globals; not thread-safe (one loop thread).
 */
#ifndef MPX_TUN_H
#define MPX_TUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "uring_loop.h"
#include "vnet.h"

#define MPX_TUN_F_ATTACH   0x01u /* attach to an existing (persistent) device, -ENODEV if none */
#define MPX_TUN_F_VNET_HDR 0x02u /* IFF_VNET_HDR: every packet has a struct mpx_vnet_hdr */
#define MPX_TUN_F_UP       0x04u /* set the link up after opening */
#define MPX_TUN_F_NONBLOCK 0x08u /* O_NONBLOCK on the fd (see above) */
#define MPX_TUN_F_NO_FIXED 0x10u /* plain READ/WRITE, no registered buffers */
#define MPX_TUN_F_NO_MSHOT 0x20u /* one read per buffer even where multishot exists */
/* IFF_NAPI (Linux 4.15, CAP_NET_ADMIN): what we write is queued to a NAPI
 * instance of the TUN queue and received through GRO, instead of going
 * straight into netif_receive_skb in our write. This is not segmentation
 * offload: we still write one 1500-byte packet at a time, the kernel merges
 * consecutive segments of a flow back into super segments, and the
 * forwarding behind the TUN (routing, veth, the routers) then runs once
 * per merged skb; the TUN on the far end cuts them again before its engine
 * reads them. GRO merges only what one NAPI poll sees, and a write(2) to a
 * TUN never says MSG_MORE, so each write polls by itself and nothing is
 * merged unless the poll runs in its own thread: see
 * mpx_tun_set_napi_threaded(). */
#define MPX_TUN_F_NAPI 0x40u

/* Offloads for mpx_tun_set_offload: the values of linux/if_tun.h TUN_F_*. */
#define MPX_TUN_OFF_CSUM    0x01u /* we accept partial checksums (NEEDS_CSUM) */
#define MPX_TUN_OFF_TSO4    0x02u /* the kernel may give us GRO'd TCPv4 super-segments */
#define MPX_TUN_OFF_TSO6    0x04u
#define MPX_TUN_OFF_TSO_ECN 0x08u
#define MPX_TUN_OFF_USO4    0x20u /* Linux 6.2 */
#define MPX_TUN_OFF_USO6    0x40u

#define MPX_TUN_NAME_MAX 16 /* IFNAMSIZ, with the NUL */

struct mpx_tun_opts {
    const char *name;  /* NULL or "": the kernel picks tunN */
    unsigned flags;    /* MPX_TUN_F_* */
    unsigned mtu;      /* 0: leave it */
    unsigned offload;  /* MPX_TUN_OFF_*, needs MPX_TUN_F_VNET_HDR */
    unsigned n_rx;     /* reads in flight, default 256 (32 with VNET_HDR) */
    unsigned n_tx;     /* transmit buffers, default 256 (64 with VNET_HDR) */
    unsigned buf_size; /* packet bytes per buffer (vnet header not included);
                        * default 65535 with VNET_HDR, else 2048 or the MTU */
};

/* A received packet, lent to the owner until mpx_tun_rx_release(id). */
struct mpx_tun_pkt {
    uint8_t *data; /* the IP packet */
    size_t len;
    struct mpx_vnet_hdr vnet; /* all zero without MPX_TUN_F_VNET_HDR */
    uint32_t id;
};

struct mpx_tun_stats {
    uint64_t rx_pkts, rx_bytes;
    uint64_t rx_err;        /* reads that completed with an error */
    uint64_t rx_short;      /* reads shorter than the vnet header */
    uint64_t rx_trunc;      /* packets longer than buf_size, dropped */
    uint64_t rx_again;      /* reads that completed with -EAGAIN (O_NONBLOCK fd), re-armed */
    uint64_t rx_rearm_fail; /* SQ full when re-arming (retried later) */
    uint64_t tx_pkts, tx_bytes;
    uint64_t tx_err;    /* writes that failed or were partial */
    uint64_t tx_nobuf;  /* mpx_tun_tx_buf found no free buffer */
    int last_err;       /* last -errno seen on the fd */
    uint64_t rx_nobufs; /* multishot read stopped: every receive buffer was lent out */
    int rx_multishot;   /* 1: receiving with one multishot read, 0: a read per buffer */
};

struct mpx_tun;

/* Open (or attach to) a TUN and queue its reads on |l|. */
int mpx_tun_open(struct mpx_tun **out, struct mpx_uloop *l, const struct mpx_tun_opts *o);
/*
 * Wrap a TUN fd opened elsewhere (a privileged launcher passing it over
 * SCM_RIGHTS; unit tests pass a SOCK_SEQPACKET socket, which frames packets
 * the same way). The fd must match MPX_TUN_F_VNET_HDR in |o|; ATTACH, UP,
 * NONBLOCK and mtu are refused (-EINVAL): the device is the opener's
 * business. |o->name| is only recorded. On success the fd belongs to the
 * TUN object and mpx_tun_close() closes it; on failure it stays the
 * caller's.
 */
int mpx_tun_open_fd(struct mpx_tun **out, struct mpx_uloop *l, int fd,
                    const struct mpx_tun_opts *o);
/* Cancel and drain the TUN's in-flight operations (running |l| for them,
 * which also dispatches other sources' completions, so never call it from
 * inside a loop handler), then free. NULL is a no-op. A non-persistent
 * device disappears with its last fd. */
void mpx_tun_close(struct mpx_tun *t);

int mpx_tun_fd(const struct mpx_tun *t);
const char *mpx_tun_name(const struct mpx_tun *t);
int mpx_tun_ifindex(const struct mpx_tun *t);
unsigned mpx_tun_hdr_len(const struct mpx_tun *t); /* 0 or MPX_VNET_HDR_LEN */
size_t mpx_tun_buf_size(const struct mpx_tun *t);  /* max packet bytes per buffer */
const struct mpx_tun_stats *mpx_tun_stats(const struct mpx_tun *t);

int mpx_tun_set_mtu(struct mpx_tun *t, unsigned mtu);
/* The interface MTU now (SIOCGIFMTU), or -errno. */
int mpx_tun_get_mtu(const struct mpx_tun *t);
int mpx_tun_set_up(struct mpx_tun *t, bool up);
/* Threaded NAPI for the device (/sys/class/net/NAME/threaded, Linux 5.12):
 * with MPX_TUN_F_NAPI our writes only queue packets and wake the device's
 * NAPI kthread, which polls a whole batch through GRO (and forwards the
 * result) on whichever CPU is free. Device-wide, needs a NAPI instance
 * (MPX_TUN_F_NAPI) to exist. 0 or -errno (-ENOENT: the sysfs mounted here
 * belongs to another namespace). */
int mpx_tun_set_napi_threaded(struct mpx_tun *t, bool on);
/* TUNSETOFFLOAD; -EINVAL without MPX_TUN_F_VNET_HDR. */
int mpx_tun_set_offload(struct mpx_tun *t, unsigned offload);

/* Next received packet: 1 and |*pkt| filled, or 0 when none is queued. */
int mpx_tun_rx_next(struct mpx_tun *t, struct mpx_tun_pkt *pkt);
/* Give buffer |id| back and queue its read again. */
void mpx_tun_rx_release(struct mpx_tun *t, uint32_t id);

typedef void (*mpx_tun_rx_fn)(void *arg, struct mpx_tun_pkt *pkt);
/* Deliver up to |max| queued packets (0: all) to |fn|, releasing each
 * buffer after |fn| returns. Returns the number delivered. */
unsigned mpx_tun_poll(struct mpx_tun *t, mpx_tun_rx_fn fn, void *arg, unsigned max);

/* Lend a transmit buffer: returns where the IP packet goes (|*cap| bytes
 * at most) and its id, or NULL when all are in flight. */
uint8_t *mpx_tun_tx_buf(struct mpx_tun *t, uint32_t *id, size_t *cap);
/* Queue the write of |len| bytes of buffer |id| (with |vh| as vnet header
 * when the TUN has them; NULL means no offload). On error the buffer stays
 * the caller's: -EINVAL bad id/len, -EBUSY SQ full (retry after a run). */
int mpx_tun_tx_send(struct mpx_tun *t, uint32_t id, size_t len, const struct mpx_vnet_hdr *vh);
/* Give back a lent buffer without sending it. */
void mpx_tun_tx_cancel(struct mpx_tun *t, uint32_t id);
/* Copy |pkt| into a transmit buffer and queue it: 0, -ENOBUFS, -EMSGSIZE,
 * -EBUSY. */
int mpx_tun_write(struct mpx_tun *t, const void *pkt, size_t len, const struct mpx_vnet_hdr *vh);
/* Transmit buffers free right now. */
unsigned mpx_tun_tx_avail(const struct mpx_tun *t);
/* Reads and writes submitted or queued and not yet completed. */
unsigned mpx_tun_inflight(const struct mpx_tun *t);

#endif /* MPX_TUN_H */
