/* Permissions and roles: the matrix must equal the spec's word for word. */
#include "../tap.h"
#include "dagy/auth.h"

static const char *const spec_roles[4] = {
	"[\"flows.read\",\"flows.write\",\"flows.delete\",\"runs.read\",\"runs.trigger\","
	"\"runs.cancel\",\"schedules.read\",\"schedules.write\",\"schedules.delete\","
	"\"api_keys.read\",\"api_keys.write\",\"api_keys.delete\",\"admin.members\","
	"\"admin.api_keys\",\"admin.audit\",\"secrets.read\",\"secrets.write\","
	"\"secrets.delete\",\"notifications.read\",\"notifications.write\","
	"\"environments.read\",\"environments.write\",\"sensors.read\",\"sensors.write\","
	"\"billing.read\",\"billing.write\"]",
	"[\"flows.read\",\"flows.write\",\"flows.delete\",\"runs.read\",\"runs.trigger\","
	"\"runs.cancel\",\"schedules.read\",\"schedules.write\",\"api_keys.read\","
	"\"api_keys.write\",\"admin.members\",\"admin.api_keys\",\"admin.audit\","
	"\"secrets.read\",\"secrets.write\",\"notifications.read\",\"notifications.write\","
	"\"environments.read\",\"environments.write\",\"sensors.read\",\"sensors.write\","
	"\"billing.read\"]",
	"[\"flows.read\",\"flows.write\",\"runs.read\",\"runs.trigger\",\"runs.cancel\","
	"\"schedules.read\",\"schedules.write\",\"secrets.read\",\"secrets.write\","
	"\"notifications.read\",\"environments.read\",\"sensors.read\",\"sensors.write\"]",
	"[\"flows.read\",\"runs.read\",\"schedules.read\",\"environments.read\","
	"\"billing.read\"]",
};

int
main(void)
{
	json_t *scopes;
	uint64_t mask;
	const char *bad = NULL;
	int i;

	plan(13);
	for (i = 0; i < 4; i++) {
		json_t *j = auth_scopes_json(auth_role_perms(auth_roles[i]));
		char *s = json_dumps(j, JSON_COMPACT);

		is_string(spec_roles[i], s, "role %s matches the spec", auth_roles[i]);
		free(s);
		json_decref(j);
	}
	is_int(0, (long long)auth_role_perms("root"), "unknown role has nothing");
	ok(!auth_role_valid(NULL), "NULL role is invalid");
	is_int(PERM_RUNS_CANCEL, auth_perm_from_name("runs.cancel"), "name to perm");
	is_int(PERM__MAX, auth_perm_from_name("runs.explode"), "unknown perm");
	is_string("billing.write", auth_perm_name(PERM_BILLING_WRITE), "perm to name");

	scopes = json_pack("[s,s]", "flows.read", "runs.read");
	is_int(0, auth_scopes_parse(scopes, &mask, &bad), "scopes parse");
	is_int((long long)(PERM_BIT(PERM_FLOWS_READ) | PERM_BIT(PERM_RUNS_READ)),
	    (long long)mask, "scope mask");
	json_decref(scopes);
	scopes = json_pack("[s,s]", "flows.read", "flows.fly");
	is_int(-1, auth_scopes_parse(scopes, &mask, &bad), "bad scope refused");
	is_string("flows.fly", bad, "the bad scope is named");
	json_decref(scopes);
	return done_testing();
}
