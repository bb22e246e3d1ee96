//! Progress of a run over many tenants: a bar on a terminal, plain lines otherwise (CI logs).

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::migrate::TenantOutcome;

/// How often plain-line progress is printed.
const LINE_EVERY: Duration = Duration::from_secs(2);

pub(super) enum Progress {
    Bar(ProgressBar),
    Lines {
        total: usize,
        state: Mutex<(usize, Instant)>,
    },
}

impl Progress {
    pub(super) fn new(total: usize) -> Self {
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(total as u64);
            bar.set_style(
                ProgressStyle::with_template("{bar:40} {pos}/{len} tenants needing work  {msg}")
                    .expect("valid template"),
            );
            Progress::Bar(bar)
        } else {
            Progress::Lines {
                total,
                state: Mutex::new((0, Instant::now())),
            }
        }
    }

    pub(super) fn tenant_done(&self, outcome: &TenantOutcome) {
        match self {
            Progress::Bar(bar) => {
                bar.inc(1);
                bar.set_message(outcome.tenant.schema().to_owned());
            }
            Progress::Lines { total, state } => {
                let mut state = state.lock().expect("progress lock");
                state.0 += 1;
                if state.1.elapsed() >= LINE_EVERY {
                    state.1 = Instant::now();
                    eprintln!("progress: {} tenants done (of {} selected)", state.0, total);
                }
            }
        }
    }

    pub(super) fn finish(&self) {
        if let Progress::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}
