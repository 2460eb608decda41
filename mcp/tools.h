/*-------------------------------------------------------------------------
 *
 * tools.h
 *		What a nadia-mcp tool is, and the catalogue of them (tools.c).
 *
 * A tool is data: its arguments (ToolArg), the columns of its answer
 * (ToolColumn) and one fixed query.  schema.c builds the JSON Schemas from
 * the same tables, results.c converts the answer by them.
 *
 *-------------------------------------------------------------------------
 */
#ifndef NADIA_MCP_TOOLS_H
#define NADIA_MCP_TOOLS_H

#include <stdbool.h>

typedef enum ArgKind
{
	ARG_INT,					/* integer within [min, max] */
	ARG_TEXT,					/* string of at most max_len characters */
	ARG_SINCE,					/* duration ("90m", "24h", "7d") or ISO 8601 time */
	ARG_ENUM,					/* one of enum_values */
	ARG_ID						/* 64-bit identifier: digits as a string, or an
								 * integer a JSON number holds exactly */
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

#endif							/* NADIA_MCP_TOOLS_H */
