/*-------------------------------------------------------------------------
 *
 * plan_compress.c
 *		nadia_bgw._compressed(jsonb | text): the value compressed in line,
 *		for the wide columns of nadia_bgw.plans (tracked_plans.c).
 *
 * Why: PostgreSQL compresses a value only when its whole row is over
 * TOAST_TUPLE_THRESHOLD (about 2 kB); a plans row (masked text and node
 * facts of a small plan) is about 1 kB, so it would be stored as is —
 * and the reloption toast_tuple_target does not lower that trigger (it
 * is only the size aimed at once the toaster runs; checked on 15).  The
 * node facts repeat the same keys in every node and compress well, so the
 * sample stores them compressed itself: a varlena compressed in line is
 * a normal on-disk form that the table keeps as it is given, and that
 * every reader (jsonb operators, text functions, pg_dump) decompresses
 * transparently.  An UPDATE of another column (last_seen) copies the
 * compressed bytes, so it is cheaper too.  The method is the server's
 * default_toast_compression; a value that does not shrink enough is
 * returned as is, like the toaster's.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/toast_compression.h"
#include "access/toast_internals.h"
#include "fmgr.h"
#if PG_VERSION_NUM >= 160000
#include "varatt.h"				/* VARATT_IS_COMPRESSED: in postgres.h before 16 */
#endif

PG_FUNCTION_INFO_V1(nadia_bgw_compressed);

Datum
nadia_bgw_compressed(PG_FUNCTION_ARGS)
{
	struct varlena *raw = (struct varlena *) PG_GETARG_POINTER(0);
	struct varlena *plain;
	Datum		packed;

	/* already compressed in line: as it is */
	if (VARATT_IS_COMPRESSED(raw))
		PG_RETURN_POINTER(raw);
	plain = PG_DETOAST_DATUM(PointerGetDatum(raw));
	packed = toast_compress_datum(PointerGetDatum(plain), InvalidCompressionMethod);
	if (DatumGetPointer(packed) == NULL)
		PG_RETURN_POINTER(plain);
	PG_RETURN_DATUM(packed);
}
