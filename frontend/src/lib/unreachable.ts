/** What a learner reads when the payment service (our route, the sidecar or Stripe) cannot be reached. */
export const UNREACHABLE = "We couldn't reach the payment service. Please try again in a moment.";
