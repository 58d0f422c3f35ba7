/* The error codes of every dialect: one table maps each to its HTTP status
 * and the word the Dagy dialect puts in "error". */
#ifndef DAGY_ERRORS_H
#define DAGY_ERRORS_H

enum api_err {
	API_E_VALIDATION,
	API_E_UNAUTHORIZED,
	API_E_FORBIDDEN,
	API_E_NOT_FOUND,
	API_E_METHOD_NOT_ALLOWED,
	API_E_CONFLICT,
	API_E_PAYLOAD_TOO_LARGE,
	API_E_UNSUPPORTED_MEDIA_TYPE,
	API_E_RATE_LIMITED,
	API_E_QUOTA_EXCEEDED,
	API_E_SERVICE_UNAVAILABLE,
	API_E_INTERNAL,
	API_E_PROTECTED_ENVIRONMENT, /* the spec's 404 for deleting one */
	API_E_BAD_GATEWAY,           /* an upstream (Stripe) refused or failed */
	API_E_ORG_SUSPENDED,         /* writes and runs of a suspended org */
	API_E_BILLING_DISABLED,      /* Stripe is not configured here */
	API_E_PAYMENT_REQUIRED, /* 402: no credits left (AI Studio) */
	API_E__MAX
};

int errors_status(enum api_err e);
const char *errors_code(enum api_err e);
const char *errors_reason(int status);

#endif
