/*
 * tcp_sack.c - SACK (RFC 2018) on both sides.
 *
 * Sender: a scoreboard of the blocks the peer SACKed above snd_una, kept
 * sorted and merged, the RFC 6675 IsLost() boundary and NextSeg().
 * Receiver: the out-of-order ranges (their bytes live in the receive ring,
 * see tcp_buf.h) and SACK block generation, most recent first, with D-SACK
 * (RFC 2883) in the first block when a duplicate arrived.
 */
#include <string.h>

#include "tcp_int.h"

/* ---- sender scoreboard ------------------------------------------------- */

static uint32_t blk_len(const struct mpx_sack_block *b)
{
    return b->right - b->left;
}

static void sb_recount(struct mpx_tcp_conn *c)
{
    uint32_t sum = 0;
    for (unsigned i = 0; i < c->n_sb; i++)
        sum += blk_len(&c->sb[i]);
    c->sacked_bytes = sum;
    c->high_sacked = c->n_sb ? c->sb[c->n_sb - 1].right : c->snd_una;
}

void mpx_tcp_sb_clear(struct mpx_tcp_conn *c)
{
    c->n_sb = 0;
    sb_recount(c);
}

void mpx_tcp_sb_ack(struct mpx_tcp_conn *c)
{
    unsigned drop = 0;
    while (drop < c->n_sb && mpx_seq_leq(c->sb[drop].right, c->snd_una))
        drop++;
    if (drop) {
        memmove(c->sb, c->sb + drop, (c->n_sb - drop) * sizeof(c->sb[0]));
        c->n_sb = (uint16_t)(c->n_sb - drop);
    }
    if (c->n_sb && mpx_seq_lt(c->sb[0].left, c->snd_una))
        c->sb[0].left = c->snd_una;
    sb_recount(c);
}

/* Insert [l, r) merging with what it touches; returns bytes newly covered. */
static uint32_t sb_insert(struct mpx_tcp_conn *c, uint32_t l, uint32_t r)
{
    unsigned i = 0;
    while (i < c->n_sb && mpx_seq_lt(c->sb[i].right, l))
        i++;
    unsigned j = i; /* blocks i..j-1 overlap or touch [l, r) */
    uint32_t covered = 0;
    uint32_t nl = l, nr = r;
    while (j < c->n_sb && mpx_seq_leq(c->sb[j].left, r)) {
        uint32_t ol = mpx_seq_max(c->sb[j].left, l), or_ = mpx_seq_min(c->sb[j].right, r);
        if (mpx_seq_lt(ol, or_))
            covered += or_ - ol;
        nl = mpx_seq_min(nl, c->sb[j].left);
        nr = mpx_seq_max(nr, c->sb[j].right);
        j++;
    }
    if (j == i) { /* no merge: insert a new block at i */
        if (c->n_sb == MPX_TCP_SB_MAX) {
            c->mib.TCPSACKDiscard++;
            return 0;
        }
        memmove(c->sb + i + 1, c->sb + i, (c->n_sb - i) * sizeof(c->sb[0]));
        c->n_sb++;
    } else if (j > i + 1) {
        memmove(c->sb + i + 1, c->sb + j, (c->n_sb - j) * sizeof(c->sb[0]));
        c->n_sb = (uint16_t)(c->n_sb - (j - i - 1));
    }
    c->sb[i].left = nl;
    c->sb[i].right = nr;
    return (r - l) - covered;
}

/* RFC 2883 section 4: a first block below the cumulative ACK, or inside the
 * second block, reports a duplicate, not new data. */
static bool is_dsack(const struct mpx_tcp_opts *o, uint32_t ack)
{
    if (mpx_seq_leq(o->sack[0].right, ack))
        return true;
    return o->n_sack > 1 && mpx_seq_geq(o->sack[0].left, o->sack[1].left) &&
           mpx_seq_leq(o->sack[0].right, o->sack[1].right);
}

/* RFC 3708: a DSACK for data at or above where the last recovery began
 * reports a retransmission that was not needed: the original arrived
 * after all, late (reordering). Each one raises DupThresh by a segment
 * (Linux raises tp->reordering by the distance it measures), so that the
 * next reordering of that depth is not taken for a loss; when every
 * retransmission of that recovery proved needless, its window reduction
 * is undone (Linux tcp_try_undo_dsack). A DSACK that reports a duplicate
 * the network made is not told apart (RFC 3708 section 3.2 accepts
 * that). */
static void dsack_seen(struct mpx_tcp_conn *c, uint32_t l, uint32_t r)
{
    if (!c->undo_armed || !mpx_seq_lt(l, r) || mpx_seq_lt(l, c->undo_marker) ||
        mpx_seq_gt(r, c->snd_max))
        return;
    if (c->reordering < MPX_TCP_REORDER_MAX)
        c->reordering = mpx_tcp_dupthresh(c) + 1;
    uint32_t mss = c->cc.mss ? c->cc.mss : 536;
    uint32_t segs = (r - l + mss - 1) / mss;
    c->undo_retrans = c->undo_retrans > segs ? c->undo_retrans - segs : 0;
    if (!c->undo_retrans) {
        c->undo_armed = false;
        c->undo_due = true;
    }
}

uint32_t mpx_tcp_sb_update(struct mpx_tcp_conn *c, const struct mpx_tcp_hdr *th)
{
    const struct mpx_tcp_opts *o = &th->opts;
    uint32_t newly = 0;
    if (!c->sack_ok || !(o->present & MPX_TCPO_SACK) || o->n_sack == 0)
        return 0;
    for (unsigned i = 0; i < o->n_sack && i < MPX_TCP_MAX_SACK; i++) {
        uint32_t l = o->sack[i].left, r = o->sack[i].right;
        if (i == 0 && is_dsack(o, th->ack)) {
            c->mib.TCPDSACKRecv++;
            dsack_seen(c, l, r);
            continue;
        }
        /* RFC 2018: blocks must lie within what we sent. */
        if (!mpx_seq_lt(l, r) || mpx_seq_gt(r, c->snd_max) || mpx_seq_leq(r, c->snd_una) ||
            (uint32_t)(r - l) > (uint32_t)(c->snd_max - c->snd_una)) {
            c->mib.TCPSACKDiscard++;
            continue;
        }
        if (mpx_seq_lt(l, c->snd_una))
            l = c->snd_una;
        newly += sb_insert(c, l, r);
    }
    sb_recount(c);
    return newly;
}

uint32_t mpx_tcp_sb_sacked_below(const struct mpx_tcp_conn *c, uint32_t seq)
{
    uint32_t sum = 0;
    for (unsigned i = 0; i < c->n_sb; i++) {
        const struct mpx_sack_block *b = &c->sb[i];
        if (mpx_seq_geq(b->left, seq))
            break;
        sum += mpx_seq_lt(b->right, seq) ? blk_len(b) : seq - b->left;
    }
    return sum;
}

const struct mpx_sack_block *mpx_tcp_sb_next(const struct mpx_tcp_conn *c, uint32_t seq)
{
    for (unsigned i = 0; i < c->n_sb; i++)
        if (mpx_seq_gt(c->sb[i].right, seq))
            return &c->sb[i];
    return NULL;
}

/*
 * RFC 6675 IsLost(SeqNum): DupThresh discontiguous SACKed blocks, or more
 * than (DupThresh - 1) * SMSS bytes SACKed, above it. Both counts only grow
 * as SeqNum goes down, so "lost" is everything unSACKed below one edge.
 * While in recovery the first unacknowledged segment counts as lost too
 * (the fast retransmit of RFC 5681 step 2, NewReno-like on partial ACKs).
 */
void mpx_tcp_sb_update_lost(struct mpx_tcp_conn *c)
{
    uint32_t thresh = mpx_tcp_dupthresh(c);
    uint32_t bytes = 0, limit = (thresh - 1) * c->cc.mss;
    unsigned count = 0;
    c->lost_edge = c->snd_una;
    for (unsigned i = c->n_sb; i-- > 0;) {
        bytes += blk_len(&c->sb[i]);
        count++;
        if (bytes > limit || count >= thresh) {
            c->lost_edge = c->sb[i].left;
            break;
        }
    }
    if (c->ca_state == MPX_TCP_CA_RECOVERY && mpx_seq_leq(c->lost_edge, c->snd_una))
        c->lost_edge = c->snd_una + 1;
}

/* First unSACKed sequence at or after |seq| and the end of that hole. */
static uint32_t hole_at(const struct mpx_tcp_conn *c, uint32_t seq, uint32_t *hole_end)
{
    *hole_end = c->snd_max;
    for (unsigned i = 0; i < c->n_sb; i++) {
        const struct mpx_sack_block *b = &c->sb[i];
        if (mpx_seq_leq(b->right, seq))
            continue;
        if (mpx_seq_leq(b->left, seq)) {
            seq = b->right;
            continue;
        }
        *hole_end = b->left;
        break;
    }
    return seq;
}

bool mpx_tcp_sb_next_seg(struct mpx_tcp_conn *c, uint32_t mss, uint32_t *seq, uint32_t *len,
                         bool new_data_ok)
{
    uint32_t end, s = hole_at(c, mpx_seq_max(c->high_rxt, c->snd_una), &end);
    bool unsent = mpx_seq_lt(s, c->snd_max);
    /* Rule 1: lost and above HighRxt. */
    if (unsent && mpx_seq_lt(s, c->lost_edge)) {
        *seq = s;
        *len = mpx_seq_min(end - s, mss);
        return true;
    }
    if (new_data_ok) /* rule 2 is the caller's: new data */
        return false;
    /* Rule 3: unSACKed, above HighRxt, below the highest SACKed. */
    if (unsent && c->n_sb && mpx_seq_lt(s, c->high_sacked)) {
        *seq = s;
        *len = mpx_seq_min(end - s, mss);
        return true;
    }
    /* Rule 4: one rescue retransmission per recovery of the tail. */
    if (!c->rescue_valid || mpx_seq_gt(c->snd_una, c->rescue_rxt)) {
        uint32_t hi = c->snd_max;
        if (c->n_sb && c->sb[c->n_sb - 1].right == hi)
            hi = c->sb[c->n_sb - 1].left;
        if (c->shut_wr && c->fin_sent && hi == c->fin_seq + 1)
            hi = c->fin_seq; /* the FIN goes with the data below it */
        if (mpx_seq_leq(hi, c->snd_una))
            return false;
        *seq = mpx_seq_max(c->snd_una, hi - mpx_seq_min(mss, hi - c->snd_una));
        *len = hi - *seq;
        c->rescue_rxt = c->recover;
        c->rescue_valid = true;
        c->mib.TCPRescueRetrans++;
        return true;
    }
    return false;
}

/* ---- receiver: out-of-order ranges and SACK generation ----------------- */

bool mpx_tcp_ooo_add(struct mpx_tcp_conn *c, uint32_t s, uint32_t e, bool *dup)
{
    unsigned i = 0, j;
    *dup = false;
    while (i < c->n_ooo && mpx_seq_lt(c->ooo[i].end, s))
        i++;
    if (i < c->n_ooo && mpx_seq_leq(c->ooo[i].start, s) && mpx_seq_geq(c->ooo[i].end, e)) {
        *dup = true;
        c->ooo[i].stamp = ++c->ooo_stamp;
        return true;
    }
    uint32_t ns = s, ne = e;
    for (j = i; j < c->n_ooo && mpx_seq_leq(c->ooo[j].start, e); j++) {
        ns = mpx_seq_min(ns, c->ooo[j].start);
        ne = mpx_seq_max(ne, c->ooo[j].end);
    }
    if (j == i) {
        uint16_t limit = c->cfg.ooo_max_ranges;
        if (limit > MPX_TCP_OOO_MAX || limit == 0)
            limit = MPX_TCP_OOO_MAX;
        if (c->n_ooo >= limit)
            return false;
        memmove(c->ooo + i + 1, c->ooo + i, (c->n_ooo - i) * sizeof(c->ooo[0]));
        c->n_ooo++;
    } else {
        if (j > i + 1) {
            memmove(c->ooo + i + 1, c->ooo + j, (c->n_ooo - j) * sizeof(c->ooo[0]));
            c->n_ooo = (uint16_t)(c->n_ooo - (j - i - 1));
        }
        c->mib.TCPOFOMerge++;
    }
    c->ooo[i].start = ns;
    c->ooo[i].end = ne;
    c->ooo[i].stamp = ++c->ooo_stamp;
    return true;
}

uint32_t mpx_tcp_ooo_advance(struct mpx_tcp_conn *c, uint32_t rcv_nxt)
{
    unsigned k = 0;
    while (k < c->n_ooo && mpx_seq_leq(c->ooo[k].start, rcv_nxt)) {
        rcv_nxt = mpx_seq_max(rcv_nxt, c->ooo[k].end);
        k++;
    }
    if (k) {
        memmove(c->ooo, c->ooo + k, (c->n_ooo - k) * sizeof(c->ooo[0]));
        c->n_ooo = (uint16_t)(c->n_ooo - k);
    }
    return rcv_nxt;
}

void mpx_tcp_sack_fill(struct mpx_tcp_conn *c, struct mpx_tcp_opts *o, unsigned max)
{
    unsigned n = 0;
    uint64_t used = 0; /* bitmap of ranges already reported (first 64) */
    if (max > MPX_TCP_MAX_SACK)
        max = MPX_TCP_MAX_SACK;
    if (c->dsack_pending && n < max) {
        o->sack[n++] = c->dsack;
        c->dsack_pending = false;
    }
    while (n < max) {
        int best = -1;
        for (unsigned i = 0; i < c->n_ooo; i++)
            if (!(used >> i & 1) && (best < 0 || c->ooo[i].stamp > c->ooo[best].stamp))
                best = (int)i;
        if (best < 0)
            break;
        used |= 1ull << best;
        o->sack[n].left = c->ooo[best].start;
        o->sack[n].right = c->ooo[best].end;
        n++;
    }
    o->n_sack = (uint8_t)n;
    if (n)
        o->present |= MPX_TCPO_SACK;
}
