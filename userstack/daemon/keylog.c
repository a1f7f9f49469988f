/*
 * keylog.c - the key-log file (keylog.h). Plain POSIX I/O: the lines are
 * rare (one per connection and key event) and must reach the file even if
 * the daemon dies right after, so no stdio buffering.
 */
#include "keylog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEYLOG_LINE_MAX 256 /* "MPTCP_EXTKEY " + 2 tokens + a 64-byte key in hex */

int mpx_keylog_open(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -errno;
    struct stat sb;
    int e = fstat(fd, &sb) < 0                                     ? errno
            : !S_ISREG(sb.st_mode) || sb.st_uid != geteuid()       ? EPERM
            : (sb.st_mode & 07777) != 0600 && fchmod(fd, 0600) < 0 ? errno
                                                                   : 0;
    if (e) {
        close(fd);
        return -e;
    }
    return fd;
}

void mpx_keylog_close(int fd)
{
    if (fd >= 0)
        close(fd);
}

static void put(int fd, char *line, size_t len)
{
    ssize_t n;
    do
        n = write(fd, line, len);
    while (n < 0 && errno == EINTR);
    explicit_bzero(line, KEYLOG_LINE_MAX); /* the only other copy of the key */
}

void mpx_keylog_keys(int fd, uint32_t ltoken, uint64_t lkey, uint64_t rkey)
{
    char line[KEYLOG_LINE_MAX];
    if (fd < 0)
        return;
    int n = snprintf(line, sizeof(line), "MPTCP_KEYS %08x %016llx %016llx\n", ltoken,
                     (unsigned long long)lkey, (unsigned long long)rkey);
    put(fd, line, (size_t)n);
}

void mpx_keylog_extkey(int fd, uint32_t ltoken, uint32_t rtoken, const uint8_t *key, size_t len)
{
    char line[KEYLOG_LINE_MAX];
    if (fd < 0 || len > 64)
        return;
    int n = snprintf(line, sizeof(line), "MPTCP_EXTKEY %08x %08x ", ltoken, rtoken);
    for (size_t i = 0; i < len; i++)
        n += snprintf(line + n, sizeof(line) - (size_t)n, "%02x", key[i]);
    line[n++] = '\n';
    put(fd, line, (size_t)n);
}
