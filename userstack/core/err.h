/*
 * err.h - error codes of the core.
 *
 * Core functions return 0 (or a length) on success and a negative MPX_ERR_*
 * on failure; the core never touches errno. Codes below MPX_ERR_FATAL mean
 * the object that returned them can no longer be used (the ngtcp2 rule).
 * Bad input from a peer is not an API error: the codec reports it with
 * MPX_ERR_PROTO / MPX_ERR_TRUNC and the caller drops and counts it.
 */
#ifndef MPX_ERR_H
#define MPX_ERR_H

enum mpx_err {
    MPX_OK = 0,
    MPX_ERR_INVAL = -201,    /* bad argument from the owner */
    MPX_ERR_TRUNC = -202,    /* input shorter than its own framing says */
    MPX_ERR_PROTO = -203,    /* malformed by the protocol's rules */
    MPX_ERR_UNSUPP = -204,   /* well formed but not something we handle */
    MPX_ERR_NOBUF = -205,    /* output buffer too small */
    MPX_ERR_NOSPACE = -206,  /* no option space left */
    MPX_ERR_CSUM = -207,     /* checksum mismatch */
    MPX_ERR_FRAG = -208,     /* IP fragment: we do not reassemble */
    MPX_ERR_IGNORED = -209,  /* valid framing, ignored by rule (e.g. unknown subtype) */
    MPX_ERR_STATE = -210,    /* call not allowed in this state */
    MPX_ERR_AGAIN = -211,    /* nothing to do now; retry later */
    MPX_ERR_EXIST = -212,    /* already present */
    MPX_ERR_NOENT = -213,    /* not found */
    MPX_ERR_CRYPTO = -214,   /* crypto primitive failed */
    MPX_ERR_REFUSED = -215,  /* connection refused (RST to SYN) */
    MPX_ERR_TIMEDOUT = -216, /* retransmissions gave up */
    MPX_ERR_RESET = -217,    /* connection reset by peer */
    MPX_ERR_CLOSED = -218,   /* operation on a closed connection */
    /* Reported by the network (ICMP, RFC 1122 4.2.3.9; the errnos Linux's
     * icmp_err_convert / icmpv6_err_convert give). */
    MPX_ERR_HOSTUNREACH = -219, /* EHOSTUNREACH */
    MPX_ERR_NETUNREACH = -220,  /* ENETUNREACH */
    MPX_ERR_ACCES = -221,       /* EACCES: ICMPv6 administratively prohibited */
    MPX_ERR_NOPROTOOPT = -222,  /* ENOPROTOOPT: protocol unreachable */
    MPX_ERR_HOSTDOWN = -223,    /* EHOSTDOWN: host unknown */
    MPX_ERR_NONET = -224,       /* ENONET: host isolated */
    MPX_ERR_NETPROTO = -225,    /* EPROTO: parameter problem */
    MPX_ERR_FATAL = -500,
    MPX_ERR_NOMEM = -501,
};

const char *mpx_strerror(int err);

static inline int mpx_err_is_fatal(int err)
{
    return err < MPX_ERR_FATAL;
}

#endif /* MPX_ERR_H */
