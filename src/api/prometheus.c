/* GET /metrics: the Prometheus text format (version 0.0.4). The request
 * counters are the sums of every dagy-api process's block (stats.h); the
 * run, step, queue, schedule and worker figures are read from MariaDB at
 * scrape time (gauges.h). Loopback clients need no token; others send
 * [metrics] token as a bearer token. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "dagy/config.h"
#include "dagy/crypto.h"
#include "dagy/gauges.h"
#include "dagy/stats.h"

static int metrics_get(struct req *r);

const struct route prometheus_routes[] = {
	{"GET", "/metrics", metrics_get, PERM_PUBLIC, 0, DIALECT_DAGY},
};
const size_t prometheus_routes_n = sizeof(prometheus_routes) / sizeof(prometheus_routes[0]);

static int
loopback(const char *addr)
{
	return addr != NULL && (strncmp(addr, "127.", 4) == 0 || strcmp(addr, "::1") == 0 ||
	    strncmp(addr, "::ffff:127.", 11) == 0);
}

/* 0 when the client may read the metrics, else -1 after answering. */
static int
check_client(struct req *r)
{
	const char *token = config_str(r->srv->cfg, "metrics", "token");
	const char *h = req_env(r, "HTTP_AUTHORIZATION");
	const char *given = h != NULL && strncasecmp(h, "Bearer ", 7) == 0 ? h + 7 : NULL;

	if (given != NULL && *token != '\0') {
		if (strlen(given) == strlen(token) && crypto_equal(given, token, strlen(token)))
			return 0;
		api_header(r, "WWW-Authenticate: Bearer error=\"invalid_token\"");
		return api_error(r, API_E_UNAUTHORIZED, NULL, "wrong metrics token"), -1;
	}
	if (loopback(req_env(r, "REMOTE_ADDR")))
		return 0;
	if (*token == '\0')
		return api_error(r, API_E_FORBIDDEN, NULL,
		    "metrics are served to loopback clients only; set [metrics] token"), -1;
	api_header(r, "WWW-Authenticate: Bearer");
	return api_error(r, API_E_UNAUTHORIZED, NULL,
	    "missing Authorization: Bearer with the metrics token"), -1;
}

static void
head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A histogram from per-bucket counts (made cumulative here) or, when
 * cumulative is set, from cumulative ones. */
static void
histogram(FILE *f, const char *name, const char *labels, const double *bounds,
    unsigned nb, const uint64_t *b, int cumulative, uint64_t count, double sum)
{
	uint64_t acc = 0;
	unsigned k;

	for (k = 0; k < nb; k++) {
		acc = cumulative ? b[k] : acc + b[k];
		fprintf(f, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, *labels ? "," : "",
		    bounds[k], (unsigned long long)acc);
	}
	fprintf(f, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, *labels ? "," : "",
	    (unsigned long long)count);
	fprintf(f, "%s_sum%s%s%s %.6f\n", name, *labels ? "{" : "", labels,
	    *labels ? "}" : "", sum);
	fprintf(f, "%s_count%s%s%s %llu\n", name, *labels ? "{" : "", labels,
	    *labels ? "}" : "", (unsigned long long)count);
}

/* The route label of index i: its pattern, or "unmatched". */
static void
route_labels(unsigned i, char *buf, size_t len)
{
	const struct route *rt = i < api_route_count() ? api_route_at(i) : NULL;

	if (rt != NULL)
		snprintf(buf, len, "method=\"%s\",route=\"%s\"", rt->method, rt->pattern);
	else
		snprintf(buf, len, "method=\"other\",route=\"unmatched\"");
}

static void
requests(FILE *f, const struct stats_total *t)
{
	char labels[300];
	unsigned i, k;

	head(f, "dagy_http_requests_total", "counter",
	    "API requests answered, by route pattern, method and status.");
	for (i = 0; i <= STATS_MAX_ROUTES; i++) {
		if (t->route[i].count == 0)
			continue;
		route_labels(i, labels, sizeof(labels));
		for (k = 0; k < STATS_NSTATUS; k++) {
			if (t->route[i].status[k] == 0)
				continue;
			if (k == 0)
				fprintf(f, "dagy_http_requests_total{%s,status=\"other\"} %llu\n",
				    labels, (unsigned long long)t->route[i].status[k]);
			else
				fprintf(f, "dagy_http_requests_total{%s,status=\"%d\"} %llu\n", labels,
				    stats_status(k), (unsigned long long)t->route[i].status[k]);
		}
	}
	head(f, "dagy_http_request_duration_seconds", "histogram",
	    "Time from accepting a request to the end of its response.");
	for (i = 0; i <= STATS_MAX_ROUTES; i++) {
		if (t->route[i].count == 0)
			continue;
		route_labels(i, labels, sizeof(labels));
		histogram(f, "dagy_http_request_duration_seconds", labels, stats_bounds,
		    STATS_NBUCKETS, t->route[i].bucket, 0, t->route[i].count,
		    (double)t->route[i].sum_us / 1e6);
	}
	head(f, "dagy_db_errors_total", "counter",
	    "MariaDB faults seen by dagy-api: lost connections, failed connects, deadlocks, other errors.");
	fprintf(f, "dagy_db_errors_total %llu\n", (unsigned long long)t->db_errors);
	head(f, "dagy_db_reconnects_total", "counter", "MariaDB reconnections by dagy-api.");
	fprintf(f, "dagy_db_reconnects_total %llu\n", (unsigned long long)t->db_reconnects);
	head(f, "dagy_api_processes", "gauge", "dagy-api responders counting requests.");
	fprintf(f, "dagy_api_processes %u\n", t->processes);
}

static void
figures(FILE *f, const struct gauges *g, int64_t window)
{
	unsigned k;

	head(f, "dagy_runs", "gauge", "Runs not finished, by status.");
	for (k = 0; k < GAUGES_RUN_ACTIVE; k++)
		fprintf(f, "dagy_runs{status=\"%s\"} %lld\n", gauges_run_active[k],
		    (long long)g->runs[k]);
	head(f, "dagy_queue_depth", "gauge", "Runs waiting for a worker.");
	fprintf(f, "dagy_queue_depth %lld\n", (long long)g->runs[1]);
	head(f, "dagy_queue_oldest_age_seconds", "gauge",
	    "Age of the oldest run waiting for a worker (0 when none waits).");
	fprintf(f, "dagy_queue_oldest_age_seconds %.3f\n", g->oldest_queued);
	head(f, "dagy_workers_alive", "gauge", "Workers with a heartbeat within the lease.");
	fprintf(f, "dagy_workers_alive %lld\n", (long long)g->workers_alive);
	head(f, "dagy_schedules_overdue", "gauge", "Enabled schedules whose next slot has passed.");
	fprintf(f, "dagy_schedules_overdue %lld\n", (long long)g->schedules_overdue);
	head(f, "dagy_schedule_overdue_seconds", "gauge",
	    "How far past its slot the most overdue schedule is (0 when none).");
	fprintf(f, "dagy_schedule_overdue_seconds %.3f\n", g->schedule_overdue_max);
	head(f, "dagy_deliveries_pending", "gauge", "Alert deliveries waiting for an attempt.");
	fprintf(f, "dagy_deliveries_pending %lld\n", (long long)g->deliveries_pending);
	head(f, "dagy_deliveries_ended_window", "gauge",
	    "Alert deliveries that ended in the window, by outcome.");
	for (k = 0; k < GAUGES_DELIVERY_ENDED; k++)
		fprintf(f, "dagy_deliveries_ended_window{outcome=\"%s\"} %lld\n",
		    gauges_delivery_ended[k], (long long)g->deliveries_ended[k]);
	head(f, "dagy_metrics_window_seconds", "gauge",
	    "The window the *_window figures cover ([metrics] window_seconds).");
	fprintf(f, "dagy_metrics_window_seconds %lld\n", (long long)window);
	head(f, "dagy_runs_ended_window", "gauge", "Runs that ended in the window, by status.");
	for (k = 0; k < GAUGES_RUN_ENDED; k++)
		fprintf(f, "dagy_runs_ended_window{status=\"%s\"} %lld\n", gauges_run_ended[k],
		    (long long)g->runs_ended[k]);
	head(f, "dagy_steps_started_window", "gauge", "Steps that started in the window.");
	fprintf(f, "dagy_steps_started_window %lld\n", (long long)g->steps_started);
	head(f, "dagy_steps_ended_window", "gauge", "Steps that ended in the window, by status.");
	for (k = 0; k < GAUGES_STEP_ENDED; k++)
		fprintf(f, "dagy_steps_ended_window{status=\"%s\"} %lld\n", gauges_step_ended[k],
		    (long long)g->steps_ended[k]);
	head(f, "dagy_step_duration_window_seconds", "histogram",
	    "Durations of the steps that ended in the window.");
	histogram(f, "dagy_step_duration_window_seconds", "", gauges_bounds, GAUGES_NBOUNDS,
	    g->step_duration.le, 1, g->step_duration.count, g->step_duration.sum);
	head(f, "dagy_claim_to_start_window_seconds", "histogram",
	    "From a worker claiming a run to its first step starting, for runs claimed in the window.");
	histogram(f, "dagy_claim_to_start_window_seconds", "", gauges_bounds, GAUGES_NBOUNDS,
	    g->claim_to_start.le, 1, g->claim_to_start.count, g->claim_to_start.sum);
	head(f, "dagy_schedule_lateness_window_seconds", "histogram",
	    "From a scheduled slot to its run starting, for scheduled runs started in the window.");
	histogram(f, "dagy_schedule_lateness_window_seconds", "", gauges_bounds,
	    GAUGES_NBOUNDS, g->schedule_lateness.le, 1, g->schedule_lateness.count,
	    g->schedule_lateness.sum);
}

static int
metrics_get(struct req *r)
{
	struct stats_total *t = arena_calloc(&r->arena, sizeof(*t));
	int64_t window = config_int(r->srv->cfg, "metrics", "window_seconds");
	struct gauges g;
	char *text = NULL, *body;
	size_t len = 0;
	FILE *f;
	int rc;

	if (check_client(r) < 0)
		return 0;
	rc = gauges_read(r->db, &r->arena, window,
	    config_int(r->srv->cfg, "worker", "lease_seconds"), &g);
	if (rc == DB_EDEADLOCK)
		return rc;
	if ((f = open_memstream(&text, &len)) == NULL)
		return DB_ERR;
	stats_sum(t);
	requests(f, t);
	head(f, "dagy_database_up", "gauge",
	    "1 when this scrape could read the run figures from MariaDB.");
	fprintf(f, "dagy_database_up %d\n", rc == 0);
	if (rc == 0)
		figures(f, &g, window);
	fclose(f);
	body = arena_strndup(&r->arena, text, len);
	free(text);
	return api_text(r, 200, "text/plain; version=0.0.4; charset=utf-8", body, len);
}
