//! `generate-migrations`: the command line around [`crate::generate`].

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use super::{EntitySet, GenerateError, Layout, Options, Renames, plan, write};

/// Runs `generate-migrations` (called by [`crate::cli`]); `Ok(false)` when `--check` finds a difference.
pub fn execute(
    name: String,
    check: bool,
    dry_run: bool,
    renames: Vec<String>,
    no_rename: bool,
    root: Option<PathBuf>,
) -> Result<bool, String> {
    let root = root
        .or_else(|| std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("."));
    let layout = Layout::new(root);
    let mut options = Options::now(name);
    options.renames = Renames {
        given: renames
            .iter()
            .map(|s| Renames::parse_spec(s))
            .collect::<Result<_, GenerateError>>()
            .map_err(|e| e.to_string())?,
        no_rename,
        // Ask on a terminal; never guess without one.
        ask: (!check && std::io::stdin().is_terminal()).then(|| {
            Box::new(|table: &str, old: &str, new: &str| {
                print!("column `{table}.{old}` disappeared and `{table}.{new}` appeared: was it renamed? [y/N] ");
                let _ = std::io::stdout().flush();
                let mut answer = String::new();
                let _ = std::io::stdin().lock().read_line(&mut answer);
                matches!(answer.trim(), "y" | "Y" | "yes")
            }) as Box<dyn FnMut(&str, &str, &str) -> bool>
        }),
    };
    let entities = EntitySet::from_program().map_err(|e| e.to_string())?;
    let plan = plan(&entities, &layout, &mut options).map_err(|e| e.to_string())?;
    for warning in &plan.warnings {
        eprintln!("warning: {warning}");
    }
    if plan.is_empty() {
        println!("entities and snapshots agree: no migration to generate");
        return Ok(true);
    }
    for (set, ops) in &plan.operations {
        println!("{} set:", set.folder());
        for op in ops {
            println!("  {}", op.describe());
        }
    }
    if check {
        println!(
            "entities and snapshots disagree: run `generate-migrations` and commit the result"
        );
        return Ok(false);
    }
    if dry_run {
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
