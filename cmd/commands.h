/* schedctl's commands, one function each; schedctl.c's table points at them. */
#ifndef SCHEDCTL_COMMANDS_H
#define SCHEDCTL_COMMANDS_H

#include "schedctl.h"

typedef int command_fn(const struct ctl *ctl, const struct cmd_args *a);

command_fn cmd_status;
command_fn cmd_list;
command_fn cmd_attach;
command_fn cmd_detach;
command_fn cmd_kill;
command_fn cmd_replace;
command_fn cmd_restart;
command_fn cmd_logs;
command_fn cmd_events;
command_fn cmd_wait;
command_fn cmd_version;

/* A failure found before asking the daemon, reported as the daemon would report it. */
int report_local_error(const struct ctl *ctl, enum proto_err code, const char *message);

#endif
