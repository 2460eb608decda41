/*-------------------------------------------------------------------------
 *
 * fuzz_message.c
 *		libFuzzer target over nadia-mcp's message handler.
 *
 * An input is split into lines and each line goes through
 * mcp_handle_message() of one fresh server, as stdin lines would, so that
 * sequences (initialize, then batches or tool calls) are reachable.  The
 * database is replaced by a run_tool hook that answers from memory: it
 * builds a real PGresult (PQmakeEmptyPGresult/PQsetvalue) with the tool's
 * columns, and, chosen by the bytes of the input, also answers with each
 * failure outcome (busy, timeout, missing source, lost connection), so
 * every path of protocol.c and results.c is exercised without a server.
 * Every answer must be valid JSON and a JSON-RPC response; anything else
 * aborts, and ASan/LSan catch memory errors and leaks.
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonrpc.h"
#include "log.h"
#include "protocol.h"
#include "tools.h"

static unsigned int outcome_seed;

static const char *
sample_value(ColKind kind, int row)
{
	switch (kind)
	{
		case COL_INT:
			return row ? "9007199254740993" : "42";
		case COL_NUM:
			return row ? "NaN" : "3.25";
		case COL_ID:
			return "-6480235931218373171";
		case COL_TIME:
			return row ? "infinity" : "2026-11-30 05:54:23.123456+00";
		case COL_BOOL:
			return row ? "f" : "t";
		case COL_JSON:
			return row ? "{not json" : "{\"a\": [1, 2, {\"b\": null}]}";
		case COL_TEXT:
			return row ? "caf\xc3\xa9 \xe2\x80\xa6" : "SELECT $1";
	}
	return "";
}

static DbOutcome
fake_run_tool(McpServer *srv, const ToolDef *tool, const char *sql,
			  const char *const *values, PGresult **result, char *errbuf,
			  size_t errlen)
{
	PGresAttDesc attrs[64];
	PGresult   *res;
	int			rows;

	(void) srv;
	(void) sql;
	(void) values;
	*result = NULL;
	switch (outcome_seed++ % 7)
	{
		case 1:
			snprintf(errbuf, errlen, "all slots taken");
			return DB_BUSY;
		case 2:
			snprintf(errbuf, errlen, "canceling statement due to statement timeout");
			return DB_TIMEOUT;
		case 3:
			snprintf(errbuf, errlen, "relation \"%s\" does not exist",
					 tool->optional_relation ? tool->optional_relation : "nadia_bgw.alerts");
			return DB_MISSING;
		case 4:
			snprintf(errbuf, errlen, "server closed the connection unexpectedly");
			return DB_UNAVAILABLE;
		default:
			break;
	}
	res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	memset(attrs, 0, sizeof(attrs));
	for (int c = 0; c < tool->ncols && c < 64; c++)
	{
		attrs[c].name = (char *) tool->cols[c].name;
		attrs[c].format = 0;
		attrs[c].typid = 25;
		attrs[c].typlen = -1;
		attrs[c].atttypmod = -1;
	}
	if (!PQsetResultAttrs(res, tool->ncols, attrs))
		abort();
	/* 0, 2 or (more than a small max_rows) rows */
	rows = (outcome_seed % 3) * 2 + (outcome_seed % 5 == 0 ? 7 : 0);
	for (int r = 0; r < rows; r++)
		for (int c = 0; c < tool->ncols; c++)
		{
			if ((r + c) % 5 == 4)
				PQsetvalue(res, r, c, NULL, -1);	/* SQL NULL */
			else
			{
				const char *v = sample_value(tool->cols[c].kind, r % 2);

				PQsetvalue(res, r, c, (char *) v, strlen(v));
			}
		}
	*result = res;
	return DB_OK;
}

/* an answer must be JSON: an object or a non-empty array of objects */
static void
check_answer(const char *out)
{
	cJSON	   *j = cJSON_Parse(out);

	if (j == NULL)
		abort();
	if (cJSON_IsArray(j))
	{
		cJSON	   *item;

		if (cJSON_GetArraySize(j) == 0)
			abort();
		cJSON_ArrayForEach(item, j)
			if (!cJSON_IsObject(item) ||
				!cJSON_HasObjectItem(item, "id") ||
				(cJSON_HasObjectItem(item, "result") == cJSON_HasObjectItem(item, "error")))
			abort();
	}
	else if (!cJSON_IsObject(j) || !cJSON_HasObjectItem(j, "id") ||
			 cJSON_HasObjectItem(j, "result") == cJSON_HasObjectItem(j, "error"))
		abort();
	if (strchr(out, '\n') != NULL)
		abort();				/* one message, one line */
	cJSON_Delete(j);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	McpLimits	limits = {
		.max_message_bytes = 4096,
		.statement_timeout_ms = 1000,
		.rate_per_minute = 20,
		.max_concurrent = 3,
		.heavy_per_hour = 3,
		.max_rows = 5,
		.max_result_bytes = 2048,
	};
	McpServer	srv;
	size_t		start = 0;

	outcome_seed = size ? data[0] : 0;
	mcp_log_silence(true);
	server_init(&srv, &limits, NULL);
	srv.run_tool = fake_run_tool;
	for (size_t i = 0; i <= size; i++)
	{
		if (i == size || data[i] == '\n')
		{
			char	   *out = mcp_handle_message(&srv, (const char *) data + start,
												 i - start);

			if (out != NULL)
			{
				check_answer(out);
				free(out);
			}
			start = i + 1;
		}
	}
	server_free(&srv);
	return 0;
}
