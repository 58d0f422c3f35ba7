/* The JSON Schema validator: each keyword accepts what draft 2020-12 says
 * and refuses the rest, errors name the instance location, and schemas it
 * cannot honour are refused by jschema_check. */
#include "../tap.h"
#include "dagy/jschema.h"

static const struct {
	const char *schema, *instance;
	int valid;
	const char *where; /* a part of the error, for invalid cases */
} cases[] = {
	/* boolean schemas */
	{"true", "{\"a\": 1}", 1, NULL},
	{"false", "1", 0, "false schema"},
	{"{}", "null", 1, NULL},
	/* type */
	{"{\"type\": \"integer\"}", "3", 1, NULL},
	{"{\"type\": \"integer\"}", "3.0", 1, NULL},
	{"{\"type\": \"integer\"}", "3.5", 0, "type"},
	{"{\"type\": \"integer\"}", "\"3\"", 0, "type"},
	{"{\"type\": \"number\"}", "3", 1, NULL},
	{"{\"type\": \"string\"}", "null", 0, "type"},
	{"{\"type\": [\"string\", \"null\"]}", "null", 1, NULL},
	{"{\"type\": [\"string\", \"null\"]}", "false", 0, "type"},
	{"{\"type\": \"boolean\"}", "0", 0, "type"},
	{"{\"type\": \"array\"}", "{}", 0, "type"},
	{"{\"type\": \"object\"}", "[]", 0, "type"},
	{"{\"type\": \"null\"}", "null", 1, NULL},
	/* enum and const: numbers compare by value */
	{"{\"enum\": [1, \"a\", null]}", "1.0", 1, NULL},
	{"{\"enum\": [1, \"a\", null]}", "\"b\"", 0, "enum"},
	{"{\"enum\": [[1, 2], {\"x\": 1}]}", "{\"x\": 1.0}", 1, NULL},
	{"{\"const\": {\"a\": [1]}}", "{\"a\": [1]}", 1, NULL},
	{"{\"const\": false}", "0", 0, "const"},
	/* numbers */
	{"{\"minimum\": 2}", "2", 1, NULL},
	{"{\"minimum\": 2}", "1.9", 0, "minimum"},
	{"{\"maximum\": 2}", "3", 0, "maximum"},
	{"{\"exclusiveMinimum\": 2}", "2", 0, "exclusiveMinimum"},
	{"{\"exclusiveMaximum\": 2}", "1.99", 1, NULL},
	{"{\"exclusiveMaximum\": 2}", "2", 0, "exclusiveMaximum"},
	{"{\"multipleOf\": 0.1}", "0.3", 1, NULL},
	{"{\"multipleOf\": 3}", "10", 0, "multiple"},
	{"{\"minimum\": 5}", "\"abc\"", 1, NULL},
	/* strings: lengths in code points, patterns unanchored */
	{"{\"minLength\": 2}", "\"\xc3\xa9\xc3\xa9\"", 1, NULL},
	{"{\"maxLength\": 1}", "\"\xc3\xa9\xc3\xa9\"", 0, "maxLength"},
	{"{\"minLength\": 3}", "\"ab\"", 0, "minLength"},
	{"{\"pattern\": \"b+\"}", "\"abbc\"", 1, NULL},
	{"{\"pattern\": \"^[a-z]+$\"}", "\"abC\"", 0, "pattern"},
	{"{\"pattern\": \"^[0-9]{3}-[0-9]{4}$\"}", "\"555-1234\"", 1, NULL},
	/* arrays */
	{"{\"items\": {\"type\": \"integer\"}}", "[1, 2, 3]", 1, NULL},
	{"{\"items\": {\"type\": \"integer\"}}", "[1, \"2\", 3]", 0, "/1"},
	{"{\"prefixItems\": [{\"type\": \"string\"}, {\"type\": \"integer\"}], \"items\": false}",
	    "[\"a\", 1]", 1, NULL},
	{"{\"prefixItems\": [{\"type\": \"string\"}], \"items\": false}", "[\"a\", 1]", 0, "/1"},
	{"{\"prefixItems\": [{\"type\": \"string\"}]}", "[1]", 0, "/0"},
	{"{\"minItems\": 1}", "[]", 0, "minItems"},
	{"{\"maxItems\": 1}", "[1, 2]", 0, "maxItems"},
	{"{\"uniqueItems\": true}", "[1, 2, 1.0]", 0, "uniqueItems"},
	{"{\"uniqueItems\": true}", "[{\"a\": 1}, {\"a\": 2}]", 1, NULL},
	{"{\"uniqueItems\": true}", "[[1], [1]]", 0, "uniqueItems"},
	{"{\"contains\": {\"const\": 3}}", "[1, 3]", 1, NULL},
	{"{\"contains\": {\"const\": 3}}", "[1, 2]", 0, "contains"},
	{"{\"contains\": {\"const\": 3}, \"minContains\": 2}", "[3, 1, 3]", 1, NULL},
	{"{\"contains\": {\"const\": 3}, \"maxContains\": 1}", "[3, 3]", 0, "maxContains"},
	{"{\"contains\": {\"const\": 3}, \"minContains\": 0}", "[]", 1, NULL},
	/* objects */
	{"{\"required\": [\"a\", \"b\"]}", "{\"a\": 1}", 0, "'b'"},
	{"{\"required\": [\"a\"]}", "[1]", 1, NULL},
	{"{\"properties\": {\"a\": {\"type\": \"string\"}}}", "{\"a\": 1}", 0, "/a"},
	{"{\"properties\": {\"a\": {\"type\": \"string\"}}}", "{\"b\": 1}", 1, NULL},
	{"{\"properties\": {\"a\": {}}, \"additionalProperties\": false}", "{\"a\": 1, \"b\": 2}", 0, "/b"},
	{"{\"properties\": {\"a\": {}}, \"patternProperties\": {\"^x_\": {\"type\": \"integer\"}},"
	    " \"additionalProperties\": false}", "{\"a\": 1, \"x_1\": 2}", 1, NULL},
	{"{\"patternProperties\": {\"^x_\": {\"type\": \"integer\"}}}", "{\"x_1\": \"no\"}", 0, "/x_1"},
	{"{\"additionalProperties\": {\"type\": \"boolean\"}}", "{\"a\": true, \"b\": 1}", 0, "/b"},
	{"{\"minProperties\": 2}", "{\"a\": 1}", 0, "minProperties"},
	{"{\"maxProperties\": 1}", "{\"a\": 1, \"b\": 2}", 0, "maxProperties"},
	{"{\"propertyNames\": {\"maxLength\": 3}}", "{\"abcd\": 1}", 0, "/abcd"},
	{"{\"dependentRequired\": {\"card\": [\"cvv\"]}}", "{\"card\": 1}", 0, "cvv"},
	{"{\"dependentRequired\": {\"card\": [\"cvv\"]}}", "{\"name\": 1}", 1, NULL},
	{"{\"dependentSchemas\": {\"card\": {\"required\": [\"zip\"]}}}", "{\"card\": 1}", 0, "zip"},
	/* nested locations */
	{"{\"properties\": {\"a\": {\"items\": {\"properties\": {\"b\": {\"type\": \"null\"}}}}}}",
	    "{\"a\": [{\"b\": null}, {\"b\": 0}]}", 0, "/a/1/b"},
	/* combinators */
	{"{\"allOf\": [{\"type\": \"integer\"}, {\"minimum\": 3}]}", "2", 0, "minimum"},
	{"{\"anyOf\": [{\"type\": \"string\"}, {\"minimum\": 3}]}", "4", 1, NULL},
	{"{\"anyOf\": [{\"type\": \"string\"}, {\"minimum\": 3}]}", "2", 0, "anyOf"},
	{"{\"oneOf\": [{\"type\": \"integer\"}, {\"minimum\": 3}]}", "4", 0, "oneOf"},
	{"{\"oneOf\": [{\"type\": \"integer\"}, {\"minimum\": 3}]}", "2", 1, NULL},
	{"{\"not\": {\"type\": \"null\"}}", "null", 0, "not"},
	{"{\"if\": {\"properties\": {\"c\": {\"const\": \"US\"}}}, \"then\": {\"required\": [\"zip\"]},"
	    " \"else\": {\"required\": [\"postcode\"]}}", "{\"c\": \"US\", \"zip\": 1}", 1, NULL},
	{"{\"if\": {\"properties\": {\"c\": {\"const\": \"US\"}}}, \"then\": {\"required\": [\"zip\"]},"
	    " \"else\": {\"required\": [\"postcode\"]}}", "{\"c\": \"SE\", \"zip\": 1}", 0, "postcode"},
	/* $ref and $defs, JSON pointer escapes, recursion */
	{"{\"$defs\": {\"pos\": {\"minimum\": 0}}, \"items\": {\"$ref\": \"#/$defs/pos\"}}", "[1, -1]", 0, "/1"},
	{"{\"$defs\": {\"a/b\": {\"type\": \"string\"}}, \"$ref\": \"#/$defs/a~1b\"}", "\"x\"", 1, NULL},
	{"{\"$defs\": {\"node\": {\"type\": \"object\", \"properties\": {\"kids\": {\"type\": \"array\","
	    " \"items\": {\"$ref\": \"#/$defs/node\"}}}}}, \"$ref\": \"#/$defs/node\"}",
	    "{\"kids\": [{\"kids\": []}, {\"kids\": [{\"kids\": 1}]}]}", 0, "/kids/1/kids/0/kids"},
	{"{\"$ref\": \"#/$defs/missing\"}", "1", 0, "resolves to nothing"},
	{"{\"properties\": {\"self\": {\"$ref\": \"#\"}}, \"type\": \"object\"}", "{\"self\": {\"self\": 1}}", 0,
	    "/self/self"},
	/* format is an annotation */
	{"{\"format\": \"email\"}", "\"not an email\"", 1, NULL},
};

static const struct {
	const char *schema, *word;
} refused[] = {
	{"{\"unevaluatedProperties\": false}", "unevaluatedProperties"},
	{"{\"$ref\": \"http://example.com/s.json\"}", "local"},
	{"{\"type\": \"date\"}", "unknown type"},
	{"{\"minLength\": -1}", "wrong type"},
	{"{\"multipleOf\": 0}", "wrong type"},
	{"{\"pattern\": \"(\"}", "regular expression"},
	{"{\"properties\": {\"a\": {\"items\": 5}}}", "#/properties/a/items"},
	{"{\"allOf\": {}}", "wrong type"},
	{"[]", "object or a boolean"},
	{"{\"$defs\": {\"x\": {\"$dynamicRef\": \"#x\"}}}", "$dynamicRef"},
};

static json_t *
load(const char *text)
{
	json_error_t e;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &e);

	if (v == NULL)
		bail("bad test JSON %s: %s", text, e.text);
	return v;
}

int
main(void)
{
	size_t n = sizeof(cases) / sizeof(cases[0]), m = sizeof(refused) / sizeof(refused[0]), i;
	char err[512];

	plan((int)(n + m + 3));
	for (i = 0; i < n; i++) {
		json_t *s = load(cases[i].schema), *inst = load(cases[i].instance);
		int ok_check = jschema_check(s, err, sizeof(err)) == 0;
		int v = ok_check ? jschema_valid(s, s, inst, err, sizeof(err)) : -1;

		ok(v == cases[i].valid && (cases[i].valid || strstr(err, cases[i].where) != NULL),
		    "%s against %s: %s%s%s", cases[i].instance, cases[i].schema,
		    cases[i].valid ? "valid" : "invalid", v == 0 ? " -- " : "", v == 0 ? err : "");
		json_decref(s);
		json_decref(inst);
	}
	for (i = 0; i < m; i++) {
		json_t *s = load(refused[i].schema);

		ok(jschema_check(s, err, sizeof(err)) < 0 && strstr(err, refused[i].word) != NULL,
		    "refused: %s (%s)", refused[i].schema, err);
		json_decref(s);
	}
	{
		/* A deep instance cannot run the validator out of stack through refs. */
		json_t *s = load("{\"$ref\": \"#\"}"), *inst = load("1");

		ok(jschema_valid(s, s, inst, err, sizeof(err)) == 0 && strstr(err, "deeply") != NULL,
		    "a schema that refers to itself forever is stopped: %s", err);
		json_decref(s);
		json_decref(inst);
	}
	{
		/* More patterns than the compiled-pattern cache holds, twice over. */
		int bad = 0, round, k;

		for (round = 0; round < 2; round++)
			for (k = 0; k < 150; k++) {
				char text[64], yes[16];
				json_t *s, *y, *q = load("\"q\"");

				snprintf(text, sizeof(text), "{\"pattern\": \"^p%d$\"}", k);
				snprintf(yes, sizeof(yes), "\"p%d\"", k);
				s = load(text);
				y = load(yes);
				bad += jschema_valid(s, s, y, err, sizeof(err)) != 1 ||
				    jschema_valid(s, s, q, err, sizeof(err)) != 0;
				json_decref(s);
				json_decref(y);
				json_decref(q);
			}
		ok(bad == 0, "150 patterns, twice, through the pattern cache: %d wrong", bad);
	}
	{
		json_t *s = load("{\"type\": \"object\", \"required\": [\"id\"]}"), *inst = load("{\"id\": 1}");

		ok(jschema_valid(s, s, inst, err, sizeof(err)) == 1 && err[0] == '\0', "valid leaves err empty");
		json_decref(s);
		json_decref(inst);
	}
	return tap_failed != 0;
}
