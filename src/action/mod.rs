//! The GitHub Action, one of the two front ends.
//!
//! Which step a start is, [`stage`] decides (from the image's post link, the native
//! launcher's mark, `GITHUB_ACTIONS`). The main step ([`main`]) reads its [`inputs`]
//! into the one configuration, mints through a session, and presents what it reports
//! as the runner shows it: masks, outputs, state for post, the job [`summary`]. The
//! [`post`] step revokes what main saved. Both speak the [`runner`] protocol. With
//! `refresh`, main starts a token agent for the later steps and post stops it
//! ([`refresh`]).

pub mod inputs;
pub mod main;
pub mod post;
pub mod refresh;
pub mod runner;
pub mod stage;
pub mod summary;
