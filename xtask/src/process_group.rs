//! The end of a child started as the leader of its own process group (`process_group(0)`).
//!
//! A test driver that hangs, or that its watchdog ends, can leave subprocesses of its own behind;
//! they would run on beside every later step and spoil its timings. Killing the group the child
//! leads ends them too.

use std::process::{Child, Command, Stdio};

/// Sends SIGKILL to every process left in the group that `child` leads.
///
/// Call it after `child` has been waited for as well as before: a group outlives its leader
/// while any member is left. An empty group is not an error (`kill` then finds no process).
pub(crate) fn kill_group(child: &Child) {
    let group = format!("-{}", child.id());
    // No libc in xtask for one call: kill(1) takes a negative pid as a process group.
    let _ = Command::new("kill")
        .args(["-KILL", "--", &group])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

#[cfg(test)]
mod tests {
    use super::kill_group;
    use std::io::{BufRead as _, BufReader};
    use std::os::unix::process::CommandExt as _;
    use std::path::Path;
    use std::process::{Command, Stdio};
    use std::thread;
    use std::time::{Duration, Instant};

    /// Whether `pid` names a process that still runs (a zombie has ended).
    fn runs(pid: u32) -> bool {
        let stat = std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("stat"));
        // The state follows the command's closing parenthesis.
        stat.is_ok_and(|text| {
            let state = text.rsplit_once(") ").map(|(_, rest)| rest);
            !state.is_some_and(|rest| rest.starts_with('Z') || rest.starts_with('X'))
        })
    }

    fn ends_within(pid: u32, limit: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            if !runs(pid) {
                return true;
            }
            thread::sleep(Duration::from_millis(10));
        }
        false
    }

    #[test]
    fn kill_group_ends_what_outlives_its_leader() {
        // The leader prints its background child's pid and exits at once, as a driver that its
        // watchdog ended would, leaving the child behind in its group.
        let mut leader = Command::new("sh")
            .args(["-c", "sleep 60 & echo $!"])
            .stdout(Stdio::piped())
            .process_group(0)
            .spawn()
            .expect("sh starts");
        let mut line = String::new();
        BufReader::new(leader.stdout.take().expect("piped"))
            .read_line(&mut line)
            .expect("sh prints the pid");
        let left_behind: u32 = line.trim().parse().expect("a pid");
        assert!(leader.wait().expect("sh is waited for").success());
        assert!(
            runs(left_behind),
            "the background sleep outlives its leader"
        );

        kill_group(&leader);
        assert!(ends_within(left_behind, Duration::from_secs(10)));
    }
}
