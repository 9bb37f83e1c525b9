//! Minting.
//!
//! From "these repositories of this owner, with these permissions" to revocable tokens,
//! with the fewest sequential round trips.
//!
//! Per owner: find the installation; resolve names to ids with a short-lived helper
//! token (`metadata: read`, the named repositories) whose answer lists their ids;
//! mint the final token with `repository_ids`; revoke the helper while the final
//! request is in flight. The bot user is looked up alongside. No helper token
//! outlives this module but one GitHub would not revoke, and on failure no final
//! token does either: what could not be revoked stays in the [`Ledger`], for the
//! front end to hand on (the action's post step tries again). A front end mints through
//! a [`Session`], which owns the signer, the client, the ledger and the panic guard.

pub mod ledger;
pub mod panic_guard;
pub mod revoke;
pub mod session;
pub mod witness;

use std::sync::Arc;

use anyhow::{anyhow, bail};
use futures::future::join_all;
use tokio::sync::OnceCell;

use chrono::{DateTime, Utc};

use crate::github::{
    self, Client, Credential, Installation, Log, Lookup, Repo, RepositorySelection, Token,
    TokenFormat, TokenRequest,
};
use crate::permissions::{self, Level, Permissions};
use crate::repositories::OwnerRepos;
pub use ledger::Ledger;
pub use panic_guard::Target;
pub use revoke::{revoke_all, revoke_on_cancel, revoke_recorded, Revocation, CANCEL_REVOKE_LIMIT};
pub use session::{Raced, Session, Unopened};
pub use witness::Witness;

/// Which repositories one owner's token covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Every repository the installation can access (no list is sent).
    All,
    /// Exactly these.
    Only(OwnerRepos),
}

/// What kind of account a request's owner is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OwnerKind {
    /// A user or an organisation, by login.
    #[default]
    Account,
    /// An enterprise, by slug: its installation covers no repositories.
    Enterprise,
}

/// One token to mint.
#[derive(Debug, Clone)]
pub struct Request {
    /// A login, or an enterprise's slug (see `kind`).
    pub owner: String,
    pub kind: OwnerKind,
    pub selection: Selection,
    pub permissions: Option<Permissions>,
    /// The installation, when the caller knows it: its lookup is then skipped.
    pub installation_id: Option<u64>,
    /// The format of every token minted for it, helpers included; `None`: GitHub decides.
    pub token_format: Option<TokenFormat>,
}

/// How to find a request's installation: by its id when known, else an enterprise's by
/// its slug, else by the first repository named (whose installation is the one that can
/// reach it), else by the owner.
pub fn lookup(request: &Request) -> Lookup {
    match (&request.installation_id, request.kind, &request.selection) {
        (Some(id), _, _) => Lookup::Id(*id),
        (None, OwnerKind::Enterprise, _) => Lookup::Enterprise(request.owner.clone()),
        (None, OwnerKind::Account, Selection::Only(repos)) if !repos.names.is_empty() => {
            Lookup::Repository {
                owner: request.owner.clone(),
                repo: repos.names[0].clone(),
            }
        }
        (None, OwnerKind::Account, _) => Lookup::Account(request.owner.clone()),
    }
}

/// Is `inst` the installation on the request's owner (compared as GitHub compares
/// logins, ignoring case)? If not, why not, naming both: a token from another account's
/// installation reaches that account's repositories, even those named like the ones
/// requested. An installation whose answer names no account cannot be checked, and passes.
pub fn check_account(req: &Request, inst: &Installation) -> anyhow::Result<()> {
    let Some(account) = &inst.account else {
        return Ok(());
    };
    let same_kind = account.is_enterprise() == (req.kind == OwnerKind::Enterprise);
    if same_kind && account.name().eq_ignore_ascii_case(&req.owner) {
        return Ok(());
    }
    let describe = |enterprise: bool, name: &str| {
        if enterprise {
            format!("the enterprise {name}")
        } else {
            format!("the account {name}")
        }
    };
    bail!(
        "installation {} is the app's installation on {}, not on {} (the owner requested): \
         a token from it would reach {}'s repositories instead (is the installation id right?)",
        inst.id,
        describe(account.is_enterprise(), account.name()),
        describe(req.kind == OwnerKind::Enterprise, &req.owner),
        account.name(),
    )
}

/// A minted token and what it can do.
#[derive(Debug, Clone)]
pub struct Minted {
    /// The installation's account: a login, or an enterprise's slug (see `kind`).
    pub owner: String,
    pub kind: OwnerKind,
    pub installation_id: u64,
    pub app_slug: String,
    pub token: String,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub permissions: Permissions,
    pub repositories: Vec<Repo>,
    pub repository_selection: Option<RepositorySelection>,
}

/// The git identity of the app's bot account. The email needs the bot's user id, which
/// only `GET /users/<slug>[bot]` gives; without it there is a name and no email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub name: String,
    pub email: Option<String>,
}

impl Identity {
    pub fn new(slug: &str, user_id: Option<u64>) -> Self {
        Self {
            name: format!("{slug}[bot]"),
            email: user_id.map(|id| format!("{id}+{slug}[bot]@users.noreply.github.com")),
        }
    }
}

/// Everything minted, plus notes for the log.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub tokens: Vec<Minted>,
    pub identity: Option<Identity>,
    pub warnings: Vec<String>,
}

/// What the helper and diagnostic tokens may do: read metadata, nothing else.
fn helper_permissions() -> Permissions {
    Permissions::from([("metadata".to_string(), Level::Read)])
}

struct Minter<'a> {
    client: &'a Arc<Client>,
    ledger: &'a Ledger,
    log: Log,
    /// The bot user lookup, shared by every owner's task: the app is the same.
    bot: OnceCell<Option<u64>>,
    warnings: std::sync::Mutex<Vec<String>>,
}

impl Minter<'_> {
    fn warn(&self, text: String) {
        (self.log)(&text);
        if let Ok(mut w) = self.warnings.lock() {
            w.push(text);
        }
    }

    /// Mints a token, in the format `req` asks for, in a task of its own, so that a
    /// cancelled step that stops waiting still learns of a token GitHub minted, and can
    /// revoke it (see [`Ledger::settled`]).
    async fn create(
        &self,
        installation_id: u64,
        req: &Request,
        request: TokenRequest,
    ) -> anyhow::Result<Token> {
        let client = Arc::clone(self.client);
        let ledger = self.ledger.clone();
        let in_flight = ledger.begin();
        let format = req.token_format;
        let task = tokio::spawn(async move {
            let minted = github::create_token(&client, installation_id, &request, format).await;
            match &minted {
                Ok(token) => ledger.add(token.credential(), Some(token.expires_at)),
                Err(e) => {
                    if let Some(unreadable) = github::unreadable_token(e) {
                        ledger.add(unreadable.token.clone(), None);
                    }
                }
            }
            drop(in_flight);
            minted
        });
        let minted = task
            .await
            .map_err(|e| anyhow!("the token request stopped: {e}"))?;
        let err = match minted {
            Ok(token) => return Ok(token),
            Err(e) => e,
        };
        let Some(unreadable) = github::unreadable_token(&err).cloned() else {
            return Err(err);
        };
        // GitHub minted a token whose answer cannot be used: it must not stay alive.
        match github::revoke_token(self.client, &unreadable.token).await {
            Ok(()) => {
                self.ledger.remove(&unreadable.token.token);
                Err(anyhow!("{err:#}; it was revoked"))
            }
            Err(e) => Err(anyhow!(
                "{err:#}; it could not be revoked ({e:#}) and expires within the hour"
            )),
        }
    }

    async fn revoke_quietly(&self, token: &Credential, what: &str) {
        match github::revoke_token(self.client, token).await {
            Ok(()) => self.ledger.remove(&token.token),
            Err(e) => self.warn(format!(
                "could not revoke the {what} token: {e:#}; it expires within the hour"
            )),
        }
    }

    /// The bot user's id, looked up without a token (it is public); `None` if that failed
    /// (rate limits, private Enterprise Servers), to be tried again with a minted token.
    async fn bot_id(&self, slug: &str) -> Option<u64> {
        *self
            .bot
            .get_or_init(|| async { github::bot_user_id(self.client, slug, None).await.ok() })
            .await
    }

    /// Names the requested repositories the installation cannot reach, using a listing
    /// made with a throwaway `metadata: read` token that is revoked before returning.
    async fn inaccessible(
        &self,
        installation_id: u64,
        req: &Request,
        names: &[String],
        ids: &[u64],
    ) -> anyhow::Result<Vec<String>> {
        let request = TokenRequest {
            permissions: Some(helper_permissions()),
            ..Default::default()
        };
        let probe = self.create(installation_id, req, request).await?;
        let probe = probe.credential();
        let listed = github::installation_repositories(self.client, &probe).await;
        self.revoke_quietly(&probe, "diagnostic").await;
        let listed = listed?;
        let mut missing: Vec<String> = names
            .iter()
            .filter(|n| !listed.iter().any(|r| r.name.eq_ignore_ascii_case(n)))
            .cloned()
            .collect();
        missing.extend(
            ids.iter()
                .filter(|id| !listed.iter().any(|r| r.id == **id))
                .map(|id| format!("id {id}")),
        );
        Ok(missing)
    }

    /// Turns a 422 from a token request into an error that says what is wrong.
    async fn explain_422(
        &self,
        err: anyhow::Error,
        owner: &str,
        inst: Option<&Installation>,
        req: &Request,
    ) -> anyhow::Error {
        let message = github::message_of(&err).to_ascii_lowercase();
        if message.contains("permission") {
            if let (Some(inst), Some(requested)) = (inst, &req.permissions) {
                let lacking = permissions::lacking(requested, &inst.granted());
                if !lacking.is_empty() {
                    return err.context(format!(
                        "the app's installation on {owner} lacks: {}",
                        lacking
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
            }
            return err.context(format!(
                "GitHub refused the requested permissions for {owner}"
            ));
        }
        let (names, ids) = match &req.selection {
            Selection::Only(r) => (r.names.clone(), r.ids.clone()),
            Selection::All => return err,
        };
        let Some(inst) = inst else { return err };
        match self.inaccessible(inst.id, req, &names, &ids).await {
            Ok(missing) if !missing.is_empty() => anyhow!(
                "these repositories do not exist or the app's installation on {owner} cannot access them: {}",
                missing.join(", ")
            ),
            Ok(_) => err.context(format!("GitHub refused the repositories requested for {owner}")),
            Err(diag) => err.context(format!("GitHub refused the repositories requested for {owner} (and listing them failed: {diag:#})")),
        }
    }

    async fn mint_one(&self, req: &Request) -> anyhow::Result<Minted> {
        let owner = req.owner.as_str();
        // With a known installation id the lookup runs alongside the token request
        // (it only feeds app-slug and error messages); otherwise the id comes from it.
        let lookup = lookup(req);
        let (inst, installation_id) = match &lookup {
            Lookup::Id(id) => (None, *id),
            by => {
                let inst = github::installation(self.client, by).await?;
                check_account(req, &inst)?;
                let id = inst.id;
                (Some(inst), id)
            }
        };
        if let (Some(inst), Some(requested)) = (&inst, &req.permissions) {
            let lacking = permissions::lacking(requested, &inst.granted());
            if !lacking.is_empty() {
                bail!(
                    "the app's installation on {owner} lacks: {} (grant them in the app's settings, then the owner accepts the new permissions)",
                    lacking.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
                );
            }
        }

        // Alongside the token: the bot user's lookup, and with a known installation id,
        // the installation itself first (for app-slug and error messages).
        let side = async {
            let inst = match inst {
                Some(i) => Ok(i),
                None => github::installation(self.client, &lookup).await,
            };
            if let Ok(i) = &inst {
                self.bot_id(&i.app_slug).await;
            }
            inst
        };
        let (inst, minted) = tokio::join!(side, self.final_token(installation_id, req));
        // With a known id, the installation is checked once both have come back.
        let inst = match inst.and_then(|i| check_account(req, &i).map(|()| i)) {
            Ok(i) => i,
            Err(e) => {
                if let Ok(token) = &minted {
                    self.revoke_quietly(&token.credential(), "new").await;
                }
                return Err(e);
            }
        };
        let token = match minted {
            Ok(t) => t,
            Err(e) if github::status_of(&e) == Some(422) => {
                return Err(self.explain_422(e, owner, Some(&inst), req).await)
            }
            Err(e) => return Err(e),
        };
        let kind = match &inst.account {
            Some(a) if a.is_enterprise() => OwnerKind::Enterprise,
            Some(_) => OwnerKind::Account,
            None => req.kind,
        };
        Ok(Minted {
            owner: inst
                .account
                .as_ref()
                .map(|a| a.name().to_string())
                .unwrap_or_else(|| owner.to_string()),
            kind,
            installation_id,
            app_slug: inst.app_slug,
            issued_at: token.issued_at,
            expires_at: token.expires_at,
            permissions: token.granted(),
            repository_selection: token.repository_selection,
            repositories: token.repositories,
            token: token.token,
        })
    }

    /// The final token: names resolved to ids first (by a helper token) when there are names.
    async fn final_token(&self, installation_id: u64, req: &Request) -> anyhow::Result<Token> {
        let permissions = req.permissions.clone();
        let repos = match &req.selection {
            Selection::All => {
                let request = TokenRequest {
                    permissions,
                    ..Default::default()
                };
                return self.create(installation_id, req, request).await;
            }
            Selection::Only(repos) => repos,
        };
        if repos.names.is_empty() {
            let request = TokenRequest {
                repository_ids: Some(repos.ids.clone()),
                permissions,
                ..Default::default()
            };
            return self.create(installation_id, req, request).await;
        }
        let helper_request = TokenRequest {
            repositories: Some(repos.names.clone()),
            permissions: Some(helper_permissions()),
            ..Default::default()
        };
        // A 422 here (a repository it cannot reach) is explained by the caller, which
        // always has the installation by then.
        let helper = self.create(installation_id, req, helper_request).await?;
        let mut ids = repos.ids.clone();
        for repo in &helper.repositories {
            if !ids.contains(&repo.id) {
                ids.push(repo.id);
            }
        }
        let request = TokenRequest {
            repository_ids: Some(ids),
            permissions,
            ..Default::default()
        };
        let helper = helper.credential();
        let (minted, ()) = tokio::join!(
            self.create(installation_id, req, request),
            self.revoke_quietly(&helper, "helper")
        );
        minted
    }
}

/// Mints one token per request, concurrently. If any fails, the ones that were minted are revoked.
/// Every token minted is recorded in `ledger` until it is revoked.
pub async fn mint(
    client: &Arc<Client>,
    requests: &[Request],
    ledger: &Ledger,
    log: Log,
) -> anyhow::Result<Outcome> {
    let minter = Minter {
        client,
        ledger,
        log,
        bot: OnceCell::new(),
        warnings: Default::default(),
    };
    let results = join_all(requests.iter().map(|r| minter.mint_one(r))).await;
    let (ok, failed): (Vec<_>, Vec<_>) = results.into_iter().partition(Result::is_ok);
    let tokens: Vec<Minted> = ok.into_iter().filter_map(Result::ok).collect();
    if !failed.is_empty() {
        let minted: Vec<Credential> = tokens.iter().map(Minted::credential).collect();
        join_all(
            minted
                .iter()
                .map(|t| minter.revoke_quietly(t, "already minted")),
        )
        .await;
        let errors: Vec<String> = failed
            .into_iter()
            .filter_map(Result::err)
            .map(|e| format!("{e:#}"))
            .collect();
        bail!("{}", errors.join("\n"));
    }
    let mut identity = None;
    if let Some(first) = tokens.first() {
        let slug = &first.app_slug;
        let id = match minter.bot.get().copied().flatten() {
            Some(id) => Some(id),
            // The anonymous lookup failed: once more with the new token.
            None => match github::bot_user_id(client, slug, Some(&first.credential())).await {
                Ok(id) => Some(id),
                Err(e) => {
                    minter.warn(format!(
                        "git-user-email is not set: it needs the bot's user id, and {e:#}. \
                         The token works; to commit as the bot, set the email yourself to \
                         <id>+{slug}[bot]@users.noreply.github.com with the id from \
                         `gh api /users/{slug}%5Bbot%5D --jq .id`"
                    ));
                    None
                }
            },
        };
        identity = Some(Identity::new(slug, id));
    }
    let warnings = minter
        .warnings
        .lock()
        .map(|w| w.clone())
        .unwrap_or_default();
    #[cfg(debug_assertions)]
    crate::fault::inject("after-mint");
    Ok(Outcome {
        tokens,
        identity,
        warnings,
    })
}

/// The ids of the repositories a token covers.
pub fn repository_ids(m: &Minted) -> Vec<u64> {
    m.repositories.iter().map(|r| r.id).collect()
}

/// Keeps a log sink alive across tasks.
pub fn log_sink(f: impl Fn(&str) + Send + Sync + 'static) -> Log {
    Arc::new(f)
}

impl Minted {
    pub fn credential(&self) -> Credential {
        Credential::issued(&self.token, self.issued_at)
    }

    /// Does the token cover every repository of the installation?
    pub fn covers_all(&self) -> bool {
        self.repository_selection == Some(RepositorySelection::All)
    }

    /// `expires_at` as GitHub writes it (RFC 3339, UTC, seconds).
    pub fn expires_at_text(&self) -> String {
        self.expires_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn on(account: serde_json::Value) -> Installation {
        serde_json::from_value(json!({"id": 999, "app_slug": "bot", "account": account})).unwrap()
    }

    fn asking(owner: &str, kind: OwnerKind) -> Request {
        Request {
            owner: owner.into(),
            kind,
            selection: Selection::All,
            permissions: None,
            installation_id: Some(999),
            token_format: None,
        }
    }

    #[test]
    fn an_installation_must_be_on_the_owner_requested() {
        let acme = asking("acme", OwnerKind::Account);
        assert!(check_account(&acme, &on(json!({"login": "acme"}))).is_ok());
        assert!(
            check_account(&acme, &on(json!({"login": "ACME"}))).is_ok(),
            "logins compare without case"
        );
        let e = check_account(&acme, &on(json!({"login": "evil"}))).unwrap_err();
        let e = format!("{e:#}");
        assert!(
            e.contains("installation 999 is the app's installation on the account evil, not on the account acme"),
            "{e}"
        );
        let big = asking("big-co", OwnerKind::Enterprise);
        let enterprise = on(json!({"slug": "Big-Co", "name": "Big Co"}));
        assert!(check_account(&big, &enterprise).is_ok());
        let e = format!("{:#}", check_account(&acme, &enterprise).unwrap_err());
        assert!(
            e.contains("on the enterprise Big-Co, not on the account acme"),
            "{e}"
        );
        let e = format!(
            "{:#}",
            check_account(&big, &on(json!({"login": "big-co"}))).unwrap_err()
        );
        assert!(
            e.contains("on the account big-co, not on the enterprise big-co"),
            "{e}"
        );
        assert!(
            check_account(&acme, &on(serde_json::Value::Null)).is_ok(),
            "no account to check"
        );
    }
}
