/* Scheduler names and signal names: what a client may say, in one place. */
#ifndef SCHEDLIFE_NAMES_H
#define SCHEDLIFE_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#define SCHED_NAME_MAX 64

/* [A-Za-z0-9][A-Za-z0-9_.+-]{0,63} */
bool sched_name_valid(const char *name);

/* "TERM", "SIGTERM", "term", "15", "RTMIN+3" or "SIGRTMAX-2" to a signal number; -1 if
 * unknown. */
int signal_parse(const char *s);
/* "SIGTERM" for 15, "SIGRTMIN+N" for a real-time signal (as kill(1) names them), "SIG32"
 * for one the C library keeps; "SIG?" for a number that is no signal. */
const char *signal_name(int sig);

/* Is s (len bytes) valid UTF-8 (RFC 3629: no overlong forms, no surrogates)? */
bool utf8_valid(const char *s, size_t len);

/* Make s valid UTF-8 in place: each byte that is not part of a valid character becomes
 * '?' (a scheduler's log line may hold anything; JSON escapes the control characters). */
void utf8_sanitize(char *s);

/*
 * Make text safe to show, in place: bytes that are not valid UTF-8 (a character cut by
 * a length limit, say) and control characters (a newline that would forge a log line)
 * become '?'. Messages that quote what a client sent pass through here.
 */
void text_sanitize(char *s);

#endif
