/* Duration parsing and printing shared by the daemon, the config and the CLI. */
#include "duration.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static const struct {
	const char *suffix;
	int64_t ms;
} units[] = {
	{"ms", 1}, {"s", 1000}, {"m", 60LL * 1000}, {"h", 3600LL * 1000}, {"", 1000},
};

int
duration_parse(const char *s, int64_t *ms)
{
	int64_t whole = 0, frac = 0, scale = 1;
	const char *p = s;

	if (s == NULL || !isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		whole = whole * 10 + (*p - '0');
		if (whole > DURATION_MAX_MS)
			return -1;
	}
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -1;
		/* Keep six fractional digits: below a microsecond nobody means it. */
		for (; isdigit((unsigned char)*p); p++) {
			if (scale < 1000000) {
				frac = frac * 10 + (*p - '0');
				scale *= 10;
			}
		}
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(p, units[i].suffix) != 0)
			continue;
		if (whole > DURATION_MAX_MS / units[i].ms)
			return -1;
		int64_t total = whole * units[i].ms + frac * units[i].ms / scale;
		if (total > DURATION_MAX_MS)
			return -1;
		*ms = total;
		return 0;
	}
	return -1;
}

void
duration_format(int64_t ms, char *buf, size_t len)
{
	char *p;

	if (ms < 1000 || ms % 1000 == 0) {
		snprintf(buf, len, ms < 1000 ? "%lldms" : "%llds",
			 (long long)(ms < 1000 ? ms : ms / 1000));
		return;
	}
	/* Seconds with the milliseconds, trailing zeros dropped: 1.5s, 1.25s, 61.001s. */
	snprintf(buf, len, "%lld.%03llds", (long long)(ms / 1000), (long long)(ms % 1000));
	p = strchr(buf, 's');
	while (p != NULL && p[-1] == '0') {
		memmove(p - 1, p, strlen(p) + 1);
		p--;
	}
}
