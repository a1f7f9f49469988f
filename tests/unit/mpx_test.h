/*
 * mpx_test.h - the C unit test framework: one runner binary, each test its
 * own name, so pytest can list and run them one by one.
 *
 *   MPX_TEST(wire_mptcp_decode_dss_all_forms) { CHECK(...); }
 *
 * Tests register themselves from a constructor (test code only; the core
 * has no globals). A failed CHECK prints file:line and the expression and
 * marks the test failed; the test goes on so one run shows every mismatch.
 * Use REQUIRE for checks that later lines depend on: it returns at once.
 */
#ifndef MPX_TEST_H
#define MPX_TEST_H

#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef void (*mpx_test_fn)(void);

void mpx_test_register(const char *name, mpx_test_fn fn);
void mpx_test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Hex string ("0a0b 0c", whitespace allowed) to bytes; returns length, or
 * -1 if |hex| is malformed or longer than |cap|. */
int mpx_test_unhex(const char *hex, uint8_t *out, size_t cap);
/* Bytes to a hex string in a static buffer (for failure messages). */
const char *mpx_test_hex(const uint8_t *p, size_t len);
/* Directory of the source tree (for data files), from MPX_SRCDIR or ".". */
const char *mpx_test_srcdir(void);

#define MPX_TEST(name)                                                                             \
    static void test_##name(void);                                                                 \
    __attribute__((constructor)) static void register_##name(void)                                 \
    {                                                                                              \
        mpx_test_register(#name, test_##name);                                                     \
    }                                                                                              \
    static void test_##name(void)

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            mpx_test_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);                                 \
    } while (0)

#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            mpx_test_fail(__FILE__, __LINE__, "REQUIRE(%s)", #cond);                               \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define CHECK_EQ(a, b)                                                                             \
    do {                                                                                           \
        uint64_t va_ = (uint64_t)(a), vb_ = (uint64_t)(b);                                         \
        if (va_ != vb_)                                                                            \
            mpx_test_fail(__FILE__, __LINE__, "CHECK_EQ(%s, %s): 0x%" PRIx64 " != 0x%" PRIx64, #a, \
                          #b, va_, vb_);                                                           \
    } while (0)

#define CHECK_INT(a, b)                                                                            \
    do {                                                                                           \
        long long va_ = (long long)(a), vb_ = (long long)(b);                                      \
        if (va_ != vb_)                                                                            \
            mpx_test_fail(__FILE__, __LINE__, "CHECK_INT(%s, %s): %lld != %lld", #a, #b, va_,      \
                          vb_);                                                                    \
    } while (0)

#define CHECK_MEM(a, b, n)                                                                         \
    do {                                                                                           \
        if (memcmp((a), (b), (n)) != 0) {                                                          \
            mpx_test_fail(__FILE__, __LINE__, "CHECK_MEM(%s, %s, %zu): got %s", #a, #b,            \
                          (size_t)(n), mpx_test_hex((const uint8_t *)(a), (n)));                   \
        }                                                                                          \
    } while (0)

#endif /* MPX_TEST_H */
