/*
 * runner.c - main() of the unit_tests binary.
 *
 *   unit_tests --list        one test name per line
 *   unit_tests --run NAME    run one test; exit 0 if it passed
 *   unit_tests [PREFIX]      run every test (whose name starts with PREFIX)
 *
 * The last line of a full run is "N passed, N failed".
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpx_test.h"

#define MAX_TESTS 4096

struct test_entry {
    const char *name;
    mpx_test_fn fn;
};

static struct test_entry tests[MAX_TESTS];
static size_t n_tests;
static int current_failures;

void mpx_test_register(const char *name, mpx_test_fn fn)
{
    if (n_tests == MAX_TESTS) {
        fprintf(stderr, "unit_tests: more than %d tests, raise MAX_TESTS\n", MAX_TESTS);
        return;
    }
    tests[n_tests].name = name;
    tests[n_tests].fn = fn;
    n_tests++;
}

void mpx_test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    current_failures++;
    fprintf(stderr, "%s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int mpx_test_unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    int hi = -1;
    for (; *hex; hex++) {
        if (*hex == ' ' || *hex == '\n' || *hex == '\t' || *hex == ':')
            continue;
        int v = hexval(*hex);
        if (v < 0)
            return -1;
        if (hi < 0) {
            hi = v;
            continue;
        }
        if (n == cap)
            return -1;
        out[n++] = (uint8_t)(hi << 4 | v);
        hi = -1;
    }
    return hi < 0 ? (int)n : -1;
}

const char *mpx_test_hex(const uint8_t *p, size_t len)
{
    static char buf[3 * 512 + 1];
    size_t i, o = 0;
    for (i = 0; i < len && o + 3 < sizeof(buf); i++)
        o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%02x", p[i]);
    buf[o] = '\0';
    return buf;
}

const char *mpx_test_srcdir(void)
{
    const char *d = getenv("MPX_SRCDIR");
    return d && *d ? d : ".";
}

static int run_one(const struct test_entry *t)
{
    current_failures = 0;
    t->fn();
    if (current_failures)
        fprintf(stderr, "FAIL %s (%d checks failed)\n", t->name, current_failures);
    return current_failures == 0;
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const struct test_entry *)a)->name, ((const struct test_entry *)b)->name);
}

int main(int argc, char **argv)
{
    size_t i, passed = 0, failed = 0;
    qsort(tests, n_tests, sizeof(tests[0]), cmp_entry);
    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        for (i = 0; i < n_tests; i++)
            printf("%s\n", tests[i].name);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "--run") == 0) {
        for (i = 0; i < n_tests; i++)
            if (strcmp(tests[i].name, argv[2]) == 0)
                return run_one(&tests[i]) ? 0 : 1;
        fprintf(stderr, "unit_tests: no test named %s\n", argv[2]);
        return 2;
    }
    if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
        fprintf(stderr, "usage: %s [--list | --run NAME | PREFIX]\n", argv[0]);
        return 2;
    }
    for (i = 0; i < n_tests; i++) {
        if (argc == 2 && strncmp(tests[i].name, argv[1], strlen(argv[1])) != 0)
            continue;
        if (run_one(&tests[i]))
            passed++;
        else
            failed++;
    }
    printf("%zu passed, %zu failed\n", passed, failed);
    return failed ? 1 : 0;
}
