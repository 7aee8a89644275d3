/* Validation of scheduler names and the table of signal names. */
#include "names.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool
sched_name_valid(const char *name)
{
	size_t len;

	if (name == NULL)
		return false;
	len = strlen(name);
	if (len == 0 || len > SCHED_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9');
		if (!alnum && (i == 0 || strchr("_.+-", c) == NULL))
			return false;
	}
	return true;
}

static const struct {
	int sig;
	const char *name;
} signals[] = {
	{SIGHUP, "SIGHUP"},   {SIGINT, "SIGINT"},   {SIGQUIT, "SIGQUIT"}, {SIGILL, "SIGILL"},
	{SIGTRAP, "SIGTRAP"}, {SIGABRT, "SIGABRT"}, {SIGBUS, "SIGBUS"},   {SIGFPE, "SIGFPE"},
	{SIGKILL, "SIGKILL"}, {SIGUSR1, "SIGUSR1"}, {SIGSEGV, "SIGSEGV"}, {SIGUSR2, "SIGUSR2"},
	{SIGPIPE, "SIGPIPE"}, {SIGALRM, "SIGALRM"}, {SIGTERM, "SIGTERM"}, {SIGCHLD, "SIGCHLD"},
	{SIGCONT, "SIGCONT"}, {SIGSTOP, "SIGSTOP"}, {SIGTSTP, "SIGTSTP"}, {SIGXCPU, "SIGXCPU"},
	{SIGXFSZ, "SIGXFSZ"}, {SIGSYS, "SIGSYS"},   {SIGWINCH, "SIGWINCH"}, {SIGURG, "SIGURG"},
	{SIGTTIN, "SIGTTIN"}, {SIGTTOU, "SIGTTOU"}, {SIGIO, "SIGIO"},     {SIGPWR, "SIGPWR"},
	{SIGPROF, "SIGPROF"}, {SIGVTALRM, "SIGVTALRM"}, {SIGSTKFLT, "SIGSTKFLT"},
};

/* A whole decimal number from 0 to 999 that ends the string: it, or -1. */
static long
small_number(const char *s)
{
	char *end;
	long n;

	if (*s < '0' || *s > '9')
		return -1;
	n = strtol(s, &end, 10);
	return (*end == '\0' && n < 1000) ? n : -1;
}

/* The real-time signals as kill(1) names them: RTMIN, RTMIN+N, RTMAX-N, RTMAX. */
static int
rt_parse(const char *s)
{
	long n = 0;

	if (strncasecmp(s, "RTMIN", 5) == 0) {
		if (s[5] != '\0' && (s[5] != '+' || (n = small_number(s + 6)) < 0))
			return -1;
		n += SIGRTMIN;
	} else if (strncasecmp(s, "RTMAX", 5) == 0) {
		if (s[5] != '\0' && (s[5] != '-' || (n = small_number(s + 6)) < 0))
			return -1;
		n = SIGRTMAX - n;
	} else {
		return -1;
	}
	return (n >= SIGRTMIN && n <= SIGRTMAX) ? (int)n : -1;
}

int
signal_parse(const char *s)
{
	long n;

	if (s == NULL || *s == '\0')
		return -1;
	if (*s >= '0' && *s <= '9') {
		n = small_number(s);
		return (n > 0 && n < NSIG) ? (int)n : -1;
	}
	if (strncasecmp(s, "SIG", 3) == 0) {
		s += 3;
		if (*s >= '0' && *s <= '9') { /* "SIG32", as signal_name says it */
			n = small_number(s);
			return (n >= 32 && n < SIGRTMIN) ? (int)n : -1;
		}
	}
	for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++) {
		if (strcasecmp(s, signals[i].name + 3) == 0)
			return signals[i].sig;
	}
	return rt_parse(s);
}

const char *
signal_name(int sig)
{
	/* Names of the numbers past the table, made once: "SIGRTMIN+N" or "SIG32". */
	static char extra[NSIG][24];

	for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		if (signals[i].sig == sig)
			return signals[i].name;
	if (sig < 32 || sig >= NSIG || sig > SIGRTMAX)
		return "SIG?";
	if (extra[sig][0] == '\0') {
		if (sig < SIGRTMIN) /* kept by the C library for its threads: no name */
			snprintf(extra[sig], sizeof(extra[sig]), "SIG%d", sig);
		else if (sig == SIGRTMIN)
			snprintf(extra[sig], sizeof(extra[sig]), "SIGRTMIN");
		else
			snprintf(extra[sig], sizeof(extra[sig]), "SIGRTMIN+%d", sig - SIGRTMIN);
	}
	return extra[sig];
}

/* The length of the valid UTF-8 character at s (of avail bytes), or 0. */
static size_t
utf8_char(const unsigned char *s, size_t avail)
{
	unsigned char c = s[0];
	size_t n;
	unsigned char lo = 0x80, hi = 0xBF;

	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF)
		n = 3;
	else if (c >= 0xF0 && c <= 0xF4)
		n = 4;
	else
		return 0;
	if (n > avail)
		return 0;
	/* No overlong forms, no surrogates, nothing past U+10FFFF. */
	if (c == 0xE0)
		lo = 0xA0;
	else if (c == 0xED)
		hi = 0x9F;
	else if (c == 0xF0)
		lo = 0x90;
	else if (c == 0xF4)
		hi = 0x8F;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return n;
}

bool
utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n;

	while (i < len) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if ((n = utf8_char(p + i, len - i)) == 0)
			return false;
		i += n;
	}
	return true;
}

void
utf8_sanitize(char *s)
{
	unsigned char *p = (unsigned char *)s, *end = p + strlen(s);

	while (*p != '\0') {
		size_t n = *p < 0x80 ? 1 : utf8_char(p, (size_t)(end - p));
		if (n > 0)
			p += n;
		else
			*p++ = '?';
	}
}

void
text_sanitize(char *s)
{
	unsigned char *p = (unsigned char *)s, *end = p + strlen(s);

	while (*p != '\0') {
		size_t n = 0;
		if (*p >= 0x20 && *p < 0x7F)
			n = 1;
		else if (*p >= 0x80)
			n = utf8_char(p, (size_t)(end - p));
		if (n > 0)
			p += n;
		else
			*p++ = '?'; /* a control character, or not UTF-8 */
	}
}
