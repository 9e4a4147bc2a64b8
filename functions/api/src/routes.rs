//! The API's routes, in one table: the router resolves paths against it, the 404 message lists
//! it, and a test holds `docs/openapi.yaml` to it so the two cannot drift apart.

/// Every route, as `(method, path template)`; `{name}` is one path segment.
pub const ROUTES: [(&str, &str); 12] = [
    ("POST", "/tenants"),
    ("GET", "/tenants/{tenant_id}"),
    ("GET", "/tenants/{tenant_id}/installs"),
    ("PUT", "/tenants/{tenant_id}/webhook"),
    ("GET", "/tenants/{tenant_id}/webhook"),
    ("DELETE", "/tenants/{tenant_id}/webhook"),
    ("POST", "/installs"),
    ("POST", "/installs/preflight"),
    ("GET", "/installs/{install_id}"),
    ("DELETE", "/installs/{install_id}"),
    ("POST", "/installs/{install_id}/retry"),
    ("POST", "/installs/{install_id}/upgrade"),
];

/// What a request asks for, with the path parameters it carries (not validated yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint<'a> {
    CreateTenant,
    ShowTenant(&'a str),
    ListInstalls(&'a str),
    /// Any of the webhook's methods (`webhooks::route` tells them apart).
    Webhook(&'a str),
    CreateInstall,
    PreflightInstall,
    ShowInstall(&'a str),
    RemoveInstall(&'a str),
    RetryInstall(&'a str),
    UpgradeInstall(&'a str),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoRoute {
    NotFound,
    /// The path exists for these methods only.
    MethodNotAllowed(String),
}

/// The parameters of `segments` if they fit `template`.
fn fit<'a>(template: &str, segments: &[&'a str]) -> Option<Vec<&'a str>> {
    let parts: Vec<&str> = template.split('/').filter(|p| !p.is_empty()).collect();
    if parts.len() != segments.len() {
        return None;
    }
    let mut params = Vec::new();
    for (part, segment) in parts.iter().zip(segments) {
        if part.starts_with('{') {
            params.push(*segment);
        } else if part != segment {
            return None;
        }
    }
    Some(params)
}

fn endpoint<'a>(method: &str, template: &str, params: &[&'a str]) -> Option<Endpoint<'a>> {
    let first = params.first().copied().unwrap_or_default();
    Some(match (method, template) {
        ("POST", "/tenants") => Endpoint::CreateTenant,
        ("GET", "/tenants/{tenant_id}") => Endpoint::ShowTenant(first),
        ("GET", "/tenants/{tenant_id}/installs") => Endpoint::ListInstalls(first),
        ("PUT" | "GET" | "DELETE", "/tenants/{tenant_id}/webhook") => Endpoint::Webhook(first),
        ("POST", "/installs") => Endpoint::CreateInstall,
        ("POST", "/installs/preflight") => Endpoint::PreflightInstall,
        ("GET", "/installs/{install_id}") => Endpoint::ShowInstall(first),
        ("DELETE", "/installs/{install_id}") => Endpoint::RemoveInstall(first),
        ("POST", "/installs/{install_id}/retry") => Endpoint::RetryInstall(first),
        ("POST", "/installs/{install_id}/upgrade") => Endpoint::UpgradeInstall(first),
        _ => return None,
    })
}

pub fn resolve<'a>(method: &str, path: &'a str) -> Result<Endpoint<'a>, NoRoute> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let mut allowed: Vec<&str> = Vec::new();
    for (route_method, template) in ROUTES {
        let Some(params) = fit(template, &segments) else {
            continue;
        };
        if route_method == method {
            return endpoint(method, template, &params).ok_or(NoRoute::NotFound);
        }
        allowed.push(route_method);
    }
    if allowed.is_empty() {
        Err(NoRoute::NotFound)
    } else {
        Err(NoRoute::MethodNotAllowed(allowed.join(", ")))
    }
}

/// "POST /tenants, GET /tenants/{tenant_id}, …" for messages.
pub fn listed() -> String {
    ROUTES
        .iter()
        .map(|(method, template)| format!("{method} {template}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_in_the_table_reaches_its_endpoint() {
        for (method, template) in ROUTES {
            let path = template
                .replace("{tenant_id}", "acme")
                .replace("{install_id}", "inst-x");
            let found =
                resolve(method, &path).unwrap_or_else(|e| panic!("{method} {template}: {e:?}"));
            match found {
                Endpoint::ShowTenant(p) | Endpoint::ListInstalls(p) | Endpoint::Webhook(p) => {
                    assert_eq!(p, "acme")
                }
                Endpoint::ShowInstall(p)
                | Endpoint::RemoveInstall(p)
                | Endpoint::RetryInstall(p)
                | Endpoint::UpgradeInstall(p) => assert_eq!(p, "inst-x"),
                Endpoint::CreateTenant | Endpoint::CreateInstall | Endpoint::PreflightInstall => {}
            }
        }
    }

    #[test]
    fn unknown_paths_and_methods_are_told_apart() {
        assert_eq!(resolve("GET", "/nowhere"), Err(NoRoute::NotFound));
        assert_eq!(
            resolve("GET", "/installs/x/retry/again"),
            Err(NoRoute::NotFound)
        );
        assert_eq!(
            resolve("PUT", "/installs/x"),
            Err(NoRoute::MethodNotAllowed("GET, DELETE".into()))
        );
        assert_eq!(
            resolve("GET", "/installs/x/retry"),
            Err(NoRoute::MethodNotAllowed("POST".into()))
        );
        assert_eq!(
            resolve("POST", "/installs/preflight"),
            Ok(Endpoint::PreflightInstall)
        );
        assert_eq!(
            resolve("GET", "/installs/preflight"),
            Ok(Endpoint::ShowInstall("preflight")),
            "only POST is the preflight; a GET asks for an install of that (invalid) id"
        );
        assert_eq!(
            resolve("GET", "//tenants//acme/"),
            Ok(Endpoint::ShowTenant("acme")),
            "empty segments are ignored"
        );
        assert_eq!(
            resolve("GET", "/tenants/../installs"),
            Ok(Endpoint::ListInstalls("..")),
            "a traversal is just a bad id"
        );
    }
}
