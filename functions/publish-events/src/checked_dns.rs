//! The webhook client's only name resolver: it resolves, refuses a name with any address a
//! webhook may not reach (byoc_core::destination), and hands the HTTP client the addresses
//! it checked, which are the ones it connects to. There is no second lookup between the
//! check and the connection for a DNS answer to change.

use std::net::SocketAddr;
use std::sync::Arc;

use byoc_core::destination::{self, DestinationPolicy, Refused, Resolve};

pub struct CheckedResolver {
    pub policy: DestinationPolicy,
    pub resolver: Arc<dyn Resolve>,
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        let resolver = Arc::clone(&self.resolver);
        Box::pin(async move {
            let checked = destination::resolve_checked(&policy, resolver.as_ref(), name.as_str())
                .await
                .map_err(|refused| Box::new(refused) as Box<dyn std::error::Error + Send + Sync>)?;
            // Port 0: the HTTP client puts the URL's port in.
            let addrs: reqwest::dns::Addrs =
                Box::new(checked.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

/// The refusal inside a failed request, if the resolver above is why it failed.
pub fn refusal_in<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a Refused> {
    let mut current = Some(err);
    while let Some(err) = current {
        if let Some(refused) = err.downcast_ref::<Refused>() {
            return Some(refused);
        }
        current = err.source();
    }
    None
}
