
-- nadia_bgw 1.0 -> 1.1 -- business-metric anomalies (docs/quality.md,
-- "Business-metric anomalies").
--
-- Each cycle the worker's "anomalies" task calls
-- nadia_bgw._quality_anomalies(now).  It judges
--   * every closed, not yet judged bucket of every numeric column of every
--     rollup's table (per group, up to anomaly_max_groups groups), and
--   * every new sample's insert, update and delete counts of every table
--     that writes,
-- against a seasonal robust baseline (median and MAD of the same hour of
-- week, or the same weekday, over anomaly_lookback past seasons) and keeps
-- what falls outside median +- k * 1.4826 * MAD in nadia_bgw.metric_anomalies.
--
-- Only summaries are stored: the rollup's name and column names, the
-- numbers, and for grouped rollups an md5 of the group's values, never the
-- values themselves (a group can be a user id or a model name: application
-- data).  Reading the rollup tables runs no user code: only columns of
-- built-in types (and enums) are read, compared and cast, so the
-- superuser worker executes nothing their owner wrote.

-- The anomalies found.  Small (only the buckets outside their range), so a
-- plain table trimmed to anomaly_retention_days by each run.
CREATE TABLE nadia_bgw.metric_anomalies (
    anomaly_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    detected_at   timestamptz NOT NULL,        -- the run that judged it
    kind          text NOT NULL CHECK (kind IN ('rollup', 'table_writes')),
    objid         bigint NOT NULL,             -- nadia_bgw.rollup.id, or the table's relid
    source        text NOT NULL,               -- rollup name, or schema.table
    metric        text NOT NULL,               -- rollup column, or n_tup_ins / n_tup_upd / n_tup_del
    group_columns text[] NOT NULL DEFAULT '{}',
    group_hash    text NOT NULL DEFAULT '',    -- md5 of the group's values as a row ('' without groups)
    bucket_start  timestamptz NOT NULL,
    bucket_end    timestamptz NOT NULL,
    observed      double precision NOT NULL,
    median        double precision NOT NULL,
    expected_low  double precision NOT NULL,
    expected_high double precision NOT NULL,
    score         double precision,            -- (observed - median) / (1.4826 * MAD), NULL if the spread is 0
    direction     text NOT NULL CHECK (direction IN ('high', 'low')),
    seasons       integer NOT NULL,            -- past seasons in the baseline
    UNIQUE (kind, objid, metric, group_hash, bucket_start)
);
CREATE INDEX ON nadia_bgw.metric_anomalies (bucket_end);

-- One row per judged series (rollup column and group, or table and
-- counter): its last judged bucket and what it was, and counts.  A bucket
-- without enough history is "not judged", never "normal".
CREATE TABLE nadia_bgw.anomaly_series (
    kind              text NOT NULL,
    objid             bigint NOT NULL,
    source            text NOT NULL,
    metric            text NOT NULL,
    group_columns     text[] NOT NULL DEFAULT '{}',
    group_hash        text NOT NULL DEFAULT '',
    last_bucket_start timestamptz NOT NULL,
    last_bucket_end   timestamptz NOT NULL,
    last_status       text NOT NULL CHECK (last_status IN ('normal', 'anomaly', 'not judged')),
    judged            bigint NOT NULL DEFAULT 0,
    not_judged        bigint NOT NULL DEFAULT 0,
    anomalies         bigint NOT NULL DEFAULT 0,
    updated_at        timestamptz NOT NULL,
    PRIMARY KEY (kind, objid, metric, group_hash)
);

-- How far each rollup (kind 'rollup', objid = its id) and the table
-- writes (kind 'table_writes', objid 0) have been judged.
CREATE TABLE nadia_bgw.anomaly_progress (
    kind         text NOT NULL,
    objid        bigint NOT NULL,
    judged_until timestamptz NOT NULL,
    PRIMARY KEY (kind, objid)
);

REVOKE ALL ON nadia_bgw.metric_anomalies, nadia_bgw.anomaly_series,
    nadia_bgw.anomaly_progress FROM PUBLIC;
GRANT SELECT ON nadia_bgw.metric_anomalies, nadia_bgw.anomaly_series TO nadia_bgw_reader;

-- The robust range of one observation given its past seasons' values:
-- median, MAD raised to at least p_floor * |median| (so that a constant
-- series does not flag a tiny change), standard deviation 1.4826 * MAD,
-- raised to sqrt(|median|) when p_poisson (counts in a short interval:
-- their own noise), range median +- p_k standard deviations.
CREATE FUNCTION nadia_bgw._anomaly_range(
    p_values double precision[], p_observed double precision,
    p_k double precision, p_floor double precision, p_poisson boolean,
    OUT median double precision, OUT expected_low double precision,
    OUT expected_high double precision, OUT score double precision)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH m AS (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY v) AS med
                 FROM unnest(p_values) v),
         d AS (SELECT m.med,
                      (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY abs(v - m.med))
                         FROM unnest(p_values) v) AS mad
                 FROM m),
         s AS (SELECT d.med,
                      greatest(1.4826 * greatest(d.mad, p_floor * abs(d.med)),
                               CASE WHEN p_poisson THEN sqrt(abs(d.med)) ELSE 0 END) AS sd
                 FROM d)
    SELECT s.med, s.med - p_k * s.sd, s.med + p_k * s.sd,
           (p_observed - s.med) / nullif(s.sd, 0)
      FROM s
$$;
REVOKE ALL ON FUNCTION nadia_bgw._anomaly_range(double precision[], double precision,
    double precision, double precision, boolean) FROM PUBLIC;

-- One judged bucket of one series, as both judges hand it to
-- _anomaly_store().
CREATE TYPE nadia_bgw.anomaly_judgement AS (
    kind          text,
    objid         bigint,
    source        text,
    metric        text,
    group_columns text[],
    group_hash    text,
    bucket_start  timestamptz,
    bucket_end    timestamptz,
    observed      double precision,
    seasons       integer,
    median        double precision,
    expected_low  double precision,
    expected_high double precision,
    score         double precision,
    status        text              -- normal, anomaly, not judged
);

-- Keep a run's judgements: the anomalies, and each series' latest bucket
-- and counts.  Returns the anomalies written.
CREATE FUNCTION nadia_bgw._anomaly_store(p_now timestamptz,
                                         p_judged nadia_bgw.anomaly_judgement[])
RETURNS bigint
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    WITH jr AS (SELECT * FROM unnest(p_judged)),
    ins AS (
        INSERT INTO nadia_bgw.metric_anomalies
               (detected_at, kind, objid, source, metric, group_columns, group_hash,
                bucket_start, bucket_end, observed, median, expected_low, expected_high,
                score, direction, seasons)
        SELECT p_now, jr.kind, jr.objid, jr.source, jr.metric, jr.group_columns, jr.group_hash,
               jr.bucket_start, jr.bucket_end, jr.observed, jr.median, jr.expected_low,
               jr.expected_high, jr.score,
               CASE WHEN jr.observed > jr.expected_high THEN 'high' ELSE 'low' END, jr.seasons
          FROM jr WHERE jr.status = 'anomaly'
        ON CONFLICT (kind, objid, metric, group_hash, bucket_start) DO NOTHING
        RETURNING 1),
    ser AS (
        INSERT INTO nadia_bgw.anomaly_series AS a
               (kind, objid, source, metric, group_columns, group_hash, last_bucket_start,
                last_bucket_end, last_status, judged, not_judged, anomalies, updated_at)
        SELECT l.kind, l.objid, l.source, l.metric, l.group_columns, l.group_hash,
               l.bucket_start, l.bucket_end, l.status, c.judged, c.not_judged, c.anomalies, p_now
          FROM (SELECT DISTINCT ON (jr.kind, jr.objid, jr.metric, jr.group_hash) jr.*
                  FROM jr ORDER BY jr.kind, jr.objid, jr.metric, jr.group_hash, jr.bucket_end DESC) l
          JOIN (SELECT jr.kind, jr.objid, jr.metric, jr.group_hash,
                       count(*) FILTER (WHERE jr.status <> 'not judged') AS judged,
                       count(*) FILTER (WHERE jr.status = 'not judged') AS not_judged,
                       count(*) FILTER (WHERE jr.status = 'anomaly') AS anomalies
                  FROM jr GROUP BY jr.kind, jr.objid, jr.metric, jr.group_hash) c
         USING (kind, objid, metric, group_hash)
        ON CONFLICT (kind, objid, metric, group_hash) DO UPDATE
           SET source = EXCLUDED.source, last_bucket_start = EXCLUDED.last_bucket_start,
               last_bucket_end = EXCLUDED.last_bucket_end, last_status = EXCLUDED.last_status,
               judged = a.judged + EXCLUDED.judged, not_judged = a.not_judged + EXCLUDED.not_judged,
               anomalies = a.anomalies + EXCLUDED.anomalies, updated_at = EXCLUDED.updated_at
        RETURNING 1)
    SELECT count(*) FROM ins
$$;
REVOKE ALL ON FUNCTION nadia_bgw._anomaly_store(timestamptz, nadia_bgw.anomaly_judgement[]) FROM PUBLIC;

-- Judge one rollup's closed buckets ending in (since, until]; returns the
-- anomalies written.  The query reads the rollup's table with built-in
-- operations only (see the header).
CREATE FUNCTION nadia_bgw._anomaly_rollup(p_rollup integer, p_now timestamptz)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r          record;
    v_groups   text[];
    v_cols     text[];
    v_vals     text[];
    v_counts   boolean[];
    v_since    timestamptz;
    v_until    timestamptz;
    v_bs       text;
    v_be       text;
    v_ref      text;
    v_width    double precision;
    v_n        bigint;
    v_last     timestamptz;
    v_lookback integer := current_setting('nadia_bgw.anomaly_lookback')::integer;
    v_min      integer := current_setting('nadia_bgw.anomaly_min_seasons')::integer;
    v_k        double precision := current_setting('nadia_bgw.anomaly_k')::float8;
    v_floor    double precision := current_setting('nadia_bgw.anomaly_mad_floor')::float8;
    v_maxg     integer := current_setting('nadia_bgw.anomaly_max_groups')::integer;
BEGIN
    SELECT ro.id, ro.name, ro.target, ro.bucket, ro.local_days, ro.origin, ro.timezone,
           ro.bucket_column, coalesce(ro.threshold, ro.created_at) AS complete_until
      INTO r
      FROM nadia_bgw.rollup ro
     WHERE ro.id = p_rollup
       AND EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = ro.target AND c.relkind IN ('r', 'p'));
    IF NOT FOUND THEN
        RETURN 0;           -- its table was dropped
    END IF;

    -- group columns: the key of the unique index on the bucket and group
    -- columns that create_rollup() made, besides the bucket
    SELECT array_agg(a.attname::text ORDER BY k.ord)
      INTO v_groups
      FROM pg_index i
      CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord)
      JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
     WHERE i.indrelid = r.target AND i.indisunique
       AND a.attname <> r.bucket_column
       AND i.indexrelid = (SELECT min(i2.indexrelid) FROM pg_index i2
                            JOIN pg_attribute b ON b.attrelid = i2.indrelid
                                              AND b.attname = r.bucket_column
                                              AND b.attnum = ANY (i2.indkey::int2[])
                            WHERE i2.indrelid = r.target AND i2.indisunique);
    v_groups := coalesce(v_groups, '{}');
    -- a group column of a type with user-written equality or output
    -- functions would run them as the worker: such a rollup is skipped
    IF EXISTS (SELECT 1 FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
                WHERE a.attrelid = r.target AND a.attname = ANY (v_groups)
                  AND NOT (t.oid < 16384 OR t.typtype = 'e')) THEN
        RETURN 0;
    END IF;

    -- the measures: numeric columns of built-in types; intervals in seconds
    SELECT array_agg(a.attname::text ORDER BY a.attnum),
           array_agg(CASE WHEN a.atttypid = 'interval'::regtype
                          THEN format('extract(epoch FROM t.%I)::float8', a.attname)
                          ELSE format('t.%I::float8', a.attname) END ORDER BY a.attnum),
           array_agg(a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype)
                     ORDER BY a.attnum)
      INTO v_cols, v_vals, v_counts
      FROM pg_attribute a
     WHERE a.attrelid = r.target AND a.attnum > 0 AND NOT a.attisdropped
       AND a.attname <> r.bucket_column AND NOT (a.attname = ANY (v_groups))
       AND a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype,
                          'float4'::regtype, 'float8'::regtype, 'numeric'::regtype,
                          'interval'::regtype);
    IF v_cols IS NULL THEN
        RETURN 0;
    END IF;

    SELECT p.judged_until INTO v_since
      FROM nadia_bgw.anomaly_progress p WHERE p.kind = 'rollup' AND p.objid = r.id;
    v_since := coalesce(v_since, '-infinity');
    -- a bucket is complete in the table once the rollup's threshold (the
    -- start of the bucket of its last refresh; before the first refresh,
    -- the fill at creation) has passed its end: later changes to it are
    -- logged and recomputed, but are not judged again
    v_until := least(p_now, r.complete_until);
    IF v_until <= v_since THEN
        RETURN 0;
    END IF;

    -- bucket start and end; the season: the same hour of week for
    -- fixed widths (the bucket containing start - k weeks), the same
    -- weekday for day buckets, the previous buckets for longer ones
    IF r.local_days THEN
        -- bkey: the bucket column itself (a date)
        v_bs := format('(t.%I::timestamp AT TIME ZONE %L) AS bs, t.%I AS bkey',
                       r.bucket_column, r.timezone, r.bucket_column);
        v_be := format('((t.%I + %s)::timestamp AT TIME ZONE %L)', r.bucket_column,
                       extract(day FROM r.bucket)::int, r.timezone);
        v_ref := format('(tg.bkey - %s * s.k)',
                        CASE WHEN extract(day FROM r.bucket) = 1 THEN 7
                             ELSE extract(day FROM r.bucket)::int END);
    ELSE
        v_width := extract(epoch FROM r.bucket);
        v_bs := format('t.%I AS bs, t.%I AS bkey', r.bucket_column, r.bucket_column);
        v_be := format('(t.%I + %L::interval)', r.bucket_column, r.bucket);
        v_ref := format('(%L::timestamptz + (floor(extract(epoch FROM (tg.bs - s.k * interval ''168 hours'') - %L::timestamptz) / %s)::float8 * %s) * interval ''1 second'')',
                        r.origin, r.origin, v_width, v_width);
    END IF;

    EXECUTE format($q$
        WITH v AS (
            SELECT %1$s, %2$s AS be,
                   %3$s AS gh, m.metric, m.val, m.is_count
              FROM %4$s t
             CROSS JOIN LATERAL unnest(%5$L::text[], ARRAY[%6$s], %9$L::boolean[])
                        AS m(metric, val, is_count)),
        grp AS (SELECT v.gh FROM v GROUP BY v.gh ORDER BY count(*) DESC, v.gh LIMIT %7$s),
        tg AS (SELECT v.* FROM v JOIN grp USING (gh)
                WHERE v.be > $1 AND v.be <= $2 AND v.val IS NOT NULL),
        -- each target's past seasons, one hash join (not a scan of the
        -- table per target)
        h AS (
            SELECT tg.gh, tg.metric, tg.is_count, tg.bs, tg.be, tg.val AS observed,
                   array_agg(hv.val) FILTER (WHERE hv.val IS NOT NULL) AS vals
              FROM tg
             CROSS JOIN generate_series(1, $3) AS s(k)
              LEFT JOIN v hv ON hv.gh = tg.gh AND hv.metric = tg.metric AND hv.bkey = %8$s
             GROUP BY tg.gh, tg.metric, tg.is_count, tg.bs, tg.be, tg.val),
        j AS (SELECT h.*, coalesce(cardinality(h.vals), 0) AS seasons FROM h),
        jr AS (
            SELECT j.*, r.median, r.expected_low, r.expected_high, r.score,
                   CASE WHEN j.seasons < $4 THEN 'not judged'
                        WHEN j.observed > r.expected_high OR j.observed < r.expected_low THEN 'anomaly'
                        ELSE 'normal' END AS status
              FROM j
              LEFT JOIN LATERAL nadia_bgw._anomaly_range(j.vals, j.observed, $5, $6, j.is_count) r
                ON j.seasons >= $4)
        SELECT nadia_bgw._anomaly_store($7,
                   (SELECT array_agg(row('rollup', $8, $9, jr.metric, $10, jr.gh, jr.bs, jr.be,
                                         jr.observed, jr.seasons, jr.median, jr.expected_low,
                                         jr.expected_high, jr.score, jr.status
                                        )::nadia_bgw.anomaly_judgement)
                      FROM jr)),
               (SELECT max(be) FROM v WHERE be <= $2)
        $q$,
        v_bs,
        v_be,
        CASE WHEN cardinality(v_groups) = 0 THEN '''''::text'
             ELSE 'md5(row(' || (SELECT string_agg(format('t.%I', g), ', ') FROM unnest(v_groups) g) || ')::text)' END,
        r.target::regclass::text,
        v_cols,
        array_to_string(v_vals, ', '),
        v_maxg,
        v_ref,
        v_counts)
    INTO v_n, v_last
    USING v_since, v_until, v_lookback, v_min, v_k, v_floor, p_now, r.id::bigint, r.name, v_groups;

    IF v_last IS NOT NULL AND v_last > v_since THEN
        INSERT INTO nadia_bgw.anomaly_progress AS p (kind, objid, judged_until)
        VALUES ('rollup', r.id, v_last)
        ON CONFLICT (kind, objid) DO UPDATE SET judged_until = EXCLUDED.judged_until;
    END IF;
    RETURN v_n;
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw._anomaly_rollup(integer, timestamptz) FROM PUBLIC;

-- Judge the insert, update and delete counts of every table in the window
-- of each new sample: its interval and the one before (two samples, so a
-- stop is flagged at the second sample after it), from the raw
-- table_samples deltas (sparse: no row = 0).  The baseline is the same
-- hour of the past anomaly_lookback weeks: hourly tier rows where the tier
-- is done, raw samples summed per hour where it is not yet, scaled to the
-- window's length; the spread gets a floor of sqrt(expected) (the count's
-- own Poisson noise), so that a quiet table's minute without writes is
-- normal while a busy table's is not.  Returns the anomalies written.
CREATE FUNCTION nadia_bgw._anomaly_table_writes(p_now timestamptz)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_since    timestamptz;
    v_last     timestamptz;
    v_n        bigint;
    v_done     timestamptz;
    v_lookback integer := current_setting('nadia_bgw.anomaly_lookback')::integer;
    v_min      integer := current_setting('nadia_bgw.anomaly_min_seasons')::integer;
    v_k        double precision := current_setting('nadia_bgw.anomaly_k')::float8;
    v_floor    double precision := current_setting('nadia_bgw.anomaly_mad_floor')::float8;
BEGIN
    SELECT p.judged_until INTO v_since
      FROM nadia_bgw.anomaly_progress p WHERE p.kind = 'table_writes' AND p.objid = 0;
    -- the first run judges the last hour only
    v_since := coalesce(v_since, p_now - interval '1 hour');
    SELECT coalesce(t.done_until, '-infinity') INTO v_done
      FROM nadia_bgw.tier_state t WHERE t.tier = 'hourly';
    v_done := coalesce(v_done, '-infinity');

    -- each new sample's window: its interval and the one before (a
    -- sample that failed to read tables recorded nothing: the next one's
    -- deltas cover its interval too)
    WITH smp AS (
        SELECT s.sampled_at, s.prev
          FROM (SELECT s.sampled_at,
                       lag(s.sampled_at, 2) OVER (ORDER BY s.sampled_at) AS prev
                  FROM nadia_bgw.samples s
                 WHERE s.sampled_at > v_since - interval '4 hours' AND s.sampled_at <= p_now
                   AND NOT ('tables' = ANY (s.failed_sources))) s
         WHERE s.sampled_at > v_since AND s.prev IS NOT NULL
           AND s.sampled_at - s.prev <= interval '2 hours'),
    -- the hour of each sample's midpoint, k weeks back
    hrs AS (
        SELECT smp.sampled_at, smp.prev, s.k,
               (date_trunc('hour', (smp.prev + (smp.sampled_at - smp.prev) / 2) AT TIME ZONE 'UTC')
                  AT TIME ZONE 'UTC') - s.k * interval '168 hours' AS ref
          FROM smp CROSS JOIN generate_series(1, v_lookback) AS s(k)),
    -- hours in which the sampler ran (a table without a row wrote nothing)
    seen AS (
        SELECT h.* FROM hrs h
         WHERE CASE WHEN h.ref + interval '1 hour' <= v_done
                    THEN EXISTS (SELECT 1 FROM nadia_bgw.table_hourly t
                                  WHERE t.sampled_at >= h.ref AND t.sampled_at < h.ref + interval '1 hour')
                    ELSE EXISTS (SELECT 1 FROM nadia_bgw.samples s
                                  WHERE s.sampled_at >= h.ref AND s.sampled_at < h.ref + interval '1 hour')
               END),
    hist AS (
        SELECT h.sampled_at, h.k, t.relid, sum(coalesce(t.n_tup_ins, 0)) AS ins,
               sum(coalesce(t.n_tup_upd, 0)) AS upd, sum(coalesce(t.n_tup_del, 0)) AS del
          FROM seen h
          JOIN nadia_bgw.table_hourly t
            ON t.sampled_at >= h.ref AND t.sampled_at < h.ref + interval '1 hour'
         WHERE h.ref + interval '1 hour' <= v_done
         GROUP BY h.sampled_at, h.k, t.relid
        UNION ALL
        SELECT h.sampled_at, h.k, t.relid, sum(coalesce(t.n_tup_ins, 0)),
               sum(coalesce(t.n_tup_upd, 0)), sum(coalesce(t.n_tup_del, 0))
          FROM seen h
          JOIN nadia_bgw.table_samples t
            ON t.sampled_at >= h.ref AND t.sampled_at < h.ref + interval '1 hour'
         WHERE h.ref + interval '1 hour' > v_done
         GROUP BY h.sampled_at, h.k, t.relid),
    cur AS (
        SELECT smp.sampled_at, t.relid, sum(coalesce(t.n_tup_ins, 0)) AS ins,
               sum(coalesce(t.n_tup_upd, 0)) AS upd, sum(coalesce(t.n_tup_del, 0)) AS del
          FROM smp JOIN nadia_bgw.table_samples t
            ON t.sampled_at > smp.prev AND t.sampled_at <= smp.sampled_at
         GROUP BY smp.sampled_at, t.relid),
    -- every (sample, table) that wrote now or in a past season
    pairs AS (
        SELECT DISTINCT smp.sampled_at, smp.prev, x.relid
          FROM smp
          JOIN (SELECT sampled_at, relid FROM hist UNION SELECT sampled_at, relid FROM cur) x
            ON x.sampled_at = smp.sampled_at),
    j AS (
        SELECT p.sampled_at, p.prev, p.relid, m.metric,
               CASE m.metric WHEN 'n_tup_ins' THEN coalesce(c.ins, 0)
                             WHEN 'n_tup_upd' THEN coalesce(c.upd, 0)
                             ELSE coalesce(c.del, 0) END::float8 AS observed,
               -- the seasons' hourly counts scaled to this window's length
               array_agg(CASE m.metric WHEN 'n_tup_ins' THEN coalesce(h.ins, 0)
                                       WHEN 'n_tup_upd' THEN coalesce(h.upd, 0)
                                       ELSE coalesce(h.del, 0) END::float8
                         * extract(epoch FROM p.sampled_at - p.prev)::float8 / 3600)
                 FILTER (WHERE sn.k IS NOT NULL) AS vals
          FROM pairs p
         CROSS JOIN (VALUES ('n_tup_ins'), ('n_tup_upd'), ('n_tup_del')) AS m(metric)
          LEFT JOIN cur c ON c.sampled_at = p.sampled_at AND c.relid = p.relid
          LEFT JOIN seen sn ON sn.sampled_at = p.sampled_at
          LEFT JOIN hist h ON h.sampled_at = sn.sampled_at AND h.k = sn.k AND h.relid = p.relid
         GROUP BY p.sampled_at, p.prev, p.relid, m.metric, c.ins, c.upd, c.del),
    jr AS (
        SELECT j.*, coalesce(cardinality(j.vals), 0) AS seasons, r.median, r.expected_low,
               r.expected_high, r.score,
               format('%I.%I', tc.schemaname, tc.relname) AS source,
               CASE WHEN coalesce(cardinality(j.vals), 0) < v_min THEN 'not judged'
                    WHEN j.observed > r.expected_high OR j.observed < r.expected_low THEN 'anomaly'
                    ELSE 'normal' END AS status
          FROM j
          JOIN nadia_bgw.table_catalog tc ON tc.relid = j.relid
          LEFT JOIN LATERAL nadia_bgw._anomaly_range(j.vals, j.observed, v_k, v_floor, true) r
            ON coalesce(cardinality(j.vals), 0) >= v_min
         -- a series that never writes is no series
         WHERE j.observed > 0 OR EXISTS (SELECT 1 FROM unnest(j.vals) v WHERE v > 0))
    SELECT nadia_bgw._anomaly_store(p_now,
               (SELECT array_agg(row('table_writes', jr.relid::bigint, jr.source, jr.metric, '{}', '',
                                     jr.prev, jr.sampled_at, jr.observed, jr.seasons, jr.median,
                                     jr.expected_low, jr.expected_high, jr.score, jr.status
                                    )::nadia_bgw.anomaly_judgement)
                  FROM jr)),
           (SELECT max(sampled_at) FROM smp)
      INTO v_n, v_last;

    IF v_last IS NOT NULL THEN
        INSERT INTO nadia_bgw.anomaly_progress AS p (kind, objid, judged_until)
        VALUES ('table_writes', 0, v_last)
        ON CONFLICT (kind, objid) DO UPDATE SET judged_until = EXCLUDED.judged_until;
    END IF;
    -- a series whose table stopped appearing keeps its last status until
    -- a sample judges it again: a table that wrote in the past seasons is
    -- in "pairs" of every sample, so a stop is judged, not forgotten
    RETURN v_n;
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw._anomaly_table_writes(timestamptz) FROM PUBLIC;

-- The anomalies task: every rollup, then the table writes; old anomalies
-- and the state of dropped rollups are removed.  Returns the anomalies
-- written.
CREATE FUNCTION nadia_bgw._quality_anomalies(p_now timestamptz)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_id integer;
    v_n  bigint := 0;
BEGIN
    DELETE FROM nadia_bgw.metric_anomalies
     WHERE bucket_end < p_now - make_interval(days => current_setting('nadia_bgw.anomaly_retention_days')::integer);
    DELETE FROM nadia_bgw.anomaly_series a
     WHERE a.kind = 'rollup' AND NOT EXISTS (SELECT 1 FROM nadia_bgw.rollup r WHERE r.id = a.objid);
    DELETE FROM nadia_bgw.anomaly_progress a
     WHERE a.kind = 'rollup' AND NOT EXISTS (SELECT 1 FROM nadia_bgw.rollup r WHERE r.id = a.objid);
    FOR v_id IN SELECT r.id FROM nadia_bgw.rollup r ORDER BY r.id LOOP
        v_n := v_n + nadia_bgw._anomaly_rollup(v_id, p_now);
    END LOOP;
    v_n := v_n + nadia_bgw._anomaly_table_writes(p_now);
    RETURN v_n;
END
$$;
REVOKE ALL ON FUNCTION nadia_bgw._quality_anomalies(timestamptz) FROM PUBLIC;

-- Reader: the anomalies of buckets that overlap [since, until).
CREATE FUNCTION nadia_bgw.data_anomalies(
    since timestamptz DEFAULT now() - interval '7 days',
    until timestamptz DEFAULT now())
RETURNS TABLE (detected_at timestamptz, kind text, source text, metric text,
               group_columns text[], group_hash text,
               bucket_start timestamptz, bucket_end timestamptz,
               observed double precision, median double precision,
               expected_low double precision, expected_high double precision,
               score double precision, direction text, seasons integer)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT a.detected_at, a.kind, a.source, a.metric, a.group_columns, a.group_hash,
           a.bucket_start, a.bucket_end, a.observed, a.median, a.expected_low,
           a.expected_high, a.score, a.direction, a.seasons
      FROM nadia_bgw.metric_anomalies a
     WHERE a.bucket_end > since AND a.bucket_start < until
     ORDER BY a.bucket_start, a.kind, a.source, a.metric, a.group_hash
$$;
REVOKE ALL ON FUNCTION nadia_bgw.data_anomalies(timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION nadia_bgw.data_anomalies(timestamptz, timestamptz) TO nadia_bgw_reader;

-- Candidates of the metric_anomaly alert (worker/alerts/detectors.c): the
-- series whose latest judged bucket is an anomaly; the alert resolves once
-- a later bucket is judged normal (or cannot be judged).
CREATE FUNCTION nadia_bgw._anomaly_alerts()
RETURNS TABLE (kind text, alert_key text, object text, object_type text, dbid oid,
               datname text, relid oid, relname text, queryid bigint, userid oid,
               query text, metric text, baseline double precision,
               observed double precision, severity text, details jsonb)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT 'metric_anomaly',
           format('metric_anomaly:%s:%s:%s:%s', a.kind, a.objid, a.metric, a.group_hash),
           CASE a.kind WHEN 'rollup' THEN format('rollup %s column %s', a.source, a.metric)
                       ELSE format('table %s %s', a.source, a.metric) END
             || CASE WHEN a.group_hash <> '' THEN format(' group %s', left(a.group_hash, 12)) ELSE '' END,
           CASE a.kind WHEN 'rollup' THEN 'rollup' ELSE 'table' END,
           d.oid, current_database()::text,
           CASE a.kind WHEN 'rollup' THEN r.target::oid ELSE a.objid::oid END,
           a.source,
           NULL::bigint, NULL::oid, NULL::text,
           a.metric, a.median, a.observed, 'warning',
           jsonb_build_object('source_kind', a.kind, 'bucket_start', a.bucket_start,
               'bucket_end', a.bucket_end, 'expected_low', a.expected_low,
               'expected_high', a.expected_high, 'median', a.median,
               'score', a.score, 'direction', a.direction, 'seasons', a.seasons,
               'group_columns', a.group_columns, 'group_hash', a.group_hash)
      FROM nadia_bgw.anomaly_series s
      JOIN nadia_bgw.metric_anomalies a
        ON a.kind = s.kind AND a.objid = s.objid AND a.metric = s.metric
       AND a.group_hash = s.group_hash AND a.bucket_start = s.last_bucket_start
      JOIN pg_database d ON d.datname = current_database()
      LEFT JOIN nadia_bgw.rollup r ON a.kind = 'rollup' AND r.id = a.objid
     WHERE s.last_status = 'anomaly'
     ORDER BY abs(coalesce(a.score, 1e9)) DESC
$$;
REVOKE ALL ON FUNCTION nadia_bgw._anomaly_alerts() FROM PUBLIC;
