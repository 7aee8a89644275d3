/* One schedulers[] entry of schedlifed.json: its keys, and its timing over the defaults. */
#ifndef SCHEDLIFE_CONFIG_ENTRY_H
#define SCHEDLIFE_CONFIG_ENTRY_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "config_walk.h"

/*
 * schedulers[i] (at path) into p->c->schedulers[i], its timing keys into p->entry_t[i].
 * Its name must differ from those of the entries before it.
 */
int entry_parse(struct parser *p, const char *path, const cJSON *item, size_t i);
/* After the walk: each entry's timing is the defaults with its own keys over them. */
void apply_entry_timing(struct parser *p);

#endif
