//! [`QueryParams`], the extractor to use instead of `web::Query`: a bad query string becomes a
//! 400 `ValidationError` whose `details.field` names the parameter (`limit`), which actix's own
//! extractor cannot say.
//!
//! The string is split and percent-decoded by `serde_urlencoded`; each value is then parsed into
//! its field's type by [`QueryValue`], under `serde_path_to_error`, which tracks the name.

use std::ops::Deref;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use serde::de::value::{Error as DeError, MapDeserializer};
use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};

use super::error::ApiError;
use super::json::field_path;

/// A query string parsed into `T`, or a 400 `ValidationError` naming the parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryParams<T>(pub T);

impl<T> QueryParams<T> {
    /// The parsed value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for QueryParams<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned> FromRequest for QueryParams<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(parse_query(req.query_string()).map(QueryParams))
    }
}

/// Parses a query string (without `?`) into `T`; errors name the parameter.
pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
        .map_err(|e| ApiError::validation("query", format!("invalid query string: {e}")))?;
    let deserializer: MapDeserializer<'_, _, DeError> =
        MapDeserializer::new(pairs.into_iter().map(|(k, v)| (k, QueryValue(v))));
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let path = e.path().to_string();
        let text = e.into_inner().to_string();
        let field = field_path(&path, &text);
        let message = match field.as_str() {
            "" => format!("invalid query string: {text}"),
            field => format!("query parameter {field}: {text}"),
        };
        ApiError::validation(field, message)
    })
}

/// One decoded query value; numbers and booleans are parsed from it on demand.
#[derive(Debug)]
pub struct QueryValue(String);

impl IntoDeserializer<'_, DeError> for QueryValue {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

macro_rules! parse_as {
    ($($method:ident => $visit:ident : $ty:ty),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            match self.0.trim().parse::<$ty>() {
                Ok(value) => visitor.$visit(value),
                Err(e) => Err(de::Error::custom(format!(
                    "{e}: expected {}, got {:?}", stringify!($ty), self.0
                ))),
            }
        }
    )*};
}

impl<'de> de::Deserializer<'de> for QueryValue {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_string(self.0)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_some(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_enum(self.0.into_deserializer())
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    parse_as! {
        deserialize_bool => visit_bool: bool,
        deserialize_i8 => visit_i8: i8,
        deserialize_i16 => visit_i16: i16,
        deserialize_i32 => visit_i32: i32,
        deserialize_i64 => visit_i64: i64,
        deserialize_u8 => visit_u8: u8,
        deserialize_u16 => visit_u16: u16,
        deserialize_u32 => visit_u32: u32,
        deserialize_u64 => visit_u64: u64,
        deserialize_f32 => visit_f32: f32,
        deserialize_f64 => visit_f64: f64,
    }

    serde::forward_to_deserialize_any! {
        i128 u128 char str string bytes byte_buf unit unit_struct seq tuple tuple_struct map
        struct identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "camelCase")]
    struct Page {
        limit: Option<u32>,
        status: Option<Status>,
        from_global_position: u64,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum Status {
        Placed,
        Shipped,
    }

    #[test]
    fn good_query_parses_into_typed_fields() {
        let page: Page = parse_query("limit=10&status=shipped&fromGlobalPosition=7").unwrap();
        assert_eq!(
            page,
            Page {
                limit: Some(10),
                status: Some(Status::Shipped),
                from_global_position: 7
            }
        );
    }

    #[test]
    fn bad_number_names_the_parameter() {
        let error = parse_query::<Page>("limit=ten&fromGlobalPosition=1").unwrap_err();
        assert_eq!(error.status(), 400);
        assert_eq!(error.details()["field"], "limit");
        assert!(error.message().contains("limit"), "{}", error.message());
    }

    #[test]
    fn missing_parameter_is_named() {
        let error = parse_query::<Page>("limit=1").unwrap_err();
        assert_eq!(error.details()["field"], "fromGlobalPosition");
    }

    #[test]
    fn unknown_enum_value_names_the_parameter() {
        let error = parse_query::<Page>("status=lost&fromGlobalPosition=1").unwrap_err();
        assert_eq!(error.details()["field"], "status");
        assert!(error.message().contains("placed"), "{}", error.message());
    }

    #[test]
    fn percent_encoding_is_decoded() {
        #[derive(Deserialize)]
        struct Q {
            r#type: String,
        }
        let q: Q = parse_query("type=order.%2A").unwrap();
        assert_eq!(q.r#type, "order.*");
    }
}
