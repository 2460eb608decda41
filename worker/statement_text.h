/*-------------------------------------------------------------------------
 *
 * statement_text.h
 *		What of another session's statement text may be stored
 *		(statement_text.c), and the public text of an error
 *		(public_error.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef NADIA_STATEMENT_TEXT_H
#define NADIA_STATEMENT_TEXT_H

#include "postgres.h"

/* statement_text.c */
extern char *nadia_safe_statement_text(const char *query, int maxlen,
									   bool *reduced);

/* public_error.c */
extern void nadia_public_error(int sqlerrcode, char *buf, size_t len);

#endif							/* NADIA_STATEMENT_TEXT_H */
