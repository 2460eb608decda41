/*-------------------------------------------------------------------------
 *
 * notify.c
 *		Sending the notifications queued in alert rows (notify_pending) with
 *		NOTIFY on nadia_bgw.notify_channel.
 *
 * A NOTIFY never costs an alert row: each one is sent in a subtransaction
 * that only clears notify_pending, so a failure (a full notification
 * queue, an injected fault) rolls back that subtransaction, records the
 * error in the row and leaves it pending for the next run.  While the
 * queue is more than half full we do not even try, since the queue-full
 * error would only come at commit and take the alert rows with it.
 * Notifications reach listeners when the transaction commits, together
 * with the rows they describe.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/async.h"
#include "executor/spi.h"

#include "core/core.h"
#include "alerts/alerts_internal.h"

/* Notifications sent per run at most; the rest wait for the next run. */
#define NADIA_NOTIFY_BATCH		200
/* Above this share of the notification queue, sending waits. */
#define NADIA_NOTIFY_QUEUE_LIMIT 0.5

static const char *const set_error_sql =
"UPDATE nadia_bgw.alerts SET notify_error = $2 WHERE alert_id = $1";

static double
notify_queue_usage(void)
{
	bool		isnull;
	int			rc;

	rc = SPI_execute("SELECT pg_catalog.pg_notification_queue_usage()", true, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "reading notification queue usage failed");
	return DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[0],
										SPI_tuptable->tupdesc, 1, &isnull));
}

typedef struct NotifyCall
{
	int64		alert_id;
	const char *event;
} NotifyCall;

/* NOTIFY one alert and clear its pending notification. */
static void
notify_one(void *arg)
{
	NotifyCall *call = (NotifyCall *) arg;
	char	   *payload;

	/* the test build's failure; its text is what regress/sql/alerts.sql expects */
	if (nadia_debug_fail_notify)
		ereport(ERROR,
				(errcode(ERRCODE_TRIGGERED_ACTION_EXCEPTION),
				 errmsg("injected notification failure"),
				 errhint("Reset nadia_bgw.debug_fail_notify to stop it.")));
	payload = nadia_alert_payload(call->alert_id, call->event);
	if (payload != NULL)
		Async_Notify(nadia_notify_channel, payload);
	nadia_alert_set("UPDATE nadia_bgw.alerts"
					"   SET notify_pending = NULL, notify_error = NULL,"
					"       notified_at = pg_catalog.now()"
					" WHERE alert_id = $1",
					call->alert_id, NULL, "clearing notification");
}

/*
 * Send one alert's notification inside a subtransaction; on failure, roll
 * it back (the queued notification goes with it) and keep the alert
 * pending with the error recorded: its SQLSTATE for the reader, the
 * message in the server log.  Returns true if sent.
 */
static bool
send_one(int64 alert_id, const char *event)
{
	NotifyCall	call = {alert_id, event};
	NadiaGuardError err;
	char	   *what = psprintf("notification for alert " INT64_FORMAT, alert_id);

	if (nadia_guarded_call(what,
						   "The alert is kept and its notification is retried at the next detection run.",
						   notify_one, &call, 0, &err))
		return true;
	nadia_alert_set(set_error_sql, alert_id, err.public_text,
					"recording notification error");
	return false;
}

/*
 * Send the notifications queued in alert rows, oldest first.  Returns how
 * many went out.
 */
int
nadia_alert_send_pending(void)
{
	uint64		i;
	uint64		n;
	int64	   *ids;
	char	  **events;
	int			sent = 0;

	nadia_spi_check(SPI_execute("SELECT alert_id, notify_pending FROM nadia_bgw.alerts"
								" WHERE notify_pending IS NOT NULL ORDER BY alert_id",
								false, NADIA_NOTIFY_BATCH),
					SPI_OK_SELECT, "reading pending notifications");
	n = SPI_processed;
	if (n == 0)
		return 0;
	ids = palloc(sizeof(int64) * n);
	events = palloc(sizeof(char *) * n);
	for (i = 0; i < n; i++)
	{
		bool		isnull;

		ids[i] = nadia_spi_getint8(i, 1, &isnull);
		events[i] = nadia_spi_getstring(i, 2);
	}

	if (notify_queue_usage() > NADIA_NOTIFY_QUEUE_LIMIT)
	{
		ereport(WARNING,
				(errmsg("nadia_bgw: the notification queue is more than half full; %llu alert notifications wait",
						(unsigned long long) n),
				 errhint("A session that listens but does not read its notifications holds the queue; pg_notification_queue_usage() shows the fill level.")));
		for (i = 0; i < n; i++)
			nadia_alert_set(set_error_sql, ids[i],
							"notification queue more than half full",
							"recording notification error");
		return 0;
	}

	for (i = 0; i < n; i++)
		if (send_one(ids[i], events[i]))
			sent++;
	return sent;
}
