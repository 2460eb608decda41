/*-------------------------------------------------------------------------
 *
 * nadia_mcp.h
 *		The constants every file of nadia-mcp (the stdio MCP server of
 *		nadia_bgw) shares: its name and version, the JSON-RPC error codes,
 *		and the limits set on the command line.
 *
 * This header is the bottom of the program and includes no other header
 * of it.  Each .c file declares its own API in the header named after it,
 * and the files depend on each other one way only, from top to bottom:
 *
 *	main.c		options, start-up, the stdin loop
 *	jsonrpc.c	one line of input -> one line of output: framing checks,
 *				JSON-RPC 2.0 envelopes, error codes, batches
 *	protocol.c	the server's state and the MCP methods: initialize, ping,
 *				tools/list, tools/call
 *	schema.c	JSON Schemas of the tools and validation of arguments
 *	results.c	query results -> structuredContent, with size bounds
 *	db.c		libpq: session setup, one read-only transaction per call,
 *				statement_timeout, the cross-process concurrency slots
 *	tools.c		the fixed catalogue of tools and their SQL (data only)
 *	security.c	the least-privilege checks run before serving
 *	ratelimit.c	requests per minute and heavy tools per hour
 *	text.c		UTF-8 and string helpers
 *	log.c		messages for humans, on stderr
 *
 * A file may use only files below it (docs/mcp.md, "Code layout", draws
 * the exact graph).  Nothing here ever turns client input into SQL text:
 * tool arguments are validated against a fixed schema and sent as query
 * parameters.
 *
 *-------------------------------------------------------------------------
 */
#ifndef NADIA_MCP_H
#define NADIA_MCP_H

#include <stddef.h>

#define NADIA_MCP_NAME		"nadia-mcp"
#define NADIA_MCP_VERSION	"1.0.0"

/*
 * JSON-RPC 2.0 error codes: jsonrpc.c answers most of them, protocol.c the
 * ones about a method's params
 */
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
 * The largest --max-concurrent: the concurrency slots are the views
 * nadia_bgw.mcp_slot_1..MCP_MAX_SLOTS of nadia_bgw 1.1
 * (sql/1.1/70_mcp_slots.sql makes that many); see db.c
 */
#define MCP_MAX_SLOTS				16

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

#endif							/* NADIA_MCP_H */
