//! The `Link: <…>; rel="next"` header of a list page: the same path and query, with `cursor`
//! replaced by the next page's. A path-absolute reference (RFC 8288 resolves it against the
//! request URL), so it stays right behind proxies that change the host.

use actix_web::HttpRequest;

use crate::cursor::Cursor;

/// The `Link` header value pointing at the page after `next`.
pub fn next_link(req: &HttpRequest, next: &Cursor) -> String {
    let mut query: Vec<&str> = req
        .query_string()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .filter(|pair| pair.split('=').next() != Some("cursor"))
        .collect();
    let cursor = format!("cursor={}", next.encode());
    query.push(&cursor);
    format!("<{}?{}>; rel=\"next\"", req.uri().path(), query.join("&"))
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn link_keeps_other_parameters_and_replaces_the_cursor() {
        let next = Cursor {
            score: 5,
            order_id: "o-5".to_owned(),
        };
        let req = TestRequest::get()
            .uri("/orders?status=shipped&cursor=old&limit=20")
            .to_http_request();
        assert_eq!(
            next_link(&req, &next),
            format!(
                "</orders?status=shipped&limit=20&cursor={}>; rel=\"next\"",
                next.encode()
            )
        );
        let req = TestRequest::get()
            .uri("/orders/customer/c%201")
            .to_http_request();
        assert_eq!(
            next_link(&req, &next),
            format!(
                "</orders/customer/c%201?cursor={}>; rel=\"next\"",
                next.encode()
            )
        );
    }
}
