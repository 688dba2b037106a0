//! powertune: right-size AWS Lambda memory from evidence. The library holds the whole pipeline —
//! invocation records (from captured logs or, later, from tuning backends), statistics, the cost
//! model, the recommendation, the report type and its exporters — and `main.rs` is a thin shell.

pub mod analysis;
pub mod backend;
pub mod check;
pub mod cli;
pub mod cloudwatch;
pub mod cost;
pub mod export;
pub mod parse;
pub mod recommend;
pub mod record;
pub mod report;
pub mod sketch;
pub mod stats;
pub mod tune;
pub mod units;
