/*-------------------------------------------------------------------------
 *
 * capacity_fit.c
 *		nadia_bgw._theil_sen(x, y): the robust line of the capacity
 *		forecasts (docs/capacity.md), over one series' bucket points;
 *		nadia_bgw._median(v): the median of a bucket's rows.
 *
 * The forecasts fit every series once an hour: at 1,000 tables that is
 * about 3,500 series, each with up to 31 points.  In SQL the Theil-Sen
 * slope is a self-join of the points and a percentile over the pairs, per
 * series; it was most of the capacity task's cost per cycle (the bench in
 * docs/benchmarks.md, "Quality tasks per cycle").  Here it is one
 * selection among at most n(n-1)/2 floats per series.  The definitions
 * are those the SQL had, so capacity_forecast() and the stored forecasts
 * agree:
 *	 slope		the median (percentile_cont(0.5): the mean of the two middle
 *				values of an even count) of (y_j - y_i) / (x_j - x_i) over
 *				the pairs with x_j > x_i;
 *	 intercept	the median of y - slope * x;
 *	 fit		R^2 of that line, 1 - SS_res / SS_tot, at least 0; NULL when
 *				the y do not vary;
 *	 points		n.
 * slope, intercept and fit are NULL below 3 points or with no pair of
 * distinct x.
 *
 * The buckets' points are medians too: percentile_cont(0.5) sorts each
 * group on its own, two sorts per bucket and width, thousands per batch;
 * _median() takes the group's array_agg() and selects in place.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"

PG_FUNCTION_INFO_V1(nadia_bgw_theil_sen);
PG_FUNCTION_INFO_V1(nadia_bgw_median);

/* at most this many points: the pairs must fit a palloc'd array */
#define THEIL_SEN_MAX_POINTS 4096

/*
 * Reorder v[0..n-1] so that v[k] is the (k+1)-th smallest and no element
 * before it is larger (quickselect: the median of n(n-1)/2 pair slopes in
 * linear time on average, where a sort is n^2 log n).
 */
static double
select_kth(double *v, int n, int k)
{
	int			lo = 0,
				hi = n - 1;

	while (lo < hi)
	{
		double		pivot = v[lo + (hi - lo) / 2];
		int			i = lo,
					j = hi;

		while (i <= j)
		{
			while (v[i] < pivot)
				i++;
			while (v[j] > pivot)
				j--;
			if (i <= j)
			{
				double		t = v[i];

				v[i++] = v[j];
				v[j--] = t;
			}
		}
		if (k <= j)
			hi = j;
		else if (k >= i)
			lo = i;
		else
			break;
	}
	return v[k];
}

/* percentile_cont(0.5) of v[0..n-1], n > 0; reorders v */
static double
median(double *v, int n)
{
	double		hi = select_kth(v, n, n / 2);
	double		lo;
	int			i;

	if (n % 2)
		return hi;
	/* the lower middle: the largest of the n/2 before the upper one */
	lo = v[0];
	for (i = 1; i < n / 2; i++)
		lo = Max(lo, v[i]);
	return lo + (hi - lo) * 0.5;
}

/* the float8 elements of a one-dimensional array without NULLs */
static double *
float8_elements(ArrayType *a, const char *what, int *n)
{
	Datum	   *elems;
	bool	   *nulls;
	double	   *v;
	int			i;

	if (ARR_NDIM(a) > 1 || ARR_ELEMTYPE(a) != FLOAT8OID)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a one-dimensional float8 array", what)));
	deconstruct_array(a, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
					  &elems, &nulls, n);
	v = palloc(sizeof(double) * Max(*n, 1));
	for (i = 0; i < *n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not contain NULL", what)));
		v[i] = DatumGetFloat8(elems[i]);
	}
	return v;
}

/*
 * nadia_bgw._theil_sen(x float8[], y float8[], OUT slope float8,
 * OUT intercept float8, OUT fit float8, OUT points integer)
 */
Datum
nadia_bgw_theil_sen(PG_FUNCTION_ARGS)
{
	int			nx,
				ny,
				npairs = 0,
				i,
				j;
	double	   *x = float8_elements(PG_GETARG_ARRAYTYPE_P(0), "x", &nx);
	double	   *y = float8_elements(PG_GETARG_ARRAYTYPE_P(1), "y", &ny);
	double	   *pairs;
	TupleDesc	tupdesc;
	Datum		values[4];
	bool		nulls[4] = {true, true, true, false};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (nx != ny)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("x has %d points and y %d", nx, ny),
				 errhint("Give one y for each x.")));
	if (nx > THEIL_SEN_MAX_POINTS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%d points are more than the %d a fit takes", nx, THEIL_SEN_MAX_POINTS),
				 errhint("The forecasts fit bucket points: 31 at most per series.")));
	values[3] = Int32GetDatum(nx);

	if (nx >= 3)
	{
		pairs = palloc(sizeof(double) * ((Size) nx * (nx - 1) / 2));
		for (i = 0; i < nx; i++)
			for (j = 0; j < nx; j++)
				if (x[j] > x[i])
					pairs[npairs++] = (y[j] - y[i]) / (x[j] - x[i]);
	}
	if (npairs > 0)
	{
		double		slope = median(pairs, npairs);
		double	   *rest = palloc(sizeof(double) * nx);
		double		intercept,
					ybar = 0,
					ss_tot = 0,
					ss_res = 0;

		for (i = 0; i < nx; i++)
		{
			rest[i] = y[i] - slope * x[i];
			ybar += y[i];
		}
		intercept = median(rest, nx);
		ybar /= nx;
		for (i = 0; i < nx; i++)
		{
			double		r = y[i] - (intercept + slope * x[i]);

			ss_tot += (y[i] - ybar) * (y[i] - ybar);
			ss_res += r * r;
		}
		values[0] = Float8GetDatum(slope);
		values[1] = Float8GetDatum(intercept);
		nulls[0] = nulls[1] = false;
		if (ss_tot > 0)
		{
			values[2] = Float8GetDatum(Max(0.0, 1.0 - ss_res / ss_tot));
			nulls[2] = false;
		}
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc),
													  values, nulls)));
}

/*
 * nadia_bgw._median(v float8[]) returns float8: percentile_cont(0.5) of
 * the elements, NULL for an empty array.
 */
Datum
nadia_bgw_median(PG_FUNCTION_ARGS)
{
	int			n;
	double	   *v = float8_elements(PG_GETARG_ARRAYTYPE_P(0), "v", &n);

	if (n == 0)
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(median(v, n));
}
