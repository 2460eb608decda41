/*-------------------------------------------------------------------------
 *
 * quality_guc.c
 *		The settings of the quality module, defined in one block.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "utils/guc.h"

#include "quality/quality.h"

void
nadia_quality_define_gucs(void)
{
}
