//! The reference application of sea-tenancy: a small SaaS whose entities use every tenancy
//! strategy. Its binary hands the command line to the library's CLI.

pub mod app;
pub mod demo;
pub mod entities;

pub use app::SaasApp;
