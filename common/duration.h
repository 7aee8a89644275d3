/* Durations as users write them: 250ms, 2s, 1.5s, 1m, 1h; a bare number is seconds. */
#ifndef SCHEDLIFE_DURATION_H
#define SCHEDLIFE_DURATION_H

#include <stddef.h>
#include <stdint.h>

/* Largest duration accepted: 30 days, so sums with a clock never overflow. */
#define DURATION_MAX_MS (30LL * 24 * 3600 * 1000)

/* Parse s into milliseconds. 0 on success; -1 on bad input. */
int duration_parse(const char *s, int64_t *ms);
/* Render ms the way a config says it: "250ms", "2s", "1.5s"; parses back to ms. */
void duration_format(int64_t ms, char *buf, size_t len);

#endif
