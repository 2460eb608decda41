/*-------------------------------------------------------------------------
 *
 * log.c
 *		Messages of nadia-mcp for humans, on stderr.
 *
 * stdout carries protocol messages only, so everything said to a person
 * (start-up, refused connections, reconnections, refused calls) goes to
 * stderr, one line each, prefixed with the program's name.  The fuzz
 * target silences it: a fuzzer that refuses thousands of calls a second
 * would spend its time writing.
 *
 *-------------------------------------------------------------------------
 */
#include <stdarg.h>
#include <stdio.h>

#include "log.h"
#include "nadia_mcp.h"

static bool log_silent = false;

void
mcp_log(const char *fmt,...)
{
	va_list		ap;

	if (log_silent)
		return;
	fputs(NADIA_MCP_NAME ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void
mcp_log_silence(bool silent)
{
	log_silent = silent;
}
