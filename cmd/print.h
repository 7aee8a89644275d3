/* schedctl's two output backends over one result: JSON lines and short human lines. */
#ifndef SCHEDCTL_PRINT_H
#define SCHEDCTL_PRINT_H

#include <cjson/cJSON.h>

/* The JSON backend: obj as one line on stdout. */
void print_json(const cJSON *obj);

/* The human backend, one printer per result kind, all on stdout. */
typedef void human_printer(const cJSON *result);
human_printer print_status;
human_printer print_list;
human_printer print_attach;
human_printer print_detach;
human_printer print_kill;
human_printer print_replace;
human_printer print_wait;
human_printer print_event;
human_printer print_hello;

/* What an error object says beyond its message (log lines, a rollback), on stderr. */
void print_error_details(const cJSON *error);

#endif
