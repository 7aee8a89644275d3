/* Validation of scheduler names and the table of signal names. */
#include "names.h"

#include <signal.h>
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
	{SIGXFSZ, "SIGXFSZ"}, {SIGSYS, "SIGSYS"},   {SIGWINCH, "SIGWINCH"},
};

int
signal_parse(const char *s)
{
	char *end;
	long n;

	if (s == NULL || *s == '\0')
		return -1;
	if (*s >= '0' && *s <= '9') {
		n = strtol(s, &end, 10);
		return (*end == '\0' && n > 0 && n < NSIG) ? (int)n : -1;
	}
	for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++) {
		if (strcasecmp(s, signals[i].name) == 0 || strcasecmp(s, signals[i].name + 3) == 0)
			return signals[i].sig;
	}
	return -1;
}

const char *
signal_name(int sig)
{
	for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		if (signals[i].sig == sig)
			return signals[i].name;
	return "SIG?";
}

/* The length of the valid UTF-8 character at s, or 0. */
static size_t
utf8_char(const unsigned char *s)
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

void
text_sanitize(char *s)
{
	unsigned char *p = (unsigned char *)s;

	while (*p != '\0') {
		size_t n = 0;
		if (*p >= 0x20 && *p < 0x7F)
			n = 1;
		else if (*p >= 0x80)
			n = utf8_char(p);
		if (n > 0)
			p += n;
		else
			*p++ = '?'; /* a control character, or not UTF-8 */
	}
}
