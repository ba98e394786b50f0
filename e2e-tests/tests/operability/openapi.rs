//! Each service's `/openapi.json` against the routes it really has, both ways:
//!
//! * every documented operation reaches a handler: the route pattern that answered (the
//!   `route` label of `http_requests_total`) is the documented path, with the documented
//!   method (not 405, not the router's 404);
//! * every documented path answers 404/405 to the methods it does not document;
//! * every registered path is documented: the paths in the app's resource map (the services'
//!   own route-registering functions, as their `startup` wires them, plus the kit's
//!   `common_routes`) equal the documented ones.
//!
//! The served documents are also written to `$OPENAPI_DUMP_DIR` (default `target/openapi/`) as
//! `<service>.json`, where `scripts/checks.d/65-openapi` validates them with
//! `openapi-spec-validator`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use actix_web::{App, HttpRequest, test, web};
use serde_json::Value;
use shared_domain::service::{Health, Metrics, common_routes};
use shared_domain::testing::redis::redis_url;
use utoipa::OpenApi;

use crate::in_process::{InProcessStack, Options, Secrets};

const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

/// Where the served documents are written.
fn dump_dir() -> PathBuf {
    std::env::var_os("OPENAPI_DUMP_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/openapi"),
        PathBuf::from,
    )
}

/// `/orders/{orderId}/ship` → `/orders/{}/ship`: parameter names may differ between the
/// document and the router without the routes being different.
fn shape(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push_str("{}");
            }
            '}' => in_param = false,
            _ if in_param => {}
            _ => out.push(c),
        }
    }
    out
}

/// A concrete path for a documented template (every parameter `probe-1`).
fn concrete(path: &str) -> String {
    shape(path).replace("{}", "probe-1")
}

/// The documented operations: path → methods.
fn operations(doc: &Value) -> BTreeMap<String, BTreeSet<String>> {
    doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .map(|(path, item)| {
            let methods = METHODS
                .iter()
                .filter(|m| item.get(**m).is_some())
                .map(|m| (*m).to_owned())
                .collect();
            (path.clone(), methods)
        })
        .collect()
}

/// `(method, route)` of every `http_requests_total` series in a Prometheus text.
fn answered_routes(metrics: &str) -> BTreeSet<(String, String)> {
    let label = |line: &str, name: &str| {
        let start = line.find(&format!("{name}=\""))? + name.len() + 2;
        let end = line[start..].find('"')? + start;
        Some(line[start..end].to_owned())
    };
    metrics
        .lines()
        .filter(|l| l.starts_with("http_requests_total{"))
        .filter_map(|l| Some((label(l, "method")?, label(l, "route")?)))
        .collect()
}

/// The paths of the leaf resources in `{:#?}` of an actix `ResourceMap`: each node's pattern
/// follows its `ResourceMap {` line, children sit one indentation level deeper under `nodes`.
fn registered_paths(debug: &str) -> BTreeSet<String> {
    let lines: Vec<&str> = debug.lines().collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    // (indent of the map, its pattern, whether it has children)
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut paths = BTreeSet::new();
    for (i, line) in lines.iter().enumerate() {
        if line.trim_end().ends_with("ResourceMap {") {
            let level = indent(line);
            while stack.last().is_some_and(|(l, _)| *l >= level) {
                stack.pop();
            }
            // Its own pattern: the first `patterns: Single(` below it, value on the next line.
            let pattern = lines[i..]
                .iter()
                .position(|l| l.trim_start().starts_with("patterns: Single("))
                .and_then(|p| lines.get(i + p + 1))
                .map(|l| l.trim().trim_end_matches(',').trim_matches('"').to_owned())
                .unwrap_or_default();
            // A leaf has `nodes: None` at its own field level.
            let field = " ".repeat(level + 4);
            let is_leaf = lines[i + 1..]
                .iter()
                .take_while(|l| indent(l) > level || l.trim().is_empty())
                .any(|l| l.starts_with(&format!("{field}nodes: None")));
            stack.push((level, pattern));
            if is_leaf {
                paths.insert(stack.iter().map(|(_, p)| p.as_str()).collect::<String>());
            }
        }
    }
    paths
}

/// The resource map of an app holding `configure`'s routes and the kit's common routes.
async fn resource_map(
    name: &str,
    doc: utoipa::openapi::OpenApi,
    configure: fn(&mut web::ServiceConfig),
) -> BTreeSet<String> {
    let app = test::init_service(
        App::new()
            .route(
                "/__resource-map",
                web::get()
                    .to(|req: HttpRequest| async move { format!("{:#?}", req.resource_map()) }),
            )
            .configure(configure)
            .configure(move |cfg| common_routes(cfg, Metrics::new(name), Health::new(), doc)),
    )
    .await;
    let request = test::TestRequest::get().uri("/__resource-map").to_request();
    let body = test::call_and_read_body(&app, request).await;
    let mut paths = registered_paths(&String::from_utf8_lossy(&body));
    paths.remove("/__resource-map");
    assert!(
        paths.contains("/health/live") && paths.len() > 4,
        "could not read {name}'s resource map: {paths:?}\n{}",
        String::from_utf8_lossy(&body)
    );
    paths
}

fn eventstore_routes(cfg: &mut web::ServiceConfig) {
    // As eventstore-service's startup mounts them.
    cfg.service(
        web::scope("/api")
            .configure(eventstore_service::api::routes)
            .configure(eventstore_service::subscriptions::routes),
    );
}

fn command_routes(cfg: &mut web::ServiceConfig) {
    command_service::routes::command_routes::<shared_domain::client::EventStoreClient>(cfg);
}

/// A service under test: name, base URL, its own document, its route registration.
type Service<'a> = (
    &'static str,
    &'a str,
    utoipa::openapi::OpenApi,
    fn(&mut web::ServiceConfig),
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_openapi_documents_match_the_routes_that_exist() {
    let secrets = Secrets::fresh();
    let stack = InProcessStack::start(Options {
        secrets: secrets.clone(),
        redis_url: redis_url(),
        probe_url: None,
    })
    .await;
    let http = reqwest::Client::new();
    let dir = dump_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let services: [Service<'_>; 4] = [
        (
            "eventstore-service",
            &stack.eventstore,
            eventstore_service::api::openapi::document(),
            eventstore_routes,
        ),
        (
            "command-service",
            &stack.command,
            command_service::openapi::ApiDoc::openapi(),
            command_routes,
        ),
        (
            "projection-service",
            &stack.projection,
            projection_service::openapi::document(),
            projection_service::routes::configure,
        ),
        (
            "query-service",
            &stack.query,
            query_service::openapi::document(),
            query_service::routes::configure,
        ),
    ];
    let mut problems = Vec::new();
    for (name, base, doc, configure) in services {
        // The served document, kept for the spec validator.
        let served: Value = http
            .get(format!("{base}/openapi.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(
            served["openapi"]
                .as_str()
                .is_some_and(|v| v.starts_with("3.")),
            "{name}: not OpenAPI 3"
        );
        std::fs::write(
            dir.join(format!("{name}.json")),
            serde_json::to_vec_pretty(&served).unwrap(),
        )
        .unwrap();
        let documented = operations(&served);

        // Documented → answered by that route, with that method; other methods refused.
        for (path, methods) in &documented {
            for method in METHODS {
                let request = http
                    .request(
                        method.to_uppercase().parse().unwrap(),
                        format!("{base}{}", concrete(path)),
                    )
                    .header("x-api-key", &secrets.api_key)
                    .header("content-type", "application/json")
                    .body("{}");
                let response = request.send().await.unwrap();
                let status = response.status().as_u16();
                let body = response.text().await.unwrap_or_default();
                let router_404 = status == 404 && body.contains("no route for");
                if methods.contains(method) {
                    if status == 405 || router_404 {
                        problems.push(format!(
                            "{name}: documented {method} {path} answered {status} {body}"
                        ));
                    }
                } else if !(status == 405 || router_404) {
                    problems.push(format!(
                        "{name}: undocumented {method} {path} answered {status}"
                    ));
                }
            }
        }
        let metrics = http
            .get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let answered: BTreeSet<(String, String)> = answered_routes(&metrics)
            .into_iter()
            .map(|(m, r)| (m.to_lowercase(), shape(&r)))
            .collect();
        for (path, methods) in &documented {
            for method in methods {
                if !answered.contains(&(method.clone(), shape(path))) {
                    problems.push(format!(
                        "{name}: {method} {path} was not answered by a route of that pattern"
                    ));
                }
            }
        }

        // Registered → documented.
        let registered: BTreeSet<String> = resource_map(name, doc, configure)
            .await
            .iter()
            .map(|p| shape(p))
            .collect();
        let documented_shapes: BTreeSet<String> = documented.keys().map(|p| shape(p)).collect();
        for missing in registered.difference(&documented_shapes) {
            problems.push(format!("{name}: route {missing} is not documented"));
        }
        for extra in documented_shapes.difference(&registered) {
            problems.push(format!("{name}: documented {extra} is not a route"));
        }
    }
    stack.stop().await;
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
