//! What a successful command answers, built from the order's state, and the HTTP response around
//! it: `x-global-position` (so a client can ask the query side to wait for its write), `ETag`
//! (the stream version, usable as `If-Match`), `Location` on create, `Idempotent-Replayed` on a
//! repeated answer.

use actix_web::HttpResponse;
use actix_web::http::header::{ETAG, LOCATION};
use serde::Serialize;
use shared_domain::decider::{Decider, decode};
use shared_domain::event::ReadEvent;
use shared_domain::money::Money;
use shared_domain::orders::{OrderCommand, OrderEvent, OrderState, OrderStatus, OrdersDecider};
use utoipa::ToSchema;

use crate::idempotency::REPLAYED_HEADER;

/// Header carrying the global position of the command's event.
pub const GLOBAL_POSITION_HEADER: &str = "x-global-position";

/// 201 answer of `POST /orders`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderPlacedAnswer {
    #[schema(example = "order-0190f3c4-8c1e-7d2a-9b4e-3f1a2b3c4d5e")]
    pub order_id: String,
    #[schema(value_type = f64, example = 39.98)]
    pub total_amount: Money,
    #[schema(value_type = String, example = "pending")]
    pub status: Option<OrderStatus>,
    /// The order stream's version after the command (its event count).
    #[schema(example = 1)]
    pub stream_version: u64,
    /// Global position of the command's event: pass it to the query service as
    /// `minGlobalPosition` to read your write.
    #[schema(example = 1042)]
    pub global_position: u64,
}

/// 200 answer of ship, deliver and cancel.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderChangedAnswer {
    #[schema(example = "order-0190f3c4-8c1e-7d2a-9b4e-3f1a2b3c4d5e")]
    pub order_id: String,
    #[schema(value_type = String, example = "shipped")]
    pub status: Option<OrderStatus>,
    /// Present once the order has been shipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "TRK123")]
    pub tracking_number: Option<String>,
    #[schema(example = 2)]
    pub stream_version: u64,
    #[schema(example = 1043)]
    pub global_position: u64,
}

/// The answer of one successful command.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Placed(OrderPlacedAnswer),
    Changed(OrderChangedAnswer),
}

impl Answer {
    /// The answer to `command` once the order is in `state`, at `stream_version`, its last event
    /// at `global_position`.
    pub fn new(
        command: &OrderCommand,
        state: &OrderState,
        stream_version: u64,
        global_position: u64,
    ) -> Self {
        let order_id = command.order_id().to_owned();
        match command {
            OrderCommand::Place(_) => Self::Placed(OrderPlacedAnswer {
                order_id,
                total_amount: state.total_amount,
                status: state.status,
                stream_version,
                global_position,
            }),
            _ => Self::Changed(OrderChangedAnswer {
                order_id,
                status: state.status,
                tracking_number: state.tracking_number.clone(),
                stream_version,
                global_position,
            }),
        }
    }

    /// The answer `command` got when its event was `events[index]`: the stream folded up to and
    /// including that event. `None` if a stored event is not an order event.
    pub fn rebuilt(
        command: &OrderCommand,
        decider: &OrdersDecider,
        events: &[ReadEvent],
        index: usize,
    ) -> Option<Self> {
        let history = events[..=index]
            .iter()
            .map(decode::<OrderEvent>)
            .collect::<Result<Vec<_>, _>>()
            .ok()?;
        let state = decider.fold(history.iter());
        let event = &events[index];
        Some(Self::new(
            command,
            &state,
            event.stream_position,
            event.global_position,
        ))
    }

    /// The order's stream version in this answer.
    pub fn stream_version(&self) -> u64 {
        match self {
            Self::Placed(a) => a.stream_version,
            Self::Changed(a) => a.stream_version,
        }
    }

    /// The global position in this answer.
    pub fn global_position(&self) -> u64 {
        match self {
            Self::Placed(a) => a.global_position,
            Self::Changed(a) => a.global_position,
        }
    }

    /// The HTTP response: 201 with `Location` for a new order, else 200.
    pub fn into_response(self, replayed: bool) -> HttpResponse {
        let mut response = match &self {
            Self::Placed(a) => {
                let mut r = HttpResponse::Created();
                r.insert_header((LOCATION, format!("/orders/{}", a.order_id)));
                r
            }
            Self::Changed(_) => HttpResponse::Ok(),
        };
        response
            .insert_header((GLOBAL_POSITION_HEADER, self.global_position().to_string()))
            .insert_header((ETAG, format!("\"{}\"", self.stream_version())));
        if replayed {
            response.insert_header((REPLAYED_HEADER, "true"));
        }
        match self {
            Self::Placed(a) => response.json(a),
            Self::Changed(a) => response.json(a),
        }
    }
}
