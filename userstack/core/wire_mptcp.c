/*
 * wire_mptcp.c - codec of the MPTCP option (TCP option kind 30): RFC 8684
 * section 3 and draft-baerts-tcpm-mptcpext-00 (E-mode MP_CAPABLE, K bits,
 * NEW_KEY). The contract is in wire_mptcp.h; the project's reading of the
 * draft's figures is in docs/draft-interpretation.md ("Codec choices").
 *
 * Every decoder receives the option bytes |p| and the option length |olen|
 * (p[1], already checked to be >= 3 and within the buffer), decides the
 * form from the length (and TCP flags where RFC 8684 or the draft make the
 * form depend on them) before reading any field, and so never reads past
 * |olen|. Every encoder is called only after mpx_mptcp_len() has validated the
 * struct and the caller has checked the buffer size.
 */
#include <assert.h>
#include <string.h>

#include "conv.h"
#include "err.h"
#include "wire_mptcp.h"
#include "wire_ip.h" /* wire_tcp.h uses struct mpx_ip_hdr without including it */
#include "wire_tcp.h"

/* Byte 2: subtype in the high nibble; the low nibble is per-subtype. */
#define SUBTYPE_SHIFT 4
#define LOW_NIBBLE    0x0f

#define MPC_VERSION_MASK 0x0f
/* Linux MPTCP_CAP_FLAG_MASK is 0x1f (D..H); E is a capability here (NOTES
 * D2), so the algorithm bits are D, F, G and H. */
#define MPC_ALGO_MASK (MPX_MPC_F_D | MPX_MPC_F_F | MPX_MPC_F_G | MPX_MPC_F_H)

#define MPJ_F_BACKUP 0x01 /* byte 2, SYN and SYN/ACK (RFC 8684 section 3.2) */
#define MPJ_F_K      0x02 /* byte 2, draft figure "modified MP_JOIN" (D21) */
#define MPJ_HMAC_LEN 20

#define DSS_FLAG_MASK 0x1f /* byte 3: 3 reserved bits, then F m M a A */
#define DSS_ACK32_LEN 4
#define DSS_ACK64_LEN 8
#define DSS_MAP32_LEN 10 /* DSN 4, SSN 4, DLL 2 */
#define DSS_MAP64_LEN 14
#define DSS_CSUM_LEN  2

#define ADD_ADDR_F_ECHO 0x01 /* byte 2, RFC 8684 section 3.4.1 */
#define ADD_ADDR_F_K    0x02 /* byte 2, draft figure "modified ADD_ADDR" */
#define ADD_ADDR_BASE   4    /* kind, length, subtype|flags, address id */
#define ADD_ADDR_PORT   2
#define ADD_ADDR_HMAC   8

#define PRIO_F_BACKUP 0x01
#define FASTCLOSE_F_K 0x01 /* byte 2, draft figure "modified MP_FASTCLOSE" */
#define NEW_KEY_F_K   0x01 /* byte 2, draft figure "The NEW_KEY option" */
#define TCPRST_F_MASK 0x0f /* U V W T */

static uint8_t byte2(enum mpx_mptcp_subtype st, uint8_t low)
{
    return (uint8_t)((unsigned)st << SUBTYPE_SHIFT | (low & LOW_NIBBLE));
}

/* ---- MP_CAPABLE (RFC 8684 section 3.1, draft section 4.1) ------------- */

/*
 * The form comes from the TCP flags, as in Linux mptcp_parse_option():
 * SYN without ACK is the SYN form, SYN+ACK the SYN/ACK form, anything else
 * the third-ACK form. The E flag then selects the draft's token layout
 * (NOTES D6), and the length must be one of that form's (D5: a length that
 * does not fit the E flag is malformed).
 */
static bool mpc_len_valid(enum mpx_hs_form form, bool e, size_t olen)
{
    size_t ack = e ? MPX_TCPOLEN_MPC_E_ACK : MPX_TCPOLEN_MPC_ACK;

    switch (form) {
    case MPX_FORM_SYN:
        return olen == MPX_TCPOLEN_MPC_SYN;
    case MPX_FORM_SYNACK:
        return olen == (e ? MPX_TCPOLEN_MPC_E_SYNACK : MPX_TCPOLEN_MPC_SYNACK);
    case MPX_FORM_ACK:
        /* ACK, ACK + DLL, ACK + DLL + checksum. Whether the segment has
         * payload (Linux: DLL iff payload) is the protocol layer's check. */
        return olen == ack || olen == ack + 2 || olen == ack + 4;
    }
    return false;
}

static enum mpx_hs_form form_of(uint8_t tcp_flags)
{
    if (!(tcp_flags & MPX_TH_SYN))
        return MPX_FORM_ACK;
    return (tcp_flags & MPX_TH_ACK) ? MPX_FORM_SYNACK : MPX_FORM_SYN;
}

static int decode_mpc(const uint8_t *p, size_t olen, uint8_t tcp_flags, struct mpx_opt_mpc *m)
{
    const uint8_t *q = p + 4;
    size_t fixed;
    bool e;

    if (olen < MPX_TCPOLEN_MPC_SYN)
        return MPX_ERR_PROTO;
    m->form = form_of(tcp_flags);
    m->version = p[2] & MPC_VERSION_MASK;
    m->flags = p[3];
    e = (m->flags & MPX_MPC_F_E) != 0;
    if (!mpc_len_valid(m->form, e, olen)) {
        /* RFC 8684 section 3.1: B = 1 announces an extended format that
         * we cannot frame; the option is ignored, not malformed. */
        return (m->flags & MPX_MPC_F_B) ? MPX_ERR_IGNORED : MPX_ERR_PROTO;
    }
    if (m->form == MPX_FORM_SYN)
        return 0;
    if (e) {
        q = mpx_get_be32(&m->snd_token, q);
        if (m->form == MPX_FORM_ACK)
            q = mpx_get_be32(&m->rcv_token, q);
    } else {
        q = mpx_get_be64(&m->snd_key, q);
        if (m->form == MPX_FORM_ACK)
            q = mpx_get_be64(&m->rcv_key, q);
    }
    fixed = (size_t)(q - p);
    if (olen >= fixed + 2) {
        m->has_dll = true;
        q = mpx_get_be16(&m->dll, q);
    }
    if (olen == fixed + 4) {
        m->has_csum = true;
        q = mpx_get_be16(&m->csum, q);
    }
    return (size_t)(q - p) == olen ? 0 : MPX_ERR_PROTO;
}

static int mpc_len(const struct mpx_opt_mpc *m)
{
    bool e = (m->flags & MPX_MPC_F_E) != 0;
    int len;

    if (m->version > MPC_VERSION_MASK)
        return MPX_ERR_INVAL;
    if (m->has_csum && !m->has_dll)
        return MPX_ERR_INVAL;
    switch (m->form) {
    case MPX_FORM_SYN:
        return m->has_dll ? MPX_ERR_INVAL : MPX_TCPOLEN_MPC_SYN;
    case MPX_FORM_SYNACK:
        if (m->has_dll)
            return MPX_ERR_INVAL;
        return e ? MPX_TCPOLEN_MPC_E_SYNACK : MPX_TCPOLEN_MPC_SYNACK;
    case MPX_FORM_ACK:
        len = e ? MPX_TCPOLEN_MPC_E_ACK : MPX_TCPOLEN_MPC_ACK;
        return len + (m->has_dll ? 2 : 0) + (m->has_csum ? 2 : 0);
    }
    return MPX_ERR_INVAL;
}

static uint8_t *encode_mpc(uint8_t *q, const struct mpx_opt_mpc *m)
{
    bool e = (m->flags & MPX_MPC_F_E) != 0;

    q = mpx_put_u8(q, byte2(MPX_MPTCP_SUB_CAPABLE, m->version));
    q = mpx_put_u8(q, m->flags);
    if (m->form == MPX_FORM_SYN)
        return q;
    if (e) {
        q = mpx_put_be32(q, m->snd_token);
        if (m->form == MPX_FORM_ACK)
            q = mpx_put_be32(q, m->rcv_token);
    } else {
        q = mpx_put_be64(q, m->snd_key);
        if (m->form == MPX_FORM_ACK)
            q = mpx_put_be64(q, m->rcv_key);
    }
    if (m->has_dll)
        q = mpx_put_be16(q, m->dll);
    if (m->has_csum)
        q = mpx_put_be16(q, m->csum);
    return q;
}

bool mpx_mptcp_mpc_acceptable(const struct mpx_opt_mpc *m, bool ext_enabled)
{
    /* Linux: "try to be gentle vs future versions on the initial syn". */
    if (m->form == MPX_FORM_SYN ? m->version < MPX_MPC_VERSION : m->version != MPX_MPC_VERSION)
        return false;
    if (m->flags & MPX_MPC_F_B)
        return false;
    if ((m->flags & MPC_ALGO_MASK) != MPX_MPC_F_H)
        return false;
    /* An E SYN is fine without local support: the answer is RFC 8684
     * (draft section 4.1). E in an answer we did not ask for is D5. */
    if ((m->flags & MPX_MPC_F_E) && m->form != MPX_FORM_SYN && !ext_enabled)
        return false;
    return true;
}

/* ---- MP_JOIN (RFC 8684 section 3.2, draft section 4.3) ---------------- */

static int join_len(const struct mpx_opt_join *j)
{
    switch (j->form) {
    case MPX_FORM_SYN:
        return MPX_TCPOLEN_MPJ_SYN;
    case MPX_FORM_SYNACK:
        return MPX_TCPOLEN_MPJ_SYNACK;
    case MPX_FORM_ACK:
        return MPX_TCPOLEN_MPJ_ACK;
    }
    return MPX_ERR_INVAL;
}

static int decode_join(const uint8_t *p, size_t olen, uint8_t tcp_flags, struct mpx_opt_join *j)
{
    const uint8_t *q = p + 4;

    /* Linux picks the form from the length alone and leaves the segment
     * check to the subflow code; checking both here means a decoded form
     * is always the one the segment can carry. */
    j->form = form_of(tcp_flags);
    if (olen != (size_t)join_len(j))
        return MPX_ERR_PROTO;
    /* The draft draws K (0x02) only in the SYN; the SYN/ACK and ACK echo it
     * at the same position (NOTES D21), inside RFC 8684's reserved bits. */
    j->key_id = (p[2] & MPJ_F_K) != 0;
    switch (j->form) {
    case MPX_FORM_SYN:
        j->backup = (p[2] & MPJ_F_BACKUP) != 0;
        j->addr_id = p[3];
        q = mpx_get_be32(&j->token, q);
        q = mpx_get_be32(&j->nonce, q);
        break;
    case MPX_FORM_SYNACK:
        j->backup = (p[2] & MPJ_F_BACKUP) != 0;
        j->addr_id = p[3];
        q = mpx_get_be64(&j->thmac, q);
        q = mpx_get_be32(&j->nonce, q);
        break;
    case MPX_FORM_ACK:
        /* Byte 2 low bits other than K and byte 3 are reserved. */
        q = mpx_get_bytes(j->hmac, q, MPJ_HMAC_LEN);
        break;
    }
    return (size_t)(q - p) == olen ? 0 : MPX_ERR_PROTO;
}

static uint8_t *encode_join(uint8_t *q, const struct mpx_opt_join *j)
{
    uint8_t low = j->key_id ? MPJ_F_K : 0;

    if (j->form == MPX_FORM_ACK) {
        q = mpx_put_u8(q, byte2(MPX_MPTCP_SUB_JOIN, low));
        q = mpx_put_u8(q, 0);
        return mpx_put_bytes(q, j->hmac, MPJ_HMAC_LEN);
    }
    low |= j->backup ? MPJ_F_BACKUP : 0;
    q = mpx_put_u8(q, byte2(MPX_MPTCP_SUB_JOIN, low));
    q = mpx_put_u8(q, j->addr_id);
    if (j->form == MPX_FORM_SYN) {
        q = mpx_put_be32(q, j->token);
        return mpx_put_be32(q, j->nonce);
    }
    q = mpx_put_be64(q, j->thmac);
    return mpx_put_be32(q, j->nonce);
}

/* ---- DSS (RFC 8684 section 3.3) --------------------------------------- */

static size_t dss_len_nocsum(const struct mpx_opt_dss *d)
{
    size_t len = MPX_TCPOLEN_DSS_BASE;

    if (d->has_ack)
        len += d->ack64 ? DSS_ACK64_LEN : DSS_ACK32_LEN;
    if (d->has_map)
        len += d->dsn64 ? DSS_MAP64_LEN : DSS_MAP32_LEN;
    return len;
}

static int decode_dss(const uint8_t *p, size_t olen, struct mpx_opt_dss *d)
{
    const uint8_t *q = p + 4;
    uint8_t flags;
    size_t exp;
    uint32_t v32;

    if (olen < MPX_TCPOLEN_DSS_BASE)
        return MPX_ERR_PROTO;
    /* Linux masks the flags with 0x1f; a (m) only sizes the DATA_ACK (DSN)
     * when A (M) is set, so alone it has no effect: we drop it. */
    flags = p[3] & DSS_FLAG_MASK;
    d->data_fin = (flags & MPX_DSS_F_DATA_FIN) != 0;
    d->has_ack = (flags & MPX_DSS_F_ACK) != 0;
    d->ack64 = d->has_ack && (flags & MPX_DSS_F_ACK64);
    d->has_map = (flags & MPX_DSS_F_MAP) != 0;
    d->dsn64 = d->has_map && (flags & MPX_DSS_F_DSN64);
    exp = dss_len_nocsum(d);
    /* "Always parse any csum presence combination" (Linux): whether a
     * checksum was negotiated is checked by the protocol layer. */
    if (olen != exp && olen != exp + DSS_CSUM_LEN)
        return MPX_ERR_PROTO;
    if (d->has_ack) {
        if (d->ack64) {
            q = mpx_get_be64(&d->data_ack, q);
        } else {
            q = mpx_get_be32(&v32, q);
            d->data_ack = v32;
        }
    }
    if (d->has_map) {
        if (d->dsn64) {
            q = mpx_get_be64(&d->dsn, q);
        } else {
            q = mpx_get_be32(&v32, q);
            d->dsn = v32;
        }
        q = mpx_get_be32(&d->ssn, q);
        q = mpx_get_be16(&d->dll, q);
        if (olen == exp + DSS_CSUM_LEN) {
            d->has_csum = true;
            q = mpx_get_be16(&d->csum, q);
        }
    } else if (olen == exp + DSS_CSUM_LEN) {
        /* A checksum belongs to a mapping; Linux accepts the length and
         * never reads these two bytes. */
        q += DSS_CSUM_LEN;
    }
    return (size_t)(q - p) == olen ? 0 : MPX_ERR_PROTO;
}

static int dss_len(const struct mpx_opt_dss *d)
{
    if ((d->ack64 && !d->has_ack) || (d->dsn64 && !d->has_map) || (d->has_csum && !d->has_map))
        return MPX_ERR_INVAL;
    return (int)dss_len_nocsum(d) + (d->has_csum ? DSS_CSUM_LEN : 0);
}

static uint8_t *encode_dss(uint8_t *q, const struct mpx_opt_dss *d)
{
    uint8_t flags = 0;

    flags |= d->data_fin ? MPX_DSS_F_DATA_FIN : 0;
    flags |= d->has_ack ? MPX_DSS_F_ACK : 0;
    flags |= d->ack64 ? MPX_DSS_F_ACK64 : 0;
    flags |= d->has_map ? MPX_DSS_F_MAP : 0;
    flags |= d->dsn64 ? MPX_DSS_F_DSN64 : 0;
    q = mpx_put_u8(q, byte2(MPX_MPTCP_SUB_DSS, 0));
    q = mpx_put_u8(q, flags);
    if (d->has_ack)
        q = d->ack64 ? mpx_put_be64(q, d->data_ack) : mpx_put_be32(q, (uint32_t)d->data_ack);
    if (d->has_map) {
        q = d->dsn64 ? mpx_put_be64(q, d->dsn) : mpx_put_be32(q, (uint32_t)d->dsn);
        q = mpx_put_be32(q, d->ssn);
        q = mpx_put_be16(q, d->dll);
        if (d->has_csum)
            q = mpx_put_be16(q, d->csum);
    }
    return q;
}

/* ---- ADD_ADDR (RFC 8684 section 3.4.1, draft section 4.3) -------------- */

static size_t add_addr_len_of(bool v6, bool port, bool echo)
{
    return ADD_ADDR_BASE + (v6 ? 16 : 4) + (port ? ADD_ADDR_PORT : 0) + (echo ? 0 : ADD_ADDR_HMAC);
}

static int decode_add_addr(const uint8_t *p, size_t olen, struct mpx_opt_add_addr *a)
{
    const uint8_t *q = p + 4;
    bool found = false;
    bool v6 = false;

    /* Only E is read to pick the lengths, as Linux does: with E the four
     * echo lengths (8, 10, 20, 22), without E the four with an HMAC (16,
     * 18, 28, 30). Family and port follow from the length. */
    a->echo = (p[2] & ADD_ADDR_F_ECHO) != 0;
    a->key_id = (p[2] & ADD_ADDR_F_K) != 0;
    for (int i = 0; i < 4 && !found; i++) {
        v6 = (i & 2) != 0;
        a->has_port = (i & 1) != 0;
        found = olen == add_addr_len_of(v6, a->has_port, a->echo);
    }
    if (!found)
        return MPX_ERR_PROTO;
    a->addr_id = p[3];
    a->addr.family = v6 ? MPX_AF_INET6 : MPX_AF_INET;
    q = mpx_get_bytes(a->addr.a, q, v6 ? 16 : 4);
    if (a->has_port)
        q = mpx_get_be16(&a->port, q);
    if (!a->echo) {
        a->has_hmac = true;
        q = mpx_get_be64(&a->hmac, q);
    }
    return (size_t)(q - p) == olen ? 0 : MPX_ERR_PROTO;
}

static int add_addr_len(const struct mpx_opt_add_addr *a)
{
    if (a->addr.family != MPX_AF_INET && a->addr.family != MPX_AF_INET6)
        return MPX_ERR_INVAL;
    /* RFC 8684: the echo carries no HMAC, the announcement always does. */
    if (a->has_hmac == a->echo)
        return MPX_ERR_INVAL;
    return (int)add_addr_len_of(a->addr.family == MPX_AF_INET6, a->has_port, a->echo);
}

static uint8_t *encode_add_addr(uint8_t *q, const struct mpx_opt_add_addr *a)
{
    uint8_t low = (a->echo ? ADD_ADDR_F_ECHO : 0) | (a->key_id ? ADD_ADDR_F_K : 0);

    q = mpx_put_u8(q, byte2(MPX_MPTCP_SUB_ADD_ADDR, low));
    q = mpx_put_u8(q, a->addr_id);
    q = mpx_put_bytes(q, a->addr.a, mpx_addr_len(&a->addr));
    if (a->has_port)
        q = mpx_put_be16(q, a->port);
    if (a->has_hmac)
        q = mpx_put_be64(q, a->hmac);
    return q;
}

/* ---- the small ones (RFC 8684 sections 3.4.2, 3.3.8, 3.7, 3.5, 3.6;
 *      NEW_KEY: draft section 4.2) -------------------------------------- */

static int decode_small(const uint8_t *p, size_t olen, uint8_t tcp_flags, struct mpx_mptcp_opt *o)
{
    switch (o->subtype) {
    case MPX_MPTCP_SUB_RM_ADDR:
        if (olen < MPX_TCPOLEN_RM_ADDR_MIN || olen > MPX_TCPOLEN_RM_ADDR_MAX)
            return MPX_ERR_PROTO;
        o->u.rm_addr.n_ids = (uint8_t)(olen - 3);
        mpx_get_bytes(o->u.rm_addr.ids, p + 3, o->u.rm_addr.n_ids);
        return 0;
    case MPX_MPTCP_SUB_PRIO:
        if (olen != MPX_TCPOLEN_PRIO)
            return MPX_ERR_PROTO;
        o->u.prio.backup = (p[2] & PRIO_F_BACKUP) != 0;
        return 0;
    case MPX_MPTCP_SUB_FAIL:
        if (olen != MPX_TCPOLEN_FAIL)
            return MPX_ERR_PROTO;
        mpx_get_be64(&o->u.fail.dsn, p + 4);
        return 0;
    case MPX_MPTCP_SUB_FASTCLOSE:
        if (olen != MPX_TCPOLEN_FASTCLOSE)
            return MPX_ERR_PROTO;
        o->u.fastclose.key_id = (p[2] & FASTCLOSE_F_K) != 0;
        mpx_get_be64(&o->u.fastclose.key, p + 4);
        return 0;
    case MPX_MPTCP_SUB_TCPRST:
        if (olen != MPX_TCPOLEN_TCPRST)
            return MPX_ERR_PROTO;
        /* RFC 8684 section 3.6: sent with RST; Linux ignores it elsewhere. */
        if (!(tcp_flags & MPX_TH_RST))
            return MPX_ERR_IGNORED;
        o->u.tcprst.flags = p[2] & TCPRST_F_MASK;
        o->u.tcprst.reason = p[3];
        return 0;
    case MPX_MPTCP_SUB_NEW_KEY:
        if (olen != MPX_TCPOLEN_NEW_KEY)
            return MPX_ERR_PROTO;
        /* Byte 3 is drawn as 0: sent as 0, ignored on receipt (D10). */
        o->u.new_key.key_id = (p[2] & NEW_KEY_F_K) != 0;
        mpx_get_be64(&o->u.new_key.hmac, p + 4);
        return 0;
    default:
        /* 0xa-0xe unassigned, 0xf MP_EXPERIMENTAL: Linux "default: break". */
        return MPX_ERR_IGNORED;
    }
}

static uint8_t *encode_small(uint8_t *q, const struct mpx_mptcp_opt *o)
{
    switch (o->subtype) {
    case MPX_MPTCP_SUB_RM_ADDR:
        q = mpx_put_u8(q, byte2(o->subtype, 0));
        return mpx_put_bytes(q, o->u.rm_addr.ids, o->u.rm_addr.n_ids);
    case MPX_MPTCP_SUB_PRIO:
        return mpx_put_u8(q, byte2(o->subtype, o->u.prio.backup ? PRIO_F_BACKUP : 0));
    case MPX_MPTCP_SUB_FAIL:
        q = mpx_put_u8(q, byte2(o->subtype, 0));
        q = mpx_put_u8(q, 0);
        return mpx_put_be64(q, o->u.fail.dsn);
    case MPX_MPTCP_SUB_FASTCLOSE:
        q = mpx_put_u8(q, byte2(o->subtype, o->u.fastclose.key_id ? FASTCLOSE_F_K : 0));
        q = mpx_put_u8(q, 0);
        return mpx_put_be64(q, o->u.fastclose.key);
    case MPX_MPTCP_SUB_TCPRST:
        q = mpx_put_u8(q, byte2(o->subtype, o->u.tcprst.flags));
        return mpx_put_u8(q, o->u.tcprst.reason);
    case MPX_MPTCP_SUB_NEW_KEY:
        q = mpx_put_u8(q, byte2(o->subtype, o->u.new_key.key_id ? NEW_KEY_F_K : 0));
        q = mpx_put_u8(q, 0);
        return mpx_put_be64(q, o->u.new_key.hmac);
    default:
        return q; /* unreachable: mpx_mptcp_len() rejected it */
    }
}

/* ---- entry points ----------------------------------------------------- */

int mpx_mptcp_decode(const uint8_t *p, size_t len, uint8_t tcp_flags, struct mpx_mptcp_opt *out)
{
    size_t olen;
    int rv;

    if (!out)
        return MPX_ERR_INVAL;
    memset(out, 0, sizeof(*out));
    if (len > 0 && (!p || p[0] != MPX_TCPOPT_MPTCP))
        return MPX_ERR_INVAL;
    if (len < 2)
        return MPX_ERR_TRUNC;
    olen = p[1];
    if (olen > len)
        return MPX_ERR_TRUNC;
    /* Every MPTCP option has a subtype byte; "silly" lengths are broken
     * framing (Linux stops parsing at length < 2). */
    if (olen < 3)
        return MPX_ERR_PROTO;
    out->subtype = (enum mpx_mptcp_subtype)(p[2] >> SUBTYPE_SHIFT);
    switch (out->subtype) {
    case MPX_MPTCP_SUB_CAPABLE:
        rv = decode_mpc(p, olen, tcp_flags, &out->u.mpc);
        break;
    case MPX_MPTCP_SUB_JOIN:
        rv = olen < 4 ? MPX_ERR_PROTO : decode_join(p, olen, tcp_flags, &out->u.join);
        break;
    case MPX_MPTCP_SUB_DSS:
        rv = decode_dss(p, olen, &out->u.dss);
        break;
    case MPX_MPTCP_SUB_ADD_ADDR:
        rv = olen < 4 ? MPX_ERR_PROTO : decode_add_addr(p, olen, &out->u.add_addr);
        break;
    default:
        rv = decode_small(p, olen, tcp_flags, out);
        break;
    }
    if (rv < 0) {
        /* Leave no half-decoded fields behind. */
        memset(&out->u, 0, sizeof(out->u));
        return rv;
    }
    return (int)olen;
}

int mpx_mptcp_len(const struct mpx_mptcp_opt *o)
{
    if (!o)
        return MPX_ERR_INVAL;
    switch (o->subtype) {
    case MPX_MPTCP_SUB_CAPABLE:
        return mpc_len(&o->u.mpc);
    case MPX_MPTCP_SUB_JOIN:
        return join_len(&o->u.join);
    case MPX_MPTCP_SUB_DSS:
        return dss_len(&o->u.dss);
    case MPX_MPTCP_SUB_ADD_ADDR:
        return add_addr_len(&o->u.add_addr);
    case MPX_MPTCP_SUB_RM_ADDR:
        if (o->u.rm_addr.n_ids < 1 || o->u.rm_addr.n_ids > MPX_RM_ADDR_MAX_IDS)
            return MPX_ERR_INVAL;
        return 3 + o->u.rm_addr.n_ids;
    case MPX_MPTCP_SUB_PRIO:
        return MPX_TCPOLEN_PRIO;
    case MPX_MPTCP_SUB_FAIL:
        return MPX_TCPOLEN_FAIL;
    case MPX_MPTCP_SUB_FASTCLOSE:
        return MPX_TCPOLEN_FASTCLOSE;
    case MPX_MPTCP_SUB_TCPRST:
        return o->u.tcprst.flags > TCPRST_F_MASK ? MPX_ERR_INVAL : MPX_TCPOLEN_TCPRST;
    case MPX_MPTCP_SUB_NEW_KEY:
        return MPX_TCPOLEN_NEW_KEY;
    default:
        return MPX_ERR_INVAL;
    }
}

int mpx_mptcp_encode(uint8_t *out, size_t outlen, const struct mpx_mptcp_opt *o)
{
    uint8_t *q;
    int len = mpx_mptcp_len(o);

    if (len < 0)
        return len;
    if (!out || outlen < (size_t)len)
        return MPX_ERR_NOBUF;
    q = mpx_put_u8(out, MPX_TCPOPT_MPTCP);
    q = mpx_put_u8(q, (uint8_t)len);
    switch (o->subtype) {
    case MPX_MPTCP_SUB_CAPABLE:
        q = encode_mpc(q, &o->u.mpc);
        break;
    case MPX_MPTCP_SUB_JOIN:
        q = encode_join(q, &o->u.join);
        break;
    case MPX_MPTCP_SUB_DSS:
        q = encode_dss(q, &o->u.dss);
        break;
    case MPX_MPTCP_SUB_ADD_ADDR:
        q = encode_add_addr(q, &o->u.add_addr);
        break;
    default:
        q = encode_small(q, o);
        break;
    }
    /* Computed length and bytes written must agree (ngtcp2's rule). */
    assert(q - out == len);
    (void)q;
    return len;
}

uint16_t mpx_mptcp_dss_csum(uint64_t dsn, uint32_t ssn, uint16_t dll, uint16_t csum_field,
                            const uint8_t *payload, size_t len)
{
    /* RFC 8684 section 3.3.1: "the data sequence number used in the
     * pseudo-header is always the 64-bit value, irrespective of what
     * length is used in the DSS option itself". */
    uint8_t ph[16];
    uint8_t *q = ph;
    uint32_t sum;

    q = mpx_put_be64(q, dsn);
    q = mpx_put_be32(q, ssn);
    q = mpx_put_be16(q, dll);
    mpx_put_be16(q, csum_field);
    sum = mpx_csum_add(0, ph, sizeof(ph));
    if (len > 0)
        sum = mpx_csum_add(sum, payload, len);
    return mpx_csum_fold(sum);
}

const char *mpx_mptcp_subtype_name(enum mpx_mptcp_subtype st)
{
    switch (st) {
    case MPX_MPTCP_SUB_CAPABLE:
        return "MP_CAPABLE";
    case MPX_MPTCP_SUB_JOIN:
        return "MP_JOIN";
    case MPX_MPTCP_SUB_DSS:
        return "DSS";
    case MPX_MPTCP_SUB_ADD_ADDR:
        return "ADD_ADDR";
    case MPX_MPTCP_SUB_RM_ADDR:
        return "REMOVE_ADDR";
    case MPX_MPTCP_SUB_PRIO:
        return "MP_PRIO";
    case MPX_MPTCP_SUB_FAIL:
        return "MP_FAIL";
    case MPX_MPTCP_SUB_FASTCLOSE:
        return "MP_FASTCLOSE";
    case MPX_MPTCP_SUB_TCPRST:
        return "MP_TCPRST";
    case MPX_MPTCP_SUB_NEW_KEY:
        return "NEW_KEY";
    case MPX_MPTCP_SUB_EXPERIMENTAL:
        return "MP_EXPERIMENTAL";
    }
    return "unknown";
}
