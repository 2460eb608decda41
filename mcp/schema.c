/*-------------------------------------------------------------------------
 *
 * schema.c
 *		JSON Schemas of the nadia-mcp tools, and the checks that turn a
 *		client's "arguments" into query parameters.
 *
 * The schema a client sees in tools/list and the checks applied here are
 * generated from the same ToolArg and ToolColumn tables (tools.c), so
 * they cannot drift apart.  Arguments are strict: unknown names, wrong
 * JSON types, numbers out of range, over-long strings and unknown enum
 * values are refused (the caller answers -32602).  What passes is sent as
 * a bound parameter of a fixed query, never spliced into SQL.
 *
 *-------------------------------------------------------------------------
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema.h"
#include "text.h"
#include "tools.h"

/* the oldest point a duration may reach back to */
#define MAX_SINCE_SECONDS (400.0 * 86400.0)

static const char *since_help =
"A duration back from the server's current time (\"30m\", \"6h\", \"7d\", "
"\"2w\"; units s, m, h, d, w) or an ISO 8601 timestamp "
"(\"2026-11-30T08:00:00Z\"; UTC when no offset is given).";

/* the JSON Schema of one argument, into p */
static void
arg_schema(cJSON *p, const ToolArg *a)
{
	switch (a->kind)
	{
		case ARG_INT:
			cJSON_AddStringToObject(p, "type", "integer");
			cJSON_AddNumberToObject(p, "minimum", a->min);
			cJSON_AddNumberToObject(p, "maximum", a->max);
			if (a->def)
				cJSON_AddNumberToObject(p, "default", atoi(a->def));
			cJSON_AddStringToObject(p, "description", a->description);
			break;
		case ARG_TEXT:
			cJSON_AddStringToObject(p, "type", "string");
			cJSON_AddNumberToObject(p, "minLength", 1);
			cJSON_AddNumberToObject(p, "maxLength", a->max_len);
			cJSON_AddStringToObject(p, "description", a->description);
			break;
		case ARG_SINCE:
			{
				char		desc[1024];

				snprintf(desc, sizeof(desc), "%s %s", a->description, since_help);
				cJSON_AddStringToObject(p, "type", "string");
				cJSON_AddNumberToObject(p, "minLength", 2);
				cJSON_AddNumberToObject(p, "maxLength", 40);
				if (a->def)
					cJSON_AddStringToObject(p, "default", a->def);
				cJSON_AddStringToObject(p, "description", desc);
				break;
			}
		case ARG_ID:
			{
				cJSON	   *t = cJSON_CreateArray();

				cJSON_AddItemToArray(t, cJSON_CreateString("string"));
				cJSON_AddItemToArray(t, cJSON_CreateString("integer"));
				cJSON_AddItemToObject(p, "type", t);
				cJSON_AddStringToObject(p, "pattern", "^-?[0-9]{1,19}$");
				cJSON_AddStringToObject(p, "description", a->description);
				break;
			}
		case ARG_ENUM:
			{
				cJSON	   *e;

				cJSON_AddStringToObject(p, "type", "string");
				e = cJSON_AddArrayToObject(p, "enum");
				for (int k = 0; a->enum_values[k]; k++)
					cJSON_AddItemToArray(e, cJSON_CreateString(a->enum_values[k]));
				if (a->def)
					cJSON_AddStringToObject(p, "default", a->def);
				cJSON_AddStringToObject(p, "description", a->description);
				break;
			}
	}
}

cJSON *
schema_input(const ToolDef *tool)
{
	cJSON	   *schema = cJSON_CreateObject();
	cJSON	   *props;

	cJSON_AddStringToObject(schema, "type", "object");
	props = cJSON_AddObjectToObject(schema, "properties");
	for (int i = 0; i < tool->nargs; i++)
		arg_schema(cJSON_AddObjectToObject(props, tool->args[i].name),
				   &tool->args[i]);
	cJSON_AddFalseToObject(schema, "additionalProperties");
	return schema;
}

static cJSON *
nullable_type(const char *type)
{
	cJSON	   *t = cJSON_CreateArray();

	cJSON_AddItemToArray(t, cJSON_CreateString(type));
	cJSON_AddItemToArray(t, cJSON_CreateString("null"));
	return t;
}

/* the JSON Schema of one column of the answer, into p */
static void
column_schema(cJSON *p, const ToolColumn *c)
{
	switch (c->kind)
	{
		case COL_INT:
			cJSON_AddItemToObject(p, "type", nullable_type("integer"));
			break;
		case COL_NUM:
			cJSON_AddItemToObject(p, "type", nullable_type("number"));
			break;
		case COL_TEXT:
		case COL_ID:
			cJSON_AddItemToObject(p, "type", nullable_type("string"));
			break;
		case COL_TIME:
			cJSON_AddItemToObject(p, "type", nullable_type("string"));
			cJSON_AddStringToObject(p, "format", "date-time");
			break;
		case COL_BOOL:
			cJSON_AddItemToObject(p, "type", nullable_type("boolean"));
			break;
		case COL_JSON:
			break;				/* any JSON value */
	}
	cJSON_AddStringToObject(p, "description", c->description);
}

cJSON *
schema_output(const ToolDef *tool)
{
	cJSON	   *schema = cJSON_CreateObject();
	cJSON	   *props;
	cJSON	   *rows;
	cJSON	   *items;
	cJSON	   *iprops;
	cJSON	   *ireq;
	cJSON	   *req;

	cJSON_AddStringToObject(schema, "type", "object");
	props = cJSON_AddObjectToObject(schema, "properties");

	rows = cJSON_AddObjectToObject(props, "rows");
	cJSON_AddStringToObject(rows, "type", "array");
	cJSON_AddStringToObject(rows, "description", "one object per row, columns as below");
	items = cJSON_AddObjectToObject(rows, "items");
	cJSON_AddStringToObject(items, "type", "object");
	iprops = cJSON_AddObjectToObject(items, "properties");
	ireq = cJSON_AddArrayToObject(items, "required");
	for (int i = 0; i < tool->ncols; i++)
	{
		column_schema(cJSON_AddObjectToObject(iprops, tool->cols[i].name),
					  &tool->cols[i]);
		cJSON_AddItemToArray(ireq, cJSON_CreateString(tool->cols[i].name));
	}
	cJSON_AddFalseToObject(items, "additionalProperties");

	cJSON_AddStringToObject(cJSON_AddObjectToObject(props, "row_count"),
							"type", "integer");
	cJSON_AddStringToObject(cJSON_AddObjectToObject(props, "truncated"),
							"type", "boolean");
	{
		cJSON	   *note = cJSON_AddObjectToObject(props, "note");

		cJSON_AddStringToObject(note, "type", "string");
		cJSON_AddStringToObject(note, "description",
								"said when the answer is empty or cut, and why");
	}
	req = cJSON_AddArrayToObject(schema, "required");
	cJSON_AddItemToArray(req, cJSON_CreateString("rows"));
	cJSON_AddItemToArray(req, cJSON_CreateString("row_count"));
	cJSON_AddItemToArray(req, cJSON_CreateString("truncated"));
	return schema;
}

static bool
digits(const char *s, int n, int *out)
{
	int			v = 0;

	for (int i = 0; i < n; i++)
	{
		if (!isdigit((unsigned char) s[i]))
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

/*
 * YYYY-MM-DD[(T| )HH:MM[:SS[.ffffff]]][Z|(+|-)HH[[:]MM]], checked field by
 * field.  PostgreSQL would accept far more ("now", "epoch", "infinity",
 * "allballs"); the tool accepts only what the schema promises.
 */
static bool
iso_timestamp(const char *s)
{
	int			y,
				mo,
				d,
				h,
				mi,
				se;
	const char *p = s;

	if (!digits(p, 4, &y) || p[4] != '-' || !digits(p + 5, 2, &mo) ||
		p[7] != '-' || !digits(p + 8, 2, &d))
		return false;
	if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31)
		return false;
	p += 10;
	if (*p == '\0')
		return true;
	if (*p != 'T' && *p != 't' && *p != ' ')
		return false;
	p++;
	if (!digits(p, 2, &h) || p[2] != ':' || !digits(p + 3, 2, &mi) ||
		h > 23 || mi > 59)
		return false;
	p += 5;
	if (*p == ':')
	{
		if (!digits(p + 1, 2, &se) || se > 60)
			return false;
		p += 3;
		if (*p == '.')
		{
			int			n = 0;

			p++;
			while (isdigit((unsigned char) *p) && n < 9)
			{
				p++;
				n++;
			}
			if (n == 0)
				return false;
		}
	}
	if (*p == 'Z' || *p == 'z')
		return p[1] == '\0';
	if (*p == '+' || *p == '-')
	{
		int			oh,
					om;

		p++;
		if (!digits(p, 2, &oh) || oh > 15)
			return false;
		p += 2;
		if (*p == ':')
			p++;
		if (*p == '\0')
			return true;
		if (!digits(p, 2, &om) || om > 59)
			return false;
		return p[2] == '\0';
	}
	return *p == '\0';
}

/*
 * A "since" argument as the text the tool's query takes (see SINCE in
 * tools.c): a duration back from now ("90m", "24h", "7d", "2w", also
 * "2 hours") becomes a negative interval in seconds that the server
 * subtracts from its own clock; an ISO 8601 timestamp is passed through
 * once checked.
 */
bool
parse_since(const char *s, char *out, size_t outlen)
{
	static const struct
	{
		const char *name;
		double		seconds;
	}			units[] = {
		{"s", 1}, {"sec", 1}, {"secs", 1}, {"second", 1}, {"seconds", 1},
		{"m", 60}, {"min", 60}, {"mins", 60}, {"minute", 60}, {"minutes", 60},
		{"h", 3600}, {"hour", 3600}, {"hours", 3600},
		{"d", 86400}, {"day", 86400}, {"days", 86400},
		{"w", 604800}, {"week", 604800}, {"weeks", 604800},
	};
	const char *p = s;
	double		n = 0;
	int			ndigits = 0;

	if (strlen(s) >= 10 && iso_timestamp(s))
	{
		if (strlen(s) >= outlen)
			return false;
		strcpy(out, s);
		return true;
	}

	while (isdigit((unsigned char) *p) && ndigits < 7)
	{
		n = n * 10 + (*p - '0');
		p++;
		ndigits++;
	}
	if (ndigits == 0 || isdigit((unsigned char) *p))
		return false;
	while (*p == ' ')
		p++;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
	{
		if (strcmp(p, units[i].name) == 0)
		{
			double		secs = n * units[i].seconds;

			if (secs <= 0 || secs > MAX_SINCE_SECONDS)
				return false;

			/*
			 * Back from the server's clock, not ours: the tool's SQL adds
			 * this interval to now() (see SINCE in tools.c).
			 */
			return snprintf(out, outlen, "-%.0f seconds", secs) < (int) outlen;
		}
	}
	return false;
}

static char *
fail(char *errbuf, size_t errlen, const char *fmt, const char *name, long a, long b)
{
	snprintf(errbuf, errlen, fmt, name, a, b);
	return NULL;
}

/*
 * A 64-bit identifier (a queryid) as the decimal text the query casts to
 * bigint, or false.  Sent as a string, it must be an optional minus and
 * digits within the range of bigint; sent as a JSON number, an integer
 * that a double holds exactly (|n| <= 2^53): beyond that the client's
 * JSON has already lost digits, and answering for a neighbouring id would
 * be wrong, so it is refused with the advice to send a string.
 */
static bool
bind_id(const cJSON *v, char *out, size_t outlen)
{
	if (cJSON_IsNumber(v))
	{
		double		d = v->valuedouble;

		if (!isfinite(d) || d != floor(d) || fabs(d) > 9007199254740992.0)
			return false;
		return snprintf(out, outlen, "%.0f", d) < (int) outlen;
	}
	if (cJSON_IsString(v))
	{
		const char *s = v->valuestring;
		const char *p = s + (s[0] == '-');
		size_t		n = strlen(p);
		long long	x;
		char	   *end;

		if (n == 0 || n > 19 || strspn(p, "0123456789") != n)
			return false;
		errno = 0;
		x = strtoll(s, &end, 10);
		if (errno == ERANGE || *end != '\0')
			return false;
		return snprintf(out, outlen, "%lld", x) < (int) outlen;
	}
	return false;
}

/* one argument to its parameter text, or NULL with errbuf set */
static char *
bind_one(const ToolArg *a, const cJSON *v, char *errbuf, size_t errlen,
		 bool *ok)
{
	char		buf[64];

	*ok = false;
	switch (a->kind)
	{
		case ARG_INT:
			{
				double		d;

				if (!cJSON_IsNumber(v))
					return fail(errbuf, errlen, "\"%s\" must be an integer", a->name, 0, 0);
				d = v->valuedouble;
				if (!isfinite(d) || d != floor(d))
					return fail(errbuf, errlen, "\"%s\" must be an integer", a->name, 0, 0);
				if (d < a->min || d > a->max)
					return fail(errbuf, errlen,
								"\"%s\" must be between %ld and %ld",
								a->name, a->min, a->max);
				snprintf(buf, sizeof(buf), "%d", (int) d);
				*ok = true;
				return strdup(buf);
			}
		case ARG_TEXT:
			if (!cJSON_IsString(v))
				return fail(errbuf, errlen, "\"%s\" must be a string", a->name, 0, 0);
			if (v->valuestring[0] == '\0' ||
				utf8_chars(v->valuestring) > (size_t) a->max_len)
				return fail(errbuf, errlen,
							"\"%s\" must have 1 to %ld characters",
							a->name, a->max_len, 0);
			*ok = true;
			return strdup(v->valuestring);
		case ARG_SINCE:
			{
				char		out[64];

				if (!cJSON_IsString(v))
					return fail(errbuf, errlen, "\"%s\" must be a string", a->name, 0, 0);
				if (strlen(v->valuestring) > 40 ||
					!parse_since(v->valuestring, out, sizeof(out)))
					return fail(errbuf, errlen,
								"\"%s\" must be a duration such as \"90m\", \"24h\", \"7d\" "
								"(at most 400 days) or an ISO 8601 timestamp",
								a->name, 0, 0);
				*ok = true;
				return strdup(out);
			}
		case ARG_ID:
			if (!bind_id(v, buf, sizeof(buf)))
				return fail(errbuf, errlen,
							"\"%s\" must be a 64-bit integer, as a string of digits "
							"(or a JSON integer of at most 2^53)", a->name, 0, 0);
			*ok = true;
			return strdup(buf);
		case ARG_ENUM:
			if (cJSON_IsString(v))
			{
				for (int k = 0; a->enum_values[k]; k++)
					if (strcmp(v->valuestring, a->enum_values[k]) == 0)
					{
						*ok = true;
						return strdup(v->valuestring);
					}
			}
			snprintf(errbuf, errlen, "\"%s\" must be one of", a->name);
			for (int k = 0; a->enum_values[k]; k++)
			{
				size_t		len = strlen(errbuf);

				snprintf(errbuf + len, errlen - len, "%s \"%s\"",
						 k ? "," : "", a->enum_values[k]);
			}
			return NULL;
	}
	return NULL;
}

/*
 * arguments (an object or NULL) -> values[i] for each ToolArg, malloc'd
 * text or NULL for SQL NULL.  False, with errbuf set, when anything is
 * wrong; values are then already freed.
 */
bool
schema_bind_args(const ToolDef *tool, const cJSON *arguments, char **values,
				 char *errbuf, size_t errlen)
{
	const cJSON *item;

	for (int i = 0; i < tool->nargs; i++)
		values[i] = NULL;

	if (arguments != NULL)
	{
		cJSON_ArrayForEach(item, arguments)
		{
			bool		known = false;

			for (int i = 0; i < tool->nargs && !known; i++)
				known = (item->string && strcmp(item->string, tool->args[i].name) == 0);
			if (!known)
			{
				snprintf(errbuf, errlen, "unknown argument \"%.*s\"%s",
						 item->string ? (int) utf8_prefix(item->string, 64) : 0,
						 item->string ? item->string : "",
						 tool->nargs ? "" : " (this tool takes no arguments)");
				return false;
			}
		}
	}

	for (int i = 0; i < tool->nargs; i++)
	{
		const ToolArg *a = &tool->args[i];
		const cJSON *v = arguments ?
		cJSON_GetObjectItemCaseSensitive(arguments, a->name) : NULL;
		bool		ok;

		if (v == NULL)
		{
			if (a->def == NULL)
				continue;
			if (a->kind == ARG_SINCE)
			{
				char		out[64];

				if (!parse_since(a->def, out, sizeof(out)))
				{
					snprintf(errbuf, errlen, "bad default for \"%s\"", a->name);
					schema_free_args(tool, values);
					return false;
				}
				values[i] = strdup(out);
			}
			else
				values[i] = strdup(a->def);
			continue;
		}
		values[i] = bind_one(a, v, errbuf, errlen, &ok);
		if (!ok)
		{
			schema_free_args(tool, values);
			return false;
		}
	}
	return true;
}

void
schema_free_args(const ToolDef *tool, char **values)
{
	for (int i = 0; i < tool->nargs; i++)
	{
		free(values[i]);
		values[i] = NULL;
	}
}
