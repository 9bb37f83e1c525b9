//! The GitHub Action: its main step, its post step, and the runner protocol they speak.

pub mod inputs;
pub mod main;
pub mod post;
pub mod runner;
pub mod stage;
pub mod summary;
