/* Continuous percentiles, checked against values worked out by hand. */
#include <math.h>

#include "../tap.h"
#include "dagy/metrics.h"

static int
near(double a, double b)
{
	return fabs(a - b) < 1e-9;
}

int
main(void)
{
	double five[] = {10, 20, 30, 40, 100}, one[] = {7}, two[] = {1, 3};
	double four[] = {15, 15, 15, 30};

	plan(9);
	ok(near(metrics_percentile(five, 5, 0.5), 30), "p50 of 10,20,30,40,100 is 30");
	/* rank 0.95 * 4 = 3.8: 40 + 0.8 * (100 - 40) */
	ok(near(metrics_percentile(five, 5, 0.95), 88), "p95 of 10,20,30,40,100 is 88");
	ok(near(metrics_percentile(five, 5, 0), 10), "p0 is the least");
	ok(near(metrics_percentile(five, 5, 1), 100), "p100 is the most");
	ok(near(metrics_percentile(one, 1, 0.95), 7), "one value is every percentile");
	ok(near(metrics_percentile(two, 2, 0.5), 2), "p50 of two is their mean");
	/* rank 0.95 * 3 = 2.85: 15 + 0.85 * 15 */
	ok(near(metrics_percentile(four, 4, 0.95), 27.75), "p95 of 15,15,15,30 is 27.75");
	ok(near(metrics_percentile(four, 4, 0.5), 15), "p50 of 15,15,15,30 is 15");
	ok(near(metrics_percentile(NULL, 0, 0.5), 0), "no values: 0");
	return done_testing();
}
