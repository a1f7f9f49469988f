#include "err.h"

const char *mpx_strerror(int err)
{
    switch (err) {
    case MPX_OK:
        return "success";
    case MPX_ERR_INVAL:
        return "invalid argument";
    case MPX_ERR_TRUNC:
        return "truncated input";
    case MPX_ERR_PROTO:
        return "protocol violation";
    case MPX_ERR_UNSUPP:
        return "not supported";
    case MPX_ERR_NOBUF:
        return "output buffer too small";
    case MPX_ERR_NOSPACE:
        return "no option space";
    case MPX_ERR_CSUM:
        return "bad checksum";
    case MPX_ERR_FRAG:
        return "IP fragment";
    case MPX_ERR_IGNORED:
        return "ignored";
    case MPX_ERR_STATE:
        return "invalid state";
    case MPX_ERR_AGAIN:
        return "try again";
    case MPX_ERR_EXIST:
        return "already exists";
    case MPX_ERR_NOENT:
        return "not found";
    case MPX_ERR_CRYPTO:
        return "crypto failure";
    case MPX_ERR_REFUSED:
        return "connection refused";
    case MPX_ERR_TIMEDOUT:
        return "timed out";
    case MPX_ERR_RESET:
        return "connection reset";
    case MPX_ERR_CLOSED:
        return "connection closed";
    case MPX_ERR_HOSTUNREACH:
        return "host unreachable";
    case MPX_ERR_NETUNREACH:
        return "network unreachable";
    case MPX_ERR_ACCES:
        return "administratively prohibited";
    case MPX_ERR_NOPROTOOPT:
        return "protocol unreachable";
    case MPX_ERR_HOSTDOWN:
        return "host unknown";
    case MPX_ERR_NONET:
        return "host isolated";
    case MPX_ERR_NETPROTO:
        return "parameter problem";
    case MPX_ERR_NOMEM:
        return "out of memory";
    default:
        return "unknown error";
    }
}
