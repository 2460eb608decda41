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

static bool
answer(McpServer *srv, const char *buf, size_t len)
{
	char	   *out = mcp_handle_message(srv, buf, len);
	bool		ok = true;

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
				bool		ok;

				if (skipping)
				{
					char	   *err = rpc_error_line(NULL, RPC_INVALID_REQUEST,
													 "invalid request: message too large");

					ok = write_line(err);
					free(err);
					skipping = false;
				}
				else
					ok = answer(srv, line, len);
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
	if (skipping)
	{
		char	   *err = rpc_error_line(NULL, RPC_INVALID_REQUEST,
										 "invalid request: message too large");

		write_line(err);
		free(err);
	}
	else if (len > 0)
		answer(srv, line, len);
	free(line);
	return 0;
}

int
main(int argc, char **argv)
{
	static struct option long_options[] = {
		{"rate-per-minute", required_argument, NULL, 1},
		{"max-concurrent", required_argument, NULL, 2},
		{"heavy-per-hour", required_argument, NULL, 3},
		{"statement-timeout", required_argument, NULL, 4},
		{"max-rows", required_argument, NULL, 5},
		{"max-result-bytes", required_argument, NULL, 6},
		{"max-message-bytes", required_argument, NULL, 7},
		{"check", no_argument, NULL, 8},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, '?'},
		{NULL, 0, NULL, 0}
	};
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
	int			c;
	long		v;
	char	   *err = NULL;
	McpDb	   *db;
	char		where[512];
	char	  **problems;
	int			nproblems;
	McpServer	srv;
	int			rc;

	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-?") == 0))
	{
		usage();
		return 0;
	}
	while ((c = getopt_long(argc, argv, "V?", long_options, NULL)) != -1)
	{
		switch (c)
		{
			case 1:
				if (!int_option("rate-per-minute", optarg, 0, 100000, &v))
					return 1;
				limits.rate_per_minute = v;
				break;
			case 2:
				if (!int_option("max-concurrent", optarg, 0, MCP_MAX_SLOTS, &v))
					return 1;
				limits.max_concurrent = v;
				break;
			case 3:
				if (!int_option("heavy-per-hour", optarg, 0, 100000, &v))
					return 1;
				limits.heavy_per_hour = v;
				break;
			case 4:
				if (!int_option("statement-timeout", optarg, 1, 3600000, &v))
					return 1;
				limits.statement_timeout_ms = v;
				break;
			case 5:
				if (!int_option("max-rows", optarg, 1, 10000, &v))
					return 1;
				limits.max_rows = v;
				break;
			case 6:
				if (!int_option("max-result-bytes", optarg, 1024, 64L * 1024 * 1024, &v))
					return 1;
				limits.max_result_bytes = v;
				break;
			case 7:
				if (!int_option("max-message-bytes", optarg, 1024, 64L * 1024 * 1024, &v))
					return 1;
				limits.max_message_bytes = v;
				break;
			case 8:
				check_only = true;
				break;
			case 'V':
				printf("%s %s\n", NADIA_MCP_NAME, NADIA_MCP_VERSION);
				return 0;
			default:
				fprintf(stderr, "Try \"%s --help\" for more information.\n", NADIA_MCP_NAME);
				return 1;
		}
	}
	if (optind < argc)
		conninfo = argv[optind++];
	if (optind < argc)
	{
		mcp_log("too many arguments (the first is \"%s\")", argv[optind]);
		return 1;
	}

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
