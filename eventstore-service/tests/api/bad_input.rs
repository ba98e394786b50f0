//! Every limit and malformed input is a clear 4xx JSON error naming the problem, and nothing is
//! written for it.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{STORE, spawn_app_with};

const MAX_BODY: usize = 4096;
const MAX_EVENTS: usize = 10;

/// One bad request: what is sent, and the answer expected.
struct Case {
    name: &'static str,
    stream: String,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    status: StatusCode,
    error: &'static str,
    /// `details.field`, when the error names one.
    field: Option<&'static str>,
}

fn case(
    name: &'static str,
    body: Value,
    status: StatusCode,
    error: &'static str,
    field: Option<&'static str>,
) -> Case {
    Case {
        name,
        stream: "s".to_owned(),
        content_type: Some("application/json"),
        body: serde_json::to_vec(&body).unwrap(),
        status,
        error,
        field,
    }
}

fn invalid(name: &'static str, body: Value, field: &'static str) -> Case {
    case(
        name,
        body,
        StatusCode::BAD_REQUEST,
        "ValidationError",
        Some(field),
    )
}

fn one(event: Value) -> Value {
    json!({ "events": [event] })
}

fn cases() -> Vec<Case> {
    let ok_event = json!({"type": "a.b", "data": {}});
    vec![
        invalid("no events", json!({"events": []}), "events"),
        invalid("events missing", json!({"options": {}}), "events"),
        invalid("events not a list", json!({"events": {}}), "events"),
        invalid(
            "too many events",
            json!({"events": vec![ok_event.clone(); MAX_EVENTS + 1]}),
            "events",
        ),
        invalid("type missing", one(json!({"data": {}})), "events[0].type"),
        invalid(
            "type with a space",
            one(json!({"type": "a b", "data": {}})),
            "events[0].type",
        ),
        invalid(
            "type with a star",
            one(json!({"type": "a.*", "data": {}})),
            "events[0].type",
        ),
        invalid(
            "type too long",
            one(json!({"type": "a".repeat(201), "data": {}})),
            "events[0].type",
        ),
        invalid(
            "type empty",
            one(json!({"type": "", "data": {}})),
            "events[0].type",
        ),
        invalid("data missing", one(json!({"type": "a"})), "events[0].data"),
        invalid(
            "data an array",
            one(json!({"type": "a", "data": [1]})),
            "events[0].data",
        ),
        invalid(
            "data a string",
            one(json!({"type": "a", "data": "x"})),
            "events[0].data",
        ),
        invalid(
            "data null",
            one(json!({"type": "a", "data": null})),
            "events[0].data",
        ),
        invalid(
            "data with NUL",
            one(json!({"type": "a", "data": {"s": "a\u{0}b"}})),
            "events[0].data",
        ),
        invalid(
            "metadata a number",
            one(json!({"type": "a", "data": {}, "metadata": 1})),
            "events[0].metadata",
        ),
        invalid(
            "schemaVersion zero",
            one(json!({"type": "a", "data": {}, "schemaVersion": 0})),
            "events[0].schemaVersion",
        ),
        invalid(
            "schemaVersion negative",
            one(json!({"type": "a", "data": {}, "schemaVersion": -1})),
            "events[0].schemaVersion",
        ),
        invalid(
            "eventId not a uuid",
            one(json!({"type": "a", "data": {}, "eventId": "nope"})),
            "events[0].eventId",
        ),
        invalid(
            "eventId twice",
            json!({"events": [
                {"type": "a", "data": {}, "eventId": "9f1c3f5e-8f3a-4c39-9c5e-1d2a3b4c5d6e"},
                {"type": "a", "data": {}, "eventId": "9f1c3f5e-8f3a-4c39-9c5e-1d2a3b4c5d6e"}]}),
            "events[1].eventId",
        ),
        invalid(
            "expected version unknown word",
            json!({"events": [ok_event.clone()], "options": {"expectedStreamVersion": "latest"}}),
            "options.expectedStreamVersion",
        ),
        invalid(
            "expected version negative",
            json!({"events": [ok_event.clone()], "expectedStreamVersion": -1}),
            "expectedStreamVersion",
        ),
        invalid(
            "idempotency key too long",
            json!({"events": [ok_event.clone()], "idempotencyKey": "k".repeat(201)}),
            "idempotencyKey",
        ),
        Case {
            stream: "x".repeat(201),
            ..invalid("stream id too long", one(ok_event.clone()), "streamId")
        },
        Case {
            stream: "a\u{1}b".to_owned(),
            ..invalid(
                "stream id with a control character",
                one(ok_event.clone()),
                "streamId",
            )
        },
        Case {
            body: b"{\"events\": [".to_vec(),
            ..case(
                "malformed JSON",
                json!(null),
                StatusCode::BAD_REQUEST,
                "ValidationError",
                None,
            )
        },
        Case {
            body: Vec::new(),
            ..case(
                "empty body",
                json!(null),
                StatusCode::BAD_REQUEST,
                "ValidationError",
                None,
            )
        },
        Case {
            content_type: Some("text/plain"),
            ..case(
                "text content type",
                one(ok_event.clone()),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UnsupportedMediaType",
                None,
            )
        },
        Case {
            content_type: None,
            ..case(
                "no content type",
                one(ok_event.clone()),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UnsupportedMediaType",
                None,
            )
        },
        case(
            "body over the limit",
            one(json!({"type": "a", "data": {"pad": "x".repeat(MAX_BODY)}})),
            StatusCode::PAYLOAD_TOO_LARGE,
            "PayloadTooLarge",
            None,
        ),
    ]
}

#[tokio::test]
async fn each_bad_append_is_a_4xx_naming_the_problem_and_writes_nothing() {
    let app = spawn_app_with(|config| {
        config.max_body_bytes = MAX_BODY;
        config.max_events_per_append = MAX_EVENTS;
    })
    .await;

    for case in cases() {
        let mut request = app
            .http
            .post(app.stream_url(STORE, &case.stream))
            .body(case.body.clone());
        if let Some(content_type) = case.content_type {
            request = request.header("content-type", content_type);
        }
        let response = request.send().await.unwrap();

        let status = response.status();
        let body: Value = response
            .json()
            .await
            .unwrap_or_else(|e| panic!("{}: not JSON: {e}", case.name));
        assert_eq!(status, case.status, "{}: {body}", case.name);
        assert_eq!(body["error"], case.error, "{}: {body}", case.name);
        assert!(
            !body["message"].as_str().unwrap_or_default().is_empty(),
            "{}",
            case.name
        );
        if let Some(field) = case.field {
            assert_eq!(body["details"]["field"], field, "{}: {body}", case.name);
        }
    }
    assert!(
        app.all_events().await.is_empty(),
        "a refused append wrote events"
    );
    let store: Value = app
        .get(&format!("/api/event-stores/{STORE}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(store["statistics"]["events"], 0);
    assert_eq!(store["statistics"]["streams"], 0);
}

#[tokio::test]
async fn bad_read_parameters_are_400s_naming_the_parameter() {
    let app = spawn_app_with(|_| {}).await;
    let cases = [
        (format!("/api/event-stores/{STORE}/events?limit=0"), "limit"),
        (
            format!("/api/event-stores/{STORE}/events?limit=1001"),
            "limit",
        ),
        (
            format!("/api/event-stores/{STORE}/events?limit=ten"),
            "limit",
        ),
        (
            format!("/api/event-stores/{STORE}/events?fromGlobalPosition=-1"),
            "fromGlobalPosition",
        ),
        (format!("/api/event-stores/{STORE}/events?type=a**"), "type"),
        (
            format!("/api/event-stores/{STORE}/streams/s?direction=sideways"),
            "direction",
        ),
        (
            format!("/api/event-stores/{STORE}/streams/s?limit=5000"),
            "limit",
        ),
        (
            format!("/api/event-stores/{STORE}/streams/s?fromStreamPosition=x"),
            "fromStreamPosition",
        ),
        ("/api/event-stores/Bad%20Name/events".to_owned(), "store"),
        ("/api/event-stores/ab".to_owned(), "store"),
    ];
    for (path, field) in cases {
        let response = app.get(&path).await;

        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert_eq!(body["error"], "ValidationError", "{path}");
        assert_eq!(body["details"]["field"], field, "{path}: {body}");
    }
}
