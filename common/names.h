/* Scheduler names and signal names: what a client may say, in one place. */
#ifndef SCHEDLIFE_NAMES_H
#define SCHEDLIFE_NAMES_H

#include <stdbool.h>

#define SCHED_NAME_MAX 64

/* [A-Za-z0-9][A-Za-z0-9_.+-]{0,63} */
bool sched_name_valid(const char *name);

/* "TERM", "SIGTERM", "term", "15", "RTMIN+3" or "SIGRTMAX-2" to a signal number; -1 if
 * unknown. */
int signal_parse(const char *s);
/* "SIGTERM" for 15, "SIGRTMIN+N" for a real-time signal (as kill(1) names them), "SIG32"
 * for one the C library keeps; "SIG?" for a number that is no signal. */
const char *signal_name(int sig);

/*
 * Make text safe to show, in place: bytes that are not valid UTF-8 (a character cut by
 * a length limit, say) and control characters (a newline that would forge a log line)
 * become '?'. Messages that quote what a client sent pass through here.
 */
void text_sanitize(char *s);

#endif
