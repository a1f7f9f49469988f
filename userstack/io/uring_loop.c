/*
 * uring_loop.c - see uring_loop.h.
 *
 * Written against liburing 2.3 (Debian 12), whose API we restrict ourselves
 * to: io_uring_submit_and_wait_timeout (which uses IORING_ENTER_EXT_ARG on
 * 5.11+ kernels instead of a timeout SQE), io_uring_register_buffers_sparse
 * and io_uring_register_buffers_update_tag (5.19+), io_uring_for_each_cqe +
 * io_uring_cq_advance.
 */
#include "uring_loop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEF_SQ    256
#define DEF_FIXED 1024

/* Try the cheapest ring flavour first: SINGLE_ISSUER + DEFER_TASKRUN runs
 * completion work only when we enter to wait, in our thread, which suits a
 * one-thread loop that always waits through mpx_uloop_run. */
static const unsigned setup_tries[] = {
    IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
    IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN,
    0,
};

static int ring_setup(struct mpx_uloop *l, unsigned sq, unsigned cq, unsigned flags)
{
    int ret = -EINVAL;
    for (size_t i = 0; i < sizeof(setup_tries) / sizeof(setup_tries[0]); i++) {
        unsigned f = setup_tries[i];
        if (f && (flags & MPX_ULOOP_F_NO_SINGLE_ISSUER))
            continue;
        struct io_uring_params p;
        memset(&p, 0, sizeof(p));
        p.flags = f | IORING_SETUP_CQSIZE;
        p.cq_entries = cq;
        ret = io_uring_queue_init_params(sq, &l->ring, &p);
        if (ret == 0) {
            l->setup_flags = f;
            return 0;
        }
        if (ret != -EINVAL)
            return ret;
    }
    return ret;
}

int mpx_uloop_init(struct mpx_uloop *l, const struct mpx_uloop_opts *o)
{
    struct mpx_uloop_opts d = {0};
    if (o)
        d = *o;
    if (!d.sq_entries)
        d.sq_entries = DEF_SQ;
    if (!d.cq_entries)
        d.cq_entries = 4 * d.sq_entries;
    if (d.cq_entries < d.sq_entries)
        return -EINVAL;
    if (!d.n_fixed_bufs)
        d.n_fixed_bufs = DEF_FIXED;

    memset(l, 0, sizeof(*l));
    int ret = ring_setup(l, d.sq_entries, d.cq_entries, d.flags);
    if (ret < 0)
        return ret;
    if (d.flags & MPX_ULOOP_F_NO_FIXED_BUFS)
        return 0;
    l->fixed_used = calloc(d.n_fixed_bufs, 1);
    if (!l->fixed_used) {
        io_uring_queue_exit(&l->ring);
        return -ENOMEM;
    }
    /* Failure (kernel < 5.19, memlock limit) only means no fixed buffers. */
    if (io_uring_register_buffers_sparse(&l->ring, d.n_fixed_bufs) == 0)
        l->n_fixed = d.n_fixed_bufs;
    return 0;
}

void mpx_uloop_free(struct mpx_uloop *l)
{
    if (!l)
        return;
    io_uring_queue_exit(&l->ring);
    free(l->fixed_used);
    memset(l, 0, sizeof(*l));
}

int mpx_uloop_src_add(struct mpx_uloop *l, mpx_uloop_fn fn, void *ctx)
{
    if (!fn)
        return -EINVAL;
    for (int i = 1; i <= MPX_ULOOP_MAX_SRC; i++) {
        if (!l->src[i].fn) {
            l->src[i].fn = fn;
            l->src[i].ctx = ctx;
            return i;
        }
    }
    return -ENOSPC;
}

void mpx_uloop_src_del(struct mpx_uloop *l, uint16_t id)
{
    if (id >= 1 && id <= MPX_ULOOP_MAX_SRC)
        memset(&l->src[id], 0, sizeof(l->src[id]));
}

struct io_uring_sqe *mpx_uloop_sqe(struct mpx_uloop *l)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&l->ring);
    if (sqe)
        return sqe;
    l->st.sq_full++;
    if (io_uring_submit(&l->ring) < 0)
        return NULL;
    return io_uring_get_sqe(&l->ring);
}

int mpx_uloop_submit(struct mpx_uloop *l)
{
    return io_uring_submit(&l->ring);
}

/* Hand every ready CQE to its source, then advance the CQ once. */
static int dispatch(struct mpx_uloop *l)
{
    struct io_uring_cqe *cqe;
    unsigned head, n = 0;

    io_uring_for_each_cqe(&l->ring, head, cqe)
    {
        uint64_t ud = cqe->user_data;
        uint16_t s = mpx_uloop_ud_src(ud);
        n++;
        if (s == 0 || s > MPX_ULOOP_MAX_SRC || !l->src[s].fn) {
            l->st.cqes_stray++;
            continue;
        }
        l->src[s].fn(l->src[s].ctx, mpx_uloop_ud_op(ud), mpx_uloop_ud_idx(ud), cqe->res,
                     cqe->flags);
    }
    io_uring_cq_advance(&l->ring, n);
    l->st.cqes += n;
    return (int)n;
}

int mpx_uloop_run(struct mpx_uloop *l, int64_t timeout_ns)
{
    struct io_uring_cqe *cqe = NULL;
    int ret;

    l->st.enters++;
    if (timeout_ns < 0) {
        ret = io_uring_submit_and_wait(&l->ring, 1);
    } else {
        struct __kernel_timespec ts = {
            .tv_sec = timeout_ns / 1000000000,
            .tv_nsec = timeout_ns % 1000000000,
        };
        ret = io_uring_submit_and_wait_timeout(&l->ring, &cqe, 1, &ts, NULL);
    }
    /* ETIME: deadline reached; EINTR: signal; EBUSY: CQ overflowed, which
     * draining below fixes. None of them is an error of the loop. */
    if (ret < 0 && ret != -ETIME && ret != -EINTR && ret != -EBUSY && ret != -EAGAIN)
        return ret;
    return dispatch(l);
}

int mpx_uloop_buf_register(struct mpx_uloop *l, const struct iovec *iov, unsigned n)
{
    unsigned first = 0, run = 0;
    if (n == 0)
        return -EINVAL;
    for (unsigned i = 0; i < l->n_fixed && run < n; i++) {
        if (l->fixed_used[i]) {
            run = 0;
            first = i + 1;
        } else {
            run++;
        }
    }
    if (run < n)
        return -ENOSPC;
    int ret = io_uring_register_buffers_update_tag(&l->ring, first, iov, NULL, n);
    if (ret < 0)
        return ret;
    if ((unsigned)ret != n)
        return -EIO;
    memset(l->fixed_used + first, 1, n);
    return (int)first;
}

int mpx_uloop_buf_unregister(struct mpx_uloop *l, unsigned first, unsigned n)
{
    struct iovec empty[32];
    memset(empty, 0, sizeof(empty));
    if (first + n > l->n_fixed)
        return -EINVAL;
    while (n > 0) {
        unsigned k = n < 32 ? n : 32;
        int ret = io_uring_register_buffers_update_tag(&l->ring, first, empty, NULL, k);
        if (ret < 0)
            return ret;
        memset(l->fixed_used + first, 0, k);
        first += k;
        n -= k;
    }
    return 0;
}

uint64_t mpx_uloop_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
