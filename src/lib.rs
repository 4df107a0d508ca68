#![forbid(unsafe_code)]
pub mod capacity;
pub mod config;
pub mod controller;
pub mod decision;
pub mod document;
pub mod event;
pub mod handler;
pub mod memory;
pub mod plan;
pub mod policy;
pub mod ports;
pub mod replay;
pub mod route;
pub mod schedule;
pub mod sim;
