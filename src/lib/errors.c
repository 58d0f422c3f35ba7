/* Error code table and HTTP reason phrases. */
#include "dagy/errors.h"

static const struct {
	int status;
	const char *code;
} table[API_E__MAX] = {
	[API_E_VALIDATION] = {400, "validation_error"},
	[API_E_UNAUTHORIZED] = {401, "unauthorized"},
	[API_E_FORBIDDEN] = {403, "forbidden"},
	[API_E_NOT_FOUND] = {404, "not_found"},
	[API_E_METHOD_NOT_ALLOWED] = {405, "method_not_allowed"},
	[API_E_CONFLICT] = {409, "conflict"},
	[API_E_PAYLOAD_TOO_LARGE] = {413, "payload_too_large"},
	[API_E_UNSUPPORTED_MEDIA_TYPE] = {415, "unsupported_media_type"},
	[API_E_RATE_LIMITED] = {429, "rate_limited"},
	[API_E_QUOTA_EXCEEDED] = {429, "quota_exceeded"},
	[API_E_SERVICE_UNAVAILABLE] = {503, "service_unavailable"},
	[API_E_INTERNAL] = {500, "internal_error"},
	[API_E_PROTECTED_ENVIRONMENT] = {404, "protected_environment"},
	[API_E_BAD_GATEWAY] = {502, "bad_gateway"},
	[API_E_ORG_SUSPENDED] = {403, "org_suspended"},
	[API_E_BILLING_DISABLED] = {409, "billing_not_configured"},
	[API_E_PAYMENT_REQUIRED] = {402, "insufficient_credits"},
};

int
errors_status(enum api_err e)
{
	return table[e].status;
}

const char *
errors_code(enum api_err e)
{
	return table[e].code;
}

const char *
errors_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 402: return "Payment Required";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	default: return "Internal Server Error";
	}
}
