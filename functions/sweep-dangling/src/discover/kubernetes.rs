//! The cluster's Services of type LoadBalancer, Ingresses and volume claims, listed through its
//! Kubernetes API while it serves one. A deletion that Kubernetes does not finish within
//! [`RELEASE_WAIT`] is waited for no longer: the sweep goes on, and what the controller made is
//! found by its tags and deleted, or reported.

use byoc_domain::deletion_order::{Found, Kind, Reason};
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::kubernetes::{KubeApi, RELEASED};

/// How long a deleted object is waited for before the sweep goes on without it.
pub const RELEASE_WAIT: chrono::Duration = chrono::Duration::minutes(10);

/// The objects `api` lists (none when the cluster serves no API): to delete, or no longer
/// waited for (with why). What cannot be listed is noted, not fatal: the sweep then finds what
/// their controllers made by its tags.
pub async fn objects(
    api: Option<&KubeApi>,
    cluster: &str,
    notes: &mut Vec<String>,
) -> Vec<Result<Found, (Found, String)>> {
    let Some(api) = api else { return vec![] };
    let now = Utc::now();
    let mut out = vec![];
    for kind in RELEASED {
        match api.list(kind).await {
            Ok(items) => out.extend(
                items
                    .iter()
                    .filter_map(|item| classify(kind, item, cluster, now)),
            ),
            Err(problem) => notes.push(format!("the cluster's Kubernetes API: {problem}")),
        }
    }
    out
}

/// What discovery makes of a listed object: to delete (or wait for), or, deleted longer than
/// [`RELEASE_WAIT`] ago, no longer waited for (with why).
pub fn classify(
    kind: Kind,
    item: &Value,
    cluster: &str,
    now: DateTime<Utc>,
) -> Option<Result<Found, (Found, String)>> {
    let namespace = item["metadata"]["namespace"].as_str()?;
    let name = item["metadata"]["name"].as_str()?;
    let found = Found::new(
        kind,
        format!("{namespace}/{name}"),
        Reason::ClusterName {
            cluster: cluster.to_owned(),
        },
    );
    let deleted_at = item["metadata"]["deletionTimestamp"]
        .as_str()
        .and_then(|t| t.parse::<DateTime<Utc>>().ok());
    Some(match deleted_at {
        Some(at) if now - at > RELEASE_WAIT => Err((
            found,
            format!("Kubernetes has not finished deleting it since {at}; the sweep goes on, and finds what its controller made by its tags"),
        )),
        Some(_) => Ok(found.deleting(true)),
        None => Ok(found),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn listed_objects_are_deleted_waited_for_then_given_up_on() {
        let now: DateTime<Utc> = "2026-12-06T12:00:00Z".parse().unwrap();
        let live = json!({"metadata": {"namespace": "shop", "name": "web"}});
        let found = classify(Kind::KubernetesService, &live, "byoc-inst-a", now)
            .unwrap()
            .unwrap();
        assert_eq!(
            (found.id.as_str(), found.deleting, found.reason.describe()),
            ("shop/web", false, "part of cluster byoc-inst-a".to_owned())
        );
        let going = json!({"metadata": {"namespace": "shop", "name": "web", "deletionTimestamp": "2026-12-06T11:55:00Z"}});
        assert!(
            classify(Kind::KubernetesService, &going, "c", now)
                .unwrap()
                .unwrap()
                .deleting
        );
        let stuck = json!({"metadata": {"namespace": "shop", "name": "web", "deletionTimestamp": "2026-12-06T11:45:00Z"}});
        let (kept, why) = classify(Kind::KubernetesService, &stuck, "c", now)
            .unwrap()
            .unwrap_err();
        assert_eq!(kept.id, "shop/web");
        assert!(why.contains("has not finished deleting it"), "{why}");
        assert!(classify(Kind::KubernetesService, &json!({"metadata": {}}), "c", now).is_none());
    }
}
