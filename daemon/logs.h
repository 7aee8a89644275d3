/* Per-spawn log files: their tails, their EXIT: reasons, pruning, and following. */
#ifndef SCHEDLIFE_LOGS_H
#define SCHEDLIFE_LOGS_H

#include <stdint.h>

#include <cjson/cJSON.h>

/* The last n lines of a log; with reason, also its last "EXIT: " line (malloc'd). */
cJSON *log_tail(const char *path, int n, char **reason);
/* Keep the newest keep logs of dir (by seq); remove the rest. */
void log_prune(const char *dir, int keep);
/* Find <dir>/<name>.<seq>.log for a seq; seq <= 0: the highest. 0 or -1. */
int log_find(const char *dir, int64_t seq, char *buf, size_t len, int64_t *found);

struct log_follow;
/* Stream new lines of path to control_follow_line(token, line). */
struct log_follow *log_follow_start(const char *path, uint64_t token);
void log_follow_stop(struct log_follow *f);

#endif
