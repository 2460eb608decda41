/*-------------------------------------------------------------------------
 *
 * nadia_test_seclabel.c
 *		A security label provider for the test suite only.
 *
 * SECURITY LABEL ... IS 'text' carries a string that PostgreSQL's
 * pg_stat_statements keeps verbatim, like COMMENT ON does; statement
 * history must reduce it to its command tag (docs/security.md, section 2).
 * Without a label provider loaded the statement fails, and a failed
 * statement never reaches pg_stat_statements, so there would be nothing to
 * test.  This module registers the provider "nadia_test", which accepts
 * every label on every object: it exists so that t/462_secrets_seclabel.pl
 * can run the statement.  It is built and installed into the test
 * installation by regress/run-tests.sh, never by the extension's Makefile,
 * and loaded by the clusters that need it (session_preload_libraries).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/seclabel.h"
#include "fmgr.h"

PG_MODULE_MAGIC;

/* declared by fmgr.h from PostgreSQL 16 on only */
void		_PG_init(void);

/*
 * Every label is accepted: what the tests look at is where the label's
 * text goes, not what it means.
 */
static void
nadia_test_check_label(const ObjectAddress *object, const char *seclabel)
{
	(void) object;
	(void) seclabel;
}

void
_PG_init(void)
{
	register_label_provider("nadia_test", nadia_test_check_label);
}
