/*-------------------------------------------------------------------------
 *
 * main.c
 *		nadia-mcp: command line, start-up checks and the stdio loop.
 *
 *	nadia-mcp [OPTION]... [CONNINFO]
 *
 * CONNINFO is a libpq connection string or URI; without it the PG*
 * environment applies.  The server connects, refuses to run when the role
 * can do more than read nadia_bgw history (security.c), then reads
 * newline-delimited JSON-RPC messages from stdin and writes one line per
 * answer to stdout.  stdout carries protocol messages only; everything
 * said to a human goes to stderr.  End of input ends the process with
 * status 0.
 *
 * Lines longer than --max-message-bytes are never buffered whole: the
 * rest of the line is skipped and the client gets -32600, so a client
 * cannot make the server grow without bound.
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "jsonrpc.h"
#include "log.h"
#include "nadia_mcp.h"
#include "protocol.h"
#include "security.h"

#define EXIT_REFUSED 2

static void
usage(void)
{
	printf("%s serves nadia_bgw's monitoring history to MCP clients over stdio.\n\n"
		   "Usage:\n  %s [OPTION]... [CONNINFO]\n\n"
		   "CONNINFO is a libpq connection string or URI (default: the PG* environment);\n"
		   "its role must be a member of nadia_bgw_reader and able to do nothing else.\n\n"
		   "Options:\n"
		   "  --rate-per-minute=N     tool calls per minute (default %d, 0 = no limit)\n"
		   "  --max-concurrent=N      tool calls running at once against the database,\n"
		   "                          over all nadia-mcp processes (default %d, at most 16,\n"
		   "                          0 = no limit)\n"
		   "  --heavy-per-hour=N      heavy tool calls per hour (default %d, 0 = no limit)\n"
		   "  --statement-timeout=MS  limit of each tool query (default %d)\n"
		   "  --max-rows=N            rows per answer (default %d)\n"
		   "  --max-result-bytes=N    size of an answer (default %d)\n"
		   "  --max-message-bytes=N   longest accepted input line (default %d)\n"
		   "  --check                 run the start-up checks, report, and exit\n"
		   "  -V, --version           print the version and exit\n"
		   "  -?, --help              show this help and exit\n",
		   NADIA_MCP_NAME, NADIA_MCP_NAME,
		   DEFAULT_RATE_PER_MINUTE, DEFAULT_MAX_CONCURRENT,
		   DEFAULT_HEAVY_PER_HOUR, DEFAULT_STATEMENT_TIMEOUT_MS,
		   DEFAULT_MAX_ROWS, DEFAULT_MAX_RESULT_BYTES,
		   DEFAULT_MAX_MESSAGE_BYTES);
}

static bool
int_option(const char *name, const char *arg, long min, long max, long *out)
{
	char	   *end;
	long		v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || v < min || v > max)
	{
		mcp_log("invalid value \"%s\" for --%s: an integer from %ld to %ld is expected",
				arg, name, min, max);
		return false;
	}
	*out = v;
	return true;
}

static bool
write_line(const char *line)
{
	size_t		len = strlen(line);
	const char *p = line;

	while (len > 0)
	{
		ssize_t		n = write(STDOUT_FILENO, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= n;
	}
	while (write(STDOUT_FILENO, "\n", 1) != 1)
		if (errno != EINTR)
			return false;
	return true;
}

/*
 * Answer one line, or, when the line was too long to be read (skipped),
 * say so with the error mcp_handle_message() gives a long line it holds.
 */
static bool
answer(McpServer *srv, const char *buf, size_t len, bool skipped)
{
	char	   *out;
	bool		ok = true;

	if (skipped)
		out = rpc_error_line(NULL, RPC_INVALID_REQUEST,
							 "invalid request: message too large");
	else
		out = mcp_handle_message(srv, buf, len);
	if (out != NULL)
	{
		ok = write_line(out);
		free(out);
	}
	return ok;
}

/*
 * Read stdin line by line until it closes.  A line is at most
 * max_message_bytes; the excess of a longer one is read and dropped.
 */
static int
serve(McpServer *srv)
{
	size_t		cap = srv->limits.max_message_bytes;
	char	   *line = malloc(cap + 1);
	size_t		len = 0;
	bool		skipping = false;
	char		chunk[65536];

	if (line == NULL)
	{
		mcp_log("out of memory");
		return 1;
	}
	for (;;)
	{
		ssize_t		n = read(STDIN_FILENO, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++)
		{
			char		c = chunk[i];

			if (c == '\n')
			{
				bool		ok = answer(srv, line, len, skipping);

				skipping = false;
				len = 0;
				if (!ok)
				{
					free(line);
					return 1;
				}
				continue;
			}
			if (skipping)
				continue;
			if (len == cap)
			{
				mcp_log("message longer than %zu bytes dropped", cap);
				skipping = true;
				continue;
			}
			line[len++] = c;
		}
	}
	/* a last line without its newline still counts */
	if (skipping || len > 0)
		answer(srv, line, len, skipping);
	free(line);
	return 0;
}

/* a numeric option: it sets one field of McpLimits, within a range */
typedef struct LimitOption
{
	const char *name;
	long		min;
	long		max;
	int		   *i;				/* the field it sets, an int */
	size_t	   *z;				/* or a size_t */
} LimitOption;

#define OPT_CHECK 100

static void
set_option(struct option *o, const char *name, int has_arg, int val)
{
	o->name = name;
	o->has_arg = has_arg;
	o->flag = NULL;
	o->val = val;
}

/*
 * Read the options into *limits, *check_only and *conninfo.  Returns -1 to
 * go on, or the status to exit with.  The getopt code of a numeric option
 * is 1 + its index in limit_options.
 */
static int
parse_options(int argc, char **argv, McpLimits *limits, bool *check_only,
			  const char **conninfo)
{
	const LimitOption limit_options[] = {
		{"rate-per-minute", 0, 100000, &limits->rate_per_minute, NULL},
		{"max-concurrent", 0, MCP_MAX_SLOTS, &limits->max_concurrent, NULL},
		{"heavy-per-hour", 0, 100000, &limits->heavy_per_hour, NULL},
		{"statement-timeout", 1, 3600000, &limits->statement_timeout_ms, NULL},
		{"max-rows", 1, 10000, &limits->max_rows, NULL},
		{"max-result-bytes", 1024, 64L * 1024 * 1024, NULL, &limits->max_result_bytes},
		{"max-message-bytes", 1024, 64L * 1024 * 1024, NULL, &limits->max_message_bytes},
	};
	const int	nlimits = sizeof(limit_options) / sizeof(limit_options[0]);
	struct option long_options[sizeof(limit_options) / sizeof(limit_options[0]) + 4];
	int			c;

	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-?") == 0))
	{
		usage();
		return 0;
	}
	for (int i = 0; i < nlimits; i++)
		set_option(&long_options[i], limit_options[i].name, required_argument, i + 1);
	set_option(&long_options[nlimits], "check", no_argument, OPT_CHECK);
	set_option(&long_options[nlimits + 1], "version", no_argument, 'V');
	set_option(&long_options[nlimits + 2], "help", no_argument, '?');
	set_option(&long_options[nlimits + 3], NULL, 0, 0);

	while ((c = getopt_long(argc, argv, "V?", long_options, NULL)) != -1)
	{
		if (c >= 1 && c <= nlimits)
		{
			const LimitOption *o = &limit_options[c - 1];
			long		v;

			if (!int_option(o->name, optarg, o->min, o->max, &v))
				return 1;
			if (o->i)
				*o->i = v;
			else
				*o->z = v;
		}
		else if (c == OPT_CHECK)
			*check_only = true;
		else if (c == 'V')
		{
			printf("%s %s\n", NADIA_MCP_NAME, NADIA_MCP_VERSION);
			return 0;
		}
		else
		{
			fprintf(stderr, "Try \"%s --help\" for more information.\n", NADIA_MCP_NAME);
			return 1;
		}
	}
	if (optind < argc)
		*conninfo = argv[optind++];
	if (optind < argc)
	{
		mcp_log("too many arguments (the first is \"%s\")", argv[optind]);
		return 1;
	}
	return -1;
}

int
main(int argc, char **argv)
{
	McpLimits	limits = {
		.max_message_bytes = DEFAULT_MAX_MESSAGE_BYTES,
		.statement_timeout_ms = DEFAULT_STATEMENT_TIMEOUT_MS,
		.rate_per_minute = DEFAULT_RATE_PER_MINUTE,
		.max_concurrent = DEFAULT_MAX_CONCURRENT,
		.heavy_per_hour = DEFAULT_HEAVY_PER_HOUR,
		.max_rows = DEFAULT_MAX_ROWS,
		.max_result_bytes = DEFAULT_MAX_RESULT_BYTES,
	};
	bool		check_only = false;
	const char *conninfo = "";
	char	   *err = NULL;
	McpDb	   *db;
	char		where[512];
	char	  **problems;
	int			nproblems;
	McpServer	srv;
	int			rc;

	rc = parse_options(argc, argv, &limits, &check_only, &conninfo);
	if (rc >= 0)
		return rc;

	signal(SIGPIPE, SIG_IGN);

	db = db_connect(conninfo, &err);
	if (db == NULL)
	{
		mcp_log("could not connect: %s", err ? err : "?");
		free(err);
		return 1;
	}

	db_where(db, where, sizeof(where));
	nproblems = db_check(db, limits.max_concurrent, &problems);
	if (nproblems != 0)
	{
		security_report(where, problems, nproblems);
		security_free(problems, nproblems < 0 ? 1 : nproblems);
		db_close(db);
		return EXIT_REFUSED;
	}
	if (check_only)
	{
		printf("role \"%s\" in database \"%s\": checks passed\n", db_user(db), db_name(db));
		db_close(db);
		return 0;
	}

	mcp_log("serving database \"%s\" as role \"%s\"", db_name(db), db_user(db));
	server_init(&srv, &limits, db);
	rc = serve(&srv);
	server_free(&srv);
	db_close(db);
	return rc;
}
