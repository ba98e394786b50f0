//! The Orders domain of the walkthrough, faithfully: four events, four commands, the state,
//! `decide`, `evolve` and `initial_state`, with the same rules and messages.
//!
//! `decide` is pure: the time stamped on events comes from the decider's injected clock.

mod commands;
mod decide;
mod events;
mod state;
mod validation;

use std::sync::Arc;

use chrono::{DateTime, SubsecRound, Utc};

pub use commands::{CancelOrder, DeliverOrder, OrderCommand, PlaceOrder, ShipOrder};
pub use decide::decide;
pub use events::{OrderCancelled, OrderDelivered, OrderEvent, OrderPlaced, OrderShipped};
pub use state::{OrderItem, OrderState, OrderStatus, evolve, initial_state};
pub use validation::{
    MAX_ID_LEN, MAX_ITEMS, MAX_PRICE, MAX_QUANTITY, MAX_TEXT_LEN, validate, validate_id,
};

use crate::decider::Decider;
use crate::error::DomainError;

/// The event types of the Orders domain, in the walkthrough's spelling.
pub const EVENT_TYPES: [&str; 4] = [
    "order.placed",
    "order.shipped",
    "order.delivered",
    "order.cancelled",
];

/// A source of "now" for the events `decide` stamps.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The wall clock, at millisecond precision (what `new Date().toISOString()` gives).
pub fn system_clock() -> Clock {
    Arc::new(|| Utc::now().trunc_subsecs(3))
}

/// `Orders.decider`: decide/evolve/initialState with an injected clock.
#[derive(Clone)]
pub struct OrdersDecider {
    clock: Clock,
}

impl std::fmt::Debug for OrdersDecider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OrdersDecider")
    }
}

impl Default for OrdersDecider {
    fn default() -> Self {
        Self::new(system_clock())
    }
}

impl OrdersDecider {
    /// A decider stamping events with `clock()`.
    pub fn new(clock: Clock) -> Self {
        Self { clock }
    }

    /// A decider whose clock always says `at` (for tests).
    pub fn at(at: DateTime<Utc>) -> Self {
        Self::new(Arc::new(move || at))
    }
}

impl Decider for OrdersDecider {
    type Command = OrderCommand;
    type State = OrderState;
    type Event = OrderEvent;

    fn decide(
        &self,
        command: &OrderCommand,
        state: &OrderState,
    ) -> Result<Vec<OrderEvent>, DomainError> {
        decide(command, state, (self.clock)()).map(|event| vec![event])
    }

    fn evolve(&self, state: OrderState, event: &OrderEvent) -> OrderState {
        evolve(state, event)
    }

    fn initial_state(&self) -> OrderState {
        initial_state()
    }
}
