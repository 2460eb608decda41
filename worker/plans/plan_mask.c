/*-------------------------------------------------------------------------
 *
 * plan_mask.c
 *		Masking of every literal in an EXPLAIN text.
 *
 * EXPLAIN prints expressions through ruleutils, whose output is regular:
 * an identifier that is not a plain lower-case word is double-quoted
 * (quote_identifier, with "" for a quote inside), and a constant is
 * either single-quoted (simple_quote_literal, '' for a quote inside, and
 * doubled backslashes when standard_conforming_strings is off), a bare
 * unsigned number (int4 and numeric), or the bare word true or false
 * (boolean; a column named true is always quoted, it is a reserved
 * word).  A parameter is $n; its value is never printed.
 *
 * So a small tokenizer that knows those two quoting forms can find every
 * literal.  It masks by default and keeps by exception: every quoted
 * literal becomes '?', every bare number and boolean becomes ?, except
 *	- the "(cost=... rows=... width=...)" block of a node's header line,
 *	- the number of "SubPlan n" / "InitPlan n" (a name, not a value),
 *	- the value of the few properties that are plan statistics and never
 *	  an expression ("Workers Planned: 2", "Subplans Removed: 3", ...).
 * A property EXPLAIN may print that we do not know of is masked, not
 * kept: an unknown form can only lose information, never leak a value.
 * Anything not closed (a quote running to the end of the text) is masked
 * to the end.  docs/plans.md, "Masking", gives the reasoning.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "parser/parser.h"

#include "plans/plan_describe.h"

/* properties whose value is a plan statistic, never an expression */
static const char *const kept_properties[] = {
	"Workers Planned",
	"Workers Launched",
	"Subplans Removed",
	"Single Copy",
	"Disabled",
	"Estimates",
	"Buckets",
	"Hits",
	NULL
};

#define MASK_LITERAL	"'?'"
#define MASK_WORD		"?"

static bool
is_ident_start(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
		c >= 0x80;
}

static bool
is_ident_char(unsigned char c)
{
	return is_ident_start(c) || (c >= '0' && c <= '9') || c == '$';
}

static bool
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/*
 * Skip a quoted string starting at its opening quote; returns the position
 * after the closing quote, or the end of the line if it does not close.
 * A doubled quote stands for one; with "backslashes" a backslash escapes
 * the next character.
 */
static const char *
skip_quoted(const char *p, const char *end, char quote, bool backslashes)
{
	p++;
	while (p < end)
	{
		if (backslashes && *p == '\\' && p + 1 < end)
			p += 2;
		else if (*p == quote)
		{
			if (p + 1 < end && p[1] == quote)
				p += 2;
			else
				return p + 1;
		}
		else
			p++;
	}
	return end;
}

/* the end of a number starting at p: digits, fraction, exponent */
static const char *
skip_number(const char *p, const char *end)
{
	while (p < end && (is_digit(*p) || *p == '.'))
		p++;
	if (p < end && (*p == 'e' || *p == 'E'))
	{
		const char *q = p + 1;

		if (q < end && (*q == '+' || *q == '-'))
			q++;
		if (q < end && is_digit(*q))
		{
			p = q;
			while (p < end && is_digit(*p))
				p++;
		}
	}
	return p;
}

/* a kept block of a header line: "(cost=...)", "(actual ...)", "(never executed)" */
static const char *
kept_block_end(const char *p, const char *end)
{
	static const char *const openers[] = {"(cost=", "(actual ", "(never executed)", NULL};

	for (int i = 0; openers[i] != NULL; i++)
	{
		size_t		len = strlen(openers[i]);

		if ((size_t) (end - p) >= len && strncmp(p, openers[i], len) == 0)
		{
			/* only "name=number" words up to the ")" on this line */
			for (const char *q = p + 1; q < end && *q != '\n'; q++)
			{
				if (*q == ')')
					return q + 1;
				if (!((*q >= 'a' && *q <= 'z') || is_digit(*q) ||
					  *q == '.' || *q == '=' || *q == ' '))
					return NULL;
			}
			return NULL;
		}
	}
	return NULL;
}

typedef enum LineMode
{
	LINE_HEADER,				/* a node's header: its cost block is kept */
	LINE_STATISTIC,				/* a kept property: numbers are kept */
	LINE_EXPRESSION				/* anything else: every literal masked */
} LineMode;

/*
 * The length of a property's key ("Hash Cond" of "Hash Cond: (...)"):
 * letters, spaces and hyphens, then ": ".  0 if the line has none.
 */
static size_t
property_key_length(const char *p, const char *eol)
{
	const char *q = p;

	while (q < eol && ((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
					   *q == ' ' || *q == '-'))
		q++;
	if (q > p && q < eol && *q == ':' && (q + 1 == eol || q[1] == ' '))
		return q - p;
	return 0;
}

/* How the line starting at p is masked. */
static LineMode
line_mode(const char *p, const char *end, bool first)
{
	const char *eol = memchr(p, '\n', end - p);
	size_t		keylen;

	if (eol == NULL)
		eol = end;
	while (p < eol && *p == ' ')
		p++;
	/* a node's header: the first line, or "->  Node ..." */
	if (first || (eol - p >= 2 && p[0] == '-' && p[1] == '>'))
		return LINE_HEADER;
	keylen = property_key_length(p, eol);
	for (int i = 0; keylen > 0 && kept_properties[i] != NULL; i++)
		if (strlen(kept_properties[i]) == keylen &&
			strncmp(kept_properties[i], p, keylen) == 0)
			return LINE_STATISTIC;
	return LINE_EXPRESSION;
}

/*
 * The text is scanned as one stream, not line by line: a string constant
 * may hold a newline, and its second line must not be read as a new line
 * of EXPLAIN.  Only a newline outside quotes starts a line.
 */
char *
nadia_plan_mask_literals(const char *text)
{
	StringInfoData out;
	const char *p = text;
	const char *end = text + strlen(text);
	bool		backslashes = !standard_conforming_strings;
	bool		after_subplan = false;	/* the last word was SubPlan/InitPlan */
	LineMode	mode = line_mode(p, end, true);

	initStringInfo(&out);
	while (p < end)
	{
		unsigned char c = (unsigned char) *p;
		const char *q;

		if (c == '\n')
		{
			appendStringInfoChar(&out, '\n');
			p++;
			mode = line_mode(p, end, false);
			after_subplan = false;
		}
		else if (c == '"')
		{
			q = skip_quoted(p, end, '"', false);
			appendBinaryStringInfo(&out, p, q - p);
			after_subplan = false;
			p = q;
		}
		else if (c == '\'')
		{
			p = skip_quoted(p, end, '\'', backslashes);
			appendStringInfoString(&out, MASK_LITERAL);
			after_subplan = false;
		}
		else if (is_ident_start(c))
		{
			size_t		len;

			q = p;
			while (q < end && is_ident_char((unsigned char) *q))
				q++;
			len = q - p;
			/* a prefixed literal: E'..', B'..', X'..', N'..', U&'..' */
			if (q < end && *q == '\'' && len == 1 && strchr("eEbBxXnN", c) != NULL)
			{
				p = skip_quoted(q, end, '\'', backslashes || c == 'e' || c == 'E');
				appendStringInfoString(&out, MASK_LITERAL);
				after_subplan = false;
				continue;
			}
			if (len == 1 && (c == 'u' || c == 'U') && q + 1 < end && q[0] == '&' && q[1] == '\'')
			{
				p = skip_quoted(q + 1, end, '\'', backslashes);
				appendStringInfoString(&out, MASK_LITERAL);
				after_subplan = false;
				continue;
			}
			if (mode != LINE_STATISTIC &&
				((len == 4 && strncmp(p, "true", 4) == 0) ||
				 (len == 5 && strncmp(p, "false", 5) == 0)))
				appendStringInfoString(&out, MASK_WORD);
			else
				appendBinaryStringInfo(&out, p, len);
			after_subplan = (len == 7 && strncmp(p, "SubPlan", 7) == 0) ||
				(len == 8 && strncmp(p, "InitPlan", 8) == 0);
			p = q;
		}
		else if (c == '$' && p + 1 < end && is_digit(p[1]))
		{
			/* a parameter reference: its value is never printed */
			q = p + 1;
			while (q < end && is_digit(*q))
				q++;
			appendBinaryStringInfo(&out, p, q - p);
			p = q;
		}
		else if (is_digit(c) || (c == '.' && p + 1 < end && is_digit(p[1])))
		{
			q = skip_number(p, end);
			if (after_subplan || mode == LINE_STATISTIC)
				appendBinaryStringInfo(&out, p, q - p);
			else
			{
				appendStringInfoString(&out, MASK_WORD);
				/* a number glued to letters (1e, 10kB) is masked whole */
				while (q < end && is_ident_char((unsigned char) *q))
					q++;
			}
			after_subplan = false;
			p = q;
		}
		else if (mode == LINE_HEADER && c == '(' && (q = kept_block_end(p, end)) != NULL)
		{
			appendBinaryStringInfo(&out, p, q - p);
			p = q;
		}
		else
		{
			appendStringInfoChar(&out, (char) c);
			if (c != ' ')
				after_subplan = false;
			p++;
		}
	}
	return out.data;
}
