//! Request bodies: size-limited, strictly typed JSON. A body that does not fit gets an error
//! naming the field at fault and what it accepts.

use lambda_http::http::StatusCode;
use lambda_http::Body;
use serde::de::DeserializeOwned;

use crate::api_error::ApiError;

pub const MAX_BODY_BYTES: usize = 64 * 1024;

fn bytes(body: &Body) -> &[u8] {
    match body {
        Body::Empty => b"",
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => b"",
    }
}

/// serde names a missing or unknown field only inside its message, in backticks.
fn quoted_name(message: &str) -> Option<&str> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(&message[start..start + len])
}

pub fn parse<T: DeserializeOwned>(body: &Body) -> Result<T, ApiError> {
    let raw = bytes(body);
    if raw.len() > MAX_BODY_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!(
                "the body is {} bytes; the limit is {MAX_BODY_BYTES}",
                raw.len()
            ),
        )
        .field("body"));
    }
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::invalid(
            "body",
            "the body is empty; send a JSON object",
        ));
    }
    // serde would read a struct from an array by position: only an object names its fields.
    if raw.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::invalid("body", "the body is not a JSON object; send one JSON object, e.g. {\"tenant_id\": \"acme\", ...}"));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(raw);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let text = inner.to_string();
        // serde_json appends " at line L column C"; the field name says more.
        let message = text.split(" at line ").next().unwrap_or(&text).to_owned();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::invalid(
                "body",
                format!("the body is not valid JSON ({text}); send a JSON object"),
            );
        }
        let field = match path.as_str() {
            "." | "" => quoted_name(&message).unwrap_or("body").to_owned(),
            _ => path,
        };
        let message = if message.starts_with("unknown field") {
            let accepted = message
                .split_once(", expected ")
                .map(|(_, rest)| rest.trim_start_matches("one of ").replace('`', "\""));
            format!(
                "unknown field \"{field}\"; remove it (accepted fields: {})",
                accepted.as_deref().unwrap_or("none")
            )
        } else if message.starts_with("missing field") {
            format!("\"{field}\" is required")
        } else if message.starts_with("invalid type") {
            format!(
                "\"{field}\" has the wrong type: {}",
                message.trim_start_matches("invalid type: ")
            )
        } else {
            message
        };
        ApiError::invalid(field, message)
    })?;
    deserializer.end().map_err(|_| {
        ApiError::invalid(
            "body",
            "the body has data after the JSON object; send one JSON object",
        )
    })?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use byoc_domain::ids::TenantId;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Req {
        tenant_id: TenantId,
        name: String,
    }

    fn err(body: &str) -> ApiError {
        parse::<Req>(&Body::Text(body.into())).unwrap_err()
    }

    #[test]
    fn every_error_names_its_field() {
        let e = err(r#"{"name":"x"}"#);
        assert_eq!(
            (e.field.as_deref(), e.message.as_str()),
            (Some("tenant_id"), "\"tenant_id\" is required")
        );
        let e = err(r#"{"tenant_id":"acme","name":"x","colour":"red"}"#);
        assert_eq!(e.field.as_deref(), Some("colour"));
        assert_eq!(
            e.message,
            "unknown field \"colour\"; remove it (accepted fields: \"tenant_id\" or \"name\")"
        );
        let e = err(r#"{"tenant_id":5,"name":"x"}"#);
        assert_eq!(e.field.as_deref(), Some("tenant_id"));
        assert!(e.message.contains("wrong type"));
        let e = err(r#"{"tenant_id":"Bad Id","name":"x"}"#);
        assert_eq!(e.field.as_deref(), Some("tenant_id"));
        assert!(e.message.contains("lowercase letters"));
        for bad in ["", "{", "[1,2]x", "nope", "{} {}"] {
            assert_eq!(err(bad).status, StatusCode::BAD_REQUEST, "{bad}");
        }
        assert_eq!(err("{").field.as_deref(), Some("body"));
        for not_an_object in [r#"["acme","x"]"#, "null", "\"acme\"", "42"] {
            assert_eq!(
                err(not_an_object).field.as_deref(),
                Some("body"),
                "{not_an_object}"
            );
        }
    }

    #[test]
    fn oversize_bodies_are_refused_before_parsing() {
        let e = err(&" ".repeat(MAX_BODY_BYTES + 1));
        assert_eq!(e.status, StatusCode::PAYLOAD_TOO_LARGE);
    }
}
