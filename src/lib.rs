#![forbid(unsafe_code)]
pub mod capacity;
pub mod config;
pub mod controller;
pub mod decision;
pub mod event;
pub mod memory;
pub mod policy;
pub mod replay;
pub mod route;
pub mod schedule;
pub mod sim;
