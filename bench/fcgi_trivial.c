/* Baseline for bench/api: the least a libfcgi responder can do. */
#include <fcgiapp.h>

int
main(void)
{
	FCGX_Request r;

	FCGX_Init();
	FCGX_InitRequest(&r, 0, 0);
	while (FCGX_Accept_r(&r) >= 0) {
		FCGX_PutS("Status: 200 OK\r\nContent-Type: application/json\r\n"
		    "Content-Length: 11\r\n\r\n{\"ok\":true}", r.out);
		FCGX_Finish_r(&r);
	}
	return 0;
}
