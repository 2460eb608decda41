/*-------------------------------------------------------------------------
 *
 * protocol.c
 *		The MCP methods of nadia-mcp: initialize (with version negotiation),
 *		notifications/initialized, ping, tools/list and tools/call, and the
 *		state of one server (McpServer) they share.
 *
 * jsonrpc.c hands over a well-formed request; this file decides what it
 * means.  tools/call is where the limits meet: arguments are checked
 * against the tool's schema (-32602 when wrong), then the rate limiter
 * admits the call or answers isError with a retry-after, then the query
 * runs through db.c in a read-only transaction.  Failures of the data
 * source (a module not installed yet, a timeout, a lost connection) are
 * tool results with isError, worded for the model that reads them, never
 * protocol errors and never a crash.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include "db.h"
#include "log.h"
#include "nadia_mcp.h"
#include "protocol.h"
#include "ratelimit.h"
#include "results.h"
#include "schema.h"
#include "text.h"
#include "tools.h"

/* newest first: an unknown request is answered with the first */
static const char *const supported_versions[] = {
	"2025-06-18",
	"2025-03-26",
	"2024-11-05",
};
#define N_VERSIONS (sizeof(supported_versions) / sizeof(supported_versions[0]))

/*
 * outputSchema, title and structuredContent came with 2025-06-18; older
 * clients get the same JSON as text content only.
 */
static bool
structured_output(const McpServer *srv)
{
	return srv->protocol_version == NULL ||
		strcmp(srv->protocol_version, "2025-06-18") >= 0;
}

/* Batches exist in 2025-03-26 only (added then, removed in 2025-06-18). */
bool
protocol_allows_batches(const McpServer *srv)
{
	return srv->protocol_version != NULL &&
		strcmp(srv->protocol_version, "2025-03-26") == 0;
}

/*
 * The query parameters of a call: every argument but "limit", in the
 * order of the tool's ToolArgs, then the row cap, one more than may be
 * shown so that results.c knows when it cut.  Returns their number and
 * sets *cap to the rows that may be shown (the smaller of the tool's
 * "limit" and max_rows).  With values NULL, only counts them.
 */
static int
call_params(const ToolDef *tool, char **values, int max_rows,
			const char **params, char *capbuf, size_t caplen, int *cap)
{
	int			np = 0;

	*cap = max_rows;
	for (int i = 0; i < tool->nargs; i++)
	{
		if (strcmp(tool->args[i].name, "limit") == 0)
		{
			if (values && atoi(values[i]) < *cap)
				*cap = atoi(values[i]);
			continue;
		}
		if (values)
			params[np] = values[i];
		np++;
	}
	if (values)
	{
		snprintf(capbuf, caplen, "%d", *cap + 1);
		params[np] = capbuf;
	}
	return np + 1;
}

static DbOutcome
default_run_tool(McpServer *srv, const ToolDef *tool, const char *sql,
				 const char *const *values, PGresult **result,
				 char *errbuf, size_t errlen)
{
	int			cap;
	int			nparams = call_params(tool, NULL, 0, NULL, NULL, 0, &cap);

	if (srv->db == NULL)
	{
		snprintf(errbuf, errlen, "no database connection");
		return DB_UNAVAILABLE;
	}
	return db_run_tool(srv->db, &srv->limits, sql, nparams, values,
					   result, errbuf, errlen);
}

void
server_init(McpServer *srv, const McpLimits *limits, McpDb *db)
{
	memset(srv, 0, sizeof(*srv));
	srv->limits = *limits;
	srv->db = db;
	srv->run_tool = default_run_tool;
	ratelimit_init(&srv->rl, limits->rate_per_minute, limits->heavy_per_hour);
}

void
server_free(McpServer *srv)
{
	ratelimit_free(&srv->rl);
}

static cJSON *
do_initialize(McpServer *srv, const cJSON *params, int *code, char **message)
{
	const cJSON *requested;
	const char *version = supported_versions[0];
	cJSON	   *result;
	cJSON	   *caps;
	cJSON	   *info;

	if (srv->initialized)
	{
		*code = RPC_INVALID_REQUEST;
		*message = strdup("invalid request: the session is already initialized");
		return NULL;
	}
	requested = params ? cJSON_GetObjectItemCaseSensitive(params, "protocolVersion") : NULL;
	if (!cJSON_IsString(requested))
	{
		*code = RPC_INVALID_PARAMS;
		*message = strdup("invalid params: \"protocolVersion\" (a string) is required");
		return NULL;
	}
	for (size_t i = 0; i < N_VERSIONS; i++)
		if (strcmp(requested->valuestring, supported_versions[i]) == 0)
			version = supported_versions[i];
	srv->protocol_version = version;
	srv->initialized = true;

	result = cJSON_CreateObject();
	cJSON_AddStringToObject(result, "protocolVersion", version);
	caps = cJSON_AddObjectToObject(result, "capabilities");
	cJSON_AddFalseToObject(cJSON_AddObjectToObject(caps, "tools"), "listChanged");
	info = cJSON_AddObjectToObject(result, "serverInfo");
	cJSON_AddStringToObject(info, "name", NADIA_MCP_NAME);
	if (structured_output(srv))
		cJSON_AddStringToObject(info, "title", "nadia_bgw monitoring history");
	cJSON_AddStringToObject(info, "version", NADIA_MCP_VERSION);
	cJSON_AddStringToObject(result, "instructions",
							"Read-only PostgreSQL monitoring tools over the history that the "
							"nadia_bgw background worker samples. No tool accepts SQL or reads "
							"application tables. Time ranges (\"since\") take a duration such as "
							"\"90m\", \"24h\", \"7d\" or an ISO 8601 timestamp.");
	return result;
}

static cJSON *
tool_description(const McpServer *srv, const ToolDef *tool)
{
	cJSON	   *t = cJSON_CreateObject();
	cJSON	   *ann;

	cJSON_AddStringToObject(t, "name", tool->name);
	if (structured_output(srv))
		cJSON_AddStringToObject(t, "title", tool->title);
	cJSON_AddStringToObject(t, "description", tool->description);
	cJSON_AddItemToObject(t, "inputSchema", schema_input(tool));
	if (structured_output(srv))
		cJSON_AddItemToObject(t, "outputSchema", schema_output(tool));
	if (srv->protocol_version == NULL ||
		strcmp(srv->protocol_version, "2025-03-26") >= 0)
	{
		ann = cJSON_AddObjectToObject(t, "annotations");
		cJSON_AddStringToObject(ann, "title", tool->title);
		cJSON_AddTrueToObject(ann, "readOnlyHint");
		cJSON_AddFalseToObject(ann, "destructiveHint");
		cJSON_AddTrueToObject(ann, "idempotentHint");
		cJSON_AddFalseToObject(ann, "openWorldHint");
	}
	return t;
}

static cJSON *
do_tools_list(McpServer *srv)
{
	int			n;
	const ToolDef *tools = tools_all(&n);
	cJSON	   *result = cJSON_CreateObject();
	cJSON	   *list = cJSON_AddArrayToObject(result, "tools");

	for (int i = 0; i < n; i++)
		cJSON_AddItemToArray(list, tool_description(srv, &tools[i]));
	return result;
}

/* A tool result that reports a failure to the model (isError). */
static cJSON *
tool_error(const char *text, double retry_after)
{
	cJSON	   *result = cJSON_CreateObject();
	cJSON	   *content = cJSON_AddArrayToObject(result, "content");
	cJSON	   *item = cJSON_CreateObject();

	cJSON_AddStringToObject(item, "type", "text");
	cJSON_AddStringToObject(item, "text", text);
	cJSON_AddItemToArray(content, item);
	cJSON_AddTrueToObject(result, "isError");
	if (retry_after > 0)
		cJSON_AddNumberToObject(cJSON_AddObjectToObject(result, "_meta"),
								"retryAfterSeconds", ceil(retry_after));
	return result;
}

static cJSON *
tool_success(McpServer *srv, cJSON *structured)
{
	cJSON	   *result = cJSON_CreateObject();
	cJSON	   *content = cJSON_AddArrayToObject(result, "content");
	cJSON	   *item = cJSON_CreateObject();
	char	   *text = cJSON_PrintUnformatted(structured);

	cJSON_AddStringToObject(item, "type", "text");
	cJSON_AddStringToObject(item, "text", text ? text : "{}");
	free(text);
	cJSON_AddItemToArray(content, item);
	if (structured_output(srv))
		cJSON_AddItemToObject(result, "structuredContent", structured);
	else
		cJSON_Delete(structured);
	cJSON_AddFalseToObject(result, "isError");
	return result;
}

static cJSON *
outcome_error(McpServer *srv, const ToolDef *tool, DbOutcome outcome,
			  const char *detail)
{
	char		text[2048];
	const char *dbname = srv->db ? db_name(srv->db) : "?";

	switch (outcome)
	{
		case DB_BUSY:
			snprintf(text, sizeof(text),
					 "rate limited: %d tool calls are already running against database \"%s\" "
					 "(limit of concurrent calls); retry after 1 s",
					 srv->limits.max_concurrent, dbname);
			return tool_error(text, 1);
		case DB_TIMEOUT:
			snprintf(text, sizeof(text),
					 "%s did not finish within the statement timeout of %d ms and was cancelled; "
					 "try a shorter time range",
					 tool->name, srv->limits.statement_timeout_ms);
			break;
		case DB_MISSING:
			snprintf(text, sizeof(text),
					 "%s is not available in database \"%s\": its data source (%s) is not there "
					 "(%s). It is written by %s; the tool answers once that part of nadia_bgw is "
					 "installed and has run.",
					 tool->name, dbname, tool->sources, detail, tool->provider);
			break;
		case DB_DENIED:
			snprintf(text, sizeof(text),
					 "%s is not available: the role \"%s\" may not read its data source (%s): %s. "
					 "Grant nadia_bgw_reader to the role.",
					 tool->name, srv->db ? db_user(srv->db) : "?", tool->sources, detail);
			break;
		case DB_UNAVAILABLE:
			snprintf(text, sizeof(text),
					 "%s failed: the database connection is not available (%s)",
					 tool->name, detail);
			break;
		case DB_REFUSED:
			snprintf(text, sizeof(text),
					 "%s refused: %s; nothing is served from a connection until it passes the "
					 "check, and the next call tries to connect again",
					 tool->name, detail);
			break;
		default:
			snprintf(text, sizeof(text), "%s failed: %s", tool->name, detail);
			break;
	}
	return tool_error(text, 0);
}

static cJSON *
do_tools_call(McpServer *srv, const cJSON *params, int *code, char **message)
{
	const cJSON *name;
	const cJSON *arguments;
	const ToolDef *tool;
	char	   *values[MAX_TOOL_ARGS] = {0};
	const char *sqlvalues[MAX_TOOL_ARGS + 1];
	char		capbuf[32];
	char		errbuf[1024];
	const char *which;
	int			limit;
	double		retry_after;
	int			cap;
	PGresult   *res = NULL;
	DbOutcome	outcome;
	cJSON	   *structured;
	bool		fallback = false;

	name = params ? cJSON_GetObjectItemCaseSensitive(params, "name") : NULL;
	if (!cJSON_IsString(name))
	{
		*code = RPC_INVALID_PARAMS;
		*message = strdup("invalid params: \"name\" (a string) is required");
		return NULL;
	}
	tool = tools_find(name->valuestring);
	if (tool == NULL)
	{
		*code = RPC_INVALID_PARAMS;
		*message = text_printf("invalid params: unknown tool \"%.*s\"",
							   (int) utf8_prefix(name->valuestring, 100),
							   name->valuestring);
		return NULL;
	}
	arguments = cJSON_GetObjectItemCaseSensitive(params, "arguments");
	if (arguments != NULL && !cJSON_IsObject(arguments) && !cJSON_IsNull(arguments))
	{
		*code = RPC_INVALID_PARAMS;
		*message = strdup("invalid params: \"arguments\" must be an object");
		return NULL;
	}
	if (!schema_bind_args(tool, cJSON_IsObject(arguments) ? arguments : NULL,
						  values, errbuf, sizeof(errbuf)))
	{
		*code = RPC_INVALID_PARAMS;
		*message = text_printf("invalid params: tool %s: %s", tool->name, errbuf);
		return NULL;
	}

	if (!ratelimit_admit(&srv->rl, tool->heavy, ratelimit_now(), &which,
						 &limit, &retry_after))
	{
		char		text[512];

		schema_free_args(tool, values);
		snprintf(text, sizeof(text),
				 "rate limited: %s allows %d %s; retry after %.0f s",
				 which, limit,
				 strcmp(which, "heavy_per_hour") == 0 ?
				 "heavy tool calls an hour" : "tool calls a minute",
				 ceil(retry_after));
		mcp_log("tool %s refused: %s limit", tool->name, which);
		return tool_error(text, retry_after);
	}

	call_params(tool, values, srv->limits.max_rows, sqlvalues, capbuf,
				sizeof(capbuf), &cap);

	errbuf[0] = '\0';
	outcome = srv->run_tool(srv, tool, tool->sql, sqlvalues, &res, errbuf,
							sizeof(errbuf));

	/*
	 * A tool whose query joins an optional module's relation answers
	 * without it while that module is not installed, and says so.
	 */
	if (outcome == DB_MISSING && tool->fallback_sql &&
		strstr(errbuf, tool->optional_relation) != NULL)
	{
		if (res)
			PQclear(res);
		res = NULL;
		errbuf[0] = '\0';
		outcome = srv->run_tool(srv, tool, tool->fallback_sql, sqlvalues, &res,
								errbuf, sizeof(errbuf));
		fallback = true;
	}
	schema_free_args(tool, values);
	if (outcome != DB_OK)
	{
		if (res)
			PQclear(res);
		mcp_log("tool %s: %s", tool->name, errbuf);
		return outcome_error(srv, tool, outcome, errbuf);
	}
	{
		McpLimits	lim = srv->limits;

		lim.max_rows = cap;
		structured = results_to_json(tool, res, &lim, errbuf, sizeof(errbuf));
	}
	PQclear(res);
	if (structured == NULL)
		return outcome_error(srv, tool, DB_ERROR, errbuf);
	if (fallback && !cJSON_HasObjectItem(structured, "note"))
		cJSON_AddStringToObject(structured, "note", tool->fallback_note);
	return tool_success(srv, structured);
}

cJSON *
protocol_dispatch(McpServer *srv, const char *method, const cJSON *params,
				  bool is_notification, int *code, char **message)
{
	if (is_notification)
	{
		/* notifications are never answered, known or not */
		if (strcmp(method, "notifications/initialized") == 0)
			srv->client_ready = true;
		return NULL;
	}
	if (strcmp(method, "initialize") == 0)
		return do_initialize(srv, params, code, message);
	if (strcmp(method, "ping") == 0)
		return cJSON_CreateObject();
	if (strcmp(method, "tools/list") == 0)
		return do_tools_list(srv);
	if (strcmp(method, "tools/call") == 0)
		return do_tools_call(srv, params, code, message);

	*code = RPC_METHOD_NOT_FOUND;
	*message = text_printf("method not found: %.*s",
						   (int) utf8_prefix(method, 100), method);
	return NULL;
}
