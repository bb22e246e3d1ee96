//! Decisions only the user can make, asked once and never guessed:
//! - the value existing rows get when a column becomes NOT NULL without a default (added, made
//!   NOT NULL, or dropped — `down` adds it back to a table that has rows);
//! - how rows convert when a column's type changes and PostgreSQL has no implicit cast
//!   ([`super::cast`]); the way back gets an explicit cast when one exists;
//! - whether an attribute table's tenant column keeps the default its entity declares, or
//!   row-level security stamps the tenant key instead (recorded in the snapshot).
//!
//! Each comes from a flag (`--default`, `--using`, `--using-back`, `--tenant-default`), else
//! from a question on a terminal, else the run stops with an error naming the flag: a migration
//! known to fail on a table with rows is never written.

use std::collections::BTreeSet;

use super::cast::{Cast, cast};
use super::error::GenerateError;
use super::operation::{Conversion, Operation};
use super::snapshot::{Column, Snapshot, Tenancy};
use super::step::quote;

/// Why a value for existing rows is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FillReason {
    /// A NOT NULL column without a default is added to an existing table.
    Added,
    /// A nullable column without a default becomes NOT NULL.
    BecomesNotNull,
    /// A NOT NULL column without a default is dropped: rolling back adds it again.
    Dropped,
}

/// A question the generator cannot answer itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Question {
    /// The value (SQL) rows get.
    Fill {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// Why.
        reason: FillReason,
    },
    /// The `USING` expression of a type change.
    Using {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// Its type before the conversion.
        from: String,
        /// Its type after.
        to: String,
        /// The conversion `down` runs (back to the old type).
        back: bool,
        /// An expression that works when the rows convert (an explicit cast), if any.
        suggestion: Option<String>,
    },
    /// Keep the tenant column's declared default? Answer `keep` or `replace`.
    TenantDefault {
        /// The attribute table.
        table: String,
        /// Its tenant column.
        column: String,
        /// The declared default.
        default: String,
    },
}

impl Question {
    /// The question, for a terminal or an error message.
    pub fn text(&self) -> String {
        match self {
            Question::Fill {
                table,
                column,
                reason,
            } => {
                let why = match reason {
                    FillReason::Added => "is added as NOT NULL without a default",
                    FillReason::BecomesNotNull => "becomes NOT NULL and has no default",
                    FillReason::Dropped => {
                        "is dropped; it is NOT NULL without a default, so rolling back must fill it"
                    }
                };
                format!("column `{table}.{column}` {why}: which value (SQL) do existing rows get?")
            }
            Question::Using {
                table,
                column,
                from,
                to,
                back,
                suggestion,
            } => {
                let (a, b) = if *back { (to, from) } else { (from, to) };
                let dir = if *back { " when rolling back" } else { "" };
                let hint = suggestion
                    .as_ref()
                    .map(|s| format!(" (e.g. {s})"))
                    .unwrap_or_default();
                format!(
                    "column `{table}.{column}` changes from `{a}` to `{b}`{dir}, which PostgreSQL does not convert by itself: which expression (SQL `USING`) converts it{hint}?"
                )
            }
            Question::TenantDefault {
                table,
                column,
                default,
            } => format!(
                "tenant column `{table}.{column}` declares the default {default}: keep it (`keep`) or let row-level security stamp the tenant key (`replace`)?"
            ),
        }
    }

    /// The flag that answers it without a terminal.
    pub fn flag(&self) -> String {
        match self {
            Question::Fill { table, column, .. } => format!("--default {table}.{column}=VALUE"),
            Question::Using {
                table,
                column,
                back: false,
                suggestion,
                ..
            } => format!(
                "--using {table}.{column}='{}'",
                suggestion.as_deref().unwrap_or("EXPRESSION")
            ),
            Question::Using { table, column, .. } => {
                format!("--using-back {table}.{column}=EXPRESSION")
            }
            Question::TenantDefault { table, .. } => format!("--tenant-default {table}=keep"),
        }
    }
}

/// The answers given up front and, on a terminal, the way to ask for the rest.
#[derive(Default)]
pub struct Decisions {
    /// `--default TABLE.COLUMN=VALUE`.
    pub fills: Vec<(String, String, String)>,
    /// `--using TABLE.COLUMN=EXPRESSION`.
    pub usings: Vec<(String, String, String)>,
    /// `--using-back TABLE.COLUMN=EXPRESSION`.
    pub usings_back: Vec<(String, String, String)>,
    /// `--tenant-default TABLE=keep|replace` (`true`: keep).
    pub tenant_defaults: Vec<(String, bool)>,
    /// Asked, when set, for what no flag answers; `None` (or an empty answer) stops the run.
    #[allow(clippy::type_complexity)]
    pub ask: Option<Box<dyn FnMut(&Question) -> Option<String>>>,
}

impl Decisions {
    /// Parses `TABLE.COLUMN=VALUE` (`flag` names the option in errors).
    pub fn parse_column_spec(
        flag: &str,
        spec: &str,
    ) -> Result<(String, String, String), GenerateError> {
        let bad = |reason: &str| GenerateError::BadDecision {
            flag: flag.to_owned(),
            spec: spec.to_owned(),
            reason: reason.to_owned(),
        };
        let (left, value) = spec.split_once('=').ok_or_else(|| bad("no `=`"))?;
        let (table, column) = left
            .split_once('.')
            .ok_or_else(|| bad("no `.` between table and column"))?;
        if [table, column, value].iter().any(|s| s.trim().is_empty()) {
            return Err(bad("empty table, column or value"));
        }
        Ok((table.to_owned(), column.to_owned(), value.to_owned()))
    }

    /// Parses `TABLE=keep|replace`.
    pub fn parse_tenant_default(spec: &str) -> Result<(String, bool), GenerateError> {
        let bad = |reason: &str| GenerateError::BadDecision {
            flag: "--tenant-default".into(),
            spec: spec.to_owned(),
            reason: reason.to_owned(),
        };
        let (table, choice) = spec.split_once('=').ok_or_else(|| bad("no `=`"))?;
        let keep = keep_or_replace(choice).ok_or_else(|| bad("say `keep` or `replace`"))?;
        Ok((table.to_owned(), keep))
    }
}

/// One run's use of [`Decisions`]: which flags answered something.
pub struct Asking<'a> {
    decisions: &'a mut Decisions,
    used: BTreeSet<String>,
}

impl<'a> Asking<'a> {
    /// Starts asking with `decisions`.
    pub fn new(decisions: &'a mut Decisions) -> Self {
        Asking {
            decisions,
            used: BTreeSet::new(),
        }
    }

    fn given(&mut self, q: &Question) -> Option<String> {
        let d = &*self.decisions;
        let (list, key) = match q {
            Question::Fill { table, column, .. } => (&d.fills, (table, column)),
            Question::Using {
                table,
                column,
                back,
                ..
            } => (
                if *back { &d.usings_back } else { &d.usings },
                (table, column),
            ),
            Question::TenantDefault { table, .. } => {
                let found = d.tenant_defaults.iter().find(|(t, _)| t == table)?;
                let answer = if found.1 { "keep" } else { "replace" };
                self.used.insert(format!("--tenant-default {table}"));
                return Some(answer.to_owned());
            }
        };
        let (t, c, v) = list.iter().find(|(t, c, _)| (t, c) == key)?;
        let flag = q.flag();
        let name = flag.split(' ').next().unwrap_or_default();
        self.used.insert(format!("{name} {t}.{c}"));
        Some(v.clone())
    }

    /// The answer to `q`: its flag, else the terminal's, else an error naming the flag.
    pub fn answer(&mut self, q: &Question) -> Result<String, GenerateError> {
        let answer = match self.given(q) {
            Some(a) => Some(a),
            None => self.decisions.ask.as_mut().and_then(|ask| ask(q)),
        };
        let answer = answer
            .map(|a| a.trim().to_owned())
            .filter(|a| !a.is_empty());
        let invalid = matches!(q, Question::TenantDefault { .. })
            && answer.as_deref().and_then(keep_or_replace).is_none();
        match answer {
            Some(a) if !invalid => Ok(a),
            _ => Err(GenerateError::Undecided {
                question: q.text(),
                flag: q.flag(),
            }),
        }
    }

    /// A flag that answered nothing (a typo, or a change that is no longer there).
    pub fn unused(&self) -> Option<String> {
        let d = &*self.decisions;
        let fills = d.fills.iter().map(|(t, c, _)| format!("--default {t}.{c}"));
        let usings = d.usings.iter().map(|(t, c, _)| format!("--using {t}.{c}"));
        let backs = d
            .usings_back
            .iter()
            .map(|(t, c, _)| format!("--using-back {t}.{c}"));
        let tenants = d
            .tenant_defaults
            .iter()
            .map(|(t, _)| format!("--tenant-default {t}"));
        fills
            .chain(usings)
            .chain(backs)
            .chain(tenants)
            .find(|f| !self.used.contains(f))
    }
}

fn keep_or_replace(answer: &str) -> Option<bool> {
    match answer.trim() {
        "keep" | "k" => Some(true),
        "replace" | "r" => Some(false),
        _ => None,
    }
}

/// Records, on each attribute table of `new` whose tenant column declares a default, whether
/// it is kept: as the stored snapshot says when that default is unchanged, else as decided.
pub fn tenant_defaults(
    stored: &Snapshot,
    new: &mut Snapshot,
    decisions: &mut Asking<'_>,
) -> Result<(), GenerateError> {
    for table in new.tables.values_mut() {
        let Tenancy::Attribute { column } = &table.tenancy else {
            continue;
        };
        let Some(default) = table.column(column).and_then(|c| c.default.clone()) else {
            continue;
        };
        let before = stored.tables.get(&table.name).filter(|old| {
            old.tenancy == table.tenancy
                && old.column(column).and_then(|c| c.default.as_ref()) == Some(&default)
        });
        table.keep_tenant_default = match before {
            Some(old) => old.keep_tenant_default,
            None => {
                let answer = decisions.answer(&Question::TenantDefault {
                    table: table.name.clone(),
                    column: column.clone(),
                    default,
                })?;
                keep_or_replace(&answer) == Some(true)
            }
        };
    }
    Ok(())
}

fn needs_fill(c: &Column) -> bool {
    !c.nullable && c.default.is_none() && !c.auto_increment
}

fn fill(
    decisions: &mut Asking<'_>,
    table: &str,
    column: &str,
    reason: FillReason,
) -> Result<String, GenerateError> {
    decisions.answer(&Question::Fill {
        table: table.to_owned(),
        column: column.to_owned(),
        reason,
    })
}

/// Fills in what `ops` need from the user: fill values and type conversions, both ways.
pub fn settle(ops: &mut [Operation], decisions: &mut Asking<'_>) -> Result<(), GenerateError> {
    for op in ops {
        match op {
            Operation::AddColumn {
                table,
                column,
                fill: f,
            } if needs_fill(column) => {
                *f = Some(fill(decisions, table, &column.name, FillReason::Added)?);
            }
            Operation::DropColumn {
                table,
                column,
                fill: f,
            } if needs_fill(column) => {
                *f = Some(fill(decisions, table, &column.name, FillReason::Dropped)?);
            }
            Operation::AlterColumn {
                table,
                from,
                to,
                forward,
                back,
            } => {
                conversion(decisions, table, from, to, forward, false)?;
                conversion(decisions, table, to, from, back, true)?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// How rows of `table` get from column `a` to column `b` (`back`: this is `down`'s way).
fn conversion(
    decisions: &mut Asking<'_>,
    table: &str,
    a: &Column,
    b: &Column,
    conv: &mut Conversion,
    back: bool,
) -> Result<(), GenerateError> {
    // Flags name the entity's (new) column; `down` converts the same column.
    let column = if back { &a.name } else { &b.name };
    if a.sql_type != b.sql_type {
        let explicit = format!("{}::{}", quote(&a.name), b.sql_type);
        let question = |suggestion| Question::Using {
            table: table.to_owned(),
            column: column.clone(),
            from: if back {
                b.sql_type.clone()
            } else {
                a.sql_type.clone()
            },
            to: if back {
                a.sql_type.clone()
            } else {
                b.sql_type.clone()
            },
            back,
            suggestion,
        };
        conv.using = match cast(&a.sql_type, &b.sql_type) {
            Cast::Implicit => decisions.given(&question(None)),
            // The way back gets the explicit cast: the rows came from that type.
            Cast::Explicit | Cast::Unknown if back => {
                Some(decisions.given(&question(None)).unwrap_or(explicit))
            }
            Cast::Explicit => Some(decisions.answer(&question(Some(explicit)))?),
            Cast::None | Cast::Unknown => Some(decisions.answer(&question(None))?),
        };
    }
    if a.nullable && !b.nullable && !b.auto_increment {
        conv.fill = match (back, &b.default) {
            // Rolling back: only rows written since could be NULL; the declared default fills them.
            (true, default) => default.clone(),
            (false, Some(default)) => Some(
                decisions
                    .given(&Question::Fill {
                        table: table.to_owned(),
                        column: column.clone(),
                        reason: FillReason::BecomesNotNull,
                    })
                    .unwrap_or_else(|| default.clone()),
            ),
            (false, None) => Some(fill(decisions, table, column, FillReason::BecomesNotNull)?),
        };
    }
    Ok(())
}
