#![forbid(unsafe_code)]
pub mod event;
pub mod schedule;
