/* Notification nodes over plain HTTP: slack_post (an incoming-webhook
 * URL) and pagerduty_event (Events API v2). webhook_post is in builtin.c.
 * Sends retry on 429 and 5xx like every other call (http_call). */
#include <stdlib.h>
#include <string.h>

#include "nodes.h"

static int
send_json(const char *url, json_t *body, long timeout, json_t **answer)
{
	struct http_call c;
	char *text = json_dumps(body, JSON_COMPACT);
	int rc = 1;

	memset(&c, 0, sizeof(c));
	c.url = url;
	c.body = text;
	c.timeout = timeout;
	c.retries = 3;
	if (http_call(&c) < 0) {
		fprintf(stderr, "%s: no answer\n", url);
	} else {
		out_kv("status_code", "%ld", c.status);
		if (c.status >= 200 && c.status < 300) {
			rc = 0;
			if (answer != NULL && c.resp != NULL)
				*answer = json_loadb(c.resp, c.resp_len, 0, NULL);
		} else {
			fprintf(stderr, "%s answered %ld: %.300s\n", url, c.status,
			    c.resp != NULL ? c.resp : "");
		}
	}
	free(text);
	free(c.resp);
	return rc;
}

static int
slack_post(json_t *job, json_t *config)
{
	json_t *body = json_pack("{s:O}", "text", json_object_get(config, "text")), *v;
	int rc;

	if ((v = json_object_get(config, "channel")) != NULL)
		json_object_set(body, "channel", v);
	if ((v = json_object_get(config, "username")) != NULL)
		json_object_set(body, "username", v);
	rc = send_json(json_string_value(json_object_get(config, "webhook_url")), body,
	    (long)json_integer_value(json_object_get(job, "timeout")), NULL);
	json_decref(body);
	return rc;
}

static int
pagerduty_event(json_t *job, json_t *config)
{
	const char *url = json_string_value(json_object_get(config, "url"));
	const char *action = json_string_value(json_object_get(config, "event_action"));
	const char *sev = json_string_value(json_object_get(config, "severity"));
	const char *src = json_string_value(json_object_get(config, "source"));
	json_t *body, *answer = NULL, *v;
	int rc;

	body = json_pack("{s:O, s:s, s:{s:O, s:s, s:s, s:{s:O, s:O, s:O}}}",
	    "routing_key", json_object_get(config, "routing_key"),
	    "event_action", action != NULL ? action : "trigger",
	    "payload", "summary", json_object_get(config, "summary"),
	    "severity", sev != NULL ? sev : "error",
	    "source", src != NULL ? src : "dagy",
	    "custom_details", "run_id", json_object_get(job, "run_id"),
	    "flow", json_object_get(job, "flow"), "step_id", json_object_get(job, "step_id"));
	if ((v = json_object_get(config, "dedup_key")) != NULL)
		json_object_set(body, "dedup_key", v);
	rc = send_json(url != NULL ? url : "https://events.pagerduty.com/v2/enqueue", body,
	    (long)json_integer_value(json_object_get(job, "timeout")), &answer);
	if (rc == 0 && json_is_string(json_object_get(answer, "dedup_key")))
		out_kv("dedup_key", "%s", json_string_value(json_object_get(answer, "dedup_key")));
	json_decref(answer);
	json_decref(body);
	return rc;
}

int
nodes_notify(json_t *job)
{
	const char *type = json_string_value(json_object_get(json_object_get(job, "node"), "type"));

	if (strcmp(type, "slack_post") == 0)
		return slack_post(job, job_config(job));
	if (strcmp(type, "pagerduty_event") == 0)
		return pagerduty_event(job, job_config(job));
	return 2;
}
