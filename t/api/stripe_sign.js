// Signs a Stripe event as Stripe does, with the stripe npm package:
//   node stripe_sign.js MODULES_DIR SECRET TIMESTAMP < payload
// prints the Stripe-Signature header value.
const path = require('path');
const Stripe = require(path.resolve(process.argv[2], 'node_modules', 'stripe'));
const stripe = new Stripe('sk_test_unused');
const payload = require('fs').readFileSync(0, 'utf8');
process.stdout.write(stripe.webhooks.generateTestHeaderString({
	payload, secret: process.argv[3], timestamp: Number(process.argv[4]),
}));
