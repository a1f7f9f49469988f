/*
 * mptcp_mib.c - name table of the MPTCP counters (see mptcp_mib.h).
 */
#include "mptcp_mib.h"

#include <string.h>

static const struct mpx_mptcp_mib_name names[] = {
#define MPX_MIB_NAME(n) {#n, offsetof(struct mpx_mptcp_mib, n)},
    MPX_MPTCP_MIB_LIST(MPX_MIB_NAME)
#undef MPX_MIB_NAME
};

const struct mpx_mptcp_mib_name *mpx_mptcp_mib_names(size_t *n)
{
    *n = sizeof(names) / sizeof(names[0]);
    return names;
}

uint64_t mpx_mptcp_mib_get(const struct mpx_mptcp_mib *m, const char *name)
{
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(names[i].name, name) == 0) {
            uint64_t v;
            memcpy(&v, (const char *)m + names[i].offset, sizeof(v));
            return v;
        }
    }
    return UINT64_MAX;
}
