/* JSON pointers as webhook mappings and polling conditions use them:
 * members, array indexes, escapes, and what names nothing. */
#include <jansson.h>

#include "../tap.h"
#include "dagy/sensors.h"

static const char *
at(json_t *doc, const char *ptr)
{
	json_t *v = sensors_pointer(doc, ptr);

	return v == NULL ? "(none)" : json_is_string(v) ? json_string_value(v) :
	    json_is_object(v) ? "(object)" : "(other)";
}

int
main(void)
{
	json_t *doc = json_loads("{\"ref\": \"main\", \"a/b\": \"slash\", \"m~n\": \"tilde\","
	    " \"\": \"empty\", \"list\": [\"zero\", {\"x\": \"deep\"}]}", 0, NULL);

	plan(12);
	is_string("(object)", at(doc, ""), "\"\" is the whole document");
	is_string("main", at(doc, "/ref"), "a member");
	is_string("slash", at(doc, "/a~1b"), "~1 is a slash");
	is_string("tilde", at(doc, "/m~0n"), "~0 is a tilde");
	is_string("empty", at(doc, "/"), "\"/\" is the member named \"\"");
	is_string("zero", at(doc, "/list/0"), "an array index");
	is_string("deep", at(doc, "/list/1/x"), "into an array's object");
	is_string("(none)", at(doc, "/list/01"), "no leading zeros");
	is_string("(none)", at(doc, "/list/-"), "'-' names nothing to read");
	is_string("(none)", at(doc, "/ref/x"), "nothing below a string");
	is_string("(none)", at(doc, "ref"), "a pointer starts with '/'");
	is_string("(none)", at(doc, "/m~2n"), "a bad escape names nothing");
	json_decref(doc);
	return 0;
}
