/*-------------------------------------------------------------------------
 *
 * nadia_mcp.h
 *		Declarations shared by the files of nadia-mcp, the stdio MCP server
 *		of nadia_bgw.
 *
 * The server is split by concern:
 *
 *	jsonrpc.c	one line of input -> one line of output: framing checks,
 *				JSON-RPC 2.0 envelopes, error codes, batches
 *	protocol.c	the MCP methods: initialize, ping, tools/list, tools/call
 *	schema.c	JSON Schemas of the tools and validation of arguments
 *	tools.c		the fixed catalogue of tools and their SQL
 *	results.c	query results -> structuredContent, with size bounds
 *	ratelimit.c	requests per minute and heavy tools per hour
 *	db.c		libpq: session setup, one read-only transaction per call,
 *				statement_timeout, the cross-process concurrency slots
 *	security.c	the least-privilege checks run before serving
 *	main.c		options, start-up, the stdin loop
 *
 * Nothing here ever turns client input into SQL text: tool arguments are
 * validated against a fixed schema and sent as query parameters.
 *
 *-------------------------------------------------------------------------
 */
#ifndef NADIA_MCP_H
#define NADIA_MCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <libpq-fe.h>

#define NADIA_MCP_NAME		"nadia-mcp"
#define NADIA_MCP_VERSION	"1.0.0"

/* JSON-RPC 2.0 error codes */
#define RPC_PARSE_ERROR		(-32700)
#define RPC_INVALID_REQUEST	(-32600)
#define RPC_METHOD_NOT_FOUND (-32601)
#define RPC_INVALID_PARAMS	(-32602)
#define RPC_INTERNAL_ERROR	(-32603)

/* Defaults of the limits (all configurable on the command line) */
#define DEFAULT_MAX_MESSAGE_BYTES	(1024 * 1024)
#define DEFAULT_STATEMENT_TIMEOUT_MS 30000
#define DEFAULT_RATE_PER_MINUTE		60
#define DEFAULT_MAX_CONCURRENT		3
#define DEFAULT_HEAVY_PER_HOUR		10
#define DEFAULT_MAX_ROWS			100
#define DEFAULT_MAX_RESULT_BYTES	(256 * 1024)

/*
 * Concurrency slots: the views nadia_bgw.mcp_slot_1..MCP_MAX_SLOTS of
 * nadia_bgw 1.1 (sql/1.1/70_mcp_slots.sql makes that many), or, on a 1.0
 * database or a standby, advisory locks of this class ("NADI")
 */
#define MCP_MAX_SLOTS				16
#define CONCURRENCY_LOCK_CLASS		1312899145

typedef struct McpLimits
{
	size_t		max_message_bytes;	/* longest accepted input line */
	int			statement_timeout_ms;	/* per tool call */
	int			rate_per_minute;	/* tool calls per minute, 0 = no limit */
	int			max_concurrent; /* tool calls at once per database, 0 = no
								 * limit */
	int			heavy_per_hour; /* heavy tool calls per hour, 0 = no limit */
	int			max_rows;		/* rows per answer */
	size_t		max_result_bytes;	/* bytes of structuredContent */
} McpLimits;

/* ratelimit.c */
typedef struct RateWindow
{
	double	   *stamps;			/* ring of the last 'cap' admission times */
	int			cap;
	int			head;			/* index of the oldest stamp */
	int			count;
	double		span;			/* seconds the window covers */
} RateWindow;

typedef struct RateLimiter
{
	RateWindow	calls;			/* every tool call */
	RateWindow	heavy;			/* heavy tool calls */
} RateLimiter;

extern void ratelimit_init(RateLimiter *rl, int per_minute, int heavy_per_hour);
extern void ratelimit_free(RateLimiter *rl);
extern bool ratelimit_admit(RateLimiter *rl, bool heavy, double now,
							const char **which, int *limit,
							double *retry_after);
extern double ratelimit_now(void);

/* db.c: outcomes of one tool query */
typedef enum DbOutcome
{
	DB_OK,
	DB_BUSY,					/* every concurrency slot is taken */
	DB_TIMEOUT,					/* statement_timeout cancelled it */
	DB_MISSING,					/* a relation or column it reads is absent */
	DB_DENIED,					/* insufficient privilege */
	DB_UNAVAILABLE,				/* connection lost and not restored */
	DB_REFUSED,					/* reconnected, but the privilege check
								 * refused the new connection */
	DB_ERROR					/* anything else */
} DbOutcome;

typedef struct McpDb McpDb;

extern McpDb *db_connect(const char *conninfo, char **errmsg);
extern void db_close(McpDb *db);
extern const char *db_name(McpDb *db);
extern const char *db_user(McpDb *db);
extern DbOutcome db_run_tool(McpDb *db, const McpLimits *limits,
							 const char *sql, int nparams,
							 const char *const *values, PGresult **result,
							 char *errbuf, size_t errlen);
extern PGconn *db_conn(McpDb *db);
extern int	db_check(McpDb *db, int max_concurrent, char ***problems);
extern void db_where(McpDb *db, char *buf, size_t len);

/* security.c */
extern int	security_check(PGconn *conn, char ***problems);
extern void security_report(const char *where, char **problems, int n);
extern void security_free(char **problems, int n);

/* tools.c and schema.c */
typedef enum ArgKind
{
	ARG_INT,					/* integer within [min, max] */
	ARG_TEXT,					/* string of at most max_len characters */
	ARG_SINCE,					/* duration ("90m", "24h", "7d") or ISO 8601 time */
	ARG_ENUM					/* one of enum_values */
} ArgKind;

typedef struct ToolArg
{
	const char *name;
	ArgKind		kind;
	const char *description;
	int			min;
	int			max;
	int			max_len;
	const char *def;			/* default, NULL = SQL NULL (no filter) */
	const char *const *enum_values;
} ToolArg;

typedef enum ColKind
{
	COL_INT,					/* integral number */
	COL_NUM,					/* real number */
	COL_TEXT,
	COL_ID,						/* 64-bit identifier, sent as a string */
	COL_TIME,					/* timestamptz, sent as RFC 3339 UTC */
	COL_BOOL,
	COL_JSON					/* jsonb, sent as JSON */
} ColKind;

typedef struct ToolColumn
{
	const char *name;
	ColKind		kind;
	const char *description;
} ToolColumn;

#define MAX_TOOL_ARGS 6

typedef struct ToolDef
{
	const char *name;
	const char *title;
	const char *description;
	ToolArg		args[MAX_TOOL_ARGS];
	int			nargs;
	const ToolColumn *cols;
	int			ncols;
	/* $1..$nargs are the arguments in order, $nargs+1 the row cap */
	const char *sql;
	const char *sources;		/* relations read, for "not available" */
	const char *provider;		/* nadia_bgw module that fills them */
	const char *empty_note;		/* said when no row comes back */
	bool		heavy;			/* counts against heavy_per_hour */
	/* a relation the query may lack, and the query to run then */
	const char *optional_relation;
	const char *fallback_sql;
	const char *fallback_note;
} ToolDef;

extern const ToolDef *tools_all(int *n);
extern const ToolDef *tools_find(const char *name);

extern cJSON *schema_input(const ToolDef *tool);
extern cJSON *schema_output(const ToolDef *tool);
extern bool schema_bind_args(const ToolDef *tool, const cJSON *arguments,
							 char **values, char *errbuf, size_t errlen);
extern void schema_free_args(const ToolDef *tool, char **values);
extern bool parse_since(const char *s, char *out, size_t outlen);

/* results.c */
extern cJSON *results_to_json(const ToolDef *tool, PGresult *res,
							  const McpLimits *limits, char *errbuf,
							  size_t errlen);

/* protocol.c and jsonrpc.c */
typedef struct McpServer
{
	McpLimits	limits;
	McpDb	   *db;				/* NULL when fuzzing */
	RateLimiter rl;
	bool		initialized;	/* initialize answered */
	bool		client_ready;	/* notifications/initialized seen */
	const char *protocol_version;	/* negotiated */
	/* hook used by the fuzzer in place of db_run_tool */
	DbOutcome	(*run_tool) (struct McpServer *srv, const ToolDef *tool,
							 const char *sql, const char *const *values,
							 PGresult **result, char *errbuf, size_t errlen);
} McpServer;

extern void server_init(McpServer *srv, const McpLimits *limits, McpDb *db);
extern void server_free(McpServer *srv);

/* returns NULL when there is nothing to answer (notifications) */
extern char *mcp_handle_message(McpServer *srv, const char *buf, size_t len);
extern size_t utf8_prefix(const char *s, size_t max);
extern char *rpc_error_line(const cJSON *id, int code, const char *message);

/* protocol.c: set *code (non-zero) and *message on error */
extern cJSON *protocol_dispatch(McpServer *srv, const char *method,
								const cJSON *params, bool is_notification,
								int *code, char **message);
extern bool protocol_allows_batches(const McpServer *srv);

/* main.c */
extern void mcp_log(const char *fmt,...) __attribute__((format(printf, 1, 2)));

#endif							/* NADIA_MCP_H */
