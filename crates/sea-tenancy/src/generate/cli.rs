//! `generate-migrations`: the command line around [`crate::generate`].

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use sea_orm::{ConnectOptions, Database};

use super::decide::Question;
use super::redo::{self, Record};
use super::{
    Decisions, EntitySet, GenerateError, Layout, Options, Renames, Snapshot, plan, resolve, write,
};

/// The options of `generate-migrations`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct GenerateArgs {
    /// The migration name (`mYYYYMMDD_HHMMSS_<name>.rs`; default `schema_change`, or with
    /// `--redo` the name of the migration it replaces).
    #[arg(long)]
    pub name: Option<String>,
    /// Write nothing; exit non-zero when entities and snapshots disagree (for CI).
    #[arg(long, conflicts_with_all = ["dry_run", "redo"])]
    pub check: bool,
    /// Print what would be written instead of writing it.
    #[arg(long, conflicts_with = "redo")]
    pub dry_run: bool,
    /// A renamed column: `TABLE.OLD=NEW` (repeatable).
    #[arg(long = "rename", value_name = "TABLE.OLD=NEW")]
    pub renames: Vec<String>,
    /// Treat columns that disappeared while others appeared as dropped and added.
    #[arg(long)]
    pub no_rename: bool,
    /// The value (SQL) existing rows get when a column becomes NOT NULL without a default:
    /// added, made NOT NULL, or dropped (rolling back adds it again). Repeatable.
    #[arg(long = "default", value_name = "TABLE.COLUMN=VALUE")]
    pub defaults: Vec<String>,
    /// How rows convert when a column's type changes without an implicit cast, as SQL
    /// (`--using posts.views='views::bigint'`). Repeatable.
    #[arg(long = "using", value_name = "TABLE.COLUMN=EXPRESSION")]
    pub usings: Vec<String>,
    /// The same for rolling back, when no cast back exists. Repeatable.
    #[arg(long = "using-back", value_name = "TABLE.COLUMN=EXPRESSION")]
    pub usings_back: Vec<String>,
    /// An attribute table whose tenant column declares a default: `keep` it, or `replace` it
    /// with the tenant key row-level security stamps. Repeatable.
    #[arg(long = "tenant-default", value_name = "TABLE=keep|replace")]
    pub tenant_defaults: Vec<String>,
    /// Replace the latest generated migration (files, `lib.rs` registration, snapshots) with
    /// one generated from the entities as they are now. Refused when that migration is applied
    /// in the database of `--database-url`/`DATABASE_URL` (public schema or any tenant schema
    /// there; needed for this check only, tenants placed in other databases are not checked).
    #[arg(long, visible_alias = "dev")]
    pub redo: bool,
    /// The app's root folder (default: `CARGO_MANIFEST_DIR`, else the current folder).
    #[arg(long)]
    pub root: Option<PathBuf>,
}

/// Runs `generate-migrations` (called by [`crate::cli`]); `Ok(false)` when `--check` finds a
/// difference. `database_url` is used by `--redo` only.
pub async fn execute(args: GenerateArgs, database_url: Option<String>) -> Result<bool, String> {
    let root = Layout::root_or_default(args.root.clone());
    let layout = Layout::load(root).map_err(|e| e.to_string())?;
    let entities = EntitySet::from_program().map_err(|e| e.to_string())?;
    if args.check {
        return check(&entities, &layout).map_err(|e| e.to_string());
    }
    let mut undone = None;
    if args.redo {
        let (changes, record) = redo::undo(&layout).map_err(|e| e.to_string())?;
        refuse_if_applied(&record, database_url).await?;
        let backup = redo::backup(&changes);
        write::apply(&changes).map_err(|e| e.to_string())?;
        undone = Some((backup, record));
    }
    let name = match (&args.name, &undone) {
        (Some(name), _) => name.clone(),
        (None, Some((_, record))) => record.name().to_owned(),
        (None, None) => "schema_change".to_owned(),
    };
    let result = generate(&args, &entities, &layout, name);
    match (result, undone) {
        (Err(e), Some((backup, _))) => {
            write::apply(&backup).map_err(|e| e.to_string())?;
            Err(format!("{e} (the latest migration is left as it was)"))
        }
        (Err(e), None) => Err(e),
        (Ok(wrote), Some((_, record))) => {
            println!("replaced {}", record.module);
            if !wrote {
                println!("(the entities are back where they were before it: it is removed)");
            }
            Ok(true)
        }
        (Ok(_), None) => Ok(true),
    }
}

/// Plans and writes (or prints, with `--dry-run`); `Ok(false)` when there was nothing to do.
fn generate(
    args: &GenerateArgs,
    entities: &EntitySet,
    layout: &Layout,
    name: String,
) -> Result<bool, String> {
    let mut options = options(args, name).map_err(|e| e.to_string())?;
    let plan = plan(entities, layout, &mut options).map_err(|e| e.to_string())?;
    for warning in &plan.warnings {
        eprintln!("warning: {warning}");
    }
    if plan.is_empty() {
        println!("entities and snapshots agree: no migration to generate");
        return Ok(false);
    }
    for (set, ops) in &plan.operations {
        println!("{} set:", set.folder());
        for op in ops {
            println!("  {}", op.describe());
        }
    }
    if args.dry_run {
        for change in &plan.changes {
            match &change.contents {
                Some(text) => println!("--- would write {}\n{text}", change.path.display()),
                None => println!("--- would delete {}", change.path.display()),
            }
        }
        return Ok(true);
    }
    write::apply(&plan.changes).map_err(|e| e.to_string())?;
    for change in &plan.changes {
        println!("wrote {}", change.path.display());
    }
    Ok(true)
}

/// `--check`: do entities and snapshots agree? Needs no decision: a difference is a difference.
fn check(entities: &EntitySet, layout: &Layout) -> Result<bool, GenerateError> {
    let resolved = resolve::resolve(entities)?;
    for warning in &resolved.warnings {
        eprintln!("warning: {warning}");
    }
    let stored = Snapshot::load(&layout.snapshots)?;
    let names: std::collections::BTreeSet<&String> = stored
        .tables
        .keys()
        .chain(resolved.snapshot.tables.keys())
        .collect();
    let differing: Vec<&str> = names
        .into_iter()
        .filter(|name| {
            let (old, new) = (
                stored.tables.get(*name),
                resolved.snapshot.tables.get(*name),
            );
            match (old, new) {
                // The kept-default choice lives in the snapshot only.
                (Some(o), Some(n)) => {
                    let mut n = n.clone();
                    n.keep_tenant_default = o.keep_tenant_default;
                    *o != n
                }
                _ => true,
            }
        })
        .map(String::as_str)
        .collect();
    if differing.is_empty() {
        println!("entities and snapshots agree: no migration to generate");
        return Ok(true);
    }
    println!(
        "entities and snapshots disagree on {}: run `generate-migrations` and commit the result",
        differing.join(", ")
    );
    Ok(false)
}

fn options(args: &GenerateArgs, name: String) -> Result<Options, GenerateError> {
    let terminal = std::io::stdin().is_terminal();
    let mut options = Options::now(name);
    options.renames = Renames {
        given: args
            .renames
            .iter()
            .map(|s| Renames::parse_spec(s))
            .collect::<Result<_, _>>()?,
        no_rename: args.no_rename,
        // Ask on a terminal; never guess without one.
        ask: terminal.then(|| {
            Box::new(|table: &str, old: &str, new: &str| {
                let answer = prompt(&format!(
                    "column `{table}.{old}` disappeared and `{table}.{new}` appeared: was it renamed? [y/N] "
                ));
                matches!(answer.as_deref(), Some("y" | "Y" | "yes"))
            }) as Box<dyn FnMut(&str, &str, &str) -> bool>
        }),
    };
    let column_specs = |flag: &str, specs: &[String]| {
        specs
            .iter()
            .map(|s| Decisions::parse_column_spec(flag, s))
            .collect::<Result<Vec<_>, _>>()
    };
    options.decisions = Decisions {
        fills: column_specs("--default", &args.defaults)?,
        usings: column_specs("--using", &args.usings)?,
        usings_back: column_specs("--using-back", &args.usings_back)?,
        tenant_defaults: args
            .tenant_defaults
            .iter()
            .map(|s| Decisions::parse_tenant_default(s))
            .collect::<Result<_, _>>()?,
        ask: terminal.then(|| {
            Box::new(|q: &Question| {
                let hint = match q {
                    Question::TenantDefault { .. } => " [keep/replace] ",
                    _ => "\n> ",
                };
                prompt(&format!("{}{hint}", q.text()))
            }) as Box<dyn FnMut(&Question) -> Option<String>>
        }),
    };
    Ok(options)
}

/// Prints `question` and reads one line from the terminal.
fn prompt(question: &str) -> Option<String> {
    print!("{question}");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).ok()?;
    Some(answer.trim().to_owned())
}

/// `--redo` must not rewrite history a database already has.
async fn refuse_if_applied(record: &Record, url: Option<String>) -> Result<(), String> {
    let url = url.ok_or_else(|| {
        format!(
            "--redo needs the database to check that `{}` is not applied anywhere: pass --database-url or set DATABASE_URL",
            record.module
        )
    })?;
    let mut options = ConnectOptions::new(url);
    options.sqlx_logging(false).max_connections(1);
    let db = Database::connect(options)
        .await
        .map_err(|e| format!("--redo: cannot connect to check the applied migrations: {e}"))?;
    let applied = redo::applied_in(&db, &record.module)
        .await
        .map_err(|e| format!("--redo: cannot read the applied migrations: {e}"))?;
    let _ = db.close().await;
    if applied.is_empty() {
        return Ok(());
    }
    let shown: Vec<&str> = applied.iter().take(5).map(String::as_str).collect();
    Err(format!(
        "--redo: `{}` is applied in {} schema(s) ({}{}); roll it back there first (`rollback`), or generate a new migration instead",
        record.module,
        applied.len(),
        shown.join(", "),
        if applied.len() > 5 { ", …" } else { "" }
    ))
}
