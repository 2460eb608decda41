/*-------------------------------------------------------------------------
 *
 * capacity_fs.c
 *		nadia_bgw._fs_space(path): size and free space of the filesystem
 *		holding a directory, for the capacity forecasts (docs/capacity.md).
 *
 * SQL cannot ask the kernel how full a filesystem is, so this one function
 * does: statvfs() on the path, and stat() for the device it lives on, so
 * that two directories on one filesystem (the data directory and pg_wal,
 * usually) can be told apart from two filesystems.  A relative path is
 * resolved against the data directory, the server's working directory.
 *
 * Superusers only: the capacity task (the worker's superuser role) calls
 * it with the data directory, pg_wal and the tablespaces' locations; the
 * reader role sees the results, named by what they are ("data_directory",
 * "pg_wal", a tablespace's name), never the paths.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>
#include <sys/statvfs.h>

#include "access/htup_details.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(nadia_bgw_fs_space);

/*
 * nadia_bgw._fs_space(path text, OUT total_bytes bigint, OUT free_bytes
 * bigint, OUT device bigint): free_bytes is what an unprivileged user may
 * still write (f_bavail), the space PostgreSQL can use.  A path that
 * cannot be read (a tablespace whose directory was removed) is an error
 * the caller catches.
 */
Datum
nadia_bgw_fs_space(PG_FUNCTION_ARGS)
{
	char	   *path = text_to_cstring(PG_GETARG_TEXT_PP(0));
	struct statvfs vfs;
	struct stat st;
	TupleDesc	tupdesc;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};

	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("only superusers can call nadia_bgw._fs_space()"),
				 errhint("Read the filesystem forecasts with nadia_bgw.capacity_forecast().")));
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	if (statvfs(path, &vfs) != 0 || stat(path, &st) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not read the filesystem of \"%s\": %m", path),
				 errhint("The capacity task skips a directory it cannot read.")));

	values[0] = Int64GetDatum((int64) vfs.f_blocks * (int64) vfs.f_frsize);
	values[1] = Int64GetDatum((int64) vfs.f_bavail * (int64) vfs.f_frsize);
	values[2] = Int64GetDatum((int64) st.st_dev);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc),
													  values, nulls)));
}
