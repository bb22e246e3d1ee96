//! Tying a throwaway cluster's lifetime to the processes using it: they register their pids,
//! and a detached `sh` watchdog stops the server once none of them is alive.

use std::fs;
use std::path::Path;
use std::process::Stdio;

use super::HarnessError;
use super::process::{PgBin, Runner};

/// Records this process as a user of the cluster in `state`: the watchdog keeps the server
/// running while any recorded process is alive.
pub(crate) fn register_process(state: &Path) -> Result<(), HarnessError> {
    let users = state.join("users");
    fs::create_dir_all(&users)
        .and_then(|()| fs::write(users.join(std::process::id().to_string()), b""))
        .map_err(|e| HarnessError::io(format!("could not register in {}", users.display()), e))
}

/// The watchdog: `sh` polling once a second. It runs as the invoking user (so it may check
/// the registered pids with `kill -0` and delete the directory) and stops the server through
/// the same privilege drop as every other `pg_ctl` call.
///
/// Once no registered process has been alive for `grace` seconds it takes the lock, checks
/// again, stops the server and exits. It also exits when the server it has seen running is
/// gone (stopped by [`stop_throwaway_cluster`](super::stop_throwaway_cluster) or by hand),
/// and when the server never came up and its process died (after 5 seconds, for an
/// `initdb`/`pg_ctl` that process left running).
///
/// Arguments: state dir, data dir, grace seconds, 1 to delete the state dir on exit, then the
/// `pg_ctl` command (with its privilege-drop prefix).
const WATCHDOG_SCRIPT: &str = r#"
state=$1 data=$2 grace=$3 remove=$4
shift 4
busy() {
  found=1
  for f in "$state"/users/*; do
    [ -e "$f" ] || continue
    if kill -0 "${f##*/}" 2>/dev/null; then found=0; else rm -f "$f"; fi
  done
  return $found
}
finish() {
  # Retried: an initdb left running by a killed process may still be writing into it.
  n=0
  while [ "$remove" = 1 ] && [ -e "$state" ] && [ "$n" -lt 30 ]; do
    rm -rf "$state" 2>/dev/null || sleep 1
    n=$((n + 1))
  done
  exit 0
}
seen=0
idle=0
while sleep 1; do
  if [ -f "$data/postmaster.pid" ]; then
    seen=1
  elif [ "$seen" = 1 ]; then
    finish
  fi
  if busy; then idle=0; continue; fi
  idle=$((idle + 1))
  if [ "$seen" = 0 ]; then
    [ "$idle" -ge 5 ] || continue
    [ -f "$data/postmaster.pid" ] && continue
    finish
  fi
  [ "$idle" -ge "$grace" ] || continue
  exec 9>>"$state/lock"
  flock 9 2>/dev/null
  if busy; then exec 9>&-; idle=0; continue; fi
  "$@" stop --pgdata "$data" --mode fast --wait --silent >/dev/null 2>&1
  finish
done
"#;

pub(crate) fn spawn_watchdog(
    state: &Path,
    data: &Path,
    grace_secs: u32,
    remove: bool,
    runner: &Runner,
    bin: &PgBin,
) -> Result<(), HarnessError> {
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c")
        .arg(WATCHDOG_SCRIPT)
        .arg("sea-tenancy-watchdog")
        .arg(state)
        .arg(data)
        .arg(grace_secs.to_string())
        .arg(if remove { "1" } else { "0" })
        .args(&runner.prefix)
        .arg(bin.pg_ctl())
        .current_dir("/")
        // Holding our stdout/stderr open would stall anything reading the test output.
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let child = cmd
        .spawn()
        .map_err(|e| HarnessError::io("could not start the cluster watchdog", e))?;
    // Not waited for: it outlives this process on purpose.
    fs::write(state.join("watchdog.pid"), child.id().to_string())
        .map_err(|e| HarnessError::io("could not record the watchdog pid", e))
}

pub(crate) fn watchdog_alive(state: &Path) -> bool {
    let Some(pid) = fs::read_to_string(state.join("watchdog.pid"))
        .ok()
        .and_then(|p| p.trim().parse::<u32>().ok())
    else {
        return false;
    };
    std::process::Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
