//! The HTTP API of the event store (DESIGN.md, "Event store service"), mounted under `/api`.

pub mod append;
pub mod auth;
pub mod openapi;
pub mod params;
pub mod read;
pub mod stores;

use actix_web::web;

/// Registers the store, stream and read-all routes (relative to `/api`).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/event-stores")
            .route(web::post().to(stores::create_store))
            .route(web::get().to(stores::list_stores)),
    )
    .service(
        web::resource("/event-stores/{store}")
            .route(web::get().to(stores::get_store))
            .route(web::delete().to(stores::delete_store)),
    )
    .service(
        web::resource("/event-stores/{store}/streams/{streamId}")
            .route(web::post().to(append::append))
            .route(web::get().to(read::read_stream)),
    )
    .service(web::resource("/event-stores/{store}/events").route(web::get().to(read::read_all)));
}
