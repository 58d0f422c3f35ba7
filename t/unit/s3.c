/* Signature Version 4 against AWS's published vectors: the get-vanilla
 * cases of the SigV4 test suite, and the S3 documentation's header-signed
 * GetObject and presigned-URL examples, byte for byte. */
#include <stdlib.h>
#include <string.h>

#include "../tap.h"
#include "dagy/s3.h"

#define SUITE_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define S3_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

int
main(void)
{
	struct s3_kv h1[] = {{"host", "example.amazonaws.com"},
		{"x-amz-date", "20150830T123600Z"}};
	struct s3_kv q1[] = {{"Param2", "value2"}, {"Param1", "value1"}};
	struct s3_sig_in v = {.method = "GET", .path = "/", .headers = h1,
		.nheaders = 2, .payload_hash = EMPTY, .amz_date = "20150830T123600Z",
		.region = "us-east-1", .service = "service",
		.access_key = "AKIDEXAMPLE", .secret_key = SUITE_SECRET};
	struct s3_kv h2[] = {{"x-amz-date", "20130524T000000Z"},
		{"range", "bytes=0-9"}, {"x-amz-content-sha256", EMPTY},
		{"host", "examplebucket.s3.amazonaws.com"}};
	struct s3_sig_in g = {.method = "GET", .path = "/test.txt", .headers = h2,
		.nheaders = 4, .payload_hash = EMPTY, .amz_date = "20130524T000000Z",
		.region = "us-east-1", .service = "s3",
		.access_key = "AKIAIOSFODNN7EXAMPLE", .secret_key = S3_SECRET};
	struct s3_config cfg = {.endpoint = "https://s3.amazonaws.com",
		.region = "us-east-1", .bucket = "examplebucket",
		.access_key = "AKIAIOSFODNN7EXAMPLE", .secret_key = S3_SECRET,
		.path_style = 0};
	struct s3 *s;
	char *t, *u;

	plan(9);
	t = s3_canonical_request(&v);
	is_string("GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
	    "host;x-amz-date\n" EMPTY, t, "get-vanilla: canonical request");
	free(t);
	t = s3_authorization(&v);
	is_string("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
	    "aws4_request, SignedHeaders=host;x-amz-date, "
	    "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
	    t, "get-vanilla: authorization");
	free(t);
	v.query = q1;
	v.nquery = 2;
	t = s3_canonical_request(&v);
	ok(strstr(t, "\n/\nParam1=value1&Param2=value2\n") != NULL,
	    "get-vanilla-query-order-key-case: parameters sorted");
	free(t);
	t = s3_authorization(&v);
	ok(t != NULL && strstr(t, "Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500") != NULL,
	    "get-vanilla-query-order-key-case: signature");
	free(t);
	t = s3_authorization(&g);
	is_string("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
	    "aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
	    "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
	    t, "S3 GetObject example: authorization");
	free(t);

	s = s3_new(&cfg);
	/* 2013-05-24T00:00:00Z */
	u = s3_presign(s, "GET", "test.txt", NULL, 0, 86400, 1369353600);
	is_string("https://examplebucket.s3.amazonaws.com/test.txt"
	    "?X-Amz-Algorithm=AWS4-HMAC-SHA256"
	    "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
	    "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
	    "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404",
	    u, "S3 presigned URL example, virtual-host style");
	free(u);
	s3_free(s);

	cfg.endpoint = "http://127.0.0.1:4568";
	cfg.path_style = 1;
	s = s3_new(&cfg);
	u = s3_presign(s, "PUT", "a b/c.zip", (struct s3_kv[]){{"uploadId", "u1"},
	    {"partNumber", "2"}}, 2, 60, 1369353600);
	ok(u != NULL && strncmp(u, "http://127.0.0.1:4568/examplebucket/a%20b/c.zip?", 48) == 0,
	    "path style: bucket in the path, key encoded, slash kept");
	ok(u != NULL && strstr(u, "&partNumber=2&uploadId=u1&X-Amz-Signature=") != NULL,
	    "path style: the part's parameters are signed in");
	free(u);
	s3_free(s);
	t = s3_uri_encode("a+b=c/d~e", 0);
	is_string("a%2Bb%3Dc%2Fd~e", t, "query encoding escapes '/' and '+'");
	free(t);
	return 0;
}
