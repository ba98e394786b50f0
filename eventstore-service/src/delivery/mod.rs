//! Webhook delivery (issue 4): signing, the HTTP call, the allowlist of targets.
//!
//! | module | job |
//! |---|---|
//! | [`signing`] | Standard Webhooks headers and `whsec_` secrets |
//! | [`http`] | one POST with timeout; 2xx or a failed attempt with `Retry-After` |
//! | [`allowlist`] | `EVENTSTORE_WEBHOOK_ALLOWLIST`: which targets may be called |

pub mod allowlist;
pub mod http;
pub mod signing;
