/*-------------------------------------------------------------------------
 *
 * results.c
 *		A tool's query result -> its structuredContent, within bounds.
 *
 * Each column is converted by the kind the tool declares for it (the same
 * declaration its outputSchema is built from): integers and reals become
 * JSON numbers, 64-bit identifiers such as queryid become strings (a JSON
 * number would lose their low digits in most clients), timestamps become
 * RFC 3339 UTC strings, jsonb becomes JSON.  The answer is bounded twice:
 * by rows (the query fetches one row more than it may show, so a cut is
 * known) and by bytes, and says so in "truncated" and "note".
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nadia_mcp.h"
#include "results.h"
#include "text.h"
#include "tools.h"

/* longest text value sent, in bytes; query texts are capped upstream too */
#define MAX_TEXT_BYTES 4096

/*
 * "2026-11-30 05:54:23.12+00" (DateStyle ISO, TimeZone UTC, as db.c sets
 * the session) -> "2026-11-30T05:54:23.12Z".  Anything unexpected
 * (infinity, BC dates) becomes null rather than a string that would fail
 * the schema's date-time format.
 */
static cJSON *
time_value(const char *v)
{
	char		buf[64];
	size_t		len = strlen(v);

	if (len < 19 || len > 40 || v[10] != ' ' || v[4] != '-')
		return cJSON_CreateNull();
	memcpy(buf, v, len + 1);
	buf[10] = 'T';
	if (len >= 3 && strcmp(buf + len - 3, "+00") == 0)
		strcpy(buf + len - 3, "Z");
	else if (buf[len - 3] == '+' || buf[len - 3] == '-')
		strcat(buf, ":00");
	return cJSON_CreateString(buf);
}

static cJSON *
column_value(const ToolColumn *col, const char *v, int vlen)
{
	char	   *end;
	double		d;

	switch (col->kind)
	{
		case COL_INT:
		case COL_NUM:
			d = strtod(v, &end);
			if (end == v || *end != '\0' || !isfinite(d))
				return cJSON_CreateNull();
			if (col->kind == COL_INT)
				d = trunc(d);
			return cJSON_CreateNumber(d);
		case COL_ID:
			return cJSON_CreateString(v);
		case COL_TIME:
			return time_value(v);
		case COL_BOOL:
			return cJSON_CreateBool(v[0] == 't');
		case COL_JSON:
			{
				cJSON	   *j = cJSON_ParseWithLength(v, vlen);

				return j ? j : cJSON_CreateString(v);
			}
		case COL_TEXT:
			if (vlen > MAX_TEXT_BYTES)
			{
				size_t		keep = utf8_prefix(v, MAX_TEXT_BYTES);
				char	   *clip = malloc(keep + 4);
				cJSON	   *s;

				if (clip == NULL)
					return cJSON_CreateNull();
				memcpy(clip, v, keep);
				memcpy(clip + keep, "\xe2\x80\xa6", 4);	/* an ellipsis */
				s = cJSON_CreateString(clip);
				free(clip);
				return s;
			}
			return cJSON_CreateString(v);
	}
	return cJSON_CreateNull();
}

cJSON *
results_to_json(const ToolDef *tool, PGresult *res, const McpLimits *limits,
				char *errbuf, size_t errlen)
{
	int			fnum[64];
	int			ntuples = PQntuples(res);
	int			shown = 0;
	size_t		bytes = 64;
	bool		cut_rows = false;
	bool		cut_bytes = false;
	cJSON	   *out;
	cJSON	   *rows;

	if (tool->ncols > (int) (sizeof(fnum) / sizeof(fnum[0])))
	{
		snprintf(errbuf, errlen, "too many columns");
		return NULL;
	}
	for (int c = 0; c < tool->ncols; c++)
	{
		fnum[c] = PQfnumber(res, tool->cols[c].name);
		if (fnum[c] < 0)
		{
			snprintf(errbuf, errlen,
					 "its data source has an unexpected shape (no column \"%s\")",
					 tool->cols[c].name);
			return NULL;
		}
	}

	out = cJSON_CreateObject();
	rows = cJSON_AddArrayToObject(out, "rows");
	for (int r = 0; r < ntuples; r++)
	{
		cJSON	   *row;
		size_t		rowbytes = 2;

		if (shown >= limits->max_rows)
		{
			cut_rows = true;
			break;
		}
		for (int c = 0; c < tool->ncols; c++)
			rowbytes += strlen(tool->cols[c].name) + 4 +
				(PQgetisnull(res, r, fnum[c]) ? 4 :
				 (size_t) PQgetlength(res, r, fnum[c]) * 6 / 5 + 2);
		if (bytes + rowbytes > limits->max_result_bytes)
		{
			cut_bytes = true;
			break;
		}
		bytes += rowbytes;

		row = cJSON_CreateObject();
		for (int c = 0; c < tool->ncols; c++)
		{
			cJSON	   *val;

			if (PQgetisnull(res, r, fnum[c]))
				val = cJSON_CreateNull();
			else
				val = column_value(&tool->cols[c], PQgetvalue(res, r, fnum[c]),
								   PQgetlength(res, r, fnum[c]));
			cJSON_AddItemToObject(row, tool->cols[c].name, val);
		}
		cJSON_AddItemToArray(rows, row);
		shown++;
	}

	cJSON_AddNumberToObject(out, "row_count", shown);
	cJSON_AddBoolToObject(out, "truncated", cut_rows || cut_bytes);
	if (cut_rows)
	{
		char		note[160];

		snprintf(note, sizeof(note),
				 "the first %d rows are shown and more exist: raise limit or narrow the range",
				 limits->max_rows);
		cJSON_AddStringToObject(out, "note", note);
	}
	else if (cut_bytes)
	{
		char		note[160];

		snprintf(note, sizeof(note),
				 "cut after %d rows to stay under %zu bytes",
				 shown, limits->max_result_bytes);
		cJSON_AddStringToObject(out, "note", note);
	}
	else if (shown == 0 && tool->empty_note)
		cJSON_AddStringToObject(out, "note", tool->empty_note);
	return out;
}
