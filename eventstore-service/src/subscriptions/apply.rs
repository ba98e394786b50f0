//! Creating or updating a subscription from a checked definition — the one code path behind
//! `POST …/subscribe`, the config file at start-up and `deploy`.

use deadpool_postgres::Pool;

use super::db::{self, StoreRef, SubscriptionRow};
use super::spec::{InitialPosition, SecretChoice, SubscriptionDefinition};
use crate::delivery::signing::WebhookSecret;

/// What applying a definition did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    Created,
    Changed,
    Unchanged,
    /// `subscribe` only: the id is taken by a different definition.
    Conflict,
}

impl Applied {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Changed => "changed",
            Self::Unchanged => "unchanged",
            Self::Conflict => "conflict",
        }
    }
}

/// Whether an existing, different subscription is replaced (deploy) or refused (subscribe).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    CreateOnly,
    Upsert,
}

/// The outcome, the row as stored, and a secret made now (to be shown once).
#[derive(Debug)]
pub struct Outcome {
    pub applied: Applied,
    pub row: SubscriptionRow,
    pub generated_secret: Option<WebhookSecret>,
}

/// Why applying failed.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("event store {0:?} does not exist")]
    StoreNotFound(String),
    #[error(transparent)]
    Db(#[from] tokio_postgres::Error),
    #[error(transparent)]
    Pool(#[from] deadpool_postgres::PoolError),
}

/// Applies `def` to the store named `store`.
pub async fn apply(
    pool: &Pool,
    store: &str,
    def: &SubscriptionDefinition,
    mode: Mode,
) -> Result<Outcome, ApplyError> {
    let client = pool.get().await?;
    let StoreRef { id: store_id, head } = db::find_store(&**client, store)
        .await?
        .ok_or_else(|| ApplyError::StoreNotFound(store.to_owned()))?;
    // Two tries: an insert that loses a race to an identical subscribe finds it the second time.
    for _ in 0..2 {
        let existing = db::get(&**client, store_id, &def.id).await?;
        let (applied, generated) = match existing {
            None => {
                let generated =
                    (def.secret == SecretChoice::Generate).then(WebhookSecret::generate);
                let secret = match (&def.secret, &generated) {
                    (SecretChoice::Given(s), _) => Some(s.expose()),
                    (_, Some(s)) => Some(s.expose()),
                    _ => None,
                };
                let start_after = match def.initial_position {
                    InitialPosition::Earliest => 0,
                    InitialPosition::Latest => head,
                };
                if !db::insert(&**client, store_id, def, secret, start_after).await? {
                    continue;
                }
                (Applied::Created, generated)
            }
            Some(row) if row.same_definition(def) => {
                return Ok(Outcome {
                    applied: Applied::Unchanged,
                    row,
                    generated_secret: None,
                });
            }
            Some(row) if mode == Mode::CreateOnly => {
                return Ok(Outcome {
                    applied: Applied::Conflict,
                    row,
                    generated_secret: None,
                });
            }
            Some(row) => {
                let generated = (def.secret == SecretChoice::Generate && row.secret.is_none())
                    .then(WebhookSecret::generate);
                let secret = match (&def.secret, &generated) {
                    (SecretChoice::None, _) => Some(None),
                    (SecretChoice::Given(s), _) => Some(Some(s.expose())),
                    (SecretChoice::Generate, Some(s)) => Some(Some(s.expose())),
                    (SecretChoice::Generate, None) => None,
                };
                db::update_definition(&**client, store_id, def, secret).await?;
                (Applied::Changed, generated)
            }
        };
        db::notify_changed(&**client, store, &def.id).await?;
        let row = db::get(&**client, store_id, &def.id)
            .await?
            .ok_or_else(|| ApplyError::StoreNotFound(store.to_owned()))?;
        return Ok(Outcome {
            applied,
            row,
            generated_secret: generated,
        });
    }
    // The row was inserted and deleted again between our two looks: report what is there now.
    let row = db::get(&**client, store_id, &def.id)
        .await?
        .ok_or_else(|| ApplyError::StoreNotFound(store.to_owned()))?;
    Ok(Outcome {
        applied: Applied::Unchanged,
        row,
        generated_secret: None,
    })
}
