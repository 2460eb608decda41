/*-------------------------------------------------------------------------
 *
 * json.c
 *		The JSON builder of the worker: cJSON, with its memory taken from
 *		the current PostgreSQL memory context.
 *
 * Every JSON the worker writes (sample outcomes, event details, history
 * reports, NOTIFY payloads) is built as a cJSON tree and printed once, so
 * that quoting and escaping are never done by hand.  cJSON allocates with
 * malloc by default: an ERROR between building and freeing would leak.
 * Pointing its hooks at palloc/pfree makes the tree part of the memory
 * context it was built in, freed with it whatever happens; palloc raises
 * an ERROR on out-of-memory where cJSON would have returned NULL.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <cjson/cJSON.h>

#include "core/core.h"

static void *
json_alloc(size_t size)
{
	return palloc(size);
}

static void
json_free(void *ptr)
{
	if (ptr != NULL)
		pfree(ptr);
}

/* Called once from _PG_init. */
void
nadia_json_init(void)
{
	cJSON_Hooks hooks = {json_alloc, json_free};

	cJSON_InitHooks(&hooks);
}

/* The compact text of a tree, palloc'd. */
char *
nadia_json_print(const cJSON *item)
{
	char	   *printed = cJSON_PrintUnformatted(item);

	if (printed == NULL)
		elog(ERROR, "printing JSON failed");
	return printed;
}
