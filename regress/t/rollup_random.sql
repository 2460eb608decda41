-- rollup_random.sql -- the randomized rollup test driven by t/201_rollup_random.pl.
--
-- nadia_rollup_random(seed, ops, conninfo) plays "ops" random operations
-- from two writer sessions (dblink connections, each with its own open
-- transaction at times) and this session (refreshes, checks, TRUNCATE):
-- hot and old inserts, rows moved between days, score updates, deletes,
-- savepoints rolled back, aborted transactions, REPEATABLE READ writers,
-- a simulated midnight.  Whenever no writer has a transaction open it may
-- refresh every rollup and compare it with its full query (EXCEPT both
-- ways, nadia_bgw.rollup_check); at the end it always does.  Any
-- difference raises an error naming the seed and the operation.
-- Writers only touch their own rows, so no operation ever waits on a lock
-- held by another (the driver is single-threaded).

CREATE EXTENSION IF NOT EXISTS dblink;

CREATE TABLE rt (
    id      bigserial PRIMARY KEY,
    at      timestamptz NOT NULL,
    owner   integer NOT NULL,
    user_id integer,
    score   integer,
    model   text
);
CREATE INDEX ON rt (at);

CREATE FUNCTION rt_time() RETURNS text
LANGUAGE sql VOLATILE AS $$
    SELECT CASE
        WHEN x < 0.45 THEN 'now()'
        WHEN x < 0.80 THEN format('now() - interval ''%s minutes''', floor(random() * 14400)::int)
        WHEN x < 0.90 THEN format('now() - interval ''%s days''', floor(random() * 40)::int)
        -- DST days of Madrid, New York and a half-hour zone's neighbours
        ELSE format('%L::timestamptz + interval ''%s minutes''',
                    (ARRAY['2024-03-10 00:00+00', '2024-03-31 00:00+00',
                           '2024-10-27 00:00+00', '2024-11-03 00:00+00'])[1 + floor(random() * 4)::int],
                    floor(random() * 2880)::int)
    END FROM (SELECT random() AS x) r
$$;

CREATE FUNCTION rt_check(seed integer, op integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    n text;
    c record;
BEGIN
    FOR n IN SELECT name FROM nadia_bgw.rollup ORDER BY id LOOP
        PERFORM nadia_bgw.refresh_rollup(n);
    END LOOP;
    FOR n IN SELECT name FROM nadia_bgw.rollup ORDER BY id LOOP
        SELECT * INTO c FROM nadia_bgw.rollup_check(n);
        IF c.missing <> 0 OR c.extra <> 0 THEN
            RAISE EXCEPTION 'seed %, op %: rollup % differs from its query: % missing, % extra',
                            seed, op, n, c.missing, c.extra;
        END IF;
    END LOOP;
    RETURN 1;
END
$$;

CREATE PROCEDURE nadia_rollup_random(seed integer, ops integer, conninfo text,
                                     INOUT checks integer DEFAULT 0)
LANGUAGE plpgsql AS $$
DECLARE
    intx    boolean[] := ARRAY[false, false];
    w       integer;
    conn    text;
    x       double precision;
    op      integer;
    k       integer;
    midnight_done boolean := false;
    sql     text;
BEGIN
    PERFORM setseed((seed % 1000) / 1000.0);
    PERFORM dblink_connect('w1', conninfo);
    PERFORM dblink_connect('w2', conninfo);

    FOR op IN 1 .. ops LOOP
        x := random();
        IF x < 0.75 THEN
            -- a writer's operation
            w := 1 + floor(random() * 2)::int;
            conn := 'w' || w;
            IF NOT intx[w] AND random() < 0.5 THEN
                PERFORM dblink_exec(conn, CASE WHEN random() < 0.3
                                               THEN 'BEGIN ISOLATION LEVEL REPEATABLE READ'
                                               ELSE 'BEGIN' END);
                intx[w] := true;
            END IF;
            x := random();
            IF x < 0.45 THEN
                k := 1 + floor(random() * 4)::int;
                sql := format('INSERT INTO rt (at, owner, user_id, score, model) SELECT %s, %s, '
                              '(random() * 30)::int, 1 + (random() * 4)::int, '
                              '(ARRAY[''a'', ''b'', NULL])[1 + floor(random() * 3)::int] '
                              'FROM generate_series(1, %s)', rt_time(), w, k);
            ELSIF x < 0.60 THEN
                sql := format('UPDATE rt SET at = %s WHERE owner = %s AND id %% 7 = %s',
                              rt_time(), w, floor(random() * 7)::int);
            ELSIF x < 0.75 THEN
                sql := format('UPDATE rt SET score = 1 + (random() * 4)::int, user_id = user_id + 1 '
                              'WHERE owner = %s AND id %% 5 = %s', w, floor(random() * 5)::int);
            ELSIF x < 0.87 THEN
                sql := format('DELETE FROM rt WHERE owner = %s AND id %% 11 = %s',
                              w, floor(random() * 11)::int);
            ELSE
                -- a savepoint rolled back (only inside a transaction)
                IF intx[w] THEN
                    PERFORM dblink_exec(conn, 'SAVEPOINT s');
                    PERFORM dblink_exec(conn, format('INSERT INTO rt (at, owner, user_id, score) '
                                                     'VALUES (%s, %s, 99, 5), (%s, %s, 98, 1)',
                                                     rt_time(), w, rt_time(), w));
                    PERFORM dblink_exec(conn, format('DELETE FROM rt WHERE owner = %s AND id %% 3 = 0', w));
                    PERFORM dblink_exec(conn, 'ROLLBACK TO SAVEPOINT s');
                END IF;
                sql := NULL;
            END IF;
            IF sql IS NOT NULL THEN
                PERFORM dblink_exec(conn, sql);
            END IF;
            IF intx[w] AND random() < 0.35 THEN
                PERFORM dblink_exec(conn, CASE WHEN random() < 0.8 THEN 'COMMIT' ELSE 'ROLLBACK' END);
                intx[w] := false;
            END IF;
        ELSIF x < 0.93 THEN
            -- a refresh, as the worker would run it, while writers may be in flight
            PERFORM nadia_bgw._rollup_task();
        ELSIF x < 0.935 AND NOT midnight_done AND op > ops / 2 THEN
            -- midnight: the threshold moves past today while writers are in flight
            -- (not for rollups with a horizon: it would move back afterwards)
            PERFORM nadia_bgw._rollup_refresh(id, false, now() + interval '1 day')
               FROM nadia_bgw.rollup WHERE horizon IS NULL;
            midnight_done := true;
        ELSIF x < 0.94 AND NOT intx[1] AND NOT intx[2] AND random() < 0.3 THEN
            TRUNCATE rt;
        ELSIF NOT intx[1] AND NOT intx[2] THEN
            checks := checks + rt_check(seed, op);
        END IF;
        COMMIT;
    END LOOP;

    FOR w IN 1 .. 2 LOOP
        IF intx[w] THEN
            PERFORM dblink_exec('w' || w, 'COMMIT');
        END IF;
    END LOOP;
    PERFORM dblink_disconnect('w1');
    PERFORM dblink_disconnect('w2');
    COMMIT;
    checks := checks + rt_check(seed, ops + 1);
END
$$;
