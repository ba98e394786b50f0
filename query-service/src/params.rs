//! Request parameters, parsed at the edge into types the handlers can trust: [`ListParams`] for
//! the list endpoints, [`Freshness`] for read-your-writes. Every rejection is a 400
//! `ValidationError` whose `details.field` names the parameter (or header).

use actix_web::HttpRequest;
use serde::Deserialize;
use shared_domain::orders::OrderStatus;
use shared_domain::service::ApiError;
use shared_domain::service::query::parse_query;

use crate::config::WaitSettings;
use crate::cursor::Cursor;

/// Page size when the request gives no `limit`.
pub const DEFAULT_LIMIT: usize = 50;
/// Largest `limit` accepted (the wire conventions' list bound).
pub const MAX_LIMIT: usize = 1000;
/// The header form of `minGlobalPosition`.
pub const MIN_POSITION_HEADER: &str = "x-min-global-position";

/// The raw query string of every endpoint: all optional, checked by the `parse_*` functions.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawQuery {
    status: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
    min_global_position: Option<i64>,
    wait_ms: Option<i64>,
}

/// What a list request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListParams {
    /// Only orders in this status (`None` = all; an empty `status=` also means all, as in the
    /// walkthrough).
    pub status: Option<OrderStatus>,
    /// Page size, 1..=[`MAX_LIMIT`].
    pub limit: usize,
    /// Where the page starts (`None` = the newest order).
    pub cursor: Option<Cursor>,
}

/// A read-your-writes demand: answer only from a read model that has applied `min_position`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Freshness {
    /// The global position the projection must have reached (0 = no demand).
    pub min_position: u64,
    /// How long to wait for it, already capped.
    pub wait: std::time::Duration,
}

/// Parses the list parameters of `query` (without `?`).
pub fn parse_list(query: &str) -> Result<ListParams, ApiError> {
    let raw: RawQuery = parse_query(query)?;
    let status =
        match raw.status.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(text.parse::<OrderStatus>().map_err(|e| {
                ApiError::validation("status", format!("query parameter status: {e}"))
            })?),
        };
    let limit = match raw.limit {
        None => DEFAULT_LIMIT,
        Some(n) if (1..=MAX_LIMIT as i64).contains(&n) => n as usize,
        Some(n) => {
            return Err(ApiError::validation(
                "limit",
                format!("query parameter limit: {n} is out of range; expected 1 to {MAX_LIMIT}"),
            ));
        }
    };
    let cursor =
        match raw.cursor.as_deref() {
            None | Some("") => None,
            Some(text) => Some(Cursor::decode(text).map_err(|e| {
                ApiError::validation("cursor", format!("query parameter cursor: {e}"))
            })?),
        };
    Ok(ListParams {
        status,
        limit,
        cursor,
    })
}

/// Parses the read-your-writes demand from `?minGlobalPosition=`, the `x-min-global-position`
/// header (both given: the larger counts, as both are lower bounds) and `?waitMs=` (capped by
/// `wait`). `None` when the request makes no demand.
pub fn parse_freshness(
    req: &HttpRequest,
    wait: &WaitSettings,
) -> Result<Option<Freshness>, ApiError> {
    let raw: RawQuery = parse_query(req.query_string())?;
    let from_query = match raw.min_global_position {
        None => None,
        Some(n) if n >= 0 => Some(n as u64),
        Some(n) => {
            return Err(ApiError::validation(
                "minGlobalPosition",
                format!("query parameter minGlobalPosition: {n} is negative"),
            ));
        }
    };
    let from_header = match req.headers().get(MIN_POSITION_HEADER) {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(|text| text.trim().parse::<u64>().ok())
                .ok_or_else(|| {
                    ApiError::validation(
                        MIN_POSITION_HEADER,
                        format!("header {MIN_POSITION_HEADER}: expected a global position (a whole number ≥ 0)"),
                    )
                })?,
        ),
    };
    let requested_wait = match raw.wait_ms {
        None => None,
        Some(n) if n >= 0 => Some(n as u64),
        Some(n) => {
            return Err(ApiError::validation(
                "waitMs",
                format!("query parameter waitMs: {n} is negative"),
            ));
        }
    };
    let min_position = from_query.max(from_header).unwrap_or(0);
    Ok((min_position > 0).then(|| Freshness {
        min_position,
        wait: wait.effective(requested_wait),
    }))
}

/// Rejects list filters an endpoint cannot apply (a customer's list has no status index), so a
/// client is never silently given unfiltered results.
pub fn reject_status_filter(params: &ListParams) -> Result<(), ApiError> {
    match params.status {
        None => Ok(()),
        Some(_) => Err(ApiError::validation(
            "status",
            "query parameter status: not supported on a customer's orders; filter the list yourself",
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use actix_web::test::TestRequest;

    use super::*;

    fn field_of(error: &ApiError) -> String {
        assert_eq!(error.status(), 400);
        error.details()["field"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    #[test]
    fn no_parameters_mean_first_page_of_everything() {
        let params = parse_list("").unwrap();
        assert_eq!(
            params,
            ListParams {
                status: None,
                limit: DEFAULT_LIMIT,
                cursor: None
            }
        );
    }

    #[test]
    fn status_limit_and_cursor_parse() {
        let cursor = Cursor {
            score: 9,
            order_id: "o-9".to_owned(),
        };
        let params = parse_list(&format!(
            "status=shipped&limit=1000&cursor={}",
            cursor.encode()
        ))
        .unwrap();
        assert_eq!(params.status, Some(OrderStatus::Shipped));
        assert_eq!(params.limit, 1000);
        assert_eq!(params.cursor, Some(cursor));
    }

    #[test]
    fn empty_status_means_all_as_in_the_walkthrough() {
        assert_eq!(parse_list("status=").unwrap().status, None);
    }

    #[test]
    fn unknown_status_is_named() {
        let error = parse_list("status=lost").unwrap_err();
        assert_eq!(field_of(&error), "status");
        assert!(error.message().contains("pending"), "{}", error.message());
    }

    #[test]
    fn limit_out_of_range_or_not_a_number_is_named() {
        for query in [
            "limit=0",
            "limit=1001",
            "limit=-5",
            "limit=ten",
            "limit=1.5",
        ] {
            assert_eq!(
                field_of(&parse_list(query).unwrap_err()),
                "limit",
                "{query}"
            );
        }
    }

    #[test]
    fn malformed_cursor_is_named() {
        for query in ["cursor=%21%21", "cursor=bm9wZQ"] {
            assert_eq!(
                field_of(&parse_list(query).unwrap_err()),
                "cursor",
                "{query}"
            );
        }
    }

    #[test]
    fn no_position_means_no_demand() {
        let req = TestRequest::get()
            .uri("/orders/o-1?waitMs=5")
            .to_http_request();
        assert_eq!(
            parse_freshness(&req, &WaitSettings::default()).unwrap(),
            None
        );
    }

    #[test]
    fn position_from_query_or_header_larger_wins() {
        let wait = WaitSettings::default();
        let req = TestRequest::get()
            .uri("/orders/o-1?minGlobalPosition=7&waitMs=300")
            .insert_header((MIN_POSITION_HEADER, "9"))
            .to_http_request();
        assert_eq!(
            parse_freshness(&req, &wait).unwrap(),
            Some(Freshness {
                min_position: 9,
                wait: Duration::from_millis(300)
            })
        );
        let req = TestRequest::get()
            .uri("/orders/o-1")
            .insert_header((MIN_POSITION_HEADER, "4"))
            .to_http_request();
        assert_eq!(
            parse_freshness(&req, &wait).unwrap().unwrap().wait,
            wait.default
        );
    }

    #[test]
    fn wait_is_capped() {
        let wait = WaitSettings::default();
        let req = TestRequest::get()
            .uri("/orders?minGlobalPosition=1&waitMs=999999")
            .to_http_request();
        assert_eq!(
            parse_freshness(&req, &wait).unwrap().unwrap().wait,
            wait.max
        );
    }

    #[test]
    fn bad_positions_and_waits_are_named() {
        let wait = WaitSettings::default();
        let cases = [
            ("/orders?minGlobalPosition=abc", None, "minGlobalPosition"),
            ("/orders?minGlobalPosition=-1", None, "minGlobalPosition"),
            ("/orders?minGlobalPosition=1&waitMs=-1", None, "waitMs"),
            ("/orders?minGlobalPosition=1&waitMs=x", None, "waitMs"),
            ("/orders", Some("twelve"), MIN_POSITION_HEADER),
        ];
        for (uri, header, field) in cases {
            let mut req = TestRequest::get().uri(uri);
            if let Some(value) = header {
                req = req.insert_header((MIN_POSITION_HEADER, value));
            }
            let error = parse_freshness(&req.to_http_request(), &wait).unwrap_err();
            assert_eq!(field_of(&error), field, "{uri}");
        }
    }
}
