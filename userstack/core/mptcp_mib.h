/*
 * mptcp_mib.h - MPTCP counters, named exactly like the Linux kernel's MIB
 * entries (net/mptcp/mib.c, exported as MPTcpExt<Name> in /proc/net/netstat)
 * without the MPTcpExt prefix, so tests and the CLI can assert on the same
 * names as the kernel selftests (NOTES section 4.2).
 */
#ifndef MPX_MPTCP_MIB_H
#define MPX_MPTCP_MIB_H

#include <stddef.h>
#include <stdint.h>

/* X-macro: one line per counter, in the kernel's order where it exists. */
#define MPX_MPTCP_MIB_LIST(X)                                                                      \
    X(MPCapableSYNRX)                                                                              \
    X(MPCapableSYNTX)                                                                              \
    X(MPCapableSYNACKRX)                                                                           \
    X(MPCapableACKRX)                                                                              \
    X(MPCapableFallbackACK)                                                                        \
    X(MPCapableFallbackSYNACK)                                                                     \
    X(MPCapableSYNTXDrop)                                                                          \
    X(MPCapableSYNTXDisabled)                                                                      \
    X(MPFallbackTokenInit)                                                                         \
    X(MPTCPRetrans)                                                                                \
    X(MPJoinNoTokenFound)                                                                          \
    X(MPJoinSynRx)                                                                                 \
    X(MPJoinSynBackupRx)                                                                           \
    X(MPJoinSynAckRx)                                                                              \
    X(MPJoinSynAckBackupRx)                                                                        \
    X(MPJoinSynAckHMacFailure)                                                                     \
    X(MPJoinAckRx)                                                                                 \
    X(MPJoinAckHMacFailure)                                                                        \
    X(MPJoinSynTx)                                                                                 \
    X(MPJoinRejected)                                                                              \
    X(DSSNotMatching)                                                                              \
    X(InfiniteMapTx)                                                                               \
    X(InfiniteMapRx)                                                                               \
    X(DSSNoMatchTCP)                                                                               \
    X(DataCsumErr)                                                                                 \
    X(OFOQueueTail)                                                                                \
    X(OFOQueue)                                                                                    \
    X(OFOMerge)                                                                                    \
    X(NoDSSInWindow)                                                                               \
    X(DuplicateData)                                                                               \
    X(AddAddr)                                                                                     \
    X(AddAddrTx)                                                                                   \
    X(AddAddrTxDrop)                                                                               \
    X(EchoAdd)                                                                                     \
    X(EchoAddTx)                                                                                   \
    X(EchoAddTxDrop)                                                                               \
    X(PortAdd)                                                                                     \
    X(AddAddrDrop)                                                                                 \
    X(RmAddr)                                                                                      \
    X(RmAddrDrop)                                                                                  \
    X(RmAddrTx)                                                                                    \
    X(RmAddrTxDrop)                                                                                \
    X(RmSubflow)                                                                                   \
    X(MPPrioTx)                                                                                    \
    X(MPPrioRx)                                                                                    \
    X(MPFailTx)                                                                                    \
    X(MPFailRx)                                                                                    \
    X(MPFastcloseTx)                                                                               \
    X(MPFastcloseRx)                                                                               \
    X(MPRstTx)                                                                                     \
    X(MPRstRx)                                                                                     \
    X(RcvPruned)                                                                                   \
    X(SubflowStale)                                                                                \
    X(SubflowRecover)                                                                              \
    X(SndWndShared)                                                                                \
    X(RcvWndShared)                                                                                \
    X(MPCurrEstab)                                                                                 \
    X(MPCapableDataFallback)                                                                       \
    X(DssFallback)                                                                                 \
    X(FallbackFailed)                                                                              \
    /* draft-baerts-tcpm-mptcpext-00 external keys (no kernel twin) */                             \
    X(MPExtKeyOffered)                                                                             \
    X(MPExtKeyAccepted)                                                                            \
    X(MPExtKeyRetryNoE)                                                                            \
    X(MPExtKeyCacheHit)                                                                            \
    X(MPExtKeyRequirePlain) /* RFC 8684 SYN to a require listener: plain TCP */                    \
    X(MPJoinNoKeyRejected)                                                                         \
    X(MPNewKeyTx)          /* NEW_KEY sent for the first time (per key) */                         \
    X(MPNewKeyRetrans)     /* NEW_KEY sent again (timer, NOTES D15) */                             \
    X(MPNewKeyAnswer)      /* NEW_KEY re-sent to answer a duplicate (D14 b) */                     \
    X(MPNewKeyRx)          /* NEW_KEY received */                                                  \
    X(MPNewKeyConfirmed)   /* a key confirmed by the peer: active (D13) */                         \
    X(MPNewKeyMismatch)    /* NEW_KEY not matching the installed key K */                          \
    X(MPNewKeyEarly)       /* NEW_KEY before the local key: held (D14 a) */                        \
    X(MPNewKeyGiveUp)      /* NEW_KEY never confirmed after its tries */                           \
    X(MPExtKeyInstalled)   /* mpx_conn_set_key / set_psk */                                        \
    X(MPExtKeyRotated)     /* rotations started (D16) */                                           \
    X(MPExtKeyRetired)     /* old keys erased after their grace period */                          \
    X(MPExtKeyOldKeyUsed)  /* join/ADD_ADDR verified with the retiring key */                      \
    X(MPJoinKeyIdMismatch) /* MP_JOIN SYN/ACK or ACK echoing another K (D21) */                    \
    /* mptcpext's own hardening counters (MPX prefix: no kernel twin) */                           \
    X(MPXOptsUnacceptable) /* MPTCP options of a segment TCP found unacceptable: ignored */        \
    X(MPXRxMapsFull)       /* a segment dropped: no room to remember its mapping (sent again) */   \
    X(MPXFastcloseBadKey)  /* MP_FASTCLOSE with a wrong key / HMAC: ignored */                     \
    X(MPXDataFinRetrans)   /* our DATA_FIN sent again on a pure ACK (not DATA_ACKed in an RTO) */  \
    X(MPXCloseTimeout)     /* an orphan not closed within the close timeout: MP_FASTCLOSE */

struct mpx_mptcp_mib {
#define MPX_MIB_FIELD(n) uint64_t n;
    MPX_MPTCP_MIB_LIST(MPX_MIB_FIELD)
#undef MPX_MIB_FIELD
};

struct mpx_mptcp_mib_name {
    const char *name; /* kernel name without the "MPTcpExt" prefix */
    size_t offset;    /* of the uint64_t in struct mpx_mptcp_mib */
};

/* The name table (for printing); |*n| gets the number of entries. */
const struct mpx_mptcp_mib_name *mpx_mptcp_mib_names(size_t *n);
/* Value of a counter by name, or -1 (as uint64_t max) if unknown. */
uint64_t mpx_mptcp_mib_get(const struct mpx_mptcp_mib *m, const char *name);

#endif /* MPX_MPTCP_MIB_H */
