//! The fake GitHub's answers for the operator commands (the app's installations, an enterprise's installation), and waiting on what a child process writes.

use std::path::Path;
use std::time::{Duration, Instant};

use httpmock::prelude::*;
use httpmock::Mock;
use serde_json::{json, Value};

use super::{installation_json, FakeGitHub, GitHubJson, SLUG};

/// An installation on an enterprise, as GitHub gives it: the account has a `slug` and a
/// `name`, and no `login`.
pub fn enterprise_installation_json(id: u64, slug: &str, permissions: &Value) -> Value {
    json!({
        "id": id,
        "app_slug": SLUG,
        "app_id": 123456,
        "account": {"slug": slug, "name": format!("{slug} (the enterprise)"), "id": 5},
        "target_type": "Enterprise",
        "permissions": permissions,
        "repository_selection": "selected",
        "suspended_at": null,
        "events": []
    })
}

/// An installation on a user's account.
pub fn user_installation_json(id: u64, login: &str, permissions: &Value) -> Value {
    let mut i = installation_json(id, login, permissions);
    i["account"]["type"] = json!("User");
    i["target_type"] = json!("User");
    i["repository_selection"] = json!("all");
    i
}

impl FakeGitHub {
    /// Page `page` of `GET /app/installations?per_page=100`, JWT required.
    pub fn installations_page(&self, page: usize, installations: &[Value]) -> Mock<'_> {
        let (app, latency) = (self.verifier(), self.latency);
        let body = Value::Array(installations.to_vec());
        self.server.mock(|when, then| {
            when.method(GET)
                .path("/app/installations")
                .query_param("per_page", "100")
                .query_param("page", page.to_string())
                .is_true(move |r| app.accepts(r));
            then.status(200).delay(latency).github_json(body);
        })
    }

    /// `GET /enterprises/{slug}/installation`, JWT required.
    pub fn enterprise_installation(&self, slug: &str, installation: u64) -> Mock<'_> {
        self.installation_at(
            format!("/enterprises/{slug}/installation"),
            enterprise_installation_json(installation, slug, &json!({"metadata": "read"})),
        )
    }
}

/// Waits until `path` exists, at most `limit`; says whether it does.
pub fn wait_for_file(path: &Path, limit: Duration) -> bool {
    let start = Instant::now();
    while !path.exists() {
        if start.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}
