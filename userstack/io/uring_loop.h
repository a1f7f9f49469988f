/*
 * uring_loop.h - the one io_uring the engine daemon runs on.
 *
 * Several I/O sources (the TUN device, AF_UNIX sockets, timers) share one
 * ring. A source registers a completion handler and gets a small id; every
 * SQE it submits carries a typed user_data:
 *
 *   bits 63..48  source id (1..MPX_ULOOP_MAX_SRC; 0 is never handed out)
 *   bits 47..40  operation, the source's own enum (read, write, ...)
 *   bits 39..32  reserved, zero
 *   bits 31..0   index into the source's own table (a buffer, a connection)
 *
 * never a raw fd or pointer (style.md section 6). liburing's own internal
 * timeout SQEs use user_data ~0 (LIBURING_UDATA_TIMEOUT) and are filtered by
 * liburing itself; source id 0xffff is therefore never handed out either.
 *
 * mpx_uloop_run() is the whole loop step: flush the SQ, wait for at least
 * one CQE or the timeout (the core's next deadline), hand every ready CQE to
 * its source's handler, and advance the CQ once for the batch
 * (io_uring_cq_advance, as liburing's examples/echo-server.c does).
 * Handlers may queue new SQEs (mpx_uloop_sqe) but must not call
 * mpx_uloop_run() themselves.
 *
 * Registered ("fixed") buffers are a ring-wide table in io_uring, so the
 * loop owns it: it registers a sparse table at init and sources claim
 * ranges of it with mpx_uloop_buf_register(). If the kernel refuses (old
 * kernel, RLIMIT_MEMLOCK), sources fall back to plain READ/WRITE.
 *
 * Errors are liburing style: a negative errno. No globals; one loop per
 * thread (IORING_SETUP_SINGLE_ISSUER when the kernel has it).
 */
#ifndef MPX_URING_LOOP_H
#define MPX_URING_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include <liburing.h>

#define MPX_ULOOP_MAX_SRC   64 /* sources per loop; ids 1..64 */
#define MPX_ULOOP_SRC_SHIFT 48
#define MPX_ULOOP_OP_SHIFT  40

static inline uint64_t mpx_uloop_ud(uint16_t src, uint8_t op, uint32_t idx)
{
    return ((uint64_t)src << MPX_ULOOP_SRC_SHIFT) | ((uint64_t)op << MPX_ULOOP_OP_SHIFT) | idx;
}

static inline uint16_t mpx_uloop_ud_src(uint64_t ud)
{
    return (uint16_t)(ud >> MPX_ULOOP_SRC_SHIFT);
}

static inline uint8_t mpx_uloop_ud_op(uint64_t ud)
{
    return (uint8_t)(ud >> MPX_ULOOP_OP_SHIFT);
}

static inline uint32_t mpx_uloop_ud_idx(uint64_t ud)
{
    return (uint32_t)ud;
}

/* A completion for source |ctx|: its op and index from user_data, the
 * CQE's res (bytes or -errno) and flags (IORING_CQE_F_*). */
typedef void (*mpx_uloop_fn)(void *ctx, uint8_t op, uint32_t idx, int32_t res, uint32_t flags);

/* Opt-outs. By default the ring is set up with IORING_SETUP_SINGLE_ISSUER
 * | DEFER_TASKRUN (6.1), falling back to SINGLE_ISSUER | COOP_TASKRUN and
 * then to no flags when the kernel says EINVAL. */
#define MPX_ULOOP_F_NO_SINGLE_ISSUER 0x01u /* plain ring (several submitter threads) */
#define MPX_ULOOP_F_NO_FIXED_BUFS    0x02u /* do not register a sparse buffer table */

struct mpx_uloop_opts {
    unsigned sq_entries;   /* default 256 */
    unsigned cq_entries;   /* default 4 * sq_entries: in-flight reads + writes */
    unsigned n_fixed_bufs; /* sparse registered-buffer slots, default 1024 */
    unsigned flags;        /* MPX_ULOOP_F_* */
};

struct mpx_uloop_src {
    mpx_uloop_fn fn;
    void *ctx;
};

struct mpx_uloop_stats {
    uint64_t enters;     /* mpx_uloop_run calls that entered the kernel */
    uint64_t cqes;       /* CQEs dispatched */
    uint64_t cqes_stray; /* CQEs for no registered source (dropped) */
    uint64_t sq_full;    /* mpx_uloop_sqe had to submit to make room */
};

struct mpx_uloop {
    struct io_uring ring;
    unsigned setup_flags;                            /* IORING_SETUP_* actually in use */
    struct mpx_uloop_src src[MPX_ULOOP_MAX_SRC + 1]; /* [0] unused */
    unsigned n_fixed;    /* slots of the sparse buffer table, 0 = none */
    uint8_t *fixed_used; /* n_fixed flags: slot handed out */
    struct mpx_uloop_stats st;
};

/* Set up the ring. |o| may be NULL for defaults. */
int mpx_uloop_init(struct mpx_uloop *l, const struct mpx_uloop_opts *o);
/* Tear it down. Sources must have drained their in-flight operations. */
void mpx_uloop_free(struct mpx_uloop *l);

/* Register a source: returns its id (>= 1) or -ENOSPC. */
int mpx_uloop_src_add(struct mpx_uloop *l, mpx_uloop_fn fn, void *ctx);
void mpx_uloop_src_del(struct mpx_uloop *l, uint16_t id);

/* An SQE to fill, or NULL if the SQ is full even after submitting what is
 * queued (then the caller retries after the next mpx_uloop_run). The
 * caller must set user_data with mpx_uloop_ud(). */
struct io_uring_sqe *mpx_uloop_sqe(struct mpx_uloop *l);

/* Submit queued SQEs without waiting. Returns the number submitted or
 * -errno. */
int mpx_uloop_submit(struct mpx_uloop *l);

/*
 * One loop step: submit, wait until at least one CQE is ready or
 * |timeout_ns| passed (< 0: no timeout; 0: do not block), then dispatch
 * every ready CQE. Returns the number of CQEs dispatched (0 on timeout or
 * signal) or -errno.
 */
int mpx_uloop_run(struct mpx_uloop *l, int64_t timeout_ns);

/*
 * Claim |n| slots of the registered-buffer table and register |iov| there.
 * Returns the first slot index (the buf_index of READ_FIXED/WRITE_FIXED)
 * or -errno (-ENOSPC when no run of |n| free slots is left or the table
 * was never registered). First fit: pools are few and long-lived.
 */
int mpx_uloop_buf_register(struct mpx_uloop *l, const struct iovec *iov, unsigned n);
/* Unregister slots [first, first + n) (the memory may then be freed). */
int mpx_uloop_buf_unregister(struct mpx_uloop *l, unsigned first, unsigned n);

/* CLOCK_MONOTONIC in nanoseconds: the "now" handed to the core. */
uint64_t mpx_uloop_now_ns(void);

#endif /* MPX_URING_LOOP_H */
