/* Per-spawn log files: their tails, their EXIT: reasons, pruning, and following. */
#ifndef SCHEDLIFE_LOGS_H
#define SCHEDLIFE_LOGS_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/*
 * Open a per-spawn log the way every reader and writer here must: never through a
 * symlink (O_NOFOLLOW), and only a regular file the daemon owns, that group and others
 * may not write, with one link (not a hard link to someone's file). flags: O_RDONLY, or
 * O_WRONLY|O_CREAT|O_APPEND to create it (mode 0640). The fd, or -1 with errno (ELOOP for
 * a symlink, EPERM for a file the daemon did not make).
 */
int log_open_safe(const char *path, int flags);
/*
 * Check the log dir at start: a directory owned by the daemon's uid that group and
 * others may not write (or anyone could plant files in it). 0, or -1 with why.
 */
int log_dir_check(const char *dir, char *why, size_t len);
/* The last n lines of a log; with reason, also its last "EXIT: " line (malloc'd). */
cJSON *log_tail(const char *path, int n, char **reason);
/* Keep the newest keep logs of dir (by seq); remove the rest. */
void log_prune(const char *dir, int keep);
/* Find <dir>/<name>.<seq>.log for a seq; seq <= 0: the highest. 0 or -1. */
int log_find(const char *dir, int64_t seq, char *buf, size_t len, int64_t *found);

struct log_follow;
/* Where a followed line goes: 0, or -1 when the receiver is gone (and f stopped by it). */
typedef int (*log_line_fn)(void *ctx, const char *line);
/* Stream new lines of path to fn(ctx, line) until log_follow_stop. */
struct log_follow *log_follow_start(const char *path, log_line_fn fn, void *ctx);
void log_follow_stop(struct log_follow *f);

#endif
