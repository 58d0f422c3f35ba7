/* Signature Version 4 against AWS's published vectors: the get-vanilla
 * cases of the SigV4 test suite, and the S3 documentation's header-signed
 * GetObject and presigned-URL examples, byte for byte. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../tap.h"
#include "dagy/s3.h"

#define SUITE_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define S3_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* A loopback server answering each connection with the next of answers
 * (one HTTP response each); returns its port, *pid its process. */
static int
serve(const char *const *answers, pid_t *pid)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 8) < 0)
		bail("cannot listen");
	getsockname(fd, (struct sockaddr *)&sa, &len);
	if ((*pid = fork()) == 0) {
		for (; *answers != NULL; answers++) {
			char buf[8192];
			int c = accept(fd, NULL, NULL);

			if (c < 0)
				_exit(1);
			/* The request has no body worth reading; its headers are enough. */
			if (read(c, buf, sizeof(buf)) < 0)
				_exit(1);
			if (write(c, *answers, strlen(*answers)) < 0)
				_exit(1);
			close(c);
		}
		_exit(0);
	}
	close(fd);
	return ntohs(sa.sin_port);
}

static const char *
answer(const char *status, const char *body)
{
	static char buf[4][512];
	static int i;
	char *b = buf[i++ % 4];

	snprintf(b, 512, "HTTP/1.1 %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
	    status, strlen(body), body);
	return b;
}

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

	plan(14);
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

	/* Retries: a 503 is tried again, a 4xx is not, a closed port is a
	 * connection error. */
	{
		const char *seq[] = {answer("503 Slow Down", "<Error><Code>SlowDown</Code></Error>"),
			answer("200 OK", "<InitiateMultipartUploadResult><UploadId>u&amp;1</UploadId>"
			    "</InitiateMultipartUploadResult>"), NULL};
		const char *deny[] = {answer("403 Forbidden", "<Error><Code>AccessDenied</Code>"
			"<Message>no</Message></Error>"), NULL};
		char ep[64], *id = NULL;
		pid_t pid;
		int rc, st;

		snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", serve(seq, &pid));
		cfg.endpoint = ep;
		cfg.retries = 2;
		cfg.timeout_seconds = 5;
		s = s3_new(&cfg);
		rc = s3_create_multipart(s, "k", &id);
		ok(rc == 0 && id != NULL && strcmp(id, "u&1") == 0, "a 503 is retried; the UploadId is read");
		free(id);
		waitpid(pid, &st, 0);
		s3_free(s);

		snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", serve(deny, &pid));
		s = s3_new(&cfg);
		rc = s3_create_multipart(s, "k", &id);
		is_int(S3_EHTTP, rc, "a 403 is not retried");
		is_int(403, s3_status(s), "its status");
		is_string("403 AccessDenied: no", s3_error(s), "its error text");
		kill(pid, SIGTERM);
		waitpid(pid, &st, 0);
		s3_free(s);

		cfg.endpoint = "http://127.0.0.1:1";
		cfg.retries = 1;
		s = s3_new(&cfg);
		is_int(S3_ENET, s3_create_multipart(s, "k", &id), "a refused connection, after the retries");
		s3_free(s);
	}
	return 0;
}
