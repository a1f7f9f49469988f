/*
 * wire_mptcp.h - codec of every MPTCP option (TCP option kind 30).
 *
 * RFC 8684 section 3 and draft-baerts-tcpm-mptcpext-00 (external keys). This
 * module is the only code that reads or writes MPTCP option bytes. Decoding
 * fills a struct mpx_mptcp_opt and never acts on what it reads; encoding
 * writes from one. The project's reading of the draft's figures (bit
 * positions, lengths) is in docs/draft-interpretation.md.
 *
 * Decoding is strict the way Linux's mptcp_parse_option() is: the length
 * must be one of those defined for the form (which also depends on the TCP
 * SYN/ACK/RST flags of the segment), reserved bits are ignored, unknown
 * subtypes are skipped (MPX_ERR_IGNORED), and no byte past the given length
 * is read.
 */
#ifndef MPX_WIRE_MPTCP_H
#define MPX_WIRE_MPTCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire_addr.h"

#define MPX_TCPOPT_MPTCP 30

/* Subtypes (RFC 8684 section 8, IANA "MPTCP Option Subtypes"; NEW_KEY: the
 * draft's suggested value, section 3.2). */
enum mpx_mptcp_subtype {
    MPX_MPTCP_SUB_CAPABLE = 0x0,
    MPX_MPTCP_SUB_JOIN = 0x1,
    MPX_MPTCP_SUB_DSS = 0x2,
    MPX_MPTCP_SUB_ADD_ADDR = 0x3,
    MPX_MPTCP_SUB_RM_ADDR = 0x4,
    MPX_MPTCP_SUB_PRIO = 0x5,
    MPX_MPTCP_SUB_FAIL = 0x6,
    MPX_MPTCP_SUB_FASTCLOSE = 0x7,
    MPX_MPTCP_SUB_TCPRST = 0x8,
    MPX_MPTCP_SUB_NEW_KEY = 0x9,
    /* 0xa-0xe unassigned; decoded as MPX_ERR_IGNORED like this one. */
    MPX_MPTCP_SUB_EXPERIMENTAL = 0xf,
};

/* Option lengths, named as in Linux net/mptcp/protocol.h (TCPOLEN_MPTCP_*),
 * plus the draft's E-mode forms (MPX_TCPOLEN_MPC_E_*). */
#define MPX_TCPOLEN_MPC_SYN             4
#define MPX_TCPOLEN_MPC_SYNACK          12
#define MPX_TCPOLEN_MPC_ACK             20
#define MPX_TCPOLEN_MPC_ACK_DATA        22
#define MPX_TCPOLEN_MPC_ACK_DATA_CSUM   24
#define MPX_TCPOLEN_MPC_E_SYNACK        8
#define MPX_TCPOLEN_MPC_E_ACK           12
#define MPX_TCPOLEN_MPC_E_ACK_DATA      14
#define MPX_TCPOLEN_MPC_E_ACK_DATA_CSUM 16
#define MPX_TCPOLEN_MPJ_SYN             12
#define MPX_TCPOLEN_MPJ_SYNACK          16
#define MPX_TCPOLEN_MPJ_ACK             24
#define MPX_TCPOLEN_DSS_BASE            4
#define MPX_TCPOLEN_DSS_MAX             28
#define MPX_TCPOLEN_ADD_ADDR_V4         16 /* + 2 with port; - 8 for echo */
#define MPX_TCPOLEN_ADD_ADDR_V6         28
#define MPX_TCPOLEN_RM_ADDR_MIN         4
#define MPX_TCPOLEN_RM_ADDR_MAX         11 /* Linux: at most 8 ids */
#define MPX_TCPOLEN_PRIO                3
#define MPX_TCPOLEN_FAIL                12
#define MPX_TCPOLEN_FASTCLOSE           12
#define MPX_TCPOLEN_TCPRST              4
#define MPX_TCPOLEN_NEW_KEY             12

/* MP_CAPABLE flags byte (RFC 8684 section 3.1; E: draft section 4.1, NOTES D1). */
#define MPX_MPC_F_A     0x80 /* checksum required */
#define MPX_MPC_F_B     0x40 /* extensibility, must be 0 */
#define MPX_MPC_F_C     0x20 /* no more subflows to this address/port */
#define MPX_MPC_F_D     0x10
#define MPX_MPC_F_E     0x08 /* draft: external keys */
#define MPX_MPC_F_F     0x04
#define MPX_MPC_F_G     0x02
#define MPX_MPC_F_H     0x01 /* HMAC-SHA256 */
#define MPX_MPC_VERSION 1

/* DSS flags byte (RFC 8684 section 3.3). */
#define MPX_DSS_F_DATA_FIN 0x10
#define MPX_DSS_F_DSN64    0x08 /* m */
#define MPX_DSS_F_MAP      0x04 /* M */
#define MPX_DSS_F_ACK64    0x02 /* a */
#define MPX_DSS_F_ACK      0x01 /* A */

/* MP_TCPRST flags and reasons (RFC 8684 section 3.6). */
#define MPX_TCPRST_F_T 0x01 /* transient */
#define MPX_TCPRST_F_W 0x02
#define MPX_TCPRST_F_V 0x04
#define MPX_TCPRST_F_U 0x08
enum mpx_tcprst_reason {
    MPX_RST_EUNSPEC = 0,
    MPX_RST_EMPTCP = 1,
    MPX_RST_ERESOURCE = 2,
    MPX_RST_EPROHIBIT = 3,
    MPX_RST_EWQ2BIG = 4,
    MPX_RST_EBADPERF = 5,
    MPX_RST_EMIDDLEBOX = 6,
};

/* Which handshake segment an MP_CAPABLE or MP_JOIN option belongs to. */
enum mpx_hs_form {
    MPX_FORM_SYN,
    MPX_FORM_SYNACK,
    MPX_FORM_ACK,
};

struct mpx_opt_mpc {
    enum mpx_hs_form form;
    uint8_t version;
    uint8_t flags;      /* MPX_MPC_F_*; E-mode iff flags & MPX_MPC_F_E */
    uint64_t snd_key;   /* RFC 8684 SYN/ACK and ACK */
    uint64_t rcv_key;   /* RFC 8684 ACK */
    uint32_t snd_token; /* E mode SYN/ACK and ACK (draft figure 1) */
    uint32_t rcv_token; /* E mode ACK */
    bool has_dll;       /* ACK carrying data: Data-Level Length */
    uint16_t dll;
    bool has_csum; /* ACK carrying data with checksums negotiated */
    uint16_t csum;
};

struct mpx_opt_join {
    enum mpx_hs_form form;
    bool backup;      /* B, SYN and SYN/ACK */
    bool key_id;      /* draft K bit (0x02 in byte 2), all three forms */
    uint8_t addr_id;  /* SYN and SYN/ACK */
    uint32_t token;   /* SYN: receiver's token */
    uint32_t nonce;   /* SYN and SYN/ACK: sender's random number */
    uint64_t thmac;   /* SYN/ACK: sender's truncated HMAC */
    uint8_t hmac[20]; /* ACK: sender's HMAC (leftmost 160 bits) */
};

struct mpx_opt_dss {
    bool data_fin;
    bool has_ack;
    bool ack64;
    uint64_t data_ack; /* low 32 bits only when !ack64 */
    bool has_map;
    bool dsn64;
    uint64_t dsn; /* low 32 bits only when !dsn64 */
    uint32_t ssn; /* relative subflow sequence number */
    uint16_t dll; /* 0 = infinite mapping */
    bool has_csum;
    uint16_t csum;
};

struct mpx_opt_add_addr {
    bool echo;   /* E (0x01) */
    bool key_id; /* draft K (0x02) */
    uint8_t addr_id;
    struct mpx_addr addr;
    bool has_port;
    uint16_t port;
    bool has_hmac; /* always !echo */
    uint64_t hmac; /* rightmost 64 bits */
};

#define MPX_RM_ADDR_MAX_IDS 8
struct mpx_opt_rm_addr {
    uint8_t n_ids;
    uint8_t ids[MPX_RM_ADDR_MAX_IDS];
};

struct mpx_opt_prio {
    bool backup;
};

struct mpx_opt_fail {
    uint64_t dsn;
};

struct mpx_opt_fastclose {
    bool key_id;  /* draft K (0x01 in byte 2) */
    uint64_t key; /* RFC 8684: receiver's key; E mode: truncated HMAC */
};

struct mpx_opt_tcprst {
    uint8_t flags;  /* MPX_TCPRST_F_* */
    uint8_t reason; /* enum mpx_tcprst_reason, other values kept as is */
};

struct mpx_opt_new_key {
    bool key_id;   /* K (0x01 in byte 2) */
    uint64_t hmac; /* rightmost 64 bits, NOTES D12 */
};

struct mpx_mptcp_opt {
    enum mpx_mptcp_subtype subtype;
    union {
        struct mpx_opt_mpc mpc;
        struct mpx_opt_join join;
        struct mpx_opt_dss dss;
        struct mpx_opt_add_addr add_addr;
        struct mpx_opt_rm_addr rm_addr;
        struct mpx_opt_prio prio;
        struct mpx_opt_fail fail;
        struct mpx_opt_fastclose fastclose;
        struct mpx_opt_tcprst tcprst;
        struct mpx_opt_new_key new_key;
    } u;
};

/*
 * mpx_mptcp_decode decodes one MPTCP option. |p| points at the Kind byte
 * (30), |len| is the number of bytes available from |p|. |tcp_flags| are the
 * flags of the carrying TCP segment (wire_tcp.h MPX_TH_*): the valid forms
 * of MP_CAPABLE, MP_JOIN and MP_TCPRST depend on them. Borrowed: |p| for
 * the call only. No byte past min(p[1], len) is read.
 *
 * Returns the option's length (p[1]) on success, or:
 *   MPX_ERR_INVAL   p[0] is not 30, or |out| is NULL
 *   MPX_ERR_TRUNC   |len| < 2, or fewer than p[1] bytes available
 *   MPX_ERR_PROTO   p[1] < 3, or the length is not valid for this subtype
 *                   and form (MP_CAPABLE: SYN 4; SYN/ACK 12, E mode 8;
 *                   other segments 20/22/24, E mode 12/14/16; MP_JOIN:
 *                   SYN 12, SYN/ACK 16, other segments 24; ...)
 *   MPX_ERR_IGNORED well framed but ignored by rule: unknown subtype
 *                   (0xa-0xf), MP_TCPRST on a segment without RST, an
 *                   MP_CAPABLE of wrong length with the B (extensibility)
 *                   flag set (RFC 8684 section 3.1: an unknown extended
 *                   format)
 * On MPX_ERR_PROTO and MPX_ERR_IGNORED with p[1] >= 3, out->subtype holds
 * the subtype nibble (for the caller's counters) and the rest of |out| is
 * zero; on the other errors all of |out| is zero (if |out| is not NULL).
 * After MPX_ERR_PROTO or MPX_ERR_IGNORED the caller may skip p[1] bytes and
 * go on with the next option.
 *
 * Decoding is a pure codec: anything well framed is decoded, including an
 * MP_CAPABLE with an unsupported version or algorithm bits; whether to act
 * on it is mpx_mptcp_mpc_acceptable()'s call. Fields that the form does not
 * carry are zero. Reserved bits are ignored (not kept), so re-encoding
 * yields them as zero. DSS: the a (m) flag is meaningful only with A (M),
 * alone it is ignored like a reserved bit (ack64/dsn64 stay false); a
 * checksum-sized tail without a mapping is accepted and skipped, as Linux
 * does (has_csum stays false). NEW_KEY byte 3 is ignored.
 */
int mpx_mptcp_decode(const uint8_t *p, size_t len, uint8_t tcp_flags, struct mpx_mptcp_opt *out);

/*
 * mpx_mptcp_mpc_acceptable says whether a decoded MP_CAPABLE may be acted
 * on, with Linux's acceptance rules (net/mptcp/options.c) extended by the
 * draft's E flag:
 *   - version: >= 1 on a SYN ("gentle vs future versions": the answer is
 *     v1), exactly 1 on SYN/ACK and ACK;
 *   - B (extensibility) clear;
 *   - among the algorithm bits D, F, G, H exactly H (HMAC-SHA256); E is a
 *     capability, not an algorithm (NOTES D2), so it is left out of this
 *     mask; E without H is not acceptable;
 *   - E on SYN/ACK or ACK only when |ext_enabled| (the caller offered, or
 *     answered with, E mode on this handshake: NOTES D5). A SYN with E is
 *     acceptable either way: a responder without external keys answers it
 *     in RFC 8684 form (draft section 4.1, NOTES D3).
 * Not checked here (needs connection state): a third ACK without E after an
 * E SYN/ACK (D5), and DLL present on an ACK without payload or absent on
 * one with payload (Linux ignores such an MP_CAPABLE).
 */
bool mpx_mptcp_mpc_acceptable(const struct mpx_opt_mpc *m, bool ext_enabled);

/*
 * mpx_mptcp_len returns the wire length (the option's length byte) that
 * mpx_mptcp_encode will write for |o|, or MPX_ERR_INVAL if |o| is not
 * encodable: unknown subtype or form, REMOVE_ADDR with 0 or more than 8
 * ids, ADD_ADDR with a family other than 4/6 or has_hmac == echo,
 * MP_CAPABLE version > 15 or DLL/checksum on a SYN or SYN/ACK or checksum
 * without DLL, DSS with ack64 without has_ack, dsn64 or has_csum without
 * has_map, MP_TCPRST flags above 0x0f. Fields the form does not carry are
 * not looked at. 32-bit DATA_ACK/DSN forms write the low 32 bits.
 */
int mpx_mptcp_len(const struct mpx_mptcp_opt *o);

/*
 * mpx_mptcp_encode writes |o| at |out|. Returns the number of bytes written
 * (== mpx_mptcp_len(o)), MPX_ERR_INVAL (checked first), or MPX_ERR_NOBUF if
 * |outlen| is smaller; it never writes past |outlen|, and writes nothing on
 * error. Writes no padding: the TCP option writer aligns (e.g. the 14- and
 * 22-byte MP_CAPABLE and the 3-byte MP_PRIO get NOPs after them).
 */
int mpx_mptcp_encode(uint8_t *out, size_t outlen, const struct mpx_mptcp_opt *o);

/*
 * mpx_mptcp_dss_csum computes the DSS checksum of RFC 8684 section 3.3.1:
 * the 16-bit ones' complement of the ones' complement sum of the
 * pseudo-header {DSN (64 bits, always the full value), SSN, DLL, zero} and
 * |payload| (Linux __mptcp_make_csum). A receiver verifies by computing it
 * with the received checksum passed as |csum_field| and checking for 0; a
 * sender passes 0 and writes the result with mpx_put_be16. |payload| is
 * borrowed and must hold the whole mapping (|len| == DLL for a normal
 * mapping).
 */
uint16_t mpx_mptcp_dss_csum(uint64_t dsn, uint32_t ssn, uint16_t dll, uint16_t csum_field,
                            const uint8_t *payload, size_t len);

/* Name of a subtype as in RFC 8684 ("MP_CAPABLE", "DSS", ...), "unknown"
 * for unassigned values. */
const char *mpx_mptcp_subtype_name(enum mpx_mptcp_subtype st);

/*
 * Which MPTCP options coexist in one segment (informative, for the TCP
 * option writer; after Linux mptcp_write_options(), plus the draft's
 * NEW_KEY). 40 bytes of option space minus 12 for timestamps leaves 28.
 *
 *   X: mutually exclusive         O: often together
 *   C: together in some cases     P: possible, but we prefer not to (space)
 *
 *   Opt   | MPC | MPJ | DSS | ADD | RM  | PRIO| FAIL| FC  | RST |
 *   ------|-----|-----|-----|-----|-----|-----|-----|-----|-----|
 *   MPJ   |  X  |     |     |     |     |     |     |     |     |
 *   DSS   |  X  |  X  |     |     |     |     |     |     |     |
 *   ADD   |  X  |  X  |  P  |     |     |     |     |     |     |
 *   RM    |  C  |  C  |  C  |  P  |     |     |     |     |     |
 *   PRIO  |  X  |  C  |  C  |  C  |  C  |     |     |     |     |
 *   FAIL  |  X  |  X  |  C  |  X  |  X  |  X  |     |     |     |
 *   FC    |  X  |  X  |  X  |  X  |  X  |  X  |  X  |     |     |
 *   RST   |  X  |  X  |  X  |  X  |  X  |  X  |  O  |  O  |     |
 *   NEWKEY|  X  |  X  |  O  |  P  |  C  |  C  |  X  |  X  |  X  |
 *
 * MPC/MPJ only on the handshake segments (the MPC third ACK and first data
 * carry the mapping themselves). RST segments carry only MP_TCPRST, with
 * MP_FASTCLOSE or MP_FAIL when there is room. NEW_KEY rides on a data or
 * pure ACK next to a DSS (draft section 4.2; TS 12 + DSS with a 64-bit
 * DATA_ACK 12 + NEW_KEY 12 = 36, NOTES D15); it waits while an ADD_ADDR
 * (up to 30 bytes) is pending, and is never sent before the handshake
 * completes or on a RST.
 */

#endif /* MPX_WIRE_MPTCP_H */
