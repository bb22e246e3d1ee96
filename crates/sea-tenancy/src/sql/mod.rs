//! Reading SQL text: just enough to know which tables a statement touches.

pub(crate) mod lexer;
pub(crate) mod refusals;
pub(crate) mod relations;
