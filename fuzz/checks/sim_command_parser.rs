//! The simulator's command-line parser on arbitrary bytes: never panics, and whatever it
//! accepts has a verb and re-parses to the same command when given again.

use smtpscope::engine::sim::parse_command;

/// One fuzz input: panics when a property does not hold.
pub fn run(data: &[u8]) {
    if let Ok(cmd) = parse_command(data) {
        let _ = cmd.verb();
        // Parsing is a pure function of the line.
        let again = parse_command(data).expect("the same line parses again");
        assert_eq!(format!("{cmd:?}"), format!("{again:?}"));
    }
}
