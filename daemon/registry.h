/* The registry: which schedulers there are (list) and what a name runs (resolve). */
#ifndef SCHEDLIFE_REGISTRY_H
#define SCHEDLIFE_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "identity.h"
#include "proto.h"

/*
 * Turn a request's name, mode and args into an identity. privileged: the caller is root
 * (may pass args to any entry, and absolute paths when allow_paths is set).
 * Errors: E_INVALID_NAME, E_UNKNOWN_SCHEDULER, E_PERMISSION_DENIED, E_BAD_REQUEST
 * (unknown mode), each with a message in err.
 */
enum proto_err registry_resolve(const struct config *c, const char *name, const char *mode,
				char *const *client_args, bool privileged, struct identity **out,
				char *err, size_t errlen);

/* list's result: config entries, then scx_* executables found on discover_path. */
cJSON *registry_list(const struct config *c);

#endif
