//! Domain errors, as in the walkthrough's toolkit: `ValidationError` and `IllegalStateError`.

use serde_json::Value;

/// Why a decider refused a command. Pure data: the HTTP edge maps it to a status.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DomainError {
    /// The command's input is wrong. `field` names the offending field (a JSON path such as
    /// `items[0].quantity`) when one field is to blame.
    #[error("{message}")]
    Validation {
        message: String,
        field: Option<String>,
        details: Value,
    },
    /// The command is well-formed but not allowed in the current state.
    #[error("{message}")]
    IllegalState {
        message: String,
        details: Value,
        /// The state the aggregate was in (`"null"` when it does not exist).
        current_state: String,
        /// What was attempted, e.g. `"ship order"`.
        attempted_action: String,
    },
}

impl DomainError {
    /// A validation error blaming one field.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        let field = field.into();
        Self::Validation {
            message: message.into(),
            details: serde_json::json!({ "field": field }),
            field: Some(field),
        }
    }

    /// A validation error not tied to one field (the walkthrough's `ValidationError(msg, {})`).
    pub fn validation(message: impl Into<String>, details: Value) -> Self {
        Self::Validation {
            message: message.into(),
            field: None,
            details,
        }
    }

    /// The walkthrough's `IllegalStateError(message, details, currentState, attemptedAction)`.
    pub fn illegal_state(
        message: impl Into<String>,
        details: Value,
        current_state: impl Into<String>,
        attempted_action: impl Into<String>,
    ) -> Self {
        Self::IllegalState {
            message: message.into(),
            details,
            current_state: current_state.into(),
            attempted_action: attempted_action.into(),
        }
    }

    /// The human sentence of this error.
    pub fn message(&self) -> &str {
        match self {
            Self::Validation { message, .. } | Self::IllegalState { message, .. } => message,
        }
    }
}
